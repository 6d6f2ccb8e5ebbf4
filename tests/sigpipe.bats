#!/usr/bin/env bats
# SIGPIPE never kills on a socket write, on any path; pipes, terminals and
# the program's own choices behave exactly as without the shim.

setup() {
	load helpers/common
}

teardown() {
	stop_servers
}

# Without the shim the second write after a reset raises SIGPIPE (status
# 141); with it the program lives and gets EPIPE.
write_survives() {
	local op=$1 family=${2:-inet} bin=${3:-$PROBE}
	rm -f "$LOG"
	run "$bin" -f "$family" -u "$BATS_TEST_TMPDIR/s" "$op" "$op"
	assert_equal "$status" 141
	RESETGUARD_LOG=$LOG run "$RG" "$bin" -f "$family" -u "$BATS_TEST_TMPDIR/s" "$op" "$op"
	assert_success
	assert_line "$op ret=-1 errno=EPIPE"
	assert_line alive
	run grep -c "event=pipe errno=EPIPE op=" "$LOG"
	assert_output --regexp '^[1-9]'
}

@test "write() after a reset: killed without the shim, EPIPE with it" { write_survives write; }
@test "writev() after a reset" { write_survives writev; }
@test "send() after a reset" { write_survives send; }
@test "sendto() after a reset" { write_survives sendto; }
@test "sendmsg() after a reset" { write_survives sendmsg; }
@test "sendmmsg() after a reset" { write_survives sendmmsg; }
@test "sendfile() after a reset (no flags: block-and-consume)" { write_survives sendfile; }
@test "splice() into a reset socket" { write_survives splice; }
@test "stdio fwrite() on a reset socket" { write_survives fwrite; }
@test "stdio fputs() on a reset socket" { write_survives fputs; }
@test "stdio fprintf() on a reset socket" { write_survives fprintf; }
@test "stdio fflush() on a reset socket" { write_survives fflush; }
@test "stdio fwrite_unlocked() on a reset socket" { write_survives fwrite_unlocked; }
@test "stdio fputs_unlocked() on a reset socket" { write_survives fputs_unlocked; }
@test "stdio putc_unlocked() on a reset socket: __overflow when inline, the call when plain" {
	write_survives putc_unlocked
	write_survives putc_unlocked inet "$PROBE.plain"
}
@test "wide stdio fputwc() and fwprintf() on a reset socket" {
	write_survives fputwc
	write_survives fwprintf
	write_survives fwprintf inet "$PROBE.plain"
}
@test "dprintf() on a reset socket" {
	write_survives dprintf
	write_survives dprintf inet "$PROBE.plain"
}
@test "fseek() writing what is pending to a reset socket" { write_survives fseek; }
@test "perror(), error() and warnx() with stderr on a reset socket" {
	write_survives perror
	write_survives error
	write_survives warn
}
@test "unfortified build: write() and fprintf() survive too" {
	write_survives write inet "$PROBE.plain"
	write_survives fprintf inet "$PROBE.plain"
}
@test "IPv6 and AF_UNIX stream sockets" {
	write_survives send inet6
	write_survives write unix
}
@test "non-blocking socket: same errors, no signal" {
	run "$PROBE" -n write write
	assert_equal "$status" 141
	run "$RG" "$PROBE" -n write write
	assert_success
	assert_line "write ret=-1 errno=ECONNRESET"
	assert_line "write ret=-1 errno=EPIPE"
}

@test "a stream left unflushed on a reset socket does not kill at exit()" {
	# The write takes the reset's ECONNRESET; the flush in exit() then
	# meets EPIPE, which is the one that signals.
	run "$PROBE" write exitflush
	assert_equal "$status" 141
	run "$RG" "$PROBE" write exitflush
	assert_success
	assert_line alive
}

@test "a signal handler that writes to a reset socket" {
	run "$PROBE" -s write write
	assert_equal "$status" 141
	RESETGUARD_LOG=$LOG run "$RG" "$PROBE" -s write write
	assert_success
	assert_line alive
	assert_equal "$(log_lines)" 2
}

@test "pipes keep their SIGPIPE: yes | head -1 still ends yes with status 141" {
	run "$RG" bash -c 'yes | head -1 >/dev/null; echo "${PIPESTATUS[0]}"'
	assert_success
	assert_output 141
}

@test "children do not inherit an ignored SIGPIPE" {
	# Bit 13 (SIGPIPE) of SigIgn, as the kernel reports it for a child.
	sigpipe_ignored() {
		local mask
		mask=$("$@" sh -c 'grep SigIgn /proc/self/status' | cut -f2)
		(( 0x$mask & 4096 )) && echo ignored || echo default
	}
	run sigpipe_ignored "$RG"
	assert_output default
	RESETGUARD_SIGPIPE=ignore run sigpipe_ignored "$RG"
	assert_output ignored
}

@test "a program's own SIGPIPE handler still gets its signal, on every write path, after the EPIPE is logged" {
	local op without
	for op in write writev send sendto sendmsg sendmmsg sendfile splice fwrite fputs fprintf fflush fwrite_unlocked dprintf; do
		run "$PROBE" -H write "$op"
		assert_success
		assert_line sigpipes=1
		without=$(grep -v '^peer=' <<<"$output")
		RESETGUARD_LOG=$LOG run "$RG" "$PROBE" -H write "$op"
		assert_success
		assert_equal "$(grep -v '^peer=' <<<"$output")" "$without"
		run grep -c "event=pipe errno=EPIPE op=$op " "$LOG"
		assert_output 1
	done
	# A write that asked for no signal gets none, with or without.
	run "$PROBE" -H write send_nosignal
	assert_line sigpipes=0
	run "$RG" "$PROBE" -H write send_nosignal
	assert_line sigpipes=0
}

@test "RESETGUARD_SIGPIPE=ignore: survives, through SIG_IGN" {
	RESETGUARD_SIGPIPE=ignore run "$RG" "$PROBE" write write
	assert_success
	assert_line "write ret=-1 errno=EPIPE"
}

@test "RESETGUARD_SIGPIPE=off: the shim leaves SIGPIPE alone but still logs" {
	RESETGUARD_SIGPIPE=off RESETGUARD_LOG=$LOG run "$RG" "$PROBE" write write
	assert_equal "$status" 141
	run grep -c "event=reset" "$LOG"
	assert_output 1
}

@test "cat writing into a socket (bash /dev/tcp): killed without, an error with" {
	require python3
	start_reset_server --count 2 --reply "413 too large"
	run bash -c "head -c 8000000 /dev/zero | cat > /dev/tcp/$SERVER_HOST/$SERVER_PORT"
	assert_equal "$status" 141
	RESETGUARD_LOG=$LOG run "$RG" bash -c "head -c 8000000 /dev/zero | cat > /dev/tcp/$SERVER_HOST/$SERVER_PORT"
	assert_failure 1
	assert_output --regexp 'cat: write error: Broken pipe'
	run cat "$LOG"
	assert_output --regexp "op=write fd=1 peer=$SERVER_ADDR .* prog=cat "
}


@test "python3 with SIGPIPE at SIG_DFL: killed without, an exception with" {
	require python3
	start_reset_server --count 2 --reply "413 too large"
	client="import signal, socket
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
s = socket.create_connection(('$SERVER_HOST', $SERVER_PORT))
try:
    while True:
        s.send(b'x' * 65536)
except OSError as e:
    print(type(e).__name__)"
	run python3 -c "$client"
	assert_equal "$status" 141
	RESETGUARD_LOG=$LOG run "$RG" python3 -c "$client"
	assert_success
	assert_output BrokenPipeError
	run cat "$LOG"
	assert_output --regexp "op=send fd=[0-9]+ peer=$SERVER_ADDR "
}

# While SIGPIPE cannot kill, a socket's write() is the program's own; once
# the program makes SIGPIPE the default again it is protected again. The
# choice follows sigaction()/signal(), not a test on every call.
@test "write() and writev() on a socket follow the program's SIGPIPE: ignored, then the default" {
	require python3
	start_reset_server --count 2 --reply "413 too large"
	local client="import os, signal, socket
s = socket.create_connection(('$SERVER_HOST', $SERVER_PORT))
def until_error(label, write):
    try:
        while True:
            write()
    except OSError as e:
        print(label, type(e).__name__, flush=True)
until_error('ignored', lambda: os.write(s.fileno(), b'x' * 65536))
until_error('ignored', lambda: os.writev(s.fileno(), [b'x' * 65536]))
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
until_error('default', lambda: os.writev(s.fileno(), [b'x' * 65536]))
until_error('default', lambda: os.write(s.fileno(), b'x' * 65536))"
	# python3 starts with SIGPIPE ignored: the first writes fail, the
	# first one after SIG_DFL kills it.
	run python3 -c "$client"
	assert_equal "$status" 141
	assert_line --index 1 "ignored BrokenPipeError"
	refute_output --partial default
	RESETGUARD_LOG=$LOG run "$RG" python3 -c "$client"
	assert_success
	assert_line --index 1 "ignored BrokenPipeError"
	assert_line --index 2 "default BrokenPipeError"
	assert_line --index 3 "default BrokenPipeError"
	# one record each: the first write met the reset or the pipe
	run grep -c "event=pipe errno=EPIPE op=writev " "$LOG"
	assert_output 2
	run grep -c " op=write " "$LOG"
	assert_output 2
}

# writev() of nothing never reaches the socket (vfs_writev returns 0),
# while write() of nothing sends an empty datagram; the shim, which turns
# socket writes into sends, must keep both.
@test "zero-byte write() and writev() on datagram and seqpacket sockets: as without the shim" {
	local script='
import os, signal, socket
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # what C programs have: the shim converts
for kind in (socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):
    a, b = socket.socketpair(socket.AF_UNIX, kind)
    b.setblocking(False)
    os.writev(a.fileno(), [b"", b""])
    os.write(a.fileno(), b"x")
    print(kind.name, "writev", repr(b.recv(10)))
    os.write(a.fileno(), b"")
    print(kind.name, "write", repr(b.recv(10)))'
	local expected=$'SOCK_DGRAM writev b\'x\'\nSOCK_DGRAM write b\'\'\nSOCK_SEQPACKET writev b\'x\'\nSOCK_SEQPACKET write b\'\''
	run python3 -c "$script"
	assert_success
	assert_output "$expected"
	run "$RG" python3 -c "$script"
	assert_success
	assert_output "$expected"
}
