/* Building one log line in a fixed buffer: logfmt escaping, RFC 3339 time,
 * socket addresses.  Everything here is async-signal-safe (no stdio, no
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

struct rg_line {
	size_t len;
	bool cut; /* a field did not fit and was left out */
	char buf[RG_LINE_MAX];
};

void rg_line_init(struct rg_line *l);
void rg_line_raw(struct rg_line *l, const char *text);
/* A bare value, quoted and escaped when it needs to be. */
void rg_line_value(struct rg_line *l, const char *val, size_t len);
void rg_line_str(struct rg_line *l, const char *key, const char *val, size_t len);
void rg_line_cstr(struct rg_line *l, const char *key, const char *val);
void rg_line_u64(struct rg_line *l, const char *key, uint64_t val);
void rg_line_time(struct rg_line *l, const char *key);
void rg_line_addr(struct rg_line *l, const char *key, const struct rg_addr *a);
/* Ends the line with a newline, marking it when a field was left out. */
void rg_line_finish(struct rg_line *l);

#endif
