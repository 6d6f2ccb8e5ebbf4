/* The log sinks.  The sink's state (the open descriptor, a fallback to
 * stderr) changes under the shim's lock (lock.h), so fork() never copies a
 * half-moved descriptor and threads never see one.
 *
 * - file: O_APPEND, so one write() per record never interleaves with
 *   another process's; reopened when logrotate renames or removes it
 *   (checked at most once a second) and when the program closed the
 *   descriptor behind the shim's back (checked on every record).
 * - syslog: RFC 5424 over the /dev/log datagram socket.
 * - journal: journald's native protocol, one datagram of KEY=value lines.
 * Datagrams are sent with MSG_DONTWAIT: a full socket drops the record
 * (counted with the rate-limited ones) rather than block the program. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "lifecycle.h"
#include "lock.h"
#include "log.h"
#include "ownfd.h"
#include "real.h"
#include "sigpipe.h"
#include "sink.h"
#include "stats.h"

static __thread sigset_t rg_sink_saved_mask; /* while this thread holds it */
static bool rg_sink_pause(struct rg_own *o);
static void rg_sink_resume(struct rg_own *o);
static enum rg_give rg_sink_give_up_own(struct rg_own *o);
static const struct rg_own_holder rg_sink_holder = { rg_sink_pause, rg_sink_resume,
						     rg_sink_give_up_own };
/* The file or datagram socket; -1 also after it was given up for a program
 * short of descriptors, then opened again for the next record. */
static struct rg_own rg_sink_own = { -1, &rg_sink_holder };
static dev_t rg_sink_dev;		     /* what a file sink must still be */
static ino_t rg_sink_ino;
static int64_t rg_sink_checked_ns;	     /* when the file's path was last looked at */
static char rg_sink_path[PATH_MAX];
static char rg_hostname[64];

static void rg_lock(void)
{
	rg_lock_take(RG_LOCK_SINK, &rg_sink_saved_mask);
}

static void rg_unlock(void)
{
	rg_lock_give(RG_LOCK_SINK, &rg_sink_saved_mask);
}

/* Everything that uses the descriptor holds the lock: a mover that gets
 * it without waiting may move the descriptor. */
static bool rg_sink_pause(struct rg_own *o)
{
	(void)o;
	return rg_lock_try(RG_LOCK_SINK, &rg_sink_saved_mask);
}

static void rg_sink_resume(struct rg_own *o)
{
	(void)o;
	rg_unlock();
}

static int rg_sink_fd(void)
{
	return atomic_load_explicit(&rg_sink_own.fd, memory_order_acquire);
}

/* A new descriptor of the sink's becomes an own one: under the drainer's
 * lock, as every own descriptor's birth (ownfd.h). */
static void rg_sink_take(int fd)
{
	sigset_t saved;

	rg_own_close(&rg_sink_own);
	rg_lock_take(RG_LOCK_DRAINER, &saved);
	rg_own_take(&rg_sink_own, fd);
	rg_lock_give(RG_LOCK_DRAINER, &saved);
}

static const char *rg_sink_name(void)
{
	switch (rg_config.log) {
	case RG_LOG_SYSLOG:
		return "syslog";
	case RG_LOG_JOURNAL:
		return "journal";
	default:
		return rg_sink_path;
	}
}

/* Writes to fd, never raising SIGPIPE in the program; false, with errno,
 * when it failed. */
static bool rg_write_guarded(int fd, const char *buf, size_t len)
{
	struct rg_sigpipe_guard guard;

	rg_sigpipe_hold(&guard, false);
	ssize_t n = rg_libc(write)(fd, buf, len);
	rg_sigpipe_release(&guard, n < 0 && errno == EPIPE);
	return n >= 0;
}

void rg_sink_stderr(const struct rg_line *line)
{
	rg_write_guarded(STDERR_FILENO, line->buf, line->len);
}

/* Says once on stderr why the sink failed, and falls back to stderr. */
static void rg_sink_fall_back(const char *what, int err)
{
	struct rg_line l;
	const char *why = strerrordesc_np(err);

	rg_line_init(&l, RG_FMT_LOGFMT);
	rg_line_raw(&l, "resetguard: cannot ");
	rg_line_raw(&l, what);
	rg_line_raw(&l, " RESETGUARD_LOG=");
	rg_line_value(&l, rg_sink_name(), strlen(rg_sink_name()));
	rg_line_raw(&l, ": ");
	rg_line_raw(&l, why ? why : "error");
	rg_line_raw(&l, "; logging to stderr");
	rg_line_finish(&l);
	rg_sink_stderr(&l);
	rg_own_close(&rg_sink_own);
	/* Atomic: records are filtered on it without the lock (log.c). */
	__atomic_store_n(&rg_config.log, RG_LOG_STDERR, __ATOMIC_RELAXED);
}

/* The path as given, made absolute now: the program may chdir() before
 * the log has to be reopened.  False when that does not fit: cut short,
 * it would name another file. */
static bool rg_sink_remember_path(const char *path)
{
	size_t used = 0;

	if (path[0] != '/' && getcwd(rg_sink_path, sizeof(rg_sink_path) - 1)) {
		used = strlen(rg_sink_path);
		rg_sink_path[used++] = '/';
	}
	strncpy(rg_sink_path + used, path, sizeof(rg_sink_path) - used - 1);
	return used + strlen(path) < sizeof(rg_sink_path);
}

/* Opening fails with EMFILE only when the program took every descriptor,
 * after resetguard gave its own up for it: the record is dropped and
 * counted (suppressed, reported by the next record that goes out), the
 * next one tries again, and the program's stderr gets one line, once. */
static bool rg_sink_short(int err)
{
	static bool said;
	struct rg_line l;

	if (err != EMFILE)
		return false;
	rg_log_dropped();
	if (!said) {
		said = true;
		rg_line_init(&l, RG_FMT_LOGFMT);
		rg_line_raw(&l, "resetguard: cannot open RESETGUARD_LOG=");
		rg_line_value(&l, rg_sink_name(), strlen(rg_sink_name()));
		rg_line_raw(&l, ": Too many open files; records that meet the descriptor limit "
				"are dropped and counted");
		rg_line_finish(&l);
		rg_sink_stderr(&l);
	}
	return true;
}

/* False when the record cannot be written this time. */
static bool rg_sink_open_file(void)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of
	 * blocking the program, and a full one drops the record; a regular
	 * file ignores it. */
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
	int fd = rg_libc(open)(rg_sink_path, flags, 0640);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;

		if (fd >= 0)
			rg_libc(close)(fd);
		if (!rg_sink_short(err))
			rg_sink_fall_back("open", err);
		return false;
	}
	rg_sink_take(fd);
	rg_sink_dev = st.st_dev;
	rg_sink_ino = st.st_ino;
	rg_sink_checked_ns = rg_monotonic_ns();
	return true;
}

/* A path too long for sun_path is not cut short: that would be another
 * socket's path.  False when the record must go to stderr this time. */
static bool rg_sink_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		rg_sink_fall_back("reach", ENAMETOOLONG);
		return false;
	}
	memcpy(addr.sun_path, path, strlen(path));
	fd = rg_libc(socket)(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || rg_libc(connect)(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno;

		if (fd >= 0)
			rg_libc(close)(fd);
		if (!rg_sink_short(err))
			rg_sink_fall_back("reach", err);
		return false;
	}
	rg_sink_take(fd);
	return true;
}

void rg_sink_open(void)
{
	gethostname(rg_hostname, sizeof(rg_hostname) - 1);
	switch (rg_config.log) {
	case RG_LOG_FILE:
		if (rg_sink_remember_path(rg_config.log_path))
			rg_sink_open_file();
		else
			rg_sink_fall_back("open", ENAMETOOLONG);
		break;
	case RG_LOG_SYSLOG:
		rg_sink_connect(rg_config.syslog_path);
		break;
	case RG_LOG_JOURNAL:
		rg_sink_connect(rg_config.journal_path);
		break;
	default:
		break;
	}
}

bool rg_sink_is_journal(void)
{
	return __atomic_load_n(&rg_config.log, __ATOMIC_RELAXED) == RG_LOG_JOURNAL;
}

/* Opens the file again when it was given up for a program short of
 * descriptors; when the program closed ours behind the shim's back (a raw
 * close_range, say) and the number now is something else, which is then
 * the program's and left alone; and when logrotate moved or removed it:
 * then a new file at the configured path.  False when the record must go
 * to stderr this time. */
static bool rg_sink_check_file(void)
{
	struct stat st;
	int fd = rg_sink_fd();
	int64_t now = rg_monotonic_ns();

	if (fd < 0)
		return rg_sink_open_file();
	if (fstat(fd, &st) < 0 || st.st_dev != rg_sink_dev || st.st_ino != rg_sink_ino) {
		rg_own_lost(fd);
		return rg_sink_open_file();
	}
	if (now - rg_sink_checked_ns < 1000000000)
		return true;
	rg_sink_checked_ns = now;
	if (stat(rg_sink_path, &st) < 0 || st.st_dev != rg_sink_dev || st.st_ino != rg_sink_ino)
		return rg_sink_open_file();
	return true;
}

static const int rg_severity[] = {
	[RG_LEVEL_WARN] = 4,
	[RG_LEVEL_INFO] = 6,
	[RG_LEVEL_DEBUG] = 7,
};

/* RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG.  The
 * APP-NAME is resetguard's, so one filter finds every record whatever the
 * program; the program's name is in the message, escaped. */
static size_t rg_syslog_header(char *out, size_t cap, enum rg_log_level level, const char *msgid)
{
	char ts[RG_TIME_LEN + 1];
	int n;

	rg_format_time(ts);
	n = snprintf(out, cap, "<%d>1 %s %s resetguard %d %s - ",
		     rg_config.syslog_facility * 8 + rg_severity[level], ts,
		     rg_hostname[0] ? rg_hostname : "-", (int)rg_process_pid(), msgid);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* One datagram, without blocking: a full socket drops the record (counted
 * as suppressed); a listener that went away gets one reconnection and the
 * record again, and after that stderr takes over. */
static bool rg_sink_datagram(const struct msghdr *msg, const char *path)
{
	if (rg_sink_fd() < 0 && !rg_sink_connect(path))
		return false;
	if (rg_libc(sendmsg)(rg_sink_fd(), msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
		return true;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
		rg_count(&rg_stats.suppressed);
		return true;
	}
	if (!rg_sink_connect(path))
		return false;
	if (rg_libc(sendmsg)(rg_sink_fd(), msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		rg_count(&rg_stats.suppressed);
	return true;
}

static bool rg_sink_syslog(enum rg_log_level level, const char *msgid, const struct rg_line *line)
{
	char head[256];
	struct iovec iov[2] = {
		{ head, rg_syslog_header(head, sizeof(head), level, msgid) },
		{ (void *)line->buf, line->len - 1 }, /* no newline in a datagram */
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	return rg_sink_datagram(&msg, rg_config.syslog_path);
}

static bool rg_sink_journal(enum rg_log_level level, int err, const struct rg_line *line,
			    const struct rg_line *fields)
{
	char tail[80];
	int n = snprintf(tail, sizeof(tail), "PRIORITY=%d\nSYSLOG_IDENTIFIER=resetguard\n",
			 rg_severity[level]);

	if (err && n > 0 && (size_t)n < sizeof(tail))
		n += snprintf(tail + n, sizeof(tail) - (size_t)n, "ERRNO=%d\n", err);
	struct iovec iov[4] = {
		{ (void *)"MESSAGE=", 8 },
		{ (void *)line->buf, line->len }, /* ends in the newline the field needs */
		{ tail, n > 0 ? (size_t)n : 0 },
		{ fields ? (void *)fields->buf : NULL, fields ? fields->len : 0 },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 4 };

	return rg_sink_datagram(&msg, rg_config.journal_path);
}

/* Sends the record to the configured sink; false when it must go to
 * stderr instead (a sink that failed, or one short of a descriptor). */
static bool rg_sink_deliver(enum rg_log_level level, const char *msgid, int err,
			    const struct rg_line *line, const struct rg_line *fields)
{
	/* A sink short of a descriptor dropped the record (rg_sink_short) and
	 * is still the configured one; one that failed fell back to stderr. */
	switch (rg_config.log) {
	case RG_LOG_FILE:
		if (!rg_sink_check_file())
			return rg_config.log == RG_LOG_FILE;
		/* A file that cannot take the record (a full disk, /dev/full,
		 * an I/O error) is given up like one that cannot be opened,
		 * not left to lose every record in silence. */
		if (rg_write_guarded(rg_sink_fd(), line->buf, line->len))
			return true;
		if (errno != EAGAIN) {
			rg_sink_fall_back("write", errno);
			return false;
		}
		rg_count(&rg_stats.suppressed);
		return true;
	case RG_LOG_SYSLOG:
		return rg_sink_syslog(level, msgid, line) || rg_config.log == RG_LOG_SYSLOG;
	case RG_LOG_JOURNAL:
		return rg_sink_journal(level, err, line, fields) || rg_config.log == RG_LOG_JOURNAL;
	case RG_LOG_OFF:
		return true;
	default:
		return false;
	}
}

void rg_sink_send(enum rg_log_level level, const char *msgid, int err, const struct rg_line *line,
		  const struct rg_line *fields)
{
	int saved = errno;

	rg_lock();
	if (!rg_sink_deliver(level, msgid, err, line, fields))
		rg_sink_stderr(line);
	rg_unlock();
	errno = saved;
}

/* Given up for a program short of descriptors, the log's descriptor is
 * opened again for the next record. */
static enum rg_give rg_sink_give_up_own(struct rg_own *o)
{
	bool given = false;

	(void)o;
	rg_lock();
	if (rg_sink_fd() >= 0) {
		rg_own_close(&rg_sink_own);
		given = true;
	}
	rg_unlock();
	return given ? RG_GAVE : RG_CANNOT;
}
