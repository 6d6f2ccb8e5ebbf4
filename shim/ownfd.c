/* resetguard's own descriptors (ownfd.h).
 *
 * They are created, closed and moved under RG_LOCK_DRAINER, which the
 * close_range() and closefrom() wrappers hold too while they close around
 * them: a descriptor never appears or goes while a range is being closed.
 * Each is marked with its holder in rg_own_dir; a holder stops using its
 * descriptor for a moment when asked (pause), so that a dup2() of the
 * program's onto that number can move it elsewhere first. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "drainer.h"
#include "fdtable.h"
#include "lock.h"
#include "lifecycle.h"
#include "ownfd.h"
#include "real.h"

/* Own descriptors sit at the top of the descriptor table the kernel has
 * already sized for the program, from the top down: the first 1024
 * numbers, or the next power of two above the program's highest
 * (expand_files() sizes the table in powers of two), and never at or above
 * RLIMIT_NOFILE.  Programs get the lowest free number and reach them last,
 * so their own numbers are what they would be without resetguard; a
 * program that does reach them has them step aside (rg_own_make_way).
 * Within the table's size, so that a huge limit does not make the kernel
 * grow the table for nothing, and select() users keep their numbers.  All
 * of this under RG_LOCK_DRAINER. */
static int rg_own_top = -1;
/* Own descriptors below rg_own_top (those above it stay where they are
 * after the program lowered its limit). */
static int rg_own_count;
/* The lowest own descriptor, read without the lock on every descriptor
 * the program makes (rg_own_make_way). */
_Atomic int rg_own_lowest = INT_MAX;
/* A number freed above the lowest own descriptor (a lingering socket that
 * ended or was capped) is one the program would reach before those below
 * it: rg_own_compact() moves the lowest up into it. */
static _Atomic bool rg_own_holed;

rg_own_ref *_Atomic rg_own_dir[RG_FD_MAX >> RG_OWN_CHUNK_SHIFT];

static const struct rg_own_holder *const rg_own_holders[] = {
	[RG_HELD_BY_SLOT] = &rg_slot_holder,   [RG_HELD_BY_DRAINER] = &rg_drainer_holder,
	[RG_HELD_BY_SHARE] = &rg_share_holder, [RG_HELD_BY_SINK] = &rg_sink_holder,
	[RG_HELD_BY_STATE] = &rg_state_holder,
};

static const struct rg_own_holder *rg_holder_of(const struct rg_own *o)
{
	return rg_own_holders[o->holder];
}

/* Where n's holder is written, its chunk mapped if need be (mmap, not
 * malloc: a signal handler may be closing); NULL without memory. */
static rg_own_ref *rg_own_ref_of(int n)
{
	rg_own_ref *_Atomic *dir = &rg_own_dir[(unsigned)n >> RG_OWN_CHUNK_SHIFT];
	rg_own_ref *chunk = atomic_load_explicit(dir, memory_order_acquire);

	if (!chunk) {
		chunk = mmap(NULL, RG_OWN_CHUNK * sizeof(*chunk), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (chunk == MAP_FAILED)
			return NULL;
		/* Under RG_LOCK_DRAINER: no other writer. */
		atomic_store_explicit(dir, chunk, memory_order_release);
	}
	return &chunk[(unsigned)n & (RG_OWN_CHUNK - 1)];
}

int rg_own_next_at(int first, unsigned int last)
{
	if (last >= RG_FD_MAX)
		last = RG_FD_MAX - 1;
	for (unsigned int n = (unsigned int)first; n <= last; n++) {
		rg_own_ref *chunk = atomic_load_explicit(&rg_own_dir[n >> RG_OWN_CHUNK_SHIFT],
							 memory_order_acquire);

		if (!chunk)
			n |= RG_OWN_CHUNK - 1; /* skip the whole unmapped chunk */
		else if (atomic_load_explicit(&chunk[n & (RG_OWN_CHUNK - 1)], memory_order_acquire))
			return (int)n;
	}
	return -1;
}

/* The top for a program whose descriptors reach high. */
static int rg_own_top_for(int high)
{
	struct rlimit rl;
	rlim_t top = 1024;

	while (top <= (rlim_t)high + (rlim_t)rg_own_count + 1 && top <= INT_MAX / 2)
		top *= 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < top)
		top = rl.rlim_cur;
	return top > 4 ? (int)top : 4;
}

static int rg_own_top_now(void)
{
	return rg_own_top_for(atomic_load_explicit(&rg_fd_program_high, memory_order_relaxed));
}

static void rg_own_set_top(int top)
{
	rg_own_top = top;
	rg_own_count = 0;
	for (int n = 0; n < top && (n = rg_own_next_at(n, (unsigned int)top - 1)) >= 0; n++)
		rg_own_count++;
}

/* The program's entry for n goes too: one left by a close the wrappers
 * did not see must not make n pass for the program's socket. */
static void rg_own_mark(int n, struct rg_own *o)
{
	rg_own_ref *ref = rg_own_ref_of(n);

	if (!ref)
		return;
	rg_fd_forget(n);
	atomic_store_explicit(ref, o, memory_order_release);
	rg_own_count += n < rg_own_top;
	if (n < atomic_load_explicit(&rg_own_lowest, memory_order_relaxed))
		atomic_store_explicit(&rg_own_lowest, n, memory_order_release);
}

static void rg_own_unmark(int n)
{
	rg_own_ref *ref = rg_own_at(n) ? rg_own_ref_of(n) : NULL;

	if (!ref)
		return;
	atomic_store_explicit(ref, NULL, memory_order_release);
	rg_own_count -= n < rg_own_top;
	if (n == atomic_load_explicit(&rg_own_lowest, memory_order_relaxed)) {
		int next = rg_own_next_at(n + 1, RG_FD_MAX);

		atomic_store_explicit(&rg_own_lowest, next < 0 ? INT_MAX : next,
				      memory_order_release);
	} else {
		atomic_store_explicit(&rg_own_holed, true, memory_order_relaxed);
	}
}

/* A copy of fd at the highest free number up to below, or a little lower:
 * when the program holds every number from below up (it dup2()s onto them,
 * or lives near its limit), the search steps down, doubling its stride. */
static int rg_own_dup_below(int fd, int below)
{
	for (int stride = 1;; stride *= 2) {
		int high = rg_libc(fcntl)(fd, F_DUPFD_CLOEXEC, below);

		if (high >= 0 || errno != EMFILE || below <= 3)
			return high;
		below = below - stride > 3 ? below - stride : 3;
	}
}

/* A copy of fd as high below the top as there is room: the lowest free
 * number from just under the own descriptors' place up (a gap among them,
 * or the next one down), else stepping down.  F_DUPFD fails with EINVAL for
 * a number at or above the limit: the program lowered it. */
static int rg_own_dup_high(int fd)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (rg_own_top < 0 || attempt)
			rg_own_set_top(rg_own_top_now());

		int top = rg_own_top, from = top - rg_own_count - 1;
		int high = rg_libc(fcntl)(fd, F_DUPFD_CLOEXEC, from > 3 ? from : 3);

		if (high >= top) {
			rg_libc(close)(high);
			high = rg_own_dup_below(fd, from - 1 > 3 ? from - 1 : 3);
		} else if (high < 0 && errno == EMFILE) {
			high = rg_own_dup_below(fd, from - 1 > 3 ? from - 1 : 3);
		}
		if (high >= 0 || errno != EINVAL)
			return high;
	}
	return -1;
}

/* Makes the kernel's descriptor table large enough for own descriptors now,
 * while the process is still single-threaded: growing it later, with other
 * threads sharing it, waits for an RCU grace period (expand_fdtable), tens
 * of milliseconds that would land in some program's close(). */
void rg_own_reserve(void)
{
	int saved = errno;
	int fd = rg_libc(open)("/dev/null", O_RDONLY | O_CLOEXEC);

	rg_own_set_top(rg_own_top_now());
	if (fd >= 0) {
		int high = rg_libc(fcntl)(fd, F_DUPFD_CLOEXEC, rg_own_top - 1);

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
	rg_own_mark(fd, o);
	atomic_store_explicit(&o->fd, fd, memory_order_release);
	errno = saved;
}

bool rg_own_dup(struct rg_own *o, int fd)
{
	int saved = errno;
	int high = rg_own_dup_high(fd);

	if (high >= 0)
		rg_own_mark(high, o);
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
		rg_own_unmark(fd);
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

/* Moves the own descriptor at n, whose holder is paused, to another
 * number; when none is left, a lingering socket gives its up first. */
static void rg_own_move(struct rg_own *o, int n)
{
	int high;

	while ((high = rg_own_dup_high(n)) < 0 && errno == EMFILE && rg_drainer_release_other(o))
		;
	if (high >= 0)
		rg_own_mark(high, o);
	/* With no number left, the holder loses its descriptor: the program's
	 * call replaces it, as it would without resetguard. */
	atomic_store_explicit(&o->fd, high, memory_order_release);
	rg_own_unmark(n);
}

/* One attempt; false when the holder was busy and the caller should let
 * others run before it tries again. */
static bool rg_own_try_evict(int n, bool *moved)
{
	sigset_t saved;
	struct rg_own *o;
	bool done = true;

	*moved = false;
	rg_lock_take(RG_LOCK_DRAINER, &saved);
	if ((o = rg_own_at(n))) {
		done = rg_holder_of(o)->pause(o);
		if (done) {
			rg_own_move(o, n);
			rg_holder_of(o)->resume(o);
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

static int rg_cloexec_of(int fd)
{
	return (rg_libc(fcntl)(fd, F_GETFD) & FD_CLOEXEC) ? O_CLOEXEC : 0;
}

/* The own descriptor at n to high, a copy of it made while its holder
 * still ran, and the program's prog (-1: none) to n, in one dup3() over
 * resetguard's old copy so that no other thread can take n in between.
 * Returns n when prog took it (or, without prog, when the own one moved),
 * else -1; *busy when the holder could not pause and the caller should
 * let others run before it asks again. */
static int rg_own_try_step_aside(int n, int high, int prog, bool *busy)
{
	sigset_t saved;
	struct rg_own *o;
	int took = -1;

	*busy = false;
	rg_lock_take(RG_LOCK_DRAINER, &saved);
	if ((o = rg_own_at(n))) {
		*busy = !rg_holder_of(o)->pause(o);
		if (!*busy) {
			rg_own_mark(high, o);
			atomic_store_explicit(&o->fd, high, memory_order_release);
			high = -1;
			bool handed = prog >= 0 && rg_libc(dup3)(prog, n, rg_cloexec_of(prog)) == n;

			if (!handed)
				rg_libc(close)(n);
			rg_own_unmark(n);
			took = handed || prog < 0 ? n : -1;
			rg_holder_of(o)->resume(o);
		}
	}
	rg_lock_give(RG_LOCK_DRAINER, &saved);
	if (high >= 0)
		rg_libc(close)(high);
	return took;
}

/* A copy of the own descriptor at n above it, in the place at the top;
 * -1 when there is no room there.  With squeeze, a lingering socket other
 * than n's is given up to make room when there is none at all (the
 * process is at its limit, where the program's next call would give one
 * up anyway). */
static int rg_own_copy_up(int n, bool squeeze)
{
	sigset_t saved;
	struct rg_own *o;
	int high = -1;

	rg_lock_take(RG_LOCK_DRAINER, &saved);
	if ((o = rg_own_at(n))) {
		high = rg_own_dup_high(n);
		if (high >= 0 && high <= n) {
			rg_libc(close)(high);
			high = -1;
		}
		/* The top is full: any number above n will do. */
		while (high < 0 && (high = rg_libc(fcntl)(n, F_DUPFD_CLOEXEC, n + 1)) < 0 &&
		       errno == EMFILE && squeeze && rg_drainer_release_other(o))
			;
		if (high >= rg_own_top) {
			rg_libc(close)(high);
			high = -1;
		}
	}
	rg_lock_give(RG_LOCK_DRAINER, &saved);
	return high;
}

/* Moves the own descriptor at n up, when there is room; see
 * rg_own_try_step_aside(). */
static int rg_own_step_aside(int n, int prog, bool squeeze)
{
	bool busy = true;
	int took = -1;

	for (int tries = 0; took < 0 && busy && tries < 1000; tries++) {
		int high = rg_own_copy_up(n, squeeze);

		if (high < 0)
			break;
		if (tries)
			sched_yield();
		took = rg_own_try_step_aside(n, high, prog, &busy);
	}
	return took;
}

/* Every own descriptor below the place at the top moves up into it. */
static void rg_own_lift(void)
{
	sigset_t saved;
	int bottom;

	rg_lock_take(RG_LOCK_DRAINER, &saved);
	bottom = rg_own_top - rg_own_count;
	rg_lock_give(RG_LOCK_DRAINER, &saved);
	for (int n = 0; n < bottom && (n = rg_own_next_at(n, (unsigned int)bottom - 1)) >= 0; n++)
		rg_own_step_aside(n, -1, false);
}

/* The place at the top rises with the program's reach (or limit). */
static void rg_own_raise_top(int top)
{
	sigset_t saved;

	rg_lock_take(RG_LOCK_DRAINER, &saved);
	if (top > rg_own_top)
		rg_own_set_top(top);
	rg_lock_give(RG_LOCK_DRAINER, &saved);
}

static bool rg_own_give_up_at(int n);

/* No room above n: the program's descriptor fd would have had n, and its
 * holder gives it up, as it would at the program's next EMFILE.  The
 * number the program's copy took, or -1. */
static int rg_own_give_way(int n, int fd)
{
	int low;

	if (!rg_own_give_up_at(n))
		return -1;
	low = rg_libc(fcntl)(fd, rg_cloexec_of(fd) ? F_DUPFD_CLOEXEC : F_DUPFD, n);
	if (low >= 0 && low < fd)
		return low;
	if (low >= 0)
		rg_libc(close)(low);
	return -1;
}

static __attribute__((noinline)) int rg_own_make_way_slow(int fd, int floor, bool renumber)
{
	int n;

	rg_own_raise_top(rg_own_top_for(fd));
	n = rg_own_next_at(floor, (unsigned int)fd - 1);
	if (renumber && n >= 0) {
		int took = rg_own_step_aside(n, fd, true);

		if (took < 0)
			took = rg_own_give_way(n, fd);
		if (took >= 0) {
			rg_libc(close)(fd);
			fd = took;
		}
	}
	rg_own_lift();
	return fd;
}

void rg_own_clear_next(void)
{
	int saved = errno, n = atomic_load_explicit(&rg_own_lowest, memory_order_acquire);

	if (n == INT_MAX || atomic_load_explicit(&rg_fd_program_high, memory_order_relaxed) + 1 < n)
		return;
	int lowest_free = rg_libc(fcntl)(n, F_DUPFD_CLOEXEC, 0);

	if (lowest_free >= 0)
		rg_libc(close)(lowest_free);
	if ((lowest_free > n || (lowest_free < 0 && errno == EMFILE)) &&
	    rg_own_step_aside(n, -1, true) < 0)
		rg_own_give_up_at(n);
	errno = saved;
}

int rg_own_make_way(int fd, int floor, bool renumber)
{
	if (fd > atomic_load_explicit(&rg_own_lowest, memory_order_acquire)) {
		int saved = errno;

		fd = rg_own_make_way_slow(fd, floor, renumber);
		errno = saved;
	}
	return fd;
}

/* Moves the lowest own descriptor into the lowest hole above it, with the
 * lock held; false when there is none below the top, or its holder is
 * busy (*busy).  The caller's own (mine) need no pause. */
static bool rg_own_fill_hole(enum rg_own_holder_id mine, bool *busy)
{
	int n = atomic_load_explicit(&rg_own_lowest, memory_order_relaxed), high;
	struct rg_own *o;

	if (n == INT_MAX || !(o = rg_own_at(n)))
		return false;
	bool self = o->holder == mine; /* the caller's own: not in use now */

	if (!self && !rg_holder_of(o)->pause(o)) {
		*busy = true;
		return false;
	}
	high = rg_libc(fcntl)(n, F_DUPFD_CLOEXEC, n + 1);
	if (high >= rg_own_top) {
		rg_libc(close)(high);
		high = -1;
	}
	if (high >= 0) {
		rg_own_mark(high, o);
		atomic_store_explicit(&o->fd, high, memory_order_release);
		rg_libc(close)(n);
		rg_own_unmark(n);
	}
	if (!self)
		rg_holder_of(o)->resume(o);
	return high >= 0;
}

/* Without waiting for the lock: the drainer thread must stay free to
 * pause for a mover that holds it. */
void rg_own_compact(enum rg_own_holder_id mine)
{
	int saved_errno = errno;
	sigset_t saved;
	bool busy = false;

	if (!atomic_exchange_explicit(&rg_own_holed, false, memory_order_relaxed))
		return;
	if (rg_lock_try(RG_LOCK_DRAINER, &saved)) {
		while (rg_own_fill_hole(mine, &busy))
			;
		rg_lock_give(RG_LOCK_DRAINER, &saved);
	} else {
		busy = true;
	}
	if (busy) /* again on the next turn */
		atomic_store_explicit(&rg_own_holed, true, memory_order_relaxed);
	errno = saved_errno;
}

/* The program raised its descriptor limit: the place at the top moves up,
 * and the own descriptors below it follow, so that the numbers the program
 * now has room for are free again, as without resetguard.  A lowered limit
 * only moves the top down for descriptors resetguard makes from now on. */
void rg_own_limit_changed(void)
{
	sigset_t saved;
	int old_top, top;

	if (rg_out_of_scope)
		return;
	rg_lock_take(RG_LOCK_DRAINER, &saved);
	old_top = rg_own_top;
	rg_own_set_top(rg_own_top_now());
	top = rg_own_top;
	rg_lock_give(RG_LOCK_DRAINER, &saved);
	if (top > old_top && old_top >= 0)
		rg_own_lift();
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
	struct rg_own *o;
	int expected = n;

	rg_lock_take(RG_LOCK_DRAINER, &saved);
	if ((o = rg_own_at(n))) {
		atomic_compare_exchange_strong(&o->fd, &expected, -1);
		rg_own_unmark(n);
	}
	rg_lock_give(RG_LOCK_DRAINER, &saved);
}

/* The lowest own descriptor from n up and its holder, or -1. */
static int rg_own_next(int n, struct rg_own **o)
{
	sigset_t saved;

	rg_lock_take(RG_LOCK_DRAINER, &saved);
	n = rg_own_next_at(n, RG_FD_MAX);
	*o = n >= 0 ? rg_own_at(n) : NULL;
	rg_lock_give(RG_LOCK_DRAINER, &saved);
	return *o ? n : -1;
}

/* A holder busy for a moment (the drainer reading its socket) is asked
 * again: its descriptor may be the one the program needs. */
static bool rg_own_give_up_at(int n)
{
	for (int tries = 0; tries < 1000; tries++) {
		struct rg_own *o;

		if (rg_own_next(n, &o) != n)
			return false;
		switch (rg_holder_of(o)->give_up(o)) {
		case RG_GAVE:
			return true;
		case RG_CANNOT:
			return false;
		case RG_BUSY:
			break;
		}
		sched_yield();
	}
	return false;
}

/* errno is the failed call's, which the caller still looks at.  When the
 * lowest own descriptor from floor up cannot go (the drainer's, while
 * sockets linger), a higher one goes and the lowest moves into its
 * number: the number freed is the one the program would have got. */
bool rg_own_give_up_from(int floor)
{
	int saved = errno, kept = -1;
	bool gave = false, busy = true;

	if (rg_out_of_scope)
		return false;
	for (int tries = 0; !gave && busy && tries < 1000; tries++) {
		struct rg_own *o;

		if (tries)
			sched_yield();
		busy = false;
		kept = -1;
		for (int n = floor; !gave && (n = rg_own_next(n, &o)) >= 0; n++) {
			enum rg_give g = rg_holder_of(o)->give_up(o);

			gave = g == RG_GAVE;
			busy |= g == RG_BUSY;
			if (!gave && kept < 0)
				kept = n;
		}
	}
	if (gave && kept >= 0)
		rg_own_step_aside(kept, -1, false);
	errno = saved;
	return gave;
}

void rg_own_make_room(int n)
{
	int own;

	while ((own = rg_own_next_at(0, RG_FD_MAX)) >= 0 &&
	       own <= atomic_load_explicit(&rg_fd_program_high, memory_order_relaxed) + n &&
	       rg_own_give_up_from(0))
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
