#!/usr/bin/env bats
# One definition of each setting (shim/settings.def): the command checks a
# value with the library's own parser, the start-up line and the man pages
# follow the list.  The config file (resetguard.conf(5)), its precedence,
# and the scope: programs left out, children started without the library.

setup() {
	load helpers/common
	CONF=$BATS_TEST_TMPDIR/resetguard.conf
	: >"$CONF"
	chmod 0644 "$CONF"
}

# The start-up line's value of $1 for the command "$@" after it.
start_value() {
	local key=$1
	shift
	rm -f "$LOG"
	RESETGUARD_LOG_LEVEL=info RESETGUARD_LOG=$LOG "$@" true || return 1
	grep -m1 'event=start' "$LOG" | grep -oE " $key=[^ ]*" | cut -d= -f2
}

@test "durations take ms, s, m and h, with decimals; the start-up line shows them in ms" {
	local d ms
	for d in 250ms:250 1.5s:1500 1m:60000 0.5h:1800000 1h:3600000 2.25s:2250; do
		ms=${d#*:} d=${d%%:*}
		run start_value linger_time_ms env RESETGUARD_LINGER_TIME="$d" "$RG"
		assert_output "$ms"
		run start_value linger_time_ms "$RG" --linger-time "$d"
		assert_output "$ms"
	done
}

@test "a bad duration: one line naming the setting, the bounds and the value used; the program runs" {
	local d
	for d in 7200s 61m 2h 0s 0.0001s 1.5 1.s .5s 5x; do
		run --separate-stderr env RESETGUARD_LINGER_TIME=$d "$RG" echo still here
		assert_success
		assert_output "still here"
		assert_equal "$stderr" "resetguard: RESETGUARD_LINGER_TIME=$d is not a duration from 1ms to 1h, such as 500ms, 1.5s or 2m; using 30s"
	done
}

@test "the command refuses exactly what the library would refuse, with the library's reason" {
	run --separate-stderr "$RG" --linger-time 7200s true
	assert_failure 125
	assert_equal "$stderr" "resetguard: invalid value for --linger-time: '7200s' is not a duration from 1ms to 1h, such as 500ms, 1.5s or 2m"
	run --separate-stderr "$RG" --rate 5/0 true
	assert_failure 125
	assert_equal "$stderr" "resetguard: invalid value for --rate: '5/0' is not lines per second, optionally /burst (e.g. 20 or 20/200), or 0"
	# And the library refuses them too, as it did.
	run --separate-stderr env RESETGUARD_LOG_RATE=5/0 "$RG" true
	assert_equal "$stderr" "resetguard: RESETGUARD_LOG_RATE=5/0 is not lines per second, optionally /burst (e.g. 20 or 20/200), or 0; using 20/200"
	# What the command takes, the library takes without a word.
	run --separate-stderr "$RG" --linger-time 59m --rate 5/1 --linger-max auto --metrics off true
	assert_success
	assert_equal "$stderr" ""
}

@test "the start-up line shows the linger limit in force, not 0" {
	run start_value linger_max bash -c "ulimit -n 1024; exec \"\$0\" \"\$@\"" "$RG"
	assert_output 256
	run start_value linger_max "$RG" --linger-max 9
	assert_output 9
}

@test "every setting is in resetguard(7) with its default and its option in resetguard(1); nothing else is" {
	run "$RG" --list-settings
	assert_success
	[[ ${#lines[@]} -ge 20 ]] || fail "too few settings: $output"
	"$RG" --list-settings >"$BATS_TEST_TMPDIR/list"
	run python3 "$HELPERS/mancheck.py" "$BATS_TEST_TMPDIR/list" \
		"$BATS_TEST_DIRNAME/../man/resetguard.7" "$BATS_TEST_DIRNAME/../man/resetguard.1"
	assert_success
	assert_output ""
}

@test "config file: sets what the environment does not; the variable wins over it, the option over both" {
	printf '# comment\n\nRESETGUARD_LOG_LEVEL=info\n  RESETGUARD_LINGER_TIME = "1.5s"\nRESETGUARD_LOG_FORMAT=json\n' >"$CONF"
	RESETGUARD_CONF=$CONF RESETGUARD_LOG=$LOG run --separate-stderr "$RG" true
	assert_success
	assert_equal "$stderr" ""
	run python3 -c '
import json, sys
s = json.loads(open(sys.argv[1]).readline())
print(s["event"], s["conf"], s["linger_time_ms"])' "$LOG"
	assert_output "start $CONF 1500"
	rm "$LOG"
	RESETGUARD_CONF=$CONF RESETGUARD_LOG=$LOG RESETGUARD_LINGER_TIME=2m run "$RG" --format logfmt true
	run grep -o 'event=start .* linger_time_ms=[0-9]*' "$LOG"
	assert_output --regexp 'linger_time_ms=120000$'
	# Without the file, none of it.
	rm "$LOG"
	RESETGUARD_LOG=$LOG run "$RG" true
	[[ ! -s $LOG ]] || fail "a start line without the file's level: $(cat "$LOG")"
}

@test "config file: a bad line costs one stderr line naming file:line and the fallback; the rest is used" {
	printf 'RESETGUARD_LOG_LEVEL=info\nnonsense\nRESETGUARD_NOPE=1\nRESETGUARD_LINGER_TIME=2h\nRESETGUARD_CONF=/x\nRESETGUARD_LINGER_TIMEOUT=1.5s\n' >"$CONF"
	RESETGUARD_CONF=$CONF RESETGUARD_LOG=$LOG run --separate-stderr "$RG" echo still here
	assert_success
	assert_output "still here"
	assert_equal "${#stderr_lines[@]}" 4
	assert_equal "${stderr_lines[0]}" "resetguard: $CONF:2: not a KEY=value line; line ignored"
	assert_equal "${stderr_lines[1]}" "resetguard: $CONF:3: RESETGUARD_NOPE: not a setting; line ignored"
	assert_equal "${stderr_lines[2]}" "resetguard: $CONF:4: RESETGUARD_LINGER_TIME=2h is not a duration from 1ms to 1h, such as 500ms, 1.5s or 2m; using 30s"
	assert_equal "${stderr_lines[3]}" "resetguard: $CONF:5: RESETGUARD_CONF: only the environment can name the config file; line ignored"
	run grep -o 'event=start .* linger_timeout_ms=[0-9]*' "$LOG"
	assert_output --regexp 'linger_timeout_ms=1500$'
	# A bad variable over a good file line falls back to the file's value.
	RESETGUARD_CONF=$CONF RESETGUARD_LINGER_TIMEOUT=soon run --separate-stderr "$RG" true
	assert_equal "${stderr_lines[4]}" "resetguard: RESETGUARD_LINGER_TIMEOUT=soon is not a duration from 1ms to 1h, such as 500ms, 1.5s or 2m; using the value from the config file"
}

@test "config file: one others could edit is not used, nor a missing one named by RESETGUARD_CONF" {
	printf 'RESETGUARD_LOG_LEVEL=info\n' >"$CONF"
	chmod 0664 "$CONF"
	RESETGUARD_CONF=$CONF RESETGUARD_LOG=$LOG run --separate-stderr "$RG" true
	assert_success
	assert_equal "$stderr" "resetguard: RESETGUARD_CONF=$CONF is not owned by root or the user, or is writable by group or others; using the environment and defaults only"
	[[ ! -s $LOG ]] || fail "the file was used: $(cat "$LOG")"
	RESETGUARD_CONF=$BATS_TEST_TMPDIR/none run --separate-stderr "$RG" true
	assert_success
	assert_equal "$stderr" "resetguard: RESETGUARD_CONF=$BATS_TEST_TMPDIR/none cannot be read (No such file or directory); using the environment and defaults only"
}

# What a program shows of itself: its descriptors, its threads, whether a
# write to a reset socket killed it.
self_report() {
	# Builtins alone: bash is the one program that runs.
	"$@" bash -c 'fds=(/proc/$$/fd/*) tasks=(/proc/$$/task/*); echo "fds=${fds[*]##*/} threads=${#tasks[@]}"' 2>&1
	"$@" "$PROBE" write write 2>&1 | sed 's/^peer=.*/peer=/'
	echo "status=${PIPESTATUS[0]}"
}

@test "scope: a program left out behaves exactly as without the library; one named is guarded" {
	local dir=$BATS_TEST_TMPDIR/metrics without
	mkdir "$dir"
	without=$(self_report env)
	[[ $without == *status=141* ]] || fail "SIGPIPE did not kill the probe without the library: $without"
	# Logging to a file and keeping metrics: the library would hold a
	# descriptor and a thread in every program it acts in.
	printf 'RESETGUARD_LOG=%s\nRESETGUARD_METRICS=%s\nRESETGUARD_LOG_LEVEL=info\nRESETGUARD_SKIP_CMDS=bash, resetprobe\n' "$LOG" "$dir" >"$CONF"
	run self_report env RESETGUARD_CONF="$CONF" LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so"
	assert_output "$without"
	[[ ! -e $LOG ]] || fail "a log from programs left out: $(cat "$LOG")"
	run ls "$dir"
	assert_output ""
	# ONLY_CMDS names the probe alone: bash is left out, the probe guarded.
	RESETGUARD_CONF=$CONF RESETGUARD_SKIP_CMDS= RESETGUARD_ONLY_CMDS=resetprobe,nginx run self_report env LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so"
	assert_line --index 0 "${without%%$'\n'*}"
	assert_line alive
	assert_line status=0
	run grep -c 'event=start' "$LOG"
	assert_output 1
	run grep -c 'event=start prog=resetprobe' "$LOG"
	assert_output 1
}

@test "RESETGUARD_INHERIT=off (--no-inherit): what the program starts runs without the library" {
	# The program is guarded; what it starts is not: the probe, started by
	# bash, dies of SIGPIPE as without resetguard.
	RESETGUARD_LOG=$LOG RESETGUARD_LOG_LEVEL=info run "$RG" --no-inherit "$PROBE" write write
	assert_success
	assert_line alive
	RESETGUARD_LOG=$LOG run "$RG" --no-inherit bash -c "grep -c resetguard /proc/self/maps; $PROBE write write; echo status=\$?; exit 0"
	assert_line --index 0 0
	assert_line status=141
	# system() too: it starts sh inside libc, with environ as it is.
	run "$RG" --no-inherit python3 -c 'import os; os.system("grep -c resetguard /proc/$$/maps")'
	assert_output 0
	run "$RG" python3 -c 'import os; os.system("grep -c resetguard /proc/$$/maps")'
	refute_output 0
	# The program's LD_PRELOAD keeps whatever else it named.
	RESETGUARD_INHERIT=off LD_PRELOAD=/nonexistent-other.so run --separate-stderr "$RG" bash -c 'echo "$LD_PRELOAD"'
	assert_output "$SAN_PRELOAD/nonexistent-other.so"
	run grep -c 'event=start' "$LOG"
	assert_output 1
	# Inherited by default.
	RESETGUARD_LOG=$LOG run "$RG" bash -c "$PROBE write write; echo status=\$?"
	assert_line alive
	assert_line status=0
}

@test "system-wide: LD_PRELOAD for every program (as /etc/ld.so.preload) and the example config file" {
	cp "$BATS_TEST_DIRNAME/../examples/container/resetguard.conf" "$CONF"
	chmod 0644 "$CONF"
	# A shell script's every command loads the library; only the probe,
	# named in the file, acts.
	RESETGUARD_CONF=$CONF RESETGUARD_LOG=$LOG LD_PRELOAD=$SAN_PRELOAD$B/libresetguard.so \
		run bash -c "ls / >/dev/null; cat </dev/null; $PROBE write write; echo status=\$?"
	assert_line alive
	assert_line status=0
	run grep -o 'event=start prog=[^ ]*' "$LOG"
	assert_output "event=start prog=resetprobe"
}

@test "container-wide: the Dockerfile's ENV lines and its config file, run as the container would" {
	local dockerfile=$BATS_TEST_DIRNAME/../examples/container/Dockerfile line env=()
	cp "$BATS_TEST_DIRNAME/../examples/container/resetguard.conf" "$CONF"
	chmod 0644 "$CONF"
	while read -r line; do
		line=${line#ENV }
		env+=("${line//\/usr\/local\/lib\/resetguard\/libresetguard.so/$SAN_PRELOAD$B/libresetguard.so}")
	done < <(grep '^ENV ' "$dockerfile")
	[[ ${env[*]} == *LD_PRELOAD=* ]] || fail "no LD_PRELOAD in $dockerfile"
	# The image's /etc/resetguard.conf, here named by RESETGUARD_CONF.
	run env "${env[@]}" RESETGUARD_CONF="$CONF" bash -c "$PROBE write write; echo status=\$?"
	assert_line alive
	assert_line status=0
	assert_line --regexp '^ts=.* level=info event=start prog=resetprobe '
	refute_line --regexp 'prog=bash'
}

# --check reads the settings as the library would, config file and scope
# included: it never says yes for a program the library would stay out of,
# nor without naming a destination that cannot be written or a line the
# library would refuse.
@test "--check judges the settings the library would use: the config file's scope, log destination and bad lines" {
	local conf=$BATS_TEST_TMPDIR/resetguard.conf
	printf 'RESETGUARD_ONLY_CMDS=redis-server\n' >"$conf"
	run "$RG" --check "$PROBE"
	assert_success
	RESETGUARD_CONF=$conf run "$RG" --check "$PROBE"
	assert_failure 1
	assert_line --partial "scope:    resetprobe is left out by RESETGUARD_ONLY_CMDS or RESETGUARD_SKIP_CMDS"
	assert_line --partial "verdict:  no: out of scope"
	assert_line "    config file $conf"
	printf 'RESETGUARD_SKIP_CMDS=resetprobe\n' >"$conf"
	RESETGUARD_CONF=$conf run "$RG" --check "$PROBE"
	assert_failure 1
	printf 'RESETGUARD_LOG=%s/missing/x.log\nRESETGUARD_LINGER_TIME=9h\n' "$BATS_TEST_TMPDIR" >"$conf"
	RESETGUARD_CONF=$conf run "$RG" --check "$PROBE"
	assert_failure 2
	assert_line --partial "setting:  $conf:2: RESETGUARD_LINGER_TIME=9h is not a duration"
	assert_line --partial "log:      $BATS_TEST_TMPDIR/missing/x.log: No such file or directory"
	assert_line --partial "verdict:  partly: the log destination cannot be written; a setting would be refused"
}

# In a setuid program the loader preloads only a set-user-ID library from
# its own directories, named without a slash; the test makes one in a
# mount namespace of its own (over a library nothing here uses), runs a
# set-user-ID copy of the probe as nobody, and sees RESETGUARD_CONF
# ignored with one line, where the same variable steers a plain program.
@test "a setuid program: RESETGUARD_CONF is ignored, with one line saying so" {
	((EUID == 0)) || skip "needs root: a set-user-ID library in the loader's directory"
	# A sanitizer's runtime would have to be preloaded first, by a path,
	# which the loader ignores in a setuid program.
	[[ -z ${RESETGUARD_SAN_RUNTIME:-} ]] || skip "the sanitizer's runtime cannot be preloaded into a setuid program"
	require unshare setpriv
	local dir slot=/usr/lib/x86_64-linux-gnu/libBrokenLocale.so.1
	[[ -f $slot ]] || skip "no $slot to stand in for"
	dir=$(mktemp -d /tmp/resetguard-secure.XXXXXX)
	chmod 755 "$dir"
	cp "$B/libresetguard.so" "$dir/rg.so"
	cp "$PROBE" "$dir/probe"
	chmod 4755 "$dir/rg.so" "$dir/probe"
	printf 'RESETGUARD_LOG_LEVEL=info\n' >"$dir/steer.conf"
	chmod 644 "$dir/steer.conf"
	# shellcheck disable=SC2016 # expanded by the inner shell
	local script='mount --bind "$1/rg.so" "$2" &&
		exec setpriv --reuid=65534 --regid=65534 --clear-groups \
			env RESETGUARD_CONF="$1/steer.conf" LD_PRELOAD="${2##*/}" "$1/$3" write write'
	chmod u-s "$dir/probe"
	run --separate-stderr unshare -m sh -c "$script" sh "$dir" "$slot" probe
	assert_success
	assert_line alive
	[[ $stderr == *"event=start prog=probe"* ]] || fail "the plain program did not take the file: $stderr"
	chmod u+s "$dir/probe"
	run --separate-stderr unshare -m sh -c "$script" sh "$dir" "$slot" probe
	rm -rf -- "$dir"
	assert_success
	assert_line alive
	assert_equal "$(grep -c 'RESETGUARD_CONF=.* is ignored in a setuid or setgid program; using /etc/resetguard.conf' <<<"$stderr")" 1
	[[ $stderr != *"event=start"* ]] || fail "the setuid program took the file: $stderr"
}
