/* The reset log: one line per failed call that ended a connection, and
 * resetguard's own one-line complaints on stderr. */
#ifndef RG_LOG_H
#define RG_LOG_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fdtable.h"

void rg_log_conn_error(const struct rg_fd *e, int fd, const char *op, int err);
/* resetguard: WHAT[=VALUE]WHYFALLBACK on stderr, the value escaped. */
void rg_log_complaint(const char *what, const char *value, const char *why,
		      const char *fallback);
/* conn is the entry as it was, peer the IP peer kept for it (rg_fd_peer)
 * then: both copies, as the number may be another socket's by now.
 * sock_fd is a descriptor of the socket still open, or -1 (log.c). */
void rg_log_linger(const struct rg_fd *conn, const struct rg_ip_peer *peer, int prog_fd,
		   int sock_fd, const char *outcome, uint64_t drained, int64_t ms);
void rg_log_plain_close(const struct rg_fd *conn, const struct rg_ip_peer *peer, int prog_fd,
			int sock_fd, const char *why);
/* The same outcome counted, its record not written but counted as
 * dropped (event=suppressed): for a caller holding RG_LOCK_DRAINER, after
 * which no record may be written (lock.h: a record takes the rate
 * limiter's and the sink's locks, which come before it, and the sink
 * takes RG_LOCK_DRAINER itself to open its file again). */
void rg_log_linger_unwritten(const char *outcome);
void rg_log_summary(void);
/* What a record about a listener says; -1 leaves a number out. */
struct rg_listen_info {
	int fd;
	const struct rg_addr *local;
	int backlog;	 /* what the program asked for */
	int set;	 /* what resetguard passed instead (event=backlog) */
	int backlog_max; /* the backlog in force (TCP_INFO's tcpi_sacked) */
	int queue;	 /* connections waiting to be accepted (tcpi_unacked) */
	int64_t drops, drops_total;
};
/* event=backlog (info), listen_overflow (warn) or listen_untracked (debug). */
void rg_log_listener(const char *event, const struct rg_listen_info *li);
/* A record the sink could not write: counted, and reported with the next
 * one that goes out (event=suppressed). */
void rg_log_dropped(void);
void rg_log_start(void);
/* The settings rg_log_start() logs, as one logfmt line into out. */
void rg_log_settings(char *out, size_t cap);

static inline bool rg_errno_logged(int err)
{
	switch (err) {
	case ECONNRESET:
	case EPIPE:
		return true;
	case ETIMEDOUT:
	case ECONNABORTED:
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return rg_config.all_errors;
	}
	return false;
}

/* Called by every wrapper after its call failed; errno is left as it was. */
static inline void rg_conn_failed(const struct rg_fd *e, int fd, const char *op)
{
	int failure = errno;

	if (RG_UNLIKELY(rg_errno_logged(failure)))
		rg_log_conn_error(e, fd, op, failure);
	errno = failure;
}

#endif
