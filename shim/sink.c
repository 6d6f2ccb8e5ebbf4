/* The log sinks.  The sink's state (the open descriptor, a fallback)
 * changes under the shim's lock (lock.h), so fork() never copies a
 * half-moved descriptor and threads never see one.
 *
 * - stderr: the stderr the program was started with, never whatever has
 *   number 2 later.  It is looked at when the library loads: a socket
 *   (an inetd service's stderr is its client's connection) is no place
 *   for resetguard's lines, which go to the fallback instead.  A pipe or
 *   FIFO is taken (`prog 2>&1 | logger`, runit's and docker's log pipes),
 *   as are terminals, files and devices.  The process keeps a copy of it
 *   as one of its own descriptors (ownfd.h), so that records written
 *   after the program closed its stderr (coreutils do at exit) still
 *   arrive, and none lands in what the program opened next as number 2.
 *   A forked child lets go of the copy (a daemon detaching closes its
 *   stderr, and whoever reads the pipe must see EOF as without
 *   resetguard): it writes to number 2 as long as that is still the same
 *   file, and to the fallback once it is not.
 * - file: O_APPEND, so one write() per record never interleaves with
 *   another process's; reopened when logrotate renames or removes it
 *   (checked at most once a second) and when the program closed the
 *   descriptor behind the shim's back (checked on every record).
 * - syslog: the /dev/log datagram socket, in the traditional local form
 *   glibc's syslog() and logger send (what rsyslog's imuxsock and journald
 *   parse there), or RFC 5424 for a receiver configured for it.
 * - journal: journald's native protocol, one datagram of KEY=value lines.
 * Datagrams are sent with MSG_DONTWAIT, and a record to a stderr pipe with
 * RWF_NOWAIT: a full socket or pipe drops the record (counted with the
 * rate-limited ones) rather than block the program.
 *
 * The fallback, for a sink that fails and for a stderr that cannot take
 * records: stderr if it can, else syslog, else nowhere.  It never writes
 * to a socket the program was given as stderr. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
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
const struct rg_own_holder rg_sink_holder = { rg_sink_pause, rg_sink_resume,
						     rg_sink_give_up_own };
/* The file or datagram socket; -1 also after it was given up for a program
 * short of descriptors, then opened again for the next record. */
static struct rg_own rg_sink_own = { -1, RG_HELD_BY_SINK };
static dev_t rg_sink_dev;		     /* what a file sink must still be */
static ino_t rg_sink_ino;
static int64_t rg_sink_checked_ns;	     /* when the file's path was last looked at */
static char rg_sink_path[PATH_MAX];
static char rg_hostname[64];
/* stderr as the library found it at load: whether it may take records,
 * which file it is, and resetguard's copy of it (-1: none, in a forked
 * child, or given up for a program short of descriptors). */
static bool rg_err_usable, rg_err_regular;
static dev_t rg_err_dev;
static ino_t rg_err_ino;
static struct rg_own rg_err_own = { -1, RG_HELD_BY_SINK };
static bool rg_sink_opened; /* the program may run: no descriptor of a moment */
static long rg_zone_offset; /* seconds east of UTC, for the local syslog form */

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
	case RG_LOG_STDERR:
		return "stderr";
	case RG_LOG_SYSLOG:
		return "syslog";
	case RG_LOG_JOURNAL:
		return "journal";
	default:
		return rg_sink_path;
	}
}

/* Whether stderr's file takes RWF_NOWAIT: pipes and FIFOs do (Linux 5.9
 * and later), terminals and regular files do not.  Its file never
 * changes (rg_err_fd() checks), so the first refusal holds for good. */
static _Atomic bool rg_err_waits;

/* A record's write() to stderr, except that a pipe or FIFO whose reader
 * stopped reading (a stopped logger, a supervisor's pipe nobody drains)
 * fails with EAGAIN instead of stopping the program's thread, or the
 * drainer that the program's exit then waits for, where the program
 * itself never wrote.  The file's O_NONBLOCK is the program's, never
 * ours to set; RWF_NOWAIT is per call.  musl has no pwritev2(), hence the
 * system call; offset -1 is the file's position, as write() uses. */
static ssize_t rg_write_stderr_nowait(int fd, const char *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };
	ssize_t n;

	if (atomic_load_explicit(&rg_err_waits, memory_order_relaxed))
		return rg_libc(write)(fd, buf, len);
	n = rg_libc(syscall)(SYS_pwritev2, fd, &iov, 1, -1L, -1L, RWF_NOWAIT);
	if (n >= 0 || (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL))
		return n;
	atomic_store_explicit(&rg_err_waits, true, memory_order_relaxed);
	return rg_libc(write)(fd, buf, len);
}

/* Writes to fd, stderr's or the log file's, never raising SIGPIPE in the
 * program; false, with errno, when it failed.  A record that stderr
 * cannot take now is dropped and counted as suppressed. */
static bool rg_write_guarded(int fd, const char *buf, size_t len, bool to_stderr)
{
	struct rg_sigpipe_guard guard;
	ssize_t n;

	rg_sigpipe_hold(&guard, false);
	n = to_stderr ? rg_write_stderr_nowait(fd, buf, len) : rg_libc(write)(fd, buf, len);
	rg_sigpipe_release(&guard, n < 0 && errno == EPIPE);
	if (n < 0 && errno == EAGAIN && to_stderr)
		rg_count(&rg_stats.suppressed);
	return n >= 0;
}

void rg_sink_look_at_stderr(void)
{
	struct stat st;

	rg_err_usable = fstat(STDERR_FILENO, &st) == 0 &&
			(!S_ISSOCK(st.st_mode) || rg_config_stderr_is_journal());
	rg_err_regular = rg_err_usable && S_ISREG(st.st_mode);
	rg_err_dev = st.st_dev;
	rg_err_ino = st.st_ino;
	gethostname(rg_hostname, sizeof(rg_hostname) - 1);
}

/* Where stderr's lines go now: resetguard's copy, else number 2 while it
 * is still the file it was at load; -1 when there is no such stderr. */
static int rg_err_fd(void)
{
	int fd = atomic_load_explicit(&rg_err_own.fd, memory_order_acquire);
	struct stat st;

	if (fd >= 0)
		return fd;
	if (rg_err_usable && fstat(STDERR_FILENO, &st) == 0 && st.st_dev == rg_err_dev &&
	    st.st_ino == rg_err_ino)
		return STDERR_FILENO;
	return -1;
}

/* The copy, made once the own descriptors have their place. */
static void rg_err_keep(void)
{
	sigset_t saved;

	if (rg_err_fd() != STDERR_FILENO)
		return;
	rg_lock_take(RG_LOCK_DRAINER, &saved);
	rg_own_dup(&rg_err_own, STDERR_FILENO);
	rg_lock_give(RG_LOCK_DRAINER, &saved);
}

/* Connects a datagram socket of the sink's to path; false, with errno,
 * when it cannot. */
static bool rg_sink_connect_quietly(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return false;
	}
	memcpy(addr.sun_path, path, strlen(path));
	fd = rg_libc(socket)(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || rg_libc(connect)(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno;

		if (fd >= 0)
			rg_libc(close)(fd);
		errno = err;
		return false;
	}
	rg_sink_take(fd);
	return true;
}

static size_t rg_syslog_header(char *out, size_t cap, enum rg_log_level level, const char *msgid);

/* The zone's offset from UTC for the local form's time, read once while
 * the library loads and only when records may go to syslog: localtime_r
 * takes glibc's zone lock and may read /etc/localtime, which a record
 * written from a signal handler must not do, and sets tzname, which a
 * program that never asks for local time should not see set.  A later
 * change of offset (summer time) shows in the local form's time only
 * after the program restarts; rsyslog and journald stamp local records
 * with the time they receive them anyway. */
static void rg_zone_read(void)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!rg_config.syslog_rfc5424 && localtime_r(&now, &tm))
		rg_zone_offset = tm.tm_gmtoff;
}

/* A complaint with no stderr to take it: one datagram on the syslog
 * sink's socket when that is the sink (sent once, never reconnected: a
 * failing sink complains through here), else, while the library loads (a
 * malformed setting), before the program has run, from a descriptor that
 * lives for this call only.  Later, the sink is syslog if syslog can be
 * reached. */
static void rg_sink_complain_to_syslog(const struct rg_line *line)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = rg_config.syslog_path;
	int fd = rg_config.log == RG_LOG_SYSLOG ? rg_sink_fd() : -1;
	char head[256];
	size_t head_len;

	if (!rg_sink_opened)
		rg_zone_read();
	head_len = rg_syslog_header(head, sizeof(head), RG_LEVEL_WARN, "complaint");
	struct iovec iov[2] = { { head, head_len }, { (void *)line->buf, line->len - 1 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	if (fd >= 0) {
		rg_libc(sendmsg)(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		return;
	}
	if (rg_sink_opened || strlen(path) >= sizeof(addr.sun_path))
		return;
	memcpy(addr.sun_path, path, strlen(path));
	fd = rg_libc(socket)(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	msg.msg_name = &addr;
	msg.msg_namelen = sizeof(addr);
	rg_libc(sendmsg)(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	rg_libc(close)(fd);
}

/* resetguard's own one-line complaints, with the lock held: to stderr,
 * else to syslog, never to a socket the program was given as stderr. */
static void rg_sink_complain_locked(const struct rg_line *line)
{
	int fd = rg_err_fd();

	if (fd >= 0)
		rg_write_guarded(fd, line->buf, line->len, true);
	else
		rg_sink_complain_to_syslog(line);
}

void rg_sink_stderr(const struct rg_line *line)
{
	int saved = errno;

	rg_lock();
	rg_sink_complain_locked(line);
	rg_unlock();
	errno = saved;
}

/* The sink to use when the configured one cannot be: stderr, else syslog
 * (unless that is what failed), else none.  Atomic: records are filtered
 * on it without the lock (log.c). */
static const char *rg_sink_fall_back_to(enum rg_log_dest failed)
{
	enum rg_log_dest to = RG_LOG_OFF;

	rg_own_close(&rg_sink_own);
	if (rg_err_fd() >= 0)
		to = RG_LOG_STDERR;
	else if (failed != RG_LOG_SYSLOG && rg_sink_connect_quietly(rg_config.syslog_path))
		to = RG_LOG_SYSLOG;
	__atomic_store_n(&rg_config.log, to, __ATOMIC_RELAXED);
	return to == RG_LOG_STDERR ? "stderr" : to == RG_LOG_SYSLOG ? "syslog" : "nowhere";
}

/* Says once why the sink failed, and falls back (above); why is errno's
 * description unless given. */
static void rg_sink_fall_back(const char *what, int err, const char *why)
{
	struct rg_line l;
	const char *name = rg_sink_name();
	const char *to = rg_sink_fall_back_to(rg_config.log);

	if (!why)
		why = strerrordesc_np(err);
	rg_line_init(&l, RG_FMT_LOGFMT);
	rg_line_raw(&l, "resetguard: cannot ");
	rg_line_raw(&l, what);
	rg_line_raw(&l, " RESETGUARD_LOG=");
	rg_line_value(&l, name, strlen(name));
	rg_line_raw(&l, ": ");
	rg_line_raw(&l, why ? why : "error");
	rg_line_raw(&l, "; logging to ");
	rg_line_raw(&l, to);
	rg_line_finish(&l);
	rg_sink_complain_locked(&l);
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
		rg_sink_complain_locked(&l);
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
			rg_sink_fall_back("open", err, NULL);
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
	if (rg_sink_connect_quietly(path))
		return true;
	if (!rg_sink_short(errno))
		rg_sink_fall_back("reach", errno, NULL);
	return false;
}

/* Records for a stderr that is not one (a socket, or closed) go to the
 * fallback without a word: saying so would need the stderr that is not
 * there. */
static void rg_sink_open_stderr(void)
{
	if (rg_err_fd() >= 0)
		rg_err_keep();
	else
		rg_sink_fall_back_to(RG_LOG_STDERR);
}

void rg_sink_open(void)
{
	rg_lock();
	if (rg_config.log == RG_LOG_SYSLOG || (rg_config.log != RG_LOG_OFF && rg_err_fd() < 0))
		rg_zone_read();
	switch (rg_config.log) {
	case RG_LOG_STDERR:
		rg_sink_open_stderr();
		break;
	case RG_LOG_FILE:
		if (rg_sink_remember_path(rg_config.log_path))
			rg_sink_open_file();
		else
			rg_sink_fall_back("open", ENAMETOOLONG, NULL);
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
	rg_sink_opened = true;
	rg_unlock();
}

/* With every lock taken (the fork handlers'). */
void rg_sink_fork_child(void)
{
	rg_own_close_locked(&rg_err_own);
}

/* The heir (heir.c) holds nothing whose end anyone waits for: whoever
 * reads the program's stderr pipe or terminal sees EOF when the program
 * is gone, and the heir's records for it are not written.  A regular file
 * has no reader waiting: the heir keeps its copy and writes there the
 * graceful closes it finishes (a linger timeout at exit). */
void rg_sink_heir(void)
{
	if (rg_err_regular && atomic_load_explicit(&rg_err_own.fd, memory_order_acquire) >= 0)
		return;
	rg_own_close(&rg_err_own);
	rg_err_usable = false;
	if (rg_config.log == RG_LOG_STDERR)
		rg_config.log = RG_LOG_OFF;
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

/* The local form (RFC 3164 as glibc's syslog() sends it on /dev/log, no
 * hostname): <PRI>Mmm dd hh:mm:ss resetguard[PID]: MSG.  RFC 5424: <PRI>1
 * TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG.  The tag (APP-NAME) is
 * resetguard's, so one filter finds every record whatever the program,
 * and no program name (which anyone may choose: spaces, colons, brackets)
 * can make a receiver misread the tag; the PID is the program's process,
 * its name is prog= in the message, escaped. */
static size_t rg_syslog_header(char *out, size_t cap, enum rg_log_level level, const char *msgid)
{
	int pri = rg_config.syslog_facility * 8 + rg_severity[level];
	int n;

	if (rg_config.syslog_rfc5424) {
		char ts[RG_TIME_LEN + 1];

		rg_format_time(ts);
		n = snprintf(out, cap, "<%d>1 %s %s resetguard %d %s - ", pri, ts,
			     rg_hostname[0] ? rg_hostname : "-", (int)rg_process_pid(), msgid);
	} else {
		char ts[RG_SYSLOG_TIME_LEN + 1];

		rg_format_syslog_time(ts, rg_zone_offset);
		n = snprintf(out, cap, "<%d>%s resetguard[%d]: ", pri, ts, (int)rg_process_pid());
	}
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

/* A forked child whose number 2 is no longer the stderr it was started
 * with (closed, or another file now) falls back for good.  False when the
 * record must go to the fallback. */
static bool rg_sink_write_stderr(const struct rg_line *line)
{
	int fd = rg_err_fd();

	if (fd >= 0) {
		rg_write_guarded(fd, line->buf, line->len, true);
		return true;
	}
	rg_sink_fall_back("write", 0, "the program let go of the stderr it was started with");
	return false;
}

/* A file that cannot take the record (a full disk, /dev/full, an I/O
 * error) is given up like one that cannot be opened, not left to lose
 * every record in silence.  False when the record must go to the
 * fallback; a file short of a descriptor (rg_sink_short) dropped it. */
static bool rg_sink_write_file(const struct rg_line *line)
{
	if (!rg_sink_check_file())
		return rg_config.log == RG_LOG_FILE;
	if (rg_write_guarded(rg_sink_fd(), line->buf, line->len, false))
		return true;
	if (errno != EAGAIN) {
		rg_sink_fall_back("write", errno, NULL);
		return false;
	}
	rg_count(&rg_stats.suppressed);
	return true;
}

/* Sends the record to the configured sink, and to the fallback of one
 * that failed on it (which changed rg_config.log; each fallback is one
 * further down stderr, syslog, off, so this ends). */
static void rg_sink_deliver(enum rg_log_level level, const char *msgid, int err,
			    const struct rg_line *line, const struct rg_line *fields)
{
	for (;;) {
		enum rg_log_dest dest = rg_config.log;
		bool done;

		switch (dest) {
		case RG_LOG_STDERR:
			done = rg_sink_write_stderr(line);
			break;
		case RG_LOG_FILE:
			done = rg_sink_write_file(line);
			break;
		case RG_LOG_SYSLOG:
			done = rg_sink_syslog(level, msgid, line);
			break;
		case RG_LOG_JOURNAL:
			done = rg_sink_journal(level, err, line, fields);
			break;
		default:
			return;
		}
		/* A sink short of a descriptor dropped the record and is
		 * still the configured one. */
		if (done || rg_config.log == dest)
			return;
	}
}

void rg_sink_send(enum rg_log_level level, const char *msgid, int err, const struct rg_line *line,
		  const struct rg_line *fields)
{
	int saved = errno;

	rg_lock();
	rg_sink_deliver(level, msgid, err, line, fields);
	rg_unlock();
	errno = saved;
}

/* Given up for a program short of descriptors, the log's descriptor is
 * opened again for the next record; stderr's copy is not made again
 * (number 2 is used while it is still that file). */
static enum rg_give rg_sink_give_up_own(struct rg_own *o)
{
	bool given = false;

	rg_lock();
	if (atomic_load_explicit(&o->fd, memory_order_acquire) >= 0) {
		rg_own_close(o);
		given = true;
	}
	rg_unlock();
	return given ? RG_GAVE : RG_CANNOT;
}
