/* Graceful close: what happens when the program lets go of a socket. */
#ifndef RG_LINGER_H
#define RG_LINGER_H

#include <stdbool.h>

#include "fdtable.h"

/* The program is letting go of socket descriptor fd (entry e): by close()
 * when close_it, or by a call that will close it itself (dup2 onto it,
 * close_range, fclose, exit).  When this is the last descriptor anywhere
 * and the peer could still be answered with RST, the socket is handed to
 * the drainer, which shuts it down for writing and drains it.  Returns what close()
 * returns. */
int rg_linger_let_go(int fd, const struct rg_fd *e, bool close_it);
/* Clears SO_LINGER {1, 0} on a socket the drainer took over, so that its
 * last close sends FIN and not RST. */
void rg_linger_cancel_abort(int fd);
/* The plain close of a socket descriptor, with the holder count kept. */
void rg_linger_drop(int fd, struct rg_fd *e);
/* exit() and _exit(): every socket still open is let go of, then the
 * process waits for the drainer, bounded by the linger deadlines. */
void rg_linger_exit(void);
/* exec(): the drainer's thread does not survive it; let it finish. */
void rg_linger_exec(void);

#endif
