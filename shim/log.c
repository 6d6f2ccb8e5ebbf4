/* The log sink and the reset line.  A line is built on the stack and goes
 * out in one write(), so lines from threads and processes never interleave.
 * The sink is touched under the shim's lock (lock.h), so fork() never
 * copies a half-moved descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "io.h"
#include "lock.h"
#include "log.h"
#include "ownfd.h"
#include "real.h"
#include "sigpipe.h"
#include "stats.h"

struct rg_stats rg_stats;

static rg_lock_t rg_log_lock;
static __thread sigset_t rg_log_saved_mask; /* while this thread holds it */
static int rg_log_fd = -1;		   /* the file sink, an own descriptor */
static dev_t rg_log_dev;		   /* what rg_log_fd must still be */
static ino_t rg_log_ino;
static char rg_log_path[PATH_MAX];

static void rg_lock(void)
{
	rg_lock_take(&rg_log_lock, &rg_log_saved_mask);
}

static void rg_unlock(void)
{
	rg_lock_give(&rg_log_lock, &rg_log_saved_mask);
}

/* Writes one finished line to fd, never raising SIGPIPE in the program. */
static void rg_write_line(int fd, const struct rg_line *l)
{
	struct rg_sigpipe_guard guard;

	rg_sigpipe_hold(&guard, false);
	ssize_t n = rg_libc(write)(fd, l->buf, l->len);
	rg_sigpipe_release(&guard, n < 0 && errno == EPIPE);
}

static void rg_complain(const char *what, const char *value, const char *why,
			const char *fallback)
{
	struct rg_line l;

	rg_line_init(&l);
	rg_line_raw(&l, "resetguard: ");
	rg_line_raw(&l, what);
	if (value) {
		rg_line_raw(&l, "=");
		rg_line_value(&l, value, strlen(value));
	}
	rg_line_raw(&l, why);
	rg_line_raw(&l, fallback);
	rg_line_finish(&l);
	rg_write_line(STDERR_FILENO, &l);
}

void rg_log_bad_setting(const char *name, const char *value, const char *expected,
			const char *fallback)
{
	char why[160] = " is not ";

	strncat(why, expected, sizeof(why) - 20);
	strcat(why, "; using ");
	rg_complain(name, value, why, fallback);
}

static void rg_log_fall_back(int err)
{
	char why[128] = ": ";

	strncat(why, strerrordesc_np(err) ? strerrordesc_np(err) : "error", 100);
	strcat(why, "; logging to ");
	rg_complain("cannot open RESETGUARD_LOG", rg_log_path, why, "stderr");
	rg_config.log = RG_LOG_STDERR;
}

/* The path as given, made absolute now: the program may chdir() before
 * the log has to be reopened. */
static void rg_log_remember_path(const char *path)
{
	size_t used = 0;

	if (path[0] != '/' && getcwd(rg_log_path, sizeof(rg_log_path) - 1)) {
		used = strlen(rg_log_path);
		rg_log_path[used++] = '/';
	}
	strncpy(rg_log_path + used, path, sizeof(rg_log_path) - used - 1);
}

/* Opens (or reopens) the file sink; on failure says why, once, and falls
 * back to stderr. */
static void rg_log_open_file(void)
{
	struct stat st;
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
	int fd = rg_libc(open)(rg_log_path, flags, 0640);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;

		if (fd >= 0)
			rg_libc(close)(fd);
		rg_log_fall_back(err);
		return;
	}
	rg_log_fd = rg_own_adopt(fd);
	rg_log_dev = st.st_dev;
	rg_log_ino = st.st_ino;
}

void rg_log_open(void)
{
	if (rg_config.log != RG_LOG_FILE)
		return;
	rg_log_remember_path(rg_config.log_path);
	rg_log_open_file();
}

/* The descriptor to write to, reopening the file if the program managed to
 * close ours behind the shim's back (a raw close_range syscall, say) and
 * the number now belongs to something else. */
static int rg_log_sink(void)
{
	struct stat st;

	if (rg_config.log != RG_LOG_FILE)
		return STDERR_FILENO;
	if (fstat(rg_log_fd, &st) < 0 || st.st_dev != rg_log_dev || st.st_ino != rg_log_ino) {
		rg_log_open_file();
		if (rg_config.log != RG_LOG_FILE)
			return STDERR_FILENO;
	}
	return rg_log_fd;
}

static void rg_log_emit(const struct rg_line *l)
{
	int saved = errno;

	rg_lock();
	rg_write_line(rg_log_sink(), l);
	rg_unlock();
	errno = saved;
}

void rg_log_evict(int fd)
{
	rg_lock();
	if (fd == rg_log_fd && rg_config.log == RG_LOG_FILE) {
		rg_log_fd = rg_own_move(fd);
		if (rg_log_fd < 0)
			rg_log_fall_back(EMFILE);
	}
	rg_unlock();
}

/* fork() must not copy the lock held by another thread into a child that
 * has no such thread. */
void rg_log_fork_prepare(void)
{
	rg_lock();
}

void rg_log_fork_done(void)
{
	rg_unlock();
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

static const char *const rg_role_names[] = {
	[RG_ROLE_UNKNOWN] = "unknown",
	[RG_ROLE_CLIENT] = "client",
	[RG_ROLE_SERVER] = "server",
	[RG_ROLE_PAIR] = "pair",
};

/* The local address is looked up only now: unlike getpeername(),
 * getsockname() still answers after a reset, and asking at every
 * connect()/accept() would cost a system call per connection. */
static void rg_line_local(struct rg_line *l, int fd)
{
	struct rg_addr local;
	socklen_t len = sizeof(local.u);

	local.len = getsockname(fd, &local.u.sa, &len) == 0 ? len : 0;
	rg_line_addr(l, "local", &local);
}

static void rg_line_peer_cred(struct rg_line *l, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid == 0)
		return;
	rg_line_u64(l, "peer_pid", (uint64_t)cred.pid);
	rg_line_u64(l, "peer_uid", cred.uid);
}

void rg_io_failed(const struct rg_fd *e, int fd, const char *op)
{
	rg_conn_failed(e, fd, op);
}

static bool rg_log_wanted(enum rg_log_level level)
{
	return rg_config.log != RG_LOG_OFF && level <= rg_config.level;
}

static const char *const rg_level_names[] = {
	[RG_LEVEL_WARN] = "warn",
	[RG_LEVEL_INFO] = "info",
	[RG_LEVEL_DEBUG] = "debug",
};

static void rg_line_start(struct rg_line *l, enum rg_log_level level, const char *event)
{
	rg_line_init(l);
	rg_line_time(l, "ts");
	rg_line_cstr(l, "level", rg_level_names[level]);
	rg_line_cstr(l, "event", event);
}

/* The keys that say which connection a line is about.  sock_fd is a
 * descriptor for the socket itself (the program's, or the drainer's once
 * the program has let go of it). */
static void rg_line_conn(struct rg_line *l, const struct rg_fd *e, int fd, int sock_fd)
{
	struct rg_addr peer = e->peer;

	rg_line_u64(l, "fd", (uint64_t)fd);
	rg_line_addr(l, "peer", &peer);
	rg_line_local(l, sock_fd);
	rg_line_cstr(l, "role", rg_role_names[e->role]);
	rg_line_cstr(l, "prog", program_invocation_short_name);
	rg_line_u64(l, "pid", (uint64_t)getpid());
	rg_line_u64(l, "age_ms", (uint64_t)(rg_monotonic_ns() - e->opened_ns) / 1000000);
}

/* One line per graceful close: eof is the normal outcome; timeout (the
 * peer kept the connection open), error and cap (no room to linger, so
 * the plain close) are worth a warning. */
static _Atomic uint64_t *rg_linger_counter(const char *outcome)
{
	switch (outcome[0]) {
	case 'e':
		return outcome[1] == 'o' ? &rg_stats.linger_eof : &rg_stats.linger_error;
	case 't':
		return &rg_stats.linger_timeout;
	default:
		return &rg_stats.linger_cap;
	}
}

void rg_log_linger(const struct rg_fd *conn, int prog_fd, int sock_fd, const char *outcome,
		   uint64_t drained, int64_t ms)
{
	enum rg_log_level level = strcmp(outcome, "eof") == 0 ? RG_LEVEL_INFO : RG_LEVEL_WARN;
	struct rg_line l;
	int saved = errno;

	rg_count(rg_linger_counter(outcome));
	if (!rg_log_wanted(level))
		return;
	rg_line_start(&l, level, "linger");
	rg_line_cstr(&l, "outcome", outcome);
	rg_line_conn(&l, conn, prog_fd, sock_fd);
	rg_line_u64(&l, "drained_bytes", drained);
	rg_line_u64(&l, "ms", (uint64_t)ms);
	rg_line_finish(&l);
	rg_log_emit(&l);
	errno = saved;
}

/* A socket another descriptor still refers to was closed plainly. */
void rg_log_shared_close(const struct rg_fd *conn, int fd)
{
	struct rg_line l;
	int saved = errno;

	rg_count(&rg_stats.shared_plain);
	if (!rg_log_wanted(RG_LEVEL_DEBUG))
		return;
	rg_line_start(&l, RG_LEVEL_DEBUG, "close");
	rg_line_cstr(&l, "outcome", "shared");
	rg_line_conn(&l, conn, fd, fd);
	rg_line_finish(&l);
	rg_log_emit(&l);
	errno = saved;
}

/* At exit, at info level: what this process met and did. */
void rg_log_summary(void)
{
	struct rg_line l;
	int saved = errno;

	if (!rg_log_wanted(RG_LEVEL_INFO))
		return;
	rg_line_start(&l, RG_LEVEL_INFO, "summary");
	rg_line_cstr(&l, "prog", program_invocation_short_name);
	rg_line_u64(&l, "pid", (uint64_t)getpid());
	rg_line_u64(&l, "resets", rg_stats.resets);
	rg_line_u64(&l, "pipes", rg_stats.pipes);
	rg_line_u64(&l, "errors", rg_stats.errors);
	rg_line_u64(&l, "linger_eof", rg_stats.linger_eof);
	rg_line_u64(&l, "linger_timeout", rg_stats.linger_timeout);
	rg_line_u64(&l, "linger_error", rg_stats.linger_error);
	rg_line_u64(&l, "linger_cap", rg_stats.linger_cap);
	rg_line_u64(&l, "shared_plain", rg_stats.shared_plain);
	rg_line_finish(&l);
	rg_log_emit(&l);
	errno = saved;
}

void rg_log_conn_error(const struct rg_fd *e, int fd, const char *op, int err)
{
	struct rg_line l;
	int saved = errno;

	rg_count(err == ECONNRESET ? &rg_stats.resets : err == EPIPE ? &rg_stats.pipes : &rg_stats.errors);
	if (!rg_log_wanted(RG_LEVEL_WARN))
		return;
	rg_line_start(&l, RG_LEVEL_WARN, rg_event_name(err));
	rg_line_cstr(&l, "errno", strerrorname_np(err));
	rg_line_cstr(&l, "op", op);
	rg_line_conn(&l, e, fd, fd);
	rg_line_u64(&l, "tx_bytes", atomic_load_explicit(&e->tx_bytes, memory_order_relaxed));
	rg_line_u64(&l, "rx_bytes", atomic_load_explicit(&e->rx_bytes, memory_order_relaxed));
	if (e->family == AF_UNIX)
		rg_line_peer_cred(&l, fd);
	rg_line_finish(&l);
	rg_log_emit(&l);
	errno = saved;
}
