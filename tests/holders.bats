#!/usr/bin/env bats
# Sockets inherited across exec: holders in every direction (the children
# a service forks, the ancestors that started it), and met at load.
# Each test runs the real server without and with resetguard.

load helpers/common

teardown() {
	stop_servers
}

# tcpserver under the wrapper $1 (may be empty) with the options in
# TCP_OPTS, the handler in the rest; waits for its status line.  Sets
# TCP_PORT.
start_tcpserver() {
	local wrap=$1 ready=$BATS_TEST_TMPDIR/tcpserver.$RANDOM
	shift
	mkfifo "$ready"
	TCP_PORT=$(free_port)
	# shellcheck disable=SC2086 # words on purpose
	$wrap tcpserver -v -RHl0 ${TCP_OPTS:-} 127.0.0.1 "$TCP_PORT" "$@" >/dev/null 2>"$ready" 3>&- &
	SERVER_PID=$!
	exec 4<"$ready"
	read -r -t 20 _ <&4 || fail "tcpserver did not start"
	cat <&4 >/dev/null 3>&- &
	exec 4<&-
}

# A bare repository with one commit, in $REPOS/r.git.
make_repo() {
	REPOS=$BATS_TEST_TMPDIR/repos
	export HOME=$BATS_TEST_TMPDIR GIT_CONFIG_NOSYSTEM=1
	git init -q --bare "$REPOS/r.git"
	git init -q "$BATS_TEST_TMPDIR/work"
	git -C "$BATS_TEST_TMPDIR/work" -c user.name=t -c user.email=t@t commit -q --allow-empty -m one
	git -C "$BATS_TEST_TMPDIR/work" push -q "$REPOS/r.git" HEAD:refs/heads/main
	git -C "$REPOS/r.git" symbolic-ref HEAD refs/heads/main
}

@test "git-daemon --inetd under tcpserver (as inetd configurations start it): git ls-remote answers 10 of 10, byte for byte" {
	# Broken: git daemon gets the socket on fds 0 and 1, forks
	# upload-pack and closes 0 and 1; resetguard saw no other holder
	# (it looked at the parent, not at the children) and shut the socket
	# down under upload-pack.
	require tcpserver git
	make_repo
	local wrap i expected answered
	expected=$(git ls-remote "$REPOS/r.git")
	[[ -n $expected ]] || fail "no refs in the test repository"
	for wrap in "" "$RG --log $LOG"; do
		start_tcpserver "$wrap" "$(git --exec-path)/git-daemon" --inetd --export-all --base-path="$REPOS"
		answered=0
		for i in $(seq 10); do
			run git ls-remote "git://127.0.0.1:$TCP_PORT/r.git"
			[[ $status == 0 && $output == "$expected" ]] && answered=$((answered + 1))
		done
		stop_servers
		assert_equal "$answered/10 ${wrap:+with}" "10/10 ${wrap:+with}"
	done
}

@test "git clone over git-daemon --inetd under tcpserver: 10 of 10, same objects" {
	require tcpserver git
	make_repo
	local wrap i cloned
	for wrap in "" "$RG --log $LOG"; do
		start_tcpserver "$wrap" "$(git --exec-path)/git-daemon" --inetd --export-all --base-path="$REPOS"
		cloned=0
		for i in $(seq 10); do
			rm -rf "$BATS_TEST_TMPDIR/clone"
			git clone -q "git://127.0.0.1:$TCP_PORT/r.git" "$BATS_TEST_TMPDIR/clone" 2>/dev/null &&
				[[ $(git -C "$BATS_TEST_TMPDIR/clone" rev-parse HEAD) == "$(git -C "$REPOS/r.git" rev-parse main)" ]] &&
				cloned=$((cloned + 1))
		done
		stop_servers
		assert_equal "$cloned/10 ${wrap:+with}" "10/10 ${wrap:+with}"
	done
}

@test "git daemon --listen (each connection served by a fork+exec of git daemon --serve): ls-remote 10 of 10" {
	require git
	make_repo
	local wrap i expected answered port
	expected=$(git ls-remote "$REPOS/r.git")
	for wrap in "" "$RG --log $LOG"; do
		port=$(free_port)
		# shellcheck disable=SC2086 # the wrapper's words
		start_server $wrap git daemon --listen=127.0.0.1 --port="$port" --export-all --base-path="$REPOS"
		wait_port "$port"
		answered=0
		for i in $(seq 10); do
			run git ls-remote "git://127.0.0.1:$port/r.git"
			[[ $status == 0 && $output == "$expected" ]] && answered=$((answered + 1))
		done
		stop_servers
		assert_equal "$answered/10 ${wrap:+with}" "10/10 ${wrap:+with}"
	done
}

@test "a tcpserver handler forks a worker and closes its copies: the worker answers 10 of 10" {
	# Broken: the handler reads the request, forks a worker to answer
	# it, and closes fds 0 and 1; resetguard found no other holder and
	# shut the socket down; the worker's answer was lost.  The fifo holds
	# the worker until its parent has closed.
	require tcpserver python3
	local fifo=$BATS_TEST_TMPDIR/closed wrap i answered
	mkfifo "$fifo"
	local handler='
import os, sys
req = os.read(0, 100)
pid = os.fork()
if pid == 0:
    with open(sys.argv[1]) as closed:
        closed.readline()
    os.write(1, b"answer " + req)
    os._exit(0)
os.close(1)
os.close(0)
with open(sys.argv[1], "w") as closed:
    closed.write("closed\n")
os.waitpid(pid, 0)'
	# The interpreter itself, not a wrapper script (pyenv's shims run a
	# shell, which holds the socket too).
	local py
	py=$(python3 -c 'import sys; print(sys.executable)')
	for wrap in "" "$RG --log $LOG"; do
		start_tcpserver "$wrap" "$py" -c "$handler" "$fifo"
		answered=0
		for i in $(seq 10); do
			run "$py" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"q%s\n" % sys.argv[2].encode())
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())' "$TCP_PORT" "$i"
			[[ $output == "answer q$i" ]] && answered=$((answered + 1))
		done
		stop_servers
		assert_equal "$answered/10 ${wrap:+with}" "10/10 ${wrap:+with}"
	done
}

# A client that connects, waits until tcpserver's handler has started (a
# line on the fifo $2), then resets the connection (SO_LINGER {1, 0}) and
# prints its own address.
reset_client() {
	python3 -c '
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
with open(sys.argv[2]) as started:
    started.readline()
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
print("%s:%d" % s.getsockname())
s.close()' "$1" "$2"
}

@test "a shell run by tcpserver meets a reset on fds 0 and 1: each record names the peer" {
	# Broken: the inherited socket was first met after the reset, when
	# getpeername() no longer answers: peer=unknown.
	require tcpserver
	local started=$BATS_TEST_TMPDIR/started go=$BATS_TEST_TMPDIR/go peer
	mkfifo "$started" "$go"
	# The shell reads fd 0 (head: ECONNRESET) and writes to fd 1 (echo:
	# EPIPE) only after the client's reset.
	# shellcheck disable=SC2016 # expanded by the handler's shell
	local handler='echo started >"$1"; read -r go <"$2"; head -c 1 >/dev/null; echo one; echo two; echo done >"$1"'
	start_tcpserver "$RG --log $LOG" sh -c "$handler" sh "$started" "$go"
	peer=$(reset_client "$TCP_PORT" "$started")
	echo go >"$go"
	read -r -t 20 _ <"$started" || fail "the handler did not finish"
	run grep -E 'event=(reset|pipe)' "$LOG"
	assert_line --partial 'errno=ECONNRESET op=read'
	assert_equal "$(grep -cE 'event=(reset|pipe) errno=EPIPE' "$LOG")" 2
	refute_output --partial 'peer=unknown'
	assert_equal "$(grep -cE "event=(reset|pipe).* peer=$peer " "$LOG")" 3
}

# Starts $@ (a program that prints "listening PORT" first) in the
# background; sets SERVER_PORT.
start_listening() {
	local ready=$BATS_TEST_TMPDIR/ready.$RANDOM
	mkfifo "$ready"
	"$@" >"$ready" 2>>"$BATS_TEST_TMPDIR/server.err" 3>&- &
	SERVER_PID=$!
	exec 4<"$ready"
	read -r -t 20 _ SERVER_PORT <&4 || fail "$1 did not start"
	cat <&4 >/dev/null 3>&- &
	exec 4<&-
}

# Runs 10 uploading clients against SERVER_PORT: without resetguard
# (wrap empty) all 10 are reset, with it none is, and every one gets the
# answer inetd-answer wrote, byte for byte.
assert_resets_without_none_with() {
	local wrap=$1
	run_clients raw 10
	if [[ -z $wrap ]]; then
		assert_equal "resets=$RESETS without" "resets=10 without"
	else
		assert_equal "resets=$RESETS with" "resets=0 with"
		assert_equal "$(grep -c '^ok 14 413 too large$' <<<"$output")" 10
	fi
}

@test "fork+exec server whose service exits before the parent closes: the parent lingers, 10 of 10 answered" {
	# Broken: the service saw its parent's copy and closed plainly; the
	# parent counted the exec'd child as a holder for good and closed
	# plainly too: nobody lingered.
	local wrap
	for wrap in "" "$RG"; do
		# shellcheck disable=SC2086 # the wrapper's words
		start_listening $wrap "$B/tests/forkexec" 10 "$B/tests/inetd-answer"
		assert_resets_without_none_with "$wrap"
		wait_server
		assert_equal "$SERVER_STATUS" 0
	done
}

@test "tcpserver -u 65534 -g 65534 (the service cannot read its parent's /proc): 10 uploads answered without reset" {
	# Broken: every close counted as shared, since tcpserver's
	# descriptors cannot be read once it dropped its privileges.
	require tcpserver
	[[ $EUID == 0 ]] || skip "tcpserver -u needs root"
	local wrap
	for wrap in "" "$RG"; do
		TCP_OPTS="-u 65534 -g 65534" start_tcpserver "$wrap" "$B/tests/inetd-answer"
		SERVER_PORT=$TCP_PORT assert_resets_without_none_with "$wrap"
		stop_servers
	done
}

@test "xinetd service with user = nobody: 10 uploads answered without reset, byte for byte" {
	require xinetd
	[[ $EUID == 0 ]] || skip "xinetd's user = needs root"
	local wrap conf=$BATS_TEST_TMPDIR/xinetd.conf
	for wrap in "" "$RG"; do
		SERVER_PORT=$(free_port)
		cat >"$conf" <<-CONF
			defaults
			{
				log_type = FILE $BATS_TEST_TMPDIR/xinetd.log
			}
			service rgtest
			{
				type = UNLISTED
				port = $SERVER_PORT
				bind = 127.0.0.1
				socket_type = stream
				protocol = tcp
				wait = no
				user = nobody
				server = $B/tests/inetd-answer
				passenv = LD_PRELOAD
				instances = UNLIMITED
				per_source = UNLIMITED
				cps = 1000 1
			}
		CONF
		# shellcheck disable=SC2086 # the wrapper's words
		start_server $wrap /usr/sbin/xinetd -dontfork -f "$conf"
		wait_port "$SERVER_PORT"
		assert_resets_without_none_with "$wrap"
		stop_servers
	done
}

@test "a reset socket inherited from a process without resetguard: closing it leaves the holder its ECONNRESET" {
	# Broken: the close() looks at the socket with recv(MSG_PEEK), which
	# takes the pending error, and the holder then reads EOF.
	local script='
import os, socket, struct, subprocess, sys
listener = socket.create_server(("127.0.0.1", 0))
peer = socket.create_connection(listener.getsockname())
conn = listener.accept()[0]
peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
peer.close()  # the RST
close = "import os, sys; os.close(int(sys.argv[1]))"
subprocess.run(sys.argv[1:] + ["python3", "-c", close, str(conn.fileno())],
               pass_fds=(conn.fileno(),), check=True)
try:
    print("read", len(conn.recv(10)))
except OSError as e:
    print(type(e).__name__)'
	run python3 -c "$script" env
	assert_success
	assert_output ConnectionResetError
	RESETGUARD_LOG=$LOG run python3 -c "$script" "$RG"
	assert_success
	assert_output ConnectionResetError
}
