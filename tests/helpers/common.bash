# Loaded by every .bats file: the libraries, paths, and small helpers that
# start real peers and wait for them by readiness, never by time.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

B=${RESETGUARD_BUILD:?run the suite with tests/run or make test}
RG=$B/resetguard
PROBE=$B/tests/resetprobe
HELPERS=$BATS_TEST_DIRNAME/helpers
LOG=$BATS_TEST_TMPDIR/reset.log

# The shape of a reset line, key by key, in the documented order.
LINE_RE='^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z level=warn event=(reset|pipe|error) errno=E[A-Z]+ op=[a-z0-9_]+ fd=[0-9]+ peer=[^ ]+ local=[^ ]+ role=(client|server|pair|unknown) prog=[^ ]+ pid=[0-9]+ age_ms=[0-9]+ tx_bytes=[0-9]+ rx_bytes=[0-9]+( peer_pid=[0-9]+ peer_uid=[0-9]+)?$'

# A tool the suite can do without on a developer's machine, but not in CI.
require() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null && continue
		[[ ${RESETGUARD_TEST_REQUIRE_ALL:-} == 1 ]] && fail "$tool is required (RESETGUARD_TEST_REQUIRE_ALL=1)"
		skip "$tool is not installed"
	done
}

# Starts tests/helpers/reset_server.py with the given arguments and waits
# until it listens; sets SERVER_FAMILY, SERVER_HOST, SERVER_PORT (for unix,
# SERVER_HOST is the path) and SERVER_ADDR as resetguard prints it.
start_reset_server() {
	local ready=$BATS_TEST_TMPDIR/ready.$RANDOM
	mkfifo "$ready"
	python3 "$HELPERS/reset_server.py" "$@" >"$ready" 3>&- &
	SERVER_PID=$!
	read -r -t 20 SERVER_FAMILY SERVER_HOST SERVER_PORT <"$ready" || fail "reset server did not start"
	case $SERVER_FAMILY in
	inet) SERVER_ADDR=$SERVER_HOST:$SERVER_PORT ;;
	inet6) SERVER_ADDR=[$SERVER_HOST]:$SERVER_PORT ;;
	unix) SERVER_ADDR=unix:$SERVER_HOST ;;
	esac
}

# Called from teardown: no server outlives its test.
stop_servers() {
	if [[ -n ${SERVER_PID:-} ]]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
}

# The number of lines in $LOG (0 when there is none).
log_lines() {
	[[ -f $LOG ]] && wc -l <"$LOG" || echo 0
}

# Every line of $LOG has the documented shape.
assert_log_well_formed() {
	local line
	while IFS= read -r line; do
		[[ $line =~ $LINE_RE ]] || fail "malformed log line: $line"
	done <"$LOG"
}
