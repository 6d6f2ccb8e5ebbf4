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

#include "../shim/settings.h"
#include "cli.h"

/* The options are the settings of shim/settings.def that have one; each
 * value is checked with the library's own parser before anything runs, so
 * that a typo fails here with 125 instead of as a warning in the program,
 * and a value accepted here is never refused there. */
enum { OPT_HELP = 'h', OPT_VERSION = 1000, OPT_CHECK, OPT_LIST };

/* The value an option that takes none sets ("=off"), or NULL. */
static const char *fixed_value(const struct rg_setting *s)
{
	return s->arg[0] == '=' ? s->arg + 1 : NULL;
}

static void usage(FILE *out)
{
	fputs("usage: resetguard [OPTIONS] [--] COMMAND [ARGS...]\n"
	      "       resetguard --check COMMAND [ARGS...]\n"
	      "       resetguard status PID\n"
	      "       resetguard --list-settings\n"
	      "Run COMMAND with libresetguard.so preloaded: SIGPIPE no longer kills it on\n"
	      "socket writes, abrupt closes become shutdown-and-drain, and every connection\n"
	      "reset it meets is logged with the peer.\n\n",
	      out);
	for (size_t i = 0; i < RG_N_SETTINGS; i++) {
		const struct rg_setting *s = &rg_settings[i];
		char left[64];

		if (!s->option)
			continue;
		snprintf(left, sizeof(left), "--%s%s%s", s->option, fixed_value(s) ? "" : " ",
			 fixed_value(s) ? "" : s->arg);
		fprintf(out, "  %-23s %s", left, s->help);
		if (!fixed_value(s) && s->fallback[0])
			fprintf(out, " (%s)", s->fallback);
		fputc('\n', out);
	}
	fputs("  --check                 tell whether resetguard can attach to COMMAND run\n"
	      "                          with ARGS: 0 yes, 1 no, 2 partly\n"
	      "  --list-settings         every setting: variable, option, default\n"
	      "  -h, --help              this text\n"
	      "      --version           the version\n"
	      "TIME is a number, decimals allowed, with ms, s, m or h (at most 1h).  Each\n"
	      "option sets the RESETGUARD_* variable described in resetguard(7); the file\n"
	      "/etc/resetguard.conf (resetguard.conf(5)) holds the same settings.  Exit\n"
	      "status: COMMAND's, or 125 (resetguard's own error), 126 (cannot run\n"
	      "COMMAND), 127 (COMMAND not found).\n",
	      out);
}

/* One line per setting, tab-separated: the variable, the option (- for
 * none), the default ("" for an empty one).  What tests/conffile.bats holds
 * the man pages to. */
static void list_settings(void)
{
	for (size_t i = 0; i < RG_N_SETTINGS; i++) {
		const struct rg_setting *s = &rg_settings[i];

		printf("%s\t%s%s%s\t%s\n", rg_settings[i].name, s->option ? "--" : "-",
		       s->option ? s->option : "", fixed_value(s) ? s->arg : "",
		       s->fallback[0] ? s->fallback : "\"\"");
	}
}

/* Relative paths become absolute: COMMAND, and every child it starts from
 * another directory, must find the same file. */
static bool wants_absolute(const struct rg_setting *s, const char *value)
{
	switch (s->kind) {
	case RG_K_LOG:
		return strcmp(value, "stderr") != 0 && strcmp(value, "syslog") != 0 &&
		       strcmp(value, "journal") != 0 && strcmp(value, "off") != 0 && value[0] != '/' &&
		       *value;
	case RG_K_DIR:
		return strcmp(value, "off") != 0 && value[0] != '/' && *value;
	case RG_K_CONF:
		return value[0] != '/' && *value;
	default:
		return false;
	}
}

static int set_variable(const struct rg_setting *s, const char *value, const char *option)
{
	char path[PATH_MAX + NAME_MAX];
	struct rg_config scratch;
	const char *why;

	if (wants_absolute(s, value)) {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", cwd, value) >= sizeof(path)) {
			fprintf(stderr, "resetguard: cannot make %s %s absolute\n", option, value);
			return -1;
		}
		value = path;
	}
	rg_settings_defaults(&scratch);
	why = rg_setting_parse(s, value, &scratch);
	if (why) {
		fprintf(stderr, "resetguard: invalid value for %s: '%s' is not %s\n", option, value,
			why);
		return -1;
	}
	return setenv(s->name, value, 1);
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
	struct option longopts[RG_N_SETTINGS + 5];
	size_t n = 0;

	for (size_t i = 0; i < RG_N_SETTINGS; i++)
		if (rg_settings[i].option)
			longopts[n++] = (struct option){ rg_settings[i].option,
							 fixed_value(&rg_settings[i]) ? no_argument
										      : required_argument,
							 NULL, (int)i };
	longopts[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	longopts[n++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	longopts[n++] = (struct option){ "check", no_argument, NULL, OPT_CHECK };
	longopts[n++] = (struct option){ "list-settings", no_argument, NULL, OPT_LIST };
	longopts[n] = (struct option){ 0 };

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
		if (opt == OPT_LIST) {
			list_settings();
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
		const struct rg_setting *s = &rg_settings[opt];
		char option[64];

		snprintf(option, sizeof(option), "--%s", s->option);
		if (set_variable(s, fixed_value(s) ? fixed_value(s) : optarg, option) < 0)
			return -1;
	}
}

/* Relative paths given in the environment are made absolute too; their
 * values are the library's to judge. */
static int absolute_paths_from_environment(void)
{
	for (size_t i = 0; i < RG_N_SETTINGS; i++) {
		const char *value = getenv(rg_settings[i].name);
		char copy[PATH_MAX], path[PATH_MAX + NAME_MAX], cwd[PATH_MAX];

		if (!value || !wants_absolute(&rg_settings[i], value) || strlen(value) >= sizeof(copy))
			continue;
		strcpy(copy, value);
		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", cwd, copy) >= sizeof(path) ||
		    setenv(rg_settings[i].name, path, 1) < 0) {
			fprintf(stderr, "resetguard: cannot make %s=%s absolute\n", rg_settings[i].name,
				copy);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX];
	bool check = false;

	if (argc >= 2 && (!strcmp(argv[1], "status") || !strcmp(argv[1], "--status")))
		return status_command(argc - 2, argv + 2);
	if (absolute_paths_from_environment() < 0 || parse_options(argc, argv, &check) < 0)
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
