/* epollserver: a one-thread epoll server that answers early and closes
 * with the rest of the request unread, and checks every event epoll hands
 * it.  It closes without EPOLL_CTL_DEL (epoll(7): the last close removes
 * the registration), unless the mode says otherwise, so a registration
 * that outlives close() shows up here as events for connections that are
 * gone or that do not match the connection now under that number.
 *
 * usage: epollserver [-m MODE] < CONTROL
 * MODE: lt        level-triggered, data.fd (the default)
 *       et        edge-triggered, data.ptr to a per-connection slot that is
 *                 freed at close and reused (last freed, first reused, as
 *                 nginx does), tagged with an instance bit as nginx does
 *       oneshot   EPOLLONESHOT, data.fd, re-armed right after each read (an
 *                 I/O layer that re-arms before the request is handled)
 *       exclusive EPOLLEXCLUSIVE on the listener and the connections
 *       del       level-triggered, data.fd, EPOLL_CTL_DEL before close
 * Each connection: one read of at most 4 KiB, a one-line answer, close.
 * CONTROL (stdin, in the same epoll set) is read until EOF, which ends the
 * run; the test closes it once its clients are done, so the run covers
 * every event the connections' registrations can cause.
 * Prints "listening PORT" when ready, and at the end one line:
 *   served=N waits=W events=E stale_closed=C stale_reused=R cpu_us=T proc_cpu_us=P
 * stale_closed: events for a connection the program has closed (its number
 * or slot is free); stale_reused: events under a number or slot that now
 * belongs to another connection and that cannot be that connection's: a
 * second event for it in one epoll_wait, a wrong instance bit, or a mask
 * the connection's real state (poll) does not have.  cpu_us is this
 * thread's CPU time, proc_cpu_us the whole process's (with resetguard, its
 * drainer thread too). */
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "common.h"

#define MAX_FD 4096
#define BATCH 64

enum mode { LT, ET, ONESHOT, EXCLUSIVE, DEL };

/* A connection slot; in et mode, epoll's data.ptr points at one. */
struct slot {
	int fd; /* -1 when free */
	unsigned instance; /* flips at every reuse */
	struct slot *next_free;
};

static enum mode mode = LT;
static int ep, listen_fd;
static struct slot slots[MAX_FD], *free_slots;
static struct slot *by_fd[MAX_FD]; /* open connections by number */
static long served, waits, events, stale_closed, stale_reused;
static int control_open = 1;

/* Keys for the listener and the control pipe in et mode (data.ptr). */
static struct slot listener_key, control_key;

static uint32_t conn_events(void)
{
	switch (mode) {
	case ET: return EPOLLIN | EPOLLRDHUP | EPOLLET;
	case ONESHOT: return EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	/* EPOLLRDHUP is not allowed with EPOLLEXCLUSIVE (EINVAL). */
	case EXCLUSIVE: return EPOLLIN | EPOLLEXCLUSIVE;
	default: return EPOLLIN | EPOLLRDHUP;
	}
}

static void *tag(struct slot *s)
{
	return (void *)((uintptr_t)s | (s->instance & 1));
}

static void add(int fd, uint32_t ev, struct slot *key)
{
	struct epoll_event e = { .events = ev };

	if (mode == ET)
		e.data.ptr = tag(key);
	else
		e.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
		err(2, "epoll_ctl ADD %d", fd);
}

static void accept_all(void)
{
	int fd;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (fd >= MAX_FD || !free_slots)
			errx(2, "descriptor %d past the table", fd);
		struct slot *s = free_slots;

		free_slots = s->next_free;
		s->fd = fd;
		s->instance++;
		by_fd[fd] = s;
		add(fd, conn_events(), s);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		err(2, "accept");
}

static void close_conn(struct slot *s)
{
	if (mode == DEL && epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL) < 0)
		err(2, "epoll_ctl DEL");
	close(s->fd);
	by_fd[s->fd] = NULL;
	s->fd = -1;
	s->next_free = free_slots;
	free_slots = s;
	served++;
}

/* Reads the head of the request, answers early and closes. */
static void serve(struct slot *s)
{
	char buf[4096];
	ssize_t n = recv(s->fd, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (mode == ONESHOT) {
		struct epoll_event e = { .events = conn_events(), .data.fd = s->fd };

		if (epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e) < 0)
			err(2, "epoll_ctl MOD");
	}
	if (n > 0 && send(s->fd, "413 too large\n", 14, MSG_NOSIGNAL) < 0 && errno != EPIPE &&
	    errno != ECONNRESET)
		err(2, "send");
	close_conn(s);
}

static void read_control(void)
{
	char buf[256];
	ssize_t n = read(0, buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		if (epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL) < 0)
			err(2, "epoll_ctl DEL control");
		control_open = 0;
	}
}

static short poll_bits(uint32_t ev)
{
	return (short)(((ev & EPOLLIN) ? POLLIN : 0) | ((ev & EPOLLRDHUP) ? POLLRDHUP : 0) |
		       ((ev & EPOLLHUP) ? POLLHUP : 0) | ((ev & EPOLLERR) ? POLLERR : 0) |
		       ((ev & EPOLLOUT) ? POLLOUT : 0));
}

/* Whether the connection's own state right now has every bit the event
 * reports.  Nothing of it has been read since epoll_wait collected the
 * event, and readable data, EOF, hang-up and a pending error do not go
 * away by themselves: a live registration's event always passes. */
static int state_matches(int fd, uint32_t ev)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	if (poll(&p, 1, 0) < 0)
		err(2, "poll");
	return (poll_bits(ev) & ~p.revents) == 0;
}

/* The slot an event names, or NULL for the listener, the control pipe and
 * anything stale (counted). */
static struct slot *classify(const struct epoll_event *e, struct slot **seen, int nseen)
{
	struct slot *s;

	if (mode == ET) {
		uintptr_t p = (uintptr_t)e->data.ptr;

		s = (struct slot *)(p & ~(uintptr_t)1);
		if (s == &listener_key || s == &control_key)
			return NULL;
		if (s->fd < 0) {
			stale_closed++;
			return NULL;
		}
		if ((p & 1) != (s->instance & 1)) {
			stale_reused++;
			return NULL;
		}
	} else {
		if (e->data.fd == listen_fd || e->data.fd == 0)
			return NULL;
		s = e->data.fd >= 0 && e->data.fd < MAX_FD ? by_fd[e->data.fd] : NULL;
		if (!s) {
			stale_closed++;
			return NULL;
		}
	}
	for (int i = 0; i < nseen; i++) {
		if (seen[i] == s) {
			stale_reused++;
			return NULL;
		}
	}
	if (!state_matches(s->fd, e->events)) {
		stale_reused++;
		return NULL;
	}
	return s;
}

static int is_key(const struct epoll_event *e, const struct slot *key, int fd)
{
	return mode == ET ? e->data.ptr == key : e->data.fd == fd;
}

static void run(void)
{
	struct epoll_event ev[BATCH];
	struct slot *valid[BATCH];

	while (control_open) {
		int n = epoll_wait(ep, ev, BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err(2, "epoll_wait");
		}
		waits++;
		events += n;
		/* Every event is judged before any is handled: handling one
		 * closes and accepts, and so changes what the others name. */
		for (int i = 0; i < n; i++)
			valid[i] = classify(&ev[i], valid, i);
		for (int i = 0; i < n; i++) {
			if (valid[i])
				serve(valid[i]);
			else if (is_key(&ev[i], &listener_key, listen_fd))
				accept_all();
			else if (is_key(&ev[i], &control_key, 0))
				read_control();
		}
	}
}

static long cpu_us(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static enum mode parse_mode(const char *m)
{
	static const char *const names[] = { "lt", "et", "oneshot", "exclusive", "del" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(m, names[i]))
			return (enum mode)i;
	errx(2, "unknown mode %s", m);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int opt, one = 1;

	while ((opt = getopt(argc, argv, "m:")) != -1) {
		if (opt != 'm')
			return 2;
		mode = parse_mode(optarg);
	}
	for (int i = MAX_FD - 1; i >= 0; i--) {
		slots[i].fd = -1;
		slots[i].next_free = free_slots;
		free_slots = &slots[i];
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&a, len) < 0 || listen(listen_fd, 1024) < 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&a, &len) < 0)
		err(2, "listen");
	if (fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK) < 0)
		err(2, "control");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		err(2, "epoll_create1");
	add(listen_fd, EPOLLIN | (mode == EXCLUSIVE ? EPOLLEXCLUSIVE : 0), &listener_key);
	add(0, EPOLLIN, &control_key);
	printf("listening %u\n", ntohs(a.sin_port));
	fflush(stdout);

	run();
	printf("served=%ld waits=%ld events=%ld stale_closed=%ld stale_reused=%ld cpu_us=%ld proc_cpu_us=%ld\n",
	       served, waits, events, stale_closed, stale_reused, cpu_us(RUSAGE_THREAD),
	       cpu_us(RUSAGE_SELF));
	return 0;
}
