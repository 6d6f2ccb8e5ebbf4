/* stdio on a socket.  glibc's FILE functions write through its internal
 * __write and close through __close_nocancel, which no wrapper sees, so the
 * FILE entry points themselves are wrapped: on a socket-backed stream they
 * run under the SIGPIPE guard, and a failure is logged like any other.
 * Streams on anything else cost one table lookup. */
/* With optimisation glibc's <stdio.h> defines putchar() and vprintf()
 * inline; this file must define the real, exported ones. */
#define __NO_INLINE__ 1
/* Likewise _FORTIFY_SOURCE (dpkg-buildflags sets it) makes vfprintf() and
 * its kin always-inline wrappers around the __*_chk forms, which this file
 * also defines: here the real names are needed, unfortified. */
#undef _FORTIFY_SOURCE

#include <errno.h>
#include <err.h>
#include <error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <wchar.h>

#include "io.h"
#include "lifecycle.h"
#include "linger.h"
#include "log.h"
#include "real.h"
#include "sigpipe.h"
#include "stdio_calls.h"
#include "stdio_guard.h"

/* Declared by glibc only in fortified builds, or no longer at all. */
int __fprintf_chk(FILE *fp, int flag, const char *fmt, ...);
int __vfprintf_chk(FILE *fp, int flag, const char *fmt, va_list ap);
int __printf_chk(int flag, const char *fmt, ...);
int __vprintf_chk(int flag, const char *fmt, va_list ap);
int __dprintf_chk(int fd, int flag, const char *fmt, ...);
int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap);
int __fwprintf_chk(FILE *fp, int flag, const wchar_t *fmt, ...);
int __vfwprintf_chk(FILE *fp, int flag, const wchar_t *fmt, va_list ap);
int __wprintf_chk(int flag, const wchar_t *fmt, ...);
int __vwprintf_chk(int flag, const wchar_t *fmt, va_list ap);
wint_t __woverflow(FILE *fp, wint_t wc);
int _IO_putc(int c, FILE *fp);
int _IO_puts(const char *str);
int _IO_fputs(const char *str, FILE *fp);
size_t _IO_fwrite(const void *buf, size_t size, size_t n, FILE *fp);
int _IO_fflush(FILE *fp);
int _IO_flush_all(void);
int _IO_fclose(FILE *fp);
int _IO_vfprintf(FILE *fp, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int _IO_fprintf(FILE *fp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int _IO_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int _IO_fsetpos(FILE *fp, const fpos_t *pos);
int _IO_fsetpos64(FILE *fp, const fpos64_t *pos);
int _IO_setvbuf(FILE *fp, char *buf, int mode, size_t size);
void _IO_setbuffer(FILE *fp, char *buf, size_t size);
void _IO_flush_all_linebuffered(void);
void _flushlbf(void);
int __printf_fp(FILE *fp, const struct printf_info *info, const void *const *args);

void rg_stdio_begin(struct rg_stdio *s, int fd, struct rg_fd *e)
{
	int saved = errno;

	s->fd = fd;
	s->e = e;
	s->life = e ? rg_io_begin(e) : NULL;
	s->in_flight = s->life != NULL;
	s->guard.armed = false;
	if (e && rg_sigpipe_suppress())
		rg_sigpipe_hold(&s->guard, false);
	errno = saved;
}

static void rg_stdio_landed(struct rg_stdio *s)
{
	if (s->in_flight)
		rg_io_end(s->life);
	s->in_flight = false;
}

/* A stdio call may write more than once, and what it leaves in errno need
 * not be the error that raised SIGPIPE: any failure takes back a SIGPIPE
 * the call raised.  A call that reports no failure (void) passes true for
 * signalled. */
static void rg_stdio_finish(struct rg_stdio *s, const char *op, bool failed, bool signalled)
{
	int failure = errno;

	rg_stdio_landed(s);
	bool taken = rg_sigpipe_release(&s->guard, signalled);
	if (failed && s->life) {
		errno = failure;
		rg_io_failed(s->life, op);
	}
	if (taken)
		rg_sigpipe_deliver();
	errno = failure;
}

void rg_stdio_end(struct rg_stdio *s, const char *op, bool failed)
{
	rg_stdio_finish(s, op, failed, failed);
}

/* fflush() of fp if it is not NULL and, for lines_only, line-buffered. */
static void rg_stdio_flush_one(FILE *fp, bool lines_only) /* NOLINT(misc-no-recursion) */
{
	if (fp && (!lines_only || __flbf(fp)))
		fflush(fp);
}

/* Streams on sockets still hold unwritten data when the program calls
 * exit() or fflush(NULL); glibc flushes them internally, where SIGPIPE
 * would kill.  Flush each known one under the guard first (lines_only:
 * those glibc's flush of line-buffered streams would). */
/* fflush(NULL) comes here, and the fflush(stream) calls made from here
 * never come back: one level of recursion. */
void rg_stdio_flush_sockets(bool lines_only) /* NOLINT(misc-no-recursion) */
{
	FILE *std[] = { stdout, stderr };

	for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++)
		if (rg_stdio_socket(rg_stdio_fd(std[i])))
			rg_stdio_flush_one(std[i], lines_only);
	for (int fd = 3; (fd = rg_fd_next(fd, RG_FD_MAX, RG_FD_SOCKET)) >= 0; fd++)
		rg_stdio_flush_one(rg_fd_peek(fd)->stream, lines_only);
}

RG_EXPORT FILE *fdopen(int fd, const char *mode)
{
	FILE *fp = rg_libc(fdopen)(fd, mode);
	struct rg_fd *e;

	if (fp && (e = rg_fd_socket(fd)))
		e->stream = fp;
	return fp;
}

/* fflush(NULL) and the calls that flush every stream: the streams on
 * sockets first, each under the guard.  Then no descriptor is left for
 * the real call to need one. */
/* NOLINTNEXTLINE(misc-no-recursion): one level, see rg_stdio_flush_sockets() */
static int rg_stdio_flushing(FILE *fp)
{
	if (!fp)
		rg_stdio_flush_sockets(false);
	return rg_stdio_fd(fp);
}

static int rg_stdio_flushing_lines(void)
{
	rg_stdio_flush_sockets(true);
	return -1;
}

/* Off a socket, a lookup and a tail call, with no stack frame:
 * fputc_unlocked() may come here once a character.  The guarded call is
 * out of line; it looks the socket up again. */
/* NOLINTBEGIN(bugprone-macro-parentheses): type, params and args are
 * declarators and argument lists, not expressions */
#define RG_STDIO_WRAP(name, type, params, args, fd_expr, op, failed)      \
	__attribute__((noinline, cold)) static type rg_guarded_##name params \
	{                                                                   \
		int fd_ = (fd_expr);                                        \
		struct rg_stdio s_;                                         \
                                                                            \
		rg_stdio_begin(&s_, fd_, rg_stdio_socket(fd_));             \
		type ret = rg_libc(name) args;                              \
		rg_stdio_end(&s_, op, failed);                              \
		return ret;                                                 \
	}                                                                   \
	RG_EXPORT type name params                                          \
	{                                                                   \
		if (RG_UNLIKELY(rg_stdio_socket(fd_expr)))                  \
			return rg_guarded_##name args;                      \
		return rg_libc(name) args;                                  \
	}
/* One level of recursion for fflush(NULL): see rg_stdio_flush_sockets(). */
RG_STDIO_FILE_CALLS(RG_STDIO_WRAP) /* NOLINT(misc-no-recursion) */
#undef RG_STDIO_WRAP
/* NOLINTEND(bugprone-macro-parentheses) */

/* A call that returns nothing: failed if it left the stream in error, or
 * errno at EPIPE or ECONNRESET where it was not (herror() writes to the
 * descriptor, not the FILE). */
struct rg_stdio_quiet {
	struct rg_stdio s;
	FILE *fp;
	int errno_before;
	bool had_error;
};

static void rg_stdio_quiet_begin(struct rg_stdio_quiet *q, FILE *fp, int fd)
{
	q->fp = fp;
	q->errno_before = errno;
	q->had_error = fp && ferror_unlocked(fp);
	rg_stdio_begin(&q->s, fd, rg_stdio_socket(fd));
}

static void rg_stdio_quiet_end(struct rg_stdio_quiet *q, const char *op)
{
	int now = errno;
	bool failed = (q->fp && ferror_unlocked(q->fp) && !q->had_error) ||
		      (now != q->errno_before && (now == EPIPE || now == ECONNRESET));

	rg_stdio_finish(&q->s, op, failed, q->s.e != NULL);
}

/* NOLINTBEGIN(bugprone-macro-parentheses): as above */
#define RG_STDIO_VOID_WRAP(name, params, args, stream, fd_expr, op) \
	RG_EXPORT void name params                                  \
	{                                                           \
		int fd_ = (fd_expr);                                \
		struct rg_stdio_quiet q_;                           \
                                                                    \
		if (RG_LIKELY(!rg_stdio_socket(fd_))) {             \
			rg_libc(name) args;                         \
			return;                                     \
		}                                                   \
		rg_stdio_quiet_begin(&q_, stream, fd_);             \
		rg_libc(name) args;                                 \
		rg_stdio_quiet_end(&q_, op);                        \
	}
RG_STDIO_VOID_CALLS(RG_STDIO_VOID_WRAP)
#undef RG_STDIO_VOID_WRAP
/* NOLINTEND(bugprone-macro-parentheses) */

/* The variadic forms go through the wrapped va_list ones. */
/* NOLINTBEGIN(bugprone-macro-parentheses): as above */
#define RG_STDIO_VARIADIC(name, type, params, last, vcall) \
	RG_EXPORT type name params                         \
	{                                                  \
		va_list ap;                                \
                                                           \
		va_start(ap, last);                        \
		type ret = vcall;                          \
		va_end(ap);                                \
		return ret;                                \
	}
/* NOLINTBEGIN(clang-analyzer-valist.Uninitialized): ap is started; the
 * analyzer loses it in calls to this file's own v-functions. */
RG_STDIO_VARIADIC(fprintf, int, (FILE *fp, const char *fmt, ...), fmt, vfprintf(fp, fmt, ap))
RG_STDIO_VARIADIC(_IO_fprintf, int, (FILE *fp, const char *fmt, ...), fmt, vfprintf(fp, fmt, ap))
RG_STDIO_VARIADIC(__fprintf_chk, int, (FILE *fp, int flag, const char *fmt, ...), fmt,
		  __vfprintf_chk(fp, flag, fmt, ap))
RG_STDIO_VARIADIC(printf, int, (const char *fmt, ...), fmt, vprintf(fmt, ap))
RG_STDIO_VARIADIC(_IO_printf, int, (const char *fmt, ...), fmt, vprintf(fmt, ap))
RG_STDIO_VARIADIC(__printf_chk, int, (int flag, const char *fmt, ...), fmt,
		  __vprintf_chk(flag, fmt, ap))
RG_STDIO_VARIADIC(dprintf, int, (int fd, const char *fmt, ...), fmt, vdprintf(fd, fmt, ap))
RG_STDIO_VARIADIC(__dprintf_chk, int, (int fd, int flag, const char *fmt, ...), fmt,
		  __vdprintf_chk(fd, flag, fmt, ap))
RG_STDIO_VARIADIC(fwprintf, int, (FILE *fp, const wchar_t *fmt, ...), fmt, vfwprintf(fp, fmt, ap))
RG_STDIO_VARIADIC(__fwprintf_chk, int, (FILE *fp, int flag, const wchar_t *fmt, ...), fmt,
		  __vfwprintf_chk(fp, flag, fmt, ap))
RG_STDIO_VARIADIC(wprintf, int, (const wchar_t *fmt, ...), fmt, vwprintf(fmt, ap))
RG_STDIO_VARIADIC(__wprintf_chk, int, (int flag, const wchar_t *fmt, ...), fmt,
		  __vwprintf_chk(flag, fmt, ap))
/* NOLINTEND(clang-analyzer-valist.Uninitialized) */
#undef RG_STDIO_VARIADIC
/* NOLINTEND(bugprone-macro-parentheses) */

RG_EXPORT void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): as above */
	va_end(ap);
}

RG_EXPORT void warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): as above */
	va_end(ap);
}

/* glibc's err family is its warn family and exit(): the message is
 * written under the guard, and exit() runs without it. */
RG_EXPORT void verr(int status, const char *fmt, va_list ap)
{
	vwarn(fmt, ap);
	exit(status);
}

RG_EXPORT void verrx(int status, const char *fmt, va_list ap)
{
	vwarnx(fmt, ap);
	exit(status);
}

RG_EXPORT void err(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): as above */
	va_end(ap);
	exit(status);
}

RG_EXPORT void errx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): as above */
	va_end(ap);
	exit(status);
}

/* error() and error_at_line() flush stdout, then write to stderr: both may
 * be sockets.  They are variadic and glibc has no va_list form, so the
 * message is formatted here (errno kept for %m) and printed with "%s". */
struct rg_stdio_error {
	struct rg_stdio_quiet out, err;
	unsigned int count;
	char *msg;
	char buf[512];
};

__attribute__((format(printf, 2, 0))) static void
rg_stdio_error_begin(struct rg_stdio_error *r, const char *fmt, va_list ap)
{
	int saved = errno, n;
	va_list first;

	va_copy(first, ap);
	r->msg = r->buf;
	/* Both callers va_start() ap; clang-analyzer loses that across the
	 * call from error_at_line(). */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	n = vsnprintf(r->buf, sizeof(r->buf), fmt, first);
	va_end(first);
	if (n >= (int)sizeof(r->buf)) {
		errno = saved;
		if (vasprintf(&r->msg, fmt, ap) < 0)
			r->msg = r->buf; /* the cut message, rather than none */
	}
	r->count = error_message_count;
	errno = saved;
	rg_stdio_quiet_begin(&r->out, stdout, rg_stdio_fd(stdout));
	rg_stdio_quiet_begin(&r->err, stderr, rg_stdio_fd(stderr));
}

/* glibc's error(status != 0) exits once it has printed; so does this, after
 * the guard (error_at_line() may print nothing, and then returns). */
static void rg_stdio_error_end(struct rg_stdio_error *r, int status)
{
	rg_stdio_quiet_end(&r->err, "error");
	rg_stdio_quiet_end(&r->out, "error");
	if (r->msg != r->buf)
		free(r->msg);
	if (status && error_message_count != r->count)
		exit(status);
}

RG_EXPORT void error(int status, int errnum, const char *fmt, ...)
{
	struct rg_stdio_error r;
	va_list ap;

	va_start(ap, fmt);
	rg_stdio_error_begin(&r, fmt, ap);
	va_end(ap);
	rg_libc(error)(0, errnum, "%s", r.msg);
	rg_stdio_error_end(&r, status);
}

RG_EXPORT void error_at_line(int status, int errnum, const char *file, unsigned int line,
			     const char *fmt, ...)
{
	struct rg_stdio_error r;
	va_list ap;

	va_start(ap, fmt);
	rg_stdio_error_begin(&r, fmt, ap);
	va_end(ap);
	rg_libc(error_at_line)(0, errnum, file, line, "%s", r.msg);
	rg_stdio_error_end(&r, status);
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

	rg_stdio_begin(&s, rg_stdio_fd(fp), rg_stdio_socket(rg_stdio_fd(fp)));
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

/* The same function in glibc, under its old name. */
RG_EXPORT int _IO_fclose(FILE *fp)
{
	return fclose(fp);
}
