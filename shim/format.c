/* The record builder.  Each field is appended whole or not at all, so a
 * record cut for length is still well-formed; values a peer or a program
 * controls (Unix socket paths, program names) are escaped so that no value
 * can forge a key, a field or a line, in any of the three renderings, and
 * every record is valid UTF-8: text in UTF-8 passes through, other bytes
 * are shown as \xNN. */
#include <string.h>
#include <time.h>

#include "format.h"

/* Room kept for the longest ending, JSON's. */
static const char *const rg_truncated[] = {
	[RG_FMT_LOGFMT] = " truncated=true\n",
	[RG_FMT_JSON] = ",\"truncated\":true}\n",
	[RG_FMT_JOURNAL] = "TRUNCATED=true\n",
};
#define RG_LINE_ROOM (RG_LINE_MAX - sizeof(",\"truncated\":true}\n"))

static const char rg_hex[] = "0123456789abcdef";

void rg_line_init(struct rg_line *l, enum rg_format format)
{
	l->len = 0;
	l->cut = false;
	l->format = format;
}

/* Append n bytes at *pos if they fit. */
static bool rg_put(struct rg_line *l, size_t *pos, const char *s, size_t n)
{
	if (*pos + n > RG_LINE_ROOM)
		return false;
	memcpy(l->buf + *pos, s, n);
	*pos += n;
	return true;
}

/* Escapes logfmt readers and JSON share: \" \\ \n \r \t, \u00XX for the
 * other control characters (C0, DEL and C1, which terminals act on) and
 * \u2028 \u2029 (line breaks to JavaScript and some viewers). */
static bool rg_put_escape(struct rg_line *l, size_t *pos, uint32_t cp)
{
	char esc[6] = { '\\', 'u', rg_hex[cp >> 12 & 15], rg_hex[cp >> 8 & 15],
			rg_hex[cp >> 4 & 15], rg_hex[cp & 15] };

	switch (cp) {
	case '"':
	case '\\':
		esc[1] = (char)cp;
		return rg_put(l, pos, esc, 2);
	case '\n':
		return rg_put(l, pos, "\\n", 2);
	case '\r':
		return rg_put(l, pos, "\\r", 2);
	case '\t':
		return rg_put(l, pos, "\\t", 2);
	}
	return rg_put(l, pos, esc, 6);
}

static bool rg_needs_escape(uint32_t cp)
{
	return cp < 0x20 || cp == '"' || cp == '\\' || (cp >= 0x7f && cp < 0xa0) ||
	       cp == 0x2028 || cp == 0x2029;
}

/* The length of the well-formed UTF-8 sequence (RFC 3629) at s, of at most
 * n bytes, and its code point; 0 when s does not start one: a stray
 * continuation byte, an overlong form, a surrogate, a code point above
 * U+10FFFF, a sequence cut short. */
static size_t rg_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len = s[0] < 0x80 ? 1 : s[0] < 0xc0 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf8 ? 4 : 0;

	if (len == 0 || len > n)
		return 0;
	*cp = len == 1 ? s[0] : s[0] & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if (*cp < least[len] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp < 0xe000))
		return 0;
	return len;
}

/* A byte that is not part of well-formed UTF-8 becomes the visible text
 * \xNN (escaped once more for the format: "\\xNN" in JSON and logfmt), so
 * the record stays valid UTF-8 and a reader still sees which byte it was;
 * a backslash of the value's own that a reader could take for the start
 * of such a text is written \x5c.  The rule to undo it, after the
 * format's own decoding: \xNN is the byte NN, every other backslash is
 * itself (resetguard(7), "Text in records"). */
static bool rg_put_byte_text(struct rg_line *l, size_t *pos, unsigned char c)
{
	char text[6] = { '\\', '\\', 'x', rg_hex[c >> 4], rg_hex[c & 15] };

	return rg_put(l, pos, text, 5);
}

/* Well-formed UTF-8 goes in as it is, but for the escapes above. */
static bool rg_put_escaped(struct rg_line *l, size_t *pos, const char *val, size_t len)
{
	const unsigned char *s = (const unsigned char *)val;

	for (size_t i = 0, n; i < len; i += n) {
		uint32_t cp;

		n = rg_utf8(s + i, len - i, &cp);
		if (n == 0) {
			n = 1;
			if (!rg_put_byte_text(l, pos, s[i]))
				return false;
		} else if (cp == '\\' && i + 1 < len && s[i + 1] == 'x') {
			if (!rg_put_byte_text(l, pos, '\\'))
				return false;
		} else if (!(rg_needs_escape(cp) ? rg_put_escape(l, pos, cp)
						 : rg_put(l, pos, val + i, n))) {
			return false;
		}
	}
	return true;
}

static bool rg_needs_quotes(const char *val, size_t len)
{
	if (len == 0)
		return true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)val[i];

		if (c <= ' ' || c >= 0x7f || c == '=' || c == '"' || c == '\\')
			return true;
	}
	return false;
}

/* A value as the format wants it: logfmt quotes only when it must, JSON
 * always quotes strings and never numbers, journald takes the escaped text
 * bare (its simple form must not contain a newline, and cannot). */
static bool rg_put_value_as(struct rg_line *l, size_t *pos, const char *val, size_t len,
			    bool number)
{
	bool special = rg_needs_quotes(val, len);
	bool quote = l->format == RG_FMT_JSON ? !number : l->format == RG_FMT_LOGFMT && special;

	if (!quote && !special)
		return rg_put(l, pos, val, len);
	return (!quote || rg_put(l, pos, "\"", 1)) && rg_put_escaped(l, pos, val, len) &&
	       (!quote || rg_put(l, pos, "\"", 1));
}

static bool rg_put_value(struct rg_line *l, size_t *pos, const char *val, size_t len)
{
	return rg_put_value_as(l, pos, val, len, false);
}

/* The key with what goes before and after it in each format. */
static bool rg_put_key(struct rg_line *l, size_t *pos, const char *key)
{
	size_t n = strlen(key);

	switch (l->format) {
	case RG_FMT_JSON:
		return rg_put(l, pos, *pos == 0 ? "{\"" : ",\"", 2) && rg_put(l, pos, key, n) &&
		       rg_put(l, pos, "\":", 2);
	case RG_FMT_JOURNAL: {
		char upper[32];

		if (n >= sizeof(upper))
			return false;
		for (size_t i = 0; i < n; i++)
			upper[i] = (char)(key[i] >= 'a' && key[i] <= 'z' ? key[i] - 32 : key[i]);
		return rg_put(l, pos, upper, n) && rg_put(l, pos, "=", 1);
	}
	default:
		return (*pos == 0 || rg_put(l, pos, " ", 1)) && rg_put(l, pos, key, n) &&
		       rg_put(l, pos, "=", 1);
	}
}

static void rg_line_field(struct rg_line *l, const char *key, const char *val, size_t len,
			  bool number)
{
	size_t pos = l->len;
	bool ok = rg_put_key(l, &pos, key) && rg_put_value_as(l, &pos, val, len, number) &&
		  (l->format != RG_FMT_JOURNAL || rg_put(l, &pos, "\n", 1));

	if (ok)
		l->len = pos;
	else
		l->cut = true;
}

void rg_line_raw(struct rg_line *l, const char *text)
{
	size_t pos = l->len;

	if (rg_put(l, &pos, text, strlen(text)))
		l->len = pos;
	else
		l->cut = true;
}

void rg_line_value(struct rg_line *l, const char *val, size_t len)
{
	size_t pos = l->len;

	if (rg_put_value(l, &pos, val, len))
		l->len = pos;
	else
		l->cut = true;
}

void rg_line_str(struct rg_line *l, const char *key, const char *val, size_t len)
{
	rg_line_field(l, key, val, len, false);
}

void rg_line_cstr(struct rg_line *l, const char *key, const char *val)
{
	rg_line_str(l, key, val, strlen(val));
}

/* Decimal digits of v, right-aligned in a buffer ending at end. */
static char *rg_utoa(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

void rg_line_u64(struct rg_line *l, const char *key, uint64_t val)
{
	char digits[20];
	char *end = digits + sizeof(digits);
	char *start = rg_utoa(val, end);

	rg_line_field(l, key, start, (size_t)(end - start), true);
}

static void rg_put_2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* gmtime_r is not async-signal-safe in glibc (it takes the tz lock): turn
 * days since 1970 into a civil date with Howard Hinnant's algorithm. */
static void rg_civil(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*day = doy - (153 * mp + 2) / 5 + 1;
	*month = mp < 10 ? mp + 3 : mp - 9;
	*year = (int64_t)yoe + era * 400 + (*month <= 2);
}

void rg_format_time(char out[RG_TIME_LEN + 1])
{
	struct timespec ts;
	int64_t year;
	unsigned month, day;

	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t secs = ts.tv_sec;
	int64_t days = secs / 86400 - (secs % 86400 < 0);
	unsigned sod = (unsigned)(secs - days * 86400);
	unsigned usec = (unsigned)(ts.tv_nsec / 1000);

	rg_civil(days, &year, &month, &day);
	memcpy(out, "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", RG_TIME_LEN + 1);
	rg_put_2(out, (unsigned)(year / 100));
	rg_put_2(out + 2, (unsigned)(year % 100));
	rg_put_2(out + 5, month);
	rg_put_2(out + 8, day);
	rg_put_2(out + 11, sod / 3600);
	rg_put_2(out + 14, sod / 60 % 60);
	rg_put_2(out + 17, sod % 60);
	rg_put_2(out + 20, usec / 10000);
	rg_put_2(out + 22, usec / 100 % 100);
	rg_put_2(out + 24, usec % 100);
}

/* The local time as glibc's syslog() writes it ("%h %e %T" in the C
 * locale): English month, day padded with a space, no year.  The zone's
 * offset is given, as reading it (localtime_r) takes a lock. */
void rg_format_syslog_time(char out[RG_SYSLOG_TIME_LEN + 1], int64_t offset_s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct timespec ts;
	int64_t year;
	unsigned month, day;

	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t secs = ts.tv_sec + offset_s;
	int64_t days = secs / 86400 - (secs % 86400 < 0);
	unsigned sod = (unsigned)(secs - days * 86400);

	rg_civil(days, &year, &month, &day);
	memcpy(out, "Mmm dd hh:mm:ss", RG_SYSLOG_TIME_LEN + 1);
	memcpy(out, months + 3 * (size_t)(month - 1), 3);
	rg_put_2(out + 4, day);
	if (day < 10)
		out[4] = ' ';
	rg_put_2(out + 7, sod / 3600);
	rg_put_2(out + 10, sod / 60 % 60);
	rg_put_2(out + 13, sod % 60);
}

void rg_line_time(struct rg_line *l, const char *key)
{
	char out[RG_TIME_LEN + 1];

	rg_format_time(out);
	rg_line_str(l, key, out, RG_TIME_LEN);
}

static char *rg_fmt_ipv4(char *p, const unsigned char *b)
{
	for (int i = 0; i < 4; i++) {
		char digits[3];
		char *end = digits + sizeof(digits);
		char *start = rg_utoa(b[i], end);

		if (i)
			*p++ = '.';
		memcpy(p, start, (size_t)(end - start));
		p += end - start;
	}
	return p;
}

/* RFC 5952: lower-case hex, no leading zeros, the longest run of two or
 * more zero groups as "::", IPv4-mapped addresses in dotted form. */
static char *rg_fmt_ipv6(char *p, const unsigned char *b)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned groups[8];
	int best = -1, best_len = 1;

	if (memcmp(b, mapped, sizeof(mapped)) == 0) {
		memcpy(p, "::ffff:", 7);
		return rg_fmt_ipv4(p + 7, b + 12);
	}
	for (int i = 0; i < 8; i++)
		groups[i] = (unsigned)b[2 * (size_t)i] << 8 | b[2 * (size_t)i + 1];
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && groups[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			*p++ = ':';
			if (i == 0)
				*p++ = ':';
			i += best_len - 1;
			continue;
		}
		int shift = 12;

		while (shift > 0 && !(groups[i] >> shift))
			shift -= 4;
		for (; shift >= 0; shift -= 4)
			*p++ = rg_hex[groups[i] >> shift & 15];
		if (i < 7)
			*p++ = ':';
	}
	return p;
}

static char *rg_fmt_port(char *p, uint16_t port_be)
{
	char digits[5];
	char *end = digits + sizeof(digits);
	char *start = rg_utoa(ntohs(port_be), end);

	*p++ = ':';
	memcpy(p, start, (size_t)(end - start));
	return p + (end - start);
}

/* unix:/path, unix:@abstract (the leading NUL shown as @), unix:unnamed. */
static char *rg_fmt_unix(char *p, const struct rg_addr *a)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t n = a->len > off ? a->len - off : 0;
	const char *path = a->u.un.sun_path;

	memcpy(p, "unix:", 5);
	p += 5;
	if (n == 0) {
		memcpy(p, "unnamed", 7);
		return p + 7;
	}
	if (path[0] == '\0') {
		*p++ = '@';
		path++;
		n--;
	} else {
		n = strnlen(path, n); /* pathnames may carry a trailing NUL */
	}
	memcpy(p, path, n);
	return p + n;
}

void rg_ip_peer_of(const struct sockaddr *sa, socklen_t len, struct rg_ip_peer *p)
{
	*p = (struct rg_ip_peer){ .family = AF_UNSPEC };
	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memcpy(p->addr, &in->sin_addr, sizeof(in->sin_addr));
		p->port = in->sin_port;
		p->family = AF_INET;
	} else if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(p->addr, &in6->sin6_addr, sizeof(in6->sin6_addr));
		p->scope_id = in6->sin6_scope_id;
		p->port = in6->sin6_port;
		p->family = AF_INET6;
	}
}

void rg_ip_peer_addr(const struct rg_ip_peer *p, struct rg_addr *a)
{
	memset(a, 0, sizeof(*a));
	switch (p->family) {
	case AF_INET:
		a->len = sizeof(a->u.in);
		a->u.in.sin_family = AF_INET;
		a->u.in.sin_port = p->port;
		memcpy(&a->u.in.sin_addr, p->addr, sizeof(a->u.in.sin_addr));
		break;
	case AF_INET6:
		a->len = sizeof(a->u.in6);
		a->u.in6.sin6_family = AF_INET6;
		a->u.in6.sin6_port = p->port;
		a->u.in6.sin6_scope_id = p->scope_id;
		memcpy(&a->u.in6.sin6_addr, p->addr, sizeof(a->u.in6.sin6_addr));
		break;
	default:
		break;
	}
}

void rg_line_addr(struct rg_line *l, const char *key, const struct rg_addr *a)
{
	char text[sizeof(a->u.un.sun_path) + 16];
	char *p = text;

	switch (a->len ? a->u.sa.sa_family : AF_UNSPEC) {
	case AF_INET:
		p = rg_fmt_port(rg_fmt_ipv4(p, (const unsigned char *)&a->u.in.sin_addr),
				a->u.in.sin_port);
		break;
	case AF_INET6:
		*p++ = '[';
		p = rg_fmt_ipv6(p, a->u.in6.sin6_addr.s6_addr);
		*p++ = ']';
		p = rg_fmt_port(p, a->u.in6.sin6_port);
		break;
	case AF_UNIX:
		p = rg_fmt_unix(p, a);
		break;
	default:
		memcpy(p, "unknown", 7);
		p += 7;
	}
	rg_line_str(l, key, text, (size_t)(p - text));
}

void rg_line_errno(struct rg_line *l, int err)
{
	const char *name = strerrorname_np(err);

	rg_line_cstr(l, l->format == RG_FMT_JOURNAL ? "errno_name" : "errno", name ? name : "E?");
}

void rg_line_finish(struct rg_line *l)
{
	static const char *const ends[] = {
		[RG_FMT_LOGFMT] = "\n",
		[RG_FMT_JSON] = "}\n",
		[RG_FMT_JOURNAL] = "",
	};
	const char *tail = l->cut ? rg_truncated[l->format] : ends[l->format];
	size_t n = strlen(tail);

	memcpy(l->buf + l->len, tail, n);
	l->len += n;
}
