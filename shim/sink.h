/* Where log records go: stderr, a file, syslog or journald.  Every record
 * leaves in one write() or one datagram; a sink that fails says so once
 * and hands over to the fallback: stderr, else syslog, else nothing.  The
 * stderr is the one the program was started with, and never a socket. */
#ifndef RG_SINK_H
#define RG_SINK_H

#include <stdbool.h>

#include "config.h"
#include "format.h"

/* First thing at load: what stderr is, before anything is written to it. */
void rg_sink_look_at_stderr(void);
void rg_sink_open(void);
/* In a forked child, with every lock taken: the child lets go of
 * resetguard's copy of stderr. */
void rg_sink_fork_child(void);
/* In the heir: the copy of stderr is kept only when it is a regular file
 * (no reader waits for its EOF); else nothing is written to stderr. */
void rg_sink_heir(void);
/* True when records should also be rendered as journald fields. */
bool rg_sink_is_journal(void);
/* Sends one finished record: line in the configured format, fields the
 * same record as journald fields (only for the journal sink), msgid the
 * event name, err the errno it is about (0: none). */
void rg_sink_send(enum rg_log_level level, const char *msgid, int err, const struct rg_line *line,
		  const struct rg_line *fields);
/* resetguard's own one-line complaints: to stderr, else syslog (never to
 * a socket), never raising SIGPIPE. */
void rg_sink_stderr(const struct rg_line *line);


#endif
