/* SIGPIPE handling.  In the default mode the program's disposition is never
 * touched: an ignored SIGPIPE would survive exec() into every child, and
 * `yes | head` in a child shell would stop ending quietly.  Instead the shim
 * follows the program's own sigaction()/signal() calls and suppresses the
 * signal on socket writes only while it would kill (SIG_DFL).  A program
 * with its own handler keeps getting its signal, but only once the failed
 * write has been logged: a handler that ends the process (GNU sort's
 * cleans up and raises it again) would otherwise leave no record.  So its
 * socket writes are kept from raising SIGPIPE too, and after the record
 * the thread gets the very signal the kernel would have sent. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "real.h"
#include "sigpipe.h"

/* Still in glibc, no longer in its headers. */
sighandler_t bsd_signal(int sig, sighandler_t handler);

_Atomic int rg_sigpipe_nosignal;
/* The program has a handler of its own for SIGPIPE (default mode). */
static _Atomic bool rg_sigpipe_handled;

void rg_sigpipe_hold(struct rg_sigpipe_guard *g, bool all_signals)
{
	sigset_t block, pending;

	/* A SIGPIPE stays pending on such a thread, and dies with it. */
	g->armed = false;
	if (rg_thread_masked)
		return;
	if (all_signals)
		sigfillset(&block);
	else {
		sigemptyset(&block);
		sigaddset(&block, SIGPIPE);
	}
	g->armed = pthread_sigmask(SIG_BLOCK, &block, &g->old_mask) == 0;
	/* Only a thread that had SIGPIPE blocked can have one pending that
	 * is not ours; it must survive. */
	g->was_pending = g->armed && sigismember(&g->old_mask, SIGPIPE) &&
			 sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
}

bool rg_sigpipe_release(struct rg_sigpipe_guard *g, bool failed_epipe)
{
	int saved = errno;
	bool taken = false;

	if (!g->armed)
		return false;
	if (failed_epipe && !g->was_pending) {
		static const struct timespec now;
		sigset_t pipe;

		sigemptyset(&pipe);
		sigaddset(&pipe, SIGPIPE);
		/* The kernel sends SIGPIPE to the writing thread, so it is
		 * pending here, blocked, and is taken back at once. */
		taken = sigtimedwait(&pipe, NULL, &now) == SIGPIPE;
	}
	pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL);
	errno = saved;
	return taken;
}

static void rg_sigpipe_note(sighandler_t handler)
{
	bool ours = rg_config.sigpipe == RG_SIGPIPE_SOCKET && handler != SIG_IGN;

	atomic_store_explicit(&rg_sigpipe_handled, ours && handler != SIG_DFL, memory_order_relaxed);
	atomic_store_explicit(&rg_sigpipe_nosignal, ours ? MSG_NOSIGNAL : 0, memory_order_relaxed);
	rg_write_follow_sigpipe(ours);
}

/* As the kernel sends it for a write to a broken pipe or socket: to the
 * writing thread, SI_USER, from this process and its real user.  Only
 * when the program's disposition is still a handler: one reset by
 * SA_RESETHAND (or changed behind the wrappers) is SIG_DFL now, which
 * would kill. */
void rg_sigpipe_deliver(void)
{
	struct sigaction now;
	siginfo_t si;
	int saved = errno;

	if (!atomic_load_explicit(&rg_sigpipe_handled, memory_order_relaxed) ||
	    rg_libc(sigaction)(SIGPIPE, NULL, &now) != 0)
		return;
	rg_sigpipe_note(now.sa_handler);
	if (atomic_load_explicit(&rg_sigpipe_handled, memory_order_relaxed)) {
		memset(&si, 0, sizeof(si));
		si.si_signo = SIGPIPE;
		si.si_code = SI_USER;
		si.si_pid = getpid();
		si.si_uid = getuid();
		rg_libc(syscall)(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGPIPE, &si);
	}
	/* The handler ran before the call returned, as it would have. */
	errno = saved;
}

RG_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	int ret = rg_libc(sigaction)(sig, act, old);

	if (ret == 0 && sig == SIGPIPE && act)
		rg_sigpipe_note(act->sa_handler);
	return ret;
}

static sighandler_t rg_signal_done(int sig, sighandler_t handler, sighandler_t ret)
{
	if (ret != SIG_ERR && sig == SIGPIPE && handler != SIG_HOLD)
		rg_sigpipe_note(handler);
	return ret;
}

RG_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	return rg_signal_done(sig, handler, rg_libc(signal)(sig, handler));
}

RG_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	return rg_signal_done(sig, handler, rg_libc(sysv_signal)(sig, handler));
}

RG_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	return rg_signal_done(sig, handler, rg_libc(bsd_signal)(sig, handler));
}

RG_EXPORT sighandler_t sigset(int sig, sighandler_t handler)
{
	return rg_signal_done(sig, handler, rg_libc(sigset)(sig, handler));
}

/* Learns the inherited disposition; in "ignore" mode sets SIG_IGN for the
 * whole process, children included, as that mode promises. */
void rg_sigpipe_init(void)
{
	struct sigaction sa;

	if (rg_config.sigpipe == RG_SIGPIPE_IGNORE) {
		sa.sa_handler = SIG_IGN;
		sa.sa_flags = 0;
		sigemptyset(&sa.sa_mask);
		rg_libc(sigaction)(SIGPIPE, &sa, NULL);
	}
	if (rg_libc(sigaction)(SIGPIPE, NULL, &sa) == 0)
		rg_sigpipe_note(sa.sa_handler);
}
