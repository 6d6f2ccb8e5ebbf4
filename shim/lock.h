/* The shim's one kind of lock: a futex mutex, taken with every signal
 * blocked (rg_lock_take), so that a signal handler can never wait on a lock
 * its own thread holds.  A waiter sleeps in the kernel instead of spinning
 * against a holder the scheduler has preempted.  Async-signal-safe: no
 * allocation, only atomics and the futex system call.  rg_lock_enter() is
 * the lock alone, for the one caller on the close() path that keeps its
 * handlers out another way (drainer.c) and saves the two system calls. */
#ifndef RG_LOCK_H
#define RG_LOCK_H

#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

/* True in resetguard's own threads (the drainer, the metrics writer):
 * born with every signal blocked, they never unblock one, so masking them
 * again around a lock or a write would only cost system calls.  Defined in
 * sigpipe.c. */
extern __thread bool rg_thread_masked;

/* 0 free, 1 held, 2 held with waiters (Drepper, "Futexes Are Tricky"). */
typedef _Atomic int rg_lock_t;

/* The lock alone, for a caller that keeps its own thread's signal
 * handlers out of the section in another way (drainer.c). */
static inline void rg_lock_enter(rg_lock_t *lock)
{
	int c = 0;

	if (atomic_compare_exchange_strong_explicit(lock, &c, 1, memory_order_acquire,
						    memory_order_relaxed))
		return;
	if (c != 2)
		c = atomic_exchange_explicit(lock, 2, memory_order_acquire);
	while (c != 0) {
		syscall(SYS_futex, lock, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
		c = atomic_exchange_explicit(lock, 2, memory_order_acquire);
	}
}

static inline void rg_lock_leave(rg_lock_t *lock)
{
	if (atomic_fetch_sub_explicit(lock, 1, memory_order_release) != 1) {
		atomic_store_explicit(lock, 0, memory_order_release);
		syscall(SYS_futex, lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

static inline void rg_lock_take(rg_lock_t *lock, sigset_t *saved)
{
	sigset_t all;

	if (!rg_thread_masked) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, saved);
	}
	rg_lock_enter(lock);
}

static inline void rg_lock_give(rg_lock_t *lock, const sigset_t *saved)
{
	rg_lock_leave(lock);
	if (!rg_thread_masked)
		pthread_sigmask(SIG_SETMASK, saved, NULL);
}

#endif
