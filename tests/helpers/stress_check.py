"""Holds the output of tests/progs/stress runs against resetguard's log.

usage: stress_check.py LOG TIMEOUT_MS TIME_MS OUT...

LOG has been read by logfmt.py already, one JSON object per line; each OUT
is one stress process's stdout.  Checks, printing one line per failure and
exiting 1 if there was any:
- every ECONNRESET/EPIPE a process counted is one event=reset/pipe record
  with its pid, and there is no such record the processes did not count;
- every event=linger record has a known outcome, lasted no longer than
  TIME_MS (plus slack for a loaded machine), and one that timed out lasted
  at least TIMEOUT_MS or TIME_MS, whichever is less (the scan grain aside);
- each process ended with as many descriptors of its own as it started
  with, and of resetguard's only the log file: no lingering socket, no
  drainer epoll or eventfd."""
import json
import re
import sys
from collections import Counter

SLACK_MS = 1000
GRAIN_MS = 20


def main():
    log, timeout_ms, time_ms, outs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    failures = []
    logged = Counter()
    lingers = Counter()
    with open(log) as f:
        for line in f:
            rec = json.loads(line)
            if rec["event"] in ("reset", "pipe"):
                logged[rec["pid"]] += 1
            elif rec["event"] == "linger":
                lingers[rec["outcome"]] += 1
                ms = int(rec["ms"])
                if rec["outcome"] not in ("eof", "timeout", "error", "cap"):
                    failures.append(f"unknown linger outcome: {line.strip()}")
                if ms > time_ms + SLACK_MS:
                    failures.append(f"lingered {ms} ms, past the {time_ms} ms deadline: {line.strip()}")
                if rec["outcome"] == "timeout" and ms < min(timeout_ms, time_ms) - GRAIN_MS:
                    failures.append(f"timed out after {ms} ms, before {timeout_ms} ms: {line.strip()}")

    counted = Counter()
    for out in outs:
        text = open(out).read()
        for pid, n in re.findall(r"^resets pid=(\d+) count=(\d+)$", text, re.M):
            counted[pid] += int(n)
        for pid, n in re.findall(r"^child pid=(\d+) resets=(\d+)$", text, re.M):
            counted[pid] += int(n)
        start = re.search(r"^fds start prog=(\d+) own=(\d+)$", text, re.M)
        end = re.search(r"^fds end prog=(\d+) own_sockets=(\d+) own_epoll=(\d+) "
                        r"own_eventfd=(\d+) own_files=(\d+)$", text, re.M)
        if not start or not end:
            failures.append(f"{out}: no fds lines")
            continue
        prog0, own0 = map(int, start.groups())
        prog1, sockets, epoll, eventfd, files = map(int, end.groups())
        if prog1 != prog0:
            failures.append(f"{out}: {prog0} descriptors at the start, {prog1} at the end")
        if sockets or epoll or eventfd:
            failures.append(f"{out}: resetguard still holds {sockets} sockets, "
                            f"{epoll} epoll, {eventfd} eventfd after the deadline")
        if files != own0:
            failures.append(f"{out}: resetguard held {own0} files at the start, {files} at the end")

    for pid in sorted(set(counted) | set(logged)):
        if counted[pid] != logged[pid]:
            failures.append(f"pid {pid}: {counted[pid]} ECONNRESET/EPIPE seen, {logged[pid]} logged")

    print(f"stress_check: {sum(counted.values())} resets and pipes in {len(counted)} processes, "
          f"all logged once; lingers {dict(lingers)}" if not failures else
          f"stress_check: {len(failures)} failures")
    for f in failures[:50]:
        print("FAIL", f)
    sys.exit(1 if failures else 0)


main()
