/* Every lock resetguard can hold, in one list.
 *
 * A lock is a futex mutex (Drepper, "Futexes Are Tricky": 0 free, 1 held,
 * 2 held with waiters): a waiter sleeps in the kernel instead of spinning
 * against a holder the scheduler has preempted; no allocation, only atomics
 * and the futex system call, so it is async-signal-safe.
 *
 * fork() copies a lock in whatever state another thread left it, so the
 * fork handlers take every lock in this list (rg_locks_take_all) and give
 * them back in parent and child: a new lock is added here, or it is
 * forgotten by fork.  A thread holding one may take only locks later in the
 * list; the list is the order.  tests/wrapper.bats checks that no lock is
 * declared anywhere else. */
#ifndef RG_LOCK_H
#define RG_LOCK_H

#include "export.h"

#include <signal.h>
#include <stdbool.h>

enum rg_lock_id {
	RG_LOCK_RATE,	 /* log.c: the rate limiter's token bucket */
	RG_LOCK_SINK,	 /* sink.c: the log's descriptor and its fallback */
	RG_LOCK_DRAINER, /* drainer.c: slots, the thread's start and end; ownfd.c:
			  * creating, moving and closing own descriptors */
	RG_LOCK_COUNT
};

/* True in resetguard's own threads (the drainer, the metrics writer):
 * born with every signal blocked, they never unblock one, so masking them
 * again around a lock or a write would only cost system calls. */
extern RG_HIDDEN __thread bool rg_thread_masked;

/* Takes the lock with every signal blocked in this thread, so that a
 * signal handler can never wait for a lock its own thread holds. */
void rg_lock_take(enum rg_lock_id id, sigset_t *saved);
void rg_lock_give(enum rg_lock_id id, const sigset_t *saved);

/* The lock without the two system calls of masking, for the close() path.
 * A signal handler that interrupts the holder and asks for the same lock is
 * refused (false) instead of waiting for itself, and fork() from such a
 * handler leaves the lock to the code it interrupted. */
bool rg_lock_enter_unmasked(enum rg_lock_id id);
void rg_lock_leave_unmasked(enum rg_lock_id id);
/* Without waiting: false when another thread holds it. */
bool rg_lock_try(enum rg_lock_id id, sigset_t *saved);

/* Every lock, in order, with every signal blocked: for fork() and for the
 * helper that outlives the process (linger.c).  rg_locks_give_all() runs
 * in the parent and in the child. */
void rg_locks_take_all(void);
void rg_locks_give_all(void);

#endif
