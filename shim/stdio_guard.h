/* The guard every stdio wrapper puts around its real call. */
#ifndef RG_STDIO_GUARD_H
#define RG_STDIO_GUARD_H

#include <stdbool.h>
#include <stdio.h>

#include "fdtable.h"
#include "sigpipe.h"

struct rg_stdio {
	int fd;
	struct rg_fd *e; /* NULL unless the stream is on a socket */
	struct rg_fd_life *life; /* its socket's, marked in flight (io.h) while in_flight */
	bool in_flight;
	struct rg_sigpipe_guard guard;
};

void rg_stdio_begin(struct rg_stdio *s, FILE *fp);
void rg_stdio_end(struct rg_stdio *s, const char *op, bool failed);
void rg_stdio_flush_sockets(void);

#endif
