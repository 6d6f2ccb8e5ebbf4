/* Descriptor copies: the new number inherits what is known of the old one.
 * dup2()/dup3() onto one of resetguard's own descriptors first move that
 * descriptor out of the way, so the program gets exactly the number it
 * asked for and the shim never writes into it afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

#include "drainer.h"
#include "fdtable.h"
#include "linger.h"
#include "log.h"
#include "sink.h"
#include "real.h"

RG_EXPORT int dup(int oldfd)
{
	int fd = RG_RETRY_EMFILE(rg_libc(dup)(oldfd));

	if (fd >= 0)
		rg_fd_copy(fd, oldfd);
	return fd;
}

/* dup2()/dup3() close whatever newfd was: move an own descriptor out of
 * the way, and let go of a socket as close() would. */
static void rg_dup_target(int oldfd, int newfd)
{
	struct rg_fd *e;

	if (oldfd == newfd)
		return;
	switch (rg_fd_known(newfd, &e)) {
	case RG_FD_OWN:
		rg_sink_evict(newfd);
		break;
	case RG_FD_SOCKET:
		rg_linger_let_go(newfd, e, false);
		break;
	default:
		break;
	}
}

RG_EXPORT int dup2(int oldfd, int newfd)
{
	rg_dup_target(oldfd, newfd);

	int fd = rg_libc(dup2)(oldfd, newfd);

	if (fd >= 0 && oldfd != newfd)
		rg_fd_copy(fd, oldfd);
	return fd;
}

RG_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	rg_dup_target(oldfd, newfd);

	int fd = rg_libc(dup3)(oldfd, newfd, flags);

	if (fd >= 0)
		rg_fd_copy(fd, oldfd);
	return fd;
}

/* fcntl's third argument is an int, a long or a pointer depending on cmd;
 * like glibc itself, carry it as a pointer-sized value, which the x86-64
 * and AArch64 calling conventions pass in the same register either way. */
static int rg_fcntl_done(int fd, int cmd, int ret)
{
	if (ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		rg_fd_copy(ret, fd);
	return ret;
}

RG_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;

	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return rg_fcntl_done(fd, cmd, RG_RETRY_EMFILE(rg_libc(fcntl)(fd, cmd, arg)));
}

RG_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;

	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return rg_fcntl_done(fd, cmd, RG_RETRY_EMFILE(rg_libc(fcntl64)(fd, cmd, arg)));
}
