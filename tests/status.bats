#!/usr/bin/env bats
# resetguard status PID: whether the library is loaded in a process, the
# settings in force, its counters and how many sockets linger now, read
# from /proc/PID without stopping or touching the process.

load helpers/common

teardown() {
	stop_servers
	[[ -z ${CLIENT_PID:-} ]] || kill "$CLIENT_PID" 2>/dev/null || true
}

# Polls `resetguard status $1` (at most 5 s) until a line is $2.
wait_status_line() {
	local i
	for i in $(seq 100); do
		"$RG" status "$1" | grep -qxF "$2" && return 0
		sleep 0.05
	done
	fail "no line '$2' in: $("$RG" status "$1")"
}

@test "status of a process without the library: not loaded, exit 1; of none: exit 1" {
	start_lingerserver -n 1
	local pid=$SERVER_PID
	run "$RG" status "$pid"
	assert_failure 1
	assert_output "process $pid: resetguard is not loaded"
	run_clients raw 1 1000
	wait_server
	run "$RG" status "$pid"
	assert_failure 1
	assert_output "process $pid: no such process"
	run "$RG" status not-a-pid
	assert_failure 125
}

@test "status of a process with the library: loaded, the settings in force, the counters" {
	WRAP="$RG --linger-timeout 700ms --errors all" start_lingerserver -n 2
	run "$RG" status "$SERVER_PID"
	assert_success
	assert_line --index 0 "process $SERVER_PID: resetguard is loaded ($(realpath "$B/libresetguard.so"))"
	assert_line "program: lingerserver"
	assert_line --regexp "^settings: prog=lingerserver pid=$SERVER_PID .* errors=all .* linger_timeout_ms=700 "
	assert_line "resets: 0"
	assert_line "lingering now: 0"
	# --status is the same
	run "$RG" --status "$SERVER_PID"
	assert_success
	assert_line "program: lingerserver"
	# A connection closed gracefully is counted.
	run_clients raw 1 100000
	wait_status_line "$SERVER_PID" "graceful closes: eof=1 timeout=0 bytes=0 error=0 cap=0"
}

@test "status counts a socket that lingers now, and no longer once it is closed" {
	local fifo=$BATS_TEST_TMPDIR/hold answer
	WRAP="$RG --linger-timeout 30s --linger-time 60s" start_lingerserver -n 2
	mkfifo "$fifo"
	# A client that sends more than the server reads, reads the answer and
	# keeps the connection until told: the server's close lingers.
	python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x" * 100000)
print(s.recv(100).decode().strip(), flush=True)
sys.stdin.read()
s.close()' "$SERVER_PORT" <"$fifo" >"$BATS_TEST_TMPDIR/client.out" &
	CLIENT_PID=$!
	exec 5>"$fifo"
	wait_status_line "$SERVER_PID" "lingering now: 1"
	run "$RG" status "$SERVER_PID"
	assert_line "graceful closes: eof=0 timeout=0 bytes=0 error=0 cap=0"
	exec 5>&-
	wait "$CLIENT_PID"
	CLIENT_PID=
	wait_status_line "$SERVER_PID" "lingering now: 0"
	wait_status_line "$SERVER_PID" "graceful closes: eof=1 timeout=0 bytes=0 error=0 cap=0"
}

@test "status in a forked child: the child's own page and counters, not its parent's" {
	WRAP="$RG" start_lingerserver -n 4 -m prefork
	local children="" child i dir=$BATS_TEST_TMPDIR/metrics
	for i in $(seq 100); do
		children=$(pgrep -P "$SERVER_PID" | tr '\n' ' ')
		[[ $(wc -w <<<"$children") == 4 ]] && break
		sleep 0.05
	done
	[[ $(wc -w <<<"$children") == 4 ]] || fail "no 4 workers: $children"
	for child in $children; do
		run "$RG" status "$child"
		assert_success
		assert_line --regexp "^settings: prog=lingerserver pid=$child "
	done
	run_clients raw 4 100000
	wait_server

	# A child per connection closes it gracefully: counted in the child's
	# page (and the family's metrics file), not in the parent's.  The
	# server has a metrics thread when it forks (as in workers.bats).
	skip_under_sanitizer asan "its allocator's locks are copied held into children forked while threads run"
	mkdir "$dir"
	WRAP="$RG --metrics $dir" start_lingerserver -n 2 -m fork
	run_clients raw 1 100000
	for i in $(seq 100); do
		grep -q 'outcome="eof"} 1$' "$dir/resetguard_lingerserver.prom" 2>/dev/null && break
		sleep 0.05
	done
	grep -q 'outcome="eof"} 1$' "$dir/resetguard_lingerserver.prom" || fail "the child's close was not counted"
	run "$RG" status "$SERVER_PID"
	assert_line "graceful closes: eof=0 timeout=0 bytes=0 error=0 cap=0"
	run_clients raw 1 100000
	wait_server
}

@test "status of another user's process: cannot tell, exit 2" {
	((EUID == 0)) || skip "needs root to run the command as another user"
	require setpriv
	WRAP="$RG" start_lingerserver -n 1
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$RG" status "$SERVER_PID"
	assert_failure 2
	assert_output "process $SERVER_PID: cannot tell: Permission denied (run as its user, or as root)"
	run_clients raw 1 1000
	wait_server
}
