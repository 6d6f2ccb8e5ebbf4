#!/usr/bin/env bats
# Production logging: every sink end to end, JSON, rate limits, rotation,
# many writers on one file, connection context and the metrics file.

setup() {
	load helpers/common
	require python3
}

teardown() {
	stop_servers
}

# Starts a datagram listener on $1 (extra arguments passed on) and waits
# until it is bound; what it hears goes to $BATS_TEST_TMPDIR/heard.
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

@test "syslog: the local form of syslog(3) with the configured facility on the syslog socket" {
	local sock=$BATS_TEST_TMPDIR/log.sock
	start_listener "$sock"
	RESETGUARD_LOG=syslog RESETGUARD_SYSLOG_SOCKET=$sock RESETGUARD_SYSLOG_FACILITY=local3 \
		run --separate-stderr "$RG" "$PROBE" read
	assert_success
	assert_equal "$stderr" ""
	wait_server
	# local3 (19) * 8 + warning (4) = 156; no hostname, as glibc's syslog()
	run python3 -c 'import json, sys; [print(json.loads(l)) for l in open(sys.argv[1])]' "$BATS_TEST_TMPDIR/heard"
	assert_line --regexp '^<156>[A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} resetguard\[[0-9]+\]: ts=[^ ]+ level=warn event=reset errno=ECONNRESET op=read '
}

@test "syslog: RFC 5424 on request" {
	local sock=$BATS_TEST_TMPDIR/log.sock
	start_listener "$sock"
	RESETGUARD_LOG=syslog RESETGUARD_SYSLOG_SOCKET=$sock RESETGUARD_SYSLOG_FACILITY=local3 \
		RESETGUARD_SYSLOG_FORMAT=rfc5424 run --separate-stderr "$RG" "$PROBE" read
	assert_success
	assert_equal "$stderr" ""
	wait_server
	run python3 -c 'import json, sys; [print(json.loads(l)) for l in open(sys.argv[1])]' "$BATS_TEST_TMPDIR/heard"
	assert_line --regexp '^<156>1 [0-9T:.-]+Z [^ ]+ resetguard [0-9]+ reset - ts=[^ ]+ level=warn event=reset errno=ECONNRESET op=read '
}

@test "journal: native protocol fields, upper-cased, with MESSAGE, PRIORITY and ERRNO" {
	local sock=$BATS_TEST_TMPDIR/journal.sock
	start_listener "$sock"
	RESETGUARD_LOG=journal RESETGUARD_JOURNAL_SOCKET=$sock run "$RG" "$PROBE" -f unix -u "$BATS_TEST_TMPDIR/peer" read
	assert_success
	wait_server
	run python3 -c '
import json, sys
fields = dict(l.split("=", 1) for l in json.loads(open(sys.argv[1]).readline()).splitlines())
for k in ("PRIORITY", "ERRNO", "EVENT", "ERRNO_NAME", "OP", "PEER", "PEER_UID", "SYSLOG_IDENTIFIER"):
    print(k + "=" + fields[k])
print("MESSAGE " + fields["MESSAGE"][:26])' "$BATS_TEST_TMPDIR/heard"
	assert_success
	assert_line PRIORITY=4
	assert_line ERRNO=104
	assert_line EVENT=reset
	assert_line ERRNO_NAME=ECONNRESET
	assert_line OP=read
	assert_line "PEER=unix:$BATS_TEST_TMPDIR/peer.0"
	assert_line SYSLOG_IDENTIFIER=resetguard
	assert_line --regexp '^MESSAGE ts=[0-9-]+T'
}

@test "journal is the default when \$JOURNAL_STREAM names stderr" {
	local sock=$BATS_TEST_TMPDIR/journal.sock err=$BATS_TEST_TMPDIR/stderr
	start_listener "$sock"
	: >"$err"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$err") RESETGUARD_JOURNAL_SOCKET=$sock \
		"$RG" "$PROBE" read >/dev/null 2>"$err"
	wait_server
	[[ ! -s $err ]] || fail "wrote to stderr: $(cat "$err")"
	grep -q 'EVENT=reset' "$BATS_TEST_TMPDIR/heard"
}

@test "a syslog socket path too long for sun_path is not cut short to another socket's" {
	local dir sock
	dir=$(mktemp -d /tmp/rg-sock.XXXXXX)
	sock=$dir/
	while ((${#sock} < 107)); do sock+=s; done
	start_listener "$sock"
	RESETGUARD_LOG=syslog RESETGUARD_SYSLOG_SOCKET=$sock.longer \
		run --separate-stderr "$RG" "$PROBE" read
	wait_server
	rm -rf "$dir"
	assert_success
	# (musl's text for ENAMETOOLONG is "Filename too long".)
	assert_regex "${stderr_lines[0]}" "^resetguard: cannot reach RESETGUARD_LOG=syslog: File ?name too long; logging to stderr$"
	[[ ${stderr_lines[1]} =~ $LINE_RE ]] || fail "not a reset line: ${stderr_lines[1]}"
	[[ ! -s $BATS_TEST_TMPDIR/heard ]] || fail "sent to the cut path: $(cat "$BATS_TEST_TMPDIR/heard")"
}

@test "a log file path too long for PATH_MAX is not cut short to another file's" {
	local dir=$BATS_TEST_TMPDIR/logs long
	mkdir "$dir"
	long=$dir
	while ((${#long} < 4090)); do long+=/.; done
	RESETGUARD_LOG=$long/reset.log run --separate-stderr "$RG" "$PROBE" read
	assert_success
	# the value, copied at load, does not fit: said without it
	assert_equal "${stderr_lines[0]}" "resetguard: RESETGUARD_LOG is not stderr, syslog, journal, off or a path shorter than PATH_MAX; using stderr truncated=true"
	[[ ${stderr_lines[1]} =~ $LINE_RE ]] || fail "not a reset line: ${stderr_lines[1]}"
	run ls -A "$dir"
	assert_output ""
}

@test "a missing syslog socket: one line on stderr, then stderr" {
	RESETGUARD_LOG=syslog RESETGUARD_SYSLOG_SOCKET=$BATS_TEST_TMPDIR/nobody.sock \
		run --separate-stderr "$RG" "$PROBE" read
	assert_success
	assert_equal "${stderr_lines[0]}" "resetguard: cannot reach RESETGUARD_LOG=syslog: No such file or directory; logging to stderr"
	[[ ${stderr_lines[1]} =~ $LINE_RE ]] || fail "not a reset line: ${stderr_lines[1]}"
}

@test "a full syslog socket never blocks the program: records are dropped and counted" {
	local sock=$BATS_TEST_TMPDIR/log.sock dir=$BATS_TEST_TMPDIR/metrics
	mkdir "$dir"
	start_listener "$sock" --no-read
	RESETGUARD_LOG=syslog RESETGUARD_SYSLOG_SOCKET=$sock RESETGUARD_LOG_RATE=0 RESETGUARD_METRICS=$dir \
		run timeout 60 "$RG" "$PROBE" -r 3000 read
	assert_success
	assert_line alive
	run python3 "$HELPERS/prom_check.py" "$dir"/resetguard_resetprobe.prom
	assert_line --regexp '^resetguard_suppressed_lines_total\{\} [1-9][0-9]*$'
}

@test "JSON lines parse and carry the same facts as logfmt" {
	local path=$BATS_TEST_TMPDIR/$'q"=\n'
	RESETGUARD_LOG=$LOG.json RESETGUARD_LOG_FORMAT=json run "$RG" "$PROBE" -f unix -u "$path" read
	assert_success
	RESETGUARD_LOG=$LOG run "$RG" "$PROBE" -f unix -u "$path" read
	assert_success
	run python3 "$HELPERS/json_like_logfmt.py" "$LOG.json" "$LOG"
	assert_success
	assert_output "unix:$path.0"
}

@test "rate limit: 2000 resets in a burst, logged plus suppressed add up to 2000 exactly" {
	RESETGUARD_LOG=$LOG run "$RG" "$PROBE" -r 2000 read
	assert_success
	local logged suppressed
	logged=$(grep -c 'event=reset' "$LOG")
	suppressed=$(($(sed -n 's/.*event=suppressed .* count=\([0-9]*\)$/\1/p' "$LOG" | paste -sd+)))
	[[ $logged -ge 200 && $logged -lt 2000 ]] || fail "logged $logged"
	assert_equal "$((logged + suppressed))" 2000
}

@test "rotation: a file renamed mid-run, both files together hold every line" {
	RESETGUARD_LOG=$LOG RESETGUARD_LOG_RATE=0 "$RG" "$PROBE" -r 60 -i 50 read >/dev/null &
	local pid=$! i
	for i in $(seq 100); do [[ $(log_lines) -ge 10 ]] && break; sleep 0.05; done
	mv "$LOG" "$LOG.1"
	wait "$pid"
	[[ -s $LOG ]] || fail "no new file at the configured path"
	assert_equal "$(cat "$LOG" "$LOG.1" | grep -c 'event=reset')" 60
}

@test "rotation: a file removed mid-run is created again at the configured path" {
	RESETGUARD_LOG=$LOG RESETGUARD_LOG_RATE=0 "$RG" "$PROBE" -r 40 -i 50 read >/dev/null &
	local pid=$! i before
	for i in $(seq 100); do [[ $(log_lines) -ge 10 ]] && break; sleep 0.05; done
	before=$(log_lines)
	rm "$LOG"
	wait "$pid"
	[[ -s $LOG ]] || fail "no new file at the configured path"
	# At most a second's worth of records went to the removed file.
	[[ $((before + $(log_lines))) -ge 20 ]] || fail "lost too many records"
}

@test "log directory gone mid-run, 4 threads logging: one complaint, then stderr, no record lost" {
	local dir=$BATS_TEST_TMPDIR/logs i
	mkdir "$dir"
	RESETGUARD_LOG=$dir/reset.log RESETGUARD_LOG_RATE=0 "$RG" "$PROBE" -t 4 -r 30 -i 50 read \
		>/dev/null 2>"$BATS_TEST_TMPDIR/err" &
	local pid=$!
	for i in $(seq 100); do [[ $(cat "$dir/reset.log" 2>/dev/null | wc -l) -ge 10 ]] && break; sleep 0.05; done
	# The descriptor still writes to the moved file until the path is
	# checked again; then the file cannot be created anew.
	mv "$dir/reset.log" "$LOG"
	rmdir "$dir"
	wait "$pid"
	run grep -c "^resetguard: cannot open RESETGUARD_LOG=$dir/reset.log: No such file or directory; logging to stderr$" "$BATS_TEST_TMPDIR/err"
	assert_output 1
	[[ $(grep -c 'event=reset' "$BATS_TEST_TMPDIR/err") -gt 0 ]] || fail "nothing went to stderr"
	assert_equal "$(cat "$LOG" "$BATS_TEST_TMPDIR/err" | grep -c 'event=reset')" 120
}

@test "8 processes x 4 threads appending to one file: no torn or interleaved line" {
	local i pids=()
	for i in $(seq 8); do
		RESETGUARD_LOG=$LOG RESETGUARD_LOG_RATE=0 "$RG" "$PROBE" -t 4 -r 50 read >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	assert_equal "$(log_lines)" 1600
	assert_log_well_formed
}

@test "TCP context: conn_id, tcp_state, rtt_us, retrans, unacked, cookie, idle_ms" {
	RESETGUARD_LOG=$LOG run "$RG" "$PROBE" write write
	run cat "$LOG"
	assert_line --index 0 --regexp ' conn_id=[0-9]+ idle_ms=[0-9]+ tcp_state=CLOSE rtt_us=[0-9]+ retrans=[0-9]+ unacked=[0-9]+ cookie=[0-9]+$'
}

@test "info level: a start-up line with the effective settings, a summary at exit" {
	RESETGUARD_LOG_LEVEL=info RESETGUARD_LINGER_TIMEOUT=700ms RESETGUARD_LOG_FORMAT=json \
		RESETGUARD_LOG=$LOG run "$RG" "$PROBE" read
	run python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
print(lines[0]["event"], lines[0]["linger_timeout_ms"], lines[0]["log_format"], lines[0]["log_rate"])
print(lines[-1]["event"], lines[-1]["resets"])' "$LOG"
	assert_line --index 0 "start 700 json 20"
	assert_line --index 1 "summary 1"
}

@test "metrics: a textfile-collector file, written atomically, that a strict parser accepts" {
	local dir=$BATS_TEST_TMPDIR/metrics
	mkdir "$dir"
	RESETGUARD_METRICS=$dir RESETGUARD_LOG=off run "$RG" "$PROBE" -r 3 read write write
	assert_success
	local file=("$dir"/resetguard_resetprobe.prom)
	[[ -f ${file[0]} ]] || fail "no metrics file in $dir"
	run ls -A "$dir"
	assert_output "${file[0]##*/}"
	if command -v promtool >/dev/null; then
		promtool check metrics <"${file[0]}"
	fi
	run python3 "$HELPERS/prom_check.py" "${file[0]}"
	assert_success
	assert_line "resetguard_resets_total{} 3"
	assert_line "resetguard_pipes_total{} 6"
	assert_line "resetguard_graceful_closes_total{eof} 0"
}

@test "metrics: a directory too long for the file's name gets no file, and one line" {
	local dir=$BATS_TEST_TMPDIR/metrics long
	mkdir "$dir"
	long=$dir
	while ((${#long} < 4070)); do long+=/.; done
	RESETGUARD_METRICS=$long RESETGUARD_LOG=off run --separate-stderr "$RG" "$PROBE" -r 1 read
	assert_success
	assert_equal "${#stderr_lines[@]}" 1
	# the value itself is too long for the line, which says so
	assert_equal "${stderr_lines[0]}" "resetguard: RESETGUARD_METRICS is not a directory path short enough for the file's name; using no metrics file truncated=true"
	run ls -A "$dir"
	assert_output ""
}

@test "metrics are rewritten while the process runs" {
	local dir=$BATS_TEST_TMPDIR/metrics i
	mkdir "$dir"
	RESETGUARD_METRICS=$dir RESETGUARD_METRICS_INTERVAL=1s RESETGUARD_LOG=off \
		"$RG" "$PROBE" -r 40 -i 100 read >/dev/null &
	local pid=$!
	for i in $(seq 100); do
		compgen -G "$dir/*.prom" >/dev/null && grep -q 'resets_total.* [1-9]' "$dir"/*.prom && break
		sleep 0.05
	done
	kill -0 "$pid" || fail "the program ended before a periodic write was seen"
	grep -q 'resets_total.* [1-9]' "$dir"/*.prom
	wait "$pid"
}

@test "malformed logging settings: one line each, defaults used" {
	run --separate-stderr env RESETGUARD_LOG_FORMAT=xml RESETGUARD_LOG_RATE=fast \
		RESETGUARD_SYSLOG_FACILITY=local9 RESETGUARD_METRICS= "$RG" true
	assert_success
	assert_equal "${#stderr_lines[@]}" 4
	assert_equal "${stderr_lines[0]}" 'resetguard: RESETGUARD_LOG_FORMAT=xml is not logfmt or json; using logfmt'
}

@test "with metrics on, a program whose main() calls pthread_exit() still ends" {
	skip_under_sanitizer tsan "its own background thread is a thread of the program that never ends"
	local dir=$BATS_TEST_TMPDIR/metrics
	mkdir "$dir"
	RESETGUARD_METRICS=$dir WRAP="timeout 30 $RG" start_lingerserver -n 3 -m threads
	run_clients raw 3 100000
	wait_server
	assert_equal "$SERVER_STATUS" 0
	run python3 "$HELPERS/prom_check.py" "$dir"/resetguard_lingerserver.prom
	assert_line 'resetguard_graceful_closes_total{eof} 3'
}

@test "a record too long for one line is cut whole fields at a time, and says so" {
	# A program name and a peer path of control bytes, each escaped to six.
	local name path
	name=$(printf '\001%.0s' $(seq 250))
	path=$BATS_TEST_TMPDIR/$(printf '\002%.0s' $(seq 70))
	ln -s "$PROBE" "$BATS_TEST_TMPDIR/$name"
	RESETGUARD_LOG=$LOG run "$RG" "$BATS_TEST_TMPDIR/$name" -f unix -u "$path" write write read
	assert_success
	run python3 "$HELPERS/logfmt.py" truncated <"$LOG"
	assert_success
	assert_line '"true"'
	run awk '{ if (length($0) > 2048) print "long" }' "$LOG"
	assert_output ""
}
