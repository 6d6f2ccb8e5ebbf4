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

/* What write() was asked to write, kept on the stack for the rare heal
 * below: in callee-saved registers it would cost the common path twice the
 * instructions. */
struct rg_write_args {
	const void *buf;
	size_t len;
};

/* write() on a socket whose send() failed.  ENOTSOCK means a stale entry:
 * the number was closed and reused behind the shim's back; heal it and do
 * what the program asked. */
static __attribute__((noinline, cold)) ssize_t rg_write_failed(struct rg_fd_life *l,
								const struct rg_write_args *a)
{
	int fd = rg_fd_of_life(l)->fd;

	if (errno != ENOTSOCK)
		return rg_io_send_failed(l, "write", 0);
	rg_fd_mark(fd, RG_FD_OTHER);
	return rg_libc(write)(fd, a->buf, a->len);
}

/* write() on a socket while SIGPIPE would kill: send() with the flags
 * sock_write_iter() would use (send_flags) and MSG_NOSIGNAL. */
static __attribute__((noinline)) ssize_t rg_write_send(int fd, const void *buf, size_t len,
						       struct rg_fd *e)
{
	struct rg_write_args a = { buf, len };
	struct rg_fd_life *l = rg_io_begin(e);

	__asm__ volatile("" : : "m"(a)); /* in memory before the call */
	ssize_t ret = rg_libc_bound(send)(fd, buf, len, rg_sigpipe_flags(e->send_flags));

	rg_io_end(l);
	if (RG_UNLIKELY(ret < 0))
		return rg_write_failed(l, &a);
	rg_fd_count(&l->tx_bytes, ret);
	return ret;
}

/* While SIGPIPE cannot kill (a program that ignores it, as redis does),
 * the program's own write(), counted: libc's write() costs less than its
 * send(), and needs no heal. */
static __attribute__((noinline)) ssize_t rg_write_plain(int fd, const void *buf, size_t len,
							struct rg_fd *e)
{
	return RG_SEND(e, "write", 0, rg_libc_bound(write)(fd, buf, len));
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

/* The program's own writev(), counted: for a program that ignores SIGPIPE
 * (nginx), and for what sendmsg() would answer differently. */
static __attribute__((noinline)) ssize_t rg_writev_plain(int fd, const struct iovec *iov, int iovcnt,
							 struct rg_fd *e)
{
	return RG_SEND(e, "writev", 0, rg_libc_bound(writev)(fd, iov, iovcnt));
}

/* writev() as sendmsg() with MSG_NOSIGNAL, while SIGPIPE would kill.  Out
 * of range, writev() fails with EINVAL where sendmsg() would say
 * EMSGSIZE: the real call gives the real answer. */
static __attribute__((noinline)) ssize_t rg_writev_nosignal(int fd, const struct iovec *iov,
							    int iovcnt, struct rg_fd *e)
{
	if (iovcnt <= 0 || iovcnt > IOV_MAX || (!iov[0].iov_len && rg_iov_empty(iov, iovcnt)))
		return rg_writev_plain(fd, iov, iovcnt, e);

	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	struct rg_fd_life *l = rg_io_begin(e);
	ssize_t ret = rg_libc_bound(sendmsg)(fd, &msg, rg_sigpipe_flags(e->send_flags));

	rg_io_end(l);
	if (RG_UNLIKELY(ret < 0 && errno == ENOTSOCK)) {
		rg_fd_mark(fd, RG_FD_OTHER);
		return rg_libc(writev)(fd, iov, iovcnt);
	}
	return rg_io_sent(l, "writev", ret, 0);
}

/* Which write() and writev() on a socket are, chosen where SIGPIPE's
 * disposition changes (rg_write_follow_sigpipe) and not on every call:
 * the wrappers' tail calls go through these pointers at no cost of their
 * own. */
typedef ssize_t rg_write_fn(int fd, const void *buf, size_t len, struct rg_fd *e);
typedef ssize_t rg_writev_fn(int fd, const struct iovec *iov, int iovcnt, struct rg_fd *e);
static rg_write_fn *_Atomic rg_write_socket = rg_write_plain;
static rg_writev_fn *_Atomic rg_writev_socket = rg_writev_plain;

void rg_write_follow_sigpipe(bool kills)
{
	atomic_store_explicit(&rg_write_socket, kills ? rg_write_send : rg_write_plain,
			      memory_order_relaxed);
	atomic_store_explicit(&rg_writev_socket, kills ? rg_writev_nosignal : rg_writev_plain,
			      memory_order_relaxed);
}

static __attribute__((noinline, cold)) ssize_t rg_write_unseen(int fd, const void *buf, size_t len)
{
	struct rg_fd *e = rg_fd_classify(fd);

	return e ? atomic_load_explicit(&rg_write_socket, memory_order_relaxed)(fd, buf, len, e)
		 : rg_libc(write)(fd, buf, len);
}

RG_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct rg_fd *e;
	enum rg_fd_kind kind = rg_fd_known(fd, &e);

	if (RG_LIKELY(kind == RG_FD_SOCKET))
		return atomic_load_explicit(&rg_write_socket, memory_order_relaxed)(fd, buf, len, e);
	if (kind == RG_FD_OTHER)
		return rg_libc_bound(write)(fd, buf, len);
	return rg_write_unseen(fd, buf, len);
}

static __attribute__((noinline, cold)) ssize_t rg_writev_unseen(int fd, const struct iovec *iov,
								int iovcnt)
{
	struct rg_fd *e = rg_fd_classify(fd);

	return e ? atomic_load_explicit(&rg_writev_socket, memory_order_relaxed)(fd, iov, iovcnt, e)
		 : rg_libc(writev)(fd, iov, iovcnt);
}

RG_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct rg_fd *e;
	enum rg_fd_kind kind = rg_fd_known(fd, &e);

	if (RG_LIKELY(kind == RG_FD_SOCKET))
		return atomic_load_explicit(&rg_writev_socket, memory_order_relaxed)(fd, iov, iovcnt, e);
	if (kind == RG_FD_OTHER)
		return rg_libc_bound(writev)(fd, iov, iovcnt);
	return rg_writev_unseen(fd, iov, iovcnt);
}

/* send() has the shape of the hot receive calls (recv.c). */
static __attribute__((noinline)) ssize_t rg_send_socket(int fd, const void *buf, size_t len,
							int flags, struct rg_fd *e)
{
	return RG_SEND(e, "send", flags, rg_libc_bound(send)(fd, buf, len, rg_sigpipe_flags(flags)));
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
	enum rg_fd_kind kind = rg_fd_known(fd, &e);

	if (RG_LIKELY(kind == RG_FD_SOCKET))
		return rg_send_socket(fd, buf, len, flags, e);
	if (kind == RG_FD_OTHER)
		return rg_libc_bound(send)(fd, buf, len, flags);
	return rg_send_unseen(fd, buf, len, flags);
}

RG_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *to, socklen_t tolen)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (!e)
		return rg_libc(sendto)(fd, buf, len, flags, to, tolen);
	return RG_SEND(e, "sendto", flags, rg_libc(sendto)(fd, buf, len, rg_sigpipe_flags(flags), to, tolen));
}

RG_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (!e)
		return rg_libc(sendmsg)(fd, msg, flags);
	if (msg && msg->msg_controllen)
		rg_share_passing(msg);
	return RG_SEND(e, "sendmsg", flags, rg_libc(sendmsg)(fd, msg, rg_sigpipe_flags(flags)));
}

RG_EXPORT int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, rg_mmsg_flags flags)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (!e)
		return rg_libc(sendmmsg)(fd, msgs, n, flags);
	for (unsigned int i = 0; i < n; i++)
		if (msgs[i].msg_hdr.msg_controllen)
			rg_share_passing(&msgs[i].msg_hdr);
	struct rg_fd_life *l = rg_io_begin(e);
	int ret = rg_libc(sendmmsg)(fd, msgs, n, (rg_mmsg_flags)rg_sigpipe_flags((int)flags));

	rg_io_end(l);
	for (int i = 0; i < ret; i++)
		rg_fd_count(&l->tx_bytes, msgs[i].msg_len);
	if (ret < 0)
		rg_io_send_failed(l, "sendmmsg", (int)flags);
	return ret;
}

/* sendfile() and splice() take no flags: guard them when the destination
 * is a socket and SIGPIPE would kill. */
struct rg_guard {
	struct rg_fd_life *out, *in; /* the sockets among the two ends, in flight */
	struct rg_sigpipe_guard sigpipe;
};

static void rg_guard_begin(struct rg_guard *g, int out_fd, int in_fd)
{
	struct rg_fd *out = rg_fd_socket(out_fd), *in = in_fd >= 0 ? rg_fd_socket(in_fd) : NULL;

	g->out = out ? rg_io_begin(out) : NULL;
	g->in = in ? rg_io_begin(in) : NULL;
	g->sigpipe.armed = false;
	if (out && rg_sigpipe_suppress())
		rg_sigpipe_hold(&g->sigpipe, false);
}

/* A reset can come from either end: the socket written to, or one being
 * read from (into a pipe or a file). */
static ssize_t rg_guard_end(struct rg_guard *g, const char *op, ssize_t ret)
{
	if (g->out)
		rg_io_end(g->out);
	if (g->in)
		rg_io_end(g->in);
	rg_sigpipe_release(&g->sigpipe, ret < 0 && errno == EPIPE);
	if (g->out)
		return rg_io_sent(g->out, op, ret, 0);
	return g->in ? rg_io_received(g->in, op, ret) : ret;
}

RG_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	struct rg_guard g;

	rg_guard_begin(&g, out_fd, -1);
	return rg_guard_end(&g, "sendfile",
			    rg_libc(sendfile)(out_fd, in_fd, offset, count));
}

RG_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	struct rg_guard g;

	rg_guard_begin(&g, out_fd, -1);
	return rg_guard_end(&g, "sendfile",
			    rg_libc(sendfile64)(out_fd, in_fd, offset, count));
}

RG_EXPORT ssize_t splice(int in_fd, off64_t *in_off, int out_fd, off64_t *out_off,
			 size_t len, unsigned int flags)
{
	struct rg_guard g;

	rg_guard_begin(&g, out_fd, in_fd);
	return rg_guard_end(&g, "splice",
			    rg_libc(splice)(in_fd, in_off, out_fd, out_off, len, flags));
}
