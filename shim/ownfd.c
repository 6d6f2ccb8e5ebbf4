/* resetguard's own descriptors (ownfd.h).
 *
 * They are created, closed and moved under RG_LOCK_DRAINER, which the
 * close_range() and closefrom() wrappers hold too while they close around
 * them: a descriptor never appears or goes while a range is being closed.
 * Each is marked in the fd table with its holder; a holder stops using its
 * descriptor for a moment when asked (pause), so that a dup2() of the
 * program's onto that number can move it elsewhere first. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include "drainer.h"
#include "fdtable.h"
#include "lock.h"
#include "ownfd.h"
#include "real.h"
#include "sink.h"

/* From the top quarter of the descriptor numbers up, where programs, which
 * get the lowest free number, rarely reach; counted within the first 1024,
 * so that a huge limit does not make the kernel grow the process's fd table
 * for nothing, and select() users keep their low numbers.  Worked out at
 * load and again only when the program has lowered its limit below it. */
static int rg_own_floor_now(void)
{
	struct rlimit rl;
	rlim_t top = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < top)
		top = rl.rlim_cur;
	return top > 4 ? (int)(top - top / 4) : 3;
}

static _Atomic int rg_own_floor = -1;

/* F_DUPFD fails with EINVAL for a floor at or above the limit. */
static int rg_own_dup_high(int fd)
{
	int floor = atomic_load_explicit(&rg_own_floor, memory_order_relaxed);
	int high = floor < 0 ? -1 : rg_libc(fcntl)(fd, F_DUPFD_CLOEXEC, floor);

	if (high < 0 && (floor < 0 || errno == EINVAL)) {
		floor = rg_own_floor_now();
		atomic_store_explicit(&rg_own_floor, floor, memory_order_relaxed);
		high = rg_libc(fcntl)(fd, F_DUPFD_CLOEXEC, floor);
	}
	return high;
}

/* Makes the kernel's descriptor table large enough for own descriptors now,
 * while the process is still single-threaded: growing it later, with other
 * threads sharing it, waits for an RCU grace period (expand_fdtable), tens
 * of milliseconds that would land in some program's close(). */
void rg_own_reserve(void)
{
	int saved = errno;
	int fd = rg_libc(open)("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		int high = rg_own_dup_high(fd);

		if (high >= 0)
			rg_libc(close)(high);
		rg_libc(close)(fd);
	}
	errno = saved;
}

void rg_own_take(struct rg_own *o, int fd)
{
	int saved = errno;
	int high = rg_own_dup_high(fd);

	if (high >= 0) {
		rg_libc(close)(fd);
		fd = high;
	} else {
		rg_libc(fcntl)(fd, F_SETFD, FD_CLOEXEC); /* it stays where it is */
	}
	rg_fd_mark_own(fd, o);
	atomic_store_explicit(&o->fd, fd, memory_order_release);
	errno = saved;
}

bool rg_own_dup(struct rg_own *o, int fd)
{
	int saved = errno;
	int high = rg_own_dup_high(fd);

	if (high >= 0)
		rg_fd_mark_own(high, o);
	atomic_store_explicit(&o->fd, high, memory_order_release);
	errno = saved;
	return high >= 0;
}

/* Unmarked before it is closed: the number is never free in the kernel
 * while the table still calls it resetguard's, where a close() of the
 * program's could be taken for one of ours. */
void rg_own_close_locked(struct rg_own *o)
{
	int saved = errno;
	int fd = atomic_exchange_explicit(&o->fd, -1, memory_order_acq_rel);

	if (fd >= 0) {
		rg_fd_mark(fd, RG_FD_UNSEEN);
		rg_libc(close)(fd);
	}
	errno = saved;
}

void rg_own_close(struct rg_own *o)
{
	sigset_t saved;

	rg_lock_take(RG_LOCK_DRAINER, &saved);
	rg_own_close_locked(o);
	rg_lock_give(RG_LOCK_DRAINER, &saved);
}

/* When the program has taken every number from the floor up, the highest
 * free one below it: the program asked for those numbers, and a descriptor
 * already in use must go somewhere.  A new one is not made there. */
static int rg_own_dup_below(int fd)
{
	for (int below = atomic_load_explicit(&rg_own_floor, memory_order_relaxed) - 1; below > 2;
	     below--) {
		int moved = rg_libc(fcntl)(fd, F_DUPFD_CLOEXEC, below);

		if (moved >= 0 || errno != EMFILE)
			return moved;
	}
	return -1;
}

/* Moves the own descriptor at n, whose holder is paused, to another
 * number; when none is left, a lingering socket gives its up first. */
static void rg_own_move(struct rg_own *o, int n)
{
	int high;

	while ((high = rg_own_dup_high(n)) < 0 && errno == EMFILE &&
	       (high = rg_own_dup_below(n)) < 0 && rg_drainer_release_other(o))
		;
	if (high >= 0)
		rg_fd_mark_own(high, o);
	/* With no number left, the holder loses its descriptor: the program's
	 * call replaces it, as it would without resetguard. */
	atomic_store_explicit(&o->fd, high, memory_order_release);
	rg_fd_mark(n, RG_FD_UNSEEN);
}

/* One attempt; false when the holder was busy and the caller should let
 * others run before it tries again. */
static bool rg_own_try_evict(int n, bool *moved)
{
	sigset_t saved;
	struct rg_fd *e;
	bool done = true;

	*moved = false;
	rg_lock_take(RG_LOCK_DRAINER, &saved);
	if (rg_fd_known(n, &e) == RG_FD_OWN) {
		struct rg_own *o = e->owner;

		done = o->holder->pause(o);
		if (done) {
			rg_own_move(o, n);
			o->holder->resume(o);
			*moved = true;
		}
	}
	rg_lock_give(RG_LOCK_DRAINER, &saved);
	return done;
}

bool rg_own_evict(int n)
{
	bool moved;

	while (!rg_own_try_evict(n, &moved))
		sched_yield();
	return moved;
}

void rg_own_evicted_failed(int n)
{
	int saved = errno;

	rg_libc(close)(n);
	errno = saved;
}

void rg_own_lost(int n)
{
	sigset_t saved;
	struct rg_fd *e;
	int expected = n;

	rg_lock_take(RG_LOCK_DRAINER, &saved);
	if (rg_fd_known(n, &e) == RG_FD_OWN) {
		atomic_compare_exchange_strong(&e->owner->fd, &expected, -1);
		rg_fd_mark(n, RG_FD_UNSEEN);
	}
	rg_lock_give(RG_LOCK_DRAINER, &saved);
}

bool rg_own_give_up_one(void)
{
	return rg_drainer_give_up_one() || rg_sink_give_up();
}

void rg_own_make_room(int n)
{
	int own;

	while ((own = rg_fd_next(0, RG_FD_MAX, RG_FD_OWN)) >= 0 &&
	       own <= atomic_load_explicit(&rg_fd_program_high, memory_order_relaxed) + n &&
	       rg_own_give_up_one())
		;
}

static __thread sigset_t rg_own_frozen_mask;

void rg_own_freeze(void)
{
	rg_lock_take(RG_LOCK_DRAINER, &rg_own_frozen_mask);
}

void rg_own_thaw(void)
{
	rg_lock_give(RG_LOCK_DRAINER, &rg_own_frozen_mask);
}
