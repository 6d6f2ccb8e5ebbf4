/* The real libc entry points, found with dlsym(RTLD_NEXT) so that resetguard
 * chains with any other preloaded library instead of bypassing it. */
#ifndef RG_REAL_H
#define RG_REAL_H

#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "export.h"
#include "libc.h"
#include "stdio_calls.h"

/* X(name, return type, parameter list) for every call the shim forwards. */
#define RG_REAL_CALLS(X)                                                            \
	X(write, ssize_t, (int, const void *, size_t))                              \
	X(writev, ssize_t, (int, const struct iovec *, int))                        \
	X(send, ssize_t, (int, const void *, size_t, int))                          \
	X(sendto, ssize_t, (int, const void *, size_t, int, const struct sockaddr *, \
			    socklen_t))                                              \
	X(sendmsg, ssize_t, (int, const struct msghdr *, int))                      \
	X(sendmmsg, int, (int, struct mmsghdr *, unsigned int, rg_mmsg_flags))                \
	X(sendfile, ssize_t, (int, int, off_t *, size_t))                           \
	X(sendfile64, ssize_t, (int, int, off64_t *, size_t))                       \
	X(splice, ssize_t, (int, off64_t *, int, off64_t *, size_t, unsigned int))  \
	X(read, ssize_t, (int, void *, size_t))                                     \
	X(readv, ssize_t, (int, const struct iovec *, int))                         \
	X(recv, ssize_t, (int, void *, size_t, int))                                \
	X(recvfrom, ssize_t, (int, void *, size_t, int, struct sockaddr *,          \
			      socklen_t *))                                          \
	X(recvmsg, ssize_t, (int, struct msghdr *, int))                            \
	X(recvmmsg, int, (int, struct mmsghdr *, unsigned int, rg_mmsg_flags,       \
			  struct timespec *))                                        \
	X(__read_chk, ssize_t, (int, void *, size_t, size_t))                       \
	X(__recv_chk, ssize_t, (int, void *, size_t, size_t, int))                  \
	X(__recvfrom_chk, ssize_t, (int, void *, size_t, size_t, int,               \
				    struct sockaddr *, socklen_t *))                 \
	X(socket, int, (int, int, int))                                             \
	X(socketpair, int, (int, int, int, int[2]))                                 \
	X(accept, int, (int, struct sockaddr *, socklen_t *))                       \
	X(accept4, int, (int, struct sockaddr *, socklen_t *, int))                 \
	X(connect, int, (int, const struct sockaddr *, socklen_t))                  \
	X(listen, int, (int, int))                                                  \
	X(getsockopt, int, (int, int, int, void *, socklen_t *))                   \
	X(shutdown, int, (int, int))                                                \
	X(close, int, (int))                                                        \
	X(open, int, (const char *, int, ...))                                      \
	X(open64, int, (const char *, int, ...))                                    \
	X(openat, int, (int, const char *, int, ...))                               \
	X(openat64, int, (int, const char *, int, ...))                             \
	X(__open_2, int, (const char *, int))                                       \
	X(__open64_2, int, (const char *, int))                                     \
	X(__openat_2, int, (int, const char *, int))                                \
	X(__openat64_2, int, (int, const char *, int))                              \
	X(creat, int, (const char *, mode_t))                                       \
	X(creat64, int, (const char *, mode_t))                                     \
	X(open_by_handle_at, int, (int, struct file_handle *, int))                 \
	X(eventfd, int, (unsigned int, int))                                        \
	X(timerfd_create, int, (int, int))                                          \
	X(signalfd, int, (int, const sigset_t *, int))                              \
	X(inotify_init, int, (void))                                                \
	X(inotify_init1, int, (int))                                                \
	X(fanotify_init, int, (unsigned int, unsigned int))                         \
	X(memfd_create, int, (const char *, unsigned int))                          \
	X(pidfd_open, int, (pid_t, unsigned int))                                   \
	X(pidfd_getfd, int, (int, int, unsigned int))                               \
	X(posix_openpt, int, (int))                                                 \
	X(mkstemp, int, (char *))                                                   \
	X(mkstemp64, int, (char *))                                                 \
	X(mkostemp, int, (char *, int))                                             \
	X(mkostemp64, int, (char *, int))                                           \
	X(mkstemps, int, (char *, int))                                             \
	X(mkstemps64, int, (char *, int))                                           \
	X(mkostemps, int, (char *, int, int))                                       \
	X(mkostemps64, int, (char *, int, int))                                     \
	X(shm_open, int, (const char *, int, mode_t))                               \
	X(mq_open, mqd_t, (const char *, int, ...))                                 \
	X(getpt, int, (void))                                                       \
	X(openpty, int, (int *, int *, char *, const struct termios *,              \
			 const struct winsize *))                                    \
	X(fopen, FILE *, (const char *, const char *))                              \
	X(fopen64, FILE *, (const char *, const char *))                            \
	X(tmpfile, FILE *, (void))                                                  \
	X(tmpfile64, FILE *, (void))                                                \
	X(opendir, DIR *, (const char *))                                           \
	X(epoll_create, int, (int))                                                 \
	X(epoll_create1, int, (int))                                                \
	X(epoll_ctl, int, (int, int, int, struct epoll_event *))                    \
	X(ioctl, int, (int, rg_ioctl_request, ...))                                    \
	X(syscall, long, (long, ...))                                               \
	X(setrlimit, int, (__rlimit_resource_t, const struct rlimit *))             \
	X(setrlimit64, int, (__rlimit_resource_t, const struct rlimit64 *))         \
	X(prlimit, int, (pid_t, __rlimit_resource_t, const struct rlimit *, struct rlimit *)) \
	X(prlimit64, int, (pid_t, __rlimit_resource_t, const struct rlimit64 *,    \
			   struct rlimit64 *))                                       \
	X(pipe, int, (int[2]))                                                      \
	X(pipe2, int, (int[2], int))                                                \
	X(close_range, int, (unsigned int, unsigned int, int))                      \
	X(closefrom, void, (int))                                                   \
	X(dup, int, (int))                                                          \
	X(dup2, int, (int, int))                                                    \
	X(dup3, int, (int, int, int))                                               \
	X(fcntl, int, (int, int, ...))                                              \
	X(fcntl64, int, (int, int, ...))                                            \
	X(sigaction, int, (int, const struct sigaction *, struct sigaction *))      \
	X(signal, sighandler_t, (int, sighandler_t))                                \
	X(sysv_signal, sighandler_t, (int, sighandler_t))                           \
	X(bsd_signal, sighandler_t, (int, sighandler_t))                            \
	X(sigset, sighandler_t, (int, sighandler_t))                                \
	X(fdopen, FILE *, (int, const char *))                                      \
	X(fclose, int, (FILE *))                                                    \
	X(error, void, (int, int, const char *, ...))                               \
	X(error_at_line, void, (int, int, const char *, unsigned int, const char *, ...)) \
	X(_exit, void, (int))                                                       \
	X(_Exit, void, (int))                                                       \
	X(execve, int, (const char *, char *const[], char *const[]))                \
	X(execv, int, (const char *, char *const[]))                                \
	X(execvp, int, (const char *, char *const[]))                               \
	X(execvpe, int, (const char *, char *const[], char *const[]))               \
	X(fexecve, int, (int, char *const[], char *const[]))                        \
	X(posix_spawn, int, (pid_t *, const char *, const posix_spawn_file_actions_t *, \
			     const posix_spawnattr_t *, char *const[], char *const[])) \
	X(posix_spawnp, int, (pid_t *, const char *, const posix_spawn_file_actions_t *, \
			      const posix_spawnattr_t *, char *const[], char *const[])) \
	X(system, int, (const char *))                                              \
	X(popen, FILE *, (const char *, const char *))

/* Calls of libraries other than libc that some programs link: looked up
 * when first called, since such a library may be loaded after resetguard
 * (dlopen), and never complained about. */
struct io_uring;
struct io_uring_params;
#define RG_OPTIONAL_CALLS(X)                                                        \
	X(io_uring_queue_init, int, (unsigned, struct io_uring *, unsigned))        \
	X(io_uring_queue_init_params, int, (unsigned, struct io_uring *,           \
					    struct io_uring_params *))               \
	X(io_uring_queue_mmap, int, (int, struct io_uring_params *, struct io_uring *)) \
	X(io_uring_setup, int, (unsigned, struct io_uring_params *))

struct rg_real {
/* NOLINTNEXTLINE(bugprone-macro-parentheses): a declarator, not an expression */
#define RG_REAL_FIELD(name, ret, params) ret(*name) params;
	RG_REAL_CALLS(RG_REAL_FIELD)
#undef RG_REAL_FIELD
/* NOLINTBEGIN(bugprone-macro-parentheses): declarators, not expressions */
#define RG_REAL_STDIO_FIELD(name, type, params, ...) type(*name) params;
#define RG_REAL_VOID_FIELD(name, params, ...) void(*name) params;
	RG_STDIO_FILE_CALLS(RG_REAL_STDIO_FIELD)
	RG_STDIO_VOID_CALLS(RG_REAL_VOID_FIELD)
#undef RG_REAL_STDIO_FIELD
#undef RG_REAL_VOID_FIELD
/* NOLINTEND(bugprone-macro-parentheses) */
};

extern RG_HIDDEN struct rg_real rg_real;

struct rg_optional {
/* NOLINTNEXTLINE(bugprone-macro-parentheses): a declarator, not an expression */
#define RG_OPTIONAL_FIELD(name, ret, params) ret(*name) params;
	RG_OPTIONAL_CALLS(RG_OPTIONAL_FIELD)
#undef RG_OPTIONAL_FIELD
};

extern RG_HIDDEN struct rg_optional rg_optional_real;
void *rg_optional_find(void **slot, const char *name);

/* The next definition of an optional call, or NULL. */
#define rg_optional(name)                                                        \
	((__typeof__(rg_optional_real.name))rg_optional_find(                    \
		(void **)&rg_optional_real.name, #name))

void rg_real_bind(void);
/* Binds them unless that is done already: no dlsym() after that. */
void rg_real_ensure(void);
const struct rg_real *rg_real_bound(void) __attribute__((cold));

/* The real libc entry point `name`.  A wrapper can run before the
 * library's constructor, from another library's; it then binds them all
 * first.  The check is one load and a branch on the pointer about to be
 * called anyway, so a pass-through stays a plain tail call. */
#define rg_libc(name)                                                          \
	({                                                                     \
		__typeof__(rg_real.name) rg_fn_ = __atomic_load_n(&rg_real.name, __ATOMIC_RELAXED); \
		RG_LIKELY(rg_fn_) ? rg_fn_ : rg_real_bound()->name;              \
	})

/* The real entry point on a path that found a table entry: entries exist
 * only in chunks mapped after every call was bound (fdtable.c), and the
 * entry was published after that, so the pointer needs no check and no
 * atomic load: an indirect call through memory. */
#define rg_libc_bound(name) (rg_real.name)

#endif
