/* The drainer: one thread for the whole process that owns every lingering
 * socket, reads and discards what the peer still sends, and closes each one
 * on EOF, on error, or at its deadline. */
#ifndef RG_DRAINER_H
#define RG_DRAINER_H

#include <stdbool.h>

#include "fdtable.h"

/* Takes over the socket behind fd (already shut down for writing by the
 * caller or not), on a descriptor of its own; the program's fd is left for
 * the caller to close.  false when it cannot (cap reached, no descriptor
 * left): the caller then closes plainly. */
bool rg_drainer_adopt(int fd, const struct rg_fd *conn);
/* Waits until nothing lingers any more, at most until the last deadline. */
void rg_drainer_wait(void);
/* Gives up the oldest lingering socket, for a program call that failed
 * with EMFILE; false when nothing lingers. */
bool rg_drainer_release_one(void);
/* A call that creates a descriptor and failed with EMFILE is tried again
 * as long as the drainer can give one up: lingering sockets must never
 * cause an EMFILE the program would not have had. */
#define RG_RETRY_EMFILE(call)                                                        \
	({                                                                             \
		__typeof__(call) rg_ret_;                                              \
		while ((rg_ret_ = (call)) < 0 && errno == EMFILE && rg_drainer_release_one()) \
			;                                                              \
		rg_ret_;                                                               \
	})

/* The child of fork() has no drainer thread: it drops its copies of the
 * lingering sockets (the parent keeps draining them). */
void rg_drainer_fork_child(void);

#endif
