/* With RESETGUARD_METRICS=DIR, the process's counters go to
 * DIR/resetguard_<prog>_<pid>.prom, written as node_exporter's textfile
 * collector wants: to a temporary file renamed over the real one, so the
 * collector never reads half a file.  Counters end in _total; labels are
 * prog and pid only (never a peer address: unbounded cardinality).
 *
 * A thread of resetguard's writes the file every
 * RESETGUARD_METRICS_INTERVAL; the library writes it once more at exit.
 * A forked child (a server's long-lived worker) gets a file and a thread
 * of its own, named after the program's name as it was at load (workers
 * rewrite theirs for a title) and the child's pid.  Its first write waits
 * one interval: a child that execs or exits before leaves no file behind
 * but the one written at its exit, as before.
 * When every thread of the program has ended (main() called pthread_exit()
 * and the others followed), the thread ends the process with exit(0), as
 * glibc does for the last thread: it must not keep such a process alive. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lifecycle.h"
#include "lock.h"
#include "log.h"
#include "metrics.h"
#include "procfd.h"
#include "real.h"
#include "stats.h"

struct rg_metric {
	const char *name;
	const char *help;
	const char *outcome; /* label, for the graceful closes */
	size_t offset;	     /* in struct rg_stats */
};

#define RG_STAT(field) offsetof(struct rg_stats, field)

static const struct rg_metric rg_metrics[] = {
	{ "resetguard_resets_total", "Calls that failed with ECONNRESET.", NULL, RG_STAT(resets) },
	{ "resetguard_pipes_total", "Calls that failed with EPIPE.", NULL, RG_STAT(pipes) },
	{ "resetguard_errors_total", "Calls that failed with another connection error.", NULL,
	  RG_STAT(errors) },
	{ "resetguard_graceful_closes_total", "Graceful closes, by outcome.", "eof",
	  RG_STAT(linger_eof) },
	{ "resetguard_graceful_closes_total", NULL, "timeout", RG_STAT(linger_timeout) },
	{ "resetguard_graceful_closes_total", NULL, "bytes", RG_STAT(linger_bytes) },
	{ "resetguard_graceful_closes_total", NULL, "error", RG_STAT(linger_error) },
	{ "resetguard_graceful_closes_total", NULL, "cap", RG_STAT(linger_cap) },
	{ "resetguard_shared_plain_closes_total",
	  "Plain closes of sockets another descriptor still held.", NULL, RG_STAT(shared_plain) },
	{ "resetguard_suppressed_lines_total", "Log records dropped by the rate limit or a full socket.",
	  NULL, RG_STAT(suppressed) },
};

static char rg_metrics_path[PATH_MAX], rg_metrics_tmp[PATH_MAX];
static char rg_prog_label[256]; /* escaped for a label value */

/* A file name keeps [A-Za-z0-9_.-] of the program's name; a label value
 * escapes backslash, quote and newline (the exposition format's rules).
 * False when the directory leaves no room for the names: cut short, they
 * would name some other file, which would be truncated. */
static bool rg_metrics_names(void)
{
	char file_prog[64];
	size_t n = 0, m = 0;

	for (const char *p = rg_program_name(); *p && n < sizeof(file_prog) - 1; p++)
		file_prog[n++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
						 (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
					 ? *p
					 : '_');
	file_prog[n] = '\0';
	for (const char *p = rg_program_name(); *p && m < sizeof(rg_prog_label) - 3; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n')
			rg_prog_label[m++] = '\\';
		rg_prog_label[m++] = (char)(*p == '\n' ? 'n' : *p);
	}
	rg_prog_label[m] = '\0';
	int path_len = snprintf(rg_metrics_path, sizeof(rg_metrics_path), "%s/resetguard_%s_%d.prom",
				rg_config.metrics_dir, file_prog, (int)getpid());
	int tmp_len = snprintf(rg_metrics_tmp, sizeof(rg_metrics_tmp), "%s/.resetguard_%s_%d.prom.tmp",
			       rg_config.metrics_dir, file_prog, (int)getpid());

	return path_len >= 0 && (size_t)path_len < sizeof(rg_metrics_path) && tmp_len >= 0 &&
	       (size_t)tmp_len < sizeof(rg_metrics_tmp);
}

static size_t rg_metrics_render(char *out, size_t cap)
{
	size_t used = 0;
	int pid = (int)getpid();

	for (size_t i = 0; i < sizeof(rg_metrics) / sizeof(rg_metrics[0]); i++) {
		const struct rg_metric *m = &rg_metrics[i];
		uint64_t value = *(const _Atomic uint64_t *)((const char *)&rg_stats + m->offset);
		int n = 0;

		if (m->help)
			n = snprintf(out + used, cap - used, "# HELP %s %s\n# TYPE %s counter\n",
				     m->name, m->help, m->name);
		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
		n = snprintf(out + used, cap - used, "%s{prog=\"%s\",pid=\"%d\"%s%s%s} %llu\n",
			     m->name, rg_prog_label, pid, m->outcome ? ",outcome=\"" : "",
			     m->outcome ? m->outcome : "", m->outcome ? "\"" : "",
			     (unsigned long long)value);
		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
	}
	return used;
}

void rg_metrics_write(void)
{
	char text[4096];
	int saved = errno;

	if (!rg_config.metrics_dir)
		return;
	size_t len = rg_metrics_render(text, sizeof(text));
	int fd = rg_libc(open)(rg_metrics_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
			       0644);

	if (fd >= 0) {
		bool whole = rg_libc(write)(fd, text, len) == (ssize_t)len;

		rg_libc(close)(fd);
		if (!whole || rename(rg_metrics_tmp, rg_metrics_path) < 0)
			unlink(rg_metrics_tmp);
	}
	errno = saved;
}

/* The state letter of /proc/self/task/<tid>/stat, and whether the thread
 * is one of resetguard's (named "resetguard..."). */
static char rg_task_state(int dirfd, int tid, bool *ours)
{
	char path[32], stat[512];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%d/stat", tid);
	fd = rg_libc(openat)(dirfd, path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? rg_libc(read)(fd, stat, sizeof(stat) - 1) : -1;
	if (fd >= 0)
		rg_libc(close)(fd);
	if (n <= 0)
		return 'Z';
	stat[n] = '\0';
	/* "tid (comm) S ...": comm may hold spaces and parentheses. */
	char *open_paren = strchr(stat, '('), *close_paren = strrchr(stat, ')');
	*ours = open_paren && strncmp(open_paren + 1, "resetguard", 10) == 0;
	return (char)(close_paren && close_paren[1] ? close_paren[2] : 'Z');
}

static void rg_count_program_thread(int dirfd, int tid, void *ctx)
{
	bool ours = false;

	if (rg_task_state(dirfd, tid, &ours) != 'Z' && !ours)
		++*(int *)ctx;
}

/* True once every thread of the program has ended and only resetguard's
 * remain.  Looked at in full only after the main thread has gone, which
 * happens only in programs whose main() called pthread_exit(). */
static bool rg_program_gone(void)
{
	bool ours;
	int alive = 0, dirfd = rg_libc(open)("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char state = (char)(dirfd >= 0 ? rg_task_state(dirfd, (int)getpid(), &ours) : 'R');

	if (dirfd >= 0)
		rg_libc(close)(dirfd);
	if (state != 'Z')
		return false;
	return rg_procfd_each("/proc/self/task", rg_count_program_thread, &alive) == 0 && alive == 0;
}

static int64_t rg_metrics_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

/* When the thread writes first: at once, or, in a forked child, after an
 * interval.  Set before the thread starts. */
static int64_t rg_metrics_first_ms;

static void *rg_metrics_main(void *unused)
{
	int64_t next = rg_metrics_first_ms;

	(void)unused;
	rg_thread_masked = true;
	for (;;) {
		struct timespec second = { 1, 0 };
		int64_t now = rg_metrics_now_ms();

		if (now >= next) {
			rg_metrics_write();
			next = now + rg_config.metrics_interval_ms;
		}
		nanosleep(&second, NULL);
		if (rg_program_gone())
			exit(0);
	}
	return NULL;
}

static void rg_metrics_thread(bool child)
{
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, saved;

	rg_metrics_first_ms = child ? rg_metrics_now_ms() + rg_config.metrics_interval_ms : 0;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, (size_t)64 * 1024);
	if (pthread_create(&thread, &attr, rg_metrics_main, NULL) == 0)
		pthread_setname_np(thread, "resetguard-m");
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

void rg_metrics_start(void)
{
	if (!rg_config.metrics_dir)
		return;
	if (!rg_metrics_names()) {
		rg_log_bad_setting("RESETGUARD_METRICS", rg_config.metrics_dir,
				   "a directory path short enough for the file's name",
				   "no metrics file");
		rg_config.metrics_dir = NULL;
		return;
	}
	rg_metrics_thread(false);
}

/* A forked child counts afresh, in a file of its own. */
void rg_metrics_fork_child(void)
{
	memset(&rg_stats, 0, sizeof(rg_stats));
	if (rg_config.metrics_dir && !rg_metrics_names())
		rg_config.metrics_dir = NULL;
}

/* After the fork handlers gave every lock back: the child is a process
 * of its own, with one thread, and glibc lets it start more. */
void rg_metrics_start_in_child(void)
{
	if (rg_config.metrics_dir)
		rg_metrics_thread(true);
}
