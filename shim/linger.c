/* Deciding how a socket is closed.
 *
 * Linux sends RST instead of FIN when a socket is closed with unread data,
 * and answers any data that arrives after the close with RST too; the peer
 * then loses what it had not read yet (../shared/NOTES.md).  So when the
 * last descriptor of a connected stream socket goes while the peer could
 * still be sending, resetguard does what nginx and Apache do inside:
 * shutdown(SHUT_WR), read and discard until the peer's EOF or a deadline,
 * then close.  All of that is the drainer's; close() itself only hands the
 * socket over (drainer.c) and returns.
 *
 * Lingering keeps the program's open file description alive after its
 * close(), and the program must not be able to tell: what the kernel's
 * last close would have undone is undone at hand-over (bindings.h), a call
 * still in flight on the socket in another thread completes first (the
 * drainer waits for it), and everything that cannot be made invisible gets
 * the plain close: another holder (shutdown would break its connection), a
 * binding resetguard cannot undo, an io_uring that may use the socket, a
 * socket the shim cannot account for, RESETGUARD_LINGER=off, or a program
 * that asked for an abortive close with SO_LINGER {1, 0} under
 * RESETGUARD_LINGER0=honour.
 *
 * Which sockets are worth lingering on: those whose peer could lose an
 * answer.  On TCP the reset destroys whatever the peer has not read yet,
 * and a peer behind a proxy or load balancer takes any reset as a failure
 * of the server: every connected stream socket the peer may still send to
 * lingers.  AF_UNIX loses nothing that was sent: the peer reads all of it,
 * and then gets ECONNRESET once instead of EOF, and EPIPE if it is still
 * writing; so what a plain close takes from the peer is an answer, and
 * only a socket that sent one lingers.  One that never sent anything (the
 * reading end of a socketpair used as a pipe, a server that closes without
 * answering) gets the plain close, and its peer the EPIPE a pipe would
 * give.  (ksh93's pipe ends are not sockets to resetguard at all: see
 * fdtable.c.) */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bindings.h"
#include "config.h"
#include "drainer.h"
#include "heir.h"
#include "lifecycle.h"
#include "linger.h"
#include "log.h"
#include "ownfd.h"
#include "procfd.h"
#include "real.h"
#include "rings.h"
#include "share.h"

/* Could the peer still be answered with RST?  Yes if data is waiting
 * unread, or if the peer has not sent EOF yet (it may still send).  No
 * after EOF with nothing unread, and not for a listening, unconnected or
 * already reset socket, which recv() reports as an error: taking a
 * pending one with it, which only a holder outside the family could miss
 * (rg_error_pending). */
static bool rg_peer_may_send(int fd)
{
	char byte = 0;
	ssize_t n = rg_libc(recv)(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/* Whether an error waits on the socket, looked at without taking it:
 * recv() would report it and clear it, as reading SO_ERROR would, and a
 * holder outside the family (an inetd that started the program, a
 * process it was passed to) may still read it.  Its connection is gone:
 * nobody could be answered with RST. */
static bool rg_error_pending(int fd)
{
	struct pollfd p = { .fd = fd };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

/* SO_LINGER {1, 0} asks for an abortive close. */
static bool rg_abortive(int fd)
{
	struct linger lg;
	socklen_t len = sizeof(lg);

	return rg_libc(getsockopt)(fd, SOL_SOCKET, SO_LINGER, &lg, &len) == 0 && lg.l_onoff && !lg.l_linger;
}

/* By default the RST of an abortive close is what resetguard exists to
 * prevent: the drainer clears the option before its own close.  With
 * RESETGUARD_LINGER0=honour the program keeps it and the plain close,
 * decided on its own thread. */
void rg_linger_cancel_abort(int fd)
{
	static const struct linger off = { 0, 0 };

	if (rg_abortive(fd))
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof(off));
}

static bool rg_lingers(const struct rg_fd *e)
{
	return rg_config.linger && e->type == SOCK_STREAM &&
	       (e->family == AF_INET || e->family == AF_INET6 || e->family == AF_UNIX);
}

/* One end of a socketpair() whose other end this process still holds: the
 * peer is the program itself, whose later writes to that end must fail as
 * they would without the shim, not vanish into the drainer.  (nginx closes
 * such an end in every worker at start-up.) */
static bool rg_partner_here(const struct rg_fd *conn)
{
	const struct rg_fd *p = conn->pair_fd >= 0 ? rg_fd_peek(conn->pair_fd) : NULL;

	return p && rg_fd_kind_of(p) == RG_FD_SOCKET && p->conn_id == conn->pair_conn_id;
}

/* Whether the socket has an answer a plain close could cost its peer (see
 * the top): on AF_UNIX, when data went out through any number of it that
 * the wrappers saw (sent), or is still unread by the peer, which covers
 * what went past them (stdio's internal writes, a raw system call, a
 * program before exec).  Unknown counts as answered. */
static bool rg_answered(int fd, const struct rg_fd *conn, bool sent)
{
	int unread = 0;

	if (conn->family != AF_UNIX || sent || conn->sent)
		return true;
	return ioctl(fd, SIOCOUTQ, &unread) < 0 || unread > 0;
}

static const char rg_shared[] = "shared";

/* Why the last descriptor of a socket, still open as fd, cannot linger:
 * NULL when it can (after *outside lets go, if it names a holder); "" for
 * a close that nobody could answer with RST (no record); else the reason a
 * debug record gives. */
static const char *rg_unsafe(int fd, struct rg_fd *conn, struct rg_share_drop d, bool sent,
			     struct rg_outside_holder *outside)
{
	bool from_outside = !conn->share || d.outside;

	if (!rg_lingers(conn) || rg_partner_here(conn) || !rg_answered(fd, conn, sent) ||
	    (from_outside && rg_error_pending(fd)) || !rg_peer_may_send(fd))
		return "";
	if (d.tainted || (conn->bind & (RG_BIND_TAINTED | RG_BIND_LOST)))
		return "bound";
	if (rg_rings_in_use())
		return "ring";
	if (from_outside) {
		/* From outside the family: /proc decides, and what the socket
		 * may be bound to is unknown, so undo all there is. */
		switch (rg_share_outside(fd, conn, d.outside && !d.received, outside)) {
		case RG_OUTSIDE_SHARED:
			return rg_shared;
		case RG_OUTSIDE_WATCHED:
			return "bound";
		case RG_OUTSIDE_SOLE:
			conn->bind |= RG_BIND_ASYNC;
			break;
		case RG_OUTSIDE_AWAIT:
			/* The holder's binding too, while it holds the
			 * socket: the drainer undoes it once it let go. */
			break;
		}
	}
	if (rg_config.honour_linger0 && rg_abortive(fd))
		return "";
	return NULL;
}

/* A number is released while other descriptors still hold the socket:
 * what was bound under it stays, as do the calls still in flight through
 * it, which the last holder's drainer could not see. */
static void rg_release_leaves(const struct rg_release *r)
{
	const struct rg_fd_life *life = atomic_load(&r->conn.life);

	if (rg_bindings_left(&r->conn) || atomic_load(&life->inflight))
		rg_share_taint(&r->conn);
	if (rg_lingers(&r->conn))
		rg_log_plain_close(&r->conn, &r->peer, r->fd, -1, rg_shared);
}

void rg_release_begin(struct rg_release *r, int fd, const struct rg_fd *e,
		      enum rg_release_how how)
{
	int saved = errno;
	struct rg_share_drop d;
	bool sent = rg_fd_has_sent(e);

	r->fd = fd;
	r->conn = *e;
	r->peer = rg_fd_peer(e);
	r->plain = NULL;
	r->slot = NULL;
	r->outside.pid = 0;
	/* Before the number is released: another thread may get it at once,
	 * and must find it unknown, not this socket. */
	rg_fd_forget(fd);
	/* Only AF_UNIX asks (rg_answered); before the drop, for the last. */
	if (sent && r->conn.family == AF_UNIX)
		rg_share_sent(&r->conn);
	d = rg_share_drop(r->conn.share);
	r->dropped = r->conn.share != 0;
	r->last = d.last || !r->conn.share;
	/* An entry handed out while another thread rewrote the real one
	 * (rg_fd_classify) lives in that thread's memory: no lingering. */
	if (e != rg_fd_peek(fd))
		how = RG_RELEASE_PLAIN;
	if (r->last && how != RG_RELEASE_PLAIN) {
		r->plain = rg_unsafe(fd, &r->conn, d, sent || d.sent, &r->outside);
		/* From outside the family, /proc found another holder. */
		r->last = r->plain != rg_shared;
		if (!r->plain && how == RG_RELEASE_TRY && rg_bindings_left(&r->conn))
			r->plain = "bound";
		if (!r->plain && how == RG_RELEASE_SURE && !rg_bindings_undo(fd, &r->conn))
			r->plain = "bound";
		if (!r->plain)
			r->slot = rg_drainer_reserve(fd, &r->conn, &r->peer, &r->outside);
	}
	errno = saved;
}

void rg_release_end(struct rg_release *r, bool released)
{
	int saved = errno;

	if (!released) {
		if (r->slot)
			rg_drainer_cancel(r->slot);
		if (r->dropped)
			rg_share_hold(r->conn.share);
		rg_fd_revive(r->fd, &r->conn);
	} else if (r->slot) {
		rg_drainer_commit(r->slot);
	} else {
		if (!r->last)
			rg_release_leaves(r);
		else if (r->plain && *r->plain)
			rg_log_plain_close(&r->conn, &r->peer, r->fd, -1, r->plain);
	}
	errno = saved;
}

int rg_linger_close(int fd, const struct rg_fd *e)
{
	struct rg_release r;

	/* A vfork() child shares the parent's memory but holds copies of its
	 * descriptors: what it lets go of before exec is the parent's socket
	 * still. */
	if (rg_in_vfork_child())
		return rg_libc(close)(fd);
	rg_release_begin(&r, fd, e, RG_RELEASE_SURE);
	/* close() releases the number even when it fails (EINTR, EIO). */
	int ret = rg_libc(close)(fd);
	rg_release_end(&r, true);
	return ret;
}

/* Every descriptor still open is looked at, not only those the program
 * used through a wrapper: an inetd-style service may read its socket on fd
 * 0 through stdio, which no wrapper sees, and write it on fd 1.  Each is
 * closed, so that the last alias of a socket is seen to be the last. */
static void rg_let_go_at_exit(int dirfd, int fd, void *ctx)
{
	struct rg_fd *e;

	(void)dirfd;
	(void)ctx;
	if (rg_own_at(fd))
		return;
	e = rg_fd_socket(fd);
	if (e)
		rg_linger_close(fd, e);
}

static void rg_let_go_of_all(void)
{
	if (rg_procfd_each("/proc/self/fd", rg_let_go_at_exit, NULL) == 0)
		return;
	/* No /proc: the sockets the wrappers have met will do. */
	for (int fd = 0; (fd = rg_fd_next(fd, RG_FD_MAX, RG_FD_SOCKET)) >= 0; fd++)
		rg_linger_close(fd, rg_fd_peek(fd));
}

/* Connections a program never closed are closed by the kernel when it
 * exits, with the same RST as an explicit close; inetd-style services and
 * CGI programs routinely just exit.  (exit() has flushed stdio by now, see
 * lifecycle.c; _exit() by definition does not.) */
void rg_linger_exit(void)
{
	if (rg_config.linger) {
		rg_let_go_of_all();
		if (!rg_heir_take_over(false))
			rg_drainer_wait();
	}
}

void rg_linger_exec(void)
{
	if (!rg_heir_take_over(true))
		rg_drainer_wait();
}
