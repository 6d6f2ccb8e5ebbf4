#!/usr/bin/env bats
# The library cross-built for arm64 (make arm64: Debian's
# gcc-aarch64-linux-gnu) in arm64 test programs under qemu-user, with the
# cross C library: SIGPIPE, graceful close with a real peer, logging.  Only
# the library: qemu-user without binfmt cannot follow the command's exec.
# Nothing here may depend on x86-64: system call numbers, struct layouts,
# epoll_event packing (packed on x86-64 only).

setup() {
	load helpers/common
	require qemu-aarch64 aarch64-linux-gnu-gcc
	A=${RESETGUARD_ARM64_BUILD:-$BATS_TEST_DIRNAME/../build-arm64}
	[[ -f $A/libresetguard.so && -x $A/tests/lingerserver ]] || {
		[[ ${RESETGUARD_TEST_REQUIRE_ALL:-} != 1 ]] || fail "no arm64 build in $A: make arm64"
		skip "no arm64 build in $A: make arm64"
	}
	A=$(cd "$A" && pwd)
	# The emulator, given the cross C library; with the library preloaded
	# in the program (-E: the guest's environment, not qemu's own).
	QEMU="qemu-aarch64 -L /usr/aarch64-linux-gnu"
	QEMU_RG="$QEMU -E LD_PRELOAD=$A/libresetguard.so"
}

teardown() {
	stop_servers
}

@test "arm64: the library and the test programs are arm64 code" {
	local f
	for f in "$A/libresetguard.so" "$A/tests/resetprobe" "$A/tests/lingerserver"; do
		run readelf -h "$f"
		assert_line --regexp "^ +Machine: +AArch64$"
	done
}

@test "arm64: a write to a reset socket kills without the library, EPIPE with it" {
	run -141 $QEMU "$A/tests/resetprobe" write write
	run $QEMU_RG "$A/tests/resetprobe" write write
	assert_success
	assert_line "write ret=-1 errno=ECONNRESET"
	assert_line "write ret=-1 errno=EPIPE"
	assert_line alive
	run -141 $QEMU "$A/tests/resetprobe.plain" fprintf fprintf
	run $QEMU_RG "$A/tests/resetprobe.plain" fprintf fprintf
	assert_success
	assert_line alive
}

@test "arm64: a server closing early: its clients are reset without the library, get EOF with it" {
	local wrap
	for wrap in "$QEMU" "$QEMU_RG"; do
		B=$A WRAP=$wrap start_lingerserver -n 3
		run_clients raw 3
		wait_server
		assert_equal "$SERVER_STATUS" 0
		if [[ $wrap == "$QEMU" ]]; then
			[[ $RESETS -gt 0 ]] || fail "no reset without the library: the test proves nothing"
		else
			assert_equal "$RESETS" 0
		fi
	done
}

@test "arm64: resets are logged with the peer, in the documented shape" {
	run $QEMU_RG -E RESETGUARD_LOG="$LOG" "$A/tests/resetprobe" write write
	assert_success
	run grep -cE "$LINE_RE" "$LOG"
	assert_output 2
	run grep -E 'event=reset errno=ECONNRESET op=write .* peer=127\.0\.0\.1:[0-9]+ .* prog=resetprobe ' "$LOG"
	assert_success
}
