/* closemany: a server that accepts COUNT connections, holds them all, and
 * then closes them one after the other without reading what the clients
 * sent, timing each close() the program makes.  Every socket then has
 * unread data, so without resetguard each close is an RST, and with it each
 * one lingers: this puts COUNT sockets in the drainer at once, however
 * slowly the clients connected.
 *
 * usage: closemany [-e] [-D] [-L MS] [-w MS] COUNT
 * -e registers every socket in an epoll set (level-triggered EPOLLIN, as
 * an event loop waits for a request) before the closes, and closes them
 * without EPOLL_CTL_DEL; -D (implies -e) makes one EPOLL_CTL_DEL call just
 * before each close and times it apart: the price of one epoll_ctl.
 * Prints "listening PORT" when ready, then, after the last close,
 * "closed=N close_us_median=M close_us_p99=P close_us_max=X close_ms_total=T
 * close_ns_median=C" and, with -D, " del_ns_median=D".
 * -L makes the program linger by itself instead, as nginx's lingering
 * close does: shutdown(SHUT_WR), discard what comes (recv MSG_TRUNC) from
 * an epoll set, close on EOF or MS milliseconds after the shutdown.  It
 * then prints "lingered=N linger_cpu_ms=C": the CPU all of that took, the
 * least a lingerer in user space can spend, for the drainer's to be
 * measured against.
 * main() then returns, after MS milliseconds with -w: with resetguard, the
 * sockets still lingering at exit go to its heir (resetguard(7)), so a
 * benchmark of the drainer itself waits past the linger timeout. */
#include <arpa/inet.h>
#include <err.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int epoll_set = -1;

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Puts every socket in a new epoll set, as an event loop would have. */
static void register_all(const int *fds, int count)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		err(2, "epoll_create1");
	for (int i = 0; i < count; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			err(2, "epoll_ctl ADD");
	}
	epoll_set = ep;
}

static void discard(int fd)
{
	while (recv(fd, NULL, 1 << 20, MSG_DONTWAIT | MSG_TRUNC) > 0)
		;
}

static long cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Lingers on every socket until its EOF or ms after its shutdown; the
 * shutdowns are in order, so the deadlines are too. */
static void linger_all(const int *fds, int count, long ms)
{
	long *deadline = calloc((size_t)count, sizeof(*deadline)), cpu = cpu_ms();
	int ep = epoll_create1(EPOLL_CLOEXEC), open_left = count, next = 0;
	char *closed = calloc((size_t)count, 1);

	if (!deadline || !closed || ep < 0)
		err(2, "linger set-up");
	for (int i = 0; i < count; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i };

		shutdown(fds[i], SHUT_WR);
		discard(fds[i]);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			err(2, "epoll_ctl ADD");
		deadline[i] = now_us() / 1000 + ms;
	}
	while (open_left > 0) {
		struct epoll_event evs[64];
		long wait = deadline[next] - now_us() / 1000;
		int n = epoll_wait(ep, evs, 64, wait > 0 ? (int)wait : 0);

		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			char byte;

			discard(fds[i]);
			if (recv(fds[i], &byte, 1, MSG_DONTWAIT | MSG_PEEK) == 0) {
				close(fds[i]);
				closed[i] = 1;
				open_left--;
			}
		}
		for (long now = now_us() / 1000; next < count && (closed[next] || deadline[next] <= now); next++)
			if (!closed[next]) {
				close(fds[next]);
				closed[next] = 1;
				open_left--;
			}
	}
	printf("lingered=%d linger_cpu_ms=%ld\n", count, cpu_ms() - cpu);
	fflush(stdout);
	close(ep);
	free(closed);
	free(deadline);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int opt, in_set = 0, del = 0, one = 1;
	long stay_ms = 0, linger_ms = 0;

	while ((opt = getopt(argc, argv, "eDL:w:")) != -1) {
		if (opt == 'e')
			in_set = 1;
		else if (opt == 'D')
			in_set = del = 1;
		else if (opt == 'w')
			stay_ms = atol(optarg);
		else if (opt == 'L')
			linger_ms = atol(optarg);
		else
			return 2;
	}
	int count = optind < argc ? atoi(argv[optind]) : 10000;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	if (count < 1)
		errx(2, "usage: closemany [-e] [-D] [-L MS] [-w MS] COUNT");
	int *fds = calloc((size_t)count, sizeof(*fds));
	long *us = calloc((size_t)count, sizeof(*us)), *ns = calloc((size_t)count, sizeof(*ns));
	long *del_ns = calloc((size_t)count, sizeof(*del_ns));
	if (!fds || !us || !ns || !del_ns)
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
	if (linger_ms > 0) {
		linger_all(fds, count, linger_ms);
		free(del_ns);
		free(ns);
		free(us);
		free(fds);
		return 0;
	}
	if (in_set)
		register_all(fds, count);

	long start = now_us();
	for (int i = 0; i < count; i++) {
		if (del) {
			long d = now_ns();

			if (epoll_ctl(epoll_set, EPOLL_CTL_DEL, fds[i], NULL) < 0)
				err(2, "epoll_ctl DEL");
			del_ns[i] = now_ns() - d;
		}
		long t = now_ns();

		close(fds[i]);
		ns[i] = now_ns() - t;
		us[i] = ns[i] / 1000;
	}
	long total = now_us() - start;

	qsort(us, (size_t)count, sizeof(*us), cmp_long);
	qsort(ns, (size_t)count, sizeof(*ns), cmp_long);
	qsort(del_ns, (size_t)count, sizeof(*del_ns), cmp_long);
	printf("closed=%d close_us_median=%ld close_us_p99=%ld close_us_max=%ld close_ms_total=%.1f "
	       "close_ns_median=%ld",
	       count, us[count / 2], us[(long)count * 99 / 100], us[count - 1], (double)total / 1000,
	       ns[count / 2]);
	if (del)
		printf(" del_ns_median=%ld", del_ns[count / 2]);
	printf("\n");
	fflush(stdout);
	if (stay_ms > 0)
		nanosleep(&(struct timespec){ stay_ms / 1000, stay_ms % 1000 * 1000000 }, NULL);
	free(del_ns);
	free(ns);
	free(us);
	free(fds);
	return 0;
}
