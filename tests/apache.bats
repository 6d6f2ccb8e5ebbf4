#!/usr/bin/env bats
# apache2 with the prefork MPM and a CGI program, as Debian ships them:
# apache lingers itself before it closes (its lingering close), so early
# answers reach the client with or without resetguard.  Under resetguard
# the server, its workers (which drop privileges) and its CGI children must
# behave exactly as without: the same answers byte for byte, no client
# reset, no worker lost.

setup() {
	load helpers/common
	require apache2 python3
	# Readable by the user the workers switch to.
	WWW=$(mktemp -d /tmp/resetguard-apache.XXXXXX)
	chmod 755 "$WWW"
	mkdir "$WWW/logs"
	cat >"$WWW/early" <<-'CGI'
		#!/bin/sh
		# Answers at once and exits, the request body unread.
		printf 'Status: 413 Payload Too Large\r\nContent-Type: text/plain\r\n\r\ntoo large\n'
	CGI
	chmod 755 "$WWW/early"
}

teardown() {
	stop_servers
	rm -rf -- "$WWW"
}

# Starts apache2 in the foreground on a free port with the given env words
# (NAME=VALUE) in its environment; sets PORT.
start_apache() {
	local user
	PORT=$(free_port)
	user=$( ((EUID == 0)) && echo daemon || id -un)
	cat >"$WWW/httpd.conf" <<-CONF
		ServerRoot $WWW
		LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
		LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
		LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
		LoadModule cgi_module /usr/lib/apache2/modules/mod_cgi.so
		Listen 127.0.0.1:$PORT
		ServerName localhost
		PidFile $WWW/logs/httpd.pid
		ErrorLog $WWW/logs/error.log
		Mutex file:$WWW/logs
		DefaultRuntimeDir $WWW/logs
		ScriptAliasMatch ^/ $WWW/early
		StartServers 2
		User $user
		Group $(id -gn "$user")
	CONF
	# Its own session: at shutdown prefork signals its whole process group.
	start_server setsid env "$@" apache2 -f "$WWW/httpd.conf" -DFOREGROUND
	wait_port "$PORT"
}

# Rounds of 6 clients that upload 8 MB before they read; their answers,
# without the Date header, in $WWW/answers.$1.
answers() {
	local round
	for round in 1 2 3 4 5; do
		run_clients http 6 8000000 127.0.0.1
		printf '%s\n' "${lines[@]}"
	done | sed 's/Date: [^\r]*//' | sort >"$WWW/answers.$1"
}

@test "apache2 prefork with an early-answering CGI: the same answers, no client reset, no worker lost, with resetguard as without" {
	local how
	for how in plain preloaded; do
		local env=()
		[[ $how == plain ]] || env=(LD_PRELOAD="$SAN_PRELOAD$B/libresetguard.so" RESETGUARD_LOG="$LOG" RESETGUARD_LOG_LEVEL=info)
		start_apache "${env[@]}"
		SERVER_PORT=$PORT answers "$how"
		stop_servers
		run grep -c 'exit signal' "$WWW/logs/error.log"
		assert_output 0
	done
	run cat "$WWW/answers.preloaded"
	assert_line --index 0 'ok 178 HTTP/1.1 413 Payload Too Large'
	assert_equal "$(grep -c '^ok 178 HTTP/1.1 413 Payload Too Large$' "$WWW/answers.preloaded")" 30
	assert_equal "$(grep -c '^resets=0$' "$WWW/answers.preloaded")" 5
	diff -u "$WWW/answers.plain" "$WWW/answers.preloaded"
	# The library was there, and had nothing to complain of.  A packet the
	# kernel dropped at the listener (a machine busy with other work: the
	# client sends its SYN again) is reported, as it should be, and is not
	# a complaint about the library.
	run grep -v 'level=info event=\(start\|summary\) \|level=warn event=listen_overflow ' "$LOG"
	refute_output
	grep -q 'event=start prog=apache2' "$LOG"
}
