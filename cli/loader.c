/* Asking the program's dynamic loader (loader.h). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loader.h"

extern char **environ;

enum libc_kind libc_of_loader(const char *interp)
{
	const char *base = strrchr(interp, '/');

	base = base ? base + 1 : interp;
	if (!strncmp(base, "ld-musl-", 8))
		return LIBC_MUSL;
	if (!strncmp(base, "ld-linux", 8) || !strncmp(base, "ld64.so", 7) || !strncmp(base, "ld.so", 5))
		return LIBC_GLIBC;
	return LIBC_OTHER;
}

const char *libc_name(enum libc_kind libc)
{
	return libc == LIBC_GLIBC ? "glibc" : libc == LIBC_MUSL ? "musl" : "an unknown C library";
}

/* Both loaders list without running the program (ldd is a glibc loader in
 * that mode); one from anywhere else could be anything. */
static bool trusted_loader(const char *interp)
{
	static const char *const dirs[] = { "/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/" };

	if (libc_of_loader(interp) == LIBC_OTHER || strstr(interp, "/../"))
		return false;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!strncmp(interp, dirs[i], strlen(dirs[i])))
			return true;
	return false;
}

/* environ with LD_PRELOAD set as the command sets it: the library after
 * whatever is preloaded already.  NULL when out of memory. */
static char **preloading_environ(const char *library, char **storage)
{
	const char *old = getenv("LD_PRELOAD");
	size_t n = 0;

	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(*env));
	if (!env || asprintf(storage, "LD_PRELOAD=%s%s%s", old && *old ? old : "",
			     old && *old ? ":" : "", library) < 0) {
		free(env);
		return NULL;
	}
	size_t j = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[j++] = environ[i];
	env[j] = *storage;
	return env;
}

/* Runs interp --list program, its stderr into why; returns its wait status,
 * or -1 when it could not be run. */
static int run_listing(const char *interp, const char *program, char **env, char *why, size_t size)
{
	char *const argv[] = { (char *)interp, (char *)"--list", (char *)program, NULL };
	posix_spawn_file_actions_t actions;
	int err[2], status = -1;
	pid_t pid;

	if (pipe2(err, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, err[1], 2);
	if (posix_spawn(&pid, interp, &actions, NULL, argv, env) == 0) {
		char rest[256];
		size_t got = 0;
		ssize_t n;

		close(err[1]);
		/* musl's loader writes a complaint in pieces: up to its newline. */
		while (got < size - 1 && (n = read(err[0], why + got, size - 1 - got)) > 0) {
			got += (size_t)n;
			if (memchr(why + got - (size_t)n, '\n', (size_t)n))
				break;
		}
		why[got] = '\0';
		while (read(err[0], rest, sizeof(rest)) > 0)
			;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	} else {
		close(err[1]);
	}
	posix_spawn_file_actions_destroy(&actions);
	close(err[0]);
	return status;
}

bool loader_refuses(const char *interp, const char *program, const char *library, char *why,
		    size_t size)
{
	char *storage = NULL;
	char **env;
	int status;

	why[0] = '\0';
	if (!trusted_loader(interp) || !(env = preloading_environ(library, &storage)))
		return false;
	status = run_listing(interp, program, env, why, size);
	free(env);
	free(storage);
	why[strcspn(why, "\n")] = '\0';
	if (status == -1)
		return false;
	if (!why[0] && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		snprintf(why, size, "%s --list failed", interp);
	return why[0] != '\0';
}
