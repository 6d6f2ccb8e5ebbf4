/* What every send and receive wrapper does after its call: count the bytes
 * that moved, or log the failure that ended the connection. */
#ifndef RG_IO_H
#define RG_IO_H

#include <sys/types.h>

#include "fdtable.h"
#include "log.h"

static inline ssize_t rg_sent(struct rg_fd *e, int fd, const char *op, ssize_t ret)
{
	if (ret > 0)
		rg_fd_count(&e->tx_bytes, ret);
	else if (ret < 0)
		rg_conn_failed(e, fd, op);
	return ret;
}

static inline ssize_t rg_received(struct rg_fd *e, int fd, const char *op, ssize_t ret)
{
	if (ret > 0)
		rg_fd_count(&e->rx_bytes, ret);
	else if (ret < 0)
		rg_conn_failed(e, fd, op);
	return ret;
}

#endif
