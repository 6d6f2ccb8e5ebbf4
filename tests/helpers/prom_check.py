"""A strict reader of the Prometheus text exposition format, for a metrics
file resetguard wrote: every sample must have a # TYPE counter before it,
a name ending in _total and only the labels prog, pid and outcome.
Prints "name{outcome} value" per sample, or exits 1 naming the bad line."""
import re
import sys

SAMPLE = re.compile(r'^([a-z_]+)\{((?:[a-z_]+="(?:[^"\\\n]|\\.)*",?)*)\} ([0-9]+)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\\n]|\\.)*)"')
typed = set()
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        continue
    m = re.match(r"^# TYPE ([a-z_]+) counter$", line)
    if m:
        typed.add(m.group(1))
        continue
    m = SAMPLE.match(line)
    if not m or m.group(1) not in typed or not m.group(1).endswith("_total"):
        sys.exit("bad line: %r" % line)
    labels = dict(LABEL.findall(m.group(2)))
    if set(labels) - {"prog", "pid", "outcome"} or "prog" not in labels or "pid" not in labels:
        sys.exit("bad labels: %r" % line)
    print("%s{%s} %s" % (m.group(1), labels.get("outcome", ""), m.group(3)))
