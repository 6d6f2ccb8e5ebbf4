#!/usr/bin/env bats
# Real event loops, each run twice with the same workload: without
# resetguard and with it.  COUNT clients each send BYTES and the server
# answers early and closes with most of it unread: without the shim every
# client is reset; with it none is, and the event loop must not be able to
# tell the socket lingers: no event for a connection it has closed, none
# under a reused number or pointer, the same number of events and loop
# iterations and the same CPU time as without (issue 11, item 9).

COUNT=150
BYTES=1048576

setup() {
	load helpers/common
	require python3
}

teardown() {
	stop_servers
	exec 5>&- # the control pipe of tests/progs/epollserver, if still open
}

# ---------------------------------------------------------------- epollserver

# Starts tests/progs/epollserver -m MODE under the command that follows (if
# any), with its control pipe on this shell's fd 5; sets SERVER_PORT.
start_epollserver() {
	local mode=$1 ready=$BATS_TEST_TMPDIR/ready.$RANDOM ctl=$BATS_TEST_TMPDIR/ctl.$RANDOM word
	shift
	mkfifo "$ready" "$ctl"
	RESETGUARD_LOG=$LOG "$@" "$B/tests/epollserver" -m "$mode" <"$ctl" >"$ready" \
		2>>"$BATS_TEST_TMPDIR/server.err" 3>&- &
	SERVER_PID=$!
	exec 5>"$ctl" 4<"$ready"
	read -r -t 20 word SERVER_PORT <&4 || fail "epollserver did not start"
	cat <&4 >"$BATS_TEST_TMPDIR/server.out" 3>&- 5>&- &
	SERVER_OUT_PID=$!
	exec 4<&-
}

# One run of epollserver -m MODE (under the command that follows, if any)
# against COUNT upload clients.  Closing the control pipe after the last
# client is done ends it, so the run covers all that the connections'
# registrations can cause.  Sets RESETS, STATS (its last line) and
# served, waits, events, stale_closed, stale_reused, cpu_us, proc_cpu_us.
epoll_run() {
	local mode=$1
	shift
	start_epollserver "$mode" "$@"
	run_clients raw "$COUNT" "$BYTES"
	exec 5>&-
	wait_server
	assert_equal "$SERVER_STATUS" 0
	STATS=$(tail -n 1 "$BATS_TEST_TMPDIR/server.out")
	[[ $STATS == served=* ]] || fail "no statistics from epollserver: $STATS"
	local kv
	for kv in $STATS; do
		printf -v "${kv%%=*}" '%s' "${kv#*=}"
	done
}

# at_most NAME WITH WITHOUT FACTOR SLACK: WITH <= WITHOUT * FACTOR + SLACK.
at_most() {
	awk -v w="$2" -v o="$3" -v f="$4" -v s="$5" 'BEGIN { exit !(w <= o * f + s) }' ||
		fail "$1: $2 with resetguard, $3 without (at most ${4}x + $5 allowed)"
}

# The same server and clients without and with the shim: every client
# reset without, none with; no stale event in either run; and with the
# shim at most 1.5 times the events, epoll_wait returns and CPU time of the
# event loop's thread (plus a little) that the run without had.
epoll_without_and_with() {
	local mode=$1 without
	epoll_run "$mode"
	without=$STATS
	assert_equal "$RESETS" "$COUNT"
	assert_equal "$served" "$COUNT"
	assert_equal "$stale_closed $stale_reused" "0 0"
	local a_events=$events a_waits=$waits a_cpu=$cpu_us
	epoll_run "$mode" "$RG"
	echo "without: $without"
	echo "with:    $STATS"
	assert_equal "$served" "$COUNT"
	assert_equal "$RESETS" 0
	[[ $stale_closed == 0 ]] || fail "$stale_closed events for closed connections (without: 0)"
	[[ $stale_reused == 0 ]] || fail "$stale_reused events under a reused number or slot (without: 0)"
	at_most "events" "$events" "$a_events" 1.5 20
	at_most "epoll_wait returns" "$waits" "$a_waits" 1.5 20
	# The thread's own time: the drainer's, counted in proc_cpu_us, is
	# resetguard's work, not the program's.
	at_most "event loop CPU µs" "$cpu_us" "$a_cpu" 1.5 20000
}

@test "epoll, level-triggered, data.fd, close without EPOLL_CTL_DEL: no stale event, same events and CPU" {
	epoll_without_and_with lt
}

@test "epoll, edge-triggered, data.ptr to a reused slot: no event for a freed or reused slot" {
	epoll_without_and_with et
}

@test "epoll, EPOLLONESHOT re-armed before close: no stale event" {
	epoll_without_and_with oneshot
}

@test "epoll, EPOLLEXCLUSIVE: no stale event" {
	epoll_without_and_with exclusive
}

@test "epoll, EPOLL_CTL_DEL before close: the same with and without" {
	epoll_without_and_with del
}

# ---------------------------------------------------------------- nginx

# nginx with lingering_close off, so that nginx itself never lingers and
# resetguard does; the whole debug log (nginx is built --with-debug).  One
# process (master_process off): the event loop under test is the process
# the shim is loaded into, there is no worker to find, and SIGTERM ends it.
# As root, nginx without a master never switches user, so the temp paths
# under BATS_TEST_TMPDIR stay writable.  The clients send garbage, which
# nginx answers 400 (invalid method) and closes at once; a body refused
# with 413 is no test: nginx reads and discards it itself.
nginx_run() {
	local dir=$BATS_TEST_TMPDIR/nginx.$RANDOM port
	port=$(free_port)
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<-EOF
		daemon off;
		master_process off;
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/error.log debug;
		events { worker_connections 1024; }
		http {
		    access_log off;
		    client_body_temp_path $dir/body;
		    proxy_temp_path $dir/proxy;
		    fastcgi_temp_path $dir/fastcgi;
		    uwsgi_temp_path $dir/uwsgi;
		    scgi_temp_path $dir/scgi;
		    lingering_close off;
		    server {
		        listen 127.0.0.1:$port;
		        location / { return 413; }
		    }
		}
	EOF
	RESETGUARD_LOG=$LOG start_server "$@" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
	wait_port "$port"
	SERVER_PORT=$port run_clients raw "$COUNT" "$BYTES"
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || true
	SERVER_PID=
	STALE=$(grep -c 'epoll: stale event' "$dir/error.log" || true)
	ERRORS=$(grep -cE '\[(error|crit|alert|emerg)\]' "$dir/error.log" || true)
	REFUSED=$(grep -c 'client sent invalid method' "$dir/error.log" || true)
}

@test "nginx, lingering_close off, debug log: no 'stale event' line, clients not reset" {
	require nginx
	nginx_run
	assert_equal "$RESETS" "$COUNT"
	assert_equal "$STALE $ERRORS $REFUSED" "0 0 $COUNT"
	nginx_run "$RG"
	echo "nginx with resetguard: $STALE stale event lines, $ERRORS errors, $RESETS resets"
	assert_equal "$RESETS" 0
	[[ $STALE == 0 ]] || fail "$STALE 'epoll: stale event' lines with resetguard (without: 0)"
	assert_equal "$ERRORS $REFUSED" "0 $COUNT"
}

# ---------------------------------------------------------------- haproxy

# haproxy's activity counters, the ones an event loop's health shows in.
activity() {
	echo "show activity" | socat - "UNIX-CONNECT:$1" |
		awk -F': *' '$1 ~ /^(loops|poll_drop_fd|poll_skip_fd|conn_dead|accepted)$/ { printf "%s=%s ", $1, $2 }'
}

# haproxy 2.6, one thread, an HTTP frontend that waits for 16 KiB of the
# body (option http-buffer-request), then refuses the request (413) and
# closes at once; its clients (tests/helpers/staged_upload.py) send the
# rest of a BYTES body after the answer.  The stages, and defer-accept (no
# accept before the request head is there), make each request take exactly
# two passes of the event loop, the second one with the connection
# registered in epoll: the loop count is then the same from run to run, and
# the close leaves a registration behind if anything does.  (With clients
# that send all at once, the loop count moved by a third and more between runs
# without the shim, and a request often ended in one pass, never polled.)
# Sets RESETS and loops, poll_drop_fd, poll_skip_fd, conn_dead and accepted
# as the difference of "show activity" after and before.
haproxy_run() {
	local dir=$BATS_TEST_TMPDIR/haproxy.$RANDOM port i before after kv
	port=$(free_port)
	mkdir -p "$dir"
	cat >"$dir/haproxy.cfg" <<-EOF
		global
		    nbthread 1
		    stats socket $dir/stats.sock level admin
		defaults
		    mode http
		    timeout client 10s
		    timeout server 10s
		    timeout connect 5s
		frontend early
		    bind 127.0.0.1:$port defer-accept
		    option http-buffer-request
		    http-request deny deny_status 413
	EOF
	RESETGUARD_LOG=$LOG start_server "$@" haproxy -db -f "$dir/haproxy.cfg"
	# The stats socket answers once the configuration is up, listeners
	# included; asking it connects no client to the frontend.
	for i in $(seq 200); do
		before=$(activity "$dir/stats.sock" 2>/dev/null) && [[ $before == *loops=* ]] && break
		sleep 0.05
	done
	[[ $before == *loops=* ]] || fail "haproxy's stats socket never answered"
	run python3 "$HELPERS/staged_upload.py" "$port" "$COUNT" "$BYTES"
	assert_success
	RESETS=${lines[-1]#resets=}
	after=$(activity "$dir/stats.sock")
	stop_servers
	SERVER_PID=
	for kv in $after; do
		local b=${before#*"${kv%%=*}"=}
		printf -v "${kv%%=*}" '%s' "$((${kv#*=} - ${b%% *}))"
	done
}

@test "haproxy 2.6: the same loop iterations and dropped events with and without, clients not reset" {
	require haproxy socat
	haproxy_run
	local a_loops=$loops a_drop=$poll_drop_fd a_skip=$poll_skip_fd a_dead=$conn_dead a_resets=$RESETS
	[[ $a_resets -gt 0 ]] || fail "no client reset without resetguard: the test proves nothing"
	haproxy_run "$RG"
	echo "without: loops=$a_loops poll_drop_fd=$a_drop poll_skip_fd=$a_skip conn_dead=$a_dead resets=$a_resets"
	echo "with:    loops=$loops poll_drop_fd=$poll_drop_fd poll_skip_fd=$poll_skip_fd conn_dead=$conn_dead resets=$RESETS"
	assert_equal "$RESETS" 0
	# the clients and the second "show activity"
	assert_equal "$accepted" "$((COUNT + 1))"
	awk -v w="$loops" -v o="$a_loops" 'BEGIN { exit !(w >= o * 0.9 && w <= o * 1.1) }' ||
		fail "loops: $loops with resetguard, $a_loops without (±10% allowed)"
	at_most "poll_drop_fd" "$poll_drop_fd" "$a_drop" 1 2
	at_most "poll_skip_fd" "$poll_skip_fd" "$a_skip" 1 2
	at_most "conn_dead" "$conn_dead" "$a_dead" 1 2
}
