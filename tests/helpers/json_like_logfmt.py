"""The same record written as JSON and as logfmt: the keys in the same
order, and the same values (strings in logfmt, numbers as JSON numbers),
apart from those that differ from run to run.  Prints the record's peer.

usage: json_like_logfmt.py JSON_LOG LOGFMT_LOG"""
import json
import os
import subprocess
import sys

j = json.loads(open(sys.argv[1]).read())
logfmt = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logfmt.py")
l = json.loads(subprocess.run([sys.executable, logfmt], stdin=open(sys.argv[2]),
                              capture_output=True, text=True, check=True).stdout)
assert list(j) == list(l), (list(j), list(l))
for k in ("ts", "pid", "conn_id", "age_ms", "peer_pid"):
    j.pop(k)
    l.pop(k)
assert isinstance(j["fd"], int) and isinstance(j["tx_bytes"], int)
assert {k: str(v) for k, v in j.items()} == l, (j, l)
print(j["peer"])
