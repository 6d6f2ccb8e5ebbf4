/* Closing.  A socket goes through rg_linger_close() (graceful close when
 * it is safe); other descriptors are forgotten before they are closed (a
 * number reused by another thread is then classified afresh, never
 * mistaken for the old one).  resetguard's own descriptors survive the
 * daemon habit of closing everything: close() on one reports success and
 * leaves it open (failing with EBADF trips programs that list /proc/self/fd
 * and assert on the result), close_range() and closefrom() close around
 * them, with no own descriptor appearing or going meanwhile. */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "fdtable.h"
#include "lifecycle.h"
#include "linger.h"
#include "listen.h"
#include "ownfd.h"
#include "real.h"

/* Out of line, so that the close() of anything else needs no stack
 * frame: nginx closes a file per request. */
static __attribute__((noinline)) int rg_close_socket(int fd, struct rg_fd *e)
{
	rg_listen_closing(fd);
	return rg_linger_close(fd, e);
}

/* Own descriptors are at or above the lowest one: one comparison for the
 * program's numbers, which are below it.  An own descriptor being made
 * is visible here a moment after its number exists; only a close() of a
 * number the program never got can meet it in that moment. */
static bool rg_own_holds(int fd)
{
	return fd >= atomic_load_explicit(&rg_own_lowest, memory_order_acquire) && rg_own_at(fd);
}

RG_EXPORT int close(int fd)
{
	struct rg_fd *e;
	enum rg_fd_kind kind = rg_fd_known(fd, &e);

	if (kind == RG_FD_SOCKET)
		return rg_close_socket(fd, e);
	if (rg_own_holds(fd))
		return 0;
	if (!e)
		return rg_libc(close)(fd);
	rg_fd_forget_entry(e);
	return rg_libc_bound(close)(fd);
}

/* The lowest own descriptor in [first, last], or -1. */
static int rg_next_own(unsigned int first, unsigned int last)
{
	return first < RG_FD_MAX ? rg_own_next_at((int)first, last) : -1;
}

/* [first, last] for closefrom(), which cannot fail: where close_range() is
 * refused, one by one, as glibc's own fallback does. */
static int rg_close_piece(unsigned int first, unsigned int last, int flags, bool infallible)
{
	if (!infallible)
		return rg_libc(close_range)(first, last, flags);
	if (last == UINT_MAX) {
		rg_libc(closefrom)((int)first);
		return 0;
	}
	if (rg_libc(close_range)(first, last, 0) != 0)
		for (unsigned int fd = first; fd <= last; fd++)
			rg_libc(close)((int)fd);
	return 0;
}

/* The pieces of [first, last] between own descriptors; the first failure,
 * or 0.  With the own descriptors frozen: none appears or goes meanwhile. */
static int rg_close_around(unsigned int first, unsigned int last, int flags, bool infallible)
{
	int own, ret = 0;

	rg_own_freeze();
	if (!((unsigned int)flags & CLOSE_RANGE_CLOEXEC) && !rg_in_vfork_child())
		rg_fd_forget_range(first, last);
	while ((own = rg_next_own(first, last)) >= 0) {
		if ((unsigned int)own > first)
			ret = rg_close_piece(first, (unsigned int)own - 1, flags, infallible);
		if (ret < 0 || (unsigned int)own == last)
			break;
		first = (unsigned int)own + 1;
	}
	if (ret == 0 && (own < 0 || (unsigned int)own != last))
		ret = rg_close_piece(first, last, flags, infallible);
	rg_own_thaw();
	return ret;
}

/* The sockets of a range are let go of in batches: a batch's releases
 * begin, the kernel closes the numbers up to its last socket (each socket
 * with them, exactly once: a number another thread reuses at once is never
 * closed a second time), and the releases end. */
#define RG_RANGE_BATCH 16

static int rg_close_sockets_around(unsigned int first, unsigned int last, bool infallible)
{
	struct rg_release batch[RG_RANGE_BATCH];

	for (;;) {
		int n = 0, fd = (int)first;

		while (n < RG_RANGE_BATCH && first < RG_FD_MAX && !rg_in_vfork_child() &&
		       (fd = rg_fd_next(fd, last, RG_FD_SOCKET)) >= 0) {
			rg_release_begin(&batch[n++], fd, rg_fd_peek(fd), RG_RELEASE_SURE);
			fd++;
		}
		unsigned int upto = n == RG_RANGE_BATCH ? (unsigned int)batch[n - 1].fd : last;

		int ret = rg_close_around(first, upto, 0, infallible);
		for (int i = 0; i < n; i++)
			rg_release_end(&batch[i], true);
		if (ret < 0 || upto == last)
			return ret;
		first = upto + 1;
	}
}

/* Whether close_range() would refuse these arguments: then it closes
 * nothing, and nothing may change here either.  CLOSE_RANGE_UNSHARE
 * closes in a table of the caller's own, which resetguard's one table per
 * process cannot follow: passed through untouched. */
static bool rg_close_range_plain(unsigned int first, unsigned int last, int flags)
{
	return first > last || ((unsigned int)flags & ~(unsigned int)CLOSE_RANGE_CLOEXEC) != 0;
}

RG_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (rg_close_range_plain(first, last, flags))
		return rg_libc(close_range)(first, last, flags);
	if ((unsigned int)flags & CLOSE_RANGE_CLOEXEC)
		return rg_close_around(first, last, flags, false);
	return rg_close_sockets_around(first, last, false);
}

RG_EXPORT void closefrom(int lowfd)
{
	int saved = errno;

	rg_close_sockets_around(lowfd < 0 ? 0 : (unsigned int)lowfd, UINT_MAX, true);
	errno = saved;
}
