#!/usr/bin/env bats
# Where resetguard's own lines go when stderr is no place for them: an
# inetd service's stderr is its client's connection, and a program may
# close its stderr (coreutils do at exit) and give the number to a file.
# resetguard writes only to the stderr the program was started with, and
# never to a socket; else to syslog, else nowhere (shim/sink.c).

setup() {
	load helpers/common
	require python3 socat
}

teardown() {
	stop_servers
	[[ -z ${LISTENER_PID:-} ]] || kill "$LISTENER_PID" 2>/dev/null || true
}

# A datagram socket at $1 standing in for /dev/log: every datagram it
# hears, one JSON string a line, in $BATS_TEST_TMPDIR/heard, until killed.
start_syslog() {
	local ready=$BATS_TEST_TMPDIR/syslog.ready
	mkfifo "$ready"
	python3 -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
out = open(sys.argv[2], "a")
while True:
    out.write(json.dumps(s.recv(1 << 16).decode("utf-8")) + "\n")
    out.flush()' "$1" "$BATS_TEST_TMPDIR/heard" >"$ready" 3>&- &
	LISTENER_PID=$!
	read -r -t 20 _ <"$ready" || fail "syslog stand-in did not start"
}

# xinetd in the foreground with one service, tests/progs/inetd-answer,
# whose stdin, stdout and stderr are the client's socket; $1 is the
# service's environment (xinetd's env attribute), if any.  Sets XPORT.
xinetd_start() {
	local dir=$BATS_TEST_TMPDIR/xinetd.$RANDOM user=
	mkdir -p "$dir"
	XPORT=$(free_port)
	[[ $EUID != 0 ]] || user="user = root"
	cat >"$dir/xinetd.conf" <<-EOF
		defaults
		{
		    log_type = FILE $dir/xinetd.log
		    instances = UNLIMITED
		    cps = 1000 1
		}
		service rgtest
		{
		    type = UNLISTED
		    socket_type = stream
		    protocol = tcp
		    wait = no
		    $user
		    bind = 127.0.0.1
		    port = $XPORT
		    server = $B/tests/inetd-answer
		    ${1:+env = $1}
		}
	EOF
	xinetd -dontfork -f "$dir/xinetd.conf" -pidfile "$dir/pid" >/dev/null 2>"$dir/err" 3>&- &
	SERVER_PID=$!
	wait_port "$XPORT"
}

# $1 clients each send a line to XPORT and read the answer to its end;
# sets EXACT to how many got exactly the service's answer, byte for byte.
exact_answers() {
	local i answer=$BATS_TEST_TMPDIR/answer expected=$BATS_TEST_TMPDIR/expected
	printf '413 too large\n' >"$expected"
	EXACT=0
	for i in $(seq "$1"); do
		printf 'hello\n' | socat -t 5 - "TCP:127.0.0.1:$XPORT" >"$answer" 2>/dev/null || true
		if cmp -s "$answer" "$expected"; then
			EXACT=$((EXACT + 1))
		else
			echo "answer $i: $(od -c "$answer" | head -3)"
		fi
	done
}

xinetd_stop() {
	kill "$SERVER_PID"
	wait "$SERVER_PID" || true
	SERVER_PID=
}

@test "xinetd service, stderr is the client's socket: byte-exact answers at info level and with an unwritable log" {
	require xinetd
	local sock=$BATS_TEST_TMPDIR/log.sock pre=LD_PRELOAD=$SAN_PRELOAD$B/libresetguard.so
	start_syslog "$sock"

	xinetd_start
	exact_answers 10
	xinetd_stop
	assert_equal "$EXACT" 10

	# The start-up line and every graceful close at info level: to the
	# syslog stand-in, none into the connection.
	xinetd_start "$pre RESETGUARD_LOG_LEVEL=info RESETGUARD_SYSLOG_SOCKET=$sock"
	exact_answers 10
	xinetd_stop
	assert_equal "$EXACT" 10
	run grep -c 'resetguard\[[0-9]*\]: ts=[^ ]* level=info event=start .*prog=inetd-answer .*log=syslog' "$BATS_TEST_TMPDIR/heard"
	[[ $output -ge 10 ]] || fail "start lines heard on the syslog socket: $output"

	# A log file that cannot be opened: the complaint too goes to syslog.
	: >"$BATS_TEST_TMPDIR/heard"
	xinetd_start "$pre RESETGUARD_LOG=$BATS_TEST_TMPDIR/missing/reset.log RESETGUARD_SYSLOG_SOCKET=$sock"
	exact_answers 10
	xinetd_stop
	assert_equal "$EXACT" 10
	run grep -c "resetguard: cannot open RESETGUARD_LOG=$BATS_TEST_TMPDIR/missing/reset.log: No such file or directory; logging to syslog" "$BATS_TEST_TMPDIR/heard"
	[[ $output -ge 10 ]] || fail "complaints heard on the syslog socket: $output"

	# No syslog either: nowhere.
	xinetd_start "$pre RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG=$BATS_TEST_TMPDIR/missing/reset.log RESETGUARD_SYSLOG_SOCKET=$BATS_TEST_TMPDIR/nosyslog"
	exact_answers 10
	xinetd_stop
	assert_equal "$EXACT" 10
}

@test "a malformed setting with a socket for stderr: the complaint goes to syslog, not to the client" {
	local sock=$BATS_TEST_TMPDIR/log.sock
	start_syslog "$sock"
	XPORT=$(free_port)
	# tcpserver would do; socat's EXEC with stderr gives the handler the
	# connection as fds 0, 1 and 2.
	# In a script: socat takes the colon of a sanitizer's LD_PRELOAD for
	# the end of its address.
	printf '#!/bin/sh\nexec env RESETGUARD_SIGPIPE=bogus RESETGUARD_SYSLOG_SOCKET=%s LD_PRELOAD=%s %s\n' \
		"$sock" "$SAN_PRELOAD$B/libresetguard.so" "$B/tests/inetd-answer" >"$BATS_TEST_TMPDIR/handler"
	chmod +x "$BATS_TEST_TMPDIR/handler"
	socat "TCP-LISTEN:$XPORT,bind=127.0.0.1,reuseaddr,fork" EXEC:"$BATS_TEST_TMPDIR/handler",stderr 3>&- &
	SERVER_PID=$!
	wait_port "$XPORT"
	exact_answers 3
	assert_equal "$EXACT" 3
	run grep -c 'resetguard: RESETGUARD_SIGPIPE=bogus is not socket, ignore or off; using socket' "$BATS_TEST_TMPDIR/heard"
	[[ $output -ge 3 ]] || fail "complaints heard on the syslog socket: $output"
}

@test "coreutils close stderr at exit: the summary still reaches it" {
	local err=$BATS_TEST_TMPDIR/err
	run --separate-stderr seq 3
	local without=$output
	"$RG" --level info seq 3 >"$BATS_TEST_TMPDIR/out" 2>"$err"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "$without"
	grep -q 'level=info event=start .*prog=seq' "$err" || fail "no start line: $(cat "$err")"
	grep -q 'level=info event=summary prog=seq' "$err" || fail "no summary after seq closed stderr: $(cat "$err")"
}

# A peer that takes one connection, reads it to its end and closes (with
# $1 idle: reads nothing and never closes, until killed); sets PEER_PORT.
start_reader() {
	local ready=$BATS_TEST_TMPDIR/reader.ready.$RANDOM
	mkfifo "$ready"
	python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
if sys.argv[1] == "idle":
    time.sleep(60)
while c.recv(65536):
    pass
c.close()' "${1:-read}" >"$ready" 3>&- &
	SERVER_PID=$!
	read -r -t 20 PEER_PORT <"$ready" || fail "reader did not start"
}

@test "stderr closed and its number reused, a connection open at exit: exit-time records reach the old stderr, none the new file" {
	local err=$BATS_TEST_TMPDIR/err data=$BATS_TEST_TMPDIR/data
	start_reader
	run "$B/tests/closeerr" "$PEER_PORT" "$data"
	assert_success
	assert_output ok
	assert_equal "$(cat "$data")" data
	wait_server

	start_reader
	"$RG" --level info "$B/tests/closeerr" "$PEER_PORT" "$data" >"$BATS_TEST_TMPDIR/out" 2>"$err"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" ok
	wait_server
	assert_equal "$(cat "$data")" data
	grep -q 'level=info event=summary prog=closeerr' "$err" || fail "no summary: $(cat "$err")"
}

@test "a forked child that closes its stderr lets go of resetguard's copy: the pipe's reader sees EOF while the child lives" {
	local script=$BATS_TEST_TMPDIR/detach.py pidfile=$BATS_TEST_TMPDIR/child.pid wrap child
	# A daemon's detach: the parent exits, the child closes its stdout and
	# stderr (the pipe the caller reads) and lives on.
	cat >"$script" <<-'PY'
		import os, sys, time
		pid = os.fork()
		if pid == 0:
		    os.close(1)
		    os.close(2)
		    time.sleep(15)
		    os._exit(0)
		open(sys.argv[1], "w").write(str(pid))
		print("detached")
	PY
	for wrap in "" "$RG"; do
		# bats reads stdout and stderr through one pipe, to its EOF
		run timeout 20 ${wrap:+"$wrap"} python3 "$script" "$pidfile"
		assert_success
		assert_output detached
		child=$(cat "$pidfile")
		# alive, not a zombie: EOF came while it lived, not with its end
		[[ $(ps -o stat= -p "$child") == [^Z]* ]] || fail "the child is gone: EOF came only with its end"
		kill "$child"
	done
}

@test "stderr a regular file, closed by the program, a peer that never closes: the heir's linger timeout reaches the file" {
	local err=$BATS_TEST_TMPDIR/err data=$BATS_TEST_TMPDIR/data i
	start_reader idle
	"$B/tests/closeerr" "$PEER_PORT" "$data" >"$BATS_TEST_TMPDIR/out" 2>"$err"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" ok
	assert_equal "$(cat "$data")" data
	[[ ! -s $err ]] || fail "stderr without resetguard: $(cat "$err")"
	stop_servers

	start_reader idle
	RESETGUARD_LINGER_TIMEOUT=300ms "$RG" "$B/tests/closeerr" "$PEER_PORT" "$data" >"$BATS_TEST_TMPDIR/out" 2>"$err"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" ok
	# The program is gone; its heir finishes the graceful close.
	for i in $(seq 200); do
		grep -q 'level=warn event=linger outcome=timeout .*prog=closeerr' "$err" && break
		sleep 0.05
	done
	grep -q 'level=warn event=linger outcome=timeout .*prog=closeerr' "$err" || fail "no timeout record: $(cat "$err")"
	assert_equal "$(cat "$data")" data
}

# A client of the lingerserver at SERVER_PORT that sends more than the
# server reads, waits for the EOF of the drainer's shutdown, then resets:
# the drainer writes a warning.
reset_after_drainer_eof() {
	python3 -c '
import socket, struct, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"x" * 300000)
while c.recv(65536):
    pass
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()' "$SERVER_PORT"
}

@test "a stderr pipe that is full and never read stops neither the program nor its exit: records are dropped and counted" {
	local dir=$BATS_TEST_TMPDIR/metrics
	mkdir "$dir"
	# resetprobe itself writes nothing to stderr: without resetguard it ends.
	run python3 "$HELPERS/full_pipe.py" "$PROBE" -r 3 read
	assert_success
	assert_line alive
	# The start-up line, three reset records and the summary at exit.
	RESETGUARD_LOG_LEVEL=info RESETGUARD_METRICS=$dir \
		run python3 "$HELPERS/full_pipe.py" "$RG" "$PROBE" -r 3 read
	assert_success
	assert_line alive
	run python3 "$HELPERS/prom_check.py" "$dir"/resetguard_resetprobe.prom
	assert_line --regexp '^resetguard_suppressed_lines_total\{\} [1-9][0-9]*$'
}

@test "a stderr pipe that is full and never read: the drainer's records do not hold up the program's exit" {
	WRAP="python3 $HELPERS/full_pipe.py $RG" start_lingerserver -n 2
	# The drainer's record of the first client's reset finds the pipe full.
	reset_after_drainer_eof
	# The second connection's close, then the exit, which waits for the
	# drainer to let go.
	run_clients raw 1
	wait_server
	assert_equal "$SERVER_STATUS" 0
}

@test "a terminal stderr nobody reads holds the drainer's record: the exit waits at most for the linger time, not for ever" {
	# A terminal takes no RWF_NOWAIT: the record's write() waits, as the
	# program's own would.  The exit gives up on the drainer after a
	# second and waits for the second socket's linger time instead.
	RESETGUARD_LINGER_TIME=2s WRAP="python3 $HELPERS/full_pipe.py --tty $RG" start_lingerserver -n 2
	reset_after_drainer_eof
	run_clients raw 1
	wait_server
	assert_equal "$SERVER_STATUS" 0
}
