/* Bindings to a socket's open file description (bindings.h), as the
 * program makes them and as the hand-over undoes them.
 *
 * epoll: a registration is keyed by (file, descriptor number) and removed
 * only when every descriptor of the file is closed (epoll(7), Q6), so a
 * program may close a registered socket without EPOLL_CTL_DEL, as nginx
 * does.  Each registration made through epoll_ctl() is recorded in the
 * entry of the number it was made under, with the name of the epoll
 * instance (its uid: the instance's number may be closed and reused); the
 * hand-over deletes them all while that number still refers to the
 * socket.  A registration resetguard cannot undo (more than RG_FD_REGS
 * under one number, an instance no longer reachable under any number, one
 * left under a number released while others still held the socket) makes
 * the close plain.
 *
 * Signal-driven I/O: O_ASYNC sends SIGIO (or the F_SETSIG signal) to the
 * owner, and an owner alone gets SIGURG for urgent data; the kernel's last
 * fput() clears both, so the hand-over clears them. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include "bindings.h"
#include "ownfd.h"
#include "real.h"

static _Atomic uint32_t rg_epoll_uids;

/* The uid of epoll instance epfd, named now if it has none yet (an
 * instance inherited, or made behind resetguard's back). */
static uint32_t rg_epoll_uid(int epfd)
{
	struct rg_fd *e = rg_fd_socket(epfd) ? NULL : rg_fd_peek(epfd);

	if (!e || rg_fd_kind_of(e) != RG_FD_OTHER)
		return 0;
	if (!e->epoll_uid)
		e->epoll_uid = atomic_fetch_add_explicit(&rg_epoll_uids, 1, memory_order_relaxed) + 1;
	return e->epoll_uid;
}

/* A new instance is named at once: its number's last owner may have been
 * an instance too. */
static int rg_epoll_created(int epfd)
{
	if (epfd >= 0) {
		epfd = rg_fd_created(epfd);
		rg_epoll_uid(epfd);
	}
	return epfd;
}

RG_EXPORT int epoll_create(int size)
{
	return rg_epoll_created(RG_RETRY_EMFILE(rg_libc(epoll_create)(size)));
}

RG_EXPORT int epoll_create1(int flags)
{
	return rg_epoll_created(RG_RETRY_EMFILE(rg_libc(epoll_create1)(flags)));
}

static void rg_epoll_added(struct rg_fd *e, int epfd, uint32_t uid)
{
	if (e->nregs < RG_FD_REGS)
		e->regs[e->nregs++] = (struct rg_epoll_reg){ epfd, uid };
	else
		e->bind |= RG_BIND_LOST;
}

static void rg_epoll_deleted(struct rg_fd *e, uint32_t uid)
{
	for (unsigned int i = 0; i < e->nregs; i++) {
		if (e->regs[i].uid == uid) {
			e->regs[i] = e->regs[--e->nregs];
			return;
		}
	}
}

/* EPOLL_CTL_MOD changes nothing resetguard records: one comparison. */
RG_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	int ret = rg_libc(epoll_ctl)(epfd, op, fd, event);
	struct rg_fd *e;

	if (ret < 0 || op == EPOLL_CTL_MOD || !(e = rg_fd_socket(fd)))
		return ret;
	int saved = errno;
	uint32_t uid = rg_epoll_uid(epfd);

	if (!uid)
		e->bind |= RG_BIND_LOST;
	else if (op == EPOLL_CTL_ADD)
		rg_epoll_added(e, epfd, uid);
	else if (op == EPOLL_CTL_DEL)
		rg_epoll_deleted(e, uid);
	errno = saved;
	return ret;
}

void rg_bind_fcntl(int fd, int cmd, long arg)
{
	struct rg_fd *e;
	bool binds = (cmd == F_SETFL && (arg & O_ASYNC)) || cmd == F_SETOWN ||
		     cmd == F_SETOWN_EX || (cmd == F_SETSIG && arg);

	if (binds && (e = rg_fd_socket(fd)))
		e->bind |= RG_BIND_ASYNC;
}

/* ioctl's FIOASYNC and FIOSETOWN/SIOCSPGRP are O_ASYNC and F_SETOWN by
 * another name.  ioctl() is common (FIONREAD, FIONBIO): the request is
 * compared first, and anything else passes straight through. */
RG_EXPORT int ioctl(int fd, rg_ioctl_request request, ...)
{
	va_list ap;

	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);

	int ret = rg_libc(ioctl)(fd, request, arg);

	if (ret == 0 && (request == FIOASYNC || request == FIOSETOWN || request == SIOCSPGRP)) {
		int saved = errno;
		struct rg_fd *e = rg_fd_socket(fd);

		if (e)
			e->bind |= RG_BIND_ASYNC;
		errno = saved;
	}
	return ret;
}

bool rg_bindings_left(const struct rg_fd *conn)
{
	return conn->nregs || (conn->bind & (RG_BIND_ASYNC | RG_BIND_LOST));
}

/* A number under which epoll instance uid is reachable now, or -1. */
static int rg_epoll_reach(const struct rg_epoll_reg *r)
{
	const struct rg_fd *e = rg_fd_peek(r->epfd);

	if (e && rg_fd_kind_of(e) == RG_FD_OTHER && e->epoll_uid == r->uid)
		return r->epfd;
	for (int fd = 0; (fd = rg_fd_next(fd, RG_FD_MAX, RG_FD_OTHER)) >= 0; fd++)
		if (rg_fd_peek(fd)->epoll_uid == r->uid)
			return fd;
	return -1;
}

bool rg_bindings_knows(const struct rg_fd *conn, int epfd)
{
	const struct rg_fd *e = rg_fd_peek(epfd);

	for (unsigned int i = 0; e && i < conn->nregs; i++)
		if (conn->regs[i].uid == e->epoll_uid && rg_fd_kind_of(e) == RG_FD_OTHER)
			return true;
	return false;
}

static bool rg_unbind_epoll(int fd, const struct rg_fd *conn)
{
	for (unsigned int i = 0; i < conn->nregs; i++) {
		int epfd = rg_epoll_reach(&conn->regs[i]);

		if (epfd < 0 || (rg_libc(epoll_ctl)(epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != ENOENT))
			return false;
	}
	return true;
}

static bool rg_unbind_async(int fd)
{
	static const struct f_owner_ex nobody = { F_OWNER_PID, 0 };
	int flags = rg_libc(fcntl)(fd, F_GETFL);

	return flags >= 0 &&
	       (!(flags & O_ASYNC) || rg_libc(fcntl)(fd, F_SETFL, flags & ~O_ASYNC) == 0) &&
	       rg_libc(fcntl)(fd, F_SETOWN_EX, &nobody) == 0 && rg_libc(fcntl)(fd, F_SETSIG, 0) == 0;
}

bool rg_bindings_undo_unknown(int fd)
{
	int saved = errno;
	bool undone = rg_unbind_async(fd);

	errno = saved;
	return undone;
}

bool rg_bindings_undo(int fd, const struct rg_fd *conn)
{
	int saved = errno;
	bool undone = !(conn->bind & (RG_BIND_LOST | RG_BIND_TAINTED)) && rg_unbind_epoll(fd, conn) &&
		      (!(conn->bind & RG_BIND_ASYNC) || rg_unbind_async(fd));

	errno = saved;
	return undone;
}
