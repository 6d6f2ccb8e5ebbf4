#!/usr/bin/env bats
# Graceful close: servers that answer early and close with unread data
# reset their clients without the shim, and reset none with it.

setup() {
	load helpers/common
	require python3
}

teardown() {
	stop_servers
}

# The same server and clients twice: resets without the shim (> 0) and
# with it (0).  Arguments: client kind, count, then the lingerserver's.
resets_without_and_with() {
	local kind=$1 count=$2
	shift 2
	WRAP= start_lingerserver -n "$count" "$@"
	run_clients "$kind" "$count"
	wait_server
	[[ $RESETS -gt 0 ]] || fail "no reset without the shim: the test proves nothing"
	WRAP=$RG start_lingerserver -n "$count" "$@"
	run_clients "$kind" "$count"
	wait_server
	assert_equal "$RESETS" 0
	assert_equal "$SERVER_STATUS" 0
}

# Ten clients that send 8 MB before reading, against a Debian server that
# answers early, started by the function $3 (given the wrapper, if any, and
# a port): all ten reset without the shim, none with it, and then they get
# the answer matching $2.
debian_server() {
	local kind=$1 answer=$2 start=$3 wrap port
	for wrap in "" "$RG"; do
		port=$(free_port)
		"$start" "$wrap" "$port"
		wait_port "$port"
		SERVER_PORT=$port run_clients "$kind" 10 8000000
		if [[ -z $wrap ]]; then
			assert_equal "$RESETS" 10
		else
			assert_equal "$RESETS" 0
			assert_output --regexp "$answer"
		fi
		stop_servers
	done
}

start_http_server() {
	start_server $1 python3 -u -m http.server "$2" --bind 127.0.0.1
}

start_redis() {
	start_server $1 redis-server --port "$2" --bind 127.0.0.1 --save '' --appendonly no
}

start_busybox_httpd() {
	mkdir -p "$BATS_TEST_TMPDIR/www"
	echo hello >"$BATS_TEST_TMPDIR/www/index.html"
	start_server $1 busybox httpd -f -p "127.0.0.1:$2" -h "$BATS_TEST_TMPDIR/www"
}

# -U 0: no UDP.  It refuses to run as root without -u.
start_memcached() {
	start_server $1 memcached -l 127.0.0.1 -p "$2" -U 0 -u "$(id -un)"
}

@test "python3 http.server answering 501 to a large POST: 10 of 10 reset without, none with" {
	debian_server http 'ok [0-9]+ HTTP/1.0 501' start_http_server
}

@test "redis-server answering a protocol error: 10 of 10 reset without, none with" {
	require redis-server
	debian_server redis 'ok [0-9]+ -ERR Protocol error' start_redis
}

@test "busybox httpd (fork, dup2 onto 0 and 1, exit): 10 of 10 reset without, none with" {
	require busybox
	debian_server http 'ok [0-9]+ HTTP/1.1 501' start_busybox_httpd
}

@test "memcached closing on a command line too long, unanswered: 10 of 10 reset without, none with" {
	require memcached
	debian_server raw 'ok 0 \(empty\)' start_memcached
}

@test "close() with unread data" { resets_without_and_with raw 5 -m close; }
@test "fclose() on a socket stream" { resets_without_and_with raw 5 -m fclose; }
@test "close_range()" {
	skip_under_musl "no close_range() in musl: a program makes the system call, out of sight"
	resets_without_and_with raw 5 -m close_range
}
@test "closefrom()" {
	skip_under_musl "no closefrom() in musl: a program makes the system call, out of sight"
	resets_without_and_with raw 5 -m closefrom
}
@test "dup2() onto the socket (an implicit close)" { resets_without_and_with raw 5 -m dup2; }
@test "threads closing concurrently" {
	skip_under_sanitizer tsan "its own background thread keeps a process alive after main() calls pthread_exit()"
	resets_without_and_with raw 20 -m threads
}
@test "a forked child that answers and leaves with exit() without closing" { resets_without_and_with raw 5 -m exit; }
@test "a forked child that answers and leaves with _exit() without closing" { resets_without_and_with raw 5 -m _exit; }
@test "a program that closes and exits at once" { resets_without_and_with raw 1 -m busy; }

@test "AF_UNIX stream: closed with unread data" {
	local path=$BATS_TEST_TMPDIR/early.sock
	WRAP= start_lingerserver -f unix -u "$path" -n 5
	run_clients raw 5 2000000 "$path"
	wait_server
	[[ $RESETS -gt 0 ]] || fail "no reset without the shim"
	WRAP=$RG start_lingerserver -f unix -u "$path" -n 5
	run_clients raw 5 2000000 "$path"
	wait_server
	assert_equal "$RESETS" 0
}

@test "SO_LINGER {1, 0} is converted by default, kept with RESETGUARD_LINGER0=honour" {
	resets_without_and_with raw 5 -L
	RESETGUARD_LINGER0=honour WRAP=$RG start_lingerserver -n 5 -L
	run_clients raw 5
	wait_server
	[[ $RESETS -gt 0 ]] || fail "honour did not keep the abortive close"
}

@test "RESETGUARD_LINGER=off: the plain close, resets and all" {
	RESETGUARD_LINGER=off WRAP=$RG start_lingerserver -n 5
	run_clients raw 5
	wait_server
	[[ $RESETS -gt 0 ]] || fail "lingered although told not to"
}

@test "fork per connection, parent closes its copy at once: 20 slow clients all served whole" {
	local wrap
	for wrap in "" "$RG"; do
		WRAP=$wrap start_lingerserver -n 20 -m fork -d 200 -s 1000000
		run_clients raw 20 100
		wait_server
		assert_equal "$RESETS" 0
		assert_equal "$(grep -c '^ok 1000000 ' <<<"$output")" 20
	done
}

@test "info level: one event=linger line per graceful close, with outcome, bytes and time" {
	RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG=$LOG WRAP=$RG start_lingerserver -n 3
	run_clients raw 3 2000000
	wait_server
	assert_equal "$(grep -c 'event=linger outcome=eof ' "$LOG")" 3
	run grep -E '^ts=[^ ]+ level=info event=linger outcome=eof fd=[0-9]+ peer=127\.0\.0\.1:[0-9]+ local=127\.0\.0\.1:[0-9]+ role=server prog=lingerserver pid=[0-9]+ age_ms=[0-9]+ drained_bytes=[0-9]+ ms=[0-9]+ conn_id=[0-9]+$' "$LOG"
	assert_equal "${#lines[@]}" 3
}

# The drainer throws away what the peer still sends without copying it:
# on TCP, recv() with MSG_TRUNC and no buffer discards in the kernel.
@test "TCP is drained in the kernel: recv(MSG_TRUNC) without a buffer, and drained_bytes counts every byte" {
	require strace python3
	local trace=$BATS_TEST_TMPDIR/trace
	RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG=$LOG WRAP="strace -f -o $trace -e trace=recvfrom $RG" \
		start_lingerserver -n 1
	# 100 bytes the server reads, then, after its answer, 3,000,000 it
	# never reads: the drainer's, to the client's EOF.
	run python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x" * 100)
f = s.makefile("rb")
print(f.readline().decode().strip())
s.sendall(b"y" * 3000000)
s.shutdown(socket.SHUT_WR)
print(len(f.read()))' "$SERVER_PORT"
	assert_success
	assert_output $'413 too large\n0'
	wait_server
	wait_log 'event=linger outcome=eof .* drained_bytes=3000000 '
	run grep -E 'recvfrom\([0-9]+, NULL, [0-9]+, MSG_TRUNC\|MSG_DONTWAIT' "$trace"
	assert_success
	# Nothing read into a buffer but the peek at the close.
	run grep -E 'recvfrom\([0-9]+, "' "$trace"
	refute_output --regexp '^[^|]*MSG_DONTWAIT[^|]*$'
}

@test "default level: a normal graceful close logs nothing" {
	RESETGUARD_LOG=$LOG WRAP=$RG start_lingerserver -n 3
	run_clients raw 3
	wait_server
	assert_equal "$(log_lines)" 0
}

# A client that sends a little and then neither reads, sends nor closes
# until told to (it is killed by the test).
start_idle_peer() {
	python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x" * int(sys.argv[2]))
if sys.argv[3] == "stream":
    while True:
        s.sendall(b"y" * 1024)
        time.sleep(0.01)
time.sleep(60)' "$SERVER_PORT" "$1" "$2" 3>&- &
	PEER_PID=$!
}

@test "a peer that never closes: close() returns at once, the socket goes at the idle deadline" {
	RESETGUARD_LINGER_TIMEOUT=300ms RESETGUARD_LOG=$LOG WRAP=$RG start_lingerserver -n 1
	start_idle_peer 10000 idle
	wait_server
	# The server has exited; its heir closes the socket.
	wait_log 'event=linger outcome=timeout'
	kill "$PEER_PID"
	local close_us
	close_us=$(sed -n 's/^close_us=//p' "$BATS_TEST_TMPDIR/server.out")
	# Generous: the point is that close() does not wait for the peer.
	[[ $close_us -lt 20000 ]] || fail "close() took $close_us us"
	run grep -o 'event=linger outcome=timeout .* ms=[0-9]*' "$LOG"
	assert_success
	local ms=${output##*ms=}
	[[ $ms -ge 300 && $ms -lt 2000 ]] || fail "closed after $ms ms, not at the 300 ms idle deadline"
}

@test "a peer that keeps sending forever: the socket goes at RESETGUARD_LINGER_TIME" {
	RESETGUARD_LINGER_TIME=1s RESETGUARD_LOG=$LOG WRAP=$RG start_lingerserver -n 1
	start_idle_peer 10000 stream
	wait_server
	wait_log 'event=linger outcome=timeout'
	# The peer may already have died of the broken connection.
	kill "$PEER_PID" 2>/dev/null || true
	run grep -o 'event=linger outcome=timeout .* ms=[0-9]*' "$LOG"
	assert_success
	local ms=${output##*ms=}
	[[ $ms -ge 1000 && $ms -lt 3000 ]] || fail "closed after $ms ms, not at the 1 s deadline"
}

@test "a socket closed while another thread is blocked reading it: the idle timeout counts from its shutdown" {
	# Broken: the drainer shuts the socket down only when the read ends
	# (600 ms after the close), and the idle deadline, counted from the
	# close, has passed by then: the socket goes at once, and a peer that
	# answers the FIN a moment later is reset.
	local script='
import os, socket, sys, threading, time
listener = socket.create_server(("127.0.0.1", 0))
peer = socket.create_connection(listener.getsockname())
fd = listener.accept()[0].detach()
reader = threading.Thread(target=os.read, args=(fd, 1))
reader.start()
# read(2) is system call 0 on x86_64, 63 on aarch64
calls = ("0 ", "63 ") if os.uname().machine in ("x86_64", "aarch64") else ("",)
while not open("/proc/self/task/%d/syscall" % reader.native_id).read().startswith(calls):
    time.sleep(0.001)
os.close(fd)
time.sleep(0.6)  # the peer is silent for twice the idle timeout
peer.sendall(b"x")  # ends the read; the shutdown follows
reader.join()
peer.settimeout(5)
print("eof" if peer.recv(1) == b"" else "data")
for _ in range(100):  # the peer stays until the drainer has let go
    if "event=linger" in open(sys.argv[1]).read():
        break
    time.sleep(0.05)'
	RESETGUARD_LINGER_TIMEOUT=300ms RESETGUARD_LOG=$LOG run "$RG" --level info python3 -c "$script" "$LOG"
	assert_success
	assert_output eof
	run grep -o 'event=linger outcome=timeout .* ms=[0-9]*' "$LOG"
	assert_success
	local ms=${output##*ms=}
	[[ $ms -ge 900 && $ms -lt 3000 ]] || fail "closed $ms ms after the close(), not 300 ms after the shutdown at 600 ms"
}

@test "a low descriptor limit and many lingering sockets: no EMFILE for the program" {
	require prlimit
	# 40 peers that never close, a limit of 64.  Lingering sockets past a
	# quarter of the limit get the plain close (outcome=cap); the server
	# never fails to accept; and when it then opens files up to the limit,
	# lingering sockets make way: it gets as many as without the shim, but
	# for resetguard's own (the log, the drainer's epoll and eventfd).
	local wrap i pids fds=()
	for wrap in "" "$RG"; do
		pids=()
		RESETGUARD_LINGER_TIMEOUT=20s RESETGUARD_LOG=$LOG WRAP="prlimit --nofile=64 $wrap" \
			start_lingerserver -n 40 -F
		for i in $(seq 40); do start_idle_peer 100 idle; pids+=("$PEER_PID"); done
		wait_server
		kill "${pids[@]}"
		assert_equal "$SERVER_STATUS" 0
		fds+=("$(sed -n 's/^filled=EMFILE fds=//p' "$BATS_TEST_TMPDIR/server.out")")
	done
	run grep -c 'outcome=cap' "$LOG"
	[[ $output -gt 0 ]] || fail "the cap was never reached"
	[[ ${fds[1]} -ge $((fds[0] - 3)) ]] || fail "with resetguard ${fds[1]} descriptors, without ${fds[0]}"
}

@test "pre-fork server: workers share the listener, each connection closes gracefully" {
	resets_without_and_with raw 8 -m prefork
}

@test "a child forked while a socket lingers does not inherit it" {
	RESETGUARD_LINGER_TIMEOUT=1s WRAP=$RG start_lingerserver -n 1 -C
	start_idle_peer 100 idle
	wait_server
	kill "$PEER_PID"
	run grep '^child_sockets=' "$BATS_TEST_TMPDIR/server.out"
	assert_output child_sockets=0
}

@test "exec while a socket is still draining: the drain finishes first" {
	skip_under_musl "it execs /bin/true, a glibc program, which cannot start with the musl library in LD_PRELOAD"
	resets_without_and_with raw 3 -E
}

@test "inetd-style service (socat EXEC nofork): socket on fds 0 and 1, read through stdio, never closed" {
	require socat
	local cmd port
	for cmd in "$B/tests/inetd-answer" "$RG $B/tests/inetd-answer"; do
		port=$(free_port)
		start_server socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "EXEC:$cmd,nofork"
		wait_port "$port"
		SERVER_PORT=$port run_clients raw 5
		if [[ $cmd == "$RG"* ]]; then
			assert_equal "$RESETS" 0
			assert_equal "$(grep -c '^ok 14 413 too large' <<<"$output")" 5
		else
			assert_equal "$RESETS" 5
		fi
		stop_servers
	done
}

# A socketpair end whose other end the same process still holds has no
# remote peer to protect: lingering would only turn the program's own
# EPIPE into a silent success and start a thread (nginx workers at start).
@test "one end of a socketpair closed while the process holds the other: the plain close" {
	local script='
import os, socket
a, b = socket.socketpair()
a.close()
try:
    b.send(b"x")
    print("sent")
except OSError as e:
    print(type(e).__name__)
print("threads", len(os.listdir("/proc/self/task")))'
	run python3 -c "$script"
	assert_success
	assert_output $'BrokenPipeError\nthreads 1'
	RESETGUARD_LOG=$LOG run "$RG" --level info python3 -c "$script"
	assert_success
	assert_output $'BrokenPipeError\nthreads 1'
	run grep -c 'event=linger' "$LOG"
	assert_output 0
}
