#!/usr/bin/env bash
# What one wrapped call costs: extra system calls (strace -c, exact) and
# user-space instructions (callgrind, repeatable) per call, with and without
# the shim, for write+read and send+recv on a socket and write to /dev/null.
set -euo pipefail
build=${BUILD:-build}
lib=$(realpath "$build/libresetguard.so")
bin=$build/bench/hotpath
n=${N:-20000}
# shellcheck disable=SC2030,SC2031 # n is passed down per call on purpose

syscalls() { # mode [preload]
	strace -f -c -o /dev/stdout env ${2:+LD_PRELOAD=$2} "$bin" "$1" "$n" |
		awk '$NF == "total" { print $4 }'
}
instructions() { # mode [preload]
	local out
	out=$(mktemp)
	env ${2:+LD_PRELOAD=$2} valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$n" 2>&1 |
		sed -n 's/.*Collected : //p' | tail -1
	rm -f "$out"
}

# Per call: the difference between a run of 2n and a run of n iterations,
# which cancels start-up (binding libc, reading settings) on both sides.
per_call() { # mode calls-per-iteration measure [preload]
	local a b
	a=$(n=$n "$3" "$1" ${4:-})
	b=$(n=$((2 * n)) "$3" "$1" ${4:-})
	echo "($b - $a) / ($n * $2)" | bc -l
}

printf '%-18s %14s %14s %14s %14s\n' 'loop (calls/iter)' syscalls/call '+shim' instr/call '+shim'
for mode in socket send devnull; do
	per=$([[ $mode == devnull ]] && echo 1 || echo 2)
	printf '%-18s %14.3f %14.3f %14.1f %14.1f\n' "$mode ($per)" \
		"$(per_call "$mode" "$per" syscalls)" "$(per_call "$mode" "$per" syscalls "$lib")" \
		"$(per_call "$mode" "$per" instructions)" "$(per_call "$mode" "$per" instructions "$lib")"
done
