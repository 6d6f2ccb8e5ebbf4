/* Graceful close: what happens when the program lets go of a socket. */
#ifndef RG_LINGER_H
#define RG_LINGER_H

#include <stdbool.h>

#include "fdtable.h"
#include "share.h"

struct rg_slot;

/* The program is letting go of socket descriptor fd, whose entry was
 * conn: what resetguard decided, between rg_release_begin() and the call
 * that really releases the number, and rg_release_end() after it. */
struct rg_release {
	struct rg_fd conn;
	struct rg_ip_peer peer; /* conn's, kept apart from the entry (fdtable.h) */
	const char *plain;    /* why the close is plain, worth a debug record; or NULL */
	struct rg_slot *slot; /* the drainer's copy, when it lingers */
	struct rg_outside_holder outside; /* whom the drainer waits for first */
	int fd;
	bool dropped; /* its holder count was taken down */
	bool last;    /* no other descriptor in the family holds the socket */
};

enum rg_release_how {
	RG_RELEASE_SURE,  /* the call cannot fail to release the number (close,
			   * close_range, fclose): bindings are undone */
	RG_RELEASE_TRY,	  /* it may fail (dup2, dup3): nothing is done that
			   * rg_release_end() cannot take back, and a socket with
			   * bindings gets the plain close */
	RG_RELEASE_PLAIN, /* the plain close, whatever (an fclose() whose flush
			   * failed retries it: no shutdown under it) */
};

/* Decides how the socket behind fd is closed and, when it lingers,
 * reserves the drainer's copy. */
void rg_release_begin(struct rg_release *r, int fd, const struct rg_fd *e,
		      enum rg_release_how how);
/* released: the number is gone, the drainer may take the socket.  Else
 * (the program's call failed) resetguard's state is as it was before. */
void rg_release_end(struct rg_release *r, bool released);

/* close() of a socket descriptor. */
int rg_linger_close(int fd, const struct rg_fd *e);
/* Clears SO_LINGER {1, 0} on a socket the drainer took over, so that its
 * last close sends FIN and not RST. */
void rg_linger_cancel_abort(int fd);
/* exit() and _exit(): every socket still open is let go of; what still
 * lingers after a moment goes to the heir (heir.h). */
void rg_linger_exit(void);
/* exec(): the drainer's thread does not survive it: the same. */
void rg_linger_exec(void);

#endif
