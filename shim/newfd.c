/* Calls that make a new descriptor and are not about sockets (those are in
 * socket.c, epoll's in bindings.c, dup's in dup.c).  Each is wrapped for
 * two reasons: an EMFILE that resetguard's own descriptors caused is undone
 * (RG_RETRY_EMFILE, ownfd.h), and the new number's table entry starts
 * afresh (rg_fd_created), whatever a close resetguard did not see left in
 * it.  Everything else passes straight through. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pty.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "fdtable.h"
#include "ownfd.h"
#include "real.h"

/* Declared by glibc only in fortified builds. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

#define RG_NEW_FD(call) rg_fd_created(RG_RETRY_EMFILE(call))

/* A FILE's descriptor keeps its number. */
static FILE *rg_new_stream(FILE *fp)
{
	if (fp)
		rg_fd_created_from(fileno(fp), 0, false);
	return fp;
}

static int rg_new_pair(int ret, int fds[2])
{
	if (ret == 0)
		rg_fd_created_set(fds, 2);
	return ret;
}

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

/* The open() family is on a server's every request (nginx opens the file
 * it serves each time).  Its arguments, needed again only to retry after
 * an EMFILE, wait in memory across the call: kept in callee-saved
 * registers, they would cost the common path a dozen instructions more. */
struct rg_open_args {
	const char *path;
	int flags;
	mode_t mode;
};

struct rg_openat_args {
	const char *path;
	int flags;
	mode_t mode;
	int dirfd;
};

/* The retry of a failed open: RG_RETRY_EMFILE's loop, out of line. */
#define RG_OPEN_AGAIN(name, args, call)                                                    \
	static __attribute__((noinline, cold)) int name(const struct args *a)              \
	{                                                                                  \
		int fd = -1;                                                               \
		while (errno == EMFILE && rg_own_give_up_from(0) && (fd = (call)) < 0)     \
			;                                                                  \
		return fd < 0 ? fd : rg_fd_created(fd);                                    \
	}
RG_OPEN_AGAIN(rg_open_again, rg_open_args, rg_libc(open)(a->path, a->flags, a->mode))
RG_OPEN_AGAIN(rg_open64_again, rg_open_args, rg_libc(open64)(a->path, a->flags, a->mode))
RG_OPEN_AGAIN(rg_openat_again, rg_openat_args,
	      rg_libc(openat)(a->dirfd, a->path, a->flags, a->mode))
RG_OPEN_AGAIN(rg_openat64_again, rg_openat_args,
	      rg_libc(openat64)(a->dirfd, a->path, a->flags, a->mode))

/* The mode is passed from a register, not read back from a. */
#define RG_OPEN(again, call)                                               \
	({                                                                 \
		__asm__ volatile("" : : "m"(a)); /* in memory before the call */ \
		int rg_fd_ = (call);                                       \
		RG_UNLIKELY(rg_fd_ < 0) ? again(&a) : rg_fd_created(rg_fd_); \
	})

RG_EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	RG_OPEN_MODE(flags, mode); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	struct rg_open_args a = { path, flags, mode };

	return RG_OPEN(rg_open_again, rg_libc(open)(path, flags, mode));
}

RG_EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	RG_OPEN_MODE(flags, mode); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	struct rg_open_args a = { path, flags, mode };

	return RG_OPEN(rg_open64_again, rg_libc(open64)(path, flags, mode));
}

RG_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	RG_OPEN_MODE(flags, mode); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	struct rg_openat_args a = { path, flags, mode, dirfd };

	return RG_OPEN(rg_openat_again, rg_libc(openat)(dirfd, path, flags, mode));
}

RG_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	RG_OPEN_MODE(flags, mode); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	struct rg_openat_args a = { path, flags, mode, dirfd };

	return RG_OPEN(rg_openat64_again, rg_libc(openat64)(dirfd, path, flags, mode));
}

RG_EXPORT int __open_2(const char *path, int flags)
{
	return RG_NEW_FD(rg_libc(__open_2)(path, flags));
}

RG_EXPORT int __open64_2(const char *path, int flags)
{
	return RG_NEW_FD(rg_libc(__open64_2)(path, flags));
}

RG_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return RG_NEW_FD(rg_libc(__openat_2)(dirfd, path, flags));
}

RG_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return RG_NEW_FD(rg_libc(__openat64_2)(dirfd, path, flags));
}

RG_EXPORT int creat(const char *path, mode_t mode)
{
	return RG_NEW_FD(rg_libc(creat)(path, mode));
}

RG_EXPORT int creat64(const char *path, mode_t mode)
{
	return RG_NEW_FD(rg_libc(creat64)(path, mode));
}

RG_EXPORT int open_by_handle_at(int mount_fd, struct file_handle *handle, int flags)
{
	return RG_NEW_FD(rg_libc(open_by_handle_at)(mount_fd, handle, flags));
}

RG_EXPORT int pipe(int fds[2])
{
	return rg_new_pair(RG_RETRY_EMFILE(rg_libc(pipe)(fds)), fds);
}

RG_EXPORT int pipe2(int fds[2], int flags)
{
	return rg_new_pair(RG_RETRY_EMFILE(rg_libc(pipe2)(fds, flags)), fds);
}

RG_EXPORT int eventfd(unsigned int count, int flags)
{
	return RG_NEW_FD(rg_libc(eventfd)(count, flags));
}

RG_EXPORT int timerfd_create(int clock, int flags)
{
	return RG_NEW_FD(rg_libc(timerfd_create)(clock, flags));
}

/* With fd -1 it makes a new descriptor; with an existing one it changes
 * that one's mask and returns it. */
RG_EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
	if (fd != -1)
		return rg_libc(signalfd)(fd, mask, flags);
	return RG_NEW_FD(rg_libc(signalfd)(fd, mask, flags));
}

RG_EXPORT int inotify_init(void)
{
	return RG_NEW_FD(rg_libc(inotify_init)());
}

RG_EXPORT int inotify_init1(int flags)
{
	return RG_NEW_FD(rg_libc(inotify_init1)(flags));
}

RG_EXPORT int fanotify_init(unsigned int flags, unsigned int event_flags)
{
	return RG_NEW_FD(rg_libc(fanotify_init)(flags, event_flags));
}

RG_EXPORT int memfd_create(const char *name, unsigned int flags)
{
	return RG_NEW_FD(rg_libc(memfd_create)(name, flags));
}

RG_EXPORT int pidfd_open(pid_t pid, unsigned int flags)
{
	return RG_NEW_FD(rg_libc(pidfd_open)(pid, flags));
}

RG_EXPORT int pidfd_getfd(int pidfd, int targetfd, unsigned int flags)
{
	return RG_NEW_FD(rg_libc(pidfd_getfd)(pidfd, targetfd, flags));
}

RG_EXPORT int posix_openpt(int flags)
{
	return RG_NEW_FD(rg_libc(posix_openpt)(flags));
}

/* mkstemp() and its kin replace the template's XXXXXX before they try
 * to open: a retry after EMFILE needs them back. */
struct rg_template {
	char *x;
	char saved[6];
};

static void rg_template_keep(struct rg_template *t, char *template, int suffixlen)
{
	size_t len = strlen(template);

	t->x = len >= (size_t)suffixlen + 6 && suffixlen >= 0 ? template + len - suffixlen - 6 : NULL;
	if (t->x)
		memcpy(t->saved, t->x, 6);
}

static bool rg_template_again(const struct rg_template *t)
{
	if (errno != EMFILE || !t->x || !rg_own_give_up_from(0))
		return false;
	memcpy(t->x, t->saved, 6);
	return true;
}

#define RG_NEW_TEMP(template, suffixlen, call)                 \
	({                                                     \
		struct rg_template rg_t_;                      \
		int rg_fd_;                                    \
		rg_template_keep(&rg_t_, template, suffixlen); \
		while ((rg_fd_ = (call)) < 0 && rg_template_again(&rg_t_)) \
			;                                      \
		rg_fd_created(rg_fd_);                         \
	})

RG_EXPORT int mkstemp(char *template)
{
	return RG_NEW_TEMP(template, 0, rg_libc(mkstemp)(template));
}

RG_EXPORT int mkstemp64(char *template)
{
	return RG_NEW_TEMP(template, 0, rg_libc(mkstemp64)(template));
}

RG_EXPORT int mkostemp(char *template, int flags)
{
	return RG_NEW_TEMP(template, 0, rg_libc(mkostemp)(template, flags));
}

RG_EXPORT int mkostemp64(char *template, int flags)
{
	return RG_NEW_TEMP(template, 0, rg_libc(mkostemp64)(template, flags));
}

RG_EXPORT int mkstemps(char *template, int suffixlen)
{
	return RG_NEW_TEMP(template, suffixlen, rg_libc(mkstemps)(template, suffixlen));
}

RG_EXPORT int mkstemps64(char *template, int suffixlen)
{
	return RG_NEW_TEMP(template, suffixlen, rg_libc(mkstemps64)(template, suffixlen));
}

RG_EXPORT int mkostemps(char *template, int suffixlen, int flags)
{
	return RG_NEW_TEMP(template, suffixlen, rg_libc(mkostemps)(template, suffixlen, flags));
}

RG_EXPORT int mkostemps64(char *template, int suffixlen, int flags)
{
	return RG_NEW_TEMP(template, suffixlen, rg_libc(mkostemps64)(template, suffixlen, flags));
}

RG_EXPORT int shm_open(const char *name, int flags, mode_t mode)
{
	return RG_NEW_FD(rg_libc(shm_open)(name, flags, mode));
}

/* Its mode and attributes exist only with O_CREAT. */
RG_EXPORT mqd_t mq_open(const char *name, int flags, ...)
{
	mode_t mode = 0;
	struct mq_attr *attr = NULL;

	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		/* The analyzer loses the va_list started just above, as in
		 * RG_OPEN_MODE. */
		mode = va_arg(ap, mode_t); /* NOLINT(clang-analyzer-valist.Uninitialized) */
		attr = va_arg(ap, struct mq_attr *);
		va_end(ap);
	}
	return RG_NEW_FD(rg_libc(mq_open)(name, flags, mode, attr));
}

RG_EXPORT int getpt(void)
{
	return RG_NEW_FD(rg_libc(getpt)());
}

RG_EXPORT int openpty(int *amaster, int *aslave, char *name, const struct termios *termp,
		      const struct winsize *winp)
{
	int ret = RG_RETRY_EMFILE(rg_libc(openpty)(amaster, aslave, name, termp, winp));

	if (ret == 0) {
		int fds[2] = { *amaster, *aslave };

		rg_fd_created_set(fds, 2);
		*amaster = fds[0];
		*aslave = fds[1];
	}
	return ret;
}

RG_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return rg_new_stream(RG_RETRY_EMFILE_PTR(rg_libc(fopen)(path, mode)));
}

RG_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return rg_new_stream(RG_RETRY_EMFILE_PTR(rg_libc(fopen64)(path, mode)));
}

RG_EXPORT FILE *tmpfile(void)
{
	return rg_new_stream(RG_RETRY_EMFILE_PTR(rg_libc(tmpfile)()));
}

RG_EXPORT FILE *tmpfile64(void)
{
	return rg_new_stream(RG_RETRY_EMFILE_PTR(rg_libc(tmpfile64)()));
}

RG_EXPORT DIR *opendir(const char *path)
{
	DIR *dir = RG_RETRY_EMFILE_PTR(rg_libc(opendir)(path));

	if (dir)
		rg_fd_created_from(dirfd(dir), 0, false);
	return dir;
}

/* The descriptor limit decides where resetguard's own descriptors live
 * (ownfd.c): a program that raises it gets the numbers below the new top
 * back from them. */
static int rg_limit_set(int ret, int resource, const struct rlimit *limit, pid_t pid)
{
	if (ret == 0 && resource == RLIMIT_NOFILE && limit && (pid == 0 || pid == getpid())) {
		int saved = errno;

		rg_own_limit_changed();
		errno = saved;
	}
	return ret;
}

/* AddressSanitizer and ThreadSanitizer set RLIMIT_CORE while they
 * initialise, before their shadow memory exists and before this library's
 * constructor: on that path nothing may touch instrumented code or memory,
 * so the real call is found here, uninstrumented, and only RLIMIT_NOFILE
 * goes on. */
#define RG_BEFORE_SANITIZERS __attribute__((no_sanitize("address", "thread", "undefined")))

RG_BEFORE_SANITIZERS static int rg_real_setrlimit(__rlimit_resource_t resource,
						  const struct rlimit *limit)
{
	int (*real)(__rlimit_resource_t, const struct rlimit *) =
		__atomic_load_n(&rg_real.setrlimit, __ATOMIC_RELAXED);

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "setrlimit");
	return real(resource, limit);
}

RG_BEFORE_SANITIZERS RG_EXPORT int setrlimit(__rlimit_resource_t resource,
					     const struct rlimit *limit)
{
	int ret = rg_real_setrlimit(resource, limit);

	return resource == RLIMIT_NOFILE ? rg_limit_set(ret, (int)resource, limit, 0) : ret;
}

RG_EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit)
{
	return rg_limit_set(rg_libc(setrlimit64)(resource, limit), (int)resource,
			    (const struct rlimit *)limit, 0);
}

RG_EXPORT int prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *limit,
		      struct rlimit *old)
{
	return rg_limit_set(rg_libc(prlimit)(pid, resource, limit, old), (int)resource, limit, pid);
}

RG_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *limit,
			struct rlimit64 *old)
{
	return rg_limit_set(rg_libc(prlimit64)(pid, resource, limit, old), (int)resource,
			    (const struct rlimit *)limit, pid);
}
