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

@test "125 and a one-line error for an unknown option, a bad value or no command" {
	run --separate-stderr "$RG" --bogus true
	assert_failure 125
	assert_equal "$stderr" "resetguard: unknown option '--bogus' (see resetguard --help)"
	run --separate-stderr "$RG" --linger-timeout 2 true
	assert_failure 125
	assert_equal "$stderr" "resetguard: invalid value for --linger-timeout: '2' is not a duration from 1ms to 1h, such as 500ms, 1.5s or 2m"
	run --separate-stderr "$RG" --format xml true
	assert_failure 125
	run --separate-stderr "$RG" --level
	assert_failure 125
	assert_equal "$stderr" "resetguard: missing value for '--level' (see resetguard --help)"
	run "$RG"
	assert_failure 125
}

@test "every option reaches the library (the start-up line shows it)" {
	run --separate-stderr "$RG" --level info --format json --rate 5/50 --sigpipe ignore \
		--errors all --linger-timeout 300ms --linger-time 4s --linger-bytes 3MiB --linger0 honour \
		--linger-max 7 --metrics "$BATS_TEST_TMPDIR" --metrics-interval 3s --metrics-name web \
		--syslog-facility local2 --syslog-format rfc5424 --log "$LOG" true
	assert_success
	run python3 -c '
import json, sys
s = json.loads(open(sys.argv[1]).readline())
print(" ".join(str(s[k]) for k in ("log", "log_format", "log_level", "log_rate", "log_burst", "sigpipe",
      "errors", "linger", "linger_timeout_ms", "linger_time_ms", "linger_bytes", "linger0", "linger_max",
      "metrics", "metrics_interval_ms", "metrics_name")))' "$LOG"
	assert_output "$LOG json info 5 50 ignore all on 300 4000 3145728 honour 7 $BATS_TEST_TMPDIR 3000 web"
}

# A record carries no field whose value means nothing for it: not how
# sockets linger when none does, nor the metrics interval without
# metrics, nor the syslog socket when records go to a file.
@test "the start-up line leaves out settings that do not apply" {
	run --separate-stderr "$RG" --level info --no-linger --linger-time 4s --rate 0 --log "$LOG" true
	assert_success
	run grep -o 'event=start .*' "$LOG"
	assert_output --partial ' linger=off'
	assert_output --partial ' log_rate=0'
	refute_output --regexp ' (linger_[a-z_]+|linger0|log_burst|metrics_[a-z_]+|syslog_[a-z_]+|journal_socket)='
	# With linger on, they are there again.
	run "$RG" --level info --log "$LOG" true
	run grep -c 'event=start .* linger_time_ms=30000 .* metrics=off' "$LOG"
	assert_output 1
}

@test "options win over the environment" {
	RESETGUARD_LOG_FORMAT=json run --separate-stderr "$RG" --format logfmt --level info true
	[[ ${stderr_lines[0]} == ts=* ]] || fail "not logfmt: ${stderr_lines[0]}"
}

@test "--check: yes for a dynamic program, no for static and setuid ones, statuses 0 and 1" {
	run "$RG" --check "$PROBE"
	assert_success
	assert_line --partial "verdict:  yes"
	require gcc
	printf 'int main(void) { return 0; }\n' >"$BATS_TEST_TMPDIR/s.c"
	gcc -static -o "$BATS_TEST_TMPDIR/static" "$BATS_TEST_TMPDIR/s.c"
	run "$RG" --check "$BATS_TEST_TMPDIR/static"
	assert_failure 1
	assert_line --partial "statically linked"
	cp /bin/true "$BATS_TEST_TMPDIR/suid"
	chmod u+s "$BATS_TEST_TMPDIR/suid"
	run "$RG" --check "$BATS_TEST_TMPDIR/suid"
	assert_failure 1
	assert_line --partial "setuid"
	run "$RG" --check no-such-program-here
	assert_failure 1
	run "$RG" --level info --check "$PROBE"
	assert_line "    RESETGUARD_LOG_LEVEL=info"
}

@test "--check: a musl program, without the musl library: no, and its own loader says why" {
	require musl-gcc
	printf 'int main(void) { return 0; }\n' >"$BATS_TEST_TMPDIR/m.c"
	musl-gcc -o "$BATS_TEST_TMPDIR/musl" "$BATS_TEST_TMPDIR/m.c"
	# The command and the glibc library alone (musl.bats: with both).
	mkdir "$BATS_TEST_TMPDIR/glibc-only"
	cp "$RG" "$B/libresetguard.so" "$BATS_TEST_TMPDIR/glibc-only"
	run "$BATS_TEST_TMPDIR/glibc-only/resetguard" --check "$BATS_TEST_TMPDIR/musl"
	assert_failure 1
	assert_line --partial "libc:     musl"
	# (A sanitizer build also needs its runtime, which musl's loader lacks.)
	assert_line --regexp "loader:   .*ld-musl.* refuses the library: Error (relocating .*symbol not found|loading shared library libasan)"
	# Which is what happens when it runs: it does not start.
	LD_PRELOAD=$B/libresetguard.so run -127 "$BATS_TEST_TMPDIR/musl"
}

@test "--check: a Go program built with cgo: partly (status 2), Go's own connections are not covered" {
	require gron
	run "$RG" --check gron
	assert_failure 2
	assert_line --partial "built by Go"
	assert_line --partial "verdict:  partly: Go's own connections are not covered"
}

@test "--check node: partly, no graceful close under libuv; its clients are indeed reset as without resetguard" {
	require node
	run "$RG" --check node
	assert_failure 2
	assert_line --partial "verdict:  partly: no graceful close under libuv"
	local wrap
	for wrap in "" "$RG"; do
		local ready=$BATS_TEST_TMPDIR/ready.$RANDOM word
		mkfifo "$ready"
		$wrap node "$HELPERS/early_answer.js" >"$ready" 3>&- &
		SERVER_PID=$!
		read -r -t 20 word SERVER_PORT <"$ready" || fail "node did not start"
		run_clients raw 5
		assert_equal "$RESETS" 5
		stop_servers
	done
}

@test "--check: a log file or metrics directory that cannot be written: partly; writable ones: yes" {
	run "$RG" --log /nonexistent/x.log --metrics /nonexistent --check "$PROBE"
	assert_failure 2
	assert_line "  log:      /nonexistent/x.log: No such file or directory: records would go to stderr"
	assert_line "  metrics:  /nonexistent: No such file or directory: no metrics file would be written"
	mkdir "$BATS_TEST_TMPDIR/m"
	run "$RG" --log "$BATS_TEST_TMPDIR/new.log" --metrics "$BATS_TEST_TMPDIR/m" --check "$PROBE"
	assert_success
	[[ ! -e $BATS_TEST_TMPDIR/new.log ]] || fail "--check created the log file"
	RESETGUARD_SYSLOG_SOCKET=/nonexistent.sock run "$RG" --log syslog --check "$PROBE"
	assert_failure 2
	assert_line "  log:      /nonexistent.sock: no such socket: records would go to stderr"
}

@test "--check: another architecture, and a command without its library" {
	cp /bin/true "$BATS_TEST_TMPDIR/foreign"
	# e_machine (offset 18) set to EM_AARCH64 on x86-64, EM_X86_64 elsewhere.
	local machine='\xb7'
	[[ $(uname -m) == aarch64 ]] && machine='\x3e'
	printf "$machine" | dd of="$BATS_TEST_TMPDIR/foreign" bs=1 seek=18 conv=notrunc status=none
	run "$RG" --check "$BATS_TEST_TMPDIR/foreign"
	assert_failure 1
	assert_line --partial "its architecture is not the library's"
	[[ ! -e /usr/local/lib/resetguard/libresetguard.so ]] || skip "an installed copy would be found"
	cp "$RG" "$BATS_TEST_TMPDIR/lonely"
	run "$BATS_TEST_TMPDIR/lonely" true
	assert_failure 125
	assert_output --partial "cannot find libresetguard.so"
	run "$BATS_TEST_TMPDIR/lonely" --check true
	assert_failure 1
}

@test "--check follows a script to its interpreter" {
	printf '#!/usr/bin/env bash\necho hi\n' >"$BATS_TEST_TMPDIR/script"
	chmod +x "$BATS_TEST_TMPDIR/script"
	run "$RG" --check "$BATS_TEST_TMPDIR/script"
	assert_success
	assert_line --partial "a script run by bash"
}

@test "the man pages render without a warning" {
	require man
	local page
	for page in "$BATS_TEST_DIRNAME"/../man/resetguard.1 "$BATS_TEST_DIRNAME"/../man/resetguard.7 "$BATS_TEST_DIRNAME"/../man/resetguard.conf.5; do
		run bash -c "MANWIDTH=80 man --warnings -l '$page' 2>&1 >/dev/null"
		assert_output ""
		run bash -c "MANWIDTH=80 man -l '$page' | head -1"
		assert_output --partial "RESETGUARD"
	done
}

# The other library must do its job, and so must resetguard.
chained() {
	LD_PRELOAD=$SAN_PRELOAD$1 run "$PROBE" write write
	assert_success
	assert_line alive
}

@test "chaining with libfaketime, in either order" {
	local faketime
	faketime=$(find /usr/lib -name libfaketime.so.1 -print -quit)
	[[ -n $faketime ]] || require faketime
	skip_under_sanitizer asan "libfaketime hangs with libasan preloaded, resetguard or not"
	export FAKETIME="@2001-02-03 04:05:06"
	LD_PRELOAD="$SAN_PRELOAD$faketime:$B/libresetguard.so" run date -u +%Y
	assert_output 2001
	LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so:$faketime" run date -u +%Y
	assert_output 2001
	chained "$faketime:$B/libresetguard.so"
	chained "$B/libresetguard.so:$faketime"
	RESETGUARD_LOG=$LOG LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so:$faketime" run "$PROBE" read
	run grep -c '^ts=2001-02-03T04:05:' "$LOG"
	assert_output 1
}

@test "chaining with libeatmydata, in either order" {
	local eatmydata
	eatmydata=$(find /usr/lib -name libeatmydata.so -print -quit)
	[[ -n $eatmydata ]] || require eatmydata
	chained "$eatmydata:$B/libresetguard.so"
	chained "$B/libresetguard.so:$eatmydata"
	# eatmydata turns fsync into a no-op: the kernel sees none.
	require strace
	LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so:$eatmydata" strace -f -qq -e trace=fsync -o "$BATS_TEST_TMPDIR/trace" \
		python3 -c 'import os; os.fsync(os.open("/dev/null", os.O_WRONLY))'
	run grep -c fsync "$BATS_TEST_TMPDIR/trace"
	assert_output 0
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
	assert_line --index 0 "$SAN_PRELOAD$other:$B/libresetguard.so"
	assert_line --index 1 "both mapped"
}

@test "the library is really loaded and only the wrapped calls are exported" {
	run "$RG" grep -c libresetguard.so /proc/self/maps
	assert_success
	[[ $output -ge 1 ]] || fail "not mapped"
	run bash -c "nm -D --defined-only '$B/libresetguard.so' | awk '{ print \$3 }' | sort | diff - '$BATS_TEST_DIRNAME/../shim/exports.txt'"
	assert_success
}

@test "every lock the library can hold is in lock.c's one list, which the fork handlers take" {
	# fork() copies a lock held by another thread into a child that has no
	# such thread: a lock outside the list would hang forked children.
	local shim=$BATS_TEST_DIRNAME/../shim
	run grep -lE '\brg_lock_t\b|pthread_(mutex|spin|rwlock)_|\bsem_t\b' "$shim"/*.c "$shim"/*.h
	assert_output "$shim/lock.c"
}

@test "--version and --help" {
	run "$RG" --version
	assert_success
	assert_output --regexp '^resetguard [0-9]+\.[0-9]+\.[0-9]+$'
	run "$RG" --help
	assert_success
	assert_line --index 0 --partial "usage: resetguard"
}
