"""A datagram listener standing in for /dev/log or journald's socket.

usage: dgram_listener.py PATH [--no-read]
Binds PATH, prints "ready" (flushed), then prints each datagram it
receives as one JSON string per line until it has heard nothing for 3 s.
With --no-read it never reads, so its buffer fills up."""
import json
import select
import socket
import sys
import time

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
if "--no-read" in sys.argv:
    time.sleep(30)
    sys.exit(0)
while select.select([s], [], [], 3)[0]:
    print(json.dumps(s.recv(1 << 16).decode("utf-8")), flush=True)
