/* What every send and receive wrapper does after its call: count the bytes
 * that moved, or log the failure that ended the connection. */
#ifndef RG_IO_H
#define RG_IO_H

#include <sys/types.h>

#include "fdtable.h"
#include "log.h"

/* Out of line and cold, so that the success path keeps no registers for
 * errno handling; errno is left as the call set it. */
void rg_io_failed(const struct rg_fd *e, int fd, const char *op) __attribute__((cold));

static inline ssize_t rg_sent(struct rg_fd *e, int fd, const char *op, ssize_t ret)
{
	if (RG_LIKELY(ret > 0))
		rg_fd_count(&e->tx_bytes, ret);
	else if (ret < 0)
		rg_io_failed(e, fd, op);
	return ret;
}

static inline ssize_t rg_received(struct rg_fd *e, int fd, const char *op, ssize_t ret)
{
	if (RG_LIKELY(ret > 0))
		rg_fd_count(&e->rx_bytes, ret);
	else if (ret < 0)
		rg_io_failed(e, fd, op);
	return ret;
}

/* The whole receive-side epilogue for calls that must look after the call
 * (recvmsg: the descriptors it brought): nothing for EOF or a non-socket. */
static inline ssize_t rg_received_on(int fd, const char *op, ssize_t ret)
{
	struct rg_fd *e;

	if (ret == 0)
		return ret;
	switch (rg_fd_known(fd, &e)) {
	case RG_FD_OTHER:
	case RG_FD_OWN:
		return ret;
	case RG_FD_SOCKET:
		return rg_received(e, fd, op, ret);
	default:
		e = rg_fd_classify(fd);
		return e ? rg_received(e, fd, op, ret) : ret;
	}
}

#endif
