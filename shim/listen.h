/* Listening sockets and keepalive: the backlog floor, the look at each
 * listener's accept-queue drops, TCP keepalive for the program's
 * connections (listen.c). */
#ifndef RG_LISTEN_H
#define RG_LISTEN_H

#include <stdatomic.h>
#include <stdint.h>

#include "export.h"
#include "fdtable.h"

/* Slots [0, rg_listen_high) may hold a listener of this process: 0 in a
 * program that never listened, so accept() and close() ask nothing more. */
extern RG_HIDDEN _Atomic int rg_listen_high;

void rg_listen_look_after_accept(int fd);
void rg_listen_look_before_close(int fd);

/* After accept() or accept4() on fd returned: at most once a second per
 * listener, a look at its drops (two system calls; none otherwise). */
static inline void rg_listen_accepted(int fd)
{
	if (RG_UNLIKELY(atomic_load_explicit(&rg_listen_high, memory_order_relaxed)))
		rg_listen_look_after_accept(fd);
}

/* Before fd is closed: a last look if it is a listener. */
static inline void rg_listen_closing(int fd)
{
	if (RG_UNLIKELY(atomic_load_explicit(&rg_listen_high, memory_order_relaxed)))
		rg_listen_look_before_close(fd);
}

/* At exit: a last look at every listener, which this process then lets go. */
void rg_listen_exit(void);
/* fork(): the child holds every listener too. */
void rg_listen_fork_prepare(void);
/* At load: the system's keepalive time, when RESETGUARD_KEEPALIVE is set. */
void rg_listen_init(void);
/* Before connect() on a TCP socket: keepalive, unless the program chose. */
void rg_keepalive_connect(int fd, const struct rg_fd *e);

/* For the metrics file: each(local, drops_total, ctx) for every listener
 * this process holds, after a look (at most once a second, so it may log
 * an overflow).  local is the address as the records write it
 * (127.0.0.1:8080, [::1]:8080; plain ASCII, no quote or backslash);
 * drops_total the handshakes the listener dropped since it was made, as
 * the records report them (the same in every process of a family that
 * holds it: a family's file shows it once per address, never summed). */
void rg_listeners_each(void (*each)(const char *local, uint64_t drops_total, void *ctx),
		       void *ctx);

#endif
