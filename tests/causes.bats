#!/usr/bin/env bats
# Resets at their causes (resetguard(7), RESETS YOU NEVER SEE): a full
# accept queue, reported per listener with the drops the kernel counted;
# the backlog floor; keepalive, which finds a peer that went silent; the
# program's own keepalive left alone.  Each with and without resetguard.
#
# Where the kernel's system-wide counters or a cut link are involved, the
# test runs in a network namespace of its own (unshare -n), so that other
# programs' connections on the machine touch neither.

setup() {
	load helpers/common
	CAUSES=$HELPERS/causes.py
	# The Debian server: http.server calls listen(5) (socketserver's
	# request_queue_size).
	PY=/usr/bin/python3
	[[ -x $PY ]] || PY=$(command -v python3)
	NS_PID=
}

teardown() {
	stop_servers
	local pid
	for pid in ${CLIENT_PIDS:-}; do
		kill "$pid" 2>/dev/null || true
	done
	if [[ -n $NS_PID ]]; then
		kill "$NS_PID" 2>/dev/null || true
		wait "$NS_PID" 2>/dev/null || true
	fi
}

# A network namespace of the test's own, its loopback up, held by a
# sleeping process; "${NS[@]}" CMD runs CMD in it.  Where none can be made
# (no privilege), the test is skipped, or fails under
# RESETGUARD_TEST_REQUIRE_ALL=1.
make_netns() {
	require unshare nsenter ip
	local i here
	here=$(readlink /proc/self/ns/net)
	unshare -n sleep 600 3>&- 2>/dev/null &
	NS_PID=$!
	for i in $(seq 200); do
		kill -0 "$NS_PID" 2>/dev/null || break
		[[ $(readlink "/proc/$NS_PID/ns/net" 2>/dev/null) != "$here" ]] && break
		sleep 0.01
	done
	if ! kill -0 "$NS_PID" 2>/dev/null; then
		NS_PID=
		[[ ${RESETGUARD_TEST_REQUIRE_ALL:-} == 1 ]] && fail "cannot make a network namespace (unshare -n)"
		skip "cannot make a network namespace (unshare -n)"
	fi
	NS=(nsenter -t "$NS_PID" -n)
	"${NS[@]}" ip link set lo up
}

# Waits until something listens on 127.0.0.1:$1 in the namespace, without
# connecting to it (a connection would be counted); prints nothing.
wait_ns_listen() {
	local i
	for i in $(seq 400); do
		[[ -n $("${NS[@]}" ss -ltnH "sport = :$1") ]] && return 0
		sleep 0.025
	done
	fail "nothing listens on port $1 in the namespace"
}

# The namespace's count of handshakes its listeners dropped.
ns_listen_drops() {
	"${NS[@]}" nstat -asz TcpExtListenDrops | awk '$1 == "TcpExtListenDrops" { print $2 }'
}

# http.server on 127.0.0.1:8000 in the namespace (every port is free
# there), run by "$@" before it: stopped (SIGSTOP) while a burst of 200
# clients connects, let go, left to accept what its queue holds, then
# ended with SIGINT, which it handles by closing its listener and exiting.
burst_http_server() {
	local pid i
	"${NS[@]}" env --default-signal=INT "$@" "$PY" -m http.server --bind 127.0.0.1 8000 \
		>/dev/null 2>&1 3>&- &
	pid=$!
	SERVER_PID=$pid
	wait_ns_listen 8000
	kill -STOP "$pid"
	run "${NS[@]}" python3 "$CAUSES" burst 127.0.0.1 8000 200
	assert_success
	kill -CONT "$pid"
	for i in $(seq 200); do
		[[ $("${NS[@]}" ss -ltnH "sport = :8000" | awk '{ print $2 }') == 0 ]] && break
		sleep 0.025
	done
	kill -INT "$pid"
	wait "$pid"
	SERVER_PID=
}

@test "a full accept queue: http.server (listen 5), 200 connects: resetguard reports the drops the kernel counted; without it, nobody does" {
	require nstat ss
	make_netns
	local kernel reported total
	mkdir "$BATS_TEST_TMPDIR/metrics"
	burst_http_server env RESETGUARD_LOG="$LOG" "$RG" --metrics "$BATS_TEST_TMPDIR/metrics"
	kernel=$(ns_listen_drops)
	((kernel > 0)) || fail "the burst overflowed nothing: $kernel"
	run grep -c 'event=listen_overflow' "$LOG"
	assert_success
	run grep -vE '^ts=\S+ level=warn event=listen_overflow fd=[0-9]+ local=127\.0\.0\.1:8000 prog=python3[.0-9]* pid=[0-9]+ backlog=5 backlog_max=5 queue=[0-9]+ drops=[1-9][0-9]* drops_total=[0-9]+$' "$LOG"
	assert_output ""
	reported=$(grep -oE ' drops=[0-9]+' "$LOG" | awk -F= '{ n += $2 } END { print n + 0 }')
	total=$(grep -oE 'drops_total=[0-9]+' "$LOG" | tail -1 | cut -d= -f2)
	echo "kernel ListenDrops=$kernel reported=$reported ($(grep -c . "$LOG") records)" >&3
	assert_equal "$reported" "$kernel"
	assert_equal "$total" "$kernel"
	# The metrics file has the same total, labelled by the listener's address.
	local prom=("$BATS_TEST_TMPDIR"/metrics/resetguard_python3*.prom) name
	name=${prom[0]##*/resetguard_}
	run grep '^resetguard_listen_drops_total' "${prom[0]}"
	assert_output "resetguard_listen_drops_total{name=\"${name%.prom}\",local=\"127.0.0.1:8000\"} $kernel"
	require promtool
	promtool check metrics <"${prom[0]}"

	# Without resetguard the kernel counts as many again, and nothing says
	# which listener dropped them.
	rm -f "$LOG"
	burst_http_server env
	(($(ns_listen_drops) > kernel)) || fail "the second burst overflowed nothing"
	[[ ! -e $LOG ]]
}

@test "a prefork family reports each drop once, whichever worker looks" {
	require nstat ss
	make_netns
	local ready=$BATS_TEST_TMPDIR/ready word pids pid kernel reported
	mkfifo "$ready"
	"${NS[@]}" env RESETGUARD_LOG="$LOG" "$RG" python3 "$CAUSES" prefork 8000 3 >"$ready" 3>&- &
	SERVER_PID=$!
	read -r -t 20 word pids <"$ready" || fail "prefork server did not start"
	kill -STOP "$SERVER_PID" $pids
	run "${NS[@]}" python3 "$CAUSES" burst 127.0.0.1 8000 100
	assert_success
	kill -CONT "$SERVER_PID" $pids
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID"
	SERVER_PID=
	kernel=$(ns_listen_drops)
	((kernel > 0)) || fail "the burst overflowed nothing"
	reported=$(grep -oE ' drops=[0-9]+' "$LOG" | awk -F= '{ n += $2 } END { print n + 0 }')
	assert_equal "$reported" "$kernel"
	# Each record's total is a new one: no two processes reported the same drops.
	run bash -c "grep -oE 'drops_total=[0-9]+' '$LOG' | sort | uniq -d"
	assert_output ""
}

@test "RESETGUARD_BACKLOG=256 raises http.server's listen(5) to 256 (ss Send-Q), one info record; without, 5" {
	require ss
	local port somaxconn
	port=$(free_port)
	RESETGUARD_LOG=$LOG RESETGUARD_LOG_LEVEL=info RESETGUARD_BACKLOG=256 \
		start_server "$RG" "$PY" -m http.server --bind 127.0.0.1 "$port"
	wait_port "$port"
	run ss -ltnH "sport = :$port"
	assert_output --regexp "^LISTEN +[0-9]+ +256 "
	run grep -c 'event=backlog' "$LOG"
	assert_output 1
	grep -qE "level=info event=backlog fd=[0-9]+ local=127\.0\.0\.1:$port prog=python3[.0-9]* pid=[0-9]+ asked=5 set=256 backlog_max=256$" "$LOG"
	stop_servers

	port=$(free_port)
	start_server "$PY" -m http.server --bind 127.0.0.1 "$port"
	wait_port "$port"
	run ss -ltnH "sport = :$port"
	assert_output --regexp "^LISTEN +[0-9]+ +5 "
	stop_servers

	# The kernel caps it at somaxconn; the record says so.
	somaxconn=$(cat /proc/sys/net/core/somaxconn)
	port=$(free_port)
	rm -f "$LOG"
	start_server "$RG" --log "$LOG" --level info --backlog 65535 "$PY" -m http.server --bind 127.0.0.1 "$port"
	wait_port "$port"
	run ss -ltnH "sport = :$port"
	assert_output --regexp "^LISTEN +[0-9]+ +$somaxconn "
	grep -qE " asked=5 set=65535 backlog_max=$somaxconn$" "$LOG"
}

# Starts "$@" (a causes.py server) with its output on fd 4 and waits for
# its first line; SERVER_PID is its pid.
start_causes_server() {
	local ready=$BATS_TEST_TMPDIR/ready word
	rm -f "$ready"
	mkfifo "$ready"
	"$@" >"$ready" 3>&- &
	SERVER_PID=$!
	exec 4<"$ready"
	read -r -t 20 word <&4 || fail "server did not start"
}

# The keepalive client of causes.py in the namespace, run by "$@" before
# it, connected to the namespace's server; its output goes to $1.out, its
# stdin is the fifo $1.in (a line there lets it block in recv).
start_ka_client() {
	local name=$1
	shift
	mkfifo "$BATS_TEST_TMPDIR/$name.in"
	"${NS[@]}" "$@" python3 "$CAUSES" client 127.0.0.1 8000 \
		<"$BATS_TEST_TMPDIR/$name.in" >"$BATS_TEST_TMPDIR/$name.out" 3>&- &
	CLIENT_PIDS+=" $!"
	exec {fd}>"$BATS_TEST_TMPDIR/$name.in"
	eval "${name}_FD=$fd ${name}_PID=$!"
	wait_file_line "$BATS_TEST_TMPDIR/$name.out" connected
}

wait_file_line() {
	local i
	for i in $(seq 400); do
		grep -q "^$2" "$1" 2>/dev/null && return 0
		sleep 0.025
	done
	fail "no '$2' line in $1"
}

@test "keepalive 1,1,2: a peer gone silent is found within 1 + 1 x 2 s (ETIMEDOUT, cause=keepalive); without, recv still waits" {
	require ss
	make_netns
	local word start elapsed
	start_causes_server "${NS[@]}" python3 "$CAUSES" server 8000
	CLIENT_PIDS=
	start_ka_client with env RESETGUARD_LOG="$LOG" RESETGUARD_ERRORS=all RESETGUARD_KEEPALIVE=1,1,2 "$RG"
	read -r -t 20 word <&4 || fail "server did not accept"
	# The server accepts one connection; the second client's waits in its
	# queue, which is as connected as the first for the client.
	start_ka_client without env
	echo go >&"$with_FD"
	echo go >&"$without_FD"
	# The peer goes silent: loopback down, nothing answers any more.
	"${NS[@]}" ip link set lo down
	start=$(date +%s%N)
	while kill -0 "$with_PID" 2>/dev/null && (($(date +%s%N) - start < 8000000000)); do
		sleep 0.02
	done
	elapsed=$((($(date +%s%N) - start) / 1000000))
	kill -0 "$with_PID" 2>/dev/null && fail "still waiting in recv $elapsed ms after the cut"
	wait "$with_PID" || true
	run cat "$BATS_TEST_TMPDIR/with.out"
	assert_line --index 0 "connected 1 1 1 2"
	assert_line --index 1 --regexp "^error ETIMEDOUT [0-9.]+$"
	echo "time to detect: ${elapsed} ms after the cut; recv took ${lines[1]##* } s" >&3
	grep -qE 'level=warn event=error errno=ETIMEDOUT op=recv .* tcp_state=CLOSE .* cause=keepalive$' "$LOG"
	# Without: twice the bound later, still waiting in recv.
	while (($(date +%s%N) - start < 6000000000)); do sleep 0.1; done
	kill -0 "$without_PID" || fail "the client without keepalive ended: $(cat "$BATS_TEST_TMPDIR/without.out")"
	run cat "$BATS_TEST_TMPDIR/without.out"
	assert_output --regexp "^connected 0 [0-9]+ [0-9]+ [0-9]+$"
}

@test "keepalive: accepted connections get it from the listener, outgoing ones before connect; a program's own keepalive is left alone" {
	local port word idle wrap client server want want_c want_s
	local idle_d intvl_d cnt_d
	idle_d=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)
	intvl_d=$(cat /proc/sys/net/ipv4/tcp_keepalive_intvl)
	cnt_d=$(cat /proc/sys/net/ipv4/tcp_keepalive_probes)
	for idle in "" 600; do
		for wrap in "" "$RG"; do
			port=$(free_port)
			start_causes_server env RESETGUARD_KEEPALIVE=30,5,3 $wrap python3 "$CAUSES" server "$port" $idle
			run env RESETGUARD_KEEPALIVE=30,5,3 $wrap python3 "$CAUSES" client 127.0.0.1 "$port" $idle </dev/null
			assert_success
			client=${lines[0]}
			read -r -t 20 word server <&4 || fail "server did not accept"
			server="$word $server"
			exec 4<&-
			stop_servers
			SERVER_PID=
			ka="$idle_d $intvl_d $cnt_d"
			case ${idle:-none},${wrap:+rg} in
			none,rg) want="1 30 5 3" ;;
			none,) want="0 $ka" ;;
			# The program's own TCP_KEEPIDLE: nothing else is touched.
			600,*) want="0 600 $intvl_d $cnt_d" ;;
			esac
			want_c="connected $want" want_s="accepted $want"
			assert_equal "$client" "$want_c"
			assert_equal "$server" "$want_s"
		done
	done
}

@test "ETIMEDOUT after data went unacknowledged says cause=retransmit, though keepalive is on" {
	require ss
	make_netns
	local start
	# Three retransmissions (about 6 s) instead of fifteen (15 minutes).
	"${NS[@]}" sh -c 'echo 3 >/proc/sys/net/ipv4/tcp_retries2'
	start_causes_server "${NS[@]}" python3 "$CAUSES" server 8000
	CLIENT_PIDS=
	start_ka_client with env RESETGUARD_LOG="$LOG" RESETGUARD_ERRORS=all RESETGUARD_KEEPALIVE=1,1,2 "$RG"
	"${NS[@]}" ip link set lo down
	echo "send 100" >&"$with_FD"
	start=$(date +%s%N)
	while kill -0 "$with_PID" 2>/dev/null && (($(date +%s%N) - start < 30000000000)); do
		sleep 0.05
	done
	kill -0 "$with_PID" 2>/dev/null && fail "still waiting in recv 30 s after the cut"
	run cat "$BATS_TEST_TMPDIR/with.out"
	assert_line --index 1 --regexp "^error ETIMEDOUT [0-9.]+$"
	grep -qE 'level=warn event=error errno=ETIMEDOUT op=recv .* unacked=100 cookie=[0-9]+ cause=retransmit$' "$LOG"
}
