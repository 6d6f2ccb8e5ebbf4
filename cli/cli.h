/* The resetguard command: shared between the option handling
 * (resetguard.c) and the --check inspection (check.c). */
#ifndef RG_CLI_H
#define RG_CLI_H

#include <stddef.h>

enum { EXIT_OURS = 125, EXIT_CANNOT_RUN = 126, EXIT_NOT_FOUND = 127 };

#define LIB_NAME "libresetguard.so"

/* The library the command would preload, or -1 when there is none. */
int find_library(char *path, size_t size);
/* --check's statuses: 0 when the shim can attach, 1 when it cannot. */
enum { CHECK_PARTLY = 2 }; /* it attaches, but not to what COMMAND starts */
/* --check COMMAND [ARGS...]: prints what it finds; returns the status. */
int check_command(const char *command, char *const *args, const char *library);

/* status PID: whether the library is loaded in PID, and its state page;
 * 0 loaded, 1 not, 2 cannot tell (no permission). */
int status_command(int argc, char **argv);

#endif
