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
#include "log.h"

struct rg_config rg_config = {
	.sigpipe = RG_SIGPIPE_SOCKET,
	.log = RG_LOG_STDERR,
	.syslog_path = "/dev/log",
	.journal_path = "/run/systemd/journal/socket",
	.syslog_facility = 3, /* daemon */
	.log_rate = 20,
	.log_burst = 200,
	.metrics_interval_ms = 15000,
	.linger = true,
	.linger_timeout_ms = 2000,
	.linger_time_ms = 30000,
};

struct rg_choice {
	const char *word;
	int value;
};

/* The first choice is the default.  secure_getenv: a setuid program must
 * not be steered into writing a file of the caller's choosing (the loader
 * drops LD_PRELOAD for those anyway, unless the library is installed as a
 * trusted one). */
static int rg_config_choice(const char *name, const struct rg_choice *choices,
			    const char *expected)
{
	const char *value = secure_getenv(name);

	if (!value)
		return choices[0].value;
	for (const struct rg_choice *c = choices; c->word; c++)
		if (strcmp(value, c->word) == 0)
			return c->value;
	rg_log_bad_setting(name, value, expected, choices[0].word);
	return choices[0].value;
}

/* Under systemd, stderr is a stream to journald, and $JOURNAL_STREAM
 * names it as "device:inode" (systemd.exec(5)): log to journald directly. */
static bool rg_stderr_is_journal(void)
{
	const char *stream = secure_getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static void rg_config_log_dest(void)
{
	static const struct rg_choice words[] = {
		{ "stderr", RG_LOG_STDERR }, { "syslog", RG_LOG_SYSLOG },
		{ "journal", RG_LOG_JOURNAL }, { "off", RG_LOG_OFF },
		{ NULL, 0 },
	};
	const char *value = secure_getenv("RESETGUARD_LOG");

	if (!value) {
		if (rg_stderr_is_journal())
			rg_config.log = RG_LOG_JOURNAL;
		return;
	}
	for (const struct rg_choice *c = words; c->word; c++)
		if (strcmp(value, c->word) == 0) {
			rg_config.log = (enum rg_log_dest)c->value;
			return;
		}
	if (value[0] == '\0') {
		rg_log_bad_setting("RESETGUARD_LOG", value,
				   "stderr, syslog, journal, off or a file path", "stderr");
	} else {
		rg_config.log = RG_LOG_FILE;
		rg_config.log_path = value;
	}
}

/* "N" lines per second with a burst of 10 N, or "N/B"; "0" for no limit. */
static void rg_config_rate(void)
{
	const char *value = secure_getenv("RESETGUARD_LOG_RATE");
	unsigned long rate, burst;
	char *end;

	if (!value)
		return;
	rate = strtoul(value, &end, 10);
	burst = rate * 10;
	if (end != value && *end == '/')
		burst = strtoul(end + 1, &end, 10);
	if (end == value || *end || value[0] < '0' || value[0] > '9' || rate > 1000000 ||
	    burst > 10000000 || (rate && !burst)) {
		rg_log_bad_setting("RESETGUARD_LOG_RATE", value,
				   "lines per second, optionally /burst (e.g. 20 or 20/200), or 0",
				   "20/200");
		return;
	}
	rg_config.log_rate = (int)rate;
	rg_config.log_burst = (int)burst;
}

static void rg_config_path(const char *name, const char **path)
{
	const char *value = secure_getenv(name);

	if (value && value[0] == '/')
		*path = value;
	else if (value)
		rg_log_bad_setting(name, value, "an absolute path", *path);
}

/* A duration: digits followed by "ms" or "s", at most an hour. */
static int rg_parse_ms(const char *value)
{
	char *end;
	unsigned long n = strtoul(value, &end, 10);

	if (end == value || value[0] == '-' || value[0] == '+' || value[0] == ' ')
		return -1;
	if (strcmp(end, "s") == 0 && n <= 3600)
		return (int)n * 1000;
	if (strcmp(end, "ms") == 0 && n <= 3600000)
		return (int)n;
	return -1;
}

static void rg_config_duration(const char *name, int *ms, const char *fallback)
{
	const char *value = secure_getenv(name);
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

static void rg_config_count(const char *name, int *count, const char *fallback)
{
	const char *value = secure_getenv(name);
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

void rg_config_load(void)
{
	static const struct rg_choice sigpipe[] = {
		{ "socket", RG_SIGPIPE_SOCKET },
		{ "ignore", RG_SIGPIPE_IGNORE },
		{ "off", RG_SIGPIPE_OFF },
		{ NULL, 0 },
	};
	static const struct rg_choice errors[] = {
		{ "reset", 0 },
		{ "all", 1 },
		{ NULL, 0 },
	};

	rg_config.sigpipe = (enum rg_sigpipe_mode)rg_config_choice(
		"RESETGUARD_SIGPIPE", sigpipe, "socket, ignore or off");
	static const struct rg_choice levels[] = {
		{ "warn", RG_LEVEL_WARN },
		{ "info", RG_LEVEL_INFO },
		{ "debug", RG_LEVEL_DEBUG },
		{ NULL, 0 },
	};
	static const struct rg_choice on_off[] = {
		{ "on", 1 },
		{ "off", 0 },
		{ NULL, 0 },
	};
	static const struct rg_choice linger0[] = {
		{ "convert", 0 },
		{ "honour", 1 },
		{ NULL, 0 },
	};

	rg_config.all_errors = rg_config_choice("RESETGUARD_ERRORS", errors, "reset or all");
	rg_config.level = (enum rg_log_level)rg_config_choice("RESETGUARD_LOG_LEVEL", levels,
							      "warn, info or debug");
	rg_config.linger = rg_config_choice("RESETGUARD_LINGER", on_off, "on or off");
	rg_config.honour_linger0 = rg_config_choice("RESETGUARD_LINGER0", linger0,
						    "convert or honour");
	rg_config_duration("RESETGUARD_LINGER_TIMEOUT", &rg_config.linger_timeout_ms, "2s");
	rg_config_duration("RESETGUARD_LINGER_TIME", &rg_config.linger_time_ms, "30s");
	rg_config_count("RESETGUARD_LINGER_MAX", &rg_config.linger_max,
			"a quarter of the descriptor limit");

	static const struct rg_choice formats[] = {
		{ "logfmt", 0 },
		{ "json", 1 },
		{ NULL, 0 },
	};
	static const struct rg_choice facilities[] = {
		{ "daemon", 3 },  { "kern", 0 },   { "user", 1 },	 { "mail", 2 },
		{ "auth", 4 },	  { "syslog", 5 }, { "lpr", 6 },	 { "news", 7 },
		{ "uucp", 8 },	  { "cron", 9 },   { "authpriv", 10 }, { "ftp", 11 },
		{ "local0", 16 }, { "local1", 17 }, { "local2", 18 },	 { "local3", 19 },
		{ "local4", 20 }, { "local5", 21 }, { "local6", 22 },	 { "local7", 23 },
		{ NULL, 0 },
	};

	rg_config.json = rg_config_choice("RESETGUARD_LOG_FORMAT", formats, "logfmt or json");
	rg_config.syslog_facility = rg_config_choice("RESETGUARD_SYSLOG_FACILITY", facilities,
						     "a syslog facility: daemon, user, local0..local7...");
	rg_config_path("RESETGUARD_SYSLOG_SOCKET", &rg_config.syslog_path);
	rg_config_path("RESETGUARD_JOURNAL_SOCKET", &rg_config.journal_path);
	rg_config_rate();
	rg_config.metrics_dir = secure_getenv("RESETGUARD_METRICS");
	if (rg_config.metrics_dir && rg_config.metrics_dir[0] != '/') {
		rg_log_bad_setting("RESETGUARD_METRICS", rg_config.metrics_dir,
				   "an absolute directory path", "no metrics file");
		rg_config.metrics_dir = NULL;
	}
	rg_config_duration("RESETGUARD_METRICS_INTERVAL", &rg_config.metrics_interval_ms, "15s");
	rg_config_log_dest();
}
