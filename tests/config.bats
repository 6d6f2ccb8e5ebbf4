#!/usr/bin/env bats
# Settings are read once at load.  A bad one costs one line on stderr that
# names the variable and the value used instead; the program runs on.

setup() {
	load helpers/common
}

# One warning line, exactly, and the program's own output untouched.
warns_once() {
	local expected=$1
	shift
	run --separate-stderr env "$@" "$RG" echo still here
	assert_success
	assert_output "still here"
	assert_equal "$stderr" "$expected"
}

@test "malformed RESETGUARD_SIGPIPE: one line, default used" {
	warns_once "resetguard: RESETGUARD_SIGPIPE=bogus is not socket, ignore or off; using socket" \
		RESETGUARD_SIGPIPE=bogus
	RESETGUARD_SIGPIPE=bogus run "$RG" "$PROBE" write write
	assert_success
	assert_line alive
}

@test "malformed RESETGUARD_ERRORS: one line, default used" {
	warns_once "resetguard: RESETGUARD_ERRORS=\"every thing\" is not reset or all; using reset" \
		RESETGUARD_ERRORS="every thing"
}

@test "empty RESETGUARD_LOG: one line, stderr used" {
	warns_once 'resetguard: RESETGUARD_LOG="" is not stderr, syslog, journal, off or a file path; using stderr' \
		RESETGUARD_LOG=
}

@test "a value with control characters is escaped in the warning" {
	warns_once 'resetguard: RESETGUARD_SIGPIPE="x\ny" is not socket, ignore or off; using socket' \
		RESETGUARD_SIGPIPE=$'x\ny'
}

@test "unwritable log path: one line, then the resets go to stderr" {
	local dir=$BATS_TEST_TMPDIR/missing/dir
	RESETGUARD_LOG=$dir/x.log run --separate-stderr "$RG" "$PROBE" read
	assert_success
	assert_equal "${#stderr_lines[@]}" 2
	assert_equal "${stderr_lines[0]}" "resetguard: cannot open RESETGUARD_LOG=$dir/x.log: No such file or directory; logging to stderr"
	[[ ${stderr_lines[1]} =~ $LINE_RE ]] || fail "not a reset line: ${stderr_lines[1]}"
}

@test "a symlink as log path is refused (O_NOFOLLOW)" {
	ln -s "$BATS_TEST_TMPDIR/target" "$LOG"
	RESETGUARD_LOG=$LOG run --separate-stderr "$RG" true
	assert_success
	assert_equal "$stderr" "resetguard: cannot open RESETGUARD_LOG=$LOG: Too many levels of symbolic links; logging to stderr"
	[[ ! -e $BATS_TEST_TMPDIR/target ]] || fail "followed the symlink"
}

@test "a relative log path is made absolute by the command, whatever the program's cwd later" {
	cd "$BATS_TEST_TMPDIR"
	RESETGUARD_LOG=rel.log run "$RG" bash -c "cd / && exec $PROBE read"
	assert_success
	[[ -s $BATS_TEST_TMPDIR/rel.log ]] || fail "no log in the start-up directory"
}

@test "a program at its descriptor limit gets the log's descriptor; its records are counted, said once" {
	RESETGUARD_LOG=$LOG run --separate-stderr bash -c "ulimit -n 256; exec $RG $PROBE -F write write"
	assert_success
	assert_line "filled=EMFILE"
	assert_equal "$stderr" "resetguard: cannot open RESETGUARD_LOG=$LOG: Too many open files; records that meet the descriptor limit are dropped and counted"
	# At exit, with its sockets closed, the count gets out.
	run cat "$LOG"
	assert_output --regexp '^ts=[^ ]+ level=warn event=suppressed prog=resetprobe pid=[0-9]+ count=2$' 
}

@test "the shim writes nothing on stdout and no file descriptors leak into exec'd children" {
	run "$RG" printf 'exact\n'
	assert_output exact
	# A file log is one descriptor, close-on-exec, above the low numbers.
	RESETGUARD_LOG=$LOG run "$RG" bash -c 'ls /proc/$$/fd | sort -n | tail -1'
	assert_success
	local own=$output
	[[ $own -ge 200 ]] || fail "log descriptor $own is low"
	RESETGUARD_LOG=$LOG run "$RG" bash -c 'exec env -u LD_PRELOAD ls /proc/self/fd'
	assert_success
	refute_line "$own"
}

@test "malformed RESETGUARD_LINGER_BYTES: one line, default used; sizes the start-up line shows" {
	warns_once "resetguard: RESETGUARD_LINGER_BYTES=4MB is not a size such as 65536, 512KiB or 64MiB (at most 1 TiB), or 0 for no bound; using 64MiB" \
		RESETGUARD_LINGER_BYTES=4MB
	warns_once "resetguard: RESETGUARD_LINGER_BYTES=2048GiB is not a size such as 65536, 512KiB or 64MiB (at most 1 TiB), or 0 for no bound; using 64MiB" \
		RESETGUARD_LINGER_BYTES=2048GiB
	local size bytes
	for size in default:67108864 0:0 65536:65536 512KiB:524288 3MiB:3145728 1GiB:1073741824; do
		bytes=${size#*:} size=${size%%:*}
		if [[ $size == default ]]; then
			RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG=$LOG run "$RG" true
		else
			RESETGUARD_LINGER_BYTES=$size RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG=$LOG run "$RG" true
		fi
		assert_success
		assert_output ""
		run grep -o 'event=start .* linger_bytes=[0-9]*' "$LOG"
		assert_output --regexp " linger_bytes=$bytes\$"
		rm "$LOG"
	done
}
