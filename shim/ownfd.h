/* resetguard's own descriptors: the log, the drainer's epoll and eventfd,
 * and every lingering socket.  They live above the numbers programs use,
 * close-on-exec, and are marked with their holder in a table of their own
 * (rg_own_at), so that close(), close_range(), closefrom() and dup2() from
 * the program can neither close them nor make resetguard use a number the
 * program has taken: one mechanism for all of them. */
#ifndef RG_OWNFD_H
#define RG_OWNFD_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "export.h"
#include "fdtable.h"

struct rg_own;

/* The holders by number, in chunks of a page mapped when the first own
 * descriptor lands in one: apart from the fd table, so that a lingering
 * socket's own number costs a pointer there and not an entry.  Written
 * under RG_LOCK_DRAINER, read without a lock. */
#define RG_OWN_CHUNK_SHIFT 9
#define RG_OWN_CHUNK (1u << RG_OWN_CHUNK_SHIFT)
typedef struct rg_own *_Atomic rg_own_ref;
extern RG_HIDDEN rg_own_ref *_Atomic rg_own_dir[RG_FD_MAX >> RG_OWN_CHUNK_SHIFT];

/* The holder of own descriptor n, NULL when n is not one of them. */
static inline struct rg_own *rg_own_at(int n)
{
	rg_own_ref *chunk;

	if ((unsigned)n >= RG_FD_MAX)
		return NULL;
	chunk = atomic_load_explicit(&rg_own_dir[(unsigned)n >> RG_OWN_CHUNK_SHIFT],
				     memory_order_acquire);
	return chunk ? atomic_load_explicit(&chunk[(unsigned)n & (RG_OWN_CHUNK - 1)],
					    memory_order_acquire)
		     : NULL;
}

/* The lowest own descriptor in [first, last], or -1. */
int rg_own_next_at(int first, unsigned int last);

enum rg_give { RG_GAVE, RG_BUSY, RG_CANNOT };

/* How to keep a descriptor's holder off it for a moment, while the
 * descriptor moves to another number, and how to make it give the
 * descriptor up for a program short of them.  pause() must not wait long:
 * false means "busy, ask again", and the mover retries without its lock.
 * give_up() is called without the lock. */
struct rg_own_holder {
	bool (*pause)(struct rg_own *o);
	void (*resume)(struct rg_own *o);
	enum rg_give (*give_up)(struct rg_own *o);
};

/* Who holds an own descriptor: a byte in struct rg_own rather than a
 * pointer, since every lingering socket's slot holds one (the budget in
 * docs/cost.md).  ownfd.c maps each to its struct rg_own_holder. */
enum rg_own_holder_id {
	RG_HELD_BY_SLOT,    /* a lingering socket (drainer.c) */
	RG_HELD_BY_DRAINER, /* the drainer thread's epoll set, eventfd, /proc/self/fd */
	RG_HELD_BY_SHARE,   /* the holder counts' memfd (share.c) */
	RG_HELD_BY_SINK,    /* the log and the copy of stderr (sink.c) */
	RG_HELD_BY_STATE,   /* the state page's file (state.c) */
};
extern RG_HIDDEN const struct rg_own_holder rg_slot_holder, rg_drainer_holder, rg_share_holder,
	rg_sink_holder, rg_state_holder;

struct rg_own {
	_Atomic int fd;	      /* -1: none */
	unsigned char holder; /* enum rg_own_holder_id */
};

void rg_own_reserve(void);
/* fd, a descriptor resetguard just created, becomes o's: moved high,
 * close-on-exec and marked.  With RG_LOCK_DRAINER held, so that no
 * close_range() of the program's runs in between. */
void rg_own_take(struct rg_own *o, int fd);
/* A high copy of the program's fd for o; false when none is left.  With
 * RG_LOCK_DRAINER held. */
bool rg_own_dup(struct rg_own *o, int fd);
/* Closes o's descriptor; the _locked form with RG_LOCK_DRAINER held. */
void rg_own_close(struct rg_own *o);
void rg_own_close_locked(struct rg_own *o);
/* The program is about to dup2()/dup3() onto n.  An own descriptor there
 * moves to another number first and true is returned: n then still refers
 * to resetguard's file, which the program's call replaces; if that call
 * fails, rg_own_evicted_failed(n) closes it. */
bool rg_own_evict(int n);
void rg_own_evicted_failed(int n);
/* The program was just given descriptor fd, above an own descriptor: the
 * place at the top rises above the program's reach and every own
 * descriptor below it moves up.  One in [floor, fd) holds the number the
 * program would have got without resetguard (the lowest free one, or
 * F_DUPFD's from floor up): with renumber the program's descriptor takes
 * it over, and that number is returned; without (a FILE's or a DIR's,
 * whose number cannot change) it only moves, for the next call's sake.
 * Nothing moves where there is no room (the program is at its limit).
 * One comparison when the program is below every own descriptor. */
int rg_own_make_way(int fd, int floor, bool renumber);
/* The program is about to get a descriptor whose number cannot change
 * afterwards (a FILE's, a DIR's): when its number would be the lowest own
 * descriptor's without resetguard, that one steps aside or is given up
 * first.  One comparison while the program's numbers are below them. */
void rg_own_clear_next(void);
/* Moves own descriptors up into numbers freed above the lowest, so that
 * the program meets them only after every number below (without
 * resetguard, those would be its next ones).  Called by the drainer
 * thread between turns when no deadline is due (or has waited 100 ms),
 * which names itself: its descriptors move without a pause.  One atomic
 * exchange when nothing was freed. */
void rg_own_compact(enum rg_own_holder_id mine);
/* The program changed its RLIMIT_NOFILE. */
void rg_own_limit_changed(void);
/* The own descriptor at n was closed behind resetguard's back (the
 * program made a new descriptor with that number): its holder loses it. */
void rg_own_lost(int n);
/* Gives up one own descriptor for a program call that failed with EMFILE,
 * the lowest-numbered from floor up that can go (the number the program
 * would have got; F_DUPFD's floor, else 0): a lingering socket, the idle
 * drainer's, the log's; false when none is left to give. */
bool rg_own_give_up_from(int floor);
/* A call that creates a descriptor and failed with EMFILE is tried again
 * as long as resetguard can give one of its own up: its descriptors must
 * never cause an EMFILE the program would not have had. */
#define RG_RETRY_EMFILE_FROM(call, floor)                                                        \
	({                                                                                         \
		__typeof__(call) rg_ret_;                                                          \
		while ((rg_ret_ = (call)) < 0 && errno == EMFILE && rg_own_give_up_from(floor))   \
			;                                                                          \
		rg_ret_;                                                                           \
	})
#define RG_RETRY_EMFILE(call) RG_RETRY_EMFILE_FROM(call, 0)
/* The same for calls that return a pointer (fopen, opendir, tmpfile),
 * whose descriptor cannot be renumbered afterwards: room is made first. */
#define RG_RETRY_EMFILE_PTR(call)                                                        \
	({                                                                                 \
		__typeof__(call) rg_ret_;                                                  \
		rg_own_clear_next();                                                       \
		while (!(rg_ret_ = (call)) && errno == EMFILE && rg_own_give_up_from(0))   \
			;                                                                  \
		rg_ret_;                                                                   \
	})
/* The program is about to receive up to n descriptors it cannot ask for
 * again (SCM_RIGHTS, which the kernel drops when no number is left): own
 * descriptors where its numbers reach give way first. */
void rg_own_make_room(int n);
/* close_range() and closefrom() close around own descriptors: the lock
 * that keeps new ones from appearing meanwhile. */
void rg_own_freeze(void);
void rg_own_thaw(void);

#endif
