"""Peers for tests/causes.bats: a connect burst, a keepalive client and
server that print what the kernel says of their sockets, a prefork server.

  burst HOST PORT N       N non-blocking connects at once; waits (at most
                          1.5 s) for the handshakes it can get, closes all;
                          prints "connected=K"
  client HOST PORT [IDLE] connects (after setting TCP_KEEPIDLE=IDLE itself,
                          if given), prints "connected KEEPALIVE IDLE
                          INTVL CNT", then, once a line comes on stdin
                          (at EOF it exits; "send N": after sending N
                          bytes), blocks in recv; prints "eof",
                          or "error ERRNO S" with the seconds recv took
  server PORT [IDLE]      listen(5) (TCP_KEEPIDLE=IDLE set on the listener
                          first, if given), prints "listening", accepts
                          one connection and prints "accepted KEEPALIVE
                          IDLE INTVL CNT" for it, then holds it
  prefork PORT WORKERS    listen(1), forks WORKERS that accept and close
                          until SIGTERM, then exit normally (the parent
                          passes SIGTERM on); prints "listening PID..."
                          with the workers' pids once all are started
"""
import errno
import os
import select
import signal
import socket
import sys
import time


def keepalive_of(s):
    return " ".join(
        str(s.getsockopt(level, name))
        for level, name in (
            (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            (socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        )
    )


def burst(host, port, n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        socks.append(s)
    pending, deadline = set(socks), time.monotonic() + 1.5
    while pending and time.monotonic() < deadline:
        _, ready, _ = select.select([], list(pending), [], 0.1)
        pending.difference_update(ready)
    print(f"connected={n - len(pending)}", flush=True)
    for s in socks:
        s.close()


def client(host, port, idle=None):
    s = socket.socket()
    if idle is not None:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    s.connect((host, port))
    print("connected", keepalive_of(s), flush=True)
    line = sys.stdin.readline()
    if not line:
        return
    if line.startswith("send "):
        s.send(b"x" * int(line.split()[1]))
    start = time.monotonic()
    try:
        s.recv(10)
        print("eof", flush=True)
    except OSError as e:
        print("error", errno.errorcode[e.errno], f"{time.monotonic() - start:.2f}", flush=True)


def server(port, idle=None):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if idle is not None:
        l.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    l.bind(("127.0.0.1", port))
    l.listen(5)
    print("listening", flush=True)
    c, _ = l.accept()
    print("accepted", keepalive_of(c), flush=True)
    time.sleep(3600)


class Stop(Exception):
    pass


def stop(*_):
    raise Stop


def prefork(port, workers):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port))
    l.listen(1)
    signal.signal(signal.SIGTERM, stop)
    # Each worker says when it is past fork(): a SIGTERM that came while
    # Python's own after-fork code ran would be swallowed there, and the
    # worker would accept for ever.
    ready_r, ready_w = os.pipe()
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            os.write(ready_w, b"r")
            os.close(ready_w)
            try:
                while True:
                    l.accept()[0].close()
            except Stop:
                pass
            l.close()
            sys.exit(0)
        pids.append(pid)
    os.close(ready_w)
    for _ in range(workers):
        os.read(ready_r, 1)
    os.close(ready_r)
    print("listening", " ".join(map(str, pids)), flush=True)
    try:
        while True:
            signal.pause()
    except Stop:
        pass
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    l.close()


if __name__ == "__main__":
    cmd, args = sys.argv[1], [int(a) if a.isdigit() else a for a in sys.argv[2:]]
    {"burst": burst, "client": client, "server": server, "prefork": prefork}[cmd](*args)
