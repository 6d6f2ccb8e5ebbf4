"""Clients that send a whole request before reading the answer, as legacy
clients do, and report how each one ended.

usage: upload_client.py HOST PORT KIND [COUNT] [BYTES]
HOST may be a Unix socket path (starting with /), PORT then ignored.
KIND: http (POST with a body), redis (an oversized bulk length), git (a
git-upload-pack request for a repository nobody exports), raw (bytes)
Prints one line per client, "ok <bytes> <first line of the answer>" or
"reset <errno name>", and a last line "resets=N"; the clients run
concurrently."""
import errno
import socket
import sys
import threading

host, port, kind = sys.argv[1], int(sys.argv[2] or 0), sys.argv[3]
count = int(sys.argv[4]) if len(sys.argv) > 4 else 10
size = int(sys.argv[5]) if len(sys.argv) > 5 else 8 << 20

if kind == "http":
    head = b"POST / HTTP/1.0\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
elif kind == "redis":
    head = b"*1\r\n$%d\r\n" % (1 << 40)  # refused at once: invalid bulk length
elif kind == "git":
    head = b"0032git-upload-pack /nonexist.git\0host=x\0"
else:
    head = b""
body = b"x" * size
results = [None] * count


def client(i):
    try:
        if host.startswith("/"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(60)
            s.connect(host)
        else:
            s = socket.create_connection((host, port), timeout=60)
        s.sendall(head + body)
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        line = answer.split(b"\n", 1)[0].strip().decode(errors="replace")
        results[i] = "ok %d %s" % (len(answer), line[:60] or "(empty)")
    except OSError as e:
        results[i] = "reset " + errno.errorcode.get(e.errno, str(e.errno))


threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for r in results:
    print(r)
print("resets=%d" % sum(r.startswith("reset") for r in results))
