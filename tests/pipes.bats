#!/usr/bin/env bats
# Pipes made of socketpairs behave like pipes.  ksh93's pipe ends (shut
# down one way, mode 0400 or 0200) are pipes to resetguard: same status,
# output and time as without it.  Other sockets: lingering protects an
# answer, so an AF_UNIX socket that never sent one (the reading end of a
# socketpair used as a pipe, a server that closes without a word) gets the
# plain close, and its writer the EPIPE a pipe would give, as fast as
# without resetguard.  And the drain is bounded by bytes as well as time.

setup() {
	load helpers/common
}

teardown() {
	stop_servers
	[[ -z ${PEER_PID:-} ]] || kill "$PEER_PID" 2>/dev/null || true
}

# ksh93 itself, not another ksh: its pipes are socketpairs.
require_ksh93() {
	local k
	for k in ksh93 ksh; do
		KSH=$(command -v "$k") || continue
		[[ $("$KSH" -c 'echo ${.sh.version}' 2>/dev/null) == *93* ]] && return 0
	done
	require ksh93
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# Standard error but for the writer's "Connection reset by peer", which
# ksh93's socketpair pipes give now and then without resetguard too (the
# reader closed with data unread: the writer's next write fails with
# ECONNRESET where a pipe would raise SIGPIPE).
stderr_but_resets() {
	grep -v ': Connection reset by peer$' <<<"$1" || true
}

# Runs "$@" and waits for every process of it, including pipeline members
# the shell no longer waits for (ksh93 returns when the last command ends,
# and a writer that never gets EPIPE runs on by itself): its standard
# error is a pipe that ends only when the last of them has gone.  Sets
# status, output (standard output), stderr and ms.  It runs in a session
# of its own, killed whole after 20 s (ksh93 gives pipelines process
# groups of their own, out of timeout's reach).
run_all() {
	local started out=$BATS_TEST_TMPDIR/out.$RANDOM runner i
	started=$(now_ms)
	{
		{
			setsid --wait bash -c 'echo $$ >"$0.sid"; exec "$@"' "$out" "$@" >"$out"
			echo "status=$?" >"$out.status"
		} 2>&1 | cat >"$out.err"
	} 3>&- &
	runner=$!
	for i in $(seq 400); do
		kill -0 "$runner" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$runner" 2>/dev/null; then
		# shellcheck disable=SC2046 # one pid a word
		kill -KILL $(ps -o pid= -s "$(<"$out.sid")") 2>/dev/null || true
	fi
	wait "$runner" || true
	ms=$(($(now_ms) - started))
	stderr=$(<"$out.err")
	output=$(<"$out")
	status=$(sed -n 's/^status=//p' "$out.status")
	mapfile -t lines <"$out"
}

# The pipeline $1 under ksh93 without and with resetguard: the same status,
# standard output and standard error, no resetguard record (none of a
# write failing with EPIPE either), and with resetguard every process gone
# within 5 s (generous: the writer used to run on for
# RESETGUARD_LINGER_TIME, 30 s, drained; without resetguard it takes a
# fraction of a second).
same_pipeline() {
	local cmd=$1 want_status want_output want_stderr
	run_all "$KSH" -c "$cmd"
	want_status=$status want_output=$output want_stderr=$(stderr_but_resets "$stderr")
	assert_equal "$want_status" 0
	RESETGUARD_LOG=$LOG run_all "$RG" "$KSH" -c "$cmd"
	assert_equal "$status" "$want_status"
	assert_equal "$output" "$want_output"
	assert_equal "$(stderr_but_resets "$stderr")" "$want_stderr"
	assert_equal "$(log_lines)" 0
	[[ $ms -lt 5000 ]] || fail "took $ms ms with resetguard"
}

@test "ksh93 pipes are socketpairs, their ends marked read-only and write-only (what the tests below rely on)" {
	require_ksh93
	run "$KSH" -c 'readlink /proc/self/fd/1 | cat'
	assert_output --regexp '^socket:\[[0-9]+\]$'
	run "$KSH" -c 'stat -L -c %a /proc/self/fd/1 | cat; true | stat -L -c %a /proc/self/fd/0'
	assert_output $'200\n400'
}

@test "ksh93: yes | head -1, same status and output, as fast as without" {
	require_ksh93
	same_pipeline 'yes | head -1'
	assert_output y
}

# The shell itself writes into the pipe: without resetguard SIGPIPE ends
# the loop; a write failing with EPIPE instead would loop for ever.
@test "ksh93: while :; do echo y; done | head -1, same status and output, as fast as without" {
	require_ksh93
	same_pipeline 'while :; do echo y; done | head -1'
	assert_output y
}

@test "ksh93: seq 1e9 | head, same status and output, as fast as without" {
	require_ksh93
	same_pipeline 'seq 1e9 | head'
	assert_equal "${#lines[@]}" 10
	assert_line --index 9 10
}

# A writer into a socketpair whose reader, in another process, reads a
# little and closes its end: the writer's send fails with EPIPE (SIGPIPE
# is ignored, so nothing is killed), within a few seconds.
@test "a socketpair whose reader closes while the writer writes: EPIPE at once, with and without" {
	local script='
import os, socket, time
a, b = socket.socketpair()
pid = os.fork()
if pid == 0:
    b.close()
    a.recv(10)
    a.close()
    os._exit(0)
a.close()
started = time.monotonic()
try:
    while time.monotonic() - started < 20:
        b.send(b"x" * 65536)
    print("still writing after 20 s")
except OSError as e:
    print(type(e).__name__, "fast" if time.monotonic() - started < 5 else "slow")
os.waitpid(pid, 0)'
	run timeout 30 python3 -c "$script"
	assert_success
	assert_output "BrokenPipeError fast"
	RESETGUARD_LOG=$LOG run timeout 30 "$RG" python3 -c "$script"
	assert_success
	assert_output "BrokenPipeError fast"
}

# The other side of the rule: an end that sent an answer still lingers, so
# that a peer still writing its request does not fail before it reads it.
@test "a socketpair end that answered and closed still lingers: the writer gets the answer" {
	local script='
import os, socket
a, b = socket.socketpair()
pid = os.fork()
if pid == 0:
    b.close()
    a.recv(10)
    a.send(b"answer\n")
    a.close()
    os._exit(0)
a.close()
try:
    b.sendall(b"x" * 8000000)
    print(b.recv(100).decode().strip())
except OSError as e:
    print(type(e).__name__)
os.waitpid(pid, 0)'
	run timeout 60 python3 -c "$script"
	assert_success
	assert_output BrokenPipeError
	RESETGUARD_LOG=$LOG run timeout 60 "$RG" python3 -c "$script"
	assert_success
	assert_output answer
}

# A connected AF_UNIX server that closes without a word: nothing to protect,
# so its clients learn at once that nobody reads their upload, as without.
@test "AF_UNIX server closing without an answer: the plain close, clients get EPIPE as without" {
	local path=$BATS_TEST_TMPDIR/busy.sock wrap
	for wrap in "" "$RG"; do
		RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG=$LOG WRAP=$wrap \
			start_lingerserver -f unix -u "$path" -n 5 -m busy
		run_clients raw 5 2000000 "$path"
		wait_server
		assert_equal "$RESETS" 5
		assert_equal "$SERVER_STATUS" 0
	done
	run grep -c 'event=linger' "$LOG"
	assert_output 0
}

# A TCP peer that sends as fast as loopback takes, to a server that
# answered early: it gets reset at once without resetguard; with it the
# drain stops after RESETGUARD_LINGER_BYTES (long before the 60 s time
# bound), is logged at warn as outcome=bytes, and the peer gets what it
# gets (a reset: it was still sending).
@test "RESETGUARD_LINGER_BYTES: a peer that keeps sending is cut after the bound" {
	require python3
	local wrap script='
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
started = time.monotonic()
try:
    while time.monotonic() - started < 30:
        s.sendall(b"y" * 65536)
    print("never cut")
except OSError as e:
    print(type(e).__name__)'
	for wrap in "" "$RG"; do
		rm -f "$LOG"
		RESETGUARD_LINGER_BYTES=1MiB RESETGUARD_LINGER_TIME=60s RESETGUARD_LOG=$LOG \
			WRAP=$wrap start_lingerserver -n 1
		run timeout 40 python3 -c "$script" "$SERVER_PORT"
		assert_success
		assert_output --regexp '^(ConnectionResetError|BrokenPipeError)$'
		wait_server
	done
	wait_log 'event=linger outcome=bytes'
	run grep -o 'level=warn event=linger outcome=bytes .* drained_bytes=[0-9]*' "$LOG"
	assert_success
	# Exactly the bound: no read asks for more than is left of it.
	assert_equal "${output##*drained_bytes=}" 1048576
}
