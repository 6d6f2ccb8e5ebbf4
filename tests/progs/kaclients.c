/* kaclients: keep-alive clients that wait for an answer and keep their
 * connection open after it, the way HTTP/1.1 clients and pools do; for
 * inetd-style servers whose handler answers and exits.  Each client's
 * time to its answer tells how long the server held the previous handler
 * of a limited pool.
 *
 * usage: kaclients -p PORT [-n CLIENTS] [-t TIMEOUT_MS]
 * Connects all clients at once, sends nothing, and waits for the first
 * bytes on each; every connection stays open until the last client has its
 * answer or the time-out.  Prints "answered=N slowest_ms=N". */
#include <fcntl.h>

#include "common.h"

#define MAX_CLIENTS 256

int main(int argc, char **argv)
{
	struct pollfd p[MAX_CLIENTS];
	long long start, slowest = 0, give_up;
	int opt, n = 16, timeout_ms = 15000, answered = 0;
	unsigned short port = 0;

	while ((opt = getopt(argc, argv, "p:n:t:")) != -1) {
		switch (opt) {
		case 'p': port = (unsigned short)atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!port || n < 1 || n > MAX_CLIENTS)
		errx(2, "usage: kaclients -p PORT [-n 1..%d] [-t MS]", MAX_CLIENTS);
	start = mono_ns();
	give_up = start + timeout_ms * 1000000LL;
	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = connect_loopback(port), .events = POLLIN };
	while (answered < n && mono_ns() < give_up) {
		if (poll(p, (nfds_t)n, 100) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			char buf[256];

			if (!p[i].revents)
				continue;
			if (recv(p[i].fd, buf, sizeof(buf), 0) > 0) {
				answered++;
				slowest = mono_ns() - start;
			}
			p[i].fd = -p[i].fd - 1; /* answered (or failed): poll no more */
		}
	}
	printf("answered=%d slowest_ms=%lld\n", answered, slowest / 1000000);
	return 0;
}
