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
# Under tests/run-sanitized, the sanitizer's runtime and a colon: whatever
# sets LD_PRELOAD itself must put it first, as that build's command does.
SAN_PRELOAD=${RESETGUARD_SAN_RUNTIME:+$RESETGUARD_SAN_RUNTIME:}

# The shape of a reset line, key by key, in the documented order.
LINE_RE='^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z level=warn event=(reset|pipe|error) errno=E[A-Z]+ op=[a-z0-9_]+ fd=[0-9]+ peer=[^ ]+ local=[^ ]+ role=(client|server|pair|unknown) prog=[^ ]+ pid=[0-9]+( age_ms=[0-9]+)? tx_bytes=[0-9]+ rx_bytes=[0-9]+( peer_pid=[0-9]+ peer_uid=[0-9]+)? conn_id=[0-9]+(( idle_ms=[0-9]+)? tcp_state=[A-Z_0-9]+( rtt_us=[0-9]+)? retrans=[0-9]+)?( unacked=[0-9]+)?( cookie=[0-9]+)?( cause=[a-z_]+)?$'

# Skips a test that cannot run under one sanitizer (tests/run-sanitized):
# $1 asan or tsan, $2 why.  Say why it is the sanitizer, not resetguard.
skip_under_sanitizer() {
	[[ ${RESETGUARD_SAN_RUNTIME:-} != */lib$1.so* ]] || skip "not under $1: $2"
}

# Skips a test that cannot hold for the musl build under test (make
# check-musl runs some files with it): $1 says why; resetguard(7), MUSL.
skip_under_musl() {
	! grep -q ld-musl "$PROBE" 2>/dev/null || skip "under musl: $1"
}

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

# free_port, wait_port.
source "${BASH_SOURCE[0]%/*}/ports.bash"

# Starts a server in the background (its pid in SERVER_PID) with stdout to
# $BATS_TEST_TMPDIR/server.out and stderr to server.err.
start_server() {
	"$@" >"$BATS_TEST_TMPDIR/server.out" 2>"$BATS_TEST_TMPDIR/server.err" 3>&- &
	SERVER_PID=$!
}

# Starts tests/progs/lingerserver with the given arguments (under the
# command in $WRAP, if any) and waits for its "listening" line; sets
# SERVER_PORT (or the socket path).
start_lingerserver() {
	local ready=$BATS_TEST_TMPDIR/ready.$RANDOM word
	mkfifo "$ready"
	${WRAP:-} "$B/tests/lingerserver" "$@" >"$ready" 2>>"$BATS_TEST_TMPDIR/server.err" 3>&- &
	SERVER_PID=$!
	exec 4<"$ready"
	read -r -t 20 word SERVER_PORT <&4 || fail "lingerserver did not start"
	# The rest of its output (one close_us line per connection) goes on
	# to a file the test can read.
	cat <&4 >"$BATS_TEST_TMPDIR/server.out" 3>&- &
	SERVER_OUT_PID=$!
	exec 4<&-
}

# Waits for the server started above to finish on its own, and for all of
# its output; sets SERVER_STATUS.
wait_server() {
	SERVER_STATUS=0
	wait "$SERVER_PID" || SERVER_STATUS=$?
	[[ -z ${SERVER_OUT_PID:-} ]] || wait "$SERVER_OUT_PID" || true
	SERVER_PID=
}

# Runs $1 upload clients (upload_client.py KIND) against SERVER_PORT and
# sets RESETS to how many were reset.
run_clients() {
	local kind=$1 count=$2 bytes=${3:-2000000} host=${4:-127.0.0.1} port=${SERVER_PORT:-0}
	[[ $host != /* ]] || port=0
	run python3 "$HELPERS/upload_client.py" "$host" "$port" "$kind" "$count" "$bytes"
	assert_success
	RESETS=${lines[-1]#resets=}
}

# Called from teardown: no server outlives its test.
stop_servers() {
	if [[ -n ${SERVER_PID:-} ]]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
}

# Waits until $3 lines (default 1) of $LOG match the extended regexp $1,
# for at most $2 seconds (default 10): records written by the heir
# (heir.c) after the program itself has gone.
wait_log() {
	local i
	for i in $(seq $((${2:-10} * 20))); do
		(($(grep -cE -- "$1" "$LOG" 2>/dev/null) >= ${3:-1})) && return 0
		sleep 0.05
	done
	fail "fewer than ${3:-1} lines matching '$1' in $LOG"
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
