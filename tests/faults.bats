#!/usr/bin/env bats
# Faults around the program: its log destination goes away, it runs out of
# descriptors, it spawns children while sockets drain, it blocks SIGPIPE,
# it closes a descriptor twice.  Each time it behaves as without the shim,
# but for the shim's intended effects.

setup() {
	load helpers/common
	FAULT=$B/tests/faultprobe
}

teardown() {
	stop_servers
}

# The probe's stdout for 30 resets, 50 ms apart, read with read(): no
# SIGPIPE involved, so the same with and without the shim.
expected_reads() {
	local i
	for i in $(seq 30); do echo "read ret=-1 errno=ECONNRESET"; done
	printf 'sigpipes=0\nalive\n'
}

@test "the log's directory is removed mid-run: one line on stderr, then stderr; output intact" {
	local dir=$BATS_TEST_TMPDIR/logs i
	mkdir "$dir"
	LOG=$dir/rg.log
	RESETGUARD_LOG=$LOG RESETGUARD_LOG_RATE=0 "$RG" "$PROBE" -r 30 -i 50 read \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
	local pid=$!
	for i in $(seq 100); do [[ $(log_lines) -ge 3 ]] && break; sleep 0.05; done
	rm -r "$dir"
	wait "$pid"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "$(expected_reads)"
	run grep -c '^resetguard: ' "$BATS_TEST_TMPDIR/err"
	assert_output 1
	run grep '^resetguard: ' "$BATS_TEST_TMPDIR/err"
	assert_output "resetguard: cannot open RESETGUARD_LOG=$dir/rg.log: No such file or directory; logging to stderr"
	# The records after the fallback are whole reset lines on stderr.
	LOG=$BATS_TEST_TMPDIR/err.lines
	grep -v '^resetguard: ' "$BATS_TEST_TMPDIR/err" >"$LOG"
	[[ $(log_lines) -gt 0 ]] || fail "nothing logged after the fallback"
	assert_log_well_formed
	run "$PROBE" -r 30 -i 1 read
	assert_success
	assert_output "$(expected_reads)"
}

@test "a log that cannot be written (/dev/full): one line on stderr, then stderr; output intact" {
	run --separate-stderr "$PROBE" -r 3 read
	assert_success
	local expected=$output
	RESETGUARD_LOG=/dev/full run --separate-stderr "$RG" "$PROBE" -r 3 read
	assert_success
	assert_equal "$output" "$expected"
	assert_equal "${#stderr_lines[@]}" 4
	assert_equal "${stderr_lines[0]}" "resetguard: cannot write RESETGUARD_LOG=/dev/full: No space left on device; logging to stderr"
	local line
	for line in "${stderr_lines[@]:1}"; do
		[[ $line =~ $LINE_RE ]] || fail "not a reset line: $line"
	done
}

@test "a FIFO as the log: without a reader the program starts at once, with one line on stderr" {
	mkfifo "$LOG"
	RESETGUARD_LOG=$LOG run --separate-stderr timeout 10 "$RG" "$PROBE" read
	assert_success
	assert_output --partial alive
	assert_equal "$stderr" "resetguard: cannot open RESETGUARD_LOG=$LOG: No such device or address; logging to stderr
${stderr_lines[1]}"
	[[ ${stderr_lines[1]} =~ $LINE_RE ]] || fail "not a reset line: ${stderr_lines[1]}"
}

@test "a FIFO as the log that nobody reads: the program never blocks, whole lines only" {
	mkfifo "$LOG"
	exec 7<>"$LOG" # a reader that never reads
	RESETGUARD_LOG=$LOG RESETGUARD_LOG_RATE=0 run --separate-stderr timeout 10 "$RG" "$PROBE" -t 4 -r 100 read
	assert_success
	assert_equal "$(grep -c 'read ret=-1 errno=ECONNRESET' <<<"$output")" 400
	assert_equal "$stderr" ""
	# What fitted in the pipe: whole records, fewer than the 400 resets.
	python3 -c 'import os, sys
os.set_blocking(7, False)
try:
    while True: sys.stdout.buffer.write(os.read(7, 65536))
except BlockingIOError: pass' >"$LOG.lines"
	exec 7<&-
	LOG=$LOG.lines
	local n
	n=$(log_lines)
	[[ $n -gt 0 && $n -lt 400 ]] || fail "$n lines in the FIFO"
	assert_log_well_formed
}

@test "descriptor limit: EMFILE at the same count as without the shim, with a log file too, same numbers" {
	require prlimit
	local limit fds first
	for limit in 40 100; do
		run prlimit --nofile=$limit "$FAULT" fill
		assert_output --regexp '^filled=EMFILE fds=[0-9]+ first=[0-9,]+$'
		fds=${output#*fds=} first=${output##*first=}
		fds=${fds%% *}
		run prlimit --nofile=$limit "$RG" "$FAULT" fill
		assert_output "filled=EMFILE fds=$fds first=$first"
		# The log file sits in the top quarter, out of the program's way,
		# and is given up when the program needs its descriptor.
		RESETGUARD_LOG=$LOG run prlimit --nofile=$limit "$RG" "$FAULT" fill
		assert_output "filled=EMFILE fds=$fds first=$first"
	done
}

# Starts faultprobe spawn $1: a socket lingers (its peer stays silent)
# while the child starts; the child must not hold it.
spawn_while_draining() {
	run "$FAULT" spawn "$1"
	assert_success
	assert_line child_sockets=0
	assert_line --regexp '^child_status=0 '
	RESETGUARD_LINGER_TIMEOUT=20s RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG=$LOG \
		run timeout 10 "$RG" "$FAULT" spawn "$1"
	assert_success
	assert_line child_sockets=0
	assert_line --regexp '^child_status=0 '
	assert_line alive
	# It lingered through the spawn, and went when its peer closed, long
	# before the 20 s idle deadline.
	run grep -o 'event=linger outcome=eof .* ms=[0-9]*' "$LOG"
	assert_success
	[[ ${output##*ms=} -lt 5000 ]] || fail "lingered ${output##*ms=} ms"
	local us
	us=$(sed -n 's/^child_status=0 spawn_us=//p' <<<"$(RESETGUARD_LINGER_TIMEOUT=20s "$RG" "$FAULT" spawn "$1")")
	[[ $us -lt 5000000 ]] || fail "starting and reaping the child took $us us"
}

@test "vfork+exec while a socket drains: the child runs, holds no socket, nothing waits" {
	spawn_while_draining vfork
}

@test "posix_spawn while a socket drains: the child runs, holds no socket, nothing waits" {
	spawn_while_draining posix_spawn
}

@test "a vfork() child that closes its copy before exec leaves the parent's connection alone" {
	local how expected="send ret=5 errno=0
peer recv ret=5 errno=0
peer recv again ret=-1 errno=EAGAIN"
	for how in close dup2 closefrom; do
		run --separate-stderr timeout 10 "$FAULT" vfork-close "$how"
		assert_success
		assert_output "$expected"
		# No shutdown of the parent's socket, and no exit that waits for
		# a drainer the child never had.
		run --separate-stderr timeout 10 "$RG" "$FAULT" vfork-close "$how"
		assert_success
		assert_output "$expected"
	done
}

@test "SIGPIPE blocked, with a handler: the signal stays pending and the handler runs once unblocked" {
	local ops
	for ops in "write write" "sendfile sendfile" "send fwrite"; do
		# shellcheck disable=SC2086 # two operations
		run "$PROBE" -B -H $ops
		assert_success
		assert_line pending=1
		assert_line sigpipes=1
		# shellcheck disable=SC2086
		run "$RG" "$PROBE" -B -H $ops
		assert_success
		assert_line pending=1
		assert_line sigpipes=1
	done
}

@test "SIGPIPE blocked: one already pending from a pipe survives the shim's guard" {
	# Default disposition: unblocking the pending signal kills, both ways.
	run "$PROBE" -B -p sendfile fwrite
	assert_equal "$status" 141
	assert_line pending=1
	run "$RG" "$PROBE" -B -p sendfile fwrite
	assert_equal "$status" 141
	assert_line pending=1
	# Without one from the pipe, the shim's intended effect: no socket
	# write leaves a fatal SIGPIPE behind.
	run "$PROBE" -B write write
	assert_equal "$status" 141
	assert_line pending=1
	run "$RG" "$PROBE" -B write write
	assert_success
	assert_line pending=0
}

@test "close() twice: EBADF the second time, as without the shim; its own descriptors untouched" {
	require prlimit
	local expected="socket close ret=0 errno=0
socket close again ret=-1 errno=EBADF
file close ret=0 errno=0
file close again ret=-1 errno=EBADF
read ret=-1 errno=ECONNRESET"
	run "$FAULT" double-close
	assert_success
	assert_equal "$(grep -v '^own=' <<<"$output")" "$expected"
	assert_equal "$(grep -c '^own=$' <<<"$output")" 2
	# The own descriptors sit at the top of the first 1024, from the top
	# down, with a limit of 1024 or more.
	RESETGUARD_LINGER_TIMEOUT=20s RESETGUARD_LOG=$LOG run prlimit --nofile=1024 "$RG" "$FAULT" double-close
	assert_success
	assert_equal "$(grep -v '^own=' <<<"$output")" "$expected"
	# The log file, the state page's memfd (made at load), the holder
	# counters' memfd (made with the first socket), the lingering socket,
	# the drainer's epoll, eventfd and /proc/self/fd, the same after the
	# second close as after the first.
	run grep '^own=' <<<"$output"
	assert_equal "${#lines[@]}" 2
	assert_equal "${lines[0]}" "${lines[1]}"
	[[ ${lines[0]} =~ ^own=1017:/proc/[0-9]+/fd,1018:anon_inode:\[eventfd\],1019:anon_inode:\[eventpoll\],1020:socket,1021:/memfd:resetguard-holders\ \(deleted\),1022:/memfd:resetguard-state\ \(deleted\),1023:$LOG,$ ]] ||
		fail "own descriptors: ${lines[0]}"
	# And the log still works.
	run grep -c 'event=reset errno=ECONNRESET op=read ' "$LOG"
	assert_output 1
}
