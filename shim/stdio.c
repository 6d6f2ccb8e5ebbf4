/* stdio on a socket.  glibc's FILE functions write through its internal
 * __write and close through __close_nocancel, which no wrapper sees, so the
 * FILE entry points themselves are wrapped: on a socket-backed stream they
 * run under the SIGPIPE guard, and a failure is logged like any other.
 * Streams on anything else cost one table lookup. */
/* With optimisation glibc's <stdio.h> defines putchar() and vprintf()
 * inline; this file must define the real, exported ones. */
#define __NO_INLINE__ 1

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "io.h"
#include "lifecycle.h"
#include "linger.h"
#include "log.h"
#include "real.h"
#include "sigpipe.h"
#include "stdio_guard.h"

/* Declared by glibc only in fortified builds. */
int __fprintf_chk(FILE *fp, int flag, const char *fmt, ...);
int __vfprintf_chk(FILE *fp, int flag, const char *fmt, va_list ap);
int __printf_chk(int flag, const char *fmt, ...);
int __vprintf_chk(int flag, const char *fmt, va_list ap);

void rg_stdio_begin(struct rg_stdio *s, FILE *fp)
{
	int saved = errno;

	s->fd = fp ? fileno_unlocked(fp) : -1;
	s->e = s->fd >= 0 ? rg_fd_socket(s->fd) : NULL;
	s->life = s->e ? rg_io_begin(s->e) : NULL;
	s->in_flight = s->life != NULL;
	s->guard.armed = false;
	if (s->e && rg_sigpipe_suppress())
		rg_sigpipe_hold(&s->guard, false);
	errno = saved;
}

static void rg_stdio_landed(struct rg_stdio *s)
{
	if (s->in_flight)
		rg_io_end(s->life);
	s->in_flight = false;
}

void rg_stdio_end(struct rg_stdio *s, const char *op, bool failed)
{
	int err = errno;

	if (s->in_flight)
		rg_io_end(s->life);
	rg_sigpipe_release(&s->guard, failed && err == EPIPE);
	if (failed && s->life) {
		errno = err;
		rg_io_failed(s->life, op);
	}
	errno = err;
}

/* Streams on sockets still hold unwritten data when the program calls
 * exit() or fflush(NULL); glibc flushes them internally, where SIGPIPE
 * would kill.  Flush each known one under the guard first. */
/* fflush(NULL) comes here, and the fflush(stream) calls made from here
 * never come back: one level of recursion. */
void rg_stdio_flush_sockets(void) /* NOLINT(misc-no-recursion) */
{
	FILE *std[] = { stdout, stderr };

	for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++)
		if (std[i] && rg_fd_socket(fileno_unlocked(std[i])))
			fflush(std[i]);
	for (int fd = 3; (fd = rg_fd_next(fd, RG_FD_MAX, RG_FD_SOCKET)) >= 0; fd++)
		if (rg_fd_peek(fd)->stream)
			fflush(rg_fd_peek(fd)->stream);
}

RG_EXPORT FILE *fdopen(int fd, const char *mode)
{
	FILE *fp = rg_libc(fdopen)(fd, mode);
	struct rg_fd *e;

	if (fp && (e = rg_fd_socket(fd)))
		e->stream = fp;
	return fp;
}

RG_EXPORT size_t fwrite(const void *buf, size_t size, size_t n, FILE *fp)
{
	struct rg_stdio s;

	rg_stdio_begin(&s, fp);
	size_t ret = rg_libc(fwrite)(buf, size, n, fp);
	rg_stdio_end(&s, "fwrite", ret < n && size > 0);
	return ret;
}

RG_EXPORT int fputs(const char *str, FILE *fp)
{
	struct rg_stdio s;

	rg_stdio_begin(&s, fp);
	int ret = rg_libc(fputs)(str, fp);
	rg_stdio_end(&s, "fputs", ret == EOF);
	return ret;
}

RG_EXPORT int puts(const char *str)
{
	struct rg_stdio s;

	rg_stdio_begin(&s, stdout);
	int ret = rg_libc(puts)(str);
	rg_stdio_end(&s, "puts", ret == EOF);
	return ret;
}

RG_EXPORT int fputc(int c, FILE *fp)
{
	struct rg_stdio s;

	rg_stdio_begin(&s, fp);
	int ret = rg_libc(fputc)(c, fp);
	rg_stdio_end(&s, "fputc", ret == EOF);
	return ret;
}

RG_EXPORT int putc(int c, FILE *fp)
{
	struct rg_stdio s;

	rg_stdio_begin(&s, fp);
	int ret = rg_libc(putc)(c, fp);
	rg_stdio_end(&s, "putc", ret == EOF);
	return ret;
}

RG_EXPORT int putchar(int c)
{
	return putc(c, stdout);
}

RG_EXPORT int vfprintf(FILE *fp, const char *fmt, va_list ap)
{
	struct rg_stdio s;

	rg_stdio_begin(&s, fp);
	int ret = rg_libc(vfprintf)(fp, fmt, ap);
	rg_stdio_end(&s, "fprintf", ret < 0);
	return ret;
}

RG_EXPORT int __vfprintf_chk(FILE *fp, int flag, const char *fmt, va_list ap)
{
	struct rg_stdio s;

	rg_stdio_begin(&s, fp);
	int ret = rg_libc(__vfprintf_chk)(fp, flag, fmt, ap);
	rg_stdio_end(&s, "fprintf", ret < 0);
	return ret;
}

RG_EXPORT int fprintf(FILE *fp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* ap is started; the analyzer loses it in a call to this file's own
	 * vfprintf(). */
	int ret = vfprintf(fp, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	return ret;
}

RG_EXPORT int __fprintf_chk(FILE *fp, int flag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int ret = __vfprintf_chk(fp, flag, fmt, ap);
	va_end(ap);
	return ret;
}

RG_EXPORT int vprintf(const char *fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

RG_EXPORT int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
	return __vfprintf_chk(stdout, flag, fmt, ap);
}

RG_EXPORT int printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* as in fprintf() */
	int ret = vfprintf(stdout, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	return ret;
}

RG_EXPORT int __printf_chk(int flag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int ret = __vfprintf_chk(stdout, flag, fmt, ap);
	va_end(ap);
	return ret;
}

/* One level of recursion: see rg_stdio_flush_sockets(). */
RG_EXPORT int fflush(FILE *fp) /* NOLINT(misc-no-recursion) */
{
	struct rg_stdio s;

	if (!fp)
		rg_stdio_flush_sockets();
	rg_stdio_begin(&s, fp);
	int ret = rg_libc(fflush)(fp);
	rg_stdio_end(&s, "fflush", ret == EOF);
	return ret;
}

/* glibc flushes and closes the descriptor where no wrapper sees it: flush
 * first, under the guard, then let go of the socket as close() would.  When
 * the flush fails, fclose() will try again with what is left: the socket
 * must not be shut down under it, so it is closed plainly. */
RG_EXPORT int fclose(FILE *fp)
{
	struct rg_stdio s;
	struct rg_release r;
	bool releasing = false;
	int ret;

	rg_stdio_begin(&s, fp);
	if (s.e && !rg_in_vfork_child()) {
		bool flushed = rg_libc(fflush)(fp) == 0;

		/* The flush is over: this thread's mark must not count as a
		 * call in flight on the socket it lets go of. */
		rg_stdio_landed(&s);
		rg_release_begin(&r, s.fd, s.e, flushed ? RG_RELEASE_SURE : RG_RELEASE_PLAIN);
		releasing = true;
	} else if (s.fd >= 0 && !rg_in_vfork_child()) {
		rg_fd_forget(s.fd);
	}
	ret = rg_libc(fclose)(fp);
	if (releasing)
		rg_release_end(&r, true);
	rg_stdio_end(&s, "fclose", ret == EOF);
	return ret;
}
