"""A strict reader of the Prometheus text exposition format, for a metrics
file resetguard wrote: every sample must have a # TYPE before it, counters
named *_total, one gauge resetguard_last_update_seconds, and only the
labels name (always) and outcome or local (a listener's address).  Prints
"name{outcome or local} value" per sample, or exits 1 naming the bad
line."""
import re
import sys

SAMPLE = re.compile(r'^([a-z_]+)\{((?:[a-z_]+="(?:[^"\\\n]|\\.)*",?)*)\} ([0-9]+)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\\n]|\\.)*)"')
typed = {}
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        continue
    m = re.match(r"^# TYPE ([a-z_]+) (counter|gauge)$", line)
    if m:
        typed[m.group(1)] = m.group(2)
        continue
    m = SAMPLE.match(line)
    if not m or m.group(1) not in typed:
        sys.exit("bad line: %r" % line)
    kind = typed[m.group(1)]
    if (kind == "counter") != m.group(1).endswith("_total") or (
            kind == "gauge" and m.group(1) != "resetguard_last_update_seconds"):
        sys.exit("bad type: %r" % line)
    labels = dict(LABEL.findall(m.group(2)))
    if set(labels) - {"name", "outcome", "local"} or "name" not in labels:
        sys.exit("bad labels: %r" % line)
    print("%s{%s} %s" % (m.group(1), labels.get("outcome", labels.get("local", "")), m.group(3)))
