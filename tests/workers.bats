#!/usr/bin/env bats
# Programs that rewrite their argv and environment for a process title
# (nginx, postgres, sendmail), and the long-lived workers they fork:
# resetguard names them after what it copied at load, keeps its settings
# from the environment as they were, and a forked worker publishes its
# metrics while it runs.

setup() {
	load helpers/common
	require nginx curl
}

teardown() {
	stop_servers
}

# nginx with a master and two workers, in the foreground, under $1 (if
# any), with the environment given after it; answers "hello".  Sets
# NGINX_DIR and NGINX_PORT.
nginx_start() {
	local wrap=$1 user=
	shift
	NGINX_DIR=$BATS_TEST_TMPDIR/nginx.$RANDOM
	NGINX_PORT=$(free_port)
	mkdir -p "$NGINX_DIR"
	# As root, workers would switch to nobody, who cannot write here.
	[[ $EUID != 0 ]] || user="user root;"
	cat >"$NGINX_DIR/nginx.conf" <<-EOF
		$user
		daemon off;
		master_process on;
		worker_processes 2;
		pid $NGINX_DIR/nginx.pid;
		error_log $NGINX_DIR/error.log;
		events { worker_connections 64; }
		http {
		    access_log off;
		    client_body_temp_path $NGINX_DIR/body;
		    proxy_temp_path $NGINX_DIR/proxy;
		    fastcgi_temp_path $NGINX_DIR/fastcgi;
		    uwsgi_temp_path $NGINX_DIR/uwsgi;
		    scgi_temp_path $NGINX_DIR/scgi;
		    server {
		        listen 127.0.0.1:$NGINX_PORT;
		        location / { return 200 "hello\n"; }
		    }
		}
	EOF
	env "$@" ${wrap:+"$wrap"} nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" \
		>"$BATS_TEST_TMPDIR/server.out" 2>"$BATS_TEST_TMPDIR/server.err" 3>&- &
	SERVER_PID=$!
	wait_port "$NGINX_PORT"
}

nginx_stop() {
	kill -QUIT "$SERVER_PID"
	wait "$SERVER_PID" || true
	SERVER_PID=
}

# The worker processes: the master's children.
nginx_workers() {
	local i
	for i in $(seq 100); do
		WORKERS=$(pgrep -P "$SERVER_PID" | tr '\n' ' ')
		[[ $(wc -w <<<"$WORKERS") == 2 ]] && return 0
		sleep 0.05
	done
	fail "nginx has no two workers: $WORKERS"
}

@test "nginx master and workers: prog=nginx, one metrics file for the service in RESETGUARD_METRICS, there while it runs" {
	# The master has a metrics thread when it forks its workers, and GCC
	# 12's libasan takes no allocator lock at fork (tests/noharm.bats).
	skip_under_sanitizer asan "its allocator's locks are copied held into children forked while threads run"
	local metrics=$BATS_TEST_TMPDIR/metrics w i f
	mkdir -p "$metrics"

	nginx_start ""
	run curl -sS "http://127.0.0.1:$NGINX_PORT/"
	assert_output hello
	nginx_stop

	nginx_start "$RG" RESETGUARD_LOG="$LOG" RESETGUARD_LOG_LEVEL=info \
		RESETGUARD_METRICS="$metrics" RESETGUARD_METRICS_INTERVAL=1s
	nginx_workers
	for i in 1 2 3 4; do
		run curl -sS "http://127.0.0.1:$NGINX_PORT/"
		assert_output hello
	done
	# Master and workers are one family: one file, named after the
	# program, there while nginx runs.
	f=$metrics/resetguard_nginx.prom
	for i in $(seq 100); do
		[[ -e $f ]] && break
		sleep 0.05
	done
	[[ -e $f ]] || fail "no metrics file while nginx runs: $(ls "$metrics")"
	grep -q '^resetguard_resets_total{name="nginx"} 0$' "$f" || fail "$f: $(cat "$f")"
	nginx_stop

	# Nothing else was written there, and nothing to /.
	run ls -A "$metrics"
	assert_output resetguard_nginx.prom
	[[ ! -e /resetguard_nginx.prom ]] || fail "a worker wrote its metrics to /"
	# Records name the program as it was started, from master and workers.
	run grep -o ' prog=[^ ]*' "$LOG"
	assert_success
	run sort -u <<<"$output"
	assert_output " prog=nginx"
	local from_worker=0
	for w in $WORKERS; do
		grep -q " prog=nginx pid=$w " "$LOG" && from_worker=1
	done
	[[ $from_worker == 1 ]] || fail "no record from a worker: $(cat "$LOG")"
}
