/* Built for musl: what the library relies on that musl does not declare,
 * or declares differently.  Only the musl build sees this directory (the
 * Makefile puts it on the include path and includes this file first), and
 * shim/libc.h has glibc's side.  What each difference means for a musl
 * program is in resetguard(7), "musl". */
#ifndef RG_MUSL_COMPAT_H
#define RG_MUSL_COMPAT_H
#define RG_LIBC_MUSL 1

#include <errno.h>
#include <fcntl.h>
#include <limits.h> /* PATH_MAX: glibc's headers bring it in with others */
#include <linux/close_range.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* musl defines the large-file names as macros for the plain ones (off_t is
 * 64 bits everywhere); the library still defines them, for nothing calls
 * them in a musl program, so that the two builds export the same names. */
#undef open64
#undef openat64
#undef creat64
#undef sendfile64
#undef mkstemp64
#undef mkostemp64
#undef mkstemps64
#undef mkostemps64
#undef fopen64
#undef freopen64
#undef tmpfile64
#undef fseeko64
#undef fsetpos64
#undef setrlimit64
#undef prlimit64
int open64(const char *path, int flags, ...);
int openat64(int dirfd, const char *path, int flags, ...);
int creat64(const char *path, mode_t mode);
ssize_t sendfile64(int out, int in, off_t *offset, size_t count);
int mkstemp64(char *tmpl);
int mkostemp64(char *tmpl, int flags);
int mkstemps64(char *tmpl, int suffixlen);
int mkostemps64(char *tmpl, int suffixlen, int flags);
FILE *fopen64(const char *path, const char *mode);
FILE *freopen64(const char *path, const char *mode, FILE *fp);
FILE *tmpfile64(void);
int fseeko64(FILE *fp, off_t off, int whence);
int fsetpos64(FILE *fp, const fpos_t *pos);
int setrlimit64(int resource, const struct rlimit *rlim);
int prlimit64(pid_t pid, int resource, const struct rlimit *new_limit, struct rlimit *old);

/* musl's CMSG_NXTHDR() converts a negative mask to unsigned, which
 * -Wsign-conversion reports where it is used: the same mask, unsigned. */
#undef __CMSG_LEN
#define __CMSG_LEN(cmsg) (((cmsg)->cmsg_len + sizeof(long) - 1) & ~(sizeof(long) - 1))

/* glibc's names the library wraps and musl has not: built, never called. */
typedef int __rlimit_resource_t;
int fcntl64(int fd, int cmd, ...);
int close_range(unsigned int first, unsigned int last, int flags);
void closefrom(int lowfd);
int getpt(void);
int fcloseall(void);
int __overflow(FILE *fp, int c);
sighandler_t sysv_signal(int sig, sighandler_t handler);

/* glibc 2.32's names of an errno value, from a table of the library's own
 * (shim/musl/errnames.c); musl's strerror() texts differ from glibc's. */
const char *strerrorname_np(int err);
const char *strerrordesc_np(int err);

/* musl's prototypes (shim/libc.h has glibc's). */
typedef int rg_ioctl_request;
typedef unsigned int rg_mmsg_flags;

/* musl's FILE is opaque: its descriptor through fileno(), which sets errno
 * for a stream on memory. */
static inline int rg_file_fd(const FILE *fp)
{
	int saved = errno, fd = fileno((FILE *)fp);

	errno = saved;
	return fd;
}

/* linux/fs.h's per-call nonblocking write, which musl's sys/uio.h does not
 * define (sink.c passes it to the pwritev2 system call). */
#define RWF_NOWAIT 0x00000008

/* glibc's names are missing here by design: no warning for them. */
#define RG_LIBC_HAS_ALL 0

#endif
