/* Shared by the test programs: a connected pair of sockets whose server end
 * is reset, and a way to wait until the client end has seen it; loopback
 * listeners and connections, a close out of resetguard's reach, and a
 * barrier that waits until resetguard's drainer has begun every socket
 * handed to it. */
#ifndef RG_TEST_COMMON_H
#define RG_TEST_COMMON_H

#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int client, server;
	char server_addr[160]; /* as resetguard prints it */
};

static inline void conn_open(struct conn *c, const char *family, const char *unix_path)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} a;
	socklen_t len;
	int listener;

	memset(&a, 0, sizeof(a));
	if (!strcmp(family, "inet")) {
		a.in.sin_family = AF_INET;
		a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(a.in);
	} else if (!strcmp(family, "inet6")) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr = in6addr_loopback;
		len = sizeof(a.in6);
	} else {
		/* "@name" is an abstract name: a leading NUL, no file. */
		a.un.sun_family = AF_UNIX;
		snprintf(a.un.sun_path, sizeof(a.un.sun_path), "%s", unix_path);
		len = sizeof(a.un);
		if (unix_path[0] == '@') {
			a.un.sun_path[0] = '\0';
			len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(unix_path));
		} else {
			unlink(unix_path);
		}
	}
	listener = socket(a.sa.sa_family, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, &a.sa, len) < 0 || listen(listener, 8) < 0)
		err(2, "listen");
	if (getsockname(listener, &a.sa, &len) < 0)
		err(2, "getsockname");
	c->client = socket(a.sa.sa_family, SOCK_STREAM, 0);
	if (c->client < 0 || connect(c->client, &a.sa, len) < 0)
		err(2, "connect");
	c->server = accept(listener, NULL, NULL);
	if (c->server < 0)
		err(2, "accept");
	close(listener);

	char host[INET6_ADDRSTRLEN];
	if (a.sa.sa_family == AF_INET)
		snprintf(c->server_addr, sizeof(c->server_addr), "%s:%u",
			 inet_ntop(AF_INET, &a.in.sin_addr, host, sizeof(host)),
			 ntohs(a.in.sin_port));
	else if (a.sa.sa_family == AF_INET6)
		snprintf(c->server_addr, sizeof(c->server_addr), "[%s]:%u",
			 inet_ntop(AF_INET6, &a.in6.sin6_addr, host, sizeof(host)),
			 ntohs(a.in6.sin6_port));
	else
		snprintf(c->server_addr, sizeof(c->server_addr), "unix:%s", unix_path);
}

/* Make the server end go away abortively: TCP sends RST at once with
 * SO_LINGER {1, 0}; an AF_UNIX stream resets its peer when closed with
 * unread data.  The server end stands for a remote peer, so it is closed
 * with a raw system call, out of resetguard's reach: resetguard would
 * otherwise turn this very close into a graceful one.  Then wait, by
 * readiness and not by time, until the client end has seen the reset. */
static inline void conn_reset(struct conn *c)
{
	struct linger lg = { 1, 0 };
	struct pollfd p = { .fd = c->client, .events = POLLIN };

	if (write(c->client, "x", 1) != 1)
		err(2, "write before reset");
	setsockopt(c->server, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	/* Drain nothing: the unread byte is what makes AF_UNIX reset. */
	syscall(SYS_close, c->server);
	if (poll(&p, 1, 10000) != 1)
		errx(2, "the reset never arrived");
}

/* A close out of resetguard's reach, for the ends that stand for remote
 * peers: resetguard would otherwise linger them too. */
static inline void raw_close(int fd)
{
	syscall(SYS_close, fd);
}

static inline long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A listening TCP socket on 127.0.0.1 with a port of the kernel's choice,
 * which *port receives. */
static inline int listen_loopback(unsigned short *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		err(2, "listen");
	*port = ntohs(a.sin_port);
	return fd;
}

static inline int connect_loopback(unsigned short port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		err(2, "connect");
	return fd;
}

/* Waits up to ms for fd to become readable; 1 if it did. */
static inline int readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* Returns once resetguard's drainer, if there is one, has begun (shut
 * down) every socket handed to it before the call.  Two graceful closes in
 * a row, each awaited at its peer: the first proves the drainer took the
 * batch it was queued in, the second, queued after that batch was taken,
 * that it finished the batch.  Without resetguard both are plain closes
 * and their EOFs come at once. */
static inline void drainer_barrier(void)
{
	for (int i = 0; i < 2; i++) {
		struct conn b;
		char byte;

		conn_open(&b, "inet", "");
		close(b.server); /* the peer has not sent EOF: it lingers */
		if (!readable_within(b.client, 10000) || recv(b.client, &byte, 1, 0) != 0)
			errx(2, "drainer barrier: no EOF");
		close(b.client);
	}
}

#endif
