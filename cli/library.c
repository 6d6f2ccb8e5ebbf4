/* Which library the command preloads: the build for the C library of the
 * program it runs (glibc's or musl's loader refuses the other's), looked
 * for where a build tree, an installed tree or a staged one keeps it. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* libresetguard.so is built for the command's own C library (the
 * Makefile's RG_COMMAND_LIBC); the other's carries its name. */
const char *library_name(enum libc_kind libc)
{
	if (libc == LIBC_OTHER || libc == RG_COMMAND_LIBC)
		return LIB_NAME;
	return libc == LIBC_MUSL ? LIB_NAME_MUSL : LIB_NAME_GLIBC;
}

enum libc_kind library_libc(const char *library)
{
	const char *base = strrchr(library, '/');

	base = base ? base + 1 : library;
	if (!strcmp(base, LIB_NAME_MUSL))
		return LIBC_MUSL;
	if (!strcmp(base, LIB_NAME_GLIBC))
		return LIBC_GLIBC;
	return RG_COMMAND_LIBC;
}

/* The library beside this executable (a build tree); in PKGLIBDIR below
 * the directory that holds BINDIR (a tree staged with DESTDIR, or copied
 * whole under another root); in ../lib/resetguard from it (a default
 * install moved elsewhere); else in PKGLIBDIR itself. */
int find_library(enum libc_kind libc, char *path, size_t size)
{
	char self[PATH_MAX], root[PATH_MAX] = "";
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *dir = ".";
	size_t bindir = strlen(RG_BINDIR);

	if (n > 0) {
		self[n] = '\0';
		dir = dirname(self);
	}
	size_t len = strlen(dir);
	if (len >= bindir && len < sizeof(root) && !strcmp(dir + len - bindir, RG_BINDIR))
		snprintf(root, sizeof(root), "%.*s", (int)(len - bindir), dir);
	const char *candidates[][3] = {
		{ dir, "", "" },
		{ root, RG_PKGLIBDIR, "" },
		{ dir, "/../lib/resetguard", "" },
		{ RG_PKGLIBDIR, "", "" },
	};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		char raw[PATH_MAX];

		if (i == 1 && !*root)
			continue;
		if ((size_t)snprintf(raw, sizeof(raw), "%s%s/%s", candidates[i][0], candidates[i][1],
				     library_name(libc)) < sizeof(raw) &&
		    realpath(raw, path) && strlen(path) < size && access(path, R_OK) == 0)
			return 0;
	}
	return -1;
}

/* --check of a program of the other C library, without that library,
 * still asks the loader about this one, to show why it cannot be used. */
int choose_library(const char *command, bool check, char *path, size_t size)
{
	enum libc_kind libc = target_libc(command);

	if (find_library(libc, path, size) == 0 ||
	    (check && find_library(LIBC_OTHER, path, size) == 0))
		return 0;
	fprintf(stderr, "resetguard: cannot find %s beside this command, in %s below its root, in "
			"../lib/resetguard, or in %s%s%s%s\n",
		library_name(libc), RG_PKGLIBDIR, RG_PKGLIBDIR,
		strcmp(library_name(libc), LIB_NAME) ? " (" : "",
		strcmp(library_name(libc), LIB_NAME) ? command : "",
		strcmp(library_name(libc), LIB_NAME) ? " uses another C library: see resetguard(7), MUSL)" : "");
	return -1;
}
