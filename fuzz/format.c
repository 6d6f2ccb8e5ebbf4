/* libFuzzer target: the record builder, shim/format.c, driven directly.
 * The input is a format and a list of fields (strings of any bytes and
 * length, numbers, socket addresses of every family and length, errnos,
 * the time) under the keys log.c uses.  Checked: one well-formed record
 * (check.c), no longer than RG_LINE_MAX, each field that went in reads
 * back as exactly its value, and truncated=true exactly when one was left
 * out. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_input {
	const uint8_t *p;
	size_t left;
};

static size_t fz_take(struct fz_input *in, void *out, size_t n)
{
	n = n < in->left ? n : in->left;
	memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
	return n;
}

static unsigned fz_byte(struct fz_input *in)
{
	uint8_t b = 0;

	fz_take(in, &b, 1);
	return b;
}

/* What a field should read back as, kept until the record is checked. */
struct fz_expect {
	const char *key;
	const char *val; /* in fz_arena */
	size_t len;
	bool number, any; /* any: the value is not compared (the time) */
};

static const char *const fz_keys[] = {
	"ts",	 "level", "event", "peer",   "local",	"prog",	   "op",      "errno",
	"log",	 "fd",	  "pid",   "outcome", "metrics", "version", "tcp_state", "errno_name",
};

static char fz_arena[1 << 20];
static size_t fz_arena_used;

static void fz_set(struct fz_expect *e, const char *val, size_t len)
{
	if (len > sizeof(fz_arena) - fz_arena_used) {
		e->any = true;
		return;
	}
	e->val = memcpy(fz_arena + fz_arena_used, val, len);
	e->len = len;
	fz_arena_used += len;
}

static size_t fz_port(char *out, uint16_t port_be)
{
	return (size_t)sprintf(out, ":%u", ntohs(port_be));
}

/* The text rg_line_addr() should give, from libc's inet_ntop() and the
 * rules in README (unix:/path, unix:@abstract, unix:unnamed). */
static void fz_expect_addr(struct fz_expect *e, const struct rg_addr *a)
{
	char out[sizeof(a->u.un.sun_path) + 64];
	size_t off = offsetof(struct sockaddr_un, sun_path), len;

	if (a->len == 0 || (a->u.sa.sa_family != AF_INET && a->u.sa.sa_family != AF_INET6 &&
			    a->u.sa.sa_family != AF_UNIX)) {
		len = (size_t)sprintf(out, "unknown");
	} else if (a->u.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->u.in.sin_addr, out, INET_ADDRSTRLEN);
		len = strlen(out);
		len += fz_port(out + len, a->u.in.sin_port);
	} else if (a->u.sa.sa_family == AF_INET6) {
		static const uint8_t zeros[12];

		/* glibc writes ::1.2.3.4 for these, RFC 5952 does not. */
		e->any = memcmp(a->u.in6.sin6_addr.s6_addr, zeros, 12) == 0;
		out[0] = '[';
		inet_ntop(AF_INET6, &a->u.in6.sin6_addr, out + 1, INET6_ADDRSTRLEN);
		len = strlen(out);
		out[len++] = ']';
		len += fz_port(out + len, a->u.in6.sin6_port);
	} else {
		size_t n = a->len > off ? a->len - off : 0;
		const char *path = a->u.un.sun_path;

		memcpy(out, "unix:", 5);
		if (n == 0) {
			memcpy(out + 5, "unnamed", 7);
			len = 12;
		} else if (path[0] == '\0') {
			out[5] = '@';
			memcpy(out + 6, path + 1, n - 1);
			len = 6 + n - 1;
		} else {
			n = strnlen(path, n);
			memcpy(out + 5, path, n);
			len = 5 + n;
		}
	}
	fz_set(e, out, len);
}

/* One field from the input onto l; false when it was left out. */
static bool fz_field(struct rg_line *l, struct fz_input *in, struct fz_expect *e)
{
	size_t before = l->len;
	unsigned op = fz_byte(in);

	e->key = fz_keys[(op >> 3) % (sizeof(fz_keys) / sizeof(fz_keys[0]))];
	e->number = false;
	e->any = false;
	switch (op & 7) {
	case 0:
	case 1: { /* a string, up to 2 KiB so that it may not fit */
		static char buf[RG_LINE_MAX + 64];
		size_t len = (fz_byte(in) << 8 | fz_byte(in)) % sizeof(buf);

		len = fz_take(in, buf, len);
		rg_line_str(l, e->key, buf, len);
		fz_set(e, buf, len);
		break;
	}
	case 2: {
		uint64_t v = 0;
		char digits[24];

		fz_take(in, &v, sizeof(v));
		rg_line_u64(l, e->key, v);
		int len = sprintf(digits, "%llu", (unsigned long long)v);

		fz_set(e, digits, (size_t)len);
		e->number = true;
		break;
	}
	case 3:
	case 4: {
		static const sa_family_t families[] = { AF_UNIX, AF_INET, AF_INET6, AF_UNSPEC };
		struct rg_addr a;

		memset(&a, 0, sizeof(a));
		a.len = (socklen_t)(fz_byte(in) % (sizeof(a.u) + 1));
		fz_take(in, &a.u, sizeof(a.u));
		a.u.sa.sa_family = families[fz_byte(in) % 4];
		/* accept() and getpeername() give at least the whole address. */
		if (a.u.sa.sa_family == AF_INET && a.len < sizeof(a.u.in))
			a.len = sizeof(a.u.in);
		if (a.u.sa.sa_family == AF_INET6 && a.len < sizeof(a.u.in6))
			a.len = sizeof(a.u.in6);
		rg_line_addr(l, e->key, &a);
		fz_expect_addr(e, &a);
		break;
	}
	case 5: {
		int err = (int)(fz_byte(in) << 8 | fz_byte(in)) - 256;
		const char *name = strerrorname_np(err);

		rg_line_errno(l, err);
		e->key = l->format == RG_FMT_JOURNAL ? "errno_name" : "errno";
		fz_set(e, name ? name : "E?", strlen(name ? name : "E?"));
		break;
	}
	default:
		rg_line_time(l, e->key);
		e->any = true;
		break;
	}
	return l->len != before;
}

static bool fz_key_is(const struct fz_pair *p, const char *key, enum rg_format format)
{
	if (p->key_len != strlen(key))
		return false;
	for (size_t i = 0; i < p->key_len; i++) {
		char c = (char)(format == RG_FMT_JOURNAL && key[i] >= 'a' && key[i] <= 'z'
					? key[i] - 32
					: key[i]);

		if (p->key[i] != c)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rg_line l;
	static struct fz_record r;
	static struct fz_expect expect[FZ_PAIRS_MAX];
	struct fz_input in = { data, size };
	size_t n = 0;
	bool dropped = false;

	fz_arena_used = 0;
	/* Every record starts with its time (log.c's rg_render()), so the
	 * first field always fits: the builder does not promise a well-formed
	 * record when nothing went in. */
	rg_line_init(&l, (enum rg_format)(fz_byte(&in) % 3));
	rg_line_time(&l, "ts");
	expect[n++] = (struct fz_expect){ .key = "ts", .any = true };
	while (in.left > 0 && n < FZ_PAIRS_MAX) {
		if (fz_field(&l, &in, &expect[n]))
			n++;
		else
			dropped = true;
	}
	rg_line_finish(&l);
	fz_parse(&l, &r);
	if (dropped != l.cut)
		fz_fail(&l, "the cut flag does not say whether a field was left out");
	fz_check_cut(&l, &r);
	if (r.n != n + l.cut)
		fz_fail(&l, "not as many fields as went in");
	for (size_t i = 0; i < n; i++) {
		const struct fz_pair *p = &r.pair[i];
		const struct fz_expect *e = &expect[i];

		if (!fz_key_is(p, e->key, l.format))
			fz_fail(&l, "a key is not the one given");
		if (!e->any && (p->val_len != e->len || memcmp(p->val, e->val, e->len) != 0))
			fz_fail(&l, "a value does not read back as the one given");
		if (l.format == RG_FMT_JSON && p->quoted == e->number)
			fz_fail(&l, "a JSON number quoted, or a string not");
	}
	return 0;
}
