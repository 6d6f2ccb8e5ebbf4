#!/usr/bin/env bats
# Every ECONNRESET and EPIPE gives one whole logfmt line that names the
# right peer, even though getpeername() no longer works after a reset.

setup() {
	load helpers/common
}

teardown() {
	stop_servers
}

# Runs the probe's read after a reset under the shim and checks the one
# line it logs against the peer the probe itself saw.
reset_is_logged() {
	local family=$1 bin=$2 role=${3:-client}
	rm -f "$LOG"
	RESETGUARD_LOG=$LOG run "$RG" "$bin" -f "$family" -u "$BATS_TEST_TMPDIR/s" read
	assert_success
	local peer=${lines[0]#peer=}
	assert_equal "$(log_lines)" 1
	assert_log_well_formed
	run cat "$LOG"
	assert_output --partial " event=reset errno=ECONNRESET op=read "
	assert_output --partial " peer=$peer "
	assert_output --partial " role=$role prog=${bin##*/} "
}

@test "IPv4 reset: the peer is named after getpeername() stopped working" {
	reset_is_logged inet "$PROBE"
	reset_is_logged inet "$PROBE.plain"
}

@test "IPv6 reset, fortified and plain builds" {
	reset_is_logged inet6 "$PROBE"
	reset_is_logged inet6 "$PROBE.plain"
}

@test "AF_UNIX reset carries the peer's pid and uid" {
	reset_is_logged unix "$PROBE"
	run cat "$LOG"
	assert_output --regexp " peer_pid=[0-9]+ peer_uid=$(id -u) conn_id=[0-9]+$"
	reset_is_logged unix "$PROBE.plain"
}

@test "an abstract AF_UNIX peer is unix:@name" {
	RESETGUARD_LOG=$LOG run "$RG" "$PROBE" -f unix -u "@resetguard-test-$$" read
	assert_success
	run cat "$LOG"
	assert_output --partial " peer=unix:@resetguard-test-$$.0 "
}

@test "every receive path logs: readv recv recvfrom recvmsg recvmmsg" {
	local op
	for op in readv recv recvfrom recvmsg recvmmsg; do
		rm -f "$LOG"
		RESETGUARD_LOG=$LOG run "$RG" "$PROBE" "$op"
		assert_success
		assert_equal "$(log_lines)" 1
		run cat "$LOG"
		assert_output --partial " op=$op "
	done
}

@test "no reset, no line: the same probe without a reset path stays silent" {
	RESETGUARD_LOG=$LOG run "$RG" "$PROBE"
	assert_success
	assert_equal "$(log_lines)" 0
}

@test "8 threads resetting at once give 8 whole lines" {
	RESETGUARD_LOG=$LOG run "$RG" "$PROBE" -t 8 read
	assert_success
	assert_equal "$(log_lines)" 8
	assert_log_well_formed
}

@test "a program that closed descriptors 3..1023 still logs to the file" {
	local how
	for how in loop range from dup2; do
		rm -f "$LOG"
		RESETGUARD_LOG=$LOG run "$RG" "$PROBE" -c "$how" write write
		assert_success
		assert_equal "$(log_lines)" 2
		assert_log_well_formed
	done
}

@test "the default sink is stderr; stdout carries only the program's output" {
	run --separate-stderr "$RG" "$PROBE" read
	assert_success
	assert_equal "${#lines[@]}" 4
	[[ $stderr =~ $LINE_RE ]] || fail "stderr: $stderr"
}

@test "RESETGUARD_LOG=off: no line anywhere" {
	RESETGUARD_LOG=off run --separate-stderr "$RG" "$PROBE" read write write
	assert_success
	assert_equal "$stderr" ""
}

@test "the log file is created 0640 and appended to" {
	umask 022
	RESETGUARD_LOG=$LOG run "$RG" "$PROBE" read
	assert_equal "$(stat -c %a "$LOG")" 640
	RESETGUARD_LOG=$LOG run "$RG" "$PROBE" read
	assert_equal "$(log_lines)" 2
}

@test "a hostile Unix socket path cannot forge a key or a line" {
	require python3
	local path=$BATS_TEST_TMPDIR/$'a b"c=d\ne\\f'
	RESETGUARD_LOG=$LOG run "$RG" "$PROBE" -f unix -u "$path" read
	assert_success
	assert_equal "$(log_lines)" 1
	run python3 "$HELPERS/logfmt.py" peer <"$LOG"
	assert_success
	assert_output "$(python3 -c 'import json,sys; print(json.dumps("unix:" + sys.argv[1] + ".0"))' "$path")"
}

@test "RESETGUARD_ERRORS=all adds refused connections" {
	require python3
	local port
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	RESETGUARD_LOG=$LOG run "$RG" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
	assert_failure
	assert_equal "$(log_lines)" 0
	RESETGUARD_ERRORS=all RESETGUARD_LOG=$LOG run "$RG" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
	assert_failure
	run cat "$LOG"
	assert_output --regexp "event=error errno=ECONNREFUSED op=connect fd=[0-9]+ peer=127.0.0.1:$port .* role=client prog=bash "
	# A connection that never was has no data clocks, rtt or send queue.
	refute_output --regexp "idle_ms=|rtt_us=|unacked="
	assert_output --regexp " tcp_state=CLOSE retrans=0 "
}

@test "RESETGUARD_ERRORS=all: curl's refused non-blocking connect, read with getsockopt(SO_ERROR), is logged once; curl still sees it" {
	skip_under_sanitizer asan "curl hangs in setlocale() with libasan preloaded, resetguard or not"
	require curl python3
	local port
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	run curl -sS "http://127.0.0.1:$port/"
	assert_failure 7
	local without=$output
	RESETGUARD_ERRORS=all RESETGUARD_LOG=$LOG run "$RG" curl -sS "http://127.0.0.1:$port/"
	assert_failure 7
	# curl learns the refusal from SO_ERROR itself: the read was only watched.
	assert_equal "${output//[0-9]/N}" "${without//[0-9]/N}"
	assert_equal "$(grep -c "event=error errno=ECONNREFUSED op=getsockopt fd=[0-9]* peer=127.0.0.1:$port " "$LOG")" 1
	assert_equal "$(log_lines)" 1
	run cat "$LOG"
	refute_output --regexp "idle_ms=|rtt_us=|unacked="
}

@test "curl: the reset of an upload is logged with the server's address" {
	require curl python3
	skip_under_sanitizer asan "curl hangs in setlocale() with libasan preloaded, resetguard or not"
	start_reset_server --read 100
	head -c 4000000 /dev/zero >"$BATS_TEST_TMPDIR/body"
	RESETGUARD_LOG=$LOG run "$RG" curl -sS --data-binary "@$BATS_TEST_TMPDIR/body" "http://$SERVER_ADDR/"
	assert_failure
	run cat "$LOG"
	assert_output --regexp "event=(reset|pipe) errno=E[A-Z]+ op=[a-z]+ fd=[0-9]+ peer=$SERVER_ADDR local=127.0.0.1:[0-9]+ role=client prog=curl "
	assert_log_well_formed
}

@test "redis-server: a client that resets is logged with the client's address" {
	require redis-server python3
	local port
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	RESETGUARD_LOG=$LOG "$RG" redis-server --port "$port" --bind 127.0.0.1 --save '' \
		--appendonly no --daemonize no --loglevel warning >"$BATS_TEST_TMPDIR/redis.out" 3>&- &
	SERVER_PID=$!
	# The client: wait until redis answers PING, then send a command and
	# go away abortively, leaving redis with a reset to read.
	run python3 - "$port" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
for _ in range(200):
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"PING\r\n")
        if s.recv(16).startswith(b"+PONG"):
            break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("redis never answered")
s.sendall(b"SET k v\r\n")
s.recv(16)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
print(s.getsockname()[1])
s.close()
PY
	assert_success
	local client_port=$output
	# Readiness: redis logs the reset as soon as its event loop reads it.
	for _ in $(seq 100); do [[ -s $LOG ]] && break; sleep 0.05; done
	run cat "$LOG"
	assert_output --regexp "event=reset errno=ECONNRESET op=read fd=[0-9]+ peer=127.0.0.1:$client_port local=127.0.0.1:$port role=server prog=redis-server "
}
