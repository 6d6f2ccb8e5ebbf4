/* The life cycle of a process under resetguard, in one place: what happens
 * when the library loads and unloads, around fork(), at exec and at exit,
 * and when the program starts children the fork handlers never see.
 *
 * exit() and a return from main() reach the library destructor; _exit()
 * and _Exit() are wrapped, since a forked child that serves a connection
 * and leaves with _exit() must not reset its client either.  In the child
 * of a vfork() all of this is skipped: it shares the parent's memory, and
 * its _exit() or exec must not wait for anything. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "drainer.h"
#include "fdtable.h"
#include "heir.h"
#include "lifecycle.h"
#include "linger.h"
#include "listen.h"
#include "lock.h"
#include "log.h"
#include "metrics.h"
#include "ownfd.h"
#include "real.h"
#include "rings.h"
#include "share.h"
#include "sigpipe.h"
#include "sink.h"
#include "state.h"
#include "stdio_guard.h"

bool rg_out_of_scope;
static pid_t rg_pid;
/* A copy: program_invocation_short_name points into argv[0], which
 * programs overwrite with their process title (nginx's workers would be
 * "ker process"). */
static char rg_prog[256];

pid_t rg_process_pid(void)
{
	return rg_pid;
}

const char *rg_program_name(void)
{
	return rg_prog;
}

bool rg_in_vfork_child(void)
{
	return getpid() != rg_pid;
}

/* fork() copies every lock in the state another thread left it in: all of
 * them are taken first (lock.h keeps the list), and every socket gains a
 * holder, the child. */
static void rg_fork_prepare(void)
{
	rg_locks_take_all();
	rg_share_fork_prepare();
	rg_listen_fork_prepare();
}

static void rg_fork_parent(void)
{
	rg_locks_give_all();
}

/* The child has only the thread that forked: none of resetguard's. */
static void rg_fork_child(void)
{
	rg_pid = getpid();
	rg_state_fork_child();
	rg_fd_fork_child();
	rg_drainer_fork_child();
	rg_sink_fork_child();
	rg_locks_give_all();
	rg_metrics_start_in_child();
}

/* An LD_PRELOAD entry that names this library: its path, or its file
 * name (the loader finds a bare name in the library path). */
static bool rg_preload_entry_is_us(const char *entry, size_t len, const char *self)
{
	const char *base = strrchr(self, '/') ? strrchr(self, '/') + 1 : self;
	size_t blen = strlen(base);

	return (len == strlen(self) && memcmp(entry, self, len) == 0) ||
	       (len >= blen && memcmp(entry + len - blen, base, blen) == 0 &&
		(len == blen || entry[len - blen - 1] == '/'));
}

/* RESETGUARD_INHERIT=off: this library leaves LD_PRELOAD, so that nothing
 * the program starts loads it, however it starts it: the exec family,
 * posix_spawn(), and system() and popen(), which read environ inside libc
 * where no wrapper can hand them another environment.  Done here, before
 * main() and before any thread of the program, in place: no allocation,
 * no pointer the program could already hold, and the environment left is
 * the one the program would have had without resetguard (glibc's loader
 * edits environ the same way when it drops LD_PRELOAD for a setuid
 * program).  Other entries keep their order; an LD_PRELOAD left empty is
 * removed. */
static void rg_leave_preload(void)
{
	Dl_info self;

	if (!dladdr((void *)rg_leave_preload, &self) || !self.dli_fname)
		return;
	for (char **env = environ; env && *env; env++) {
		char *value = *env + strlen("LD_PRELOAD="), *out = value;

		if (strncmp(*env, "LD_PRELOAD=", strlen("LD_PRELOAD=")) != 0)
			continue;
		for (const char *p = value; *(p += strspn(p, " :"));) {
			size_t len = strcspn(p, " :");

			if (!rg_preload_entry_is_us(p, len, self.dli_fname)) {
				if (out != value)
					*out++ = ':';
				memmove(out, p, len);
				out += len;
			}
			p += len;
		}
		*out = '\0';
		if (out == value)
			for (char **e = env; *e; e++)
				e[0] = e[1];
		return;
	}
}

__attribute__((constructor)) static void rg_load(void)
{
	rg_real_bind();
	rg_pid = getpid();
	strncpy(rg_prog, program_invocation_short_name, sizeof(rg_prog) - 1);
	rg_sink_look_at_stderr();
	if (!rg_config_load(rg_prog)) {
		rg_out_of_scope = true;
		return;
	}
	if (!rg_config.inherit)
		rg_leave_preload();
	rg_sigpipe_init();
	rg_share_init();
	rg_listen_init();
	rg_own_reserve();
	rg_rings_scan_at_load();
	rg_share_inherited();
	rg_sink_open();
	rg_log_start();
	rg_metrics_start();
	rg_state_start(rg_metrics_name());
	pthread_atfork(rg_fork_prepare, rg_fork_parent, rg_fork_child);
}

/* Leaving, by exit() or _exit(): the sockets still open are let go of as
 * close() would, then the counters are reported. */
static void rg_leave(void)
{
	if (rg_out_of_scope || rg_in_vfork_child())
		return;
	rg_listen_exit();
	rg_linger_exit();
	rg_log_summary();
	rg_metrics_write();
}

/* Runs inside exit(), before glibc flushes every stream where SIGPIPE is
 * not guarded. */
__attribute__((destructor)) static void rg_unload(void)
{
	if (rg_out_of_scope)
		return;
	rg_stdio_flush_sockets(false);
	rg_leave();
}

RG_EXPORT void _exit(int status)
{
	rg_leave();
	rg_libc(_exit)(status);
	__builtin_unreachable();
}

RG_EXPORT void _Exit(int status)
{
	rg_leave();
	rg_libc(_Exit)(status);
	__builtin_unreachable();
}

/* Before exec: the drainer thread does not survive it.  A vfork() child's
 * sockets are the parent's, and those that are not close-on-exec live on
 * in the new image, out of sight: held for good.  Another child's go on
 * with their holder counts when the new image loads resetguard too
 * (share.h). */
static void rg_before_exec(char *const envp[])
{
	if (rg_out_of_scope)
		return;
	if (rg_in_vfork_child()) {
		rg_share_exec_vfork(envp);
	} else {
		rg_linger_exec();
		rg_metrics_write();
		rg_share_exec(envp);
	}
}

/* Only a failed exec returns. */
static int rg_after_exec(int ret)
{
	if (!rg_out_of_scope && !rg_in_vfork_child()) {
		rg_metrics_resume();
		rg_share_exec_failed();
		rg_heir_exec_failed();
	}
	return ret;
}

RG_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	rg_before_exec(envp);
	return rg_after_exec(rg_libc(execve)(path, argv, envp));
}

RG_EXPORT int execv(const char *path, char *const argv[])
{
	rg_before_exec(environ);
	return rg_after_exec(rg_libc(execv)(path, argv));
}

RG_EXPORT int execvp(const char *file, char *const argv[])
{
	rg_before_exec(environ);
	return rg_after_exec(rg_libc(execvp)(file, argv));
}

RG_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	rg_before_exec(envp);
	return rg_after_exec(rg_libc(execvpe)(file, argv, envp));
}

RG_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	rg_before_exec(envp);
	return rg_after_exec(rg_libc(fexecve)(fd, argv, envp));
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
	if (!rg_out_of_scope)
		rg_share_spawn();
	return rg_libc(posix_spawn)(pid, path, fa, attr, argv, envp);
}

RG_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	if (!rg_out_of_scope)
		rg_share_spawn();
	return rg_libc(posix_spawnp)(pid, file, fa, attr, argv, envp);
}

RG_EXPORT int system(const char *command)
{
	if (!rg_out_of_scope)
		rg_share_spawn();
	return rg_libc(system)(command);
}

RG_EXPORT FILE *popen(const char *command, const char *mode)
{
	if (!rg_out_of_scope)
		rg_share_spawn();
	return rg_libc(popen)(command, mode);
}
