#!/usr/bin/env bash
# tests/soak.sh -- part of `make stress`: real servers that answer early
# and close with the request unread, each under resetguard for a share of
# SOAK_SECONDS, 6 clients at a time in rounds, each client sending 8 MB
# before it reads.  Every client must get the server's whole answer, none
# may be reset.  Each server first runs one round without resetguard, which
# must reset its clients: the soak proves the library made the difference.
#
# The servers are the early-answer matrix of tests/linger.bats,
# tests/superservers.bats and tests/holders.bats: python3 http.server,
# redis-server, busybox httpd, memcached, inetd-style services
# (tests/progs/inetd-answer) under xinetd, tcpserver (as root, also with
# user = nobody and -u) and openbsd-inetd -E, with the superserver itself
# preloaded, so that both it and the service it starts decide who closes
# last; openbsd-inetd without -E running the service through the resetguard
# command (examples/inetd/inetd.conf), where only the service does; and
# git daemon, whose fork+exec'd `git daemon --serve` refuses a request for
# a repository it does not export.
#
# SOAK_SECONDS (60) the whole soak; SOAK_ONLY a space-separated subset of
# the server names.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
B=$(cd -- "${BUILD:-$root/build}" && pwd)
seconds=${SOAK_SECONDS:-60}
clients=6 bytes=8000000
tmp=$(mktemp -d)
pid=
trap 'stop; rm -rf -- "$tmp"' EXIT

fail() {
	echo "soak: FAILED: $*" >&2
	exit 1
}

# free_port, wait_port.
source "$root/tests/helpers/ports.bash"

stop() {
	[[ -z $pid ]] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
	pid=
}

# start NAME PORT PRELOAD: the server NAME on PORT, with the library
# preloaded when PRELOAD is 1, in the background (its pid in $pid: the
# server itself, exec'd, so that stop() ends it and not a subshell).
start() {
	local name=$1 port=$2 env=(env)
	(($3)) && env+=(LD_PRELOAD="$B/libresetguard.so" RESETGUARD_LOG="$tmp/rg.log")
	case $name in
	http.server) exec "${env[@]}" python3 -m http.server "$port" --bind 127.0.0.1 ;;
	redis) exec "${env[@]}" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no ;;
	busybox-httpd)
		mkdir -p "$tmp/www"
		echo hello >"$tmp/www/index.html" # else POST / is a 404, not a 501
		exec "${env[@]}" busybox httpd -f -p "127.0.0.1:$port" -h "$tmp/www" ;;
	memcached) exec "${env[@]}" memcached -l 127.0.0.1 -p "$port" -U 0 -u "$(id -un)" ;;
	xinetd | xinetd-nobody)
		printf 'service soak\n{\n type = UNLISTED\n port = %s\n bind = 127.0.0.1\n socket_type = stream\n protocol = tcp\n wait = no\n user = %s\n instances = UNLIMITED\n cps = 10000 1\n server = %s\n}\n' \
			"$port" "$([[ $name == xinetd ]] && echo root || echo nobody)" "$B/tests/inetd-answer" >"$tmp/xinetd.conf"
		exec "${env[@]}" xinetd -dontfork -pidfile "$tmp/xinetd.pid" -f "$tmp/xinetd.conf" ;;
	inetd-E | inetd-line)
		local server=$B/tests/inetd-answer args=inetd-answer
		if (($3)) && [[ $name == inetd-line ]]; then
			server=$B/resetguard args="resetguard --log $tmp/rg.log -- $B/tests/inetd-answer" env=(env)
		fi
		printf '127.0.0.1:%s stream tcp nowait root %s %s\n' "$port" "$server" "$args" >"$tmp/inetd.conf"
		exec "${env[@]}" "$INETD" -E -i -R 100000 "$tmp/inetd.conf" ;;
	git-daemon)
		mkdir -p "$tmp/repos"
		exec "${env[@]}" git daemon --listen=127.0.0.1 --port="$port" --base-path="$tmp/repos" ;;
	tcpserver) exec "${env[@]}" tcpserver -R -H -l 0 -c 40 127.0.0.1 "$port" "$B/tests/inetd-answer" ;;
	tcpserver-u) exec "${env[@]}" tcpserver -u 65534 -g 65534 -R -H -l 0 -c 40 127.0.0.1 "$port" "$B/tests/inetd-answer" ;;
	esac >"$tmp/server.out" 2>&1 &
	pid=$!
	wait_port "$port"
}

# The kind of request each server gets, and the first line of its answer.
kind() {
	case $1 in
	http.server | busybox-httpd) echo http ;;
	redis) echo redis ;;
	git-daemon) echo git ;;
	*) echo raw ;;
	esac
}
answer() {
	case $1 in
	http.server) echo 'HTTP/1.0 501' ;;
	busybox-httpd) echo 'HTTP/1.1 501' ;;
	redis) echo '-ERR Protocol error' ;;
	memcached | git-daemon) echo '(empty)' ;;
	*) echo '413 too large' ;;
	esac
}

# One round of $clients clients; prints "resets wrong".
round() {
	python3 "$root/tests/helpers/upload_client.py" 127.0.0.1 "$1" "$(kind "$2")" "$clients" "$bytes" >"$tmp/round"
	local resets wrong want
	want=$(answer "$2")
	resets=$(grep -c '^reset ' "$tmp/round" || true)
	wrong=$(grep '^ok' "$tmp/round" | grep -vcF " $want" || true)
	echo "$resets $wrong"
}

servers=(http.server redis busybox-httpd memcached xinetd tcpserver git-daemon)
# openbsd-inetd conflicts with xinetd as a package: tests/superservers.bats
# unpacks it into .deps when it is not installed.
INETD=
for INETD in /usr/sbin/inetd "$root/.deps/openbsd-inetd/usr/sbin/inetd" ''; do
	[[ -z $INETD || -x $INETD ]] && break
done
if [[ -n $INETD ]]; then
	servers+=(inetd-E inetd-line)
elif [[ ${RESETGUARD_TEST_REQUIRE_ALL:-} == 1 ]]; then
	fail "openbsd-inetd is required (RESETGUARD_TEST_REQUIRE_ALL=1): run tests/superservers.bats first"
fi
# Services that drop privileges (and so cannot read the superserver's
# /proc): run as root only.
((EUID != 0)) || servers+=(xinetd-nobody tcpserver-u)
[[ -z ${SOAK_ONLY:-} ]] || read -r -a servers <<<"$SOAK_ONLY"
share=$((seconds / ${#servers[@]}))
((share > 0)) || share=1
echo "soak: ${servers[*]}: ${share}s each, $clients clients at a time sending $bytes bytes"
failed=0
for name in "${servers[@]}"; do
	port=$(free_port)
	start "$name" "$port" 0
	# Whether a client is reset depends on where its upload is when the
	# server closes: up to three rounds for one that is.
	for try in 1 2 3; do
		read -r resets _ < <(round "$port" "$name")
		((resets == 0)) || break
	done
	stop
	((resets > 0)) || fail "$name reset no client in 3 rounds without resetguard: the soak proves nothing"
	without=$resets
	port=$(free_port)
	start "$name" "$port" 1
	conns=0 total_resets=0 total_wrong=0
	end=$((SECONDS + share))
	while ((SECONDS < end)); do
		read -r resets wrong < <(round "$port" "$name")
		conns=$((conns + clients)) total_resets=$((total_resets + resets)) total_wrong=$((total_wrong + wrong))
	done
	stop
	echo "soak: $name: $conns connections, $total_resets reset, $total_wrong wrong answers" \
		"(without resetguard: $without of $clients reset)"
	((total_resets == 0 && total_wrong == 0)) || failed=1
done
((failed == 0)) || fail "clients were reset or got a wrong answer (above)"
echo "soak: all checks passed"
