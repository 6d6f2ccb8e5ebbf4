/* The drainer: what resetguard does with a socket after the program let go
 * of it.  One thread for the whole process owns every lingering socket,
 * waits until no call of the program's is still in flight on it, shuts it
 * down for writing, reads and discards what the peer still sends, and
 * closes it on EOF, on error, or at its deadline. */
#ifndef RG_DRAINER_H
#define RG_DRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "fdtable.h"
#include "share.h"

struct rg_slot;

/* A slot holding a copy of the socket behind fd (the entry as it was is
 * conn, its IP peer peer), reserved for the drainer but not yet given to it; NULL when there
 * is no room (RESETGUARD_LINGER_MAX, no descriptor left): the plain close.
 * When outside names a holder, the drainer leaves the socket alone until
 * that lets go. */
struct rg_slot *rg_drainer_reserve(int fd, const struct rg_fd *conn, const struct rg_ip_peer *peer,
				   const struct rg_outside_holder *outside);
/* The program's descriptor is gone: the drainer takes the socket over. */
void rg_drainer_commit(struct rg_slot *s);
/* The program kept its descriptor after all (its call failed): the copy
 * goes, and the socket is as it was. */
void rg_drainer_cancel(struct rg_slot *s);
/* The descriptor of the socket a reserved slot holds. */
int rg_slot_fd(const struct rg_slot *s);

/* Waits until nothing lingers any more, at most until the last deadline. */
void rg_drainer_wait(void);
/* The same while moving exclusive's descriptor (ownfd.c), with
 * RG_LOCK_DRAINER held: never exclusive's own. */
struct rg_own;
bool rg_drainer_release_other(const struct rg_own *exclusive);

/* Waits at most budget_ns for nothing to linger; false when something
 * still does. */
bool rg_drainer_settle(int64_t budget_ns);
/* Stops the thread where it is, its slots as they are, until
 * rg_drainer_resume(), for the heir to take them over (heir.c); false when
 * nothing lingers, or when the thread did not stop within a second. */
bool rg_drainer_hold(void);
void rg_drainer_resume(void);
/* In the heir: drains every slot to its end. */
void rg_drainer_heir(void);

/* The child of fork() has no drainer thread: it drops its copies of the
 * lingering sockets (the parent keeps draining them). */
void rg_drainer_fork_child(void);

#endif
