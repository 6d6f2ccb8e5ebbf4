/* Small pieces every process of the oracle uses: the seeded generator, the
 * byte pattern of the streams, observation lines. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oracle.h"

/* xorshift64*: small, fast, and the same sequence on every machine. */
void rng_seed(struct rng *r, uint64_t seed)
{
	r->s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
	if (!r->s)
		r->s = 1;
}

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

uint32_t rng_below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)((rng_next(r) >> 32) % n) : 0;
}

bool rng_chance(struct rng *r, int percent)
{
	return (int)rng_below(r, 100) < percent;
}

uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

void pattern_fill(uint8_t *buf, size_t len, int conn, int dir, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern_byte(conn, dir, off + i);
}

bool pattern_check(const uint8_t *buf, size_t len, int conn, int dir, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern_byte(conn, dir, off + i))
			return false;
	return true;
}

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *errno_name(int err)
{
	const char *name = err ? strerrorname_np(err) : "0";

	return name ? name : "E?";
}

/* ctx: 'm' the main thread, 'c' a forked child, 't' a thread's result,
 * 'p' a peer's reply; step: the index in the scenario. */
void line_start(struct line *l, char ctx, int step, const char *verb)
{
	l->len = 0;
	line_add(l, "%c%d %s", ctx, step, verb);
}

/* Appends, leaving room for the newline; a line too long is cut. */
void line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	va_start(ap, fmt);
	room = l->len < sizeof(l->buf) - 1 ? sizeof(l->buf) - 1 - l->len : 0;
	/* The analyzer loses track of va_start through line_ret()'s call. */
	n = vsnprintf(l->buf + l->len, room, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	if (n > 0 && room > 1)
		l->len += (size_t)n < room ? (size_t)n : room - 1;
}

void line_ret(struct line *l, long ret, int err)
{
	if (ret < 0)
		line_add(l, " ret=-1 errno=%s", errno_name(err));
	else
		line_add(l, " ret=%ld", ret);
}

/* One write per line: lines from a parent and its children never mix. */
void line_emit(struct line *l)
{
	int saved = errno;

	l->buf[l->len++] = '\n';
	for (size_t off = 0; off < l->len;) {
		ssize_t n = write(FD_OBS, l->buf + off, l->len - off);

		if (n <= 0 && errno != EINTR)
			break;
		if (n > 0)
			off += (size_t)n;
	}
	errno = saved;
}
