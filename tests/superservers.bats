#!/usr/bin/env bats
# Superservers: an inetd-style service gets resetguard as examples/inetd/
# shows, under each superserver Debian ships, and --check tells when a
# superserver would drop it.  The service answers early and exits with the
# rest of the request unread (tests/progs/inetd-answer): without resetguard
# every client is reset, with it none.

setup() {
	load helpers/common
	require python3
	SERVICE=$B/tests/inetd-answer
}

teardown() {
	stop_servers
}

# openbsd-inetd and xinetd conflict as Debian packages (both provide
# inet-superserver), so CI installs xinetd and the tests unpack
# openbsd-inetd's package into .deps.  Sets INETD.
find_openbsd_inetd() {
	local deps=$BATS_TEST_DIRNAME/../.deps/openbsd-inetd bin
	for bin in /usr/sbin/inetd "$deps/usr/sbin/inetd"; do
		[[ -x $bin ]] && grep -q 'usage: inetd \[-dEil\]' "$bin" && INETD=$bin && return
	done
	if command -v apt-get >/dev/null && (cd "$BATS_TEST_TMPDIR" && apt-get download openbsd-inetd) >/dev/null 2>&1; then
		# Unpacked beside, then renamed: tests may run in parallel.
		mkdir -p "${deps%/*}"
		dpkg-deb -x "$BATS_TEST_TMPDIR"/openbsd-inetd_*.deb "$BATS_TEST_TMPDIR/unpacked"
		mv -T "$BATS_TEST_TMPDIR/unpacked" "$deps" 2>/dev/null || [[ -x $deps/usr/sbin/inetd ]]
		INETD=$deps/usr/sbin/inetd
		return
	fi
	[[ ${RESETGUARD_TEST_REQUIRE_ALL:-} == 1 ]] && fail "openbsd-inetd is required (RESETGUARD_TEST_REQUIRE_ALL=1)"
	skip "openbsd-inetd is not installed and cannot be fetched"
}

# The service line of examples/inetd/inetd.conf, made to run here: on a free
# port of the loopback, this build's command, the test's log and service.
# Sets PORT; $1 the configuration file to write.
inetd_conf_from_example() {
	PORT=$(free_port)
	grep -v '^#' "$BATS_TEST_DIRNAME/../examples/inetd/inetd.conf" |
		sed -e "s|^8007 |127.0.0.1:$PORT |" -e "s|/usr/local/bin/resetguard|$RG|" \
			-e "s|/var/log/resetguard/[^ ]*|$LOG|" -e "s|/usr/local/sbin/in.myservice|$SERVICE|" >"$1"
	[[ $(awk '{ $2 = $3 = $4 = $5 = ""; print }' "$1") == "127.0.0.1:$PORT     $RG resetguard --log $LOG -- $SERVICE" ]] ||
		fail "the example's line did not take: $(cat "$1")"
}

# The service itself as the program, no resetguard in the line.
inetd_conf_plain() {
	PORT=$(free_port)
	printf '127.0.0.1:%s stream tcp nowait root %s inetd-answer\n' "$PORT" "$SERVICE" >"$1"
}

# Starts $INETD in the foreground with the options and configuration given,
# under the environment given before them (env's NAME=VALUE words).
start_inetd() {
	start_server env "$@"
	wait_port "$PORT"
}

@test "--check inetd: partly without -E, which drops LD_PRELOAD, yes with it" {
	find_openbsd_inetd
	run "$RG" --check "$INETD" -i /etc/inetd.conf
	assert_failure 2
	assert_line --partial "starts:   openbsd-inetd removes LD_PRELOAD"
	assert_line --partial "verdict:  partly"
	run "$RG" --check "$INETD" -iE /etc/inetd.conf
	assert_success
	assert_line --partial "verdict:  yes"
	run "$RG" --check "$INETD" -E -i
	assert_success
	# Another program is not taken for inetd.
	run "$RG" --check "$PROBE" -i
	assert_success
}

@test "openbsd-inetd without -E: LD_PRELOAD given to inetd does not reach the service, clients reset" {
	find_openbsd_inetd
	local conf=$BATS_TEST_TMPDIR/inetd.conf
	inetd_conf_plain "$conf"
	start_inetd "$INETD" -i "$conf"
	SERVER_PORT=$PORT run_clients raw 5
	assert_equal "$RESETS" 5
	stop_servers
	start_inetd LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so" RESETGUARD_LOG="$LOG" "$INETD" -i "$conf"
	SERVER_PORT=$PORT run_clients raw 5
	assert_equal "$RESETS" 5
	stop_servers
	# With -E it does: the same line, no client reset.
	start_inetd LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so" RESETGUARD_LOG="$LOG" "$INETD" -E -i "$conf"
	SERVER_PORT=$PORT run_clients raw 5
	assert_equal "$RESETS" 0
	assert_equal "$(grep -c '^ok [0-9]* 413 too large' <<<"$output")" 5
}

@test "openbsd-inetd without -E, the service started through resetguard as examples/inetd/inetd.conf shows: no client reset; the service alone: all reset" {
	find_openbsd_inetd
	local conf=$BATS_TEST_TMPDIR/inetd.conf
	inetd_conf_plain "$conf"
	start_inetd "$INETD" -i "$conf"
	SERVER_PORT=$PORT run_clients raw 5
	assert_equal "$RESETS" 5
	stop_servers
	inetd_conf_from_example "$conf"
	start_inetd "$INETD" -i "$conf"
	SERVER_PORT=$PORT run_clients raw 5
	assert_equal "$RESETS" 0
	assert_equal "$(grep -c '^ok [0-9]* 413 too large' <<<"$output")" 5
}

# examples/inetd/xinetd.conf, made to run here; $1: example (as it is),
# or plain (the service itself as the server).  Sets PORT.
xinetd_conf() {
	PORT=$(free_port)
	sed -e "s|= 8007|= $PORT|" -e "s|/usr/local/bin/resetguard|$RG|" \
		-e "s|/var/log/resetguard/[^ ]*|$LOG|" -e "s|/usr/local/sbin/in.myservice|$SERVICE|" \
		-e "s|^\(\ttype *= UNLISTED\)|\1\n\tbind        = 127.0.0.1|" \
		"$BATS_TEST_DIRNAME/../examples/inetd/xinetd.conf" >"$2"
	local server=$RG
	if [[ $1 == plain ]]; then
		server=$SERVICE
		sed -i -e "s|^\tserver *=.*|\tserver      = $SERVICE|" -e '/server_args/d' "$2"
	fi
	grep -q "^.server *= $server\$" "$2" || fail "the example did not take: $(cat "$2")"
}

@test "xinetd: the service alone, all reset; with LD_PRELOAD given to xinetd, or started through resetguard as examples/inetd/xinetd.conf shows, none" {
	require xinetd
	local conf=$BATS_TEST_TMPDIR/xinetd.conf how
	for how in plain preloaded example; do
		xinetd_conf "${how/preloaded/plain}" "$conf"
		local env=()
		[[ $how != preloaded ]] || env=(LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so" RESETGUARD_LOG="$LOG")
		start_server env "${env[@]}" xinetd -dontfork -pidfile "$BATS_TEST_TMPDIR/xinetd.pid" -f "$conf"
		wait_port "$PORT"
		SERVER_PORT=$PORT run_clients raw 5
		echo "$how: $RESETS of 5 clients reset"
		if [[ $how == plain ]]; then
			assert_equal "$RESETS" 5
		else
			assert_equal "$RESETS" 0
			assert_equal "$(grep -c '^ok [0-9]* 413 too large' <<<"$output")" 5
		fi
		stop_servers
	done
}

# The superserver (not under resetguard) closes its copy only after the
# service has answered and exited: the service's last close finds it still
# holding the socket, and must not shut it down under it; then the
# superserver's close would be the plain last one.  Whoever closes last
# lingers: the service's drainer (its heir, once it has exited) keeps the
# socket until the superserver let go, then shuts down and drains.
@test "a superserver outside resetguard that closes after its service exited: the service lingers for it, no client reset" {
	local how
	for how in plain preloaded; do
		local env=()
		[[ $how == plain ]] || env=(LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so" RESETGUARD_LOG="$LOG" RESETGUARD_LOG_LEVEL=debug)
		PORT=$(free_port)
		start_server python3 "$HELPERS/late_superserver.py" "$PORT" env "${env[@]}" "$SERVICE"
		wait_port "$PORT"
		SERVER_PORT=$PORT run_clients raw 5
		echo "$how: $RESETS of 5 clients reset"
		if [[ $how == plain ]]; then
			assert_equal "$RESETS" 5
		else
			assert_equal "$RESETS" 0
			assert_equal "$(grep -c '^ok [0-9]* 413 too large' <<<"$output")" 5
		fi
		stop_servers
	done
	# Each service's last close (of fd 1; fd 0 goes first) lingered to the
	# peer's EOF; none was plain for a holder outside.
	wait_log 'event=linger outcome=eof fd=1 ' 10 5
	run grep -c 'event=close outcome=shared fd=1 ' "$LOG"
	assert_output 0
}
