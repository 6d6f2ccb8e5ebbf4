/* libFuzzer target: every RESETGUARD_* parser in shim/config.c.  The first
 * byte picks the variable, the rest (up to a NUL, as in an environment) is
 * its value.  Checked: the result is within the documented ranges; a value
 * is taken exactly when README's grammar for it says so; a rejected value
 * leaves the default and gives exactly one well-formed stderr line naming
 * the variable and the value. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shim/config.h"
#include "capture.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum fz_kind { FZ_WORD, FZ_DURATION, FZ_SIZE, FZ_COUNT, FZ_RATE, FZ_ABSOLUTE, FZ_LOG };

/* Marks the absolute path that may also be "off". */
static const int fz_off;

static const struct fz_setting {
	const char *name;
	enum fz_kind kind;
	const char *words; /* FZ_WORD: the accepted words, space-separated */
	const int *number; /* FZ_DURATION, FZ_COUNT: where it goes */
} fz_settings[] = {
	{ "RESETGUARD_SIGPIPE", FZ_WORD, "socket ignore off", NULL },
	{ "RESETGUARD_ERRORS", FZ_WORD, "reset all", NULL },
	{ "RESETGUARD_LOG_LEVEL", FZ_WORD, "warn info debug", NULL },
	{ "RESETGUARD_LINGER", FZ_WORD, "on off", NULL },
	{ "RESETGUARD_LINGER0", FZ_WORD, "convert honour", NULL },
	{ "RESETGUARD_LINGER_TIMEOUT", FZ_DURATION, NULL, &rg_config.linger_timeout_ms },
	{ "RESETGUARD_LINGER_TIME", FZ_DURATION, NULL, &rg_config.linger_time_ms },
	{ "RESETGUARD_LINGER_MAX", FZ_COUNT, NULL, &rg_config.linger_max },
	{ "RESETGUARD_LOG_FORMAT", FZ_WORD, "logfmt json", NULL },
	{ "RESETGUARD_SYSLOG_FACILITY", FZ_WORD,
	  "daemon kern user mail auth syslog lpr news uucp cron authpriv ftp "
	  "local0 local1 local2 local3 local4 local5 local6 local7", NULL },
	{ "RESETGUARD_SYSLOG_SOCKET", FZ_ABSOLUTE, NULL, NULL },
	{ "RESETGUARD_JOURNAL_SOCKET", FZ_ABSOLUTE, NULL, NULL },
	{ "RESETGUARD_LOG_RATE", FZ_RATE, NULL, NULL },
	{ "RESETGUARD_METRICS", FZ_ABSOLUTE, NULL, &fz_off }, /* off too */
	{ "RESETGUARD_METRICS_INTERVAL", FZ_DURATION, NULL, &rg_config.metrics_interval_ms },
	{ "RESETGUARD_LOG", FZ_LOG, NULL, NULL },
	/* Last, so that the corpus's first bytes keep naming the others. */
	{ "RESETGUARD_LINGER_BYTES", FZ_SIZE, NULL, NULL },
};
#define FZ_SETTINGS (sizeof(fz_settings) / sizeof(fz_settings[0]))

static void fz_fail_value(const char *name, const char *value, const char *why)
{
	fprintf(stderr, "fuzz check failed: %s=\"%s\": %s\n", name, value, why);
	abort();
}

/* Digits only, as many as there are, and their value if it fits. */
static size_t fz_digits(const char *s, unsigned long long *n)
{
	size_t i = 0;

	*n = 0;
	for (; s[i] >= '0' && s[i] <= '9'; i++)
		*n = *n > ULLONG_MAX / 100 ? ULLONG_MAX / 100 : *n * 10 + (unsigned)(s[i] - '0');
	return i;
}

static unsigned long long fz_number(const char *s)
{
	unsigned long long n;

	fz_digits(s, &n);
	return n;
}

/* resetguard(7): "a number, decimals allowed, followed by ms, s, m or h:
 * whole milliseconds from 1ms to 1h"; -1 when it is none. */
static long long fz_duration_ms(const char *value)
{
	static const struct {
		const char *unit;
		unsigned long long ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	unsigned long long whole, frac = 0, scale = 1;
	size_t len = fz_digits(value, &whole);

	if (len == 0)
		return -1;
	if (value[len] == '.') {
		size_t flen = fz_digits(value + len + 1, &frac);

		if (flen == 0 || flen > 9)
			return -1;
		for (size_t i = 0; i < flen; i++)
			scale *= 10;
		len += 1 + flen;
	}
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(value + len, units[i].unit) != 0)
			continue;
		if (whole > 3600000 || (frac * units[i].ms) % scale)
			return -1;
		unsigned long long ms = whole * units[i].ms + frac * units[i].ms / scale;
		return ms >= 1 && ms <= 3600000 ? (long long)ms : -1;
	}
	return -1;
}

/* README: "a size: 65536, 512KiB, 64MiB, 1GiB (at most 1 TiB); 0 for no
 * bound"; -1 when it is none. */
static long long fz_size(const char *value)
{
	static const char *const units[] = { "", "KiB", "MiB", "GiB" };
	unsigned long long n;
	size_t len = fz_digits(value, &n);

	if (len == 0)
		return -1;
	for (unsigned int i = 0; i < 4; i++)
		if (strcmp(value + len, units[i]) == 0)
			return n <= (1ull << 40) >> (10 * i) ? (long long)(n << (10 * i)) : -1;
	return -1;
}

static bool fz_is_word(const char *words, const char *value)
{
	size_t len = strlen(value);

	if (strchr(value, ' '))
		return false;
	for (const char *w = words; *w; w += strcspn(w, " "), w += *w == ' ')
		if (len > 0 && strncmp(w, value, len) == 0 && (w[len] == ' ' || w[len] == '\0'))
			return true;
	return false;
}

/* README: N, N/B or 0; N at most 1000000, B at most 10000000, a rate
 * needs a burst. */
static bool fz_rate_ok(const char *value)
{
	unsigned long long rate, burst;
	size_t len = fz_digits(value, &rate);

	if (len == 0)
		return false;
	burst = rate * 10;
	if (value[len] == '/') {
		size_t blen = fz_digits(value + len + 1, &burst);

		if (blen == 0)
			return false;
		len += 1 + blen;
	}
	return value[len] == '\0' && rate <= 1000000 && burst <= 10000000 && (rate == 0 || burst);
}

static bool fz_expect_ok(const struct fz_setting *s, const char *value)
{
	unsigned long long n;

	switch (s->kind) {
	case FZ_WORD:
		return fz_is_word(s->words, value);
	case FZ_DURATION:
		return fz_duration_ms(value) > 0;
	case FZ_SIZE:
		return fz_size(value) >= 0;
	case FZ_COUNT:
		if (strcmp(value, "auto") == 0)
			return true;
		return value[0] != '0' && fz_digits(value, &n) == strlen(value) && value[0] &&
		       n <= INT_MAX;
	case FZ_RATE:
		return fz_rate_ok(value);
	case FZ_ABSOLUTE:
		return value[0] == '/' || (s->number == &fz_off && strcmp(value, "off") == 0);
	case FZ_LOG:
		return value[0] != '\0';
	}
	return false;
}

static bool fz_config_is(const struct rg_config *a, const struct rg_config *b)
{
	return a->sigpipe == b->sigpipe && a->log == b->log && a->level == b->level &&
	       a->json == b->json && a->log_path == b->log_path &&
	       a->syslog_path == b->syslog_path && a->journal_path == b->journal_path &&
	       a->syslog_facility == b->syslog_facility && a->log_rate == b->log_rate &&
	       a->log_burst == b->log_burst && a->metrics_dir == b->metrics_dir &&
	       a->metrics_interval_ms == b->metrics_interval_ms &&
	       a->all_errors == b->all_errors && a->linger == b->linger &&
	       a->honour_linger0 == b->honour_linger0 &&
	       a->linger_timeout_ms == b->linger_timeout_ms &&
	       a->linger_time_ms == b->linger_time_ms && a->linger_bytes == b->linger_bytes &&
	       a->linger_max == b->linger_max;
}

static bool fz_ms_ok(int ms)
{
	return ms >= 1 && ms <= 3600000;
}

static bool fz_config_in_range(const struct rg_config *c)
{
	return c->sigpipe <= RG_SIGPIPE_OFF && c->log <= RG_LOG_OFF && c->level <= RG_LEVEL_DEBUG &&
	       (c->log != RG_LOG_FILE || (c->log_path && c->log_path[0])) &&
	       c->syslog_path[0] == '/' && c->journal_path[0] == '/' &&
	       c->syslog_facility >= 0 && c->syslog_facility <= 23 && c->log_rate >= 0 &&
	       c->log_rate <= 1000000 && c->log_burst >= 0 && c->log_burst <= 10000000 &&
	       (c->log_rate == 0 || c->log_burst > 0) &&
	       (!c->metrics_dir || c->metrics_dir[0] == '/') &&
	       fz_ms_ok(c->metrics_interval_ms) && fz_ms_ok(c->linger_timeout_ms) &&
	       fz_ms_ok(c->linger_time_ms) && c->linger_bytes <= 1ull << 40 && c->linger_max >= 0;
}

/* resetguard: NAME=value is not ...; using ...\n, the value decoding to
 * what was given; or, when it is too long for the line, left out with its
 * "=" and the line marked truncated. */
static void fz_check_complaint(const char *name, const char *value)
{
	static const char ends[2][20] = { "\n", " truncated=true\n" };
	const struct rg_line *l = &fz_captured.complaint;
	static char decoded[RG_LINE_MAX];
	char *out = decoded;
	char prefix[64];
	size_t pos = (size_t)snprintf(prefix, sizeof(prefix), "resetguard: %s", name);
	size_t end_len = strlen(ends[l->cut]);

	if (l->len > RG_LINE_MAX || l->len < end_len ||
	    memcmp(l->buf + l->len - end_len, ends[l->cut], end_len) != 0 ||
	    memchr(l->buf, '\n', l->len - 1))
		fz_fail(l, "complaint not one line ending in a newline (or truncated=true)");
	for (size_t i = 0; i + 1 < l->len; i++)
		if (l->buf[i] < 0x20 || l->buf[i] >= 0x7f)
			fz_fail(l, "complaint with a control or non-ASCII byte");
	if (l->len < pos || memcmp(l->buf, prefix, pos) != 0)
		fz_fail(l, "complaint does not start with resetguard: NAME");
	if (l->cut) {
		if (l->len - pos < 8 || memcmp(l->buf + pos, " is not ", 8) != 0)
			fz_fail(l, "a value too long for the line not left out whole");
		return;
	}
	if (l->buf[pos++] != '=')
		fz_fail(l, "complaint does not start with resetguard: NAME=");
	fz_logfmt_value(l, &pos, &out);
	if ((size_t)(out - decoded) != strlen(value) || memcmp(decoded, value, strlen(value)) != 0)
		fz_fail(l, "the value in the complaint is not the value given");
	if (l->len - pos < 8 || memcmp(l->buf + pos, " is not ", 8) != 0)
		fz_fail(l, "complaint value not followed by \" is not \"");
	if (!memmem(l->buf + pos, l->len - pos, "; using ", 8))
		fz_fail(l, "complaint without the value used instead");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rg_config defaults;
	static bool saved;

	if (!saved) {
		rg_config_defaults();
		defaults = rg_config;
		saved = true;
	}
	if (size == 0)
		return 0;

	const struct fz_setting *s = &fz_settings[data[0] % FZ_SETTINGS];
	char *value = strndup((const char *)data + 1, size - 1);

	if (!value)
		return 0;
	rg_config = defaults;
	fz_captured.complaints = 0;
	if (!rg_config_apply(s->name, value))
		fz_fail_value(s->name, value, "not a setting rg_config_apply() knows");
	if (!fz_config_in_range(&rg_config))
		fz_fail_value(s->name, value, "configuration out of its documented range");
	if (fz_captured.complaints > 1)
		fz_fail_value(s->name, value, "more than one line on stderr");
	if (fz_expect_ok(s, value) != (fz_captured.complaints == 0))
		fz_fail_value(s->name, value,
			      fz_captured.complaints ? "a valid value was rejected"
						     : "an invalid value was taken");
	if (fz_captured.complaints) {
		if (!fz_config_is(&rg_config, &defaults))
			fz_fail_value(s->name, value, "a rejected value changed the configuration");
		fz_check_complaint(s->name, value);
	} else if (s->kind == FZ_DURATION && *s->number != fz_duration_ms(value)) {
		fz_fail_value(s->name, value, "the duration taken is not the one given");
	} else if (s->kind == FZ_SIZE && rg_config.linger_bytes != (unsigned long long)fz_size(value)) {
		fz_fail_value(s->name, value, "the size taken is not the one given");
	} else if (s->kind == FZ_COUNT && (unsigned long long)*s->number !=
						   (strcmp(value, "auto") ? fz_number(value) : 0)) {
		fz_fail_value(s->name, value, "the number taken is not the one given");
	}
	free(value);
	return 0;
}
