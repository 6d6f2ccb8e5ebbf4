/* The send side.  On a socket, every write path is made unable to raise
 * SIGPIPE while SIGPIPE would kill the program: the send family gets
 * MSG_NOSIGNAL; write()/writev() become send()/sendmsg() with it, which is
 * the same operation in the kernel (sock_write_iter is sendmsg with flags 0
 * and the file's O_NONBLOCK still applies); sendfile() and splice(), which
 * take no flags, run under the block-and-consume guard.  Descriptors that
 * are not sockets go straight to libc. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/sendfile.h>

#include "io.h"
#include "real.h"
#include "share.h"
#include "sigpipe.h"

static int rg_send_flags(int flags)
{
	return rg_sigpipe_suppress() ? flags | MSG_NOSIGNAL : flags;
}

/* write() on a socket whose send() failed.  ENOTSOCK means a stale entry:
 * the number was closed and reused behind the shim's back; heal it and do
 * what the program asked. */
static __attribute__((noinline, cold)) ssize_t rg_write_failed(const void *buf, size_t len,
								struct rg_fd *e)
{
	int fd = e->fd;

	if (errno != ENOTSOCK) {
		rg_io_failed(e, fd, "write");
		return -1;
	}
	rg_fd_mark(fd, RG_FD_OTHER);
	return rg_libc(write)(fd, buf, len);
}

/* Out of line, like rg_write_unseen(): each of write()'s three outcomes is
 * then a tail call, and the pass-through needs no stack frame. */
static __attribute__((noinline)) ssize_t rg_write_socket(int fd, const void *buf, size_t len,
							 struct rg_fd *e)
{
	if (!rg_sigpipe_suppress())
		return rg_sent(e, e->fd, "write", rg_libc_bound(write)(fd, buf, len));

	ssize_t ret = rg_libc_bound(send)(fd, buf, len, e->send_flags);
	if (RG_UNLIKELY(ret < 0))
		return rg_write_failed(buf, len, e);
	rg_fd_count(&e->tx_bytes, ret);
	return ret;
}

static __attribute__((noinline, cold)) ssize_t rg_write_unseen(int fd, const void *buf, size_t len)
{
	struct rg_fd *e = rg_fd_classify(fd);

	return e ? rg_write_socket(fd, buf, len, e) : rg_libc(write)(fd, buf, len);
}

RG_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct rg_fd *e;

	switch (rg_fd_known(fd, &e)) {
	case RG_FD_SOCKET:
		return rg_write_socket(fd, buf, len, e);
	case RG_FD_OTHER:
	case RG_FD_OWN:
		return rg_libc_bound(write)(fd, buf, len);
	default:
		return rg_write_unseen(fd, buf, len);
	}
}

/* Nothing to write: vfs_writev() returns 0 before it reaches the socket,
 * where sendmsg() would send an empty datagram or record, or report a
 * pending error. */
static bool rg_iov_empty(const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++)
		if (iov[i].iov_len)
			return false;
	return true;
}

static ssize_t rg_writev_socket(struct rg_fd *e, int fd, const struct iovec *iov, int iovcnt)
{
	/* Out of range, writev() fails with EINVAL where sendmsg() would say
	 * EMSGSIZE: let the real call give the real answer. */
	if (!rg_sigpipe_suppress() || iovcnt < 0 || iovcnt > IOV_MAX || rg_iov_empty(iov, iovcnt))
		return rg_sent(e, fd, "writev", rg_libc(writev)(fd, iov, iovcnt));

	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t ret = rg_libc(sendmsg)(fd, &msg, e->send_flags);
	if (RG_UNLIKELY(ret < 0 && errno == ENOTSOCK)) {
		rg_fd_mark(fd, RG_FD_OTHER);
		return rg_libc(writev)(fd, iov, iovcnt);
	}
	return rg_sent(e, fd, "writev", ret);
}

RG_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct rg_fd *e = rg_fd_socket(fd);

	return e ? rg_writev_socket(e, fd, iov, iovcnt) : rg_libc(writev)(fd, iov, iovcnt);
}

/* send() has the shape of the hot receive calls (recv.c). */
static __attribute__((noinline)) ssize_t rg_send_socket(int fd, const void *buf, size_t len,
							int flags, struct rg_fd *e)
{
	return rg_sent(e, e->fd, "send", rg_libc_bound(send)(fd, buf, len, rg_send_flags(flags)));
}

static __attribute__((noinline, cold)) ssize_t rg_send_unseen(int fd, const void *buf, size_t len,
							      int flags)
{
	struct rg_fd *e = rg_fd_classify(fd);

	return e ? rg_send_socket(fd, buf, len, flags, e) : rg_libc(send)(fd, buf, len, flags);
}

RG_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct rg_fd *e;

	switch (rg_fd_known(fd, &e)) {
	case RG_FD_SOCKET:
		return rg_send_socket(fd, buf, len, flags, e);
	case RG_FD_OTHER:
	case RG_FD_OWN:
		return rg_libc_bound(send)(fd, buf, len, flags);
	default:
		return rg_send_unseen(fd, buf, len, flags);
	}
}

RG_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *to, socklen_t tolen)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (!e)
		return rg_libc(sendto)(fd, buf, len, flags, to, tolen);
	return rg_sent(e, fd, "sendto",
		       rg_libc(sendto)(fd, buf, len, rg_send_flags(flags), to, tolen));
}

RG_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (e && msg && msg->msg_controllen)
		rg_share_passing(msg);
	ssize_t ret = rg_libc(sendmsg)(fd, msg, e ? rg_send_flags(flags) : flags);

	return e ? rg_sent(e, fd, "sendmsg", ret) : ret;
}

RG_EXPORT int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
	struct rg_fd *e = rg_fd_socket(fd);

	for (unsigned int i = 0; e && i < n; i++)
		if (msgs[i].msg_hdr.msg_controllen)
			rg_share_passing(&msgs[i].msg_hdr);
	int ret = rg_libc(sendmmsg)(fd, msgs, n, e ? rg_send_flags(flags) : flags);

	if (e && ret > 0) {
		for (int i = 0; i < ret; i++)
			rg_fd_count(&e->tx_bytes, msgs[i].msg_len);
	} else if (e && ret < 0) {
		rg_conn_failed(e, fd, "sendmmsg");
	}
	return ret;
}

/* sendfile() and splice() take no flags: guard them when the destination
 * is a socket and SIGPIPE would kill. */
static struct rg_fd *rg_guard_begin(int out_fd, struct rg_sigpipe_guard *g)
{
	struct rg_fd *e = rg_fd_socket(out_fd);

	g->armed = false;
	if (e && rg_sigpipe_suppress())
		rg_sigpipe_hold(g, false);
	return e;
}

static ssize_t rg_guard_end(struct rg_fd *e, int fd, const char *op,
			    struct rg_sigpipe_guard *g, ssize_t ret)
{
	rg_sigpipe_release(g, ret < 0 && errno == EPIPE);
	return e ? rg_sent(e, fd, op, ret) : ret;
}

RG_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	struct rg_sigpipe_guard g;
	struct rg_fd *e = rg_guard_begin(out_fd, &g);

	return rg_guard_end(e, out_fd, "sendfile", &g,
			    rg_libc(sendfile)(out_fd, in_fd, offset, count));
}

RG_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	struct rg_sigpipe_guard g;
	struct rg_fd *e = rg_guard_begin(out_fd, &g);

	return rg_guard_end(e, out_fd, "sendfile", &g,
			    rg_libc(sendfile64)(out_fd, in_fd, offset, count));
}

RG_EXPORT ssize_t splice(int in_fd, off64_t *in_off, int out_fd, off64_t *out_off,
			 size_t len, unsigned int flags)
{
	struct rg_sigpipe_guard g;
	struct rg_fd *e = rg_guard_begin(out_fd, &g);
	ssize_t ret = rg_libc(splice)(in_fd, in_off, out_fd, out_off, len, flags);

	if (e)
		return rg_guard_end(e, out_fd, "splice", &g, ret);
	/* Out to a pipe or file: a reset can still come from a socket
	 * being read. */
	rg_sigpipe_release(&g, false);
	e = ret < 0 ? rg_fd_socket(in_fd) : NULL;
	return e ? rg_received(e, in_fd, "splice", ret) : ret;
}
