"""Clients of a server that waits for part of the body before it answers
early (haproxy with `option http-buffer-request`), one after the other, in
stages that leave the server's event loop no choice of how many passes a
request takes, and report how many were reset.

usage: staged_upload.py PORT COUNT BYTES
For each client, on 127.0.0.1:PORT:
1. the request head and 1 KiB of a BYTES body;
2. wait until the server has read them: its end's receive queue, in
   /proc/net/tcp, is empty (it then waits for more in epoll_wait);
3. 64 KiB more, which fills the server's buffer, and the server answers;
4. wait for the answer, then send the rest of the body, as a client that
   does not read answers before its request is out: the server has closed
   by then, with the rest of the body still coming;
5. read to EOF.
Prints "resets=N": the clients that got ECONNRESET or EPIPE."""
import select
import socket
import sys
import time

port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
FIRST, SECOND = 1024, 65536
head = b"POST / HTTP/1.0\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
body = b"x" * size


def server_rx_queue(client_port):
    """Bytes the server's end of the connection has not read yet."""
    local = "0100007F:%04X" % port
    remote = "0100007F:%04X" % client_port
    with open("/proc/net/tcp") as f:
        for line in f:
            fields = line.split()
            # 01: established; before it (TCP_DEFER_ACCEPT) no data is queued
            if fields[1] == local and fields[2] == remote and fields[3] == "01":
                return int(fields[4].split(":")[1], 16)
    return None


def wait_read(client_port):
    deadline = time.monotonic() + 20
    while server_rx_queue(client_port) != 0:
        if time.monotonic() > deadline:
            sys.exit("the server never read the request head")
        time.sleep(0.0002)


def client():
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        s.sendall(head + body[:FIRST])
        wait_read(s.getsockname()[1])
        s.sendall(body[FIRST:FIRST + SECOND])
        select.select([s], [], [], 20)
        s.sendall(body[FIRST + SECOND:])
        while s.recv(65536):
            pass
        return 0
    except (ConnectionResetError, BrokenPipeError):
        return 1
    finally:
        s.close()


print("resets=%d" % sum(client() for _ in range(count)))
