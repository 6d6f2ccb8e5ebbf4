/* musl has no error(): the wrappers of glibc's are built but unused (a
 * musl program that has an error() of its own, gnulib's, binds to that). */
#ifndef RG_MUSL_ERROR_H
#define RG_MUSL_ERROR_H
void error(int status, int errnum, const char *fmt, ...);
void error_at_line(int status, int errnum, const char *file, unsigned int line,
		   const char *fmt, ...);
extern unsigned int error_message_count;
#endif
