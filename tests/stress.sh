#!/usr/bin/env bash
# tests/stress.sh -- `make stress`: tests/progs/stress in several processes
# at once, without resetguard and with it, then the checks of
# tests/helpers/stress_check.py on what they printed and what was logged.
#
# Then the differential oracle (tests/oracle/run) for as long again, on
# fresh random seeds; a failing seed is printed with its replay command;
# then real servers that answer early (tests/soak.sh), as long again.
#
# STRESS_SECONDS (60) how long each process under resetguard runs,
# STRESS_SEED (the time) the random seed, printed on failure,
# STRESS_PROCS (3) processes of STRESS_THREADS (8) threads each.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
B=$(cd -- "${BUILD:-$root/build}" && pwd)
seconds=${STRESS_SECONDS:-60}
seed=${STRESS_SEED:-$(date +%s)}
procs=${STRESS_PROCS:-3}
threads=${STRESS_THREADS:-8}
timeout_ms=300 time_ms=1000
# The threads stop after $seconds; then exit waits for lingering sockets,
# bounded by the deadline.  Anything much later than that is a hang.
hard_limit=$((seconds + 60))
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

fail() {
	echo "stress: FAILED with STRESS_SEED=$seed: $*" >&2
	exit 1
}

# run_stress NAME [ENV...] CMD...: runs CMD in the background with its
# output in $tmp/NAME.out; its pid in PIDS[NAME].
declare -A PIDS
run_stress() {
	local name=$1
	shift
	timeout -k 5 "$hard_limit" env "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	PIDS[$name]=$!
}

# The exit status of NAME, explained: a signal or the timeout is a failure.
expect_status() {
	local name=$1 want=$2 status=0
	wait "${PIDS[$name]}" || status=$?
	((status != 124 && status != 137)) || fail "$name hung (still running after ${hard_limit}s)"
	if ((status != want)); then
		cat "$tmp/$name.out" "$tmp/$name.err" >&2
		((status > 128)) && fail "$name was killed by signal $((status - 128))"
		fail "$name exited with $status, not $want"
	fi
}

stress=("$B/tests/stress" -t "$threads" -s "$seed" -w $((time_ms + 2000)))
echo "stress: seed $seed, $procs processes of $threads threads, ${seconds}s"

# Without resetguard: a write after a reset kills the program with SIGPIPE
# unless it ignores it; then it runs clean and nothing is held above 768.
short=$((seconds < 5 ? seconds : 5))
run_stress bare-dfl "${stress[@]}" -d "$short"
run_stress bare-ign "${stress[@]}" -d "$short" -P
expect_status bare-dfl $((128 + 13))
expect_status bare-ign 0
prog=$(sed -n 's/^fds start prog=\([0-9]*\) own=0$/\1/p' "$tmp/bare-ign.out")
grep -q "^fds end prog=$prog own_sockets=0 own_epoll=0 own_eventfd=0 own_files=0\$" "$tmp/bare-ign.out" ||
	fail "without resetguard: $(grep '^fds' "$tmp/bare-ign.out")"

# With resetguard: the first process through the command, the others by
# LD_PRELOAD; the last one ignores SIGPIPE itself.
log=$tmp/rg.log
settings=(RESETGUARD_LOG="$log" RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG_RATE=0
	RESETGUARD_LINGER_TIMEOUT=${timeout_ms}ms RESETGUARD_LINGER_TIME=${time_ms}ms)
outs=()
for ((i = 0; i < procs; i++)); do
	how=("${settings[@]}" LD_PRELOAD="$B/libresetguard.so")
	((i > 0)) || how=("${settings[@]}" "$B/resetguard")
	extra=()
	((i < procs - 1 || procs == 1)) || extra=(-P)
	run_stress "rg$i" "${how[@]}" "${stress[@]}" -d "$seconds" "${extra[@]}"
	outs+=("$tmp/rg$i.out")
done
for ((i = 0; i < procs; i++)); do expect_status "rg$i" 0; done

# No torn line: every line is whole logfmt, and the file ends with one.
[[ -s $log && -z $(tail -c 1 "$log") ]] || fail "the log is empty or ends inside a line"
python3 "$root/tests/helpers/logfmt.py" <"$log" >"$tmp/log.json" || fail "a torn log line"
python3 "$root/tests/helpers/stress_check.py" "$tmp/log.json" "$timeout_ms" "$time_ms" "${outs[@]}" ||
	fail "see above"
echo "stress: $(cat "${outs[@]}" | awk -F= '/^ops=/ { n += $2 } END { print n }') connections," \
	"$(wc -l <"$log") log lines, all checks passed"

# The differential oracle: fresh seeds, without and with the library.
echo "stress: the differential oracle, fresh seeds for ${seconds}s"
BUILD=$B "$root/tests/oracle/run" --seconds "$seconds" --jobs 2 --lib "$B/libresetguard.so" ||
	fail "the differential oracle found a difference (FAIL lines above, each with its replay)"

# Real servers that answer early, under resetguard for as long again.
SOAK_SECONDS=$seconds BUILD=$B "$root/tests/soak.sh" || fail "the soak of real servers failed (above)"
