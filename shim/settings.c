/* The settings' parsers: a value in, a field of a struct rg_config out, or
 * the reason it was refused.  Nothing here logs, allocates or keeps a
 * descriptor: the command links this file too, and checks an option with
 * the very function the library reads the variable with. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "defaults.h"
#include "settings.h"

const struct rg_setting rg_settings[RG_N_SETTINGS] = {
#define RG_SETTING(NAME, OPTION, ARG, KIND, FIELD, WORDS, DEFAULT, HELP)                   \
	{ "RESETGUARD_" #NAME, OPTION, ARG, RG_K_##KIND, offsetof(struct rg_config, FIELD), \
	  sizeof(((struct rg_config *)0)->FIELD), WORDS, DEFAULT, HELP },
#include "settings.def"
#undef RG_SETTING
};

/* Settings that name something are copied, never pointed to: programs
 * rewrite their environment and argv for their process titles (nginx,
 * postgres, sendmail), and a path read later would be a piece of a title.
 * One buffer per setting; pages never written cost no memory. */
static char rg_copies[RG_N_SETTINGS][PATH_MAX];

static const char *rg_keep(const struct rg_setting *s, const char *value)
{
	char *buf = rg_copies[s - rg_settings];
	size_t len = strlen(value);

	if (value == s->fallback) /* a string of the library's own */
		return value;
	if (len >= PATH_MAX)
		return NULL;
	memcpy(buf, value, len + 1);
	return buf;
}

static void rg_store(const struct rg_setting *s, struct rg_config *c, unsigned long long v)
{
	char *field = (char *)c + s->offset;

	if (s->size == sizeof(unsigned char)) {
		unsigned char b = (unsigned char)v;
		memcpy(field, &b, sizeof(b));
	} else if (s->size == sizeof(unsigned int)) {
		unsigned int u = (unsigned int)v;
		memcpy(field, &u, sizeof(u));
	} else {
		memcpy(field, &v, sizeof(v));
	}
}

unsigned long long rg_setting_get(const struct rg_setting *s, const struct rg_config *c)
{
	const char *field = (const char *)c + s->offset;
	unsigned char b;
	unsigned int u;
	unsigned long long v;

	if (s->size == sizeof(b)) {
		memcpy(&b, field, sizeof(b));
		return b;
	}
	if (s->size == sizeof(u)) {
		memcpy(&u, field, sizeof(u));
		return u;
	}
	memcpy(&v, field, sizeof(v));
	return v;
}

static void rg_store_str(const struct rg_setting *s, struct rg_config *c, const char *v)
{
	memcpy((char *)c + s->offset, &v, sizeof(v));
}

const char *rg_setting_word(const struct rg_setting *s, unsigned long long i, char *buf,
			    size_t size)
{
	const char *w = s->words;

	for (; i && *w; i--)
		w += strcspn(w, " "), w += *w == ' ';
	snprintf(buf, size, "%.*s", (int)strcspn(w, " "), w);
	return buf;
}

/* "a, b or c" from "a b c". */
static const char *rg_word_list(const char *words)
{
	static char list[256];
	size_t n = 0, len = strlen(words);

	for (const char *w = words; *w && n + len + 8 < sizeof(list);) {
		size_t wl = strcspn(w, " ");

		memcpy(list + n, w, wl);
		n += wl;
		w += wl;
		w += *w == ' ';
		if (*w)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s",
					      strchr(w, ' ') ? ", " : " or ");
	}
	list[n] = '\0';
	return list;
}

static const char *rg_parse_word(const struct rg_setting *s, const char *value,
				 struct rg_config *c)
{
	size_t len = strlen(value);
	unsigned long long i = 0;

	for (const char *w = s->words; *w; i++) {
		size_t wl = strcspn(w, " ");

		if (len && wl == len && strncmp(w, value, len) == 0) {
			rg_store(s, c, i);
			return NULL;
		}
		w += wl;
		w += *w == ' ';
	}
	return rg_word_list(s->words);
}

/* Digits and nothing else before *end; false past max (no overflow). */
static bool rg_digits(const char **p, unsigned long long max, unsigned long long *n)
{
	const char *start = *p;

	for (*n = 0; **p >= '0' && **p <= '9'; (*p)++) {
		*n = *n * 10 + (unsigned)(**p - '0');
		if (*n > max)
			return false;
	}
	return *p > start;
}

/* A duration: a number, decimals allowed, and its unit; whole
 * milliseconds from 1ms to an hour. */
static const char *rg_parse_duration(const struct rg_setting *s, const char *value,
				     struct rg_config *c)
{
	static const struct {
		const char *unit;
		unsigned long long ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	static const char why[] = "a duration from 1ms to 1h, such as 500ms, 1.5s or 2m";
	const char *p = value;
	unsigned long long whole, frac = 0, scale = 1;

	if (!rg_digits(&p, 3600000, &whole))
		return why;
	if (*p == '.') {
		const char *f = ++p;

		if (!rg_digits(&p, 999999999, &frac) || p - f > 9)
			return why;
		for (; f < p; f++)
			scale *= 10;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		unsigned long long ms;

		if (strcmp(p, units[i].unit) != 0)
			continue;
		if (whole > 3600000 / units[i].ms || (frac * units[i].ms) % scale)
			return why;
		ms = whole * units[i].ms + frac * units[i].ms / scale;
		if (ms < 1 || ms > 3600000)
			return why;
		rg_store(s, c, ms);
		return NULL;
	}
	return why;
}

/* A size: digits, optionally followed by KiB, MiB or GiB, at most 1 TiB;
 * 0 for no bound. */
static const char *rg_parse_size(const struct rg_setting *s, const char *value,
				 struct rg_config *c)
{
	static const struct {
		const char *unit;
		unsigned int shift;
	} units[] = { { "", 0 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 } };
	const char *p = value;
	unsigned long long n;

	if (rg_digits(&p, 1ull << 40, &n))
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(p, units[i].unit) == 0 && n <= (1ull << 40) >> units[i].shift) {
				rg_store(s, c, n << units[i].shift);
				return NULL;
			}
	return "a size such as 65536, 512KiB or 64MiB (at most 1 TiB), or 0 for no bound";
}

static const char *rg_parse_count(const struct rg_setting *s, const char *value,
				  struct rg_config *c)
{
	const char *p = value;
	unsigned long long n = 0;

	if (strcmp(value, "auto") == 0 ||
	    (value[0] != '0' && rg_digits(&p, INT_MAX, &n) && *p == '\0')) {
		rg_store(s, c, n);
		return NULL;
	}
	return "a whole number from 1, or auto";
}

/* "N" lines per second with a burst of 10 N, or "N/B"; "0" for no limit. */
static const char *rg_parse_rate(const char *value, struct rg_config *c)
{
	const char *p = value;
	unsigned long long rate, burst;

	if (rg_digits(&p, 1000000, &rate)) {
		burst = rate * 10;
		if (*p == '/' && (++p, !rg_digits(&p, 10000000, &burst)))
			p = "x";
		if (*p == '\0' && burst <= 10000000 && (rate == 0 || burst)) {
			c->log_rate = (int)rate;
			c->log_burst = (int)burst;
			return NULL;
		}
	}
	return "lines per second, optionally /burst (e.g. 20 or 20/200), or 0";
}

static const char *const rg_facilities[24] = {
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", [16] = "local0", "local1", "local2",
	"local3", "local4", "local5", "local6", "local7",
};

const char *rg_facility_name(int facility)
{
	return facility >= 0 && facility < 24 && rg_facilities[facility] ? rg_facilities[facility]
									   : "?";
}

static const char *rg_parse_facility(const char *value, struct rg_config *c)
{
	for (int i = 0; i < 24; i++)
		if (rg_facilities[i] && strcmp(value, rg_facilities[i]) == 0) {
			c->syslog_facility = i;
			return NULL;
		}
	return "a syslog facility: daemon, user, local0..local7...";
}

static const char *rg_parse_path(const struct rg_setting *s, const char *value,
				 struct rg_config *c)
{
	const char *kept;

	if (s->kind == RG_K_DIR && strcmp(value, "off") == 0) {
		rg_store_str(s, c, NULL);
		return NULL;
	}
	if (value[0] == '/' && (kept = rg_keep(s, value))) {
		rg_store_str(s, c, kept);
		return NULL;
	}
	return s->kind == RG_K_DIR ? "an absolute directory path, or off"
				   : "an absolute path shorter than PATH_MAX";
}

static const char *rg_parse_cmds(const struct rg_setting *s, const char *value,
				 struct rg_config *c)
{
	const char *kept = rg_keep(s, value);

	if (!kept)
		return "program names, comma-separated, shorter than PATH_MAX";
	rg_store_str(s, c, kept);
	return NULL;
}

static const char *rg_parse_name(const struct rg_setting *s, const char *value,
				 struct rg_config *c)
{
	size_t len = strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789._-");

	if (!*value) { /* the default: the program's name */
		rg_store_str(s, c, NULL);
		return NULL;
	}
	if (len > 63 || value[len] != '\0')
		return "a name of 1 to 63 letters, digits, '.', '_' or '-'";
	rg_store_str(s, c, rg_keep(s, value));
	return NULL;
}

static const char *rg_parse_log(const struct rg_setting *s, const char *value,
				struct rg_config *c)
{
	static const char *const words[] = {
		[RG_LOG_STDERR] = "stderr", [RG_LOG_SYSLOG] = "syslog",
		[RG_LOG_JOURNAL] = "journal", [RG_LOG_OFF] = "off",
	};
	const char *kept;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (words[i] && strcmp(value, words[i]) == 0) {
			c->log = (enum rg_log_dest)i;
			return NULL;
		}
	if (value[0] == '\0')
		return "stderr, syslog, journal, off or a file path";
	if (!(kept = rg_keep(s, value)))
		return "stderr, syslog, journal, off or a path shorter than PATH_MAX";
	c->log = RG_LOG_FILE;
	c->log_path = kept;
	return NULL;
}

static const char *rg_parse_number(const struct rg_setting *s, const char *value,
				   struct rg_config *c)
{
	const char *p = value;
	unsigned long long n = 0;

	if (strcmp(value, "off") == 0 ||
	    (value[0] != '0' && rg_digits(&p, 65535, &n) && *p == '\0')) {
		rg_store(s, c, n);
		return NULL;
	}
	return "a whole number from 1 to 65535, or off";
}

/* Whole seconds, optionally with s, m or h, up to max seconds; *p moves
 * past them.  The kernel takes keepalive times in seconds only. */
static bool rg_seconds(const char **p, unsigned long long max, int *out)
{
	unsigned long long n, unit = 1;

	if (**p == '0' || !rg_digits(p, max, &n))
		return false;
	if (**p == 's' || **p == 'm' || **p == 'h') {
		unit = **p == 's' ? 1 : **p == 'm' ? 60 : 3600;
		(*p)++;
	}
	if (n > max / unit)
		return false;
	*out = (int)(n * unit);
	return true;
}

/* "off", or IDLE[,INTERVAL[,COUNT]]: the kernel's bounds (TCP_KEEPIDLE
 * and TCP_KEEPINTVL up to 32767 s, TCP_KEEPCNT up to 127); what is left
 * out stays the system's (net.ipv4.tcp_keepalive_intvl, _probes). */
static const char *rg_parse_keepalive(const char *value, struct rg_config *c)
{
	const char *p = value;
	int idle = 0, interval = 0;
	unsigned long long count = 0;
	bool ok = strcmp(value, "off") == 0;

	if (!ok && rg_seconds(&p, 32767, &idle)) {
		if (*p == ',' && (++p, !rg_seconds(&p, 32767, &interval)))
			p = "x";
		if (*p == ',' && (++p, *p == '0' || !rg_digits(&p, 127, &count)))
			p = "x";
		ok = *p == '\0';
	}
	if (!ok)
		return "off, or IDLE[,INTERVAL[,COUNT]] in seconds (or with s, m, h) up to "
		       "32767 s and a count up to 127, e.g. 60,10,5";
	c->keepalive_idle = idle;
	c->keepalive_interval = interval;
	c->keepalive_count = (int)count;
	return NULL;
}

const char *rg_setting_parse(const struct rg_setting *s, const char *value,
			     struct rg_config *c)
{
	switch (s->kind) {
	case RG_K_WORD:
		return rg_parse_word(s, value, c);
	case RG_K_DURATION:
		return rg_parse_duration(s, value, c);
	case RG_K_SIZE:
		return rg_parse_size(s, value, c);
	case RG_K_COUNT:
		return rg_parse_count(s, value, c);
	case RG_K_RATE:
		return rg_parse_rate(value, c);
	case RG_K_FACILITY:
		return rg_parse_facility(value, c);
	case RG_K_PATH:
	case RG_K_DIR:
	case RG_K_CONF:
		return rg_parse_path(s, value, c);
	case RG_K_CMDS:
		return rg_parse_cmds(s, value, c);
	case RG_K_NAME:
		return rg_parse_name(s, value, c);
	case RG_K_LOG:
		return rg_parse_log(s, value, c);
	case RG_K_NUMBER:
		return rg_parse_number(s, value, c);
	case RG_K_KEEPALIVE:
		return rg_parse_keepalive(value, c);
	}
	return "a known kind of value";
}

const struct rg_setting *rg_setting_named(const char *name, size_t len)
{
	for (size_t i = 0; i < RG_N_SETTINGS; i++)
		if (strlen(rg_settings[i].name) == len && memcmp(rg_settings[i].name, name, len) == 0)
			return &rg_settings[i];
	return NULL;
}

void rg_settings_defaults(struct rg_config *c)
{
	for (size_t i = 0; i < RG_N_SETTINGS; i++)
		rg_setting_parse(&rg_settings[i], rg_settings[i].fallback, c);
}

bool rg_cmds_match(const char *list, const char *name)
{
	size_t len = strlen(name);

	while (list && *list) {
		size_t n;

		list += strspn(list, " \t,");
		n = strcspn(list, ",");
		while (n && (list[n - 1] == ' ' || list[n - 1] == '\t'))
			n--;
		if (n && n == len && memcmp(list, name, len) == 0)
			return true;
		list += strcspn(list, ",");
	}
	return false;
}
