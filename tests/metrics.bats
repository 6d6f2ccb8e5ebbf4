#!/usr/bin/env bats
# The metrics file as node_exporter's textfile collector wants it: one file
# per service (a fork family adds up its counts), named by a stable name,
# at most about a second behind the counters, even for a process killed by
# SIGTERM; checked with promtool and scraped by a real node_exporter.

load helpers/common

teardown() {
	stop_servers
	[[ -z ${EXPORTER_PID:-} ]] || kill "$EXPORTER_PID" 2>/dev/null || true
	[[ -z ${PROBE_PID:-} ]] || kill "$PROBE_PID" 2>/dev/null || true
}

# The value of series $2 in metrics file $1 ("" when absent).
series() {
	awk -v s="$2" '$1 == s { print $2 }' "$1" 2>/dev/null
}

# Waits (at most 5 s) until series $2 in file $1 reads $3.
wait_series() {
	local i
	for i in $(seq 100); do
		[[ $(series "$1" "$2") == "$3" ]] && return 0
		sleep 0.05
	done
	fail "$2 in $1 is not $3: $(cat "$1" 2>&1)"
}

# A fork-per-connection server (a child per connection, which answers and
# closes) under resetguard, after 100 connections; sets DIR.
forking_server_100() {
	# The server has a metrics thread when it forks (as in workers.bats).
	skip_under_sanitizer asan "its allocator's locks are copied held into children forked while threads run"
	DIR=$BATS_TEST_TMPDIR/metrics
	mkdir -p "$DIR"
	RESETGUARD_LOG=off RESETGUARD_METRICS=$DIR WRAP="$RG $*" start_lingerserver -n 100 -m fork
	run_clients raw 100 100000
	assert_equal "$RESETS" 0
	wait_server
	assert_equal "$SERVER_STATUS" 0
}

@test "a forking server, 100 connections: one file for the service, every child's graceful close counted in it" {
	forking_server_100
	# The last children's closes may be finished by resetguard's heir
	# processes, which write too when they are done.
	local f=$DIR/resetguard_lingerserver.prom
	wait_series "$f" 'resetguard_graceful_closes_total{name="lingerserver",outcome="eof"}' 100
	run ls -A "$DIR"
	assert_output resetguard_lingerserver.prom
	assert_equal "$(series "$f" 'resetguard_resets_total{name="lingerserver"}')" 0
	# last_update: Unix seconds of the last write, within the test's time.
	local now stamp
	now=$(date +%s)
	stamp=$(series "$f" 'resetguard_last_update_seconds{name="lingerserver"}')
	((stamp > now - 60 && stamp <= now)) || fail "last_update $stamp, now $now"
	run python3 "$HELPERS/prom_check.py" "$f"
	assert_success
	require promtool
	run promtool check metrics <"$f"
	assert_success
	assert_output ""
}

@test "tcpserver under resetguard, a handler exec'd per connection: the handlers' counts add up in one file of theirs" {
	require tcpserver
	skip_under_sanitizer asan "its allocator's locks are copied held into children forked while threads run"
	local dir=$BATS_TEST_TMPDIR/metrics ready=$BATS_TEST_TMPDIR/tcpserver.ready port
	mkdir "$dir" && mkfifo "$ready"
	port=$(free_port)
	RESETGUARD_LOG=off RESETGUARD_METRICS=$dir \
		"$RG" tcpserver -v -RHl0 127.0.0.1 "$port" "$B/tests/inetd-answer" >/dev/null 2>"$ready" 3>&- &
	SERVER_PID=$!
	exec 4<"$ready"
	read -r -t 20 _ <&4 || fail "tcpserver did not start"
	cat <&4 >/dev/null 3>&- &
	exec 4<&-
	SERVER_PORT=$port run_clients raw 20 100000
	assert_equal "$RESETS" 0
	# 20 processes, each a program of its own that answered and exited
	# with the request unread: one family, one count.
	wait_series "$dir/resetguard_inetd-answer.prom" \
		'resetguard_graceful_closes_total{name="inetd-answer",outcome="eof"}' 20
	run ls -A "$dir"
	assert_output "resetguard_inetd-answer.prom
resetguard_tcpserver.prom"
}

@test "--metrics-name names the file and the label; a bad name is refused by the command and replaced by the library" {
	forking_server_100 --metrics-name web-1.front
	local f=$DIR/resetguard_web-1.front.prom
	wait_series "$f" 'resetguard_graceful_closes_total{name="web-1.front",outcome="eof"}' 100
	run ls -A "$DIR"
	assert_output resetguard_web-1.front.prom
	run "$RG" --metrics-name 'a b' true
	assert_failure 125
	assert_output --partial "invalid value for --metrics-name"
	RESETGUARD_METRICS=$DIR RESETGUARD_METRICS_NAME='../x' run --separate-stderr "$RG" true
	assert_success
	assert_equal "${stderr_lines[0]}" "resetguard: RESETGUARD_METRICS_NAME=../x is not a name of 1 to 63 letters, digits, '.', '_' or '-'; using the program's name"
	[[ -e $DIR/resetguard_true.prom ]] || fail "no file under the program's name: $(ls "$DIR")"
}

@test "a process killed by SIGTERM: its file is at most about a second behind the resets it met" {
	local dir=$BATS_TEST_TMPDIR/metrics i met=0 shown
	mkdir "$dir"
	# A reset every 50 ms, each logged: the log says how many there were.
	RESETGUARD_LOG=$LOG RESETGUARD_LOG_RATE=0 RESETGUARD_METRICS=$dir \
		"$RG" "$PROBE" -r 100000 -i 50 read >/dev/null 2>&1 &
	PROBE_PID=$!
	# Long enough that the default interval (15 s) would show nothing.
	for i in $(seq 200); do
		met=$(grep -c 'event=reset' "$LOG" 2>/dev/null) || true
		((met >= 60)) && break
		sleep 0.05
	done
	((met >= 60)) || fail "only $met resets met"
	kill -TERM "$PROBE_PID"
	wait "$PROBE_PID" || true
	PROBE_PID=
	met=$(grep -c 'event=reset' "$LOG")
	# Whatever the file is named and labelled: only its count matters here.
	shown=$(cat "$dir"/*.prom | awk '/^resetguard_resets_total\{/ { print $2 }')
	# A second of resets is 20; allow a second more for a busy machine (the
	# default interval would show the one write at start: 0 or 1).
	((shown <= met && shown >= met - 40)) || fail "file shows $shown resets, the process met $met"
}

# The file looks at the listeners a process still holds; one whose drops
# only its last look finds (at its close, before the file's first look a
# second after the start) must reach it all the same.
@test "a listener closed before the file first looked at it: its drops are in the file, as in its record" {
	require python3
	local dir=$BATS_TEST_TMPDIR/metrics
	mkdir -p "$dir"
	run env RESETGUARD_LOG="$LOG" "$RG" --metrics "$dir" python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
port = s.getsockname()[1]
clients = []
for i in range(20):  # non-blocking: the SYNs a full queue drops are not waited for
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", port))
    clients.append(c)
s.close()
print(port)'
	assert_success
	local port=$output total
	total=$(grep -oE 'event=listen_overflow .* drops_total=[0-9]+' "$LOG" | grep -o 'drops_total=[0-9]*' | tail -1 | cut -d= -f2)
	[[ -n $total ]] || fail "no overflow recorded: $(cat "$LOG")"
	run grep -h '^resetguard_listen_drops_total' "$dir"/resetguard_python3*.prom
	assert_output --regexp "^resetguard_listen_drops_total\{name=\"python3[.0-9]*\",local=\"127\.0\.0\.1:$port\"\} $total\$"
}

@test "node_exporter's textfile collector scrapes the service's file: the series, one per outcome, no error" {
	require prometheus-node-exporter
	forking_server_100
	local f=$DIR/resetguard_lingerserver.prom port
	wait_series "$f" 'resetguard_graceful_closes_total{name="lingerserver",outcome="eof"}' 100
	port=$(free_port)
	prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$DIR" \
		>"$BATS_TEST_TMPDIR/exporter.log" 2>&1 &
	EXPORTER_PID=$!
	wait_port "$port"
	run curl -sS "http://127.0.0.1:$port/metrics"
	assert_success
	assert_line 'resetguard_graceful_closes_total{name="lingerserver",outcome="eof"} 100'
	assert_line 'resetguard_graceful_closes_total{name="lingerserver",outcome="timeout"} 0'
	assert_line 'resetguard_resets_total{name="lingerserver"} 0'
	assert_line --regexp '^resetguard_last_update_seconds\{name="lingerserver"\} [0-9.e+]+$'
	assert_line 'node_textfile_scrape_error 0'
	# One series per counter and outcome: no pid label anywhere.
	[[ $(grep -c '^resetguard_graceful_closes_total{' <<<"$output") == 5 ]] || fail "$output"
	refute_line --partial 'pid="'
}
