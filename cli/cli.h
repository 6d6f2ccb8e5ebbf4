/* The resetguard command: shared between the option handling
 * (resetguard.c) and the --check inspection (check.c). */
#ifndef RG_CLI_H
#define RG_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "loader.h"

enum { EXIT_OURS = 125, EXIT_CANNOT_RUN = 126, EXIT_NOT_FOUND = 127 };

#define LIB_NAME "libresetguard.so"
#define LIB_NAME_MUSL "libresetguard-musl.so"
#define LIB_NAME_GLIBC "libresetguard-glibc.so"

/* The file name of the library built for libc (the command's own for
 * LIBC_OTHER), and the C library a library of that name is built for. */
const char *library_name(enum libc_kind libc);
enum libc_kind library_libc(const char *library);
/* The library built for libc, or -1 when there is none. */
int find_library(enum libc_kind libc, char *path, size_t size);
/* The C library of the program command runs (a script's interpreter's),
 * or LIBC_OTHER when it cannot tell. */
enum libc_kind target_libc(const char *command);
/* The library to preload for command, or -1 after saying why not. */
int choose_library(const char *command, bool check, char *path, size_t size);
/* --check's statuses: 0 when the shim can attach, 1 when it cannot. */
enum { CHECK_PARTLY = 2 }; /* it attaches, but not to what COMMAND starts */
/* --check COMMAND [ARGS...]: prints what it finds; returns the status. */
int check_command(const char *command, char *const *args, const char *library);
/* The complaints the library's settings reader made (settings_in_force.c). */
extern unsigned settings_complaints;

/* status PID: whether the library is loaded in PID, and its state page;
 * 0 loaded, 1 not, 2 cannot tell (no permission). */
int status_command(int argc, char **argv);

#endif
