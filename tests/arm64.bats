#!/usr/bin/env bats
# arm64: the library, command and test programs cross-built for arm64
# (make arm64: build-arm64/), run under qemu-user with the cross C library,
# against native peers on loopback (python3 clients and listeners).  The
# SIGPIPE, graceful-close and logging checks of sigpipe.bats, linger.bats
# and logging.bats that qemu-user can carry, each without and with the
# library.  What qemu-user cannot carry, and why: resetguard(7), ARCHITECTURES.
#
# LD_PRELOAD goes to the guest alone (qemu-aarch64 -E): in qemu's own
# environment the host's loader would try it on qemu itself.  The other
# RESETGUARD_* variables pass through qemu to the guest untouched.

setup() {
	load helpers/common
	require qemu-aarch64 python3
	[[ -z ${RESETGUARD_SAN_RUNTIME:-} ]] || skip "a sanitizer's runtime is the host's (the arm64 build is not instrumented)"
	A=$(cd "${RESETGUARD_ARM64_BUILD:-$BATS_TEST_DIRNAME/../build-arm64}" 2>/dev/null && pwd) &&
		[[ -f $A/libresetguard.so && -x $A/tests/resetprobe ]] || {
		[[ ${RESETGUARD_TEST_REQUIRE_ALL:-} != 1 ]] || fail "no arm64 build: make arm64"
		skip "no arm64 build: make arm64"
	}
	SYSROOT=${RESETGUARD_ARM64_SYSROOT:-/usr/aarch64-linux-gnu}
	[[ -e $SYSROOT/lib/ld-linux-aarch64.so.1 ]] || {
		[[ ${RESETGUARD_TEST_REQUIRE_ALL:-} != 1 ]] || fail "no arm64 C library in $SYSROOT (libc6-arm64-cross)"
		skip "no arm64 C library in $SYSROOT (libc6-arm64-cross)"
	}
	# The native command (for --check of an arm64 program) before B is
	# the arm64 build, for the helpers that start $B/tests/lingerserver.
	NATIVE_RG=$RG NATIVE_PROBE=$PROBE
	B=$A
	PROBE=$A/tests/resetprobe
	# Without and with the library: the words of a command prefix, as
	# start_lingerserver's $WRAP is.
	WITHOUT="qemu-aarch64 -L $SYSROOT"
	WITH="$WITHOUT -E LD_PRELOAD=$A/libresetguard.so"
	# What each upload client sends: enough to be reset by a close with
	# unread data, little enough that every drain is over before the
	# server exits, so that no heir is needed (qemu-user cannot make one
	# reliably: resetguard(7), ARCHITECTURES).
	UPLOAD=300000
}

teardown() {
	stop_servers
}

# Without the library the second write after a reset raises SIGPIPE (141);
# with it the program lives, gets EPIPE, and the log names the call.
# Arguments: op, family (inet), program ($PROBE).
write_survives() {
	local op=$1 family=${2:-inet} bin=${3:-$PROBE}
	rm -f "$LOG"
	RESETGUARD_LOG=$LOG run $WITHOUT "$bin" -f "$family" -u "$BATS_TEST_TMPDIR/s" "$op" "$op"
	assert_equal "$status" 141
	[[ ! -e $LOG ]] || fail "a log without the library"
	RESETGUARD_LOG=$LOG run $WITH "$bin" -f "$family" -u "$BATS_TEST_TMPDIR/s" "$op" "$op"
	assert_success
	assert_line "$op ret=-1 errno=EPIPE"
	assert_line alive
	run grep -c "event=pipe errno=EPIPE op=" "$LOG"
	assert_output --regexp '^[1-9]'
}

# The same server and clients twice: resets without the library (> 0) and
# none with it.  Arguments: count, then the lingerserver's.
resets_without_and_with() {
	local count=$1
	shift
	WRAP=$WITHOUT start_lingerserver -n "$count" "$@"
	run_clients raw "$count" "$UPLOAD"
	wait_server
	[[ $RESETS -gt 0 ]] || fail "no reset without the library: the test proves nothing"
	assert_equal "$SERVER_STATUS" 0
	WRAP=$WITH start_lingerserver -n "$count" "$@"
	run_clients raw "$count" "$UPLOAD"
	wait_server
	assert_equal "$RESETS" 0
	assert_equal "$SERVER_STATUS" 0
}

@test "arm64: the library, the command and the test programs are arm64's" {
	local f
	for f in "$A/libresetguard.so" "$A/resetguard" "$PROBE"; do
		run readelf -h "$f"
		assert_line --regexp '^ +Machine: +AArch64$'
	done
	run qemu-aarch64 -L "$SYSROOT" "$A/resetguard" --version
	assert_success
	assert_output --regexp '^resetguard [0-9]'
}

@test "arm64 SIGPIPE: write() after a reset: killed without the library, EPIPE with it" {
	write_survives write
}

@test "arm64 SIGPIPE: writev, send, sendto, sendmsg, sendmmsg, sendfile, splice" {
	local op
	for op in writev send sendto sendmsg sendmmsg sendfile splice; do write_survives "$op"; done
}

@test "arm64 SIGPIPE: stdio and dprintf, fortified and plain builds" {
	local op
	for op in fwrite fputs fprintf fflush fputwc dprintf; do write_survives "$op"; done
	write_survives write inet "$PROBE.plain"
	write_survives fprintf inet "$PROBE.plain"
	write_survives putc_unlocked inet "$PROBE.plain"
}

@test "arm64 SIGPIPE: IPv6 and AF_UNIX stream sockets" {
	write_survives send inet6
	write_survives write unix
}

@test "arm64 SIGPIPE: non-blocking socket, same errors, no signal" {
	run $WITHOUT "$PROBE" -n write write
	assert_equal "$status" 141
	run $WITH "$PROBE" -n write write
	assert_success
	assert_line "write ret=-1 errno=ECONNRESET"
	assert_line "write ret=-1 errno=EPIPE"
}

@test "arm64 SIGPIPE: a signal handler that writes to a reset socket" {
	run $WITHOUT "$PROBE" -s write write
	assert_equal "$status" 141
	RESETGUARD_LOG=$LOG run $WITH "$PROBE" -s write write
	assert_success
	assert_line alive
	assert_equal "$(log_lines)" 2
}

@test "arm64 SIGPIPE: a program's own handler still gets its signal, with and without" {
	run $WITHOUT "$PROBE" -H write write
	assert_success
	assert_line sigpipes=1
	run $WITH "$PROBE" -H write write
	assert_success
	assert_line sigpipes=1
}

@test "arm64 SIGPIPE: RESETGUARD_SIGPIPE=off leaves the signal alone but still logs" {
	RESETGUARD_SIGPIPE=off RESETGUARD_LOG=$LOG run $WITH "$PROBE" write write
	assert_equal "$status" 141
	run grep -c "event=reset" "$LOG"
	assert_output 1
}

@test "arm64 graceful close: close() with unread data, native clients: resets without, none with" {
	resets_without_and_with 5 -m close
}

@test "arm64 graceful close: fclose(), dup2() onto the socket, close_range(), closefrom()" {
	local mode
	for mode in fclose dup2 close_range closefrom; do resets_without_and_with 3 -m "$mode"; done
}

@test "arm64 graceful close: threads closing concurrently" {
	resets_without_and_with 5 -m threads
}

@test "arm64 graceful close: AF_UNIX stream closed with unread data" {
	local path=$BATS_TEST_TMPDIR/early.sock
	WRAP=$WITHOUT start_lingerserver -f unix -u "$path" -n 5
	run_clients raw 5 "$UPLOAD" "$path"
	wait_server
	[[ $RESETS -gt 0 ]] || fail "no reset without the library"
	WRAP=$WITH start_lingerserver -f unix -u "$path" -n 5
	run_clients raw 5 "$UPLOAD" "$path"
	wait_server
	assert_equal "$RESETS" 0
}

@test "arm64 graceful close: SO_LINGER {1, 0} converted by default, kept with RESETGUARD_LINGER0=honour" {
	resets_without_and_with 5 -L
	RESETGUARD_LINGER0=honour WRAP=$WITH start_lingerserver -n 5 -L
	run_clients raw 5 "$UPLOAD"
	wait_server
	[[ $RESETS -gt 0 ]] || fail "honour did not keep the abortive close"
}

@test "arm64 graceful close: RESETGUARD_LINGER=off is the plain close, resets and all" {
	RESETGUARD_LINGER=off WRAP=$WITH start_lingerserver -n 5
	run_clients raw 5 "$UPLOAD"
	wait_server
	[[ $RESETS -gt 0 ]] || fail "lingered although told not to"
}

@test "arm64 graceful close: fork per connection, 8 slow clients all served whole, with and without" {
	local wrap
	for wrap in "$WITHOUT" "$WITH"; do
		WRAP=$wrap start_lingerserver -n 8 -m fork -d 200 -s 1000000
		run_clients raw 8 100
		wait_server
		assert_equal "$RESETS" 0
		assert_equal "$(grep -c '^ok 1000000 ' <<<"$output")" 8
	done
}

@test "arm64 logging: info level, one event=linger line per graceful close; none without" {
	RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG=$LOG WRAP=$WITHOUT start_lingerserver -n 3
	run_clients raw 3 "$UPLOAD"
	wait_server
	[[ ! -e $LOG ]] || fail "a log without the library"
	RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG=$LOG WRAP=$WITH start_lingerserver -n 3
	run_clients raw 3 "$UPLOAD"
	wait_server
	run grep -E '^ts=[^ ]+ level=info event=linger outcome=eof fd=[0-9]+ peer=127\.0\.0\.1:[0-9]+ local=127\.0\.0\.1:[0-9]+ role=server prog=lingerserver pid=[0-9]+ age_ms=[0-9]+ drained_bytes=[0-9]+ ms=[0-9]+ conn_id=[0-9]+$' "$LOG"
	assert_equal "${#lines[@]}" 3
}

@test "arm64 logging: reset records in the documented shape, with the peer's address" {
	RESETGUARD_LOG=$LOG run $WITH "$PROBE" write write read
	assert_success
	local peer
	peer=$(sed -n 's/^peer=//p' <<<"$output" | head -n1)
	assert_log_well_formed
	run grep -c "event=reset errno=ECONNRESET op=write fd=[0-9]* peer=$peer .* role=client prog=resetprobe " "$LOG"
	assert_output 1
	run grep -c "event=pipe errno=EPIPE op=write fd=[0-9]* peer=$peer " "$LOG"
	assert_output 1
	# What TCP_INFO gives is true or left out (qemu-user answers it with
	# four bytes): the state after a reset is CLOSE, and the connection
	# has not been idle for longer than it has existed.
	local line age idle
	while IFS= read -r line; do
		[[ $line != *" tcp_state="* || $line == *" tcp_state=CLOSE "* ]] || fail "not CLOSE: $line"
		[[ $line == *" idle_ms="* ]] || continue
		age=${line#* age_ms=} age=${age%% *} idle=${line#* idle_ms=} idle=${idle%% *}
		((idle <= age + 10)) || fail "idle for $idle ms, $age ms old: $line"
	done <"$LOG"
}

@test "arm64 logging: JSON lines parse and carry the same facts as logfmt" {
	local path=$BATS_TEST_TMPDIR/$'q"=\n'
	RESETGUARD_LOG=$LOG.json RESETGUARD_LOG_FORMAT=json run $WITH "$PROBE" -f unix -u "$path" read
	assert_success
	RESETGUARD_LOG=$LOG run $WITH "$PROBE" -f unix -u "$path" read
	assert_success
	run python3 "$HELPERS/json_like_logfmt.py" "$LOG.json" "$LOG"
	assert_success
	assert_output "unix:$path.0"
}

@test "arm64 logging: a record is the host's, byte for byte, escapes of control and high bytes and all" {
	require "$NATIVE_PROBE"
	local path=$BATS_TEST_TMPDIR/$'\xff\x01\xc3\xa9"q'
	RESETGUARD_LOG=$LOG.host run "$NATIVE_RG" "$NATIVE_PROBE" -f unix -u "$path" read
	assert_success
	RESETGUARD_LOG=$LOG run $WITH "$PROBE" -f unix -u "$path" read
	assert_success
	# What differs from run to run: the time, the process, the age.
	local same='s/^ts=[^ ]+ //; s/ (pid|peer_pid|age_ms)=[0-9]+//g'
	run sed -E "$same" "$LOG"
	assert_output "$(sed -E "$same" "$LOG.host")"
	# The invalid byte as the text \xff, the control character as \u0001.
	assert_output --partial '\\xff\u0001'
}

# Starts a datagram listener on $1 and waits until it is bound; what it
# hears goes to $BATS_TEST_TMPDIR/heard (as in logging.bats).
start_listener() {
	local ready=$BATS_TEST_TMPDIR/listener.ready
	mkfifo "$ready"
	python3 "$HELPERS/dgram_listener.py" "$@" >"$ready" 3>&- &
	SERVER_PID=$!
	exec 4<"$ready"
	read -r -t 20 _ <&4 || fail "listener did not start"
	cat <&4 >"$BATS_TEST_TMPDIR/heard" 3>&- &
	SERVER_OUT_PID=$!
	exec 4<&-
}

@test "arm64 logging: syslog, the local form of syslog(3) on the syslog socket; nothing without" {
	local sock=$BATS_TEST_TMPDIR/log.sock
	start_listener "$sock"
	RESETGUARD_LOG=syslog RESETGUARD_SYSLOG_SOCKET=$sock RESETGUARD_SYSLOG_FACILITY=local3 \
		run --separate-stderr $WITHOUT "$PROBE" read
	assert_success
	RESETGUARD_LOG=syslog RESETGUARD_SYSLOG_SOCKET=$sock RESETGUARD_SYSLOG_FACILITY=local3 \
		run --separate-stderr $WITH "$PROBE" read
	assert_success
	assert_equal "$stderr" ""
	wait_server
	run python3 -c 'import json, sys; [print(json.loads(l)) for l in open(sys.argv[1])]' "$BATS_TEST_TMPDIR/heard"
	assert_equal "${#lines[@]}" 1
	assert_line --regexp '^<156>[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} resetguard\[[0-9]+\]: ts=[^ ]+ level=warn event=reset errno=ECONNRESET op=read '
}

@test "arm64 logging: journal native protocol, with the AF_UNIX peer's credentials" {
	local sock=$BATS_TEST_TMPDIR/journal.sock
	start_listener "$sock"
	RESETGUARD_LOG=journal RESETGUARD_JOURNAL_SOCKET=$sock run $WITH "$PROBE" -f unix -u "$BATS_TEST_TMPDIR/peer" read
	assert_success
	wait_server
	run python3 -c '
import json, sys
fields = dict(l.split("=", 1) for l in json.loads(open(sys.argv[1]).readline()).splitlines())
for k in ("PRIORITY", "ERRNO", "EVENT", "OP", "PEER", "PEER_UID", "SYSLOG_IDENTIFIER"):
    print(k + "=" + fields[k])' "$BATS_TEST_TMPDIR/heard"
	assert_success
	assert_line PRIORITY=4
	assert_line ERRNO=104
	assert_line EVENT=reset
	assert_line OP=read
	assert_line "PEER=unix:$BATS_TEST_TMPDIR/peer.0"
	assert_line "PEER_UID=$(id -u)"
	assert_line SYSLOG_IDENTIFIER=resetguard
}

@test "arm64 logging: rate limit, 500 resets in a burst, logged plus suppressed add up exactly" {
	RESETGUARD_LOG=$LOG run $WITH "$PROBE" -r 500 read
	assert_success
	local logged suppressed
	logged=$(grep -c 'event=reset' "$LOG")
	suppressed=$(($(sed -n 's/.*event=suppressed .* count=\([0-9]*\)$/\1/p' "$LOG" | paste -sd+)))
	[[ $logged -ge 20 && $logged -lt 500 ]] || fail "logged $logged"
	assert_equal "$((logged + suppressed))" 500
}

@test "arm64 logging: 4 processes x 4 threads appending to one file, no torn line" {
	local i pids=()
	for i in 1 2 3 4; do
		RESETGUARD_LOG=$LOG RESETGUARD_LOG_RATE=0 $WITH "$PROBE" -t 4 -r 20 read >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	assert_equal "$(log_lines)" 320
	assert_log_well_formed
}

@test "arm64 logging: info level, a start-up line with the settings, a summary at exit" {
	RESETGUARD_LOG_LEVEL=info RESETGUARD_LINGER_TIMEOUT=700ms RESETGUARD_LOG_FORMAT=json \
		RESETGUARD_LOG=$LOG run $WITH "$PROBE" read
	run python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
print(lines[0]["event"], lines[0]["linger_timeout_ms"], lines[0]["log_format"], lines[0]["log_rate"])
print(lines[-1]["event"], lines[-1]["resets"])' "$LOG"
	assert_line --index 0 "start 700 json 20"
	assert_line --index 1 "summary 1"
}

@test "arm64 logging: the metrics textfile, that a strict parser accepts" {
	local dir=$BATS_TEST_TMPDIR/metrics
	mkdir "$dir"
	RESETGUARD_METRICS=$dir RESETGUARD_LOG=off run $WITHOUT "$PROBE" -r 3 read write write
	assert_equal "$status" 141
	run ls -A "$dir"
	assert_output ""
	RESETGUARD_METRICS=$dir RESETGUARD_LOG=off run $WITH "$PROBE" -r 3 read write write
	assert_success
	local file=("$dir"/resetguard_resetprobe.prom)
	[[ -f ${file[0]} ]] || fail "no metrics file in $dir"
	run python3 "$HELPERS/prom_check.py" "${file[0]}"
	assert_success
	assert_line "resetguard_resets_total{} 3"
	assert_line "resetguard_pipes_total{} 6"
}

@test "arm64 command: options become the variables, and the library beside it is preloaded" {
	# Under qemu-user the command's exec is the host's: the program it
	# runs must be one the host can run (here a native shell script that
	# prints its environment; the host's loader says it cannot use the
	# arm64 library, which is right for a host program).
	printf '#!/bin/sh\nenv\n' >"$BATS_TEST_TMPDIR/env.sh"
	chmod +x "$BATS_TEST_TMPDIR/env.sh"
	run --separate-stderr qemu-aarch64 -L "$SYSROOT" "$A/resetguard" --log "$LOG" --no-linger \
		--linger-timeout 700ms "$BATS_TEST_TMPDIR/env.sh"
	assert_success
	assert_line "LD_PRELOAD=$A/libresetguard.so"
	assert_line "RESETGUARD_LOG=$LOG"
	assert_line RESETGUARD_LINGER=off
	assert_line RESETGUARD_LINGER_TIMEOUT=700ms
	# Without the command, none of it.
	run "$BATS_TEST_TMPDIR/env.sh"
	refute_line --partial LD_PRELOAD=
	refute_line --partial RESETGUARD_LINGER
}

@test "arm64 --check: the arm64 command names its arm64 library; the host's refuses an arm64 program" {
	run qemu-aarch64 -L "$SYSROOT" "$A/resetguard" --check "$PROBE"
	assert_line "  library:  $A/libresetguard.so (aarch64, glibc)"
	assert_line "  program:  $PROBE: ELF for aarch64, dynamically linked"
	[[ $(uname -m) != aarch64 ]] || return 0 # the host's command is arm64's too
	run "$NATIVE_RG" --check "$PROBE"
	assert_failure 1
	assert_line "  verdict:  no: its architecture is not the library's"
}
