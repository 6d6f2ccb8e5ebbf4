/* glibc's error() for the test programs built for musl: the program's
 * name, the message, errnum's text; exits when status is not 0. */
#ifndef RG_TEST_MUSL_ERROR_H
#define RG_TEST_MUSL_ERROR_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char *program_invocation_name;

__attribute__((format(printf, 3, 4))) static inline void error(int status, int errnum,
							       const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", program_invocation_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (errnum)
		fprintf(stderr, ": %s", strerror(errnum));
	fputc('\n', stderr);
	if (status)
		exit(status);
}

#endif
