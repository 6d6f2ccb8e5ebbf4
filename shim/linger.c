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
 * Everything that is not clearly safe gets the plain close: another holder
 * (shutdown would break its connection), a socket the shim cannot account
 * for, RESETGUARD_LINGER=off, or a program that asked for an abortive close
 * with SO_LINGER {1, 0} under RESETGUARD_LINGER0=honour. */
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "drainer.h"
#include "lifecycle.h"
#include "linger.h"
#include "log.h"
#include "procfd.h"
#include "real.h"
#include "share.h"

/* Could the peer still be answered with RST?  Yes if data is waiting
 * unread, or if the peer has not sent EOF yet (it may still send).  No
 * after EOF with nothing unread, and not for a listening, unconnected or
 * already reset socket, which recv() reports as an error. */
static bool rg_peer_may_send(int fd)
{
	char byte = 0;
	ssize_t n = rg_libc(recv)(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/* SO_LINGER {1, 0} asks for an abortive close. */
static bool rg_abortive(int fd)
{
	struct linger lg;
	socklen_t len = sizeof(lg);

	return getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len) == 0 && lg.l_onoff && !lg.l_linger;
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

/* Hands the socket to the drainer when that is safe and useful; *shared
 * tells the caller when it was not safe.  The holder count drops first,
 * whatever is decided: the cheap checks come before the /proc lookup that
 * sockets from outside the fork family need. */
static bool rg_graceful(int fd, const struct rg_fd *conn, bool *shared)
{
	bool last = conn->share ? rg_share_drop(conn->share) : true;

	*shared = !last;
	if (!last || !rg_lingers(conn) || rg_partner_here(conn) || !rg_peer_may_send(fd))
		return false;
	if (!conn->share && !rg_share_sole_holder(fd)) {
		*shared = true;
		return false;
	}
	if (rg_config.honour_linger0 && rg_abortive(fd))
		return false;
	return rg_drainer_adopt(fd, conn);
}

int rg_linger_let_go(int fd, const struct rg_fd *e, bool close_it)
{
	struct rg_fd conn = *e;
	bool shared;
	int saved = errno;

	/* A vfork() child shares the parent's memory but holds copies of its
	 * descriptors: what it lets go of before exec is the parent's socket
	 * still, and its table entry, holder count and drainer are the
	 * parent's too. */
	if (rg_in_vfork_child())
		return close_it ? rg_libc(close)(fd) : 0;
	rg_fd_forget(fd);
	if (!rg_graceful(fd, &conn, &shared) && shared && rg_lingers(&conn))
		rg_log_shared_close(&conn, fd);
	errno = saved;
	return close_it ? rg_libc(close)(fd) : 0;
}

void rg_linger_drop(int fd, struct rg_fd *e)
{
	uint32_t share = e->share;

	rg_fd_forget(fd);
	rg_share_drop(share);
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
	if (rg_fd_known(fd, &e) == RG_FD_OWN)
		return;
	e = rg_fd_socket(fd);
	if (e)
		rg_linger_let_go(fd, e, true);
}

static void rg_let_go_of_all(void)
{
	if (rg_procfd_each("/proc/self/fd", rg_let_go_at_exit, NULL) == 0)
		return;
	/* No /proc: the sockets the wrappers have met will do. */
	for (int fd = 0; (fd = rg_fd_next(fd, RG_FD_MAX, RG_FD_SOCKET)) >= 0; fd++)
		rg_linger_let_go(fd, rg_fd_peek(fd), true);
}

/* Connections a program never closed are closed by the kernel when it
 * exits, with the same RST as an explicit close; inetd-style services and
 * CGI programs routinely just exit.  (exit() has flushed stdio by now, see
 * init.c; _exit() by definition does not.) */
void rg_linger_exit(void)
{
	if (rg_config.linger) {
		rg_let_go_of_all();
		rg_drainer_wait();
	}
}

void rg_linger_exec(void)
{
	rg_drainer_wait();
}
