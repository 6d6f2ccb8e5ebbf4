/* dupfail: a call that would let go of a socket but fails must leave it as
 * it was.  dup2() and dup3() of a closed descriptor onto the socket fail
 * with EBADF, close_range() with unknown flags fails with EINVAL; in each
 * case the kernel has not touched the socket, so the program may go on
 * using it and its peer must not see EOF.
 *
 * usage: dupfail dup2|dup3|close_range
 * Prints "ret=R errno=E send=N peer=data|eof|ERRNO": what the failing call
 * returned, what a send() on the socket after it returned, and what the
 * peer then reads. */
#include <fcntl.h>

#include "common.h"

static int fail_on(const char *call, int sock)
{
	int bad = dup(0);

	close(bad); /* a number nothing is open on */
	if (!strcmp(call, "dup2"))
		return dup2(bad, sock);
	if (!strcmp(call, "dup3"))
		return dup3(bad, sock, 0);
	if (!strcmp(call, "close_range"))
		return close_range((unsigned)sock, (unsigned)sock, (int)0x40000000);
	errx(2, "unknown call %s", call);
}

/* What the peer finds: the byte sent after the failed call and nothing
 * more ("data"), or the end of the stream ("eof"). */
static const char *peer_reads(int peer)
{
	static char what[32];
	char buf[64];
	ssize_t n;
	int got = 0;

	if (!readable_within(peer, 5000))
		return "nothing";
	while ((n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		got += (int)n;
	if (n == 0)
		return "eof";
	if (errno != EAGAIN)
		snprintf(what, sizeof(what), "%s", strerrorname_np(errno));
	else
		snprintf(what, sizeof(what), got == 1 ? "data" : "data%d", got);
	return what;
}

int main(int argc, char **argv)
{
	struct conn c;
	char request[1000] = { 0 };
	int ret, saved;
	ssize_t sent;

	if (argc != 2)
		errx(2, "usage: dupfail dup2|dup3|close_range");
	conn_open(&c, "inet", "");
	/* Unread data, and a peer that may send more: the case for a graceful
	 * close, had the socket been let go of. */
	if (send(c.client, request, sizeof(request), 0) != sizeof(request))
		err(2, "send");
	ret = fail_on(argv[1], c.server);
	saved = errno;
	/* Anything handed to a drainer by mistake has been shut down now. */
	drainer_barrier();
	sent = send(c.server, "x", 1, MSG_NOSIGNAL);
	printf("ret=%d errno=%s send=%zd%s%s peer=%s\n", ret, strerrorname_np(saved), sent,
	       sent < 0 ? " " : "", sent < 0 ? strerrorname_np(errno) : "", peer_reads(c.client));
	return 0;
}
