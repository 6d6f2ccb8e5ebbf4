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
#include "ownfd.h"
#include "real.h"

RG_EXPORT int close(int fd)
{
	struct rg_fd *e;

	switch (rg_fd_known(fd, &e)) {
	case RG_FD_OWN:
		return 0;
	case RG_FD_SOCKET:
		return rg_linger_close(fd, e);
	default:
		rg_fd_forget(fd);
		return rg_libc(close)(fd);
	}
}

/* Each socket in the range is closed as close() would, before the kernel
 * closes the rest. */
static void rg_close_sockets(unsigned int first, unsigned int last)
{
	if (first >= RG_FD_MAX || rg_in_vfork_child())
		return;
	for (int fd = (int)first; (fd = rg_fd_next(fd, last, RG_FD_SOCKET)) >= 0; fd++)
		rg_linger_close(fd, rg_fd_peek(fd));
}

/* The lowest own descriptor in [first, last], or -1. */
static int rg_next_own(unsigned int first, unsigned int last)
{
	return first < RG_FD_MAX ? rg_fd_next((int)first, last, RG_FD_OWN) : -1;
}

/* The pieces of [first, last] between own descriptors, with close_range();
 * its first failure, or 0. */
static int rg_close_around(unsigned int first, unsigned int last, int flags)
{
	int own, ret = 0;

	while ((own = rg_next_own(first, last)) >= 0) {
		if ((unsigned int)own > first)
			ret = rg_libc(close_range)(first, (unsigned int)own - 1, flags);
		if (ret < 0 || (unsigned int)own == last)
			return ret;
		first = (unsigned int)own + 1;
	}
	return rg_libc(close_range)(first, last, flags);
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
	int ret;

	if (rg_close_range_plain(first, last, flags))
		return rg_libc(close_range)(first, last, flags);
	if (!((unsigned int)flags & CLOSE_RANGE_CLOEXEC))
		rg_close_sockets(first, last);
	rg_own_freeze();
	if (!((unsigned int)flags & CLOSE_RANGE_CLOEXEC) && !rg_in_vfork_child())
		rg_fd_forget_range(first, last);
	ret = rg_close_around(first, last, flags);
	rg_own_thaw();
	return ret;
}

/* closefrom() cannot fail, so neither may the pieces below an own
 * descriptor: where close_range() is refused, close them one by one, as
 * glibc's own fallback does. */
static void rg_close_span(unsigned int first, unsigned int last)
{
	if (rg_libc(close_range)(first, last, 0) == 0)
		return;
	for (unsigned int fd = first; fd <= last; fd++)
		rg_libc(close)((int)fd);
}

RG_EXPORT void closefrom(int lowfd)
{
	int saved = errno, own;
	unsigned int first = lowfd < 0 ? 0 : (unsigned int)lowfd;

	rg_close_sockets(first, UINT_MAX);
	rg_own_freeze();
	if (!rg_in_vfork_child())
		rg_fd_forget_range(first, UINT_MAX);
	while ((own = rg_next_own(first, UINT_MAX)) >= 0) {
		if ((unsigned int)own > first)
			rg_close_span(first, (unsigned int)own - 1);
		first = (unsigned int)own + 1;
	}
	rg_libc(closefrom)((int)first);
	rg_own_thaw();
	errno = saved;
}
