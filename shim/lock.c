/* The locks of lock.h. */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lock.h"
#include "real.h"

typedef _Atomic int rg_lock_t;

static rg_lock_t rg_locks[RG_LOCK_COUNT];
__thread bool rg_thread_masked;
/* Locks this thread holds without masking (rg_lock_enter_unmasked). */
static __thread volatile unsigned int rg_locks_mine;
/* What rg_locks_take_all() took on this thread, and the mask it saved. */
static __thread unsigned int rg_locks_taken;
static __thread sigset_t rg_locks_saved_mask;

static unsigned int rg_lock_bit(enum rg_lock_id id)
{
	return 1u << (unsigned int)id;
}

static void rg_lock_enter(rg_lock_t *lock)
{
	int c = 0;

	if (atomic_compare_exchange_strong_explicit(lock, &c, 1, memory_order_acquire,
						    memory_order_relaxed))
		return;
	if (c != 2)
		c = atomic_exchange_explicit(lock, 2, memory_order_acquire);
	while (c != 0) {
		rg_libc(syscall)(SYS_futex, lock, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
		c = atomic_exchange_explicit(lock, 2, memory_order_acquire);
	}
}

static void rg_lock_leave(rg_lock_t *lock)
{
	if (atomic_fetch_sub_explicit(lock, 1, memory_order_release) != 1) {
		atomic_store_explicit(lock, 0, memory_order_release);
		rg_libc(syscall)(SYS_futex, lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

static void rg_mask_all(sigset_t *saved)
{
	sigset_t all;

	if (rg_thread_masked)
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, saved);
}

static void rg_unmask(const sigset_t *saved)
{
	if (!rg_thread_masked)
		pthread_sigmask(SIG_SETMASK, saved, NULL);
}

void rg_lock_take(enum rg_lock_id id, sigset_t *saved)
{
	rg_mask_all(saved);
	rg_lock_enter(&rg_locks[id]);
}

void rg_lock_give(enum rg_lock_id id, const sigset_t *saved)
{
	rg_lock_leave(&rg_locks[id]);
	rg_unmask(saved);
}

bool rg_lock_try(enum rg_lock_id id, sigset_t *saved)
{
	int free_word = 0;

	rg_mask_all(saved);
	if (atomic_compare_exchange_strong_explicit(&rg_locks[id], &free_word, 1,
						    memory_order_acquire, memory_order_relaxed))
		return true;
	rg_unmask(saved);
	return false;
}

bool rg_lock_enter_unmasked(enum rg_lock_id id)
{
	if (rg_locks_mine & rg_lock_bit(id))
		return false;
	rg_locks_mine |= rg_lock_bit(id);
	atomic_signal_fence(memory_order_seq_cst);
	rg_lock_enter(&rg_locks[id]);
	return true;
}

void rg_lock_leave_unmasked(enum rg_lock_id id)
{
	rg_lock_leave(&rg_locks[id]);
	atomic_signal_fence(memory_order_seq_cst);
	rg_locks_mine &= ~rg_lock_bit(id);
}

void rg_locks_take_all(void)
{
	rg_mask_all(&rg_locks_saved_mask);
	rg_locks_taken = 0;
	for (int id = 0; id < RG_LOCK_COUNT; id++) {
		/* Held by the code this signal handler interrupted, which
		 * gives it back itself, in the parent and in the child. */
		if (rg_locks_mine & rg_lock_bit((enum rg_lock_id)id))
			continue;
		rg_lock_enter(&rg_locks[id]);
		rg_locks_taken |= rg_lock_bit((enum rg_lock_id)id);
	}
}

void rg_locks_give_all(void)
{
	for (int id = RG_LOCK_COUNT - 1; id >= 0; id--)
		if (rg_locks_taken & rg_lock_bit((enum rg_lock_id)id))
			rg_lock_leave(&rg_locks[id]);
	rg_locks_taken = 0;
	rg_unmask(&rg_locks_saved_mask);
}
