/* The peers: one process, never under the library, holding the other end
 * of every connection.  It does what the program side tells it (send,
 * read, close, reset, pump in the background, read to the end by itself)
 * and records, per connection, how many bytes it received, whether each
 * was the expected one in order, and how the connection ended.  Those
 * records are printed once the program has ended (P_FINAL).
 *
 * fd 0: commands; fd 1: the final records; fd 3: replies. */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "oracle.h"
#include "proto.h"

#define FD_PEER_REPLY 3

struct pconn {
	int fd, end, end_err;
	bool used, ok, auto_close;
	uint64_t rx, tx, pump_left;
};

static struct pconn conns[MAX_CONNS];
static int tcp_listener, unix_listener;
static uint8_t buf[1 << 16];

static void set_end(struct pconn *p, int end, int err)
{
	if (p->end == END_OPEN) {
		p->end = end;
		p->end_err = err;
	}
}

static void peer_close(struct pconn *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->pump_left = 0;
	p->auto_close = false;
}

/* One read: the bytes it got, or -1 once the stream has ended (EOF or
 * an error). */
static ssize_t read_some(int c, size_t max)
{
	struct pconn *p = &conns[c];
	ssize_t n = recv(p->fd, buf, max < sizeof(buf) ? max : sizeof(buf), MSG_DONTWAIT);

	if (n > 0) {
		p->ok &= pattern_check(buf, (size_t)n, c, 0, p->rx);
		p->rx += (uint64_t)n;
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	set_end(p, n == 0 ? END_EOF : END_ERROR, n == 0 ? 0 : errno);
	return -1;
}

/* Reads until `want` more bytes came, the stream ended, or the deadline. */
static uint64_t read_until(int c, uint64_t want, int64_t deadline)
{
	struct pconn *p = &conns[c];
	uint64_t got = 0;

	/* Past an error already seen (a pump's failed send) too: what is
	 * still queued counts, whichever call saw the reset first. */
	while (p->fd >= 0 && got < want) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		int64_t left = (deadline - now_ns()) / 1000000;
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		if ((n = read_some(c, want - got)) < 0)
			break;
		got += (uint64_t)n;
	}
	return got;
}

static void tcp_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void new_conn(int c, int fd, bool tcp)
{
	if (tcp && fd >= 0)
		tcp_nodelay(fd);
	conns[c] = (struct pconn){ .fd = fd, .used = true, .ok = true };
}

static int do_connect(const struct peer_cmd *cmd)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(cmd->a == FAM_TCP ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
	int ret;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in.sin_port = htons((uint16_t)cmd->b);
	snprintf(un.sun_path, sizeof(un.sun_path), "%.*s", (int)sizeof(un.sun_path) - 1, cmd->path);
	ret = cmd->a == FAM_TCP ? connect(fd, (struct sockaddr *)&in, sizeof(in))
				: connect(fd, (struct sockaddr *)&un, sizeof(un));
	new_conn((int)cmd->conn, ret == 0 ? fd : -1, cmd->a == FAM_TCP);
	return ret;
}

/* Everything at once, without blocking: the generator sends only what
 * fits. */
static int64_t do_send(struct pconn *p, int c, int64_t n, int *err)
{
	int64_t sent = 0;

	while (sent < n) {
		size_t len = (size_t)(n - sent) < sizeof(buf) ? (size_t)(n - sent) : sizeof(buf);
		ssize_t r;

		pattern_fill(buf, len, c, 1, p->tx);
		r = send(p->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r <= 0) {
			*err = errno;
			return sent ? sent : -1;
		}
		p->tx += (uint64_t)r;
		sent += r;
	}
	return sent;
}

static void do_close(struct pconn *p, int c, int how)
{
	struct linger lg = { 1, 0 };

	p->pump_left = 0; /* a pump would fail after a shutdown, or not, in time */
	if (how == PC_SHUT_WR) {
		shutdown(p->fd, SHUT_WR);
		return;
	}
	if (how == PC_DRAIN_FIN)
		read_until(c, UINT64_MAX, now_ns() + 2000000000);
	if (how == PC_RST)
		setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	set_end(p, END_SELF, 0);
	peer_close(p);
}

static struct peer_reply command(const struct peer_cmd *cmd)
{
	struct peer_reply r = { 0 };
	int c = (int)cmd->conn;
	struct pconn *p = &conns[c];

	switch (cmd->op) {
	case P_ACCEPT:
		new_conn(c, accept(cmd->a == FAM_TCP ? tcp_listener : unix_listener, NULL, NULL),
			 cmd->a == FAM_TCP);
		r.ret = p->fd < 0 ? -1 : 0;
		break;
	case P_CONNECT:
		r.ret = do_connect(cmd);
		break;
	case P_SEND:
		r.ret = p->fd < 0 ? -1 : do_send(p, c, cmd->a, &r.err);
		break;
	case P_RECV:
		r.ret = p->fd < 0 ? -1 : (int64_t)read_until(c, (uint64_t)cmd->a, now_ns() + 10000000000);
		break;
	case P_CLOSE:
		if (p->fd >= 0)
			do_close(p, c, (int)cmd->a);
		break;
	case P_PUMP:
		p->pump_left = (uint64_t)cmd->a;
		break;
	case P_STOP:
		/* Whatever the program has read, a byte more is on its way:
		 * its close is then a reset, whatever the timing. */
		p->pump_left = 0;
		if (p->fd >= 0)
			do_send(p, c, 1, &r.err);
		r.err = 0;
		break;
	default: /* P_AUTO */
		p->auto_close = true;
		break;
	}
	if (r.ret < 0 && !r.err)
		r.err = errno;
	r.ok = p->ok;
	r.end = p->end;
	r.end_err = p->end_err;
	return r;
}

/* A pump's failure ends the connection as a reset: that is what it is,
 * whichever of the pump's send and a later read sees it first. */
static void pump(int c)
{
	struct pconn *p = &conns[c];
	int err = 0;
	int64_t r = do_send(p, c, p->pump_left < sizeof(buf) ? (int64_t)p->pump_left : (int64_t)sizeof(buf),
			    &err);

	if (r > 0)
		p->pump_left -= (uint64_t)r;
	if (err && err != EAGAIN) {
		set_end(p, END_ERROR, err);
		p->pump_left = 0;
	}
}

static void background(const struct pollfd *pf, const int *who, int n)
{
	for (int k = 1; k < n; k++) {
		struct pconn *p = &conns[who[k]];

		if (pf[k].revents & POLLOUT && p->pump_left)
			pump(who[k]);
		if (pf[k].revents & (POLLIN | POLLHUP | POLLERR) && p->auto_close &&
		    read_some(who[k], sizeof(buf)) < 0)
			peer_close(p);
	}
}

/* A pump still running when the program left meets the reset of its
 * closed socket (or, with the library, a drainer that reads it all):
 * either way it ends by itself. */
static void finish_pumps(int64_t deadline)
{
	for (bool busy = true; busy && now_ns() < deadline;) {
		busy = false;
		for (int c = 0; c < MAX_CONNS; c++) {
			struct pollfd pf = { .fd = conns[c].fd, .events = POLLOUT };

			if (conns[c].fd < 0 || !conns[c].pump_left)
				continue;
			busy = true;
			if (poll(&pf, 1, 10) > 0)
				pump(c);
		}
	}
}

static void final_report(void)
{
	static const char *const ends[] = { "open", "eof", "error", "self" };
	int64_t deadline = now_ns() + 10000000000;

	finish_pumps(deadline);
	for (int c = 0; c < MAX_CONNS; c++) {
		conns[c].pump_left = 0;
		if (conns[c].used && conns[c].fd >= 0)
			read_until(c, UINT64_MAX, deadline);
	}
	for (int c = 0; c < MAX_CONNS; c++) {
		const struct pconn *p = &conns[c];
		bool reset = p->end == END_ERROR && (p->end_err == ECONNRESET || p->end_err == EPIPE);

		if (p->used)
			printf("peer c=%d rx=%llu ok=%d end=%s\n", c, (unsigned long long)p->rx, p->ok,
			       reset ? "reset" : p->end == END_ERROR ? errno_name(p->end_err)
								 : ends[p->end]);
	}
	fflush(stdout);
}

static void reply(const struct peer_reply *r)
{
	if (write(FD_PEER_REPLY, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		err(3, "reply");
}

static bool serve_one(void)
{
	struct peer_cmd cmd;
	ssize_t n = read(0, &cmd, sizeof(cmd));

	if (n != (ssize_t)sizeof(cmd) || cmd.op == P_FINAL) {
		final_report();
		return false;
	}
	struct peer_reply r = command(&cmd);

	reply(&r);
	return true;
}

static void listen_all(const char *dir)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(in);
	struct peer_hello hello;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/peer.sock", dir);
	tcp_listener = socket(AF_INET, SOCK_STREAM, 0);
	unix_listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(tcp_listener, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(tcp_listener, 16) < 0 ||
	    getsockname(tcp_listener, (struct sockaddr *)&in, &len) < 0 ||
	    bind(unix_listener, (struct sockaddr *)&un, sizeof(un)) < 0 || listen(unix_listener, 16) < 0)
		err(3, "peer listen");
	hello.tcp_port = ntohs(in.sin_port);
	if (write(FD_PEER_REPLY, &hello, sizeof(hello)) != (ssize_t)sizeof(hello))
		err(3, "hello");
}

int peer_main(int argc, char **argv)
{
	if (argc < 3)
		errx(2, "usage: oracle peer DIR");
	for (int c = 0; c < MAX_CONNS; c++)
		conns[c].fd = -1;
	listen_all(argv[2]);
	for (;;) {
		struct pollfd pf[MAX_CONNS + 1] = { { .fd = 0, .events = POLLIN } };
		int who[MAX_CONNS + 1], n = 1;

		for (int c = 0; c < MAX_CONNS; c++) {
			short ev = (short)((conns[c].pump_left ? POLLOUT : 0) |
					   (conns[c].auto_close ? POLLIN : 0));

			if (conns[c].fd >= 0 && conns[c].used && ev) {
				pf[n] = (struct pollfd){ .fd = conns[c].fd, .events = ev };
				who[n++] = c;
			}
		}
		if (poll(pf, (nfds_t)n, -1) < 0 && errno != EINTR)
			err(3, "poll");
		background(pf, who, n);
		if (pf[0].revents && !serve_one())
			return 0;
	}
}
