/* The receive side: nothing is changed, only counted, and a read that
 * fails with ECONNRESET is logged with the peer learnt earlier.  The
 * fortified __*_chk variants are wrapped too: Debian builds everything with
 * _FORTIFY_SOURCE=2, so they are what real programs call. */
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "ownfd.h"
#include "real.h"
#include "share.h"

/* Declared by glibc only in fortified builds. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *from, socklen_t *fromlen);

/* The hot receive calls switch on what the table says of fd: a descriptor
 * known not to be a socket is a tail call to libc, with no stack frame; a
 * socket takes the out-of-line path that makes the call and counts; one
 * not met yet is classified first, in a cold function of its own so that
 * the wrapper makes no call that is not a tail call.  The socket path
 * takes libc's arguments in libc's order and the entry last: they are
 * then already in place for the real call. */
static __attribute__((noinline)) ssize_t rg_read_socket(int fd, void *buf, size_t len, struct rg_fd *e)
{
	return RG_RECEIVE(e, "read", rg_libc_bound(read)(fd, buf, len));
}

static __attribute__((noinline, cold)) ssize_t rg_read_unseen(int fd, void *buf, size_t len)
{
	struct rg_fd *e = rg_fd_classify(fd);

	return e ? rg_read_socket(fd, buf, len, e) : rg_libc(read)(fd, buf, len);
}

RG_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	struct rg_fd *e;
	enum rg_fd_kind kind = rg_fd_known(fd, &e);

	if (RG_LIKELY(kind == RG_FD_SOCKET))
		return rg_read_socket(fd, buf, len, e);
	if (kind == RG_FD_OTHER)
		return rg_libc_bound(read)(fd, buf, len);
	return rg_read_unseen(fd, buf, len);
}

static __attribute__((noinline)) ssize_t rg_read_chk_socket(int fd, void *buf, size_t len, size_t buflen, struct rg_fd *e)
{
	return RG_RECEIVE(e, "read", rg_libc_bound(__read_chk)(fd, buf, len, buflen));
}

static __attribute__((noinline, cold)) ssize_t rg_read_chk_unseen(int fd, void *buf, size_t len, size_t buflen)
{
	struct rg_fd *e = rg_fd_classify(fd);

	return e ? rg_read_chk_socket(fd, buf, len, buflen, e) : rg_libc(__read_chk)(fd, buf, len, buflen);
}

RG_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	struct rg_fd *e;
	enum rg_fd_kind kind = rg_fd_known(fd, &e);

	if (RG_LIKELY(kind == RG_FD_SOCKET))
		return rg_read_chk_socket(fd, buf, len, buflen, e);
	if (kind == RG_FD_OTHER)
		return rg_libc_bound(__read_chk)(fd, buf, len, buflen);
	return rg_read_chk_unseen(fd, buf, len, buflen);
}

RG_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (!e)
		return rg_libc(readv)(fd, iov, iovcnt);
	return RG_RECEIVE(e, "readv", rg_libc(readv)(fd, iov, iovcnt));
}

static __attribute__((noinline)) ssize_t rg_recv_socket(int fd, void *buf, size_t len, int flags, struct rg_fd *e)
{
	return RG_RECEIVE(e, "recv", rg_libc_bound(recv)(fd, buf, len, flags));
}

static __attribute__((noinline, cold)) ssize_t rg_recv_unseen(int fd, void *buf, size_t len, int flags)
{
	struct rg_fd *e = rg_fd_classify(fd);

	return e ? rg_recv_socket(fd, buf, len, flags, e) : rg_libc(recv)(fd, buf, len, flags);
}

RG_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct rg_fd *e;
	enum rg_fd_kind kind = rg_fd_known(fd, &e);

	if (RG_LIKELY(kind == RG_FD_SOCKET))
		return rg_recv_socket(fd, buf, len, flags, e);
	if (kind == RG_FD_OTHER)
		return rg_libc_bound(recv)(fd, buf, len, flags);
	return rg_recv_unseen(fd, buf, len, flags);
}

static __attribute__((noinline)) ssize_t rg_recv_chk_socket(int fd, void *buf, size_t len, size_t buflen, int flags, struct rg_fd *e)
{
	return RG_RECEIVE(e, "recv", rg_libc_bound(__recv_chk)(fd, buf, len, buflen, flags));
}

static __attribute__((noinline, cold)) ssize_t rg_recv_chk_unseen(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	struct rg_fd *e = rg_fd_classify(fd);

	return e ? rg_recv_chk_socket(fd, buf, len, buflen, flags, e) : rg_libc(__recv_chk)(fd, buf, len, buflen, flags);
}

RG_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	struct rg_fd *e;
	enum rg_fd_kind kind = rg_fd_known(fd, &e);

	if (RG_LIKELY(kind == RG_FD_SOCKET))
		return rg_recv_chk_socket(fd, buf, len, buflen, flags, e);
	if (kind == RG_FD_OTHER)
		return rg_libc_bound(__recv_chk)(fd, buf, len, buflen, flags);
	return rg_recv_chk_unseen(fd, buf, len, buflen, flags);
}

RG_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
			   socklen_t *fromlen)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (!e)
		return rg_libc(recvfrom)(fd, buf, len, flags, from, fromlen);
	return RG_RECEIVE(e, "recvfrom", rg_libc(recvfrom)(fd, buf, len, flags, from, fromlen));
}

RG_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
				 struct sockaddr *from, socklen_t *fromlen)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (!e)
		return rg_libc(__recvfrom_chk)(fd, buf, len, buflen, flags, from, fromlen);
	return RG_RECEIVE(e, "recvfrom", rg_libc(__recvfrom_chk)(fd, buf, len, buflen, flags, from,
								  fromlen));
}

/* Descriptors received with SCM_RIGHTS are new descriptors of the
 * program's (rg_fd_created), given the numbers they would have had (the
 * message says which); sockets among them join the holder counts. */
static void rg_forget_passed_fds(struct msghdr *msg)
{
	bool moved = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		unsigned char *data = CMSG_DATA(c);

		for (size_t i = 0; i < n; i++) {
			int fd;

			__builtin_memcpy(&fd, data + i * sizeof(int), sizeof(int));
			fd = rg_fd_created_in_turn(fd, &moved);
			rg_share_received(fd);
			__builtin_memcpy(data + i * sizeof(int), &fd, sizeof(int));
		}
	}
}

/* How many descriptors a control buffer could bring. */
static int rg_passable(const struct msghdr *msg)
{
	return msg && msg->msg_control ? (int)(msg->msg_controllen / sizeof(int)) : 0;
}

RG_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (e && rg_passable(msg))
		rg_own_make_room(rg_passable(msg));
	ssize_t ret = e ? RG_RECEIVE(e, "recvmsg", rg_libc(recvmsg)(fd, msg, flags))
			: rg_libc(recvmsg)(fd, msg, flags);

	if (ret >= 0 && msg->msg_controllen)
		rg_forget_passed_fds(msg);
	return ret;
}

RG_EXPORT int recvmmsg(int fd, struct mmsghdr *msgs, unsigned int n, rg_mmsg_flags flags,
		       struct timespec *timeout)
{
	struct rg_fd *e = rg_fd_socket(fd);
	int passable = 0;

	for (unsigned int i = 0; e && i < n; i++)
		passable += rg_passable(&msgs[i].msg_hdr);
	if (passable)
		rg_own_make_room(passable);

	struct rg_fd_life *l = e ? rg_io_begin(e) : NULL;
	int ret = rg_libc(recvmmsg)(fd, msgs, n, flags, timeout);

	if (l)
		rg_io_end(l);
	for (int i = 0; i < ret; i++) {
		if (msgs[i].msg_hdr.msg_controllen)
			rg_forget_passed_fds(&msgs[i].msg_hdr);
		if (l)
			rg_fd_count(&l->rx_bytes, msgs[i].msg_len);
	}
	if (l && ret < 0)
		rg_io_failed(l, "recvmmsg");
	return ret;
}
