"""A server that resets every client: it reads a little of the request,
then closes with SO_LINGER {1, 0}, so the kernel sends RST at once.  With
--reply it first answers and sends FIN (shutdown SHUT_WR), as servers that
answer early do: the client, now in CLOSE_WAIT, then takes the RST as EPIPE,
and its very next write raises SIGPIPE.

usage: reset_server.py [--family inet|inet6|unix] [--path P] [--count N]
                       [--read BYTES] [--reply TEXT]
Prints the address it listens on ("inet 127.0.0.1 PORT", "inet6 ::1 PORT" or
"unix PATH") on stdout, flushed, once it is ready, then serves N clients
(default 1) and exits."""
import argparse
import socket
import struct
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--family", default="inet")
ap.add_argument("--path")
ap.add_argument("--count", type=int, default=1)
ap.add_argument("--read", type=int, default=1)
ap.add_argument("--reply", default="")
args = ap.parse_args()

if args.family == "unix":
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.path)
    where = f"unix {args.path}"
else:
    fam = socket.AF_INET6 if args.family == "inet6" else socket.AF_INET
    host = "::1" if args.family == "inet6" else "127.0.0.1"
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.bind((host, 0))
    where = f"{args.family} {host} {srv.getsockname()[1]}"
srv.listen(64)
print(where, flush=True)

for _ in range(args.count):
    conn, _ = srv.accept()
    got = 0
    while got < args.read:
        chunk = conn.recv(args.read - got)
        if not chunk:
            break
        got += len(chunk)
    if args.reply:
        conn.sendall(args.reply.encode())
        conn.shutdown(socket.SHUT_WR)
    if args.family != "unix":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
