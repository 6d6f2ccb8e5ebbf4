/* The heir: a process that outlives the program to finish its graceful
 * closes, so that exit and exec are not held up by peers.
 *
 * The drainer thread survives neither exit nor exec, and waiting for it
 * would hold the program up until the slowest peer read its last byte or
 * the deadline came: a client that exits after its answer while the
 * server keeps the connection, a tcpserver handler that answers and exits,
 * a daemon that execs.  So at exit and exec resetguard waits a little
 * (RG_HEIR_BUDGET_NS: peers that read and close are done by then) and
 * hands whatever still lingers to a process of its own: a copy of this one,
 * keeping only resetguard's own descriptors, which drains them to their
 * end and leaves.
 *
 * It must be invisible to the program: it is not the program's child (it
 * is made by a short-lived child that exits at once, so init or the
 * nearest subreaper adopts it), that child has no exit signal and is reaped
 * here at once, and neither runs any of the program's code (no atfork
 * handler, no signal handler, no atexit).  It holds none of the program's
 * descriptors: whoever reads its stdout or stderr sees EOF as soon as the
 * program is gone.  And it touches no socket before the program is gone
 * (its other threads are gone by then, and their calls with them): after
 * an exit it waits for the program's pidfd, which needs no descriptor of
 * the program's; before an exec, for a pipe whose writing end only the
 * program holds, close-on-exec: EOF says the exec succeeded, a byte that
 * it failed and the sockets are the program's again. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "drainer.h"
#include "fdtable.h"
#include "heir.h"
#include "lifecycle.h"
#include "lock.h"
#include "metrics.h"
#include "ownfd.h"
#include "real.h"
#include "sink.h"

#define RG_HEIR_BUDGET_NS 10000000
#define RG_HEIR_STACK ((size_t)64 * 1024)

/* The program's end of the pipe, while an heir waits for the exec. */
static int rg_heir_pipe = -1;

static void rg_heir_leave(void)
{
	rg_libc(syscall)(SYS_exit_group, 0);
}

/* No handler of the program's may run here, and an operator's kill or a
 * terminal's interrupt ends the heir like any process; a log FIFO whose
 * reader went away does not. */
static void rg_heir_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, ign = { .sa_handler = SIG_IGN };
	sigset_t ends;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			rg_libc(sigaction)(sig, sig == SIGPIPE ? &ign : &dfl, NULL);
	sigemptyset(&ends);
	sigaddset(&ends, SIGTERM);
	sigaddset(&ends, SIGINT);
	sigaddset(&ends, SIGHUP);
	sigaddset(&ends, SIGQUIT);
	pthread_sigmask(SIG_UNBLOCK, &ends, NULL);
}

/* Closes every descriptor but resetguard's own and keep, with raw
 * close_range() between them. */
static void rg_heir_close_rest(int keep)
{
	unsigned int first = 0;

	for (;;) {
		int own = rg_own_next_at((int)first, RG_FD_MAX);
		unsigned int next = own < 0 ? ~0u : (unsigned int)own;

		if (keep >= 0 && (unsigned int)keep >= first && (unsigned int)keep < next)
			next = (unsigned int)keep;
		if (next > first)
			rg_libc(syscall)(SYS_close_range, first, next - 1, 0);
		if (next == ~0u)
			return;
		first = next + 1;
	}
}

/* True once the program is gone: EOF on the pipe, after an exec; its
 * pidfd readable, after an exit, which needs no descriptor of the
 * program's (one at its limit has none left).  A pid already reused by
 * the time the pidfd is opened is not the program's: it is gone too, and
 * the wait for the other is bounded. */
static bool rg_heir_program_gone(int pipe_in, pid_t program)
{
	int fd = pipe_in >= 0 ? pipe_in : (int)rg_libc(syscall)(SYS_pidfd_open, program, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char byte;

	if (fd < 0)
		return errno == ESRCH;
	if (poll(&p, 1, rg_config.linger_time_ms + 1000) != 1)
		return false;
	return pipe_in < 0 || rg_libc(read)(pipe_in, &byte, 1) == 0;
}

static int rg_heir_main(void *arg)
{
	int pipe_in = (int)(intptr_t)arg;
	pid_t program = rg_process_pid();

	rg_locks_give_all(); /* taken for the copy (rg_heir_take_over) */
	rg_heir_signals();
	prctl(PR_SET_NAME, "resetguard");
	rg_sink_heir();
	rg_heir_close_rest(pipe_in);
	if (rg_heir_program_gone(pipe_in, program))
		rg_drainer_heir();
	rg_metrics_write(); /* what it counted, for the family's file */
	rg_heir_leave();
	return 0;
}

/* The short-lived child: it shares the program's memory (CLONE_VM) and
 * stack-less state, makes the heir, a copy of the program's memory as it
 * is now, and exits, releasing the program's thread (CLONE_VFORK). */
struct rg_heir_birth {
	void *heir_stack;
	int pipe_in;
	pid_t heir;
};

static int rg_heir_midwife(void *arg)
{
	struct rg_heir_birth *b = arg;

	b->heir = clone(rg_heir_main, (char *)b->heir_stack + RG_HEIR_STACK, 0,
			(void *)(intptr_t)b->pipe_in);
	return 0;
}

/* Makes the heir with every lock taken, so that its copy of each is in a
 * known state; false when it could not be made. */
static bool rg_heir_spawn(int pipe_in)
{
	size_t size = 2 * RG_HEIR_STACK;
	char *stacks = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rg_heir_birth b = { stacks + RG_HEIR_STACK, pipe_in, -1 };
	pid_t midwife;

	if (stacks == MAP_FAILED)
		return false;
	rg_locks_take_all();
	midwife = clone(rg_heir_midwife, stacks + RG_HEIR_STACK, CLONE_VM | CLONE_VFORK, &b);
	rg_locks_give_all();
	if (midwife > 0)
		waitpid(midwife, NULL, __WALL);
	munmap(stacks, size);
	return midwife > 0 && b.heir > 0;
}

bool rg_heir_take_over(bool exec)
{
	int saved = errno, fds[2];
	bool heir = false;

	if (rg_drainer_settle(RG_HEIR_BUDGET_NS) || !rg_drainer_hold())
		goto out;
	if (!exec) {
		heir = rg_heir_spawn(-1);
	} else if (rg_libc(pipe2)(fds, O_CLOEXEC) == 0) {
		int heir_end = fds[0], exec_end = fds[1];

		heir = rg_heir_spawn(heir_end);
		rg_libc(close)(heir_end);
		if (heir)
			rg_heir_pipe = exec_end;
		else
			rg_libc(close)(exec_end);
	}
	if (!heir)
		rg_drainer_resume();
out:
	errno = saved;
	return heir;
}

void rg_heir_exec_failed(void)
{
	int saved = errno;

	if (rg_heir_pipe >= 0) {
		(void)!rg_libc(write)(rg_heir_pipe, "x", 1);
		rg_libc(close)(rg_heir_pipe);
		rg_heir_pipe = -1;
		rg_drainer_resume();
	}
	errno = saved;
}
