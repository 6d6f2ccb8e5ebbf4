/* Descriptor copies: the new number inherits what is known of the old one.
 *
 * dup2() and dup3() close whatever newfd was, and change resetguard's state
 * only when they succeed: a socket there is let go of with nothing done
 * that cannot be taken back (linger.h), and one of resetguard's own
 * descriptors there moves out of the way first (ownfd.h), so the program
 * gets exactly the number it asked for and resetguard never uses it
 * afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>

#include "bindings.h"
#include "fdtable.h"
#include "lifecycle.h"
#include "linger.h"
#include "ownfd.h"
#include "real.h"

/* resetguard's own descriptors are not the program's to copy: a number
 * it never opened, as without resetguard, is EBADF. */
static bool rg_not_open(int fd)
{
	if (!rg_own_at(fd) || rg_in_vfork_child())
		return false;
	errno = EBADF;
	return true;
}

RG_EXPORT int dup(int oldfd)
{
	if (rg_not_open(oldfd))
		return -1;

	int fd = RG_RETRY_EMFILE(rg_libc(dup)(oldfd));

	if (fd >= 0)
		rg_fd_copy(fd = rg_fd_created(fd), oldfd);
	return fd;
}

/* What newfd was before dup2()/dup3() replace it. */
struct rg_replace {
	bool evicted;		  /* one of resetguard's, moved away */
	bool releasing;		  /* a socket, being let go of */
	struct rg_release release;
};

/* Whether dup2()/dup3() will fail before they touch newfd: then nothing
 * may happen to it here either, not even the peek at its socket that
 * deciding needs (a peek takes a pending error the program would read). */
static bool rg_replace_refused(int oldfd, int flags)
{
	int saved = errno;
	bool refused = (flags & ~O_CLOEXEC) != 0 || rg_libc(fcntl)(oldfd, F_GETFD) < 0;

	errno = saved;
	return refused;
}

static void rg_replace_begin(struct rg_replace *p, int oldfd, int newfd, int flags)
{
	struct rg_fd *e;

	p->evicted = p->releasing = false;
	if (oldfd == newfd || rg_in_vfork_child())
		return;
	if (rg_own_at(newfd)) {
		p->evicted = rg_own_evict(newfd);
	} else if (rg_fd_known(newfd, &e) == RG_FD_SOCKET && !rg_replace_refused(oldfd, flags)) {
		p->releasing = true;
		rg_release_begin(&p->release, newfd, e, RG_RELEASE_TRY);
	}
}

static int rg_replace_end(struct rg_replace *p, int oldfd, int newfd, int ret)
{
	bool done = ret >= 0;

	if (p->evicted && !done)
		rg_own_evicted_failed(newfd);
	if (p->releasing)
		rg_release_end(&p->release, done);
	if (done && oldfd != newfd && !rg_in_vfork_child())
		rg_fd_copy(newfd, oldfd);
	return ret;
}

RG_EXPORT int dup2(int oldfd, int newfd)
{
	struct rg_replace p;

	if (rg_not_open(oldfd))
		return -1;
	rg_replace_begin(&p, oldfd, newfd, 0);
	return rg_replace_end(&p, oldfd, newfd, rg_libc(dup2)(oldfd, newfd));
}

RG_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	struct rg_replace p;

	if (rg_not_open(oldfd))
		return -1;
	rg_replace_begin(&p, oldfd, newfd, flags);
	return rg_replace_end(&p, oldfd, newfd, rg_libc(dup3)(oldfd, newfd, flags));
}

/* fcntl's third argument is an int, a long or a pointer depending on cmd;
 * like glibc itself, carry it as a pointer-sized value, which the x86-64
 * and AArch64 calling conventions pass in the same register either way. */
static int rg_fcntl_done(int fd, int cmd, void *arg, int ret)
{
	if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		rg_fd_copy(ret, fd);
	else if (ret >= 0)
		rg_bind_fcntl(fd, cmd, (long)arg);
	return ret;
}

/* F_DUPFD gives the lowest free number from arg up: an own descriptor
 * there has the number the program would have got (rg_fd_created_from),
 * and one below arg is no use to it at the limit. */
static int rg_fcntl_call(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	int floor = (int)(intptr_t)arg, ret;

	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return RG_RETRY_EMFILE(real(fd, cmd, arg));
	ret = RG_RETRY_EMFILE_FROM(real(fd, cmd, arg), floor);
	return ret >= 0 ? rg_fd_created_from(ret, floor, true) : ret;
}

RG_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;

	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (rg_not_open(fd))
		return -1;
	return rg_fcntl_done(fd, cmd, arg, rg_fcntl_call(rg_libc(fcntl), fd, cmd, arg));
}

RG_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;

	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (rg_not_open(fd))
		return -1;
	return rg_fcntl_done(fd, cmd, arg, rg_fcntl_call(rg_libc(fcntl64), fd, cmd, arg));
}
