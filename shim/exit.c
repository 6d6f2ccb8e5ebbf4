/* Leaving: exit paths and exec, and the ways a program starts children
 * the fork handlers never see.
 *
 * exit() and a return from main() reach the library destructor (init.c);
 * _exit() and _Exit() are wrapped: a forked child that serves a connection
 * and leaves with _exit() must not reset its client either.  In the child
 * of a vfork() all of this is skipped: it shares the parent's memory, and
 * its _exit() or exec must not wait for anything. */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "linger.h"
#include "real.h"
#include "share.h"

RG_EXPORT void _exit(int status)
{
	rg_linger_exit();
	rg_libc(_exit)(status);
	__builtin_unreachable();
}

RG_EXPORT void _Exit(int status)
{
	rg_linger_exit();
	rg_libc(_Exit)(status);
	__builtin_unreachable();
}

RG_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	rg_linger_exec();
	return rg_libc(execve)(path, argv, envp);
}

RG_EXPORT int execv(const char *path, char *const argv[])
{
	rg_linger_exec();
	return rg_libc(execv)(path, argv);
}

RG_EXPORT int execvp(const char *file, char *const argv[])
{
	rg_linger_exec();
	return rg_libc(execvp)(file, argv);
}

RG_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	rg_linger_exec();
	return rg_libc(execvpe)(file, argv, envp);
}

RG_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	rg_linger_exec();
	return rg_libc(fexecve)(fd, argv, envp);
}

/* The execl family: count the arguments up to and including the NULL,
 * read them again into an argv on the stack (as glibc does), and leave ap
 * just after the NULL, where execle() finds its envp. */
/* NOLINTBEGIN(bugprone-macro-parentheses): argv and ap name variables it
 * declares and starts, which cannot be parenthesised. */
#define RG_COLLECT_ARGS(argv, arg0, ap)                                               \
	size_t argc_ = 1;                                                              \
	va_start(ap, arg0);                                                            \
	while (va_arg(ap, char *))                                                     \
		argc_++;                                                               \
	va_end(ap);                                                                    \
	char *argv[argc_ + 1];                                                         \
	argv[0] = (char *)(arg0);                                                      \
	va_start(ap, arg0);                                                            \
	for (size_t i_ = 1; i_ <= argc_; i_++)                                         \
		argv[i_] = va_arg(ap, char *)
/* NOLINTEND(bugprone-macro-parentheses) */

RG_EXPORT int execl(const char *path, const char *arg0, ...)
{
	va_list ap;

	RG_COLLECT_ARGS(argv, arg0, ap);
	va_end(ap);
	return execv(path, argv);
}

RG_EXPORT int execlp(const char *file, const char *arg0, ...)
{
	va_list ap;

	RG_COLLECT_ARGS(argv, arg0, ap);
	va_end(ap);
	return execvp(file, argv);
}

RG_EXPORT int execle(const char *path, const char *arg0, ...)
{
	va_list ap;

	RG_COLLECT_ARGS(argv, arg0, ap);
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}

/* posix_spawn(), and system() and popen() which glibc builds on it
 * internally, start a child with whatever descriptors its file actions
 * give it: every socket counts as held by that child for good. */
RG_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	rg_share_spawn();
	return rg_libc(posix_spawn)(pid, path, fa, attr, argv, envp);
}

RG_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	rg_share_spawn();
	return rg_libc(posix_spawnp)(pid, file, fa, attr, argv, envp);
}

RG_EXPORT int system(const char *command)
{
	rg_share_spawn();
	return rg_libc(system)(command);
}

RG_EXPORT FILE *popen(const char *command, const char *mode)
{
	rg_share_spawn();
	return rg_libc(popen)(command, mode);
}
