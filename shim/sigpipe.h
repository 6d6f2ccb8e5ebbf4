/* SIGPIPE: when the shim must keep a socket write from raising it, and the
 * block-and-consume guard for the calls that take no MSG_NOSIGNAL flag. */
#ifndef RG_SIGPIPE_H
#define RG_SIGPIPE_H

#include "export.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"

/* MSG_NOSIGNAL in the default mode unless the program ignores SIGPIPE:
 * while it leaves it at SIG_DFL, a broken socket would kill it; while it
 * has a handler, the handler gets the signal after the record
 * (rg_sigpipe_deliver).  Else 0; kept current by the sigaction()/signal()
 * wrappers.  One load on the hot path, and or-ed straight into the flags
 * of a send. */
extern RG_HIDDEN _Atomic int rg_sigpipe_nosignal;

/* send.c: write() on a socket follows rg_sigpipe_nosignal. */
void rg_write_follow_sigpipe(bool kills);

static inline int rg_sigpipe_flags(int flags)
{
	return flags | atomic_load_explicit(&rg_sigpipe_nosignal, memory_order_relaxed);
}

static inline bool rg_sigpipe_suppress(void)
{
	return atomic_load_explicit(&rg_sigpipe_nosignal, memory_order_relaxed) != 0;
}

struct rg_sigpipe_guard {
	bool armed;
	bool was_pending;
	sigset_t old_mask;
};

/* libpq's technique: block SIGPIPE in this thread (or every signal, for
 * the shim's own writes), remember whether one was already pending, and
 * after the call consume the one the call raised, if any. */
void rg_sigpipe_hold(struct rg_sigpipe_guard *g, bool all_signals);
/* True when it took back a SIGPIPE the call raised. */
bool rg_sigpipe_release(struct rg_sigpipe_guard *g, bool failed_epipe);
/* A socket write of the program's failed with EPIPE and was kept from
 * raising SIGPIPE, and its record is written: a program with a handler of
 * its own gets the signal now.  errno is kept. */
void rg_sigpipe_deliver(void);

void rg_sigpipe_init(void);

#endif
