#!/usr/bin/env bats
# Testing someone else's network program with resetguard: an example.
#
# python3's http.server answers a POST with "501 Unsupported method" and
# closes without reading the body.  A client that sends a large body before
# reading the answer is then reset by the kernel and never sees the 501.
# Run the server under resetguard and its close drains the body first, so
# the client gets its answer; run the client under resetguard and the reset
# it meets is logged with the peer.
#
# Run from the repository root after `make`:
#
#     bats examples/bats-example.bats
#
# BUILD names the build directory (default: build, relative to the
# repository root), as for examples/demo.sh.  Nothing here depends on the
# project's own test helpers: copy it into your own suite and point RG at
# an installed resetguard.
#
# Settings are given as options of the command; the RESETGUARD_* variables
# work too:
#     RESETGUARD_LOG=$BATS_TEST_TMPDIR/rg.log RESETGUARD_LOG_LEVEL=info \
#         "$RG" python3 ...

setup() {
	local root=$BATS_TEST_DIRNAME/..
	BUILD=${BUILD:-build}
	case $BUILD in
	/*) ;;
	*) BUILD=$root/$BUILD ;;
	esac
	RG=$BUILD/resetguard
	if [[ ! -x $RG || ! -f $BUILD/libresetguard.so ]]; then
		skip "$RG or its library is missing: run make first"
	fi
	"$RG" --log off true || skip "$RG predates --log: run make again"
	command -v python3 >/dev/null || skip "python3 is not installed"
	server_pid=
}

teardown() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
}

# A legacy-style client: send the whole POST, then read the answer.  Prints
# the first line of the answer, or "reset <errno name>" and fails.
client='
import errno, socket, sys
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
head = b"POST / HTTP/1.0\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
try:
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(head + b"x" * size)
    answer = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        answer += chunk
except OSError as e:
    print("reset", errno.errorcode.get(e.errno, e.errno))
    sys.exit(1)
print(answer.split(b"\r\n", 1)[0].decode())
'

# start_http_server [WRAPPER...]: python3 -m http.server on a free port of
# 127.0.0.1, run through WRAPPER if given; sets server_pid and port.
start_http_server() {
	local out=$BATS_TEST_TMPDIR/server.out
	# 3>&-: a background process holding bats' descriptor 3 would make
	# bats wait for it.
	"$@" python3 -u -m http.server 0 --bind 127.0.0.1 \
		--directory "$BATS_TEST_TMPDIR" >"$out" 2>&1 3>&- &
	server_pid=$!
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^Serving HTTP on .* port \([0-9][0-9]*\) .*/\1/p' "$out")
		[[ -n $port ]] && return 0
		if ! kill -0 "$server_pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "http.server did not start:" >&2
	cat "$out" >&2
	return 1
}

# wait_for_line FILE REGEX: up to 5 seconds for a line to appear.
wait_for_line() {
	for _ in $(seq 50); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no line matching '$2' in $1:" >&2
	cat "$1" >&2 2>/dev/null
	return 1
}

@test "server under resetguard: a large POST gets its 501, and nobody is reset" {
	local log=$BATS_TEST_TMPDIR/rg.log
	start_http_server "$RG" --log "$log" --level info --

	run python3 -c "$client" 127.0.0.1 "$port" 8000000
	echo "client: $output"
	[ "$status" -eq 0 ]
	[[ $output == "HTTP/1.0 501 "* ]]

	# The server's close lingered until the client had sent everything and
	# closed its end (logged at info level) ...
	wait_for_line "$log" "event=linger outcome=eof .* role=server prog=python3[.0-9]* "
	# ... and the server met no reset.
	if grep -E "event=(reset|pipe) " "$log"; then
		echo "the server logged a reset" >&2
		return 1
	fi
}

@test "client under resetguard: the reset from an unguarded server is logged with the peer" {
	local log=$BATS_TEST_TMPDIR/rg.log
	start_http_server

	run "$RG" --log "$log" -- python3 -c "$client" 127.0.0.1 "$port" 8000000
	echo "client: $output"
	# Without resetguard on the server, the client is reset and never reads
	# the 501.
	[ "$status" -eq 1 ]
	[[ $output == "reset ECONNRESET" || $output == "reset EPIPE" ]]

	# One line per failed call, naming the call, the peer and the program.
	wait_for_line "$log" \
		"event=(reset|pipe) errno=E[A-Z]+ op=[a-z_]+ fd=[0-9]+ peer=127\.0\.0\.1:$port .* role=client prog=python3[.0-9]* "
}
