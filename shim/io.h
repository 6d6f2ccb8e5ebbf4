/* What every send and receive wrapper does around its call on a socket:
 * mark the call in flight, then count the bytes that moved or log the
 * failure that ended the connection. */
#ifndef RG_IO_H
#define RG_IO_H

#include <sys/types.h>

#include "fdtable.h"
#include "log.h"

/* A call on a socket is in flight from before its system call until after
 * it: the drainer must not shut down or read a socket another thread is
 * still sending on or receiving from (linger.c).  Sequentially consistent,
 * so that a close() that follows the kernel's lookup of the descriptor in
 * another thread also sees the mark. */
static inline struct rg_fd_life *rg_io_begin(const struct rg_fd *e)
{
	struct rg_fd_life *l = atomic_load_explicit(&e->life, memory_order_relaxed);

	atomic_fetch_add_explicit(&l->inflight, 1, memory_order_seq_cst);
	return l;
}

static inline void rg_io_end(struct rg_fd_life *l)
{
	atomic_fetch_sub_explicit(&l->inflight, 1, memory_order_release);
}

/* Out of line and cold, so that the success path keeps no registers for
 * errno handling; errno is left as the call set it.  Returns the call's -1,
 * so that the wrappers tail-call it and keep no stack frame for it. */
long rg_io_failed(const struct rg_fd_life *l, const char *op) __attribute__((cold));
/* The same for a write, which then gives a program's own SIGPIPE handler
 * the signal MSG_NOSIGNAL (or the guard) kept back (sigpipe.h), if the
 * write as the program made it, with its own flags, would have raised
 * one. */
long rg_io_send_failed(const struct rg_fd_life *l, const char *op, int flags) __attribute__((cold));

/* flags: the program's own (0 for a call that takes none). */
static inline ssize_t rg_io_sent(struct rg_fd_life *l, const char *op, ssize_t ret, int flags)
{
	if (RG_LIKELY(ret > 0))
		rg_fd_count(&l->tx_bytes, ret);
	else if (ret < 0)
		return rg_io_send_failed(l, op, flags);
	return ret;
}

static inline ssize_t rg_io_received(struct rg_fd_life *l, const char *op, ssize_t ret)
{
	if (RG_LIKELY(ret > 0))
		rg_fd_count(&l->rx_bytes, ret);
	else if (ret < 0)
		return rg_io_failed(l, op);
	return ret;
}

/* call, made on the socket of entry e in flight, and what it moved
 * counted: only the life is kept across the call, not e. */
#define RG_SEND(e, op, flags, call)                              \
	({                                                       \
		struct rg_fd_life *rg_life_ = rg_io_begin(e);    \
		__typeof__(call) rg_ret_ = (call);               \
		rg_io_end(rg_life_);                             \
		rg_io_sent(rg_life_, op, rg_ret_, flags);        \
	})

#define RG_RECEIVE(e, op, call)                                  \
	({                                                       \
		struct rg_fd_life *rg_life_ = rg_io_begin(e);    \
		__typeof__(call) rg_ret_ = (call);               \
		rg_io_end(rg_life_);                             \
		rg_io_received(rg_life_, op, rg_ret_);           \
	})

#endif
