#!/usr/bin/env bats
# The resetguard command: preloads the library, keeps what LD_PRELOAD had,
# passes arguments untouched and exits as the command did.

setup() {
	load helpers/common
}

@test "exits with the command's own status" {
	run "$RG" sh -c 'exit 7'
	assert_failure 7
	run "$RG" true
	assert_success
}

@test "127 for a command that does not exist, 126 for one that cannot run" {
	run -127 "$RG" no-such-command-here
	assert_failure 127
	assert_output "resetguard: no-such-command-here: No such file or directory"
	touch "$BATS_TEST_TMPDIR/not-executable"
	run "$RG" "$BATS_TEST_TMPDIR/not-executable"
	assert_failure 126
}

@test "125 and a one-line error for an unknown option or no command" {
	run "$RG" --bogus true
	assert_failure 125
	assert_line --index 0 "resetguard: unknown option '--bogus'"
	run "$RG"
	assert_failure 125
}

@test "arguments pass through untouched: spaces, quotes, leading dashes after --" {
	run "$RG" -- printf '[%s]\n' 'a b' '"q"' --flag '' "it's"
	assert_success
	assert_output $'[a b]\n["q"]\n[--flag]\n[]\n[it\'s]'
}

@test "the library is appended to an existing LD_PRELOAD, which is kept" {
	local other
	other=$(ldconfig -p | awk '/libm\.so\.6 .*x86-64|libm\.so\.6 \(libc6,AArch64/ { print $NF; exit }')
	[[ -n $other ]] || other=$(gcc -print-file-name=libm.so.6)
	# dash links no libm of its own: mapped only because it was preloaded.
	LD_PRELOAD=$other run "$RG" sh -c 'echo "$LD_PRELOAD"; grep -q libresetguard /proc/self/maps && grep -q libm.so /proc/self/maps && echo both mapped'
	assert_success
	assert_line --index 0 "$other:$B/libresetguard.so"
	assert_line --index 1 "both mapped"
}

@test "the library is really loaded and only the wrapped calls are exported" {
	run "$RG" grep -c libresetguard.so /proc/self/maps
	assert_success
	[[ $output -ge 1 ]] || fail "not mapped"
	run bash -c "nm -D --defined-only '$B/libresetguard.so' | awk '{ print \$3 }' | sort | diff - '$BATS_TEST_DIRNAME/../shim/exports.txt'"
	assert_success
}

@test "--version and --help" {
	run "$RG" --version
	assert_success
	assert_output --regexp '^resetguard [0-9]+\.[0-9]+\.[0-9]+$'
	run "$RG" --help
	assert_success
	assert_line --index 0 --partial "usage: resetguard"
}
