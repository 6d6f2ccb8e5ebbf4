/* With RESETGUARD_METRICS=DIR, the counters go to DIR/resetguard_<name>.prom,
 * written as node_exporter's textfile collector wants: to a temporary file
 * renamed over the real one, so the collector never reads half a file.
 * <name> is RESETGUARD_METRICS_NAME, by default the program's name as it
 * was at load (workers rewrite theirs for a title); it is also the one
 * label (never a pid or a peer address: unbounded cardinality).
 *
 * One file per service, not per process: a process and every child it
 * forks, and every program they exec that loads resetguard and carries the
 * same name, count in one place, a slot of the family's shared map
 * (share.c), with an atomic add beside the process's own count (stats.h).
 * Each process keeps a thread of resetguard's that looks at the family's
 * counts once a second and rewrites the file when they changed, and every
 * RESETGUARD_METRICS_INTERVAL regardless, so that resetguard_last_update_
 * seconds tells a live service from one that is gone.  exit, _exit and
 * exec write once more when the counts changed.  One writer at a time: the
 * family's slot names it (a pid), so that the file never goes back to an
 * older count; one that died writing is taken over.  A process killed by a
 * signal it does not handle (SIGTERM, SIGKILL) cannot write: the file is
 * then at most the second behind that the thread allows.
 *
 * When every thread of the program has ended (main() called pthread_exit()
 * and the others followed), the thread ends the process with exit(0), as
 * glibc does for the last thread: it must not keep such a process alive. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lifecycle.h"
#include "listen.h"
#include "lock.h"
#include "log.h"
#include "metrics.h"
#include "procfd.h"
#include "real.h"
#include "share.h"
#include "stats.h"
#include "thread.h"

struct rg_metric {
	const char *name;
	const char *help;
	const char *outcome; /* label, for the graceful closes */
	size_t offset;	     /* in struct rg_counters */
};

#define RG_STAT(field) offsetof(struct rg_counters, field)

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
static char rg_metrics_label[64]; /* the name: [A-Za-z0-9_.-] only */
struct rg_counters *_Atomic rg_stats_family;
/* The family's slot; without a shared map, this process's alone. */
static struct rg_family *rg_metrics_family, rg_metrics_alone;

/* The program's name keeps [A-Za-z0-9_.-] for a file name that is also a
 * label value that needs no escaping.  False when the directory leaves no
 * room for the names: cut short, they would name some other file, which
 * would be truncated. */
static bool rg_metrics_names(void)
{
	const char *name = rg_config.metrics_name ? rg_config.metrics_name : rg_program_name();
	size_t n = 0;

	for (const char *p = name; *p && n < sizeof(rg_metrics_label) - 1; p++)
		rg_metrics_label[n++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
							(*p >= '0' && *p <= '9') || *p == '.' ||
							*p == '-'
						? *p
						: '_');
	rg_metrics_label[n] = '\0';
	if (!n)
		strcpy(rg_metrics_label, "unknown");
	int path_len = snprintf(rg_metrics_path, sizeof(rg_metrics_path), "%s/resetguard_%s.prom",
				rg_config.metrics_dir, rg_metrics_label);
	int tmp_len = snprintf(rg_metrics_tmp, sizeof(rg_metrics_tmp), "%s/.resetguard_%s.prom.tmp",
			       rg_config.metrics_dir, rg_metrics_label);

	return path_len >= 0 && (size_t)path_len < sizeof(rg_metrics_path) && tmp_len >= 0 &&
	       (size_t)tmp_len < sizeof(rg_metrics_tmp);
}

const char *rg_metrics_name(void)
{
	return rg_config.metrics_dir ? rg_metrics_label : NULL;
}

static uint64_t rg_metrics_count(const struct rg_counters *counts, const struct rg_metric *m)
{
	return atomic_load_explicit((const _Atomic uint64_t *)((const char *)counts + m->offset),
				    memory_order_relaxed);
}

/* Counters only grow: their sum tells whether any changed. */
static uint64_t rg_metrics_sum(const struct rg_counters *counts)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < sizeof(rg_metrics) / sizeof(rg_metrics[0]); i++)
		sum += rg_metrics_count(counts, &rg_metrics[i]);
	return sum;
}

/* A listener's drops total into the family's table (metrics.h): what a
 * look at this process's listeners found (listen.h).  SO_REUSEPORT gives
 * an address several listeners: their drops add up within a look. */
struct rg_listen_look {
	struct rg_family *family;
	uint64_t at[RG_FAMILY_LISTENERS]; /* this look's sum per entry */
};

static struct rg_family_listener *rg_metrics_listener_entry(struct rg_family *f, const char *local)
{
	for (unsigned int i = 0; i < RG_FAMILY_LISTENERS; i++) {
		struct rg_family_listener *l = &f->listeners[i];
		uint32_t state = atomic_load_explicit(&l->state, memory_order_acquire);

		if (state == 0 && atomic_compare_exchange_strong(&l->state, &state, 1)) {
			snprintf(l->local, sizeof(l->local), "%s", local);
			atomic_store_explicit(&l->state, 2, memory_order_release);
			return l;
		}
		if (state == 2 && strcmp(l->local, local) == 0)
			return l;
	}
	return NULL;
}

static void rg_metrics_listener(const char *local, uint64_t drops, void *ctx)
{
	struct rg_listen_look *look = ctx;
	struct rg_family_listener *l = strlen(local) < sizeof(l->local)
					       ? rg_metrics_listener_entry(look->family, local)
					       : NULL;

	if (l)
		look->at[l - look->family->listeners] += drops;
}

/* The look's totals into the table, each only ever raised. */
static void rg_metrics_raise(const struct rg_listen_look *look)
{
	for (unsigned int i = 0; i < RG_FAMILY_LISTENERS; i++) {
		uint64_t seen = atomic_load(&look->family->listeners[i].drops);

		while (look->at[i] > seen && !atomic_compare_exchange_weak(
						     &look->family->listeners[i].drops, &seen, look->at[i]))
			;
	}
}

static struct rg_family *rg_metrics_table(void)
{
	return rg_metrics_family ? rg_metrics_family : &rg_metrics_alone;
}

static void rg_metrics_look_at_listeners(struct rg_family *f)
{
	struct rg_listen_look look = { .family = f };

	rg_listeners_each(rg_metrics_listener, &look);
	rg_metrics_raise(&look);
}

void rg_metrics_listener_closing(const char *local, uint64_t drops_total)
{
	struct rg_listen_look look = { .family = rg_metrics_table() };

	if (!rg_config.metrics_dir)
		return;
	rg_metrics_listener(local, drops_total, &look);
	rg_metrics_raise(&look);
}

static uint64_t rg_metrics_listener_sum(const struct rg_family *f)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < RG_FAMILY_LISTENERS; i++)
		sum += atomic_load(&f->listeners[i].drops);
	return sum;
}

static size_t rg_metrics_render_listeners(char *out, size_t cap, const struct rg_family *f)
{
	size_t used = 0;
	int n = 0;

	for (unsigned int i = 0; i < RG_FAMILY_LISTENERS; i++) {
		const struct rg_family_listener *l = &f->listeners[i];

		if (atomic_load_explicit(&l->state, memory_order_acquire) != 2)
			continue;
		if (!used)
			n = snprintf(out, cap,
				     "# HELP resetguard_listen_drops_total Handshakes a listener dropped "
				     "because its accept queue was full.\n"
				     "# TYPE resetguard_listen_drops_total counter\n");
		if (n >= 0 && (size_t)n < cap - used)
			used += (size_t)n;
		else
			return SIZE_MAX;
		n = snprintf(out + used, cap - used,
			     "resetguard_listen_drops_total{name=\"%s\",local=\"%s\"} %llu\n",
			     rg_metrics_label, l->local, (unsigned long long)atomic_load(&l->drops));
		if (n < 0 || (size_t)n >= cap - used)
			return SIZE_MAX;
		used += (size_t)n;
		n = 0;
	}
	return used;
}

static size_t rg_metrics_render(char *out, size_t cap, const struct rg_counters *counts,
				const struct rg_family *f, int64_t now_ms)
{
	size_t used = 0, listeners;
	int n;

	for (size_t i = 0; i < sizeof(rg_metrics) / sizeof(rg_metrics[0]); i++) {
		const struct rg_metric *m = &rg_metrics[i];

		n = 0;
		if (m->help)
			n = snprintf(out + used, cap - used, "# HELP %s %s\n# TYPE %s counter\n",
				     m->name, m->help, m->name);
		if (n < 0 || (size_t)n >= cap - used)
			return 0;
		used += (size_t)n;
		n = snprintf(out + used, cap - used, "%s{name=\"%s\"%s%s%s} %llu\n", m->name,
			     rg_metrics_label, m->outcome ? ",outcome=\"" : "",
			     m->outcome ? m->outcome : "", m->outcome ? "\"" : "",
			     (unsigned long long)rg_metrics_count(counts, m));
		if (n < 0 || (size_t)n >= cap - used)
			return 0;
		used += (size_t)n;
	}
	listeners = rg_metrics_render_listeners(out + used, cap - used, f);
	if (listeners == SIZE_MAX)
		return 0;
	used += listeners;
	n = snprintf(out + used, cap - used,
		     "# HELP resetguard_last_update_seconds When resetguard last wrote this file "
		     "(Unix time); rewritten at least every metrics interval while the service runs.\n"
		     "# TYPE resetguard_last_update_seconds gauge\n"
		     "resetguard_last_update_seconds{name=\"%s\"} %lld\n",
		     rg_metrics_label, (long long)(now_ms / 1000));
	return n < 0 || (size_t)n >= cap - used ? 0 : used + (size_t)n;
}

static bool rg_metrics_put(const struct rg_counters *counts, const struct rg_family *f,
			   int64_t now_ms)
{
	char text[8192];
	size_t len = rg_metrics_render(text, sizeof(text), counts, f, now_ms);
	int fd = len ? rg_libc(open)(rg_metrics_tmp,
				      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644)
		     : -1;
	bool whole;

	if (fd < 0)
		return false;
	whole = rg_libc(write)(fd, text, len) == (ssize_t)len;
	rg_libc(close)(fd);
	if (whole && rename(rg_metrics_tmp, rg_metrics_path) == 0)
		return true;
	unlink(rg_metrics_tmp);
	return false;
}

static int64_t rg_metrics_wall_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

/* Set when the process leaves: its thread, which exit_group() may end
 * at any instant, must not hold the file then. */
static _Atomic bool rg_metrics_leaving;

/* The family's file is this process's to write, for a moment.  A writer
 * that is gone, or has held it for a second (a write takes microseconds:
 * it was killed, or is a zombie nobody reaped yet), is taken over; one
 * that lives is waited for, at most 100 ms. */
static bool rg_metrics_claim(struct rg_family *f)
{
	int32_t me = (int32_t)getpid();

	for (int tries = 0; tries < 100; tries++) {
		int32_t holder = 0;
		struct timespec ms = { 0, 1000000 };
		int64_t now = rg_metrics_wall_ms();

		if (!atomic_compare_exchange_strong(&f->writer, &holder, me) &&
		    (holder == me || (now - atomic_load(&f->claimed_ms) < 1000 &&
				      (kill(holder, 0) == 0 || errno != ESRCH)) ||
		     !atomic_compare_exchange_strong(&f->writer, &holder, me))) {
			nanosleep(&ms, NULL);
			continue;
		}
		atomic_store(&f->claimed_ms, now);
		return true;
	}
	return false;
}

/* Whether the counts changed since the file was written, or (unless the
 * process is leaving) the interval has passed since. */
static bool rg_metrics_due(struct rg_family *f, uint64_t sum, int64_t now, bool leaving)
{
	int64_t last = atomic_load(&f->written_ms);

	return sum != atomic_load(&f->written) || !last ||
	       (!leaving && (now - last >= rg_config.metrics_interval_ms || now < last));
}

/* Looked at without the claim first: most exits and most seconds find
 * nothing to write, and then take nothing. */
static void rg_metrics_update(bool leaving)
{
	struct rg_family *f = rg_metrics_table();
	const struct rg_counters *counts = rg_metrics_family ? &f->stats : &rg_stats;
	int saved = errno;
	int64_t now = rg_metrics_wall_ms();

	if (!rg_config.metrics_dir || (!leaving && atomic_load(&rg_metrics_leaving)))
		return;
	rg_metrics_look_at_listeners(f);
	if (!rg_metrics_due(f, rg_metrics_sum(counts) + rg_metrics_listener_sum(f), now, leaving)) {
		errno = saved;
		return;
	}
	if (leaving)
		atomic_store(&rg_metrics_leaving, true);
	if (!rg_metrics_claim(f)) {
		errno = saved;
		return;
	}
	uint64_t sum = rg_metrics_sum(counts) + rg_metrics_listener_sum(f);

	if (rg_metrics_due(f, sum, now, leaving) && rg_metrics_put(counts, f, now)) {
		atomic_store(&f->written, sum);
		atomic_store(&f->written_ms, now);
	}
	atomic_store_explicit(&f->writer, 0, memory_order_release);
	errno = saved;
}

void rg_metrics_write(void)
{
	rg_metrics_update(true);
}

void rg_metrics_resume(void)
{
	atomic_store(&rg_metrics_leaving, false);
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

/* Whether the thread is a forked child's, set before it starts: the first
 * process writes at once, so that the file is there from the start; a
 * forked child's thread finds the family's file written. */
static bool rg_metrics_in_child;

static void *rg_metrics_main(void *unused)
{
	(void)unused;
	rg_thread_masked = true;
	if (!rg_metrics_in_child)
		rg_metrics_update(false);
	for (;;) {
		struct timespec second = { 1, 0 };

		nanosleep(&second, NULL);
		rg_metrics_update(false);
		if (rg_program_gone())
			exit(0);
	}
	return NULL;
}

static void rg_metrics_thread(bool child)
{
	rg_metrics_in_child = child;
	rg_thread_spawn(rg_metrics_main, NULL, "resetguard-m");
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
	rg_metrics_family = rg_share_family(rg_metrics_label);
	if (rg_metrics_family) {
		/* This pid's writer, if any, was the program that exec'd this
		 * one, cut off by the exec. */
		int32_t me = (int32_t)getpid();

		atomic_compare_exchange_strong(&rg_metrics_family->writer, &me, 0);
		atomic_store_explicit(&rg_stats_family, &rg_metrics_family->stats,
				      memory_order_release);
	}
	rg_metrics_thread(false);
}

/* After the fork handlers gave every lock back: the child is a process
 * of its own, with one thread, and glibc lets it start more.  Its counts
 * go on adding up in the family's slot. */
void rg_metrics_start_in_child(void)
{
	if (rg_config.metrics_dir)
		rg_metrics_thread(true);
}
