/* The resetguard command: shared between the option handling
 * (resetguard.c) and the --check inspection (check.c). */
#ifndef RG_CLI_H
#define RG_CLI_H

#include <stddef.h>

enum { EXIT_OURS = 125, EXIT_CANNOT_RUN = 126, EXIT_NOT_FOUND = 127 };

#define LIB_NAME "libresetguard.so"

/* The library the command would preload, or -1 when there is none. */
int find_library(char *path, size_t size);
/* --check: prints what it finds; returns 0 when the shim can attach. */
int check_command(const char *command, const char *library);

#endif
