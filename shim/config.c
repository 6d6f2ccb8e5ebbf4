/* Reading the settings when the library loads: each one's default
 * (settings.def), then the config file, then the RESETGUARD_* environment,
 * each layer over the one before.  A malformed value never stops the
 * program: it gets one line on stderr naming the setting (and, in a file,
 * the file and line) and the value used instead.
 *
 * The file is read with the real open() and read(), into a buffer in
 * .bss: nothing is allocated, no descriptor is left open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "defaults.h"
#include "log.h"
#include "real.h"
#include "settings.h"

struct rg_config rg_config;

/* The file's text, and what became of reading it (0: read, or absent
 * where absence is normal). */
static char rg_conf_text[64 * 1024];
static size_t rg_conf_len;
static int rg_conf_error;
/* Where each setting's value came from: so that a refused value names
 * what is used instead. */
enum rg_layer { RG_FROM_DEFAULT, RG_FROM_FILE, RG_FROM_ENV };
static enum rg_layer rg_from[RG_N_SETTINGS];
/* The first pass only finds the scope: a program out of it must not hear
 * of a malformed setting. */
static bool rg_quiet;

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

void rg_log_bad_setting(const char *name, const char *value, const char *expected,
			const char *fallback)
{
	char why[160] = " is not ";

	strncat(why, expected, sizeof(why) - 20);
	strcat(why, "; using ");
	rg_log_complaint(name, value, why, fallback);
}

static void rg_config_set(const char *where, const struct rg_setting *s, const char *value,
			  enum rg_layer layer)
{
	const char *why = rg_setting_parse(s, value, &rg_config);

	if (!why) {
		rg_from[s - rg_settings] = layer;
		return;
	}
	if (!rg_quiet)
		rg_log_bad_setting(where, value, why,
				   rg_from[s - rg_settings] == RG_FROM_FILE
					   ? "the value from the config file"
					   : s->fallback[0]	  ? s->fallback
					   : s->kind == RG_K_NAME ? "the program's name"
								  : "none");
}

/* A path or a setting's name in a complaint, its bytes kept printable. */
static void rg_printable(char *buf, size_t size, const char *text, size_t len)
{
	size_t n = len < size - 1 ? len : size - 1;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)text[i] >= 0x20 && (unsigned char)text[i] < 0x7f)
			buf[i] = text[i];
		else
			buf[i] = '?';
	buf[n] = '\0';
}

static char *rg_trim(char *start, char *end)
{
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return start + strspn(start, " \t");
}

/* KEY=value, blanks around either ignored, the value in one pair of
 * quotes if it is quoted.  Complaints name the file and the line. */
static void rg_config_line(char *line, unsigned int number)
{
	char where[PATH_MAX + 128], path[PATH_MAX], name[96], *eq, *key, *value;
	const struct rg_setting *s;
	size_t len;

	line = rg_trim(line, line + strlen(line));
	if (line[0] == '\0' || line[0] == '#')
		return;
	rg_printable(path, sizeof(path), rg_config.conf_path, strlen(rg_config.conf_path));
	eq = strchr(line, '=');
	if (!eq) {
		snprintf(where, sizeof(where), "%s:%u", path, number);
		if (!rg_quiet)
			rg_log_complaint(where, NULL, ": not a KEY=value line", "; line ignored");
		return;
	}
	*eq = '\0';
	key = rg_trim(line, eq);
	value = rg_trim(eq + 1, eq + 1 + strlen(eq + 1));
	len = strlen(value);
	if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
		value[len - 1] = '\0';
		value++;
	}
	s = rg_setting_named(key, strlen(key));
	rg_printable(name, sizeof(name), key, strlen(key));
	snprintf(where, sizeof(where), "%s:%u: %s", path, number, name);
	if (!s || s == &rg_settings[RG_S_CONF]) {
		if (!rg_quiet)
			rg_log_complaint(where, NULL,
					 s ? ": only the environment can name the config file"
					   : ": not a setting",
					 "; line ignored");
		return;
	}
	rg_config_set(where, s, value, RG_FROM_FILE);
}

/* Line by line, on a copy: the text is parsed once per pass. */
static void rg_config_file(void)
{
	static char copy[sizeof(rg_conf_text)];
	unsigned int number = 0;

	memcpy(copy, rg_conf_text, rg_conf_len);
	copy[rg_conf_len] = '\0';
	for (char *line = copy, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (next || *line)
			rg_config_line(line, ++number);
	}
}

/* Only a file its owner alone can change, and that owner root or the user
 * running the program (root alone in a setuid or setgid program): a file
 * anyone else could edit would steer where the program writes. */
static int rg_conf_trusted(int fd, bool secure)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EINVAL;
	if ((st.st_uid != 0 && (secure || st.st_uid != getuid())) || (st.st_mode & 022))
		return EPERM;
	if ((size_t)st.st_size >= sizeof(rg_conf_text))
		return EFBIG;
	return 0;
}

static void rg_conf_read(const char *path, bool secure, bool named)
{
	int fd = rg_libc(open)(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	ssize_t n = 0;

	rg_conf_len = 0;
	rg_conf_error = 0;
	if (fd < 0) {
		/* No /etc/resetguard.conf is the normal case. */
		rg_conf_error = errno == ENOENT && !named ? 0 : errno;
		return;
	}
	rg_conf_error = rg_conf_trusted(fd, secure);
	while (!rg_conf_error && rg_conf_len < sizeof(rg_conf_text) - 1 &&
	       (n = rg_libc(read)(fd, rg_conf_text + rg_conf_len,
				  sizeof(rg_conf_text) - 1 - rg_conf_len)) != 0) {
		if (n < 0 && errno != EINTR)
			rg_conf_error = errno;
		else if (n > 0)
			rg_conf_len += (size_t)n;
	}
	if (!rg_conf_error && rg_conf_len >= sizeof(rg_conf_text) - 1)
		rg_conf_error = EFBIG;
	if (rg_conf_error)
		rg_conf_len = 0;
	rg_libc(close)(fd);
}

static void rg_conf_complain(void)
{
	char why[160];

	switch (rg_conf_error) {
	case 0:
		return;
	case EPERM:
		snprintf(why, sizeof(why), "%s",
			 " is not owned by root or the user, or is writable by group or others");
		break;
	case EFBIG:
		snprintf(why, sizeof(why), "%s", " is larger than 64 KiB");
		break;
	case EINVAL:
		snprintf(why, sizeof(why), "%s", " is not a regular file");
		break;
	default:
		snprintf(why, sizeof(why), " cannot be read (%s)", strerror(rg_conf_error));
	}
	rg_log_complaint(rg_settings[RG_S_CONF].name, rg_config.conf_path, why,
			 "; using the environment and defaults only");
}

/* Which file: RESETGUARD_CONF, except in a setuid or setgid program,
 * where only /etc/resetguard.conf counts. */
static void rg_conf_choose(void)
{
	const struct rg_setting *s = &rg_settings[RG_S_CONF];
	bool secure = getauxval(AT_SECURE) != 0;
	const char *named = secure_getenv(s->name);

	if (secure && getenv(s->name) && !rg_quiet)
		rg_log_complaint(s->name, getenv(s->name),
				 " is ignored in a setuid or setgid program; using ", s->fallback);
	if (named)
		rg_config_set(s->name, s, named, RG_FROM_ENV);
	if (!rg_quiet)
		return;
	rg_conf_read(rg_config.conf_path, secure, rg_from[RG_S_CONF] == RG_FROM_ENV);
}

static void rg_config_env(void)
{
	for (size_t i = 0; i < RG_N_SETTINGS; i++) {
		const char *value = secure_getenv(rg_settings[i].name);

		if (value && i != RG_S_CONF)
			rg_config_set(rg_settings[i].name, &rg_settings[i], value, RG_FROM_ENV);
	}
}

static void rg_config_layers(void)
{
	memset(rg_from, 0, sizeof(rg_from));
	rg_settings_defaults(&rg_config);
	rg_conf_choose();
	if (!rg_quiet)
		rg_conf_complain();
	rg_config_file();
	rg_config_env();
}

static bool rg_config_in_scope(const char *prog)
{
	const char *only = rg_config.only_cmds, *skip = rg_config.skip_cmds;

	return (!only || !*only || rg_cmds_match(only, prog)) && !(skip && rg_cmds_match(skip, prog));
}

/* Twice: quietly to find whether prog is in scope, then, if it is, with
 * every complaint. */
bool rg_config_load(const char *prog)
{
	rg_quiet = true;
	rg_config_layers();
	if (!rg_config_in_scope(prog))
		return false;
	rg_quiet = false;
	rg_config_layers();
	if (rg_from[RG_S_LOG] == RG_FROM_DEFAULT && rg_config_stderr_is_journal())
		rg_config.log = RG_LOG_JOURNAL;
	return true;
}

void rg_config_defaults(void)
{
	rg_settings_defaults(&rg_config);
}

bool rg_config_apply(const char *name, const char *value)
{
	const struct rg_setting *s = rg_setting_named(name, strlen(name));

	if (!s)
		return false;
	rg_config_set(name, s, value, RG_FROM_ENV);
	return true;
}

unsigned long rg_config_linger_cap(void)
{
	struct rlimit rl;
	unsigned long cap = (unsigned long)rg_config.linger_max;

	if (cap == 0)
		cap = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
			      ? (unsigned long)(rl.rlim_cur / 4)
			      : 256;
	if (cap < 1)
		cap = 1;
	return cap > RG_LINGER_SLOTS_MAX ? RG_LINGER_SLOTS_MAX : cap;
}
