/* Where sockets are born and connected: each creation path resets the
 * descriptor's entry, and the peer is learnt here, from connect()'s
 * argument or accept()'s result, because after a reset getpeername() fails
 * with ENOTCONN and the log would have no one to name. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "io.h"
#include "listen.h"
#include "ownfd.h"
#include "real.h"

RG_EXPORT int socket(int domain, int type, int protocol)
{
	int fd = RG_RETRY_EMFILE(rg_libc(socket)(domain, type, protocol));

	return fd >= 0 ? rg_fd_new_socket(fd, domain, type, RG_ROLE_UNKNOWN, NULL, 0) : fd;
}

RG_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	int ret = RG_RETRY_EMFILE(rg_libc(socketpair)(domain, type, protocol, sv));

	if (ret == 0) {
		struct sockaddr_un unnamed = { .sun_family = (sa_family_t)domain };
		socklen_t len = offsetof(struct sockaddr_un, sun_path);

		rg_fd_created_set(sv, 2);
		rg_fd_init_socket(sv[0], domain, type, RG_ROLE_PAIR, (struct sockaddr *)&unnamed, len);
		rg_fd_init_socket(sv[1], domain, type, RG_ROLE_PAIR, (struct sockaddr *)&unnamed, len);
		rg_fd_link_pair(sv);
	}
	return ret;
}

/* The new connection's entry.  When the program passed no address buffer
 * the shim passed its own; when the program's was too small for the whole
 * address, ask the kernel once more for the full one. */
static int rg_accepted(int listener, int fd, int flags, const struct sockaddr *addr,
		       socklen_t given, socklen_t actual)
{
	struct rg_fd *l = rg_fd_socket(listener);
	struct sockaddr_storage full;
	int family = l ? l->family : AF_UNSPEC;
	int type = (l ? l->type : SOCK_STREAM) | flags;

	if (actual > given) {
		int saved = errno;

		actual = sizeof(full);
		addr = getpeername(fd, (struct sockaddr *)&full, &actual) == 0
			       ? (struct sockaddr *)&full
			       : NULL;
		errno = saved;
	}
	return rg_fd_new_socket(fd, family, type, RG_ROLE_SERVER, addr, actual);
}

static int rg_accept(int listener, struct sockaddr *addr, socklen_t *addrlen, int flags,
		     const char *op)
{
	struct sockaddr_storage own;
	socklen_t own_len = sizeof(own);
	/* The program's own buffers are passed to the kernel as they are, so
	 * that a bad pointer fails there with EFAULT; only when it passes no
	 * address buffer does the shim lend one. */
	bool mine = !addr;
	struct sockaddr *a = mine ? (struct sockaddr *)&own : addr;
	socklen_t *alen = mine ? &own_len : addrlen;
	socklen_t given = alen ? *alen : 0;
	int fd = RG_RETRY_EMFILE(flags ? rg_libc(accept4)(listener, a, alen, flags)
				       : rg_libc(accept)(listener, a, alen));

	rg_listen_accepted(listener);
	if (fd >= 0) {
		fd = rg_accepted(listener, fd, flags, a, given, alen ? *alen : 0);
	} else {
		struct rg_fd *e = rg_fd_socket(listener);

		if (e)
			rg_conn_failed(e, listener, op);
	}
	return fd;
}

RG_EXPORT int accept(int listener, struct sockaddr *addr, socklen_t *addrlen)
{
	return rg_accept(listener, addr, addrlen, 0, "accept");
}

RG_EXPORT int accept4(int listener, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	return rg_accept(listener, addr, addrlen, flags, "accept4");
}

RG_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (!e)
		return rg_libc(connect)(fd, addr, len);

	if (RG_UNLIKELY(rg_config.keepalive_idle))
		rg_keepalive_connect(fd, e);

	struct rg_fd_life *l = rg_io_begin(e);
	int ret = rg_libc(connect)(fd, addr, len);
	int err = errno;

	rg_io_end(l);
	if (ret < 0 && err == EFAULT)
		return ret;
	/* Remembered even while a non-blocking connect is in progress, or
	 * after it failed: the log names whom it tried to reach. */
	rg_fd_set_peer(fd, RG_ROLE_CLIENT, addr, len);
	errno = err;
	if (ret < 0 && err != EINPROGRESS)
		rg_conn_failed(e, fd, "connect");
	return ret;
}

/* A non-blocking connect() ends where the program reads SO_ERROR (after
 * poll says the socket is writable, as curl does), and so does an error
 * an event loop learns of from EPOLLERR.  Reading it clears it, so the
 * library watches the program's own read, never reads it itself (NOTES),
 * and logs what the program met there, once. */
static void rg_connect_outcome(int fd, const void *val, const socklen_t *len)
{
	int saved = errno, err = 0;
	struct rg_fd *e;

	if (val && len && *len >= (socklen_t)sizeof(err))
		memcpy(&err, val, sizeof(err));
	if (err && (e = rg_fd_socket(fd))) {
		errno = err;
		rg_conn_failed(e, fd, "getsockopt");
	}
	errno = saved;
}

RG_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int ret = rg_libc(getsockopt)(fd, level, name, val, len);

	if (RG_UNLIKELY(ret == 0 && level == SOL_SOCKET && name == SO_ERROR))
		rg_connect_outcome(fd, val, len);
	return ret;
}

/* A stream socketpair() end shut down one way before anything went
 * through it is one end of a pipe: ksh93 makes every pipeline so (and
 * marks the ends for the programs it runs, fdtable.c).  Pipes are not
 * resetguard's: a write whose reader has gone must raise SIGPIPE as it
 * would, or a shell loop writing into `| head` never ends. */
static bool rg_made_pipe_end(const struct rg_fd *e, int how)
{
	const struct rg_fd_life *l = atomic_load_explicit(&e->life, memory_order_relaxed);

	return e->role == RG_ROLE_PAIR && e->family == AF_UNIX && e->type == SOCK_STREAM &&
	       how != SHUT_RDWR && !atomic_load_explicit(&l->tx_bytes, memory_order_relaxed) &&
	       !atomic_load_explicit(&l->rx_bytes, memory_order_relaxed);
}

RG_EXPORT int shutdown(int fd, int how)
{
	int ret = rg_libc(shutdown)(fd, how);
	struct rg_fd *e = rg_fd_socket(fd);

	if (ret < 0 && e)
		rg_conn_failed(e, fd, "shutdown");
	else if (ret == 0 && e && rg_made_pipe_end(e, how))
		rg_fd_pipe_end(e);
	return ret;
}
