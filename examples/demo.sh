#!/usr/bin/env bash
# Demo for `make demo`: a server that answers early and resets the connection,
# and two legacy clients (the C one and a python3 one) that die of SIGPIPE
# before they read the answer, first without and then with resetguard.
#
# BUILD names the build directory (default: build), relative to the repo root.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$root/$BUILD ;;
esac

guard=$BUILD/resetguard
client=$BUILD/examples/legacy-client
server=$BUILD/examples/legacy-server
for f in "$BUILD/libresetguard.so" "$guard" "$client" "$server"; do
	if [[ ! -f $f ]] || [[ $f != *.so && ! -x $f ]]; then
		echo "demo: $f is missing; run \`make\` first (BUILD=$BUILD)" >&2
		exit 1
	fi
done

# An ignored SIGPIPE is inherited through exec and cannot be undone from bash,
# so the "without" runs would not show the kill; say so rather than mislead.
sigign=$(awk '/^SigIgn:/ { print $2 }' /proc/$$/status 2>/dev/null || echo 0)
if (( 16#${sigign:-0} & (1 << 12) )); then
	echo "demo: note: SIGPIPE is ignored in this environment; the C client" \
		"will not be killed even without resetguard" >&2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resetguard-demo.XXXXXX")
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server prints its port only after listen(), so that line is the
# readiness signal: once we have read it, connections will be accepted.
coproc SERVER { exec "$server" 0; }
# shellcheck disable=SC2153 # set by coproc
server_pid=$SERVER_PID
if ! read -r -t 10 -u "${SERVER[0]}" line || [[ $line != "listening on "* ]]; then
	echo "demo: legacy-server did not start" >&2
	exit 1
fi
port=${line#listening on }

# A python3 client written the same way as legacy-client: upload, then read
# the answer.  Python ignores SIGPIPE at startup, so put it back to the
# default a C program has.  sendall() goes through send(), not write().
py_client='
import signal, socket, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
total = 8 << 20
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"UPLOAD %d\n" % total)
chunk, failed = b"x" * 65536, 0
for _ in range(total // len(chunk)):
    try:
        s.sendall(chunk)
    except OSError as e:
        print("py-client: send:", e.strerror, file=sys.stderr)
        failed += 1
        if failed > 1:
            break
reply = s.recv(4096)
sys.stdout.write(reply.decode())
sys.exit(0 if reply else 1)
'

# Show paths relative to the repo root: that is what a reader would type.
show() {
	local out=() a
	for a in "$@"; do
		if [[ $a == "$py_client" ]]; then
			out+=("'<the python client above>'")
		else
			out+=("${a#"$root"/}")
		fi
	done
	echo "\$ ${out[*]}"
}

describe() {
	local st=$1
	if (( st == 124 )) && [[ -n $limit ]]; then
		echo "timed out after ${limit}s (status 124)"
	elif (( st > 128 && st < 128 + 65 )); then
		echo "killed by SIG$(kill -l $((st - 128))) (status $st)"
	else
		echo "exited $st"
	fi
}

indent() {
	if [[ -s $1 ]]; then
		sed 's/^/    /' "$1"
	else
		echo "    (nothing)"
	fi
}

# A demo that hangs helps nobody.  timeout(1) passes a death by signal on
# as its own, so status 141 still means SIGPIPE.
limit='' timeout=()
if command -v timeout >/dev/null; then
	limit=60 timeout=(timeout "$limit")
fi

# run CMD...: run CMD, then say how it ended and what it printed.
run() {
	local st=0
	"${timeout[@]}" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || st=$?
	echo "  status: $(describe "$st")"
	echo "  stdout:"
	indent "$tmp/out"
	echo "  stderr:"
	indent "$tmp/err"
}

plain() {
	show "$@"
	run "$@"
}

# Same under resetguard, with its log in a file of its own so that it is not
# mixed into the program's stderr.
guarded() {
	local log=$tmp/resetguard.log
	: >"$log"
	show RESETGUARD_LOG="$log" "$guard" "$@"
	RESETGUARD_LOG=$log run "$guard" "$@"
	echo "  resetguard log:"
	indent "$log"
}


echo "legacy-server on 127.0.0.1:$port answers 413 to uploads over 1 MiB and"
echo "closes without reading the body, so Linux resets the connection."
echo

echo "== legacy-client: without resetguard =="
plain "$client" 127.0.0.1 "$port"
echo
echo "== legacy-client: with resetguard =="
guarded "$client" 127.0.0.1 "$port"
echo

if command -v python3 >/dev/null; then
	echo "The python3 client does what legacy-client does, with SIGPIPE back at"
	echo "its default (python ignores it at startup) and send() instead of write():"
	sed -e '/^$/d' -e 's/^/    /' <<<"$py_client"
	echo
	echo "== python3 client: without resetguard =="
	plain python3 -c "$py_client" 127.0.0.1 "$port"
	echo
	echo "== python3 client: with resetguard =="
	guarded python3 -c "$py_client" 127.0.0.1 "$port"
else
	echo "== python3 client: skipped (python3 not found) =="
fi
