/* `oracle show SEED`: the scenario, one step a line, for replays. */
#include <stdio.h>
#include <string.h>

#include "oracle.h"

static const char *const names[OP_COUNT] = {
	[OP_CONN] = "conn",		[OP_SEND] = "send",
	[OP_RECV] = "recv",		[OP_SHUTDOWN] = "shutdown",
	[OP_NONBLOCK] = "nonblock",	[OP_DUP] = "dup",
	[OP_CLOSE] = "close",		[OP_CLOSE_RANGE] = "close_range",
	[OP_OBJ] = "obj",		[OP_PEER_SEND] = "peer-send",
	[OP_PEER_RECV] = "peer-recv",	[OP_PEER_CLOSE] = "peer-close",
	[OP_PEER_PUMP] = "peer-pump",	[OP_PEER_AUTO] = "peer-auto",
	[OP_PEER_STOP] = "peer-stop",
	[OP_EPOLL_CREATE] = "epoll-create", [OP_EPOLL_CTL] = "epoll-ctl",
	[OP_EPOLL_WAIT] = "epoll-wait", [OP_ASYNC] = "async",
	[OP_FORK] = "fork",		[OP_CHILD_END] = "child-end",
	[OP_THREAD_SEND] = "thread-send", [OP_THREAD_RECV] = "thread-recv",
	[OP_STORM] = "storm",		[OP_RLIMIT] = "rlimit",
	[OP_FILL] = "fill",		[OP_URING] = "uring",
	[OP_EXEC] = "exec",		[OP_EXIT] = "exit",
};

const char *op_name(int op)
{
	return op >= 0 && op < OP_COUNT && names[op] ? names[op] : "?";
}

void show_step(const struct step *st, int index, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%3d %s%-13s fd=%d fd2=%d conn=%d n=%d a=%u b=%u c=%u", index,
			 st->child ? "  child " : "", op_name(st->op), st->fd, st->fd2, st->conn, st->n,
			 st->a, st->b, st->c);

	if (st->expect >= 0 && n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, " expect=%d", st->expect);
	if (st->expect2 >= 0 && n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, ",%d", st->expect2);
	for (int k = 0; k < st->nlist && n > 0 && (size_t)n < size; k++)
		n += snprintf(buf + n, size - (size_t)n, "%s%d", k ? "," : " list=", st->list[k]);
}
