/* Shared by the test programs: a connected pair of sockets whose server end
 * is reset, and a way to wait until the client end has seen it. */
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

#endif
