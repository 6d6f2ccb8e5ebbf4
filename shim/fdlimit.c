/* Calls that create a descriptor and are not about sockets: wrapped only so
 * that an EMFILE caused by lingering sockets is undone (RG_RETRY_EMFILE,
 * drainer.h).  Everything else passes straight through. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "drainer.h"
#include "real.h"

/* Declared by glibc only in fortified builds. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

/* open()'s mode argument exists only when the flags create a file.  The
 * analyzer takes the va_list started inside the if for an uninitialised
 * one, hence the NOLINTs where it is used. */
#define RG_OPEN_MODE(flags, mode)                                                  \
	do {                                                                       \
		if ((flags) & O_CREAT || ((flags) & O_TMPFILE) == O_TMPFILE) {      \
			va_list ap;                                                \
			va_start(ap, flags);                                       \
			(mode) = va_arg(ap, mode_t);                               \
			va_end(ap);                                                \
		}                                                                  \
	} while (0)

RG_EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	RG_OPEN_MODE(flags, mode); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	return RG_RETRY_EMFILE(rg_libc(open)(path, flags, mode));
}

RG_EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	RG_OPEN_MODE(flags, mode); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	return RG_RETRY_EMFILE(rg_libc(open64)(path, flags, mode));
}

RG_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	RG_OPEN_MODE(flags, mode); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	return RG_RETRY_EMFILE(rg_libc(openat)(dirfd, path, flags, mode));
}

RG_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	RG_OPEN_MODE(flags, mode); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	return RG_RETRY_EMFILE(rg_libc(openat64)(dirfd, path, flags, mode));
}

RG_EXPORT int __open_2(const char *path, int flags)
{
	return RG_RETRY_EMFILE(rg_libc(__open_2)(path, flags));
}

RG_EXPORT int __open64_2(const char *path, int flags)
{
	return RG_RETRY_EMFILE(rg_libc(__open64_2)(path, flags));
}

RG_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return RG_RETRY_EMFILE(rg_libc(__openat_2)(dirfd, path, flags));
}

RG_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return RG_RETRY_EMFILE(rg_libc(__openat64_2)(dirfd, path, flags));
}

RG_EXPORT int pipe(int fds[2])
{
	return RG_RETRY_EMFILE(rg_libc(pipe)(fds));
}

RG_EXPORT int pipe2(int fds[2], int flags)
{
	return RG_RETRY_EMFILE(rg_libc(pipe2)(fds, flags));
}
