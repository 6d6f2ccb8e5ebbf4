#!/usr/bin/env bats
# Records carry no field whose value means nothing for that record: the
# kernel's clocks of the last data, the rtt and the send queue of a TCP
# socket that never got past its handshake, the age of a socket opened
# before resetguard saw it.

setup() {
	load helpers/common
	require python3
}

@test "a non-blocking connect that timed out, read with getsockopt(SO_ERROR): no idle_ms, rtt_us or unacked" {
	# The listener's accept queue is full, so the SYN is dropped and the
	# connect times out (TCP_USER_TIMEOUT 300 ms) where curl would read it.
	cat >"$BATS_TEST_TMPDIR/timeout.py" <<-'EOF'
		import select, socket
		l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(0)
		full = socket.create_connection(l.getsockname())
		c = socket.socket(); c.setblocking(False)
		c.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 300)
		c.connect_ex(l.getsockname())
		select.select([], [c], [], 20)
		print("so_error", c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
	EOF
	run --separate-stderr timeout 30 python3 "$BATS_TEST_TMPDIR/timeout.py"
	assert_output "so_error 110"
	RESETGUARD_LOG=$LOG run --separate-stderr timeout 30 "$RG" --errors all python3 "$BATS_TEST_TMPDIR/timeout.py"
	assert_output "so_error 110"
	run grep -E 'event=error errno=ETIMEDOUT op=getsockopt ' "$LOG"
	assert_success
	# The handshake's SYN went unanswered until the timeout: a
	# retransmission timeout.
	assert_output --regexp ' conn_id=[0-9]+ tcp_state=CLOSE retrans=[0-9]+ cookie=[0-9]+ cause=retransmit$'
	refute_output --regexp "idle_ms=|rtt_us=|unacked="
}

@test "a socket inherited across exec (inetd style): no age_ms, which resetguard cannot know" {
	# stdin is a connection accepted before exec, whose peer has reset it
	RESETGUARD_LOG=$LOG run --separate-stderr python3 -c '
import os, socket, struct, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = socket.create_connection(l.getsockname())
a, _ = l.accept()
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
os.dup2(a.fileno(), 0)
os.execv(sys.argv[1], sys.argv[1:])' "$RG" cat
	assert_failure 1
	assert_equal "$stderr" "cat: -: Connection reset by peer"
	run grep -E 'event=reset errno=ECONNRESET op=read fd=0 ' "$LOG"
	assert_success
	assert_output --regexp ' prog=cat pid=[0-9]+ tx_bytes=0 rx_bytes=0 conn_id='
	refute_output --partial "age_ms="
}

@test "dup2() over one number of a shared socket: the close record names no address of the socket now there" {
	# a is shared (a copy stays), so dup2(b, a) closes a's number plainly
	# (event=close outcome=shared, at debug level); afterwards that number
	# is b, whose local address must not appear in a's record.
	cat >"$BATS_TEST_TMPDIR/dup2.py" <<-'EOF'
		import os, socket
		l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
		a = socket.create_connection(l.getsockname())
		b = socket.create_connection(l.getsockname())
		keep = os.dup(a.fileno())
		print("fd", a.fileno(), "b_local %s:%d" % b.getsockname())
		os.dup2(b.fileno(), a.fileno())
	EOF
	RESETGUARD_LOG=$LOG RESETGUARD_LOG_LEVEL=debug run --separate-stderr timeout 30 "$RG" python3 "$BATS_TEST_TMPDIR/dup2.py"
	assert_success
	local fd=${lines[0]#fd } b_local=${lines[0]#* b_local }
	fd=${fd%% *}
	run grep -E "event=close outcome=shared fd=$fd " "$LOG"
	assert_success
	refute_output --partial "local=$b_local "
	assert_output --partial "local=unknown "
}
