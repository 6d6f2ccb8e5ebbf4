"""A superserver that closes its copy of each connection late: it starts
the service with the connection as stdin and stdout, waits until the
service has exited, and only then closes it.  So the service's last close
comes first, while this process, which does not run resetguard, still
holds the socket.

usage: late_superserver.py PORT SERVICE [ARG...]
The service gets this process's environment.  Prints "listening" once it
accepts; serves one connection at a time until killed."""
import socket
import subprocess
import sys

port, service = int(sys.argv[1]), sys.argv[2:]
listener = socket.create_server(("127.0.0.1", port))
print("listening", flush=True)
while True:
    conn, _ = listener.accept()
    subprocess.run(service, stdin=conn, stdout=conn, check=False)
    conn.close()
