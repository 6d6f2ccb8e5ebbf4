/* Building one log record in a fixed buffer, as a logfmt line, a JSON
 * object or journald native fields: escaping, RFC 3339 time, socket
 * addresses.  Everything here is async-signal-safe (no stdio, no
 * locale, no allocation), because a reset can surface in a signal handler. */
#ifndef RG_FORMAT_H
#define RG_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fdtable.h"

/* At most PIPE_BUF, so one write() of a line is atomic on a pipe and never
 * interleaves with another process's line in an O_APPEND file; kept well
 * under it because the buffer lives on the stack, which may be a small
 * sigaltstack. */
#define RG_LINE_MAX 2048

enum rg_format {
	RG_FMT_LOGFMT,	/* key=value, quoted and escaped when needed */
	RG_FMT_JSON,	/* one RFC 8259 object, numbers as numbers */
	RG_FMT_JOURNAL, /* KEY=value lines of journald's native protocol */
};

struct rg_line {
	size_t len;
	bool cut; /* a field did not fit and was left out */
	enum rg_format format;
	char buf[RG_LINE_MAX];
};

void rg_line_init(struct rg_line *l, enum rg_format format);
void rg_line_raw(struct rg_line *l, const char *text);
/* A bare value, quoted and escaped when it needs to be. */
void rg_line_value(struct rg_line *l, const char *val, size_t len);
void rg_line_str(struct rg_line *l, const char *key, const char *val, size_t len);
void rg_line_cstr(struct rg_line *l, const char *key, const char *val);
void rg_line_u64(struct rg_line *l, const char *key, uint64_t val);
/* The current time as RFC 3339, UTC, microseconds: 2026-11-23T08:20:29.123456Z */
#define RG_TIME_LEN 27
void rg_format_time(char out[RG_TIME_LEN + 1]);
void rg_line_time(struct rg_line *l, const char *key);
/* The local time of traditional syslog, "Nov  3 08:05:09", for a zone
 * offset_s seconds east of UTC. */
#define RG_SYSLOG_TIME_LEN 15
void rg_format_syslog_time(char out[RG_SYSLOG_TIME_LEN + 1], int64_t offset_s);
void rg_line_addr(struct rg_line *l, const char *key, const struct rg_addr *a);
/* The kept form of a peer's address (fdtable.h): AF_UNSPEC unless sa is
 * an IPv4 or IPv6 address. */
void rg_ip_peer_of(const struct sockaddr *sa, socklen_t len, struct rg_ip_peer *p);
/* The address of a kept IP peer; length 0 for none. */
void rg_ip_peer_addr(const struct rg_ip_peer *p, struct rg_addr *a);
/* errno=ECONNRESET; for journald ERRNO_NAME=ECONNRESET (its ERRNO field is
 * the number, set by the sink). */
void rg_line_errno(struct rg_line *l, int err);
/* Ends the line with a newline, marking it when a field was left out. */
void rg_line_finish(struct rg_line *l);

#endif
