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
 * A slot's top bit says that a holder released a number under which
 * bindings stay with the socket (bindings.h): the last close is then plain.
 * The next says that a holder released a number through which it had sent
 * data: the socket has an answer its last close must protect (linger.c).
 *
 * Sockets from outside the family (inherited across exec, received with
 * SCM_RIGHTS) have no slot; for those, rg_share_outside() looks for the
 * same socket among this process's descriptors and its parent's, the way
 * `ss -p` does, and for epoll sets there that watch it; anything it cannot
 * read counts as shared. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bindings.h"
#include "fdtable.h"
#include "procfd.h"
#include "real.h"
#include "share.h"

#define RG_SHARE_SLOTS (1u << 18)
#define RG_SHARE_TAINT 0x80000000u
#define RG_SHARE_SENT 0x40000000u
#define RG_SHARE_COUNT 0x3fffffffu

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

/* A slot whose count reaches zero is free again, its marks gone with it.
 * A count already at zero (an upward error elsewhere cannot make one) is
 * left alone. */
struct rg_share_drop rg_share_drop(uint32_t id)
{
	struct rg_share_drop d = { false, false, false };
	_Atomic uint32_t *word;
	uint32_t old, next;

	if (!id)
		return d;
	word = &rg_share->holders[id];
	old = atomic_load_explicit(word, memory_order_acquire);
	do {
		if (!(old & RG_SHARE_COUNT))
			return d;
		next = (old & RG_SHARE_COUNT) == 1 ? 0 : old - 1;
	} while (!atomic_compare_exchange_weak_explicit(word, &old, next, memory_order_acq_rel,
							memory_order_acquire));
	d.last = next == 0;
	d.tainted = (old & RG_SHARE_TAINT) != 0;
	d.sent = (old & RG_SHARE_SENT) != 0;
	return d;
}

/* Marked before the holder's count is dropped, so that whoever drops the
 * last one sees it.  Without a slot, only this process's other numbers
 * for the socket can be told. */
void rg_share_sent(const struct rg_fd *conn)
{
	if (conn->share) {
		atomic_fetch_or_explicit(&rg_share->holders[conn->share], RG_SHARE_SENT,
					 memory_order_release);
		return;
	}
	for (int fd = 0; (fd = rg_fd_next(fd, RG_FD_MAX, RG_FD_SOCKET)) >= 0; fd++) {
		struct rg_fd *e = rg_fd_peek(fd);

		if (e->conn_id == conn->conn_id)
			e->sent = true;
	}
}

/* Without a slot, only this process's other numbers for the socket can be
 * told: they carry the taint in their entries. */
void rg_share_taint(const struct rg_fd *conn)
{
	if (conn->share) {
		atomic_fetch_or_explicit(&rg_share->holders[conn->share], RG_SHARE_TAINT,
					 memory_order_acq_rel);
		return;
	}
	for (int fd = 0; (fd = rg_fd_next(fd, RG_FD_MAX, RG_FD_SOCKET)) >= 0; fd++) {
		struct rg_fd *e = rg_fd_peek(fd);

		if (e->conn_id == conn->conn_id)
			e->bind |= RG_BIND_TAINTED;
	}
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
	char ino[24];  /* " ino:<hex> " as an epoll set's fdinfo lists its targets */
	const char *pid_dir; /* /proc/<pid> */
	const struct rg_fd *conn;
	int skip_fd;
	bool self;
	bool holder, watched;
};

/* Whether the epoll set at fd in pid_dir watches the socket, and does so
 * unknown to conn.  Its fdinfo has a line per target: "tfd: N events: ..
 * data: .. pos:0 ino:<hex> sdev:..". */
static void rg_share_epoll(struct rg_share_search *q, int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "%s/fdinfo/%d", q->pid_dir, fd);
	if (rg_procfd_file_has(path, q->ino) != 0 && !(q->self && rg_bindings_knows(q->conn, fd)))
		q->watched = true;
}

static void rg_share_visit(int dirfd, int fd, void *ctx)
{
	static const char epoll[] = "anon_inode:[eventpoll]";
	struct rg_share_search *q = ctx;
	char name[16], link[64];
	ssize_t len;

	if (fd == q->skip_fd)
		return;
	snprintf(name, sizeof(name), "%d", fd);
	len = readlinkat(dirfd, name, link, sizeof(link) - 1);
	if (len <= 0)
		return;
	if ((size_t)len == strlen(q->want) && memcmp(link, q->want, (size_t)len) == 0)
		q->holder = true;
	else if ((size_t)len == sizeof(epoll) - 1 && memcmp(link, epoll, (size_t)len) == 0)
		rg_share_epoll(q, fd);
}

/* Looks at /proc/<pid>; false when it cannot be read. */
static bool rg_share_search_in(struct rg_share_search *q, const char *pid_dir, bool self)
{
	char dir[40];

	q->pid_dir = pid_dir;
	q->self = self;
	snprintf(dir, sizeof(dir), "%s/fd", pid_dir);
	return rg_procfd_each(dir, rg_share_visit, q) == 0;
}

enum rg_outside rg_share_outside(int fd, const struct rg_fd *conn)
{
	struct rg_share_search q = { .conn = conn, .skip_fd = fd };
	char parent[32];
	struct stat st;
	int saved = errno;
	bool read;

	if (fstat(fd, &st) < 0)
		return RG_OUTSIDE_SHARED;
	snprintf(q.want, sizeof(q.want), "socket:[%lu]", (unsigned long)st.st_ino);
	snprintf(q.ino, sizeof(q.ino), " ino:%lx ", (unsigned long)st.st_ino);
	snprintf(parent, sizeof(parent), "/proc/%d", (int)getppid());
	read = rg_share_search_in(&q, "/proc/self", true);
	q.skip_fd = -1;
	read = read && rg_share_search_in(&q, parent, false);
	errno = saved;
	if (!read || q.holder)
		return RG_OUTSIDE_SHARED;
	return q.watched ? RG_OUTSIDE_WATCHED : RG_OUTSIDE_SOLE;
}
