/* Where log records go: stderr, a file, syslog or journald.  Every record
 * leaves in one write() or one datagram; a sink that fails says so once on
 * stderr and hands over to stderr. */
#ifndef RG_SINK_H
#define RG_SINK_H

#include <stdbool.h>

#include "config.h"
#include "format.h"

void rg_sink_open(void);
/* True when records should also be rendered as journald fields. */
bool rg_sink_is_journal(void);
/* Sends one finished record: line in the configured format, fields the
 * same record as journald fields (only for the journal sink), msgid the
 * event name, err the errno it is about (0: none). */
void rg_sink_send(enum rg_log_level level, const char *msgid, int err, const struct rg_line *line,
		  const struct rg_line *fields);
/* resetguard's own one-line complaints: always stderr, never SIGPIPE. */
void rg_sink_stderr(const struct rg_line *line);


#endif
