/* closemany: a server that accepts COUNT connections, holds them all, and
 * then closes them one after the other without reading what the clients
 * sent, timing each close() the program makes.  Every socket then has
 * unread data, so without resetguard each close is an RST, and with it each
 * one lingers: this puts COUNT sockets in the drainer at once, however
 * slowly the clients connected.
 *
 * usage: closemany COUNT
 * Prints "listening PORT" when ready, then, after the last close,
 * "closed=N close_us_median=M close_us_p99=P close_us_max=X close_ms_total=T".
 * main() then returns: with resetguard, exit waits for the lingering
 * sockets (bounded by RESETGUARD_LINGER_TIMEOUT). */
#include <arpa/inet.h>
#include <err.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int count = argc > 1 ? atoi(argv[1]) : 10000, one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	if (count < 1)
		errx(2, "usage: closemany COUNT");
	int *fds = calloc((size_t)count, sizeof(*fds));
	long *us = calloc((size_t)count, sizeof(*us));
	if (!fds || !us)
		err(2, "calloc");

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(listener, (struct sockaddr *)&a, len) < 0 ||
	    listen(listener, count) < 0 || /* the kernel caps it at somaxconn */
	    getsockname(listener, (struct sockaddr *)&a, &len) < 0)
		err(2, "listen");
	printf("listening %u\n", ntohs(a.sin_port));
	fflush(stdout);

	for (int i = 0; i < count; i++)
		if ((fds[i] = accept(listener, NULL, NULL)) < 0)
			err(2, "accept %d", i);
	close(listener);

	long start = now_us();
	for (int i = 0; i < count; i++) {
		long t = now_us();

		close(fds[i]);
		us[i] = now_us() - t;
	}
	long total = now_us() - start;

	qsort(us, (size_t)count, sizeof(*us), cmp_long);
	printf("closed=%d close_us_median=%ld close_us_p99=%ld close_us_max=%ld close_ms_total=%.1f\n",
	       count, us[count / 2], us[(long)count * 99 / 100], us[count - 1], (double)total / 1000);
	fflush(stdout);
	free(us);
	free(fds);
	return 0;
}
