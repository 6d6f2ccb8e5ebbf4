"""Runs a command whose stderr is a pipe that is already full and that
nobody reads, as with a logger that stopped reading (with --tty, a
terminal whose output nobody reads, as one stopped by ^S), and exits with the
command's status, or 124 (as timeout(1)) when it has not ended within 30
seconds, killed then, since a command stuck writing to the pipe would
otherwise outlive the test.  Before that, it checks that a pipe still holds only
its own filler: whatever the command tried to write there did not get in.

usage: full_pipe.py [--tty] COMMAND [ARG...]"""
import fcntl
import os
import subprocess
import sys
import tty

args = sys.argv[1:]
tty_mode = args[0] == "--tty"
if tty_mode:
    args = args[1:]
    r, w = os.openpty()
    tty.setraw(w)  # the bytes as written, none echoed or expanded
else:
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
os.set_blocking(w, False)
filled = 0
try:
    while True:
        filled += os.write(w, b"x" * 512)
except BlockingIOError:
    pass
os.set_blocking(w, True)  # the command's stderr blocks, as a pipe's does
try:
    status = subprocess.run(args, stderr=w, check=False, timeout=30).returncode
except subprocess.TimeoutExpired:
    status = 124
os.close(w)
os.set_blocking(r, False)
rest = b""
try:
    while chunk := os.read(r, 1 << 20):
        rest += chunk
except (BlockingIOError, OSError):  # a terminal's end reads EIO once all is read
    pass
# A terminal is written to as the program writes to it: what did not fit
# waits, and what fitted is there.
if not tty_mode and rest != b"x" * filled:
    sys.exit(f"the pipe holds {len(rest)} bytes, not the {filled} of filler")
sys.exit(status)
