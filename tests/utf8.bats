#!/usr/bin/env bats
# Text in records survives the pipeline: a program name (argv[0]) and a
# Unix socket path that hold UTF-8 (é), a byte that is not UTF-8, control
# characters and a backslash of their own are read back byte for byte by
# standard decoders: go-logfmt (Debian's golang-github-go-logfmt-logfmt-dev)
# for logfmt, jq for JSON, then the one rule of resetguard(7): \xNN is the
# byte NN, every other backslash is itself.

setup() {
	load helpers/common
	require python3 jq go
	# é, a byte that is not UTF-8, a C0 and a C1 control character, and a
	# backslash of the name's own before an x
	NAME=$'r\xc3\xa9\xff\x01\xc2\x85\\x41s'
	DIR=$BATS_TEST_TMPDIR/$'d\xc3\xa9\xfe'
	mkdir "$DIR"
}

teardown() {
	stop_servers
}

# go-logfmt's decoder, built once per run of this file.
logfmt_decoder() {
	DECODER=$BATS_FILE_TMPDIR/logfmt-decode
	[[ -x $DECODER ]] && return
	[[ -d /usr/share/gocode/src/github.com/go-logfmt/logfmt ]] ||
		fail "golang-github-go-logfmt-logfmt-dev is required"
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$BATS_FILE_TMPDIR/gocache \
		go build -o "$DECODER" "$HELPERS/logfmt_decode.go"
}

# The probe, named $NAME, meets a reset on a Unix socket in $DIR, with the
# library preloaded and the settings from the environment.
probe_named() {
	run --separate-stderr env LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so" \
		bash -c 'exec -a "$0" "$1" -f unix -u "$2/peer" read' "$NAME" "$PROBE" "$DIR"
	assert_success
}

# Reads JSON objects (one a line, as a decoder printed them) on stdin and
# checks prog and peer against $NAME and $DIR byte for byte, after the
# \xNN rule; prints "prog ok" and "peer ok".
check_round_trip() {
	python3 -c '
import json, os, re, sys
name, path = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2]) + b"/peer.0"
def original(text):
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))
for line in sys.stdin:
    r = json.loads(line)
    if r.get("event") != "reset":
        continue
    for key, want in (("prog", name), ("peer", b"unix:" + path)):
        got = original(r[key])
        print(key, "ok" if got == want else "differs: %r (read %r) is not %r" % (got, r[key], want))' "$NAME" "$DIR"
}

@test "logfmt: a name and a socket path in UTF-8 with bytes that are not, decoded by go-logfmt, read back byte for byte" {
	logfmt_decoder
	RESETGUARD_LOG=$LOG probe_named
	# é as it is, never \u00c3\u00a9; the line itself UTF-8
	grep -q $'prog="r\xc3\xa9' "$LOG" || fail "é is not in the record as it is: $(cat "$LOG")"
	iconv -f UTF-8 -t UTF-8 "$LOG" >/dev/null || fail "the record is not UTF-8"
	run bash -c '"$1" <"$2"' _ "$DECODER" "$LOG"
	assert_success
	run check_round_trip <<<"$output"
	assert_output $'prog ok\npeer ok'
	# the project's strict reader agrees
	run python3 "$HELPERS/logfmt.py" <"$LOG"
	assert_success
}

@test "JSON: the same name and path, parsed by jq, read back byte for byte" {
	RESETGUARD_LOG=$LOG RESETGUARD_LOG_FORMAT=json probe_named
	grep -q $'"prog":"r\xc3\xa9' "$LOG" || fail "é is not in the record as it is: $(cat "$LOG")"
	run jq -c '{event, prog, peer}' "$LOG"
	assert_success
	run check_round_trip <<<"$output"
	assert_output $'prog ok\npeer ok'
}

@test "journal: fields and MESSAGE carry UTF-8 as it is, the other bytes as in logfmt" {
	local sock=$BATS_TEST_TMPDIR/journal.sock ready=$BATS_TEST_TMPDIR/ready
	NAME=$'r\xc3\xa9s'
	mkfifo "$ready"
	python3 "$HELPERS/dgram_listener.py" "$sock" >"$ready" 3>&- &
	SERVER_PID=$!
	exec 4<"$ready"
	read -r -t 20 _ <&4 || fail "listener did not start"
	RESETGUARD_LOG=journal RESETGUARD_JOURNAL_SOCKET=$sock probe_named
	run python3 -c '
import json, sys
for line in sys.stdin:
    fields = dict(l.split("=", 1) for l in json.loads(line).splitlines())
    if fields.get("EVENT") == "reset":
        print(fields["PROG"], fields["PEER"], " prog=\"" + fields["PROG"] + "\"" in fields["MESSAGE"])' <&4
	exec 4<&-
	# a field holds the text of a quoted logfmt value, without the quotes
	assert_output "r"$'\xc3\xa9'"s unix:$BATS_TEST_TMPDIR/d"$'\xc3\xa9'"\\\\xfe/peer.0 True"
}
