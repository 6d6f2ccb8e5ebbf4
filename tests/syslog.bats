#!/usr/bin/env bats
# --log syslog against a real rsyslog, started here on private sockets:
# its stock local-socket input (imuxsock with its special parser, as on
# /dev/log) takes the traditional local form glibc's syslog() and logger
# send, which is resetguard's default; an input with rsyslog's regular
# parsers takes RFC 5424, sent on request.  Each record is checked field
# by field as rsyslog stored it, against what logger sends.

setup() {
	load helpers/common
	require python3 rsyslogd logger
}

teardown() {
	[[ ! -s $BATS_TEST_TMPDIR/rsyslog.pid ]] || kill "$(cat "$BATS_TEST_TMPDIR/rsyslog.pid")" 2>/dev/null || true
	stop_servers
}

# rsyslogd in the foreground with two inputs: $LOCAL_SOCK as /dev/log is
# configured (the message's own time kept, so it can be checked) and
# $RFC_SOCK with the RFC 5424 parser; each record one line in $STORED,
# its fields separated by |, the message last.
start_rsyslog() {
	local conf=$BATS_TEST_TMPDIR/rsyslog.conf i
	LOCAL_SOCK=$BATS_TEST_TMPDIR/log.sock
	RFC_SOCK=$BATS_TEST_TMPDIR/rfc5424.sock
	STORED=$BATS_TEST_TMPDIR/stored.log
	cat >"$conf" <<-EOF
		global(workDirectory="$BATS_TEST_TMPDIR")
		module(load="imuxsock" SysSock.Use="off")
		template(name="fields" type="string"
		         string="%programname%|%syslogtag%|%procid%|%msgid%|%pri%|%syslogfacility-text%|%syslogseverity-text%|%timereported%|%hostname%|%msg%\n")
		ruleset(name="store") { action(type="omfile" file="$STORED" template="fields") }
		input(type="imuxsock" Socket="$LOCAL_SOCK" IgnoreTimestamp="off" UseSysTimeStamp="off" ruleset="store")
		input(type="imuxsock" Socket="$RFC_SOCK" UseSpecialParser="off" ParseHostname="on" ruleset="store")
	EOF
	rsyslogd -n -f "$conf" -i "$BATS_TEST_TMPDIR/rsyslog.pid" 2>"$BATS_TEST_TMPDIR/rsyslog.err" &
	for ((i = 0; i < 400; i++)); do
		[[ -S $LOCAL_SOCK && -S $RFC_SOCK ]] && return
		sleep 0.05
	done
	cat "$BATS_TEST_TMPDIR/rsyslog.err" >&2
	fail "rsyslogd did not create its sockets"
}

# Waits (at most 20 s) until $STORED has a line matching the regexp $1,
# then puts the first such line's fields in FIELDS (an array).
stored_line() {
	local i line
	for ((i = 0; i < 400; i++)); do
		line=$(grep -a -m1 -E -e "$1" "$STORED" 2>/dev/null) && break
		sleep 0.05
	done
	[[ -n $line ]] || fail "rsyslog stored no line matching $1: $(cat "$STORED" 2>/dev/null)"
	IFS='|' read -r -a FIELDS <<<"$line"
}

# The probe with the library preloaded and its name (argv[0]) set to $1,
# the settings from the environment; PROG_PID is its pid.
run_probe_named() {
	run --separate-stderr env LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so" \
		bash -c 'echo "pid=$$"; exec -a "$0" "$1" read' "$1" "$PROBE"
	assert_success
	PROG_PID=${lines[0]#pid=}
}

@test "syslog: the local form by default, stored by rsyslog's /dev/log input field by field as logger's" {
	local name=$'pr\xc3\xa9b\xffe' before after
	start_rsyslog
	before=$(TZ=Asia/Tokyo date '+%b %e %H:%M')
	RESETGUARD_LOG=syslog RESETGUARD_SYSLOG_SOCKET=$LOCAL_SOCK RESETGUARD_SYSLOG_FACILITY=local3 \
		TZ=Asia/Tokyo run_probe_named "$name"
	assert_equal "$stderr" ""
	TZ=Asia/Tokyo logger -u "$LOCAL_SOCK" -t resetguard --id=4242 -p local3.warning 'ts=x level=warn event=reference prog="pr\u00e9b"'
	after=$(TZ=Asia/Tokyo date '+%b %e %H:%M')

	# logger's line, the reference: the same tag, pid, facility, severity
	stored_line '\|4242\|'
	assert_equal "${FIELDS[0]}|${FIELDS[1]}|${FIELDS[2]}|${FIELDS[4]}|${FIELDS[5]}|${FIELDS[6]}" \
		"resetguard|resetguard[4242]:|4242|156|local3|warning"

	stored_line "\\|$PROG_PID\\|"
	assert_equal "${FIELDS[0]}" resetguard # %programname%
	assert_equal "${FIELDS[1]}" "resetguard[$PROG_PID]:" # %syslogtag%
	assert_equal "${FIELDS[2]}" "$PROG_PID" # %procid%
	assert_equal "${FIELDS[4]}" 156 # %pri%: local3 (19) * 8 + warning (4)
	assert_equal "${FIELDS[5]}" local3
	assert_equal "${FIELDS[6]}" warning
	# the time the record was sent, in the program's zone, as syslog(3) writes it
	[[ ${FIELDS[7]} == "$before":?? || ${FIELDS[7]} == "$after":?? ]] ||
		fail "time reported ${FIELDS[7]}, local time $before"
	# the message intact: the record as logfmt, the program's name in it
	# (é as it is, the byte that is not UTF-8 as the text \xff)
	run python3 "$HELPERS/logfmt.py" <<<"${FIELDS[9]# }"
	assert_success
	run python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["event"], r["errno"], r["pid"], r["prog"])' "$output"
	assert_output "reset ECONNRESET $PROG_PID pr"$'\xc3\xa9'"b\\xffe"
}

@test "syslog: RFC 5424 on request (--syslog-format rfc5424), stored by rsyslog's RFC 5424 parser as logger's" {
	start_rsyslog
	RESETGUARD_SYSLOG_SOCKET=$RFC_SOCK run --separate-stderr bash -c 'echo "pid=$$"; exec "$@"' _ \
		"$RG" --log syslog --syslog-format rfc5424 --syslog-facility local3 "$PROBE" read
	assert_success
	assert_equal "$stderr" ""
	PROG_PID=${lines[0]#pid=}
	logger --rfc5424 -u "$RFC_SOCK" -t resetguard --id=4242 -p local3.warning --msgid reset 'reference'

	stored_line '\|4242\|'
	assert_equal "${FIELDS[0]}|${FIELDS[1]}|${FIELDS[2]}|${FIELDS[3]}|${FIELDS[4]}|${FIELDS[5]}|${FIELDS[6]}" \
		"resetguard|resetguard[4242]|4242|reset|156|local3|warning"

	stored_line "\\|$PROG_PID\\|"
	assert_equal "${FIELDS[0]}" resetguard
	assert_equal "${FIELDS[1]}" "resetguard[$PROG_PID]"
	assert_equal "${FIELDS[2]}" "$PROG_PID"
	assert_equal "${FIELDS[3]}" reset # %msgid%: the event
	assert_equal "${FIELDS[4]}" 156
	assert_equal "${FIELDS[5]}" local3
	assert_equal "${FIELDS[6]}" warning
	assert_equal "${FIELDS[8]}" "$(hostname)"
	run python3 "$HELPERS/logfmt.py" <<<"${FIELDS[9]}"
	assert_success
	run python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["event"], r["pid"], r["prog"])' "$output"
	assert_output "reset $PROG_PID resetprobe"
}

@test "syslog as the fallback (stderr a socket): a complaint and the records reach rsyslog in the local form" {
	start_rsyslog
	# stderr is one end of a socket pair, as an inetd service's is: no
	# place for resetguard's lines, which go to syslog instead
	RESETGUARD_SYSLOG_SOCKET=$LOCAL_SOCK RESETGUARD_SIGPIPE=bogus run --separate-stderr python3 -c '
import os, socket, sys
a, b = socket.socketpair()
os.dup2(a.fileno(), 2)
print("pid=%d" % os.getpid(), flush=True)
os.execv(sys.argv[1], sys.argv[1:])' "$RG" --level info "$PROBE" read
	assert_success
	PROG_PID=${lines[0]#pid=}

	stored_line "\\|$PROG_PID\\|.*resetguard: RESETGUARD_SIGPIPE="
	assert_equal "${FIELDS[0]}|${FIELDS[1]}|${FIELDS[2]}|${FIELDS[5]}|${FIELDS[6]}" \
		"resetguard|resetguard[$PROG_PID]:|$PROG_PID|daemon|warning"
	assert_equal "${FIELDS[9]}" ' resetguard: RESETGUARD_SIGPIPE=bogus is not socket, ignore or off; using socket'
	stored_line "\\|$PROG_PID\\|.* event=start "
	assert_equal "${FIELDS[0]}|${FIELDS[1]}|${FIELDS[6]}" "resetguard|resetguard[$PROG_PID]:|info"
	stored_line "\\|$PROG_PID\\|.* event=reset "
	assert_equal "${FIELDS[0]}|${FIELDS[1]}|${FIELDS[6]}" "resetguard|resetguard[$PROG_PID]:|warning"
}

@test "--syslog-format takes local or rfc5424; RESETGUARD_SYSLOG_FORMAT otherwise says so once and uses local" {
	run --separate-stderr "$RG" --syslog-format bsd true
	assert_failure 125
	RESETGUARD_SYSLOG_FORMAT=bsd run --separate-stderr "$RG" true
	assert_success
	assert_equal "$stderr" 'resetguard: RESETGUARD_SYSLOG_FORMAT=bsd is not local or rfc5424; using local'
}
