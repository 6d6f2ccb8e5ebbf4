#!/usr/bin/env bats
# Programs linked to musl: the command (built for glibc) picks the library
# built for musl (make musl: build-musl/, and libresetguard-musl.so beside
# the glibc one), and that library does for them what the glibc one does
# for glibc programs.  `make check-musl` also runs sigpipe.bats,
# linger.bats and logging.bats with the musl build of everything.

setup() {
	load helpers/common
	require musl-gcc
	[[ -z ${RESETGUARD_SAN_RUNTIME:-} ]] || skip "a sanitizer's runtime is glibc's (the musl build is not instrumented)"
	M=$(cd "${RESETGUARD_MUSL_BUILD:-$BATS_TEST_DIRNAME/../build-musl}" 2>/dev/null && pwd) &&
		[[ -f $B/libresetguard-musl.so ]] || {
		[[ ${RESETGUARD_TEST_REQUIRE_ALL:-} != 1 ]] || fail "no musl build beside $B: make musl"
		skip "no musl build beside $B: make musl"
	}
	MPROBE=$M/tests/resetprobe
}

teardown() {
	stop_servers
}

@test "--check of a musl program: yes, with the musl library, which its loader would load" {
	run "$RG" --check "$MPROBE"
	assert_success
	assert_line --regexp "^  library:  .*/libresetguard-musl\.so \(x86-64, musl\)$"
	assert_line --partial "libc:     musl"
	assert_line --regexp "loader:   .*ld-musl.* would load the library"
	# And a glibc program still gets the glibc one.
	run "$RG" --check "$PROBE"
	assert_success
	assert_line --regexp "^  library:  .*/libresetguard\.so \(x86-64, glibc\)$"
}

@test "a musl program writing to a reset socket: killed by SIGPIPE without resetguard, EPIPE with it" {
	run -141 "$MPROBE" write write
	run "$RG" "$MPROBE" write write
	assert_success
	assert_line "write ret=-1 errno=ECONNRESET"
	assert_line "write ret=-1 errno=EPIPE"
	assert_line alive
	# Unoptimised, and through stdio (musl writes a FILE with its own
	# writev(), which no wrapper of write() sees).
	run -141 "$MPROBE.plain" fprintf fprintf
	run "$RG" "$MPROBE.plain" fprintf fprintf
	assert_success
	assert_line alive
}

@test "a musl server closing early: its clients are reset without resetguard, get EOF with it" {
	local wrap
	for wrap in "" "$RG"; do
		B=$M WRAP=$wrap start_lingerserver -n 3
		run_clients raw 3
		wait_server
		assert_equal "$SERVER_STATUS" 0
		if [[ -z $wrap ]]; then
			[[ $RESETS -gt 0 ]] || fail "no reset without the shim: the test proves nothing"
		else
			assert_equal "$RESETS" 0
		fi
	done
}

@test "a musl program's reset is logged with its peer, errno by name, in the documented shape" {
	RESETGUARD_LOG=$LOG run "$RG" "$MPROBE" write write
	assert_success
	run grep -cE "$LINE_RE" "$LOG"
	assert_output 2
	assert_line --index 0 2
	run grep -E 'event=reset errno=ECONNRESET op=write .* peer=127\.0\.0\.1:[0-9]+ .* prog=resetprobe ' "$LOG"
	assert_success
	run grep -E 'event=pipe errno=EPIPE op=write ' "$LOG"
	assert_success
	# JSON too: the records are built by the same code.
	RESETGUARD_LOG=$BATS_TEST_TMPDIR/json.log RESETGUARD_LOG_FORMAT=json run "$RG" "$MPROBE" write write
	run python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]; print("ok")' \
		"$BATS_TEST_TMPDIR/json.log"
	assert_output ok
}

@test "one C library's build in the other's LD_PRELOAD: the program does not start (why the command picks)" {
	# musl's loader refuses the glibc build (symbols musl lacks)...
	LD_PRELOAD=$B/libresetguard.so run -127 "$MPROBE" write write
	assert_output --partial "Error relocating"
	# ...and glibc's the musl build (it needs musl's libc.so).
	LD_PRELOAD=$B/libresetguard-musl.so run -127 "$PROBE" write write
	assert_output --partial "error while loading shared libraries"
	# A preload that does not exist at all is passed over by both.
	LD_PRELOAD=/nonexistent/libresetguard.so run -141 "$MPROBE" write write
	refute_output --partial "ld.so"
}
