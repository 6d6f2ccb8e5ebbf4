/* epoll and signal-driven I/O.  Events are printed as (registered tag,
 * mask), never as pointers: a registration with data.ptr points at a
 * record holding its tag, as nginx's point at a connection.  Each wait
 * first makes a sentinel eventfd ready, so that it returns at once with
 * everything that is ready, and nothing depends on a time-out. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "prog.h"

#define SENTINEL_TAG UINT64_MAX

struct reg_record {
	uint32_t tag;
};

static struct reg_record records[MAX_STEPS];

static void mask_names(struct line *l, uint32_t mask)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ EPOLLIN, "IN" },   { EPOLLOUT, "OUT" },	{ EPOLLRDHUP, "RDHUP" },
		{ EPOLLHUP, "HUP" }, { EPOLLERR, "ERR" },	{ EPOLLPRI, "PRI" },
		{ EPOLLET, "ET" },   { EPOLLONESHOT, "ONESHOT" }, { EPOLLEXCLUSIVE, "EXCL" },
	};
	const char *sep = "";

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (mask & names[k].bit) {
			line_add(l, "%s%s", sep, names[k].name);
			mask &= ~names[k].bit;
			sep = "|";
		}
	}
	if (mask)
		line_add(l, "%s0x%x", sep, mask);
}

void act_epoll_create(const struct step *st, int i)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = SENTINEL_TAG };
	int ep = epoll_create1(0), e = errno, sentinel = eventfd(0, EFD_NONBLOCK);
	struct line l;

	line_start(&l, cur_ctx, i, "epoll_create1");
	line_ret(&l, ep, e);
	if (ep >= 0 && ep != st->expect)
		line_add(&l, " plan=%d", st->expect);
	line_add(&l, " sentinel=%d", sentinel);
	if (sentinel >= 0 && ep >= 0)
		LINE_CALL(&l, epoll_ctl(ep, EPOLL_CTL_ADD, sentinel, &ev));
	line_emit(&l);
}

void act_epoll_ctl(const struct step *st, int i)
{
	static const char *const ops[] = { "?", "add", "del", "mod" };
	struct epoll_event ev = { .events = st->b };
	struct line l;

	records[st->c].tag = st->c;
	if (st->n)
		ev.data.ptr = &records[st->c];
	else
		ev.data.u64 = st->c;
	line_start(&l, cur_ctx, i, "epoll_ctl");
	line_add(&l, " ep=%d op=%s fd=%d events=", st->fd2, ops[st->a & 3], st->fd);
	mask_names(&l, st->b);
	line_add(&l, " data=%s%u", st->n ? "p" : "u", st->c);
	LINE_CALL(&l, epoll_ctl(st->fd2, (int)st->a, st->fd, st->a == EPOLL_CTL_DEL ? NULL : &ev));
	line_emit(&l);
}

static int event_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* "u12:IN|OUT": the tag, through the pointer for data.ptr ones. */
static void event_name(char *out, size_t size, const struct epoll_event *ev, bool ptr)
{
	struct line tmp = { .len = 0 };

	if (ev->data.u64 == SENTINEL_TAG)
		line_add(&tmp, "s:");
	else if (ptr)
		line_add(&tmp, "p%u:", ((const struct reg_record *)ev->data.ptr)->tag);
	else
		line_add(&tmp, "u%llu:", (unsigned long long)ev->data.u64);
	mask_names(&tmp, ev->events);
	snprintf(out, size, "%.*s", (int)tmp.len, tmp.buf);
}

/* Whether a registration's data is a pointer: it points into records[]. */
static bool is_ptr(const struct epoll_event *ev)
{
	uintptr_t p = (uintptr_t)ev->data.ptr, lo = (uintptr_t)records;

	return p >= lo && p < lo + sizeof(records);
}

void act_epoll_wait(const struct step *st, int i)
{
	static char names[64][48];
	struct epoll_event evs[64];
	uint64_t one = 1;
	struct line l;
	int n, e;

	(void)!write(st->fd2, &one, sizeof(one));
	n = epoll_wait(st->fd, evs, 64, 2000);
	e = errno;
	line_start(&l, cur_ctx, i, "epoll_wait");
	line_add(&l, " ep=%d", st->fd);
	line_ret(&l, n, e);
	for (int k = 0; k < n; k++)
		event_name(names[k], sizeof(names[k]), &evs[k], is_ptr(&evs[k]));
	if (n > 0)
		qsort(names, (size_t)n, sizeof(names[0]), event_cmp);
	for (int k = 0; k < n; k++)
		line_add(&l, " %s", names[k]);
	(void)!read(st->fd2, &one, sizeof(one));
	line_emit(&l);
}

static int async_signal(uint32_t choice)
{
	return choice == 2 ? SIGRTMIN + 2 : SIGIO;
}

void act_async(const struct step *st, int i)
{
	struct line l;
	int flags;

	line_start(&l, cur_ctx, i, "async");
	line_add(&l, " fd=%d sig=%u setown", st->fd, st->a);
	LINE_CALL(&l, fcntl(st->fd, F_SETOWN, getpid()));
	if (st->a) {
		line_add(&l, " setsig");
		LINE_CALL(&l, fcntl(st->fd, F_SETSIG, async_signal(st->a)));
	}
	flags = fcntl(st->fd, F_GETFL);
	line_add(&l, " setfl");
	LINE_CALL(&l, fcntl(st->fd, F_SETFL, flags | O_ASYNC));
	line_emit(&l);
	async_used = true;
}

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

int sigpipe_count(void)
{
	return sigpipes;
}

static void async_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGIO);
	sigaddset(set, SIGRTMIN + 2);
}

/* The I/O signals stay blocked in every thread and are collected after
 * each step; SIGPIPE gets the scenario's disposition. */
void signals_setup(int sigpipe)
{
	struct sigaction sa = { .sa_handler = on_sigpipe };
	sigset_t set;

	async_set(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (sigpipe == SP_IGNORE)
		signal(SIGPIPE, SIG_IGN);
	else if (sigpipe == SP_HANDLER)
		sigaction(SIGPIPE, &sa, NULL);
}

static const char *band_name(long band)
{
	if (band & POLLHUP)
		return "HUP";
	if (band & POLLERR)
		return "ERR";
	if (band & POLLIN)
		return "IN";
	return band & POLLOUT ? "OUT" : "other";
}

/* Every distinct (signal, fd, band) pending now, sorted. */
void harvest_signals(int i)
{
	static const struct timespec zero;
	static char seen[64][48];
	int n = 0;
	siginfo_t si;
	sigset_t set;
	struct line l;

	async_set(&set);
	while (sigtimedwait(&set, &si, &zero) > 0) {
		char one[48];
		bool dup = false;

		if (si.si_code > 0 && si.si_code <= POLL_HUP)
			snprintf(one, sizeof(one), "%s:fd=%d:%s", si.si_signo == SIGIO ? "IO" : "RT",
				 si.si_fd, band_name(si.si_band));
		else
			snprintf(one, sizeof(one), "%s", si.si_signo == SIGIO ? "IO" : "RT");
		for (int k = 0; k < n && !dup; k++)
			dup = !strcmp(seen[k], one);
		if (!dup && n < 64)
			snprintf(seen[n++], sizeof(seen[0]), "%s", one);
	}
	if (!n)
		return;
	qsort(seen, (size_t)n, sizeof(seen[0]), event_cmp);
	line_start(&l, cur_ctx, i, "signals");
	for (int k = 0; k < n; k++)
		line_add(&l, " %s", seen[k]);
	line_emit(&l);
}
