/* resetguard [--] COMMAND [ARGS...]: run COMMAND with libresetguard.so
 * preloaded, after any library LD_PRELOAD already names, and exit with its
 * status.  Like env(1): 125 for our own errors, 126 when COMMAND cannot be
 * run, 127 when it cannot be found. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIB_NAME "libresetguard.so"

enum { EXIT_OURS = 125, EXIT_CANNOT_RUN = 126, EXIT_NOT_FOUND = 127 };

static void usage(FILE *out)
{
	fputs("usage: resetguard [--] COMMAND [ARGS...]\n"
	      "Run COMMAND with libresetguard.so preloaded: SIGPIPE no longer kills it on\n"
	      "socket writes, and every connection reset it meets is logged with the peer.\n"
	      "Settings come from RESETGUARD_* variables; see README.md.\n",
	      out);
}

/* The library beside this executable (the build tree), else the installed
 * one. */
static int find_library(char *path, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if ((size_t)snprintf(path, size, "%s/%s", dirname(self), LIB_NAME) < size &&
		    access(path, R_OK) == 0)
			return 0;
	}
	if ((size_t)snprintf(path, size, "%s/%s", RG_LIBDIR, LIB_NAME) < size &&
	    access(path, R_OK) == 0)
		return 0;
	return -1;
}

/* The loader splits LD_PRELOAD at spaces and colons, so a path holding
 * either cannot be preloaded. */
static int set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char value[8192];
	int n;

	if (strpbrk(lib, " :")) {
		fprintf(stderr, "resetguard: %s: cannot preload a path with a space or colon\n",
			lib);
		return -1;
	}
	if (old && old[strspn(old, " :")])
		n = snprintf(value, sizeof(value), "%s:%s", old, lib);
	else
		n = snprintf(value, sizeof(value), "%s", lib);
	if (n < 0 || (size_t)n >= sizeof(value)) {
		fputs("resetguard: LD_PRELOAD is too long\n", stderr);
		return -1;
	}
	return setenv("LD_PRELOAD", value, 1);
}

/* Each process resolves a relative RESETGUARD_LOG against the directory it
 * starts in; fix it now so that COMMAND and every child it starts from
 * elsewhere log to the same file. */
static int absolute_log_path(void)
{
	const char *log = getenv("RESETGUARD_LOG");
	char cwd[PATH_MAX], path[PATH_MAX + NAME_MAX];

	static const char *const words[] = { "stderr", "syslog", "journal", "off" };

	if (!log || !*log || log[0] == '/')
		return 0;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(log, words[i]))
			return 0;
	if (!getcwd(cwd, sizeof(cwd)) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", cwd, log) >= sizeof(path)) {
		fprintf(stderr, "resetguard: cannot make RESETGUARD_LOG=%s absolute\n", log);
		return -1;
	}
	return setenv("RESETGUARD_LOG", path, 1);
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX];
	int first = 1;

	if (first < argc && (!strcmp(argv[first], "-h") || !strcmp(argv[first], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (first < argc && !strcmp(argv[first], "--version")) {
		printf("resetguard %s\n", RG_VERSION);
		return 0;
	}
	if (first < argc && !strcmp(argv[first], "--"))
		first++;
	else if (first < argc && argv[first][0] == '-') {
		fprintf(stderr, "resetguard: unknown option '%s'\n", argv[first]);
		usage(stderr);
		return EXIT_OURS;
	}
	if (first >= argc) {
		usage(stderr);
		return EXIT_OURS;
	}
	if (find_library(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "resetguard: cannot find %s beside this command or in %s\n",
			LIB_NAME, RG_LIBDIR);
		return EXIT_OURS;
	}
	if (set_preload(lib) < 0 || absolute_log_path() < 0)
		return EXIT_OURS;
	execvp(argv[first], argv + first);
	int err = errno;
	fprintf(stderr, "resetguard: %s: %s\n", argv[first], strerror(err));
	return err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}
