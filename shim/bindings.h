/* What the program binds to a socket's open file description, which the
 * kernel's last close would undo: registrations in its epoll sets, O_ASYNC
 * with an owner and a signal.  Graceful close keeps the description alive
 * after the program's close(), so at hand-over resetguard undoes them
 * itself (linger.c), or, where it cannot, gives the plain close. */
#ifndef RG_BINDINGS_H
#define RG_BINDINGS_H

#include <stdbool.h>

#include "fdtable.h"

/* fcntl() on fd went through: note F_SETFL with O_ASYNC, F_SETOWN(_EX)
 * and F_SETSIG on a socket. */
void rg_bind_fcntl(int fd, int cmd, long arg);
/* True when conn (the entry of the number fd, being let go of) carries
 * bindings that number's release leaves behind while others hold the
 * socket. */
bool rg_bindings_left(const struct rg_fd *conn);
/* Undoes every binding of conn on fd, the last descriptor of its socket,
 * still open; false when one cannot be undone. */
bool rg_bindings_undo(int fd, const struct rg_fd *conn);
/* Undoes what a socket from outside may be bound to, unknown to
 * resetguard: an owner and signal for O_ASYNC. */
bool rg_bindings_undo_unknown(int fd);
/* Whether conn records its registration in this process's epoll set
 * epfd: share.c asks it of the registrations it finds in /proc for a
 * socket met from outside, whose history resetguard did not see. */
bool rg_bindings_knows(const struct rg_fd *conn, int epfd);

#endif
