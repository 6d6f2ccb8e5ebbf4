#!/usr/bin/env bats
# The differential oracle (tests/oracle/): a scenario generated from a seed
# runs without and with the library, and everything the program can observe
# must be the same, but for resetguard's documented effects (the allowed[]
# table in tests/oracle/compare.c).  Here a short fixed set of seeds that
# together use every kind of step and every variant of each (see
# `build/oracle/oracle show SEED`); `make stress` runs fresh seeds.

setup() {
	load helpers/common
	RUN=$BATS_TEST_DIRNAME/oracle/run
}

# A greedy cover of the 119 kinds and variants of steps that seeds 1-2000
# use (`oracle show`): operation, call, flags, epoll mode, exit, exec.
SEEDS=710,1750,1246,807,822,859,664,1371,501,33,143,77

@test "oracle: without the library, every scenario observes the same twice" {
	BUILD=$B run "$RUN" --seeds "$SEEDS" --selfcheck --jobs 2
	assert_success
	assert_output --partial "0 failed"
}

@test "oracle: with resetguard, the program observes what it does without, but for the allowed differences" {
	BUILD=$B run "$RUN" --seeds "$SEEDS" --lib "$SAN_PRELOAD$B/libresetguard.so" --jobs 2
	assert_success
	assert_output --partial "0 failed"
}

# Seeds that once found a difference, kept so that it stays gone.
# 853720643: a program at its descriptor limit exits with a socket to let
# go of, and no drainer thread can start (no descriptor for its epoll
# set); the plain close's record, written with the drainer's lock held,
# had the log file (given up for the program) opened again under that
# same lock: the exit hung for ever.
@test "oracle: seeds that found a bug observe the same with and without" {
	BUILD=$B run "$RUN" --seeds 853720643 --lib "$SAN_PRELOAD$B/libresetguard.so" --jobs 1
	assert_success
	assert_output --partial "0 failed"
}

# The oracle itself can fail: a preload library that shuts down every
# socket it closes, shared or not, breaks the program's other descriptors.
@test "oracle: it catches a naive graceful close that shuts down shared sockets" {
	BUILD=$B run "$RUN" --seeds "$SEEDS" --lib "$SAN_PRELOAD$B/oracle/naive.so" --jobs 2
	assert_failure
	assert_output --partial "FAIL seed"
}
