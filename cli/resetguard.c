/* resetguard [OPTIONS] [--] COMMAND [ARGS...]: run COMMAND with
 * libresetguard.so preloaded, after any library LD_PRELOAD already names,
 * and exit with its status.  Each option sets the RESETGUARD_* variable the
 * library reads, after checking its value; like env(1) and stdbuf(1), 125
 * is for resetguard's own errors, 126 when COMMAND cannot be run, 127 when
 * it cannot be found. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* What each option may take, checked before anything runs, so that a
 * typo fails here with 125 instead of as a warning in the program. */
enum value_kind { V_NONE, V_WORD, V_DURATION, V_SIZE, V_COUNT, V_RATE, V_PATH, V_DIR };

struct setting {
	const char *option;
	const char *variable;
	enum value_kind kind;
	const char *words; /* V_WORD: the allowed values, space-separated */
	const char *fixed; /* V_NONE: the value the option sets */
};

static const struct setting settings[] = {
	{ "log", "RESETGUARD_LOG", V_PATH, NULL, NULL },
	{ "format", "RESETGUARD_LOG_FORMAT", V_WORD, "logfmt json", NULL },
	{ "level", "RESETGUARD_LOG_LEVEL", V_WORD, "warn info debug", NULL },
	{ "rate", "RESETGUARD_LOG_RATE", V_RATE, NULL, NULL },
	{ "syslog-facility", "RESETGUARD_SYSLOG_FACILITY", V_WORD,
	  "daemon kern user mail auth syslog lpr news uucp cron authpriv ftp local0 local1 "
	  "local2 local3 local4 local5 local6 local7",
	  NULL },
	{ "sigpipe", "RESETGUARD_SIGPIPE", V_WORD, "socket ignore off", NULL },
	{ "errors", "RESETGUARD_ERRORS", V_WORD, "reset all", NULL },
	{ "no-linger", "RESETGUARD_LINGER", V_NONE, NULL, "off" },
	{ "linger-timeout", "RESETGUARD_LINGER_TIMEOUT", V_DURATION, NULL, NULL },
	{ "linger-time", "RESETGUARD_LINGER_TIME", V_DURATION, NULL, NULL },
	{ "linger-bytes", "RESETGUARD_LINGER_BYTES", V_SIZE, NULL, NULL },
	{ "linger0", "RESETGUARD_LINGER0", V_WORD, "convert honour", NULL },
	{ "linger-max", "RESETGUARD_LINGER_MAX", V_COUNT, NULL, NULL },
	{ "metrics", "RESETGUARD_METRICS", V_DIR, NULL, NULL },
	{ "metrics-interval", "RESETGUARD_METRICS_INTERVAL", V_DURATION, NULL, NULL },
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))
enum { OPT_HELP = 'h', OPT_VERSION = 1000, OPT_CHECK };

static void usage(FILE *out)
{
	fputs("usage: resetguard [OPTIONS] [--] COMMAND [ARGS...]\n"
	      "       resetguard --check COMMAND [ARGS...]\n"
	      "Run COMMAND with libresetguard.so preloaded: SIGPIPE no longer kills it on\n"
	      "socket writes, abrupt closes become shutdown-and-drain, and every connection\n"
	      "reset it meets is logged with the peer.\n\n"
	      "  --log DEST              stderr, syslog, journal, off or a file path\n"
	      "  --format FORMAT         logfmt or json\n"
	      "  --level LEVEL           warn, info or debug\n"
	      "  --rate N[/B]            log records per second and burst; 0: no limit\n"
	      "  --syslog-facility NAME  daemon, user, local0 ... local7, ...\n"
	      "  --sigpipe MODE          socket, ignore or off\n"
	      "  --errors SET            reset (ECONNRESET, EPIPE) or all\n"
	      "  --no-linger             plain closes: no shutdown-and-drain\n"
	      "  --linger-timeout TIME   longest wait for more data from the peer (2s)\n"
	      "  --linger-time TIME      longest a socket lingers in all (30s)\n"
	      "  --linger-bytes SIZE     most a socket drains, e.g. 512KiB; 0: no bound (64MiB)\n"
	      "  --linger0 MODE          convert or honour SO_LINGER {1, 0}\n"
	      "  --linger-max N          sockets lingering at once\n"
	      "  --metrics DIR           keep a Prometheus textfile-collector file in DIR\n"
	      "  --metrics-interval TIME how often that file is rewritten (15s)\n"
	      "  --check                 tell whether resetguard can attach to COMMAND run\n"
	      "                          with ARGS: 0 yes, 1 no, 2 partly\n"
	      "  -h, --help              this text\n"
	      "      --version           the version\n"
	      "TIME is a number with ms or s.  Each option sets the RESETGUARD_* variable\n"
	      "described in resetguard(7); exit status: COMMAND's, or 125 (resetguard's own\n"
	      "error), 126 (cannot run COMMAND), 127 (COMMAND not found).\n",
	      out);
}

static bool word_in(const char *value, const char *words)
{
	size_t n = strlen(value);

	for (const char *p = words; (p = strstr(p, value)); p += n)
		if ((p == words || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0') && n)
			return true;
	return false;
}

static bool digits(const char *s, const char **end)
{
	const char *p = s;

	while (*p >= '0' && *p <= '9')
		p++;
	*end = p;
	return p > s && p - s < 10;
}

static bool valid(const struct setting *s, const char *value)
{
	const char *end;

	switch (s->kind) {
	case V_WORD:
		return word_in(value, s->words);
	case V_DURATION:
		return digits(value, &end) && atoi(value) > 0 && (!strcmp(end, "ms") || !strcmp(end, "s"));
	case V_SIZE: /* digits and a unit; the library checks the 1 TiB bound */
		end = value + strspn(value, "0123456789");
		return end > value && end - value < 14 &&
		       (!*end || !strcmp(end, "KiB") || !strcmp(end, "MiB") || !strcmp(end, "GiB"));
	case V_COUNT:
		return digits(value, &end) && !*end && atoi(value) > 0;
	case V_RATE:
		return digits(value, &end) && (!*end || (*end == '/' && digits(end + 1, &end) && !*end));
	case V_PATH:
	case V_DIR:
		return *value != '\0';
	default:
		return true;
	}
}

/* Relative paths become absolute: COMMAND, and every child it starts from
 * another directory, must find the same file. */
static int set_variable(const struct setting *s, const char *value)
{
	char path[PATH_MAX + NAME_MAX];

	if ((s->kind == V_PATH && !word_in(value, "stderr syslog journal off") && value[0] != '/') ||
	    (s->kind == V_DIR && value[0] != '/')) {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", cwd, value) >= sizeof(path)) {
			fprintf(stderr, "resetguard: cannot make --%s %s absolute\n", s->option, value);
			return -1;
		}
		value = path;
	}
	return setenv(s->variable, value, 1);
}

/* A sanitizer build of the library (the Makefile's SANITIZE) works only
 * when the sanitizer's runtime is the first library the program loads. */
#ifndef RG_PRELOAD_FIRST
#define RG_PRELOAD_FIRST ""
#endif

/* The loader splits LD_PRELOAD at spaces and colons, so a path holding
 * either cannot be preloaded. */
static int set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD"), *first = RG_PRELOAD_FIRST;
	char value[8192];
	int n;

	if (strpbrk(lib, " :")) {
		fprintf(stderr, "resetguard: %s: cannot preload a path with a space or colon\n",
			lib);
		return -1;
	}
	if (!old || !old[strspn(old, " :")])
		old = "";
	n = snprintf(value, sizeof(value), "%s%s%s%s%s", first, *first ? ":" : "", old,
		     *old ? ":" : "", lib);
	if (n < 0 || (size_t)n >= sizeof(value)) {
		fputs("resetguard: LD_PRELOAD is too long\n", stderr);
		return -1;
	}
	return setenv("LD_PRELOAD", value, 1);
}

static int parse_options(int argc, char **argv, bool *check)
{
	struct option longopts[N_SETTINGS + 4];
	size_t i;

	for (i = 0; i < N_SETTINGS; i++)
		longopts[i] = (struct option){ settings[i].option,
					       settings[i].kind == V_NONE ? no_argument
									  : required_argument,
					       NULL, (int)i };
	longopts[i++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	longopts[i++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	longopts[i++] = (struct option){ "check", no_argument, NULL, OPT_CHECK };
	longopts[i] = (struct option){ 0 };

	opterr = 0;
	for (;;) {
		int opt = getopt_long(argc, argv, "+:h", longopts, NULL);

		if (opt == -1)
			return 0;
		if (opt == OPT_HELP) {
			usage(stdout);
			exit(0);
		}
		if (opt == OPT_VERSION) {
			printf("resetguard %s\n", RG_VERSION);
			exit(0);
		}
		if (opt == OPT_CHECK) {
			*check = true;
			continue;
		}
		if (opt == ':' || opt == '?') {
			fprintf(stderr, "resetguard: %s '%s' (see resetguard --help)\n",
				opt == ':' ? "missing value for" : "unknown option", argv[optind - 1]);
			return -1;
		}
		const struct setting *s = &settings[opt];
		const char *value = s->kind == V_NONE ? s->fixed : optarg;

		if (!valid(s, value)) {
			fprintf(stderr, "resetguard: invalid value for --%s: '%s'\n", s->option, value);
			return -1;
		}
		if (set_variable(s, value) < 0)
			return -1;
	}
}

/* A relative RESETGUARD_LOG from the environment is made absolute too. */
static int absolute_log_from_environment(void)
{
	const char *log = getenv("RESETGUARD_LOG");
	char copy[PATH_MAX];

	if (!log || !*log || strlen(log) >= sizeof(copy))
		return 0;
	strcpy(copy, log);
	return set_variable(&settings[0], copy);
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX];
	bool check = false;

	if (absolute_log_from_environment() < 0 || parse_options(argc, argv, &check) < 0)
		return EXIT_OURS;
	if (optind >= argc) {
		usage(stderr);
		return EXIT_OURS;
	}
	if (choose_library(argv[optind], check, lib, sizeof(lib)) < 0)
		return check ? 1 : EXIT_OURS;
	if (check)
		return check_command(argv[optind], argv + optind + 1, lib);
	if (set_preload(lib) < 0)
		return EXIT_OURS;
	execvp(argv[optind], argv + optind);
	int err = errno;
	fprintf(stderr, "resetguard: %s: %s\n", argv[optind], strerror(err));
	return err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}
