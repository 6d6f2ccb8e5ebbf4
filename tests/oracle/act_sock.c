/* Steps on connections and descriptor numbers: each prints the call, its
 * return value and errno, and any descriptor number it got ("plan=" when
 * the number is not the one the generator's model expected: a model bug
 * if it shows without the library too). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "prog.h"

uint32_t peer_port;

static const char *const send_names[] = { "send", "write", "sendto", "sendmsg", "writev" };
static const char *const recv_names[] = { "recv", "read", "recvfrom", "recvmsg", "readv" };
static const char *const mode_names[] = { "exact", "empty", "end" };
static const char *const dup_names[] = { "dup", "F_DUPFD", "F_DUPFD_CLOEXEC", "dup2", "dup3" };

static void line_fd(struct line *l, const char *key, long got, int planned)
{
	line_add(l, " %s=%ld", key, got);
	if (got >= 0 && planned >= 0 && got != planned)
		line_add(l, " plan=%d", planned);
}

static socklen_t conn_addr(struct sockaddr_storage *ss, int family, uint32_t port, const char *name)
{
	memset(ss, 0, sizeof(*ss));
	if (family == FAM_TCP) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in->sin_port = htons((uint16_t)port);
		return sizeof(*in);
	}
	struct sockaddr_un *un = (struct sockaddr_un *)ss;

	un->sun_family = AF_UNIX;
	snprintf(un->sun_path, sizeof(un->sun_path), "%s/%s", prog_dir, name);
	return sizeof(*un);
}

static void no_delay(int fd, int family)
{
	int one = 1;

	/* Each send is one segment at once: no Nagle, no waiting for acks. */
	if (family == FAM_TCP)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void conn_connect(const struct step *st, struct line *l)
{
	struct sockaddr_storage ss;
	socklen_t len = conn_addr(&ss, (int)st->a, peer_port, "peer.sock");
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), e = errno, ret;
	struct peer_reply r;

	line_fd(l, "fd", fd, st->expect);
	if (fd < 0)
		return line_ret(l, -1, e);
	no_delay(fd, (int)st->a);
	ret = connect(fd, (struct sockaddr *)&ss, len);
	line_ret(l, ret, errno);
	r = peer_call(P_ACCEPT, st->conn, st->a, 0, NULL);
	line_add(l, " peer");
	peer_line(l, &r);
}

static void conn_accept(const struct step *st, struct line *l)
{
	struct sockaddr_storage ss;
	char name[32];
	socklen_t len;
	int lfd, fd, e;
	struct peer_reply r;

	snprintf(name, sizeof(name), "p%d.sock", st->conn);
	len = conn_addr(&ss, (int)st->a, 0, name);
	unlink(((struct sockaddr_un *)&ss)->sun_path);
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len) < 0) {
		e = errno;
		line_fd(l, "listen", lfd, st->expect2);
		return line_ret(l, -1, e);
	}
	line_fd(l, "listen", lfd, st->expect2);
	r = peer_call(P_CONNECT, st->conn, st->a,
		      st->a == FAM_TCP ? ntohs(((struct sockaddr_in *)&ss)->sin_port) : 0,
		      st->a == FAM_TCP ? NULL : ((struct sockaddr_un *)&ss)->sun_path);
	fd = accept(lfd, NULL, NULL);
	e = errno;
	line_fd(l, "fd", fd, st->expect);
	if (fd < 0)
		line_ret(l, -1, e);
	no_delay(fd, (int)st->a);
	line_add(l, " close_listener");
	LINE_CALL(l, close(lfd));
	line_add(l, " peer");
	peer_line(l, &r);
}

void act_conn(const struct step *st, int i)
{
	struct line l;

	line_start(&l, cur_ctx, i, "conn");
	line_add(&l, " c=%d fam=%s how=%s", st->conn, st->a == FAM_TCP ? "tcp" : "unix",
		 st->b ? "accept" : "connect");
	if (st->b)
		conn_accept(st, &l);
	else
		conn_connect(st, &l);
	line_emit(&l);
}

static ssize_t send_how(const struct step *st, const uint8_t *buf, size_t n)
{
	size_t half = n / 2;
	struct iovec iov[2] = { { (void *)buf, half }, { (void *)(buf + half), n - half } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	switch (st->a) {
	case SH_WRITE:
		return write(st->fd, buf, n);
	case SH_SENDTO:
		return sendto(st->fd, buf, n, (int)st->b, NULL, 0);
	case SH_SENDMSG:
		return sendmsg(st->fd, &msg, (int)st->b);
	case SH_WRITEV:
		return writev(st->fd, iov, 2);
	default:
		return send(st->fd, buf, n, (int)st->b);
	}
}

void act_send(const struct step *st, int i)
{
	static uint8_t buf[65536];
	int pipes = sigpipe_count(), c = st->conn, e;
	size_t n = (size_t)st->n;
	ssize_t ret;
	struct line l;

	pattern_fill(buf, n, c, 0, atomic_load(&shm->tx[c]));
	ret = send_how(st, buf, n);
	e = errno;
	line_start(&l, cur_ctx, i, send_names[st->a]);
	line_add(&l, " fd=%d n=%zu flags=%s%s", st->fd, n, st->b & MSG_NOSIGNAL ? "N" : "",
		 st->b & MSG_DONTWAIT ? "D" : "");
	line_ret(&l, (long)ret, e);
	if (ret > 0)
		atomic_fetch_add(&shm->tx[c], (uint64_t)ret);
	if (sigpipe_count() != pipes)
		line_add(&l, " sigpipe=+%d", sigpipe_count() - pipes);
	line_emit(&l);
	if (st->c) /* the peer had closed: its reset comes back */
		wait_events(st->fd, POLLERR | POLLHUP);
}

static ssize_t recv_how(const struct step *st, uint8_t *buf, size_t n, int flags)
{
	struct iovec iov[2] = { { buf, n / 2 }, { buf + n / 2, n - n / 2 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	switch (st->a) {
	case RH_READ:
		return read(st->fd, buf, n);
	case RH_RECVFROM:
		return recvfrom(st->fd, buf, n, flags, NULL, NULL);
	case RH_RECVMSG:
		return recvmsg(st->fd, &msg, flags);
	case RH_READV:
		return readv(st->fd, iov, 2);
	default:
		return recv(st->fd, buf, n, flags);
	}
}

static bool took(int c, const uint8_t *buf, ssize_t n)
{
	bool ok;

	if (n <= 0)
		return true;
	ok = pattern_check(buf, (size_t)n, c, 1, atomic_load(&shm->rx[c]));
	atomic_fetch_add(&shm->rx[c], (uint64_t)n);
	return ok;
}

/* To the end of the stream; the count is compared only when it is certain. */
static void recv_to_end(const struct step *st, struct line *l, uint8_t *buf)
{
	long total = 0;
	bool ok = true;
	ssize_t n;

	while ((n = recv_how(st, buf, (size_t)st->n, 0)) > 0) {
		ok &= took(st->conn, buf, n);
		total += n;
	}
	line_add(l, " end=%s ok=%d", n == 0 ? "eof" : errno_name(errno), ok);
	if (st->c)
		line_add(l, " total=%ld", total);
}

void act_recv(const struct step *st, int i)
{
	static uint8_t buf[65536];
	int flags = st->b == RM_EXACT ? MSG_WAITALL : st->b == RM_EMPTY ? MSG_DONTWAIT : 0;
	struct line l;

	line_start(&l, cur_ctx, i, recv_names[st->a]);
	line_add(&l, " fd=%d mode=%s", st->fd, mode_names[st->b]);
	if (st->b == RM_END) {
		recv_to_end(st, &l, buf);
	} else {
		ssize_t n = recv_how(st, buf, (size_t)st->n, flags);

		line_ret(&l, (long)n, errno);
		line_add(&l, " ok=%d", took(st->conn, buf, n));
	}
	line_emit(&l);
}

void act_nonblock(const struct step *st, int i)
{
	int flags = fcntl(st->fd, F_GETFL);
	struct line l;

	line_start(&l, cur_ctx, i, "nonblock");
	line_add(&l, " fd=%d", st->fd);
	LINE_CALL(&l, fcntl(st->fd, F_SETFL, st->a ? flags | O_NONBLOCK : flags & ~O_NONBLOCK));
	line_emit(&l);
}

void act_shutdown(const struct step *st, int i)
{
	struct line l;

	line_start(&l, cur_ctx, i, "shutdown");
	line_add(&l, " fd=%d how=%u", st->fd, st->a);
	LINE_CALL(&l, shutdown(st->fd, (int)st->a));
	line_emit(&l);
}

void act_dup(const struct step *st, int i)
{
	struct line l;
	long ret;
	int e;

	switch (st->a) {
	case DK_DUP:
		ret = dup(st->fd);
		break;
	case DK_DUPFD:
		ret = fcntl(st->fd, F_DUPFD, st->fd2);
		break;
	case DK_DUPFD_CLOEXEC:
		ret = fcntl(st->fd, F_DUPFD_CLOEXEC, st->fd2);
		break;
	case DK_DUP2:
		ret = dup2(st->fd, st->fd2);
		break;
	default:
		ret = dup3(st->fd, st->fd2, (int)st->b);
		break;
	}
	e = errno;
	line_start(&l, cur_ctx, i, dup_names[st->a]);
	line_add(&l, " old=%d arg=%d", st->fd, st->fd2);
	line_ret(&l, ret, e);
	if (ret >= 0 && st->expect >= 0 && ret != st->expect)
		line_add(&l, " plan=%d", st->expect);
	line_emit(&l);
}

/* listed: the number is open in the process, the program's or not (it
 * shows in /proc/self/fd, which daemons read to close everything):
 * resetguard's own numbers are listed, and close() on one reports success
 * (resetguard(7)); compare.c allows that and nothing else. */
void act_close(const struct step *st, int i)
{
	struct line l;
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", st->fd);
	line_start(&l, cur_ctx, i, "close");
	line_add(&l, " fd=%d listed=%d", st->fd, access(path, F_OK) == 0);
	LINE_CALL(&l, close(st->fd));
	line_emit(&l);
}

void close_list(const struct step *st, int i)
{
	for (int k = 0; k < st->nlist; k++) {
		struct step one = { .fd = st->list[k] };

		act_close(&one, i);
	}
}

void act_close_range(const struct step *st, int i)
{
	unsigned int hi = st->fd2 >= 32767 ? ~0U : (unsigned int)st->fd2;
	struct line l;

	line_start(&l, cur_ctx, i, "close_range");
	line_add(&l, " lo=%d hi=%d flags=%u", st->fd, st->fd2, st->a);
	LINE_CALL(&l, close_range((unsigned int)st->fd, hi, (int)st->a));
	line_emit(&l);
}

void act_obj(const struct step *st, int i)
{
	static const char *const names[] = { "eventfd", "pipe", "open", "timerfd_create" };
	int p[2] = { -1, -1 }, ret, e;
	struct line l;

	if (st->a == OK_PIPE)
		ret = pipe(p);
	else if (st->a == OK_FILE)
		ret = p[0] = open("/dev/null", O_RDWR);
	else if (st->a == OK_TIMERFD)
		ret = p[0] = timerfd_create(CLOCK_MONOTONIC, 0);
	else
		ret = p[0] = eventfd(0, 0);
	e = errno;
	line_start(&l, cur_ctx, i, names[st->a]);
	line_ret(&l, ret, e);
	line_fd(&l, "fd", p[0], st->expect);
	if (st->a == OK_PIPE)
		line_fd(&l, "fd2", p[1], st->expect2);
	line_emit(&l);
}

static void peer_step(const struct step *st, struct line *l, uint32_t op, int64_t a)
{
	struct peer_reply r = peer_call(op, st->conn, a, 0, NULL);

	line_add(l, " c=%d n=%d how=%u closed=%u", st->conn, st->n, st->op == OP_PEER_CLOSE ? st->a : 0,
		 st->b);
	peer_line(l, &r);
	if (op == P_SEND && st->fd >= 0 && r.ret > 0)
		wait_unread(st->fd, st->c);
}

/* What the peer does, as the generator planned; then the program waits
 * until it can see the result (data arrived, FIN or reset). */
void act_peer(const struct step *st, int i)
{
	static const char *const names[] = {
		[OP_PEER_SEND] = "peer-send", [OP_PEER_RECV] = "peer-recv",
		[OP_PEER_CLOSE] = "peer-close", [OP_PEER_PUMP] = "peer-pump",
		[OP_PEER_AUTO] = "peer-auto", [OP_PEER_STOP] = "peer-stop",
	};
	struct line l;

	line_start(&l, cur_ctx, i, names[st->op]);
	if (st->op == OP_PEER_SEND)
		peer_step(st, &l, P_SEND, st->n);
	else if (st->op == OP_PEER_RECV)
		peer_step(st, &l, P_RECV, st->n);
	else if (st->op == OP_PEER_CLOSE)
		peer_step(st, &l, P_CLOSE, st->a);
	else if (st->op == OP_PEER_PUMP)
		peer_step(st, &l, P_PUMP, st->n);
	else if (st->op == OP_PEER_STOP)
		peer_step(st, &l, P_STOP, 0);
	else
		peer_step(st, &l, P_AUTO, 0);
	line_emit(&l);
	if (st->op == OP_PEER_CLOSE && st->fd >= 0)
		wait_events(st->fd, POLLRDHUP | POLLHUP | POLLERR);
}
