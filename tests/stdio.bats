#!/usr/bin/env bats
# stdio on sockets: every glibc entry point that may write to a stream is
# wrapped or has a stated reason not to be, and the GNU tools, which write
# through the _unlocked family and __overflow, survive a reset stdout.

setup() {
	load helpers/common
	ONRESET=$B/tests/onreset
}

# The names libc.so.6 exports as functions.
libc_functions() {
	local libc
	libc=$(ldd "$PROBE" | awk '$1 == "libc.so.6" { print $3 }')
	[[ -f $libc ]] || fail "no libc.so.6 for $PROBE"
	nm -D --defined-only "$libc" | awk '$2 ~ /^[TWi]$/ { sub(/@.*/, "", $3); print $3 }' | LC_ALL=C sort -u
}

@test "every stdio entry point glibc exports is wrapped, or listed with the reason it needs none" {
	require nm
	local list=$BATS_TEST_DIRNAME/../shim/stdio-entry-points.txt
	local exports=$BATS_TEST_DIRNAME/../shim/exports.txt pattern candidates missing
	pattern=$(sed -n 's/^# pattern: //p' "$list")
	[[ -n $pattern ]] || fail "no '# pattern:' line in $list"
	candidates=$(libc_functions | grep -E -- "$pattern")
	# The pattern and nm really see glibc's stdio: not a vacuous pass.
	local name
	for name in fwrite_unlocked fputs_unlocked __overflow putc_unlocked fputwc vdprintf; do
		grep -qx "$name" <<<"$candidates" || fail "the pattern misses $name"
	done
	local listed
	listed=$(grep -v '^#' "$list" | cut -f1)
	run awk -F'\t' '!/^#/ && (NF != 2 || $2 == "") { print "no reason: " $0 }' "$list"
	assert_output ""
	missing=$(grep -vxFf "$exports" <<<"$candidates" | grep -vxF -e "$listed" || true)
	[[ -z $missing ]] || fail "neither wrapped (shim/exports.txt) nor listed in shim/stdio-entry-points.txt: $missing"
	run grep -xFf "$exports" <<<"$listed"
	assert_output ""
}

# $1 the status the tool exits with on a write error; the rest, the tool
# and its arguments.  Without resetguard the tool's first write to the
# reset socket kills it; with it, the tool sees EPIPE, says so, exits with
# its own status, and resetguard logs the EPIPE on stdout.
tool_survives() {
	local want=$1 tool=$2
	shift
	require "$tool"
	run "$ONRESET" "$@"
	assert_equal "$status" 141
	RESETGUARD_LOG=$LOG run "$ONRESET" "$RG" "$@"
	assert_equal "$status" "$want"
	assert_output --partial "Broken pipe"
	run grep -E "event=pipe errno=EPIPE op=[a-z_]+ fd=1 .* prog=$tool " "$LOG"
	assert_success
}

numbers() {
	seq 100000 >"$BATS_TEST_TMPDIR/numbers"
	echo "$BATS_TEST_TMPDIR/numbers"
}

@test "head writing to a reset socket: killed without, a write error with" {
	tool_survives 1 head -n 50000 "$(numbers)"
}

@test "tail writing to a reset socket" {
	tool_survives 1 tail -n 50000 "$(numbers)"
}

@test "seq writing to a reset socket" {
	tool_survives 1 seq 100000
}

@test "sed writing to a reset socket" {
	tool_survives 4 sed p "$(numbers)"
}

@test "grep writing to a reset socket" {
	tool_survives 2 grep 1 "$(numbers)"
}

# sort catches SIGPIPE itself, to remove its temporary files, and raises
# it again with the default action: a program's own handler gets its
# signal under resetguard too, so sort ends by SIGPIPE either way; but
# first resetguard logs the EPIPE (the write is kept from raising the
# signal until its record is out, then the thread gets the same signal
# the kernel would have sent).  With --sigpipe ignore, sort finds SIGPIPE
# ignored at start, installs no handler, and survives.
@test "sort writing to a reset socket: its own SIGPIPE handler still runs, as without, after the EPIPE is logged" {
	require sort strace
	run "$ONRESET" strace -f -e trace=none -e signal=SIGPIPE sort "$(numbers)"
	assert_equal "$status" 141
	local without=$output
	RESETGUARD_LOG=$LOG run "$ONRESET" strace -f -e trace=none -e signal=SIGPIPE "$RG" sort "$BATS_TEST_TMPDIR/numbers"
	assert_equal "$status" 141
	# The same signals, in the same order: the write's (SI_USER, from
	# itself), then the handler's own (by tgkill()).
	signals() { grep -o -- '--- SIGPIPE {si_signo=SIGPIPE, si_code=[A-Z_]*' <<<"$1"; }
	assert_equal "$(signals "$output")" "$(signals "$without")"
	assert_equal "$(signals "$output" | head -n1)" '--- SIGPIPE {si_signo=SIGPIPE, si_code=SI_USER'
	assert_line --regexp 'SIGPIPE \{si_signo=SIGPIPE, si_code=SI_TKILL'
	run grep -E "event=pipe errno=EPIPE op=[a-z_]+ fd=1 .* prog=sort " "$LOG"
	assert_success
	# --sigpipe ignore: no handler, a write error, sort's own status.
	RESETGUARD_LOG=$LOG run "$ONRESET" "$RG" --sigpipe ignore sort "$BATS_TEST_TMPDIR/numbers"
	assert_equal "$status" 2
	assert_output --partial "Broken pipe"
}

@test "tr writing to a reset socket" {
	numbers >/dev/null
	tool_survives 1 tr 0-9 a-j <"$BATS_TEST_TMPDIR/numbers"
}

@test "ls writing to a reset socket" {
	mkdir "$BATS_TEST_TMPDIR/dir"
	(cd "$BATS_TEST_TMPDIR/dir" && seq -f 'a-file-with-a-rather-long-name-%06g' 3000 | xargs touch)
	tool_survives 2 ls -1 "$BATS_TEST_TMPDIR/dir"
}
