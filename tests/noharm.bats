#!/usr/bin/env bats
# Do no harm (issue 11): a socket kept for graceful close must be invisible
# to the program.  Each test runs one program without and with resetguard
# and checks what it observes is the same, apart from the documented
# differences (the peer of a graceful close sees FIN, not RST).  Every
# comment says what breaks when the shim gets it wrong.

setup() {
	load helpers/common
	P=$B/tests
	export RESETGUARD_LOG=$LOG
}

teardown() {
	stop_servers
}

# Runs "$@" without the shim, then with it: stdout in WITHOUT and WITH,
# stderr in WITHOUT_ERR and WITH_ERR (resetguard's own log goes to $LOG).
without_and_with() {
	run --separate-stderr timeout 60 "$@"
	assert_success
	WITHOUT=$output WITHOUT_ERR=$stderr
	run --separate-stderr timeout 60 "$RG" "$@"
	assert_success
	WITH=$output WITH_ERR=$stderr
	# Shown when a test fails, or with --show-output-of-passing-tests.
	printf 'without: %s\nwith:    %s\n' "$WITHOUT" "$WITH"
}

# With its log in a file, resetguard leaves the program's stderr alone, but
# for its own one-line complaints ("resetguard: cannot open RESETGUARD_LOG…
# Too many open files", at the descriptor limit): a documented difference.
assert_same_stderr() {
	local with
	with=$(grep -v '^resetguard: ' <<<"$WITH_ERR" || true)
	[[ $with == "$WITHOUT_ERR" ]] || fail "stderr with resetguard: '$WITH_ERR', without: '$WITHOUT_ERR'"
}

# The value of key=VALUE in $2 (words separated by spaces or newlines).
value() {
	local re="(^|[[:space:]])$1=([^[:space:]]*)"
	[[ $2 =~ $re ]] || fail "no $1= in: $2"
	echo "${BASH_REMATCH[2]}"
}

# A number below a bound, with what it was in the message.
assert_below() {
	local what=$1 got=$2 bound=$3
	[[ $got =~ ^[0-9]+$ ]] || fail "$what: not a number: '$got'"
	((got < bound)) || fail "$what=$got, not below $bound"
}

@test "O_ASYNC + F_SETOWN + F_SETSIG: no signal for a closed descriptor; peers still closed gracefully" {
	# Broken: the lingering socket keeps signalling the program, under
	# the closed number and then under the number of a new connection.
	without_and_with "$P/asyncsig" -n 50
	[[ $(value signals "$WITHOUT") -gt 0 ]] || fail "no signal at all: O_ASYNC is not in effect"
	assert_equal "$(value stale "$WITHOUT") $(value overflow "$WITHOUT")" "0 0"
	assert_equal "$(value peer_resets "$WITHOUT")" 50 # the closes had data unread
	[[ $(value signals "$WITH") -gt 0 ]] || fail "no signal at all with resetguard"
	assert_equal "$(value stale "$WITH") $(value reused "$WITH") $(value overflow "$WITH")" "0 0 0"
	assert_equal "$(value peer_resets "$WITH")" 0
	assert_same_stderr
}

@test "io_uring fixed file, then close(fd): 10 of 10 exchanges through the ring (raw system calls)" {
	# Broken: the drainer shuts the socket down and eats the answers.
	without_and_with "$P/iouring" -n 10
	assert_equal "$WITHOUT" "answered=10/10"
	assert_equal "$WITH" "answered=10/10"
	assert_same_stderr
}

@test "io_uring fixed file, then close(fd): 10 of 10 exchanges through the ring (liburing)" {
	# liburing makes its system calls inline: nothing of it reaches a
	# wrapper, yet the program must still get the plain close.
	if [[ ! -x $P/iouring-liburing ]]; then
		[[ ${RESETGUARD_TEST_REQUIRE_ALL:-} != 1 ]] || fail "iouring-liburing not built (liburing-dev)"
		skip "liburing-dev is not installed"
	fi
	without_and_with "$P/iouring-liburing" -n 10
	assert_equal "$WITHOUT" "answered=10/10"
	assert_equal "$WITH" "answered=10/10"
	assert_same_stderr
}

@test "close() while another thread is blocked in an 8 MiB send(): all 8 MiB, then EOF" {
	# Broken: the drainer's shutdown() cuts the send short; the peer gets
	# about half, then EOF, and the rest is lost.
	without_and_with "$P/blocksend"
	assert_equal "$(value send "$WITHOUT")" 8388608
	assert_equal "$(value peer_got "$WITHOUT") $(value end "$WITHOUT")" "8388608 eof"
	assert_equal "$(value send "$WITH")" 8388608
	assert_equal "$(value peer_got "$WITH") $(value end "$WITH")" "8388608 eof"
	assert_same_stderr
}

@test "RLIMIT_NOFILE 64 and 20 lingering sockets: every call succeeds as often before EMFILE as without, with the same numbers" {
	# Broken: lingering sockets and the drainer's descriptors take numbers
	# below the limit, and calls resetguard does not wrap (or that libc
	# makes internally, as fopen does) fail with EMFILE early.
	without_and_with "$P/fdlimit" -l 64 -L 20 -d "$BATS_TEST_TMPDIR" \
		epoll_create1 eventfd timerfd_create memfd_create socket open pipe dup accept \
		inotify_init1 signalfd fopen
	assert_equal "$(grep -c ' errno=EMFILE ' <<<"$WITHOUT")" 12
	assert_equal "$WITH" "$WITHOUT"
	assert_same_stderr
}

@test "a daemon closes everything in /proc/self/fd, then execve(): not held up by lingering sockets" {
	# Broken: exec waits for the peers (which never read nor close) up to
	# the idle deadline, about 2 s.
	without_and_with "$P/leave" -m exec -c -p silent -n 3
	assert_below exec_ms "$(value exec_ms "$WITHOUT")" 500
	assert_below exec_ms "$(value exec_ms "$WITH")" 500
	assert_equal "$(value after_wait "$WITH")" ECHILD
	assert_same_stderr
}

@test "a client reads its answer and exits, the server keeps the connection open: exits at once" {
	# Broken: exit waits for the server's EOF, which never comes, until the
	# idle deadline (2 s).
	without_and_with "$P/leave" -m exit -p open
	assert_below exit_ms "$(value exit_ms "$WITHOUT")" 500
	assert_below exit_ms "$(value exit_ms "$WITH")" 500
	assert_same_stderr
	# The same client with answer left unread, against a server that
	# reads to the end and closes: reset without, not with.
	without_and_with "$P/leave" -m exit -p reader
	assert_equal "$(value peer_resets "$WITHOUT")" 1
	assert_equal "$(value peer_resets "$WITH")" 0
	assert_below exit_ms "$(value exit_ms "$WITH")" 500
	assert_same_stderr
}

# tcpserver under the given wrapper (if any), its handler `echo hello`, at
# most 4 at a time; waits for its first status line.
start_tcpserver() {
	local ready=$BATS_TEST_TMPDIR/tcpserver.$RANDOM line
	mkfifo "$ready"
	TCP_PORT=$(free_port)
	${1:-} tcpserver -v -RHl0 -c 4 127.0.0.1 "$TCP_PORT" echo hello >/dev/null 2>"$ready" 3>&- &
	SERVER_PID=$!
	exec 4<"$ready"
	read -r -t 20 line <&4 || fail "tcpserver did not start"
	cat <&4 >/dev/null 3>&- &
	exec 4<&-
}

@test "tcpserver -c 4, handlers answer and exit, 16 keep-alive clients: all answered within 1 s" {
	require tcpserver
	# Broken: each handler's exit waits for its client's EOF (2 s), so
	# the pool of 4 serves the 16 clients in 4 rounds of 2 s.
	local wrap
	for wrap in "" "$RG"; do
		start_tcpserver "$wrap"
		run "$P/kaclients" -p "$TCP_PORT" -n 16
		stop_servers
		assert_success
		assert_equal "$(value answered "$output")" 16
		assert_below slowest_ms "$(value slowest_ms "$output")" 1000
	done
}

@test "8 threads logging resets while the main thread forks 200 times: every child exits" {
	skip_under_sanitizer tsan "its runtime's own locks are copied held into children forked while threads run"
	# Broken: a child is forked while a thread holds the rate limiter's
	# lock, and hangs forever the first time it logs.
	RESETGUARD_LOG_RATE=5/1 without_and_with "$P/forkstorm" -t 8 -f 200
	assert_equal "$WITHOUT" "forks=200 hung=0 failed=0"
	assert_equal "$WITH" "forks=200 hung=0 failed=0"
	assert_same_stderr
}

@test "dup2/dup3 failing with EBADF, close_range failing with EINVAL: the socket is left intact" {
	# Broken: the shim lets go of the socket before the call fails; the
	# next send gets EPIPE and the peer sees EOF.
	local call
	for call in dup2 dup3 close_range; do
		without_and_with "$P/dupfail" "$call"
		assert_regex "$WITHOUT" '^ret=-1 errno=E(BADF|INVAL) send=1 peer=data$'
		assert_equal "$WITH" "$WITHOUT"
		assert_same_stderr
	done
}

@test "dup2() onto resetguard's descriptors: the number stays the program's, the lingering peer sees EOF" {
	require prlimit
	# Broken: dup2() replaces the drainer's epoll, eventfd or lingering
	# socket, whose owner later closes the program's descriptor; the
	# lingering connection is cut and its peer reset.  The drainer ends
	# the socket at the peer's EOF, inside dupown's 500 ms of writes; the
	# idle timeout only has to outlast the dup2()s on a loaded machine.
	RESETGUARD_LINGER_TIMEOUT=1s RESETGUARD_LINGER_TIME=2s \
		without_and_with prlimit --nofile=256 "$P/dupown"
	[[ $(value targets "$WITHOUT") -ge 64 ]] || fail "too few targets: $WITHOUT"
	assert_equal "$(value dup2_failed "$WITHOUT") $(value broken_after "$WITHOUT")" "0 0"
	# The plain close: what the peer sends afterwards bounces.
	[[ $(value peer_send "$WITHOUT") != ok ]] || fail "the peer's data was taken without the shim"
	assert_equal "$(value dup2_failed "$WITH") $(value broken_after "$WITH")" "0 0"
	assert_equal "$(value peer_send "$WITH") $(value peer "$WITH")" "ok eof"
	assert_same_stderr
}

@test "300 forks while threads log resets, close gracefully and the metrics thread writes: every child exits" {
	skip_under_sanitizer tsan "its runtime's own locks are copied held into children forked while threads run"
	# GCC 12's libasan takes no allocator lock at fork: a child's first
	# thread can find one copied held (seen: SizeClassAllocator64 under
	# pthread_getattr_np in the drainer's start).
	skip_under_sanitizer asan "its allocator's locks are copied held into children forked while threads run"
	# Broken: any lock the fork handlers do not take (log, rate limit,
	# drainer, metrics) can be copied held into a child, which hangs.
	local metrics=$BATS_TEST_TMPDIR/metrics
	mkdir "$metrics"
	RESETGUARD_LOG_LEVEL=info RESETGUARD_METRICS=$metrics RESETGUARD_METRICS_INTERVAL=5ms \
		without_and_with "$P/forkstorm" -t 4 -g 2 -f 300
	assert_equal "$WITHOUT" "forks=300 hung=0 failed=0"
	assert_equal "$WITH" "forks=300 hung=0 failed=0"
	[[ -e $metrics/resetguard_forkstorm.prom ]] || fail "no metrics written"
	grep -q 'event=linger outcome=eof' "$LOG" || fail "no graceful close happened"
	assert_same_stderr
}

@test "every descriptor-creating call, at a limit just above the program's: succeeds exactly when without, with the same numbers" {
	# Broken: lingering sockets and resetguard's own descriptors take the
	# program's last free numbers: EMFILE where it had none.
	without_and_with "$P/fdlimit" -l +6 -L 3 -d "$BATS_TEST_TMPDIR"
	[[ $(wc -l <<<"$WITHOUT") -ge 30 ]] || fail "too few calls: $WITHOUT"
	run grep -v -E ' errno=(EMFILE|EBADF) ' <<<"$WITHOUT"
	assert_output ""
	assert_equal "$WITH" "$WITHOUT"
	assert_same_stderr
}

@test "a program that goes past 1024 descriptors: every number the same as without, none held below 1024" {
	# Broken: resetguard's descriptors sit at 1019..1023; the program's
	# 1020th descriptor gets 1024, past what select() can take.
	RESETGUARD_LOG_LEVEL=info without_and_with python3 "$BATS_TEST_DIRNAME/helpers/fdnumbers.py" 1100
	[[ $WITHOUT == *" 1023 1024 "* ]] || fail "the program never reached 1024: $WITHOUT"
	assert_equal "$WITH" "$WITHOUT"
	wait_log 'event=linger'
	assert_same_stderr
}

@test "exit and exec with a silent peer and a reading peer: not held up, no reset, no child to wait() for" {
	# Broken: exit and exec wait for lingering sockets (2 s with a peer
	# that never answers); a helper that finishes them must not be a child
	# the program (or the image it execs) can wait() for.
	local m p
	for m in exit exec; do
		for p in silent reader; do
			without_and_with "$P/leave" -m "$m" -p "$p" -n 4
			assert_equal "$(value wait "$WITHOUT") $(value wait "$WITH")" "ECHILD ECHILD"
			assert_below "${m}_ms" "$(value "${m}_ms" "$WITHOUT")" 500
			assert_below "${m}_ms" "$(value "${m}_ms" "$WITH")" 500
			if [[ $m == exec ]]; then
				assert_equal "$(value after_wait "$WITH")" ECHILD
			fi
			if [[ $p == reader ]]; then
				assert_equal "$(value peer_resets "$WITHOUT")" 4
				assert_equal "$(value peer_resets "$WITH")" 0
			fi
			assert_same_stderr
		done
	done
}
