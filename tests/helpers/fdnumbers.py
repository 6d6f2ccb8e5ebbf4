#!/usr/bin/env python3
"""fdnumbers.py COUNT: the descriptor numbers a program gets past 1024.

Raises RLIMIT_NOFILE to 4096, closes 3 accepted connections whose peers
sent 4 KiB nobody read (with resetguard they linger), then opens /dev/null
COUNT times and prints every number it got, one line.  Without resetguard
the numbers run on from the lowest free one; resetguard's own descriptors
(the lingering sockets, its log, the drainer's) must never take one of
them, least of all one below 1024 that a select() user needs.
"""
import os
import resource
import socket
import sys

resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
peers = []
for _ in range(3):
    peer = socket.create_connection(listener.getsockname())
    peer.sendall(b"x" * 4096)
    peers.append(peer)
    conn, _ = listener.accept()
    conn.close()
fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(int(sys.argv[1]))]
print(" ".join(map(str, fds)))
