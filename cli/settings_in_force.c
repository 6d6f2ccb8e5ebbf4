/* The settings the library would use, read by the library's own reader
 * (shim/config.c, compiled into the command as shim/settings.c is): the
 * defaults, the config file and the environment, and whether the program
 * is in scope at all.  What that reader needs from the rest of the
 * library is here: the real open(), read() and close(), which in the
 * command are simply libc's, and its complaints, which --check shows and
 * counts. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "../shim/config.h"
#include "../shim/log.h"
#include "../shim/real.h"
#include "cli.h"

/* Left empty: rg_libc() then asks rg_real_bound(). */
struct rg_real rg_real;
unsigned settings_complaints;

const struct rg_real *rg_real_bound(void)
{
	static struct rg_real libc;

	libc.open = open;
	libc.read = read;
	libc.close = close;
	return &libc;
}

void rg_log_complaint(const char *what, const char *value, const char *why, const char *fallback)
{
	printf("  setting:  %s%s%s%s%s\n", what, value ? "=" : "", value ? value : "", why, fallback);
	settings_complaints++;
}
