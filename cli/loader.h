/* The program's own dynamic loader, asked whether it would load the
 * library: what the real loader says is worth more than any guess. */
#ifndef RG_CLI_LOADER_H
#define RG_CLI_LOADER_H

#include <stdbool.h>
#include <stddef.h>

enum libc_kind { LIBC_OTHER, LIBC_GLIBC, LIBC_MUSL };

/* Which C library a program interpreter belongs to, by its name. */
enum libc_kind libc_of_loader(const char *interp);
const char *libc_name(enum libc_kind libc);

/* Lists what interp would load for program with library preloaded (its
 * --list mode, which runs nothing of the program).  True when the loader
 * complains or fails: its first line of complaint is put in why.  Only a
 * glibc or musl loader under /lib or /usr/lib is asked at all (a program
 * could name any file as its interpreter); otherwise false, why empty. */
bool loader_refuses(const char *interp, const char *program, const char *library, char *why,
		    size_t size);

#endif
