/* The records: what a reset, a graceful close, the start and the end of a
 * process look like, rate limiting, and resetguard's own complaints.  A
 * record is built on the stack (by a function that may run twice, once
 * per rendering the sink needs) and handed to the sink whole (sink.c). */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "format.h"
#include "io.h"
#include "lifecycle.h"
#include "lock.h"
#include "log.h"
#include "real.h"
#include "settings.h"
#include "sigpipe.h"
#include "sink.h"
#include "stats.h"

typedef void rg_fields_fn(struct rg_line *l, const void *ctx);

struct rg_event {
	enum rg_log_level level;
	const char *name;
	int err;	     /* the errno the record is about, 0 if none */
	bool limited;	     /* subject to RESETGUARD_LOG_RATE */
	rg_fields_fn *fields; /* everything after ts, level and event */
	const void *ctx;
};

static const char *const rg_level_names[] = {
	[RG_LEVEL_WARN] = "warn",
	[RG_LEVEL_INFO] = "info",
	[RG_LEVEL_DEBUG] = "debug",
};

static const char *const rg_role_names[] = {
	[RG_ROLE_UNKNOWN] = "unknown",
	[RG_ROLE_CLIENT] = "client",
	[RG_ROLE_SERVER] = "server",
	[RG_ROLE_PAIR] = "pair",
};

static bool rg_log_wanted(enum rg_log_level level)
{
	return __atomic_load_n(&rg_config.log, __ATOMIC_RELAXED) != RG_LOG_OFF &&
	       level <= rg_config.level;
}

/* The token bucket of RESETGUARD_LOG_RATE, in millitokens so that a slow
 * rate still refills between records.  Dropped records are counted; the
 * count is reported by the next record that goes out, and at exit. */
static int64_t rg_rate_tokens = -1, rg_rate_last_ns;
static _Atomic uint64_t rg_rate_dropped;

static bool rg_rate_allow(void)
{
	sigset_t saved;
	bool allow;
	int64_t now = rg_monotonic_ns(), full = (int64_t)rg_config.log_burst * 1000;

	if (rg_config.log_rate == 0)
		return true;
	rg_lock_take(RG_LOCK_RATE, &saved);
	if (rg_rate_tokens < 0)
		rg_rate_tokens = full;
	rg_rate_tokens += (now - rg_rate_last_ns) / 1000 * rg_config.log_rate / 1000;
	if (rg_rate_tokens > full)
		rg_rate_tokens = full;
	rg_rate_last_ns = now;
	allow = rg_rate_tokens >= 1000;
	if (allow)
		rg_rate_tokens -= 1000;
	rg_lock_give(RG_LOCK_RATE, &saved);
	if (!allow) {
		rg_count(&rg_stats.suppressed);
		atomic_fetch_add_explicit(&rg_rate_dropped, 1, memory_order_relaxed);
	}
	return allow;
}

void rg_log_dropped(void)
{
	rg_count(&rg_stats.suppressed);
	atomic_fetch_add_explicit(&rg_rate_dropped, 1, memory_order_relaxed);
}

static void rg_render(struct rg_line *l, enum rg_format format, const struct rg_event *ev)
{
	rg_line_init(l, format);
	rg_line_time(l, "ts");
	rg_line_cstr(l, "level", rg_level_names[ev->level]);
	rg_line_cstr(l, "event", ev->name);
	ev->fields(l, ev->ctx);
	rg_line_finish(l);
}

static void rg_send(const struct rg_event *ev)
{
	struct rg_line line, journal;
	bool fields = rg_sink_is_journal();

	rg_render(&line, rg_config.json ? RG_FMT_JSON : RG_FMT_LOGFMT, ev);
	if (fields)
		rg_render(&journal, RG_FMT_JOURNAL, ev);
	rg_sink_send(ev->level, ev->name, ev->err, &line, fields ? &journal : NULL);
}

static void rg_suppressed_fields(struct rg_line *l, const void *ctx)
{
	rg_line_cstr(l, "prog", rg_program_name());
	rg_line_u64(l, "pid", (uint64_t)rg_process_pid());
	rg_line_u64(l, "count", *(const uint64_t *)ctx);
}

/* One line for the records the rate limit dropped since the last one. */
static void rg_report_suppressed(void)
{
	uint64_t count = atomic_exchange_explicit(&rg_rate_dropped, 0, memory_order_relaxed);
	struct rg_event ev = { RG_LEVEL_WARN, "suppressed", 0, false, rg_suppressed_fields, &count };

	if (count)
		rg_send(&ev);
}

static void rg_log_event(const struct rg_event *ev)
{
	int saved = errno;

	if (rg_log_wanted(ev->level) && (!ev->limited || rg_rate_allow())) {
		rg_report_suppressed();
		rg_send(ev);
	}
	errno = saved;
}

/* The local address is looked up only now: unlike getpeername(),
 * getsockname() still answers after a reset, and asking at every
 * connect()/accept() would cost a system call per connection. */
static void rg_line_local(struct rg_line *l, int fd)
{
	struct rg_addr local;
	socklen_t len = sizeof(local.u);

	local.len = fd >= 0 && getsockname(fd, &local.u.sa, &len) == 0 ? len : 0;
	rg_line_addr(l, "local", &local);
}

static void rg_line_peer_cred(struct rg_line *l, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (rg_libc(getsockopt)(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid == 0)
		return;
	rg_line_u64(l, "peer_pid", (uint64_t)cred.pid);
	rg_line_u64(l, "peer_uid", cred.uid);
}

static const char *rg_tcp_state_name(unsigned state)
{
	static const char *const names[] = {
		"UNKNOWN",   "ESTABLISHED", "SYN_SENT", "SYN_RECV",   "FIN_WAIT1",
		"FIN_WAIT2", "TIME_WAIT",   "CLOSE",    "CLOSE_WAIT", "LAST_ACK",
		"LISTEN",    "CLOSING",     "NEW_SYN_RECV",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "UNKNOWN";
}

/* How much of struct tcp_info the fields below need.  The kernel fills
 * only as much as it knows (an old one less than these headers
 * describe), and qemu-user passes TCP_INFO on as if it were an int: four
 * bytes, the rest of the struct untouched. */
#define RG_TCP_INFO_END(field) (offsetof(struct tcp_info, field) + sizeof(((struct tcp_info *)0)->field))
#define RG_TCP_INFO_NEEDED RG_TCP_INFO_END(tcpi_total_retrans)
_Static_assert(RG_TCP_INFO_END(tcpi_last_data_sent) <= RG_TCP_INFO_NEEDED &&
		       RG_TCP_INFO_END(tcpi_last_data_recv) <= RG_TCP_INFO_NEEDED &&
		       RG_TCP_INFO_END(tcpi_rtt) <= RG_TCP_INFO_NEEDED,
	       "tcpi_total_retrans is the last field read");

/* Whether a TCP socket ever got past its handshake, as far as the kernel
 * tells: not a listener nor one still in SYN_SENT; a server's accepted
 * socket did; a client's did when it has a round-trip time, whose first
 * sample is the handshake's (a non-blocking connect that timed out, read
 * with getsockopt(SO_ERROR), has none).  Before that, the kernel's clocks
 * of the last data count from boot, and its rtt and send queue hold
 * nothing worth a field. */
static bool rg_tcp_was_connected(const struct tcp_info *ti, const struct rg_fd *e)
{
	if (ti->tcpi_state == TCP_LISTEN || ti->tcpi_state == TCP_SYN_SENT)
		return false;
	return e->role == RG_ROLE_SERVER || ti->tcpi_rtt > 0;
}

/* Which timer gave up, for an ETIMEDOUT: the kernel empties the send
 * queue when it aborts (so tcpi_unacked is 0 either way), but keeps its
 * counts of retransmission timeouts (tcpi_retransmits) and of unanswered
 * probes (tcpi_probes); probes with data still unsent are zero-window
 * probes, without it keepalive's (which run only when nothing is in
 * flight). */
static const char *rg_timeout_cause(int fd, const struct tcp_info *ti, int outq)
{
	int on = 0;
	socklen_t len = sizeof(on);

	if (ti->tcpi_retransmits)
		return "retransmit";
	if (!ti->tcpi_probes)
		return NULL;
	if (outq > 0)
		return "zero_window";
	if (rg_libc(getsockopt)(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len) == 0 && on)
		return "keepalive";
	return NULL;
}

/* What the kernel still knows of a TCP connection, read as close to the
 * failure as possible: after a reset TCP_INFO still answers (state CLOSE,
 * the last rtt), SIOCOUTQ says what was left unacknowledged.  idle_ms
 * comes from the kernel's own clocks of the last data each way, so no
 * wrapper has to read the time on every transfer.  SO_ERROR is never
 * read: it would clear the error the program is about to see.  TCP_INFO's
 * fields come all together or not at all, never from a short answer. */
static void rg_line_tcp(struct rg_line *l, int fd, const struct rg_fd *e, bool connected,
			int err)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	uint64_t cookie;
	int outq = -1;
	bool have_ti = false;
	const char *cause;

	if (rg_libc(getsockopt)(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    len >= RG_TCP_INFO_NEEDED) {
		have_ti = true;
		connected = connected && rg_tcp_was_connected(&ti, e);
		if (connected)
			rg_line_u64(l, "idle_ms", ti.tcpi_last_data_sent < ti.tcpi_last_data_recv
							  ? ti.tcpi_last_data_sent
							  : ti.tcpi_last_data_recv);
		rg_line_cstr(l, "tcp_state", rg_tcp_state_name(ti.tcpi_state));
		if (connected)
			rg_line_u64(l, "rtt_us", ti.tcpi_rtt);
		rg_line_u64(l, "retrans", ti.tcpi_total_retrans);
	}
	if (connected && rg_libc(ioctl)(fd, SIOCOUTQ, &outq) == 0 && outq >= 0)
		rg_line_u64(l, "unacked", (uint64_t)outq);
	else
		outq = -1;
	len = sizeof(cookie);
	if (rg_libc(getsockopt)(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0)
		rg_line_u64(l, "cookie", cookie);
	if (err == ETIMEDOUT && have_ti && (cause = rg_timeout_cause(fd, &ti, outq)))
		rg_line_cstr(l, "cause", cause);
}

/* The peer kept for an IP socket (fdtable.h), else whatever the kernel
 * still says: a Unix socket's peer, an IP peer resetguard never learnt. */
static void rg_line_peer(struct rg_line *l, const struct rg_ip_peer *kept, int sock_fd)
{
	struct rg_addr peer;
	socklen_t len = sizeof(peer.u);

	rg_ip_peer_addr(kept, &peer);
	if (!peer.len && sock_fd >= 0 && getpeername(sock_fd, &peer.u.sa, &len) == 0)
		peer.len = len;
	rg_line_addr(l, "peer", &peer);
}

/* The keys that say which connection a record is about.  sock_fd is a
 * descriptor for the socket itself (the program's, or the drainer's once
 * the program has let go of it), or -1 when neither is left: the number
 * the program released may name another file by then (a dup2() over it,
 * another thread's open), and the kernel is not asked about it. */
static void rg_line_conn(struct rg_line *l, const struct rg_fd *e, const struct rg_ip_peer *peer,
			 int fd, int sock_fd)
{
	rg_line_u64(l, "fd", (uint64_t)fd);
	rg_line_peer(l, peer, sock_fd);
	rg_line_local(l, sock_fd);
	rg_line_cstr(l, "role", rg_role_names[e->role]);
	rg_line_cstr(l, "prog", rg_program_name());
	rg_line_u64(l, "pid", (uint64_t)rg_process_pid());
	/* A socket the program had before resetguard saw it (inherited
	 * across exec, from inetd or systemd) has no age resetguard knows. */
	if (e->opened_ns)
		rg_line_u64(l, "age_ms", (uint64_t)(rg_monotonic_ns() - e->opened_ns) / 1000000);
}

struct rg_error_ctx {
	const struct rg_fd *e;
	const struct rg_fd_life *life; /* the bytes of the socket the call was on */
	int fd;
	const char *op;
	int err;
};

/* Whether the connection may have got past its handshake: ECONNREFUSED
 * comes only in SYN_SENT (NOTES), connect()'s own failure is its
 * handshake's, and accept()'s is the listener's (rg_line_tcp asks the
 * kernel about the rest). */
static bool rg_ever_connected(const struct rg_error_ctx *c)
{
	return c->err != ECONNREFUSED && strcmp(c->op, "connect") != 0 &&
	       strncmp(c->op, "accept", 6) != 0;
}

static void rg_error_fields(struct rg_line *l, const void *ctx)
{
	const struct rg_error_ctx *c = ctx;
	const struct rg_fd *e = c->e;
	struct rg_ip_peer peer = rg_fd_peer(e);

	rg_line_errno(l, c->err);
	rg_line_cstr(l, "op", c->op);
	rg_line_conn(l, e, &peer, c->fd, c->fd);
	rg_line_u64(l, "tx_bytes", atomic_load_explicit(&c->life->tx_bytes, memory_order_relaxed));
	rg_line_u64(l, "rx_bytes", atomic_load_explicit(&c->life->rx_bytes, memory_order_relaxed));
	if (e->family == AF_UNIX)
		rg_line_peer_cred(l, c->fd);
	rg_line_u64(l, "conn_id", e->conn_id);
	if (e->family == AF_INET || e->family == AF_INET6)
		rg_line_tcp(l, c->fd, e, rg_ever_connected(c), c->err);
}

static const char *rg_event_name(int err)
{
	switch (err) {
	case ECONNRESET:
		return "reset";
	case EPIPE:
		return "pipe";
	}
	return "error";
}

static void rg_log_error(const struct rg_error_ctx *ctx)
{
	int err = ctx->err;
	struct rg_event ev = { RG_LEVEL_WARN, rg_event_name(err), err, true, rg_error_fields, ctx };

	rg_count(err == ECONNRESET ? &rg_stats.resets : err == EPIPE ? &rg_stats.pipes : &rg_stats.errors);
	rg_log_event(&ev);
}

void rg_log_conn_error(const struct rg_fd *e, int fd, const char *op, int err)
{
	struct rg_error_ctx ctx = { e, atomic_load_explicit(&e->life, memory_order_relaxed), fd, op,
				    err };

	rg_log_error(&ctx);
}

/* The entry may have moved on to a new socket since the call began; the
 * record names the one it was made on, as far as its life tells. */
long rg_io_failed(const struct rg_fd_life *l, const char *op)
{
	int err = errno;
	const struct rg_fd *e = rg_fd_of_life(l);

	if (RG_UNLIKELY(rg_errno_logged(err))) {
		struct rg_error_ctx ctx = { e, l, e->fd, op, err };

		rg_log_error(&ctx);
	}
	errno = err;
	return -1;
}

long rg_io_send_failed(const struct rg_fd_life *l, const char *op, int flags)
{
	rg_io_failed(l, op);
	if (errno == EPIPE && !(flags & MSG_NOSIGNAL))
		rg_sigpipe_deliver();
	return -1;
}

struct rg_linger_ctx {
	const struct rg_fd *conn;
	const struct rg_ip_peer *peer;
	int prog_fd, sock_fd;
	const char *outcome;
	uint64_t drained;
	int64_t ms;
};

static void rg_linger_fields(struct rg_line *l, const void *ctx)
{
	const struct rg_linger_ctx *c = ctx;

	rg_line_cstr(l, "outcome", c->outcome);
	rg_line_conn(l, c->conn, c->peer, c->prog_fd, c->sock_fd);
	rg_line_u64(l, "drained_bytes", c->drained);
	rg_line_u64(l, "ms", (uint64_t)c->ms);
	rg_line_u64(l, "conn_id", c->conn->conn_id);
}

static _Atomic uint64_t *rg_linger_counter(const char *outcome)
{
	switch (outcome[0]) {
	case 'e':
		return outcome[1] == 'o' ? &rg_stats.linger_eof : &rg_stats.linger_error;
	case 't':
		return &rg_stats.linger_timeout;
	case 'b':
		return &rg_stats.linger_bytes;
	default:
		return &rg_stats.linger_cap;
	}
}

void rg_log_linger_unwritten(const char *outcome)
{
	rg_count(rg_linger_counter(outcome));
	rg_log_dropped();
}

/* One record per graceful close: eof is the normal outcome; timeout (the
 * peer kept the connection open), bytes (it sent more than the drain
 * takes), error and cap (no room to linger, so the plain close) are worth
 * a warning. */
void rg_log_linger(const struct rg_fd *conn, const struct rg_ip_peer *peer, int prog_fd,
		   int sock_fd, const char *outcome, uint64_t drained, int64_t ms)
{
	struct rg_linger_ctx ctx = { conn, peer, prog_fd, sock_fd, outcome, drained, ms };
	struct rg_event ev = { strcmp(outcome, "eof") == 0 ? RG_LEVEL_INFO : RG_LEVEL_WARN,
			       "linger", 0, true, rg_linger_fields, &ctx };

	rg_count(rg_linger_counter(outcome));
	rg_log_event(&ev);
}

static void rg_plain_fields(struct rg_line *l, const void *ctx)
{
	const struct rg_linger_ctx *c = ctx;

	rg_line_cstr(l, "outcome", c->outcome);
	rg_line_conn(l, c->conn, c->peer, c->prog_fd, c->sock_fd);
	rg_line_u64(l, "conn_id", c->conn->conn_id);
}

/* A socket its peer could still have sent to was closed plainly, because
 * lingering was not safe: why is shared (another descriptor still refers
 * to it), bound (the program bound it to something its close would undo
 * and resetguard cannot) or ring (an io_uring may still use it). */
void rg_log_plain_close(const struct rg_fd *conn, const struct rg_ip_peer *peer, int prog_fd,
			int sock_fd, const char *why)
{
	struct rg_linger_ctx ctx = { conn, peer, prog_fd, sock_fd, why, 0, 0 };
	struct rg_event ev = { RG_LEVEL_DEBUG, "close", 0, true, rg_plain_fields, &ctx };

	rg_count(&rg_stats.shared_plain);
	rg_log_event(&ev);
}

/* A number of a listener record, left out when unknown (-1). */
static void rg_line_known(struct rg_line *l, const char *key, int64_t v)
{
	if (v >= 0)
		rg_line_u64(l, key, (uint64_t)v);
}

static void rg_listen_fields(struct rg_line *l, const void *ctx)
{
	const struct rg_listen_info *li = ctx;

	rg_line_u64(l, "fd", (uint64_t)li->fd);
	rg_line_addr(l, "local", li->local);
	rg_line_cstr(l, "prog", rg_program_name());
	rg_line_u64(l, "pid", (uint64_t)rg_process_pid());
	rg_line_known(l, li->set >= 0 ? "asked" : "backlog", li->backlog);
	rg_line_known(l, "set", li->set);
	rg_line_known(l, "backlog_max", li->backlog_max);
	rg_line_known(l, "queue", li->queue);
	rg_line_known(l, "drops", li->drops);
	rg_line_known(l, "drops_total", li->drops_total);
}

void rg_log_listener(const char *event, const struct rg_listen_info *li)
{
	enum rg_log_level level = event[0] == 'b'   ? RG_LEVEL_INFO
				  : event[7] == 'o' ? RG_LEVEL_WARN
						    : RG_LEVEL_DEBUG;
	struct rg_event ev = { level, event, 0, true, rg_listen_fields, li };

	rg_log_event(&ev);
}

static void rg_summary_fields(struct rg_line *l, const void *ctx)
{
	(void)ctx;
	rg_line_cstr(l, "prog", rg_program_name());
	rg_line_u64(l, "pid", (uint64_t)rg_process_pid());
	rg_line_u64(l, "resets", rg_stats.resets);
	rg_line_u64(l, "pipes", rg_stats.pipes);
	rg_line_u64(l, "errors", rg_stats.errors);
	rg_line_u64(l, "linger_eof", rg_stats.linger_eof);
	rg_line_u64(l, "linger_timeout", rg_stats.linger_timeout);
	rg_line_u64(l, "linger_bytes", rg_stats.linger_bytes);
	rg_line_u64(l, "linger_error", rg_stats.linger_error);
	rg_line_u64(l, "linger_cap", rg_stats.linger_cap);
	rg_line_u64(l, "shared_plain", rg_stats.shared_plain);
	rg_line_u64(l, "suppressed", rg_stats.suppressed);
}

/* At exit: what the rate limit still holds back, then (at info level)
 * what this process met and did. */
void rg_log_summary(void)
{
	struct rg_event ev = { RG_LEVEL_INFO, "summary", 0, false, rg_summary_fields, NULL };
	int saved = errno;

	if (rg_log_wanted(RG_LEVEL_WARN))
		rg_report_suppressed();
	rg_log_event(&ev);
	errno = saved;
}

static const char *const rg_sink_words[] = {
	[RG_LOG_STDERR] = "stderr", [RG_LOG_FILE] = "file", [RG_LOG_SYSLOG] = "syslog",
	[RG_LOG_JOURNAL] = "journal", [RG_LOG_OFF] = "off",
};

/* keepalive=60,10,5 (0 for a value left to the system) or off. */
static void rg_line_keepalive(struct rg_line *l, const char *key)
{
	char buf[32], *p = buf + sizeof(buf);
	int v[3] = { rg_config.keepalive_idle, rg_config.keepalive_interval,
		     rg_config.keepalive_count };

	*--p = '\0';
	for (int i = 2; i >= 0; i--) {
		unsigned n = (unsigned)v[i];

		do
			*--p = (char)('0' + n % 10);
		while (n /= 10);
		if (i)
			*--p = ',';
	}
	rg_line_cstr(l, key, v[0] ? p : "off");
}

/* A setting's value as the start-up line shows it, keyed by its name
 * in lower case; durations in ms, as the records' own times are. */
static void rg_start_setting(struct rg_line *l, const struct rg_setting *s)
{
	char key[64], word[32];
	const char *str;
	size_t n = 0;

	for (const char *p = s->name + strlen("RESETGUARD_"); *p && n < sizeof(key) - 4; p++)
		key[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	key[n] = '\0';
	memcpy(&str, (const char *)&rg_config + s->offset, sizeof(str));
	switch (s->kind) {
	case RG_K_WORD:
		rg_line_cstr(l, key, rg_setting_word(s, rg_setting_get(s, &rg_config), word,
							  sizeof(word)));
		break;
	case RG_K_DURATION:
		strcat(key, "_ms");
		/* fall through */
	case RG_K_SIZE:
		rg_line_u64(l, key, rg_setting_get(s, &rg_config));
		break;
	case RG_K_FACILITY:
		rg_line_cstr(l, key, rg_facility_name(rg_config.syslog_facility));
		break;
	case RG_K_COUNT: /* the limit in force, not "auto" */
		rg_line_u64(l, key, rg_config_linger_cap());
		break;
	case RG_K_RATE: /* no burst without a limit */
		rg_line_u64(l, "log_rate", (uint64_t)rg_config.log_rate);
		if (rg_config.log_rate)
			rg_line_u64(l, "log_burst", (uint64_t)rg_config.log_burst);
		break;
	case RG_K_NUMBER:
		if (rg_setting_get(s, &rg_config))
			rg_line_u64(l, key, rg_setting_get(s, &rg_config));
		else
			rg_line_cstr(l, key, "off");
		break;
	case RG_K_KEEPALIVE:
		rg_line_keepalive(l, key);
		break;
	case RG_K_DIR:
		rg_line_cstr(l, key, str ? str : "off");
		break;
	case RG_K_LOG:
		rg_line_cstr(l, key, rg_config.log == RG_LOG_FILE ? rg_config.log_path
								  : rg_sink_words[rg_config.log]);
		break;
	case RG_K_CMDS:
		if (!str || !*str)
			break;
		/* fall through */
	case RG_K_PATH:
	case RG_K_CONF:
	case RG_K_NAME:
		rg_line_cstr(l, key, str ? str : "");
		break;
	}
}

/* Whether a setting means anything with the others as they are: the
 * start line leaves out the ones that do not, such as how long sockets
 * linger when none does.  The syslog settings matter where records may
 * reach syslog: as the sink, or as stderr's fallback (sink.c). */
static bool rg_setting_matters(enum rg_setting_id id)
{
	switch (id) {
	case RG_S_LINGER0:
	case RG_S_LINGER_TIMEOUT:
	case RG_S_LINGER_TIME:
	case RG_S_LINGER_BYTES:
	case RG_S_LINGER_MAX:
		return rg_config.linger;
	case RG_S_METRICS_NAME:
	case RG_S_METRICS_INTERVAL:
		return rg_config.metrics_dir != NULL;
	case RG_S_SYSLOG_SOCKET:
	case RG_S_SYSLOG_FORMAT:
	case RG_S_SYSLOG_FACILITY:
		return rg_config.log == RG_LOG_SYSLOG || rg_config.log == RG_LOG_STDERR;
	case RG_S_JOURNAL_SOCKET:
		return rg_config.log == RG_LOG_JOURNAL;
	default:
		return true;
	}
}

static void rg_start_fields(struct rg_line *l, const void *ctx)
{
	(void)ctx;
	rg_line_cstr(l, "prog", rg_program_name());
	rg_line_u64(l, "pid", (uint64_t)rg_process_pid());
	rg_line_cstr(l, "version", RG_VERSION);
	for (size_t i = 0; i < RG_N_SETTINGS; i++)
		if (rg_setting_matters((enum rg_setting_id)i))
			rg_start_setting(l, &rg_settings[i]);
}

/* The same settings for the state page (state.c), as logfmt. */
void rg_log_settings(char *out, size_t cap)
{
	struct rg_line l;
	size_t n;

	rg_line_init(&l, RG_FMT_LOGFMT);
	rg_start_fields(&l, NULL);
	n = l.len < cap - 1 ? l.len : cap - 1;
	memcpy(out, l.buf, n);
	out[n] = '\0';
}

/* At info level, one line of the effective settings when the library
 * loads: what an operator checks first. */
void rg_log_start(void)
{
	struct rg_event ev = { RG_LEVEL_INFO, "start", 0, false, rg_start_fields, NULL };

	rg_log_event(&ev);
}

static void rg_complain_line(struct rg_line *l, const char *what, const char *value,
			     const char *why, const char *fallback)
{
	rg_line_init(l, RG_FMT_LOGFMT);
	rg_line_raw(l, "resetguard: ");
	rg_line_raw(l, what);
	if (value) {
		rg_line_raw(l, "=");
		rg_line_value(l, value, strlen(value));
	}
	rg_line_raw(l, why);
	rg_line_raw(l, fallback);
}

/* Only the value can be too long for a line.  Left out alone, it would
 * let the shorter pieces after it in and glue them onto the rest; so the
 * line is written again without it, marked as cut. */
void rg_log_complaint(const char *what, const char *value, const char *why,
		      const char *fallback)
{
	struct rg_line l;

	rg_complain_line(&l, what, value, why, fallback);
	if (l.cut) {
		rg_complain_line(&l, what, NULL, why, fallback);
		l.cut = true;
	}
	rg_line_finish(&l);
	rg_sink_stderr(&l);
}

