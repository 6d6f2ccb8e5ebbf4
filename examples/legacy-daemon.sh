#!/bin/sh
# Start a legacy daemon under resetguard: SIGPIPE no longer kills it on
# socket writes, its closes no longer reset clients, and every reset it
# meets is logged with the peer and the call that failed.
#
# Use it as the daemon's start script (from an init script, a supervisor
# such as runit or s6, or ExecStart= in a systemd unit), with the daemon
# kept in the foreground so the supervisor sees its real exit status.
# Arguments given to this script are passed on to the daemon.
#
# Settings and the log format: resetguard(1), resetguard(7).
set -eu

daemon=/usr/sbin/mydaemon
logdir=/var/log/resetguard

# The log file's directory must exist: resetguard does not create it (it
# falls back to stderr, and says so once, if it cannot open the file).
mkdir -p "$logdir"

# Check first that the library can attach at all: it cannot to statically
# linked programs, Go programs built without cgo, or setuid/setcap ones.
# This only warns, with resetguard's report (which says why); the daemon
# starts either way.
if ! report=$(resetguard --check "$daemon"); then
	printf 'legacy-daemon: resetguard cannot attach; starting %s unguarded\n%s\n' \
		"$daemon" "$report" >&2
fi

# exec, so that the daemon takes over this process: the supervisor's
# signals reach it and its exit status is the script's.  resetguard itself
# exec()s the daemon too, so no wrapper process stays in between.
#
#   --log     append records to a file (a relative path would be made
#             absolute here, before the daemon can chdir anywhere)
#   --level   info: every graceful close too, a start-up line with the
#             effective settings, and a summary at exit
#   --        everything after it is the daemon's command line
#
# The same, with variables only (they work with any version of the command,
# or with LD_PRELOAD by hand):
#   export RESETGUARD_LOG="$logdir/mydaemon.log" RESETGUARD_LOG_LEVEL=info
#   exec resetguard -- "$daemon" --foreground "$@"
exec resetguard --log "$logdir/mydaemon.log" --level info \
	-- "$daemon" --foreground "$@"
