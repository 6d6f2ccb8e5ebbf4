/* SIGPIPE handling.  In the default mode the program's disposition is never
 * touched: an ignored SIGPIPE would survive exec() into every child, and
 * `yes | head` in a child shell would stop ending quietly.  Instead the shim
 * follows the program's own sigaction()/signal() calls and suppresses the
 * signal on socket writes only while it would kill (SIG_DFL); a program with
 * its own handler keeps getting its signal. */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "lock.h"
#include "real.h"
#include "sigpipe.h"

/* Still in glibc, no longer in its headers. */
sighandler_t bsd_signal(int sig, sighandler_t handler);

_Atomic int rg_sigpipe_nosignal;

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

void rg_sigpipe_release(struct rg_sigpipe_guard *g, bool failed_epipe)
{
	int saved = errno;

	if (!g->armed)
		return;
	if (failed_epipe && !g->was_pending) {
		static const struct timespec now;
		sigset_t pipe;

		sigemptyset(&pipe);
		sigaddset(&pipe, SIGPIPE);
		/* The kernel sends SIGPIPE to the writing thread, so it is
		 * pending here, blocked, and is taken back at once. */
		sigtimedwait(&pipe, NULL, &now);
	}
	pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL);
	errno = saved;
}

static void rg_sigpipe_note(sighandler_t handler)
{
	bool kills = rg_config.sigpipe == RG_SIGPIPE_SOCKET && handler == SIG_DFL;

	atomic_store_explicit(&rg_sigpipe_nosignal, kills ? MSG_NOSIGNAL : 0, memory_order_relaxed);
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
