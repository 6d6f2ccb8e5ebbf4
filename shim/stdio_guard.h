/* The guard every stdio wrapper puts around its real call. */
#ifndef RG_STDIO_GUARD_H
#define RG_STDIO_GUARD_H

#include <stdbool.h>
#include <stdio.h>

#include "fdtable.h"
#include "libc.h"
#include "sigpipe.h"

struct rg_stdio {
	int fd;
	struct rg_fd *e; /* NULL unless the stream is on a socket */
	struct rg_fd_life *life; /* its socket's, marked in flight (io.h) while in_flight */
	bool in_flight;
	struct rg_sigpipe_guard guard;
};

/* The stream's descriptor (shim/libc.h): this is on every wrapped call.
 * -1 for streams on memory (fmemopen, open_memstream, fopencookie). */
static inline int rg_stdio_fd(const FILE *fp)
{
	return fp ? rg_file_fd(fp) : -1;
}

/* The table entry if fd is a socket, else NULL: one lookup. */
static inline struct rg_fd *rg_stdio_socket(int fd)
{
	return fd >= 0 ? rg_fd_socket(fd) : NULL;
}

/* e is rg_stdio_socket(fd), NULL for none. */
void rg_stdio_begin(struct rg_stdio *s, int fd, struct rg_fd *e);
void rg_stdio_end(struct rg_stdio *s, const char *op, bool failed);
void rg_stdio_flush_sockets(bool lines_only);

#endif
