/* Closing.  A socket goes through rg_linger_let_go() (graceful close when it
 * is safe); other descriptors are forgotten before they are closed (a
 * number reused by another thread is then classified afresh, never
 * mistaken for the old one).  resetguard's own descriptors survive the
 * daemon habit of closing everything: close() on one reports success and
 * leaves it open (failing with EBADF trips programs that list /proc/self/fd
 * and assert on the result), close_range() and closefrom() close around
 * them. */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "fdtable.h"
#include "linger.h"
#include "real.h"

RG_EXPORT int close(int fd)
{
	struct rg_fd *e;

	switch (rg_fd_known(fd, &e)) {
	case RG_FD_OWN:
		return 0;
	case RG_FD_SOCKET:
		return rg_linger_let_go(fd, e, true);
	default:
		rg_fd_forget(fd);
		return rg_libc(close)(fd);
	}
}

/* close_range() and closefrom() let go of each socket in the range before
 * the kernel closes them all. */
static void rg_let_go_range(unsigned int first, unsigned int last)
{
	if (first >= RG_FD_MAX)
		return;
	for (int fd = (int)first; (fd = rg_fd_next(fd, last, RG_FD_SOCKET)) >= 0; fd++)
		rg_linger_let_go(fd, rg_fd_peek(fd), false);
}

/* The lowest own descriptor in [first, last], or -1. */
static int rg_next_own(unsigned int first, unsigned int last)
{
	return first < RG_FD_MAX ? rg_fd_next((int)first, last, RG_FD_OWN) : -1;
}

RG_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	int own, ret = 0;

	if (first > last) /* the kernel's EINVAL, unchanged */
		return rg_libc(close_range)(first, last, flags);
	if (!((unsigned int)flags & CLOSE_RANGE_CLOEXEC)) {
		rg_let_go_range(first, last);
		rg_fd_forget_range(first, last);
	}
	while ((own = rg_next_own(first, last)) >= 0) {
		if ((unsigned int)own > first)
			ret = rg_libc(close_range)(first, (unsigned int)own - 1, flags);
		if (ret < 0 || (unsigned int)own == last)
			return ret;
		first = (unsigned int)own + 1;
	}
	return rg_libc(close_range)(first, last, flags);
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

	rg_let_go_range(first, UINT_MAX);
	rg_fd_forget_range(first, UINT_MAX);
	while ((own = rg_next_own(first, UINT_MAX)) >= 0) {
		if ((unsigned int)own > first)
			rg_close_span(first, (unsigned int)own - 1);
		first = (unsigned int)own + 1;
	}
	errno = saved;
	rg_libc(closefrom)((int)first);
}
