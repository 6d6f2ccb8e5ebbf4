/* Reading the RESETGUARD_* environment.  A malformed value never stops the
 * program: it gets one line on stderr naming the variable and the value
 * used instead. */
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "defaults.h"
#include "log.h"

struct rg_config rg_config = {
	.sigpipe = RG_SIGPIPE_SOCKET,
	.log = RG_LOG_STDERR,
	.syslog_path = RG_SYSLOG_SOCKET_DEFAULT,
	.journal_path = RG_JOURNAL_SOCKET_DEFAULT,
	.syslog_facility = 3, /* daemon */
	.log_rate = 20,
	.log_burst = 200,
	.metrics_interval_ms = 15000,
	.linger = true,
	.linger_timeout_ms = 2000,
	.linger_time_ms = 30000,
	.linger_bytes = 64ull << 20,
};

struct rg_choice {
	const char *word;
	int value;
};

/* The first choice is the default. */
static int rg_config_choice(const char *name, const char *value,
			    const struct rg_choice *choices, const char *expected)
{
	if (!value)
		return choices[0].value;
	for (const struct rg_choice *c = choices; c->word; c++)
		if (strcmp(value, c->word) == 0)
			return c->value;
	rg_log_bad_setting(name, value, expected, choices[0].word);
	return choices[0].value;
}

/* Settings that name something are copied when the library loads, never
 * pointed to: programs rewrite their environment and argv for their
 * process titles (nginx, postgres, sendmail), and a path read later would
 * be a piece of a title.  False when the value does not fit: cut short, it
 * would name something else. */
static bool rg_config_keep(char *buf, size_t cap, const char *value)
{
	size_t len = strlen(value);

	if (len >= cap)
		return false;
	memcpy(buf, value, len + 1);
	return true;
}

static char rg_log_path[PATH_MAX], rg_syslog_path[PATH_MAX], rg_journal_path[PATH_MAX],
	rg_metrics_dir[PATH_MAX];

/* Under systemd, stderr is a stream to journald, and $JOURNAL_STREAM
 * names it as "device:inode" (systemd.exec(5)). */
bool rg_config_stderr_is_journal(void)
{
	const char *stream = secure_getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static void rg_config_log_dest(const char *name, const char *value)
{
	static const struct rg_choice words[] = {
		{ "stderr", RG_LOG_STDERR }, { "syslog", RG_LOG_SYSLOG },
		{ "journal", RG_LOG_JOURNAL }, { "off", RG_LOG_OFF },
		{ NULL, 0 },
	};

	if (!value) {
		if (rg_config_stderr_is_journal())
			rg_config.log = RG_LOG_JOURNAL;
		return;
	}
	for (const struct rg_choice *c = words; c->word; c++)
		if (strcmp(value, c->word) == 0) {
			rg_config.log = (enum rg_log_dest)c->value;
			return;
		}
	if (value[0] == '\0') {
		rg_log_bad_setting(name, value, "stderr, syslog, journal, off or a file path",
				   "stderr");
	} else if (!rg_config_keep(rg_log_path, sizeof(rg_log_path), value)) {
		rg_log_bad_setting(name, value,
				   "stderr, syslog, journal, off or a path shorter than PATH_MAX",
				   "stderr");
	} else {
		rg_config.log = RG_LOG_FILE;
		rg_config.log_path = rg_log_path;
	}
}

/* "N" lines per second with a burst of 10 N, or "N/B"; "0" for no limit. */
static void rg_config_rate(const char *name, const char *value)
{
	unsigned long rate, burst;
	char *end;

	if (!value)
		return;
	rate = strtoul(value, &end, 10);
	burst = rate * 10;
	/* strtoul() would take "", " 5" or "+5" as a burst */
	if (end != value && *end == '/' && end[1] >= '0' && end[1] <= '9')
		burst = strtoul(end + 1, &end, 10);
	if (end == value || *end || value[0] < '0' || value[0] > '9' || rate > 1000000 ||
	    burst > 10000000 || (rate && !burst)) {
		rg_log_bad_setting(name, value,
				   "lines per second, optionally /burst (e.g. 20 or 20/200), or 0",
				   "20/200");
		return;
	}
	rg_config.log_rate = (int)rate;
	rg_config.log_burst = (int)burst;
}

static void rg_config_path(const char *name, const char *value, const char **path, char *buf)
{
	if (value && value[0] == '/' && rg_config_keep(buf, PATH_MAX, value))
		*path = buf;
	else if (value)
		rg_log_bad_setting(name, value, "an absolute path shorter than PATH_MAX", *path);
}

/* A duration: digits followed by "ms" or "s", at most an hour. */
static int rg_parse_ms(const char *value)
{
	char *end;
	unsigned long n = strtoul(value, &end, 10);

	/* strtoul() would skip any blank, not just a space, and take a sign */
	if (end == value || value[0] < '0' || value[0] > '9')
		return -1;
	if (strcmp(end, "s") == 0 && n <= 3600)
		return (int)n * 1000;
	if (strcmp(end, "ms") == 0 && n <= 3600000)
		return (int)n;
	return -1;
}

static void rg_config_duration(const char *name, const char *value, int *ms,
			       const char *fallback)
{
	int parsed;

	if (!value)
		return;
	parsed = rg_parse_ms(value);
	if (parsed > 0)
		*ms = parsed;
	else
		rg_log_bad_setting(name, value, "a duration such as 500ms or 2s (at most 1h)",
				   fallback);
}

/* A size: digits, optionally followed by KiB, MiB or GiB, at most 1 TiB;
 * 0 too, when zero means something. */
static bool rg_parse_bytes(const char *value, unsigned long long *bytes)
{
	static const struct {
		const char *unit;
		unsigned int shift;
	} units[] = { { "", 0 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 } };
	char *end;
	unsigned long long n = strtoull(value, &end, 10);

	/* strtoull() would skip any blank, not just a space, and take a sign */
	if (end == value || value[0] < '0' || value[0] > '9')
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0 && n <= (1ull << 40) >> units[i].shift) {
			*bytes = n << units[i].shift;
			return true;
		}
	return false;
}

static void rg_config_count(const char *name, const char *value, int *count,
			    const char *fallback)
{
	char *end;
	unsigned long n;

	if (!value)
		return;
	n = strtoul(value, &end, 10);
	if (end != value && *end == '\0' && value[0] >= '1' && value[0] <= '9' && n <= INT_MAX)
		*count = (int)n;
	else
		rg_log_bad_setting(name, value, "a whole number from 1", fallback);
}

static void rg_config_sigpipe(const char *name, const char *value)
{
	static const struct rg_choice words[] = {
		{ "socket", RG_SIGPIPE_SOCKET },
		{ "ignore", RG_SIGPIPE_IGNORE },
		{ "off", RG_SIGPIPE_OFF },
		{ NULL, 0 },
	};

	rg_config.sigpipe = (enum rg_sigpipe_mode)rg_config_choice(name, value, words,
								   "socket, ignore or off");
}

static void rg_config_errors(const char *name, const char *value)
{
	static const struct rg_choice words[] = {
		{ "reset", 0 },
		{ "all", 1 },
		{ NULL, 0 },
	};

	rg_config.all_errors = rg_config_choice(name, value, words, "reset or all");
}

static void rg_config_level(const char *name, const char *value)
{
	static const struct rg_choice words[] = {
		{ "warn", RG_LEVEL_WARN },
		{ "info", RG_LEVEL_INFO },
		{ "debug", RG_LEVEL_DEBUG },
		{ NULL, 0 },
	};

	rg_config.level = (enum rg_log_level)rg_config_choice(name, value, words,
							      "warn, info or debug");
}

static void rg_config_linger(const char *name, const char *value)
{
	static const struct rg_choice words[] = {
		{ "on", 1 },
		{ "off", 0 },
		{ NULL, 0 },
	};

	rg_config.linger = rg_config_choice(name, value, words, "on or off");
}

static void rg_config_linger0(const char *name, const char *value)
{
	static const struct rg_choice words[] = {
		{ "convert", 0 },
		{ "honour", 1 },
		{ NULL, 0 },
	};

	rg_config.honour_linger0 = rg_config_choice(name, value, words, "convert or honour");
}

static void rg_config_linger_timeout(const char *name, const char *value)
{
	rg_config_duration(name, value, &rg_config.linger_timeout_ms, "2s");
}

static void rg_config_linger_time(const char *name, const char *value)
{
	rg_config_duration(name, value, &rg_config.linger_time_ms, "30s");
}

static void rg_config_linger_bytes(const char *name, const char *value)
{
	if (value && !rg_parse_bytes(value, &rg_config.linger_bytes))
		rg_log_bad_setting(name, value,
				   "a size such as 65536, 512KiB or 64MiB (at most 1 TiB), or 0 for no bound",
				   "64MiB");
}

static void rg_config_linger_max(const char *name, const char *value)
{
	rg_config_count(name, value, &rg_config.linger_max, "a quarter of the descriptor limit");
}

static void rg_config_format(const char *name, const char *value)
{
	static const struct rg_choice words[] = {
		{ "logfmt", 0 },
		{ "json", 1 },
		{ NULL, 0 },
	};

	rg_config.json = rg_config_choice(name, value, words, "logfmt or json");
}

static void rg_config_facility(const char *name, const char *value)
{
	static const struct rg_choice words[] = {
		{ "daemon", 3 },  { "kern", 0 },   { "user", 1 },	 { "mail", 2 },
		{ "auth", 4 },	  { "syslog", 5 }, { "lpr", 6 },	 { "news", 7 },
		{ "uucp", 8 },	  { "cron", 9 },   { "authpriv", 10 }, { "ftp", 11 },
		{ "local0", 16 }, { "local1", 17 }, { "local2", 18 },	 { "local3", 19 },
		{ "local4", 20 }, { "local5", 21 }, { "local6", 22 },	 { "local7", 23 },
		{ NULL, 0 },
	};

	rg_config.syslog_facility = rg_config_choice(
		name, value, words, "a syslog facility: daemon, user, local0..local7...");
}

static void rg_config_syslog_socket(const char *name, const char *value)
{
	rg_config_path(name, value, &rg_config.syslog_path, rg_syslog_path);
}

/* The traditional local form is what /dev/log receivers parse by default
 * (rsyslog's imuxsock, journald); RFC 5424 is for a receiver configured
 * for it. */
static void rg_config_syslog_format(const char *name, const char *value)
{
	static const struct rg_choice words[] = {
		{ "local", 0 },
		{ "rfc5424", 1 },
		{ NULL, 0 },
	};

	rg_config.syslog_rfc5424 = rg_config_choice(name, value, words, "local or rfc5424");
}

static void rg_config_journal_socket(const char *name, const char *value)
{
	rg_config_path(name, value, &rg_config.journal_path, rg_journal_path);
}

static void rg_config_metrics(const char *name, const char *value)
{
	rg_config.metrics_dir = NULL;
	if (!value)
		return;
	if (value[0] == '/' && rg_config_keep(rg_metrics_dir, sizeof(rg_metrics_dir), value))
		rg_config.metrics_dir = rg_metrics_dir;
	else
		rg_log_bad_setting(name, value, "an absolute directory path", "no metrics file");
}

static void rg_config_metrics_interval(const char *name, const char *value)
{
	rg_config_duration(name, value, &rg_config.metrics_interval_ms, "15s");
}

/* In the order they are read, which is the order of their complaints;
 * the syslog socket and format first, as a complaint goes there when
 * stderr is a socket (sink.c); RESETGUARD_LOG last, as it alone looks at another
 * variable. */
static const struct {
	const char *name;
	void (*parse)(const char *name, const char *value);
} rg_settings[] = {
	{ "RESETGUARD_SYSLOG_SOCKET", rg_config_syslog_socket },
	{ "RESETGUARD_SYSLOG_FORMAT", rg_config_syslog_format },
	{ "RESETGUARD_SIGPIPE", rg_config_sigpipe },
	{ "RESETGUARD_ERRORS", rg_config_errors },
	{ "RESETGUARD_LOG_LEVEL", rg_config_level },
	{ "RESETGUARD_LINGER", rg_config_linger },
	{ "RESETGUARD_LINGER0", rg_config_linger0 },
	{ "RESETGUARD_LINGER_TIMEOUT", rg_config_linger_timeout },
	{ "RESETGUARD_LINGER_TIME", rg_config_linger_time },
	{ "RESETGUARD_LINGER_BYTES", rg_config_linger_bytes },
	{ "RESETGUARD_LINGER_MAX", rg_config_linger_max },
	{ "RESETGUARD_LOG_FORMAT", rg_config_format },
	{ "RESETGUARD_SYSLOG_FACILITY", rg_config_facility },
	{ "RESETGUARD_JOURNAL_SOCKET", rg_config_journal_socket },
	{ "RESETGUARD_LOG_RATE", rg_config_rate },
	{ "RESETGUARD_METRICS", rg_config_metrics },
	{ "RESETGUARD_METRICS_INTERVAL", rg_config_metrics_interval },
	{ "RESETGUARD_LOG", rg_config_log_dest },
};

bool rg_config_apply(const char *name, const char *value)
{
	for (size_t i = 0; i < sizeof(rg_settings) / sizeof(rg_settings[0]); i++)
		if (strcmp(name, rg_settings[i].name) == 0) {
			rg_settings[i].parse(name, value);
			return true;
		}
	return false;
}

/* secure_getenv: a setuid program must not be steered into writing a file
 * of the caller's choosing (the loader drops LD_PRELOAD for those anyway,
 * unless the library is installed as a trusted one). */
void rg_config_load(void)
{
	for (size_t i = 0; i < sizeof(rg_settings) / sizeof(rg_settings[0]); i++)
		rg_settings[i].parse(rg_settings[i].name, secure_getenv(rg_settings[i].name));
}
