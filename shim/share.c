/* Holder counts, shared by a process and every child it forks.
 *
 * Each socket the shim sees created (socket, accept, socketpair) gets a slot
 * in a MAP_SHARED anonymous mapping, which fork() shares with the child:
 * the slot counts descriptors referring to the socket across the whole fork
 * family.  dup() adds one, close() takes one away, fork() adds one for every
 * socket the child inherits.  The count only errs upwards (a child that
 * exec()s keeps its share for good), and an upward error costs a graceful
 * close, never a connection: the socket is then closed plainly.
 *
 * Sockets from outside the family (inherited across exec, received with
 * SCM_RIGHTS) have no slot; for those, rg_share_sole_holder() looks for the
 * same socket among this process's descriptors and its parent's, the way
 * `ss -p` does, and anything it cannot read counts as shared. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdtable.h"
#include "procfd.h"
#include "real.h"
#include "share.h"

#define RG_SHARE_SLOTS (1u << 18)

struct rg_share_map {
	_Atomic uint32_t cursor;
	_Atomic uint32_t holders[RG_SHARE_SLOTS];
};

static struct rg_share_map *rg_share;

void rg_share_init(void)
{
	void *map = mmap(NULL, sizeof(struct rg_share_map), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (map != MAP_FAILED)
		rg_share = map;
}

/* A free slot, claimed with one holder; 0 (no slot) when none is free
 * within a short search, which makes the socket count as shared. */
uint32_t rg_share_new(void)
{
	if (!rg_share)
		return 0;
	for (int tries = 0; tries < 64; tries++) {
		uint32_t id = atomic_fetch_add_explicit(&rg_share->cursor, 1, memory_order_relaxed) %
			      RG_SHARE_SLOTS;
		uint32_t free_slot = 0;

		if (id != 0 && atomic_compare_exchange_strong_explicit(
				       &rg_share->holders[id], &free_slot, 1, memory_order_relaxed,
				       memory_order_relaxed))
			return id;
	}
	return 0;
}

void rg_share_hold(uint32_t id)
{
	if (id)
		atomic_fetch_add_explicit(&rg_share->holders[id], 1, memory_order_relaxed);
}

bool rg_share_drop(uint32_t id)
{
	return id && atomic_fetch_sub_explicit(&rg_share->holders[id], 1, memory_order_acq_rel) == 1;
}

/* Every socket this process holds is about to be held by the child too. */
void rg_share_fork_prepare(void)
{
	for (int fd = 0; (fd = rg_fd_next(fd, RG_FD_MAX, RG_FD_SOCKET)) >= 0; fd++)
		rg_share_hold(rg_fd_peek(fd)->share);
}

/* posix_spawn() and its users (system, popen) start a child that execs
 * with whatever descriptors its file actions give it, which the shim cannot
 * see: every socket is held for good. */
void rg_share_spawn(void)
{
	rg_share_fork_prepare();
}

/* Descriptors sent with SCM_RIGHTS gain a holder in the receiver, for good:
 * the shim cannot see when it closes them. */
void rg_share_passing(const struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			struct rg_fd *e = rg_fd_peek(fd);
			if (e && rg_fd_kind_of(e) == RG_FD_SOCKET)
				rg_share_hold(e->share);
		}
	}
}

struct rg_share_search {
	char want[32]; /* "socket:[<inode>]" */
	int skip_fd;
	int found;
};

static void rg_share_visit(int dirfd, int fd, void *ctx)
{
	struct rg_share_search *q = ctx;
	char name[16], link[64];
	ssize_t len;

	if (fd == q->skip_fd)
		return;
	snprintf(name, sizeof(name), "%d", fd);
	len = readlinkat(dirfd, name, link, sizeof(link) - 1);
	if (len > 0 && (size_t)len == strlen(q->want) && memcmp(link, q->want, (size_t)len) == 0)
		q->found++;
}

/* How many descriptors in dir (a /proc/<pid>/fd) other than skip_fd are
 * socket ino; -1 when dir cannot be read. */
static int rg_share_count_in(const char *dir, ino_t ino, int skip_fd)
{
	struct rg_share_search q = { .skip_fd = skip_fd };

	snprintf(q.want, sizeof(q.want), "socket:[%lu]", (unsigned long)ino);
	return rg_procfd_each(dir, rg_share_visit, &q) < 0 ? -1 : q.found;
}

bool rg_share_sole_holder(int fd)
{
	struct stat st;
	int saved = errno;
	bool sole = false;

	if (fstat(fd, &st) == 0) {
		char parent[32];

		snprintf(parent, sizeof(parent), "/proc/%d/fd", (int)getppid());
		sole = rg_share_count_in("/proc/self/fd", st.st_ino, fd) == 0 &&
		       rg_share_count_in(parent, st.st_ino, -1) == 0;
	}
	errno = saved;
	return sole;
}
