/* The shim's one kind of lock: a spin lock taken with every signal blocked.
 * A signal handler can then never spin on a lock its own thread holds, and
 * nothing here ever sleeps while holding it. */
#ifndef RG_LOCK_H
#define RG_LOCK_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>

static inline void rg_lock_take(atomic_flag *lock, sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, saved);
	while (atomic_flag_test_and_set_explicit(lock, memory_order_acquire))
		sched_yield();
}

static inline void rg_lock_give(atomic_flag *lock, const sigset_t *saved)
{
	atomic_flag_clear_explicit(lock, memory_order_release);
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

#endif
