/* See check.h.  The grammar is the one format.c promises: logfmt keys are
 * lower case, values bare when they need no quotes (printable ASCII), else
 * quoted; in quotes well-formed UTF-8 as it is, but the escapes \" \\ \n
 * \r \t and \uXXXX for the other control characters (C0, DEL, C1) and
 * U+2028, U+2029; JSON the same escapes, numbers without leading zeros;
 * journald KEY=value lines.  Under the format's escapes, a byte of the
 * value that is not UTF-8 is the text \xNN, and so is a backslash of the
 * value's own followed by x (\x5c); every other backslash is itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

void fz_fail(const struct rg_line *l, const char *why)
{
	static const char *const names[] = { "logfmt", "json", "journal" };

	fprintf(stderr, "fuzz check failed (%s, len %zu, cut %d): %s\n", names[l->format],
		l->len, l->cut, why);
	fwrite(l->buf, 1, l->len < RG_LINE_MAX ? l->len : RG_LINE_MAX, stderr);
	fputc('\n', stderr);
	abort();
}

static int fz_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The code point of the well-formed UTF-8 sequence at b[*pos], moving
 * *pos past it; -1 for anything else. */
static long fz_utf8(const struct rg_line *l, size_t *pos)
{
	const unsigned char *b = (const unsigned char *)l->buf;
	unsigned char c = b[*pos];
	size_t n = (c & 0x80) == 0 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
		 : (c & 0xf8) == 0xf0 ? 4 : 0;
	long cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;

	if (n == 0 || *pos + n > l->len)
		return -1;
	for (size_t i = 1; i < n; i++) {
		if ((b[*pos + i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (b[*pos + i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*pos += n;
	return cp;
}

/* Code points that must be written as \uXXXX. */
static bool fz_escaped_only(long cp)
{
	return (cp < 0x20 && cp != '\n' && cp != '\r' && cp != '\t') || (cp >= 0x7f && cp < 0xa0) ||
	       cp == 0x2028 || cp == 0x2029;
}

static void fz_put_utf8(long cp, char **out)
{
	unsigned char *o = (unsigned char *)*out;

	if (cp < 0x80) {
		*o++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*o++ = (unsigned char)(0xc0 | cp >> 6);
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (unsigned char)(0xe0 | cp >> 12);
		*o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*out = (char *)o;
}

/* One escape after a backslash at *pos, decoded onto *out.  Only the
 * shortest form is accepted: \uXXXX for a character that has a short
 * escape or may be written as it is would mean the writer chose wrong. */
static void fz_escape(const struct rg_line *l, size_t *pos, char **out)
{
	const char *b = l->buf;
	char c = (char)(*pos < l->len ? b[(*pos)++] : '\0');
	long cp = 0;

	switch (c) {
	case '"':
	case '\\':
		*(*out)++ = c;
		return;
	case 'n':
		*(*out)++ = '\n';
		return;
	case 'r':
		*(*out)++ = '\r';
		return;
	case 't':
		*(*out)++ = '\t';
		return;
	case 'u':
		if (*pos + 4 > l->len)
			fz_fail(l, "\\u escape cut short");
		for (int i = 0; i < 4; i++) {
			int h = fz_hex(b[(*pos)++]);

			if (h < 0)
				fz_fail(l, "\\u escape with a bad hex digit");
			cp = cp << 4 | h;
		}
		if (!fz_escaped_only(cp))
			fz_fail(l, "\\u escape of a character that has a shorter form");
		fz_put_utf8(cp, out);
		return;
	}
	fz_fail(l, "unknown escape");
}

/* One character of a quoted string or a journald value at *pos, decoded
 * onto *out. */
static void fz_char(const struct rg_line *l, size_t *pos, char **out)
{
	size_t start = *pos;
	long cp;

	if (l->buf[*pos] == '\\') {
		(*pos)++;
		fz_escape(l, pos, out);
		return;
	}
	cp = fz_utf8(l, pos);
	if (cp < 0)
		fz_fail(l, "a byte that is not well-formed UTF-8");
	if (cp == '"' || fz_escaped_only(cp) || cp == '\n' || cp == '\r' || cp == '\t')
		fz_fail(l, "a character that must be escaped, as it is");
	memcpy(*out, l->buf + start, *pos - start);
	*out += *pos - start;
}

/* The value decoded from the format, in [start, *out), with its \xNN
 * texts turned back into the bytes they stand for. */
static void fz_byte_texts(const struct rg_line *l, char *start, char **out)
{
	char *r = start, *w = start;

	while (r < *out) {
		if (r[0] != '\\' || *out - r < 2 || r[1] != 'x') {
			*w++ = *r++;
			continue;
		}
		int hi = *out - r >= 4 ? fz_hex(r[2]) : -1, lo = *out - r >= 4 ? fz_hex(r[3]) : -1;

		if (hi < 0 || lo < 0)
			fz_fail(l, "\\x not followed by two hex digits");
		*w++ = (char)(hi << 4 | lo);
		r += 4;
	}
	*out = w;
}

/* A quoted string at *pos (on its opening quote), decoded onto *out. */
static void fz_quoted(const struct rg_line *l, size_t *pos, char **out)
{
	char *start = *out;

	(*pos)++;
	for (;;) {
		if (*pos >= l->len)
			fz_fail(l, "unterminated string");
		if (l->buf[*pos] == '"')
			break;
		fz_char(l, pos, out);
	}
	(*pos)++;
	fz_byte_texts(l, start, out);
}

static bool fz_bare_char(char c)
{
	return c > ' ' && c < 0x7f && c != '=' && c != '"' && c != '\\';
}

void fz_logfmt_value(const struct rg_line *l, size_t *pos, char **out)
{
	size_t start = *pos;

	if (*pos < l->len && l->buf[*pos] == '"') {
		fz_quoted(l, pos, out);
		return;
	}
	while (*pos < l->len && fz_bare_char(l->buf[*pos]))
		*(*out)++ = l->buf[(*pos)++];
	if (*pos == start)
		fz_fail(l, "empty bare value");
}

static struct fz_pair *fz_new_pair(const struct rg_line *l, struct fz_record *r, size_t key,
				   size_t key_len)
{
	struct fz_pair *p;

	if (r->n == FZ_PAIRS_MAX)
		fz_fail(l, "more pairs than a line can hold");
	if (key_len == 0)
		fz_fail(l, "empty key");
	p = &r->pair[r->n++];
	p->key = l->buf + key;
	p->key_len = key_len;
	return p;
}

static size_t fz_key(const struct rg_line *l, size_t pos, bool upper)
{
	size_t end = pos;

	while (end < l->len && ((upper ? l->buf[end] >= 'A' && l->buf[end] <= 'Z'
				       : l->buf[end] >= 'a' && l->buf[end] <= 'z') ||
				(l->buf[end] >= '0' && l->buf[end] <= '9') || l->buf[end] == '_'))
		end++;
	return end - pos;
}

static void fz_parse_logfmt(const struct rg_line *l, struct fz_record *r, char *out)
{
	size_t pos = 0;

	while (pos < l->len - 1) {
		if (pos > 0 && l->buf[pos++] != ' ')
			fz_fail(l, "pairs not separated by one space");
		size_t key_len = fz_key(l, pos, false);
		struct fz_pair *p = fz_new_pair(l, r, pos, key_len);

		pos += key_len;
		if (pos >= l->len || l->buf[pos++] != '=')
			fz_fail(l, "key without =");
		p->val = out;
		p->quoted = pos < l->len && l->buf[pos] == '"';
		fz_logfmt_value(l, &pos, &out);
		p->val_len = (size_t)(out - p->val);
	}
	if (pos != l->len - 1)
		fz_fail(l, "the line does not end after its last value");
}

static void fz_json_number(const struct rg_line *l, size_t *pos, char **out)
{
	size_t start = *pos;

	while (*pos < l->len && l->buf[*pos] >= '0' && l->buf[*pos] <= '9')
		*(*out)++ = l->buf[(*pos)++];
	if (*pos == start)
		fz_fail(l, "JSON value is neither string, number nor true");
	if (l->buf[start] == '0' && *pos - start > 1)
		fz_fail(l, "JSON number with a leading zero");
}

static void fz_parse_json(const struct rg_line *l, struct fz_record *r, char *out)
{
	size_t pos = 1;

	if (l->len < 3 || l->buf[0] != '{' || memcmp(l->buf + l->len - 2, "}\n", 2) != 0)
		fz_fail(l, "not one object followed by a newline");
	while (pos < l->len - 2) {
		if (pos > 1 && l->buf[pos++] != ',')
			fz_fail(l, "members not separated by a comma");
		if (l->buf[pos++] != '"')
			fz_fail(l, "member name not a string");
		size_t key_len = fz_key(l, pos, false);
		struct fz_pair *p = fz_new_pair(l, r, pos, key_len);

		pos += key_len;
		if (pos + 2 > l->len || memcmp(l->buf + pos, "\":", 2) != 0)
			fz_fail(l, "member name not followed by \":");
		pos += 2;
		p->val = out;
		p->quoted = l->buf[pos] == '"';
		if (p->quoted) {
			fz_quoted(l, &pos, &out);
		} else if (l->len - pos >= 4 && memcmp(l->buf + pos, "true", 4) == 0) {
			memcpy(out, "true", 4);
			out += 4;
			pos += 4;
		} else {
			fz_json_number(l, &pos, &out);
		}
		p->val_len = (size_t)(out - p->val);
	}
	if (pos != l->len - 2)
		fz_fail(l, "the object does not end after its last member");
}

/* journald: KEY=value\n, keys of upper case letters, digits and _ not
 * starting with _ or a digit, at most 64 long; values in the simple form
 * (no newline), here UTF-8 with the logfmt escapes, bare. */
static void fz_parse_journal(const struct rg_line *l, struct fz_record *r, char *out)
{
	size_t pos = 0;

	while (pos < l->len) {
		size_t key_len = fz_key(l, pos, true);
		struct fz_pair *p = fz_new_pair(l, r, pos, key_len);

		if (key_len > 64 || l->buf[pos] == '_' || (l->buf[pos] >= '0' && l->buf[pos] <= '9'))
			fz_fail(l, "invalid journald field name");
		pos += key_len;
		if (pos >= l->len || l->buf[pos++] != '=')
			fz_fail(l, "field name without =");
		p->val = out;
		p->quoted = false;
		while (pos < l->len && l->buf[pos] != '\n')
			fz_char(l, &pos, &out);
		if (pos >= l->len)
			fz_fail(l, "field not ended by a newline");
		pos++;
		fz_byte_texts(l, (char *)p->val, &out);
		p->val_len = (size_t)(out - p->val);
	}
}

void fz_parse(const struct rg_line *l, struct fz_record *r)
{
	r->n = 0;
	if (l->len > RG_LINE_MAX)
		fz_fail(l, "longer than RG_LINE_MAX");
	if (l->format != RG_FMT_JOURNAL &&
	    (l->len == 0 || l->buf[l->len - 1] != '\n' || memchr(l->buf, '\n', l->len - 1)))
		fz_fail(l, "not exactly one newline, at the end");
	switch (l->format) {
	case RG_FMT_LOGFMT:
		fz_parse_logfmt(l, r, r->text);
		break;
	case RG_FMT_JSON:
		fz_parse_json(l, r, r->text);
		break;
	case RG_FMT_JOURNAL:
		fz_parse_journal(l, r, r->text);
		break;
	}
}

bool fz_pair_is(const struct fz_pair *p, const char *key, const char *val, size_t len)
{
	return p->key_len == strlen(key) && memcmp(p->key, key, p->key_len) == 0 &&
	       p->val_len == len && memcmp(p->val, val, len) == 0;
}

void fz_check_cut(const struct rg_line *l, const struct fz_record *r)
{
	static const char *const keys[] = { "truncated", "truncated", "TRUNCATED" };
	bool marked = r->n > 0 && fz_pair_is(&r->pair[r->n - 1], keys[l->format], "true", 4) &&
		      !r->pair[r->n - 1].quoted;

	if (marked != l->cut)
		fz_fail(l, l->cut ? "a field was left out but the record does not say so"
				  : "marked truncated though nothing was left out");
}
