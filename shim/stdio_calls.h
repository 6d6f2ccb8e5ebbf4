/* The stdio entry points that can write to a descriptor: one table, from
 * which stdio.c makes the wrappers and real.h the pointers to the real
 * calls.  shim/stdio-entry-points.txt says why each other exported glibc
 * name of the kind needs none; tests/stdio.bats holds glibc to both. */
#ifndef RG_STDIO_CALLS_H
#define RG_STDIO_CALLS_H

#include <gshadow.h>
#include <grp.h>
#include <netdb.h>
#include <printf.h>
#include <pwd.h>
#include <shadow.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <wchar.h>

/* X(name, type, params, args, fd, op, failed): fd is the descriptor the
 * call may write to (-1: none worth a guard), op the name it is logged
 * under, failed whether the result `ret` says it failed.  The fortified
 * __*_chk forms and the old _IO_* names are logged as the plain call. */
#define RG_STDIO_FILE_CALLS(X)                                                                    \
	X(fwrite, size_t, (const void *buf, size_t size, size_t n, FILE *fp), (buf, size, n, fp), \
	  rg_stdio_fd(fp), "fwrite", ret < n && size > 0)                                         \
	X(fwrite_unlocked, size_t, (const void *buf, size_t size, size_t n, FILE *fp),            \
	  (buf, size, n, fp), rg_stdio_fd(fp), "fwrite_unlocked", ret < n && size > 0)            \
	X(_IO_fwrite, size_t, (const void *buf, size_t size, size_t n, FILE *fp),                 \
	  (buf, size, n, fp), rg_stdio_fd(fp), "fwrite", ret < n && size > 0)                     \
	X(fputs, int, (const char *str, FILE *fp), (str, fp), rg_stdio_fd(fp), "fputs",           \
	  ret == EOF)                                                                             \
	X(fputs_unlocked, int, (const char *str, FILE *fp), (str, fp), rg_stdio_fd(fp),           \
	  "fputs_unlocked", ret == EOF)                                                           \
	X(_IO_fputs, int, (const char *str, FILE *fp), (str, fp), rg_stdio_fd(fp), "fputs",       \
	  ret == EOF)                                                                             \
	X(puts, int, (const char *str), (str), rg_stdio_fd(stdout), "puts", ret == EOF)           \
	X(_IO_puts, int, (const char *str), (str), rg_stdio_fd(stdout), "puts", ret == EOF)       \
	X(fputc, int, (int c, FILE *fp), (c, fp), rg_stdio_fd(fp), "fputc", ret == EOF)           \
	X(fputc_unlocked, int, (int c, FILE *fp), (c, fp), rg_stdio_fd(fp), "fputc_unlocked",     \
	  ret == EOF)                                                                             \
	X(putc, int, (int c, FILE *fp), (c, fp), rg_stdio_fd(fp), "putc", ret == EOF)             \
	X(putc_unlocked, int, (int c, FILE *fp), (c, fp), rg_stdio_fd(fp), "putc_unlocked",       \
	  ret == EOF)                                                                             \
	X(_IO_putc, int, (int c, FILE *fp), (c, fp), rg_stdio_fd(fp), "putc", ret == EOF)         \
	X(putchar, int, (int c), (c), rg_stdio_fd(stdout), "putchar", ret == EOF)                 \
	X(putchar_unlocked, int, (int c), (c), rg_stdio_fd(stdout), "putchar_unlocked",           \
	  ret == EOF)                                                                             \
	/* What the inline putc_unlocked() of an optimised build calls when the \
	 * buffer is full, or on every character when it is unbuffered. */   \
	X(__overflow, int, (FILE *fp, int c), (fp, c), rg_stdio_fd(fp), "__overflow", ret == EOF) \
	X(putw, int, (int w, FILE *fp), (w, fp), rg_stdio_fd(fp), "putw", ret == EOF)             \
	X(fflush, int, (FILE *fp), (fp), rg_stdio_flushing(fp), "fflush", ret == EOF)             \
	X(fflush_unlocked, int, (FILE *fp), (fp), rg_stdio_flushing(fp), "fflush_unlocked",       \
	  ret == EOF)                                                                             \
	X(_IO_fflush, int, (FILE *fp), (fp), rg_stdio_flushing(fp), "fflush", ret == EOF)         \
	/* Both flush every stream (fcloseall() closes none). */            \
	X(fcloseall, int, (void), (), rg_stdio_flushing(NULL), "fcloseall", ret == EOF)          \
	X(_IO_flush_all, int, (void), (), rg_stdio_flushing(NULL), "fflush", ret == EOF)          \
	X(vfprintf, int, (FILE *fp, const char *fmt, va_list ap), (fp, fmt, ap), rg_stdio_fd(fp), \
	  "fprintf", ret < 0)                                                                     \
	X(_IO_vfprintf, int, (FILE *fp, const char *fmt, va_list ap), (fp, fmt, ap),             \
	  rg_stdio_fd(fp), "fprintf", ret < 0)                                                    \
	X(__vfprintf_chk, int, (FILE *fp, int flag, const char *fmt, va_list ap),                 \
	  (fp, flag, fmt, ap), rg_stdio_fd(fp), "fprintf", ret < 0)                               \
	X(vprintf, int, (const char *fmt, va_list ap), (fmt, ap), rg_stdio_fd(stdout), "fprintf", \
	  ret < 0)                                                                                \
	X(__vprintf_chk, int, (int flag, const char *fmt, va_list ap), (flag, fmt, ap),           \
	  rg_stdio_fd(stdout), "fprintf", ret < 0)                                                \
	/* glibc's own printf hooks, which programs may call directly. */   \
	X(printf_size, int, (FILE *fp, const struct printf_info *info, const void *const *args),  \
	  (fp, info, args), rg_stdio_fd(fp), "fprintf", ret < 0)                                  \
	X(__printf_fp, int, (FILE *fp, const struct printf_info *info, const void *const *args),  \
	  (fp, info, args), rg_stdio_fd(fp), "fprintf", ret < 0)                                  \
	/* dprintf() writes through a FILE of its own on the stack. */        \
	X(vdprintf, int, (int fd, const char *fmt, va_list ap), (fd, fmt, ap), fd, "dprintf",     \
	  ret < 0)                                                                                \
	X(__vdprintf_chk, int, (int fd, int flag, const char *fmt, va_list ap),                   \
	  (fd, flag, fmt, ap), fd, "dprintf", ret < 0)                                            \
	X(fputwc, wint_t, (wchar_t wc, FILE *fp), (wc, fp), rg_stdio_fd(fp), "fputwc",            \
	  ret == WEOF)                                                                            \
	X(fputwc_unlocked, wint_t, (wchar_t wc, FILE *fp), (wc, fp), rg_stdio_fd(fp),             \
	  "fputwc_unlocked", ret == WEOF)                                                         \
	X(putwc, wint_t, (wchar_t wc, FILE *fp), (wc, fp), rg_stdio_fd(fp), "putwc", ret == WEOF) \
	X(putwc_unlocked, wint_t, (wchar_t wc, FILE *fp), (wc, fp), rg_stdio_fd(fp),              \
	  "putwc_unlocked", ret == WEOF)                                                          \
	X(putwchar, wint_t, (wchar_t wc), (wc), rg_stdio_fd(stdout), "putwchar", ret == WEOF)     \
	X(putwchar_unlocked, wint_t, (wchar_t wc), (wc), rg_stdio_fd(stdout),                     \
	  "putwchar_unlocked", ret == WEOF)                                                       \
	X(fputws, int, (const wchar_t *str, FILE *fp), (str, fp), rg_stdio_fd(fp), "fputws",      \
	  ret < 0)                                                                                \
	X(fputws_unlocked, int, (const wchar_t *str, FILE *fp), (str, fp), rg_stdio_fd(fp),       \
	  "fputws_unlocked", ret < 0)                                                             \
	X(__woverflow, wint_t, (FILE *fp, wint_t wc), (fp, wc), rg_stdio_fd(fp), "__woverflow",   \
	  ret == WEOF)                                                                            \
	X(vfwprintf, int, (FILE *fp, const wchar_t *fmt, va_list ap), (fp, fmt, ap),              \
	  rg_stdio_fd(fp), "fwprintf", ret < 0)                                                   \
	X(__vfwprintf_chk, int, (FILE *fp, int flag, const wchar_t *fmt, va_list ap),             \
	  (fp, flag, fmt, ap), rg_stdio_fd(fp), "fwprintf", ret < 0)                              \
	X(vwprintf, int, (const wchar_t *fmt, va_list ap), (fmt, ap), rg_stdio_fd(stdout),        \
	  "fwprintf", ret < 0)                                                                    \
	X(__vwprintf_chk, int, (int flag, const wchar_t *fmt, va_list ap), (flag, fmt, ap),       \
	  rg_stdio_fd(stdout), "fwprintf", ret < 0)                                               \
	/* The account files' writers print to any FILE they are given. */   \
	X(putpwent, int, (const struct passwd *ent, FILE *fp), (ent, fp), rg_stdio_fd(fp),        \
	  "putpwent", ret < 0)                                                                    \
	X(putgrent, int, (const struct group *ent, FILE *fp), (ent, fp), rg_stdio_fd(fp),         \
	  "putgrent", ret < 0)                                                                    \
	X(putspent, int, (const struct spwd *ent, FILE *fp), (ent, fp), rg_stdio_fd(fp),          \
	  "putspent", ret < 0)                                                                    \
	X(putsgent, int, (const struct sgrp *ent, FILE *fp), (ent, fp), rg_stdio_fd(fp),          \
	  "putsgent", ret < 0)                                                                    \
	/* Positioning, and a new buffer, write what is pending first (on a  \
	 * socket the seek itself then fails with ESPIPE). */                  \
	X(fseek, int, (FILE *fp, long off, int whence), (fp, off, whence), rg_stdio_fd(fp),       \
	  "fseek", ret != 0)                                                                      \
	X(fseeko, int, (FILE *fp, off_t off, int whence), (fp, off, whence), rg_stdio_fd(fp),     \
	  "fseek", ret != 0)                                                                      \
	X(fseeko64, int, (FILE *fp, off64_t off, int whence), (fp, off, whence), rg_stdio_fd(fp), \
	  "fseek", ret != 0)                                                                      \
	X(fsetpos, int, (FILE *fp, const fpos_t *pos), (fp, pos), rg_stdio_fd(fp), "fsetpos",     \
	  ret != 0)                                                                               \
	X(_IO_fsetpos, int, (FILE *fp, const fpos_t *pos), (fp, pos), rg_stdio_fd(fp), "fsetpos", \
	  ret != 0)                                                                               \
	X(fsetpos64, int, (FILE *fp, const fpos64_t *pos), (fp, pos), rg_stdio_fd(fp), "fsetpos", \
	  ret != 0)                                                                               \
	X(_IO_fsetpos64, int, (FILE *fp, const fpos64_t *pos), (fp, pos), rg_stdio_fd(fp),        \
	  "fsetpos", ret != 0)                                                                    \
	X(setvbuf, int, (FILE *fp, char *buf, int mode, size_t size), (fp, buf, mode, size),      \
	  rg_stdio_fd(fp), "setvbuf", ret != 0)                                                   \
	X(_IO_setvbuf, int, (FILE *fp, char *buf, int mode, size_t size), (fp, buf, mode, size),  \
	  rg_stdio_fd(fp), "setvbuf", ret != 0)

/* X(name, params, args, stream, fd, op): calls that return nothing; a
 * failure shows in the stream's error flag or in errno.  Most write to
 * stderr, which is the client's socket in an inetd-style service. */
#define RG_STDIO_VOID_CALLS(X)                                                                \
	X(perror, (const char *str), (str), stderr, rg_stdio_fd(stderr), "perror")            \
	X(psignal, (int sig, const char *str), (sig, str), stderr, rg_stdio_fd(stderr),       \
	  "psignal")                                                                          \
	X(psiginfo, (const siginfo_t *info, const char *str), (info, str), stderr,            \
	  rg_stdio_fd(stderr), "psiginfo")                                                    \
	/* writev() to descriptor 2, from inside libc */                                     \
	X(herror, (const char *str), (str), stderr, 2, "herror")                              \
	X(vwarn, (const char *fmt, va_list ap), (fmt, ap), stderr, rg_stdio_fd(stderr), "warn") \
	X(vwarnx, (const char *fmt, va_list ap), (fmt, ap), stderr, rg_stdio_fd(stderr), "warn") \
	X(rewind, (FILE *fp), (fp), fp, rg_stdio_fd(fp), "rewind")                            \
	X(setbuf, (FILE *fp, char *buf), (fp, buf), fp, rg_stdio_fd(fp), "setvbuf")           \
	X(setbuffer, (FILE *fp, char *buf, size_t size), (fp, buf, size), fp, rg_stdio_fd(fp), \
	  "setvbuf")                                                                          \
	X(_IO_setbuffer, (FILE *fp, char *buf, size_t size), (fp, buf, size), fp,             \
	  rg_stdio_fd(fp), "setvbuf")                                                         \
	/* They flush the line-buffered streams (glibc does before it reads  \
	 * from a terminal): those on sockets first, here. */                  \
	X(_flushlbf, (void), (), NULL, rg_stdio_flushing_lines(), "fflush")                   \
	X(_IO_flush_all_linebuffered, (void), (), NULL, rg_stdio_flushing_lines(), "fflush")

#endif
