/* Holder counts, shared by a process, every child it forks, and every
 * program such a family execs that loads resetguard too.
 *
 * Each socket the shim sees created (socket, accept, socketpair), received
 * (SCM_RIGHTS) or inherited at exec gets a slot in a MAP_SHARED mapping,
 * which fork() shares with the child: the slot counts descriptors referring
 * to the socket across the whole family.  dup() adds one, close() takes
 * one away, fork() adds one for every socket the child inherits.  The
 * count only errs upwards, and an upward error costs a graceful close,
 * never a connection: the socket is then closed plainly.
 *
 * The mapping is a memfd, made with the first socket.  A member that execs
 * a program which loads resetguard too leaves a record per socket that
 * stays open (its number, inode and slot) and the memfd open across the
 * exec; the new program maps it at load and its sockets keep their slots:
 * a server and the services it fork+execs count every holder in one place,
 * whichever closes last.  Without that (posix_spawn, a program without
 * resetguard), what the exec'd program holds is held for good.
 *
 * A slot's top bit says that a holder released a number under which
 * bindings stay with the socket (bindings.h): the last close is then
 * plain.  The next says the socket came from outside the family: when its
 * last holder here goes, rg_share_outside() looks for holders outside, the
 * way `ss -p` does (and for epoll sets that watch it): for one inherited
 * at exec, among the ancestors that held it at load; for one received
 * with SCM_RIGHTS (the third bit), in the parent.  Anything that cannot be
 * read counts as shared; a process that is gone holds nothing.  The
 * fourth says that a holder released a number through which it had sent
 * data: the socket has an answer its last close must protect (linger.c). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bindings.h"
#include "config.h"
#include "fdtable.h"
#include "lifecycle.h"
#include "lock.h"
#include "metrics.h"
#include "ownfd.h"
#include "procfd.h"
#include "real.h"
#include "share.h"

#define RG_SHARE_SLOTS (1u << 18)
#define RG_SHARE_TAINT 0x80000000u
#define RG_SHARE_OUTSIDE 0x40000000u  /* inherited at exec, or received */
#define RG_SHARE_RECEIVED 0x20000000u /* received with SCM_RIGHTS */
#define RG_SHARE_SENT 0x10000000u     /* released by a holder that had sent */
#define RG_SHARE_COUNT 0x0fffffffu
#define RG_SHARE_HANDOFFS 256u
#define RG_SHARE_BUSY UINT32_MAX

/* A socket a family member takes across exec: the program it becomes
 * finds its slot here at load (rg_share_join).  pid 0 is a free record,
 * RG_SHARE_BUSY one being written. */
struct rg_share_handoff {
	_Atomic uint32_t pid;
	int32_t fd;
	uint32_t id;
	uint64_t ino;
	struct rg_ip_peer peer; /* as the family member knew it: after a reset, the
				* new program's getpeername() no longer answers */
};

/* The peers the family learnt for inherited sockets, by inode, the last
 * RG_SHARE_PEERS of them: a program exec'd from a vfork() child (no
 * records) that meets its socket after a reset finds the peer here. */
#define RG_SHARE_PEERS 256u
struct rg_share_peer {
	_Atomic uint64_t ino; /* 0: being written */
	struct rg_ip_peer peer;
};

/* The metrics of the family, by name (metrics.c): every program the
 * family runs under one name counts in one place.  A slot is claimed for
 * good: 0 free, 1 being named, 2 named. */
#define RG_SHARE_NAMES 16u
struct rg_share_name {
	_Atomic uint32_t state;
	char name[64];
	struct rg_family family;
};

struct rg_share_map {
	_Atomic uint32_t cursor;
	_Atomic uint32_t holders[RG_SHARE_SLOTS];
	struct rg_share_handoff handoff[RG_SHARE_HANDOFFS];
	_Atomic uint32_t peer_cursor;
	struct rg_share_peer peers[RG_SHARE_PEERS];
	struct rg_share_name names[RG_SHARE_NAMES];
};

static struct rg_share_map *_Atomic rg_share_mapped;
static bool rg_share_pause(struct rg_own *o);
static void rg_share_resume(struct rg_own *o);
static enum rg_give rg_share_give_up(struct rg_own *o);
const struct rg_own_holder rg_share_holder = { rg_share_pause, rg_share_resume,
						      rg_share_give_up };
/* The map's memfd, kept so that it can be handed to a program this
 * family execs (rg_share_exec); -1 when the map is anonymous. */
static struct rg_own rg_share_own = { -1, RG_HELD_BY_SHARE };
static const char rg_share_memfd[] = "/memfd:resetguard-holders (deleted)";
/* What LD_PRELOAD names when the program an exec starts loads this
 * library too: its file name. */
static char rg_share_lib[64];
/* The holders outside the family that sockets inherited at exec may
 * still have: the ancestors that held one of them at load, or could not
 * be read (rg_share_inherited). */
#define RG_SHARE_ANCESTORS 16
static pid_t rg_share_ancestor[RG_SHARE_ANCESTORS];
static unsigned int rg_share_ancestors;

static struct rg_share_map *rg_share_now(void)
{
	return atomic_load_explicit(&rg_share_mapped, memory_order_acquire);
}

/* Only exec reads the descriptor, and only to clear its close-on-exec
 * flag: it may move at any time. */
static bool rg_share_pause(struct rg_own *o)
{
	(void)o;
	return true;
}

static void rg_share_resume(struct rg_own *o)
{
	(void)o;
}

/* Without it, programs this family execs keep their sockets' holders for
 * good: only graceful closes are lost. */
static enum rg_give rg_share_give_up(struct rg_own *o)
{
	if (atomic_load_explicit(&o->fd, memory_order_acquire) < 0)
		return RG_CANNOT;
	rg_own_close(o);
	return RG_GAVE;
}

/* The memfd becomes an own descriptor; when the lock cannot be had (a
 * signal handler interrupted its holder), it is closed and the map stays
 * this family's alone. */
static void rg_share_keep(int fd)
{
	if (!rg_lock_enter_unmasked(RG_LOCK_DRAINER)) {
		rg_libc(close)(fd);
		return;
	}
	rg_own_take(&rg_share_own, fd);
	rg_lock_leave_unmasked(RG_LOCK_DRAINER);
}

/* The map, made on first need: in a memfd that exec can hand on, else
 * anonymous (also in a vfork() child, whose descriptors are not the
 * parent's that shares its memory). */
static struct rg_share_map *rg_share_make(void)
{
	struct rg_share_map *map = NULL, *expected = NULL;
	int saved = errno;
	int fd = rg_in_vfork_child() ? -1
				      : rg_libc(memfd_create)("resetguard-holders", MFD_CLOEXEC);
	void *m;

	if (fd >= 0 && ftruncate(fd, (off_t)sizeof(*map)) == 0) {
		m = mmap(NULL, sizeof(*map), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		map = m == MAP_FAILED ? NULL : m;
	}
	if (!map && fd >= 0) {
		rg_libc(close)(fd);
		fd = -1;
	}
	if (!map) {
		m = mmap(NULL, sizeof(*map), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			 -1, 0);
		map = m == MAP_FAILED ? NULL : m;
	}
	if (map && !atomic_compare_exchange_strong_explicit(&rg_share_mapped, &expected, map,
							      memory_order_acq_rel,
							      memory_order_acquire)) {
		munmap(map, sizeof(*map)); /* another thread won */
		map = expected;
	} else if (map && fd >= 0) {
		rg_share_keep(fd);
		fd = -1;
	}
	if (fd >= 0)
		rg_libc(close)(fd);
	errno = saved;
	return map;
}

void rg_share_init(void)
{
	Dl_info info;

	if (dladdr((void *)rg_share_init, &info) && info.dli_fname) {
		const char *base = strrchr(info.dli_fname, '/');

		snprintf(rg_share_lib, sizeof(rg_share_lib), "%s", base ? base + 1 : info.dli_fname);
	}
}

/* The named slot, claimed in order, so that two processes naming the same
 * family at once meet in the first free one; NULL when all are taken. */
static struct rg_family *rg_share_name_in(struct rg_share_map *map, const char *name)
{
	for (unsigned int i = 0; i < RG_SHARE_NAMES; i++) {
		struct rg_share_name *n = &map->names[i];
		uint32_t state = 0;

		if (atomic_compare_exchange_strong_explicit(&n->state, &state, 1,
							    memory_order_acquire,
							    memory_order_acquire)) {
			snprintf(n->name, sizeof(n->name), "%s", name);
			atomic_store_explicit(&n->state, 2, memory_order_release);
			return &n->family;
		}
		/* Being named takes a snprintf(): a short wait. */
		for (int spins = 0; state == 1 && spins < 1000000; spins++)
			state = atomic_load_explicit(&n->state, memory_order_acquire);
		if (state == 2 && strcmp(n->name, name) == 0)
			return &n->family;
	}
	return NULL;
}

struct rg_family *rg_share_family(const char *name)
{
	struct rg_share_map *map = rg_share_now();

	if (!map && !rg_in_vfork_child())
		map = rg_share_make();
	return map ? rg_share_name_in(map, name) : NULL;
}

/* A free slot, claimed with one holder; 0 (no slot) when none is free
 * within a short search, which makes the socket count as shared. */
uint32_t rg_share_new(void)
{
	if (RG_UNLIKELY(!rg_share_now()) && !rg_share_make())
		return 0;
	for (int tries = 0; tries < 64; tries++) {
		uint32_t id = atomic_fetch_add_explicit(&rg_share_now()->cursor, 1, memory_order_relaxed) %
			      RG_SHARE_SLOTS;
		uint32_t free_slot = 0;

		if (id != 0 && atomic_compare_exchange_strong_explicit(
				       &rg_share_now()->holders[id], &free_slot, 1, memory_order_relaxed,
				       memory_order_relaxed))
			return id;
	}
	return 0;
}

void rg_share_hold(uint32_t id)
{
	if (id)
		atomic_fetch_add_explicit(&rg_share_now()->holders[id], 1, memory_order_relaxed);
}

/* A slot whose count reaches zero is free again, its marks gone with it.
 * A count already at zero (an upward error elsewhere cannot make one) is
 * left alone. */
struct rg_share_drop rg_share_drop(uint32_t id)
{
	struct rg_share_drop d = { false, false, false, false, false };
	_Atomic uint32_t *word;
	uint32_t old, next;

	if (!id)
		return d;
	word = &rg_share_now()->holders[id];
	old = atomic_load_explicit(word, memory_order_acquire);
	do {
		if (!(old & RG_SHARE_COUNT))
			return d;
		next = (old & RG_SHARE_COUNT) == 1 ? 0 : old - 1;
	} while (!atomic_compare_exchange_weak_explicit(word, &old, next, memory_order_acq_rel,
							memory_order_acquire));
	d.last = next == 0;
	d.tainted = (old & RG_SHARE_TAINT) != 0;
	d.outside = (old & RG_SHARE_OUTSIDE) != 0;
	d.received = (old & RG_SHARE_RECEIVED) != 0;
	d.sent = (old & RG_SHARE_SENT) != 0;
	return d;
}

/* Marked before the holder's count is dropped, so that whoever drops the
 * last one sees it.  Without a slot, only this process's other numbers
 * for the socket can be told. */
void rg_share_sent(const struct rg_fd *conn)
{
	if (conn->share) {
		atomic_fetch_or_explicit(&rg_share_now()->holders[conn->share], RG_SHARE_SENT,
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
		atomic_fetch_or_explicit(&rg_share_now()->holders[conn->share], RG_SHARE_TAINT,
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

/* A socket just received with SCM_RIGHTS at fd: met now, while its peer
 * can be learnt, and counted from here on, so that the children the
 * program forks are holders; the sender is looked for when the family's
 * last descriptor goes. */
void rg_share_received(int fd)
{
	struct rg_fd *e = rg_fd_socket(fd);
	uint32_t id;

	if (!e || e->share || e != rg_fd_peek(fd))
		return;
	id = rg_share_new();
	if (id)
		atomic_fetch_or_explicit(&rg_share_now()->holders[id],
					 RG_SHARE_OUTSIDE | RG_SHARE_RECEIVED, memory_order_relaxed);
	e->share = id;
}

struct rg_share_search {
	char want[32]; /* "socket:[<inode>]" */
	char ino[24];  /* " ino:<hex> " as an epoll set's fdinfo lists its targets */
	const char *pid_dir; /* /proc/<pid> */
	const struct rg_fd *conn;
	int skip_fd;
	int holder_fd; /* where another process holds it */
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
	if ((size_t)len == strlen(q->want) && memcmp(link, q->want, (size_t)len) == 0) {
		q->holder = true;
		q->holder_fd = fd;
	} else if ((size_t)len == sizeof(epoll) - 1 && memcmp(link, epoll, (size_t)len) == 0)
		rg_share_epoll(q, fd);
}

/* Looks at /proc/<pid>; false when it cannot be read.  Another process
 * that is gone (ENOENT) holds nothing. */
static bool rg_share_search_in(struct rg_share_search *q, const char *pid_dir, bool self)
{
	char dir[40];

	q->pid_dir = pid_dir;
	q->self = self;
	snprintf(dir, sizeof(dir), "%s/fd", pid_dir);
	return rg_procfd_each(dir, rg_share_visit, q) == 0 || (!self && errno == ENOENT);
}

static void rg_share_search_for(struct rg_share_search *q, unsigned long ino)
{
	snprintf(q->want, sizeof(q->want), "socket:[%lu]", ino);
	snprintf(q->ino, sizeof(q->ino), " ino:%lx ", ino);
}

/* Looks for holders of the socket among pids, processes outside the
 * family; h gets the first that holds it. */
static enum rg_outside rg_share_look_out(struct rg_share_search *q, const pid_t *pids,
					 unsigned int n, struct rg_outside_holder *h)
{
	h->pid = 0;
	q->skip_fd = -1;
	for (unsigned int i = 0; i < n; i++) {
		char dir[32];

		q->holder = false;
		snprintf(dir, sizeof(dir), "/proc/%d", (int)pids[i]);
		if (!rg_share_search_in(q, dir, false))
			return RG_OUTSIDE_SHARED;
		if (q->holder && !h->pid) {
			h->pid = pids[i];
			h->fd = q->holder_fd;
		}
	}
	/* An epoll set that watches it would see the drainer's doings. */
	if (q->watched)
		return h->pid ? RG_OUTSIDE_SHARED : RG_OUTSIDE_WATCHED;
	return h->pid ? RG_OUTSIDE_AWAIT : RG_OUTSIDE_SOLE;
}

/* Where the holders outside may be: an inherited socket's are the
 * ancestors found at load, wherever in the family the last close happens;
 * a received one's, the parent. */
static enum rg_outside rg_share_look_around(struct rg_share_search *q, struct rg_outside_holder *h)
{
	if (h->parent)
		return rg_share_look_out(q, &h->parent, 1, h);
	return rg_share_look_out(q, rg_share_ancestor, rg_share_ancestors, h);
}

enum rg_outside rg_share_outside(int fd, const struct rg_fd *conn, bool inherited,
				 struct rg_outside_holder *h)
{
	struct rg_share_search q = { .conn = conn, .skip_fd = fd };
	enum rg_outside found = RG_OUTSIDE_SHARED;
	struct stat st;
	int saved = errno;

	if (fstat(fd, &st) < 0)
		return RG_OUTSIDE_SHARED;
	h->ino = (unsigned long)st.st_ino;
	h->parent = inherited ? 0 : getppid();
	rg_share_search_for(&q, h->ino);
	if (rg_share_search_in(&q, "/proc/self", true) && !q.holder)
		found = rg_share_look_around(&q, h);
	errno = saved;
	return found;
}

bool rg_share_outside_gone(struct rg_outside_holder *h)
{
	struct rg_share_search q = { .conn = NULL };
	char path[48], link[32];
	ssize_t len;
	int saved = errno;
	bool gone;

	rg_share_search_for(&q, h->ino);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)h->pid, h->fd);
	len = readlink(path, link, sizeof(link));
	if (h->pid && (size_t)len == strlen(q.want) && memcmp(link, q.want, (size_t)len) == 0)
		return false;
	/* That number let go: the socket may live on under another. */
	gone = rg_share_look_around(&q, h) == RG_OUTSIDE_SOLE;
	errno = saved;
	return gone;
}

/* Sockets inherited at exec, met at load: the same socket under several
 * numbers (inetd's 0, 1 and 2) shares one slot. */
#define RG_SHARE_INHERITED 64

struct rg_share_inherit {
	int fd[RG_SHARE_INHERITED];
	unsigned long ino[RG_SHARE_INHERITED];
	uint32_t id[RG_SHARE_INHERITED];
	bool outside[RG_SHARE_INHERITED];
	unsigned int n;
	int memfd; /* the map a family member handed over, or -1 */
};

static void rg_share_inherit_visit(int dirfd, int fd, void *ctx)
{
	struct rg_share_inherit *in = ctx;
	char name[16], link[sizeof(rg_share_memfd)];
	struct rg_fd *e;
	struct stat st;
	ssize_t len;

	if (rg_own_at(fd))
		return;
	snprintf(name, sizeof(name), "%d", fd);
	len = readlinkat(dirfd, name, link, sizeof(link));
	if (len == (ssize_t)sizeof(rg_share_memfd) - 1 && in->memfd < 0 &&
	    memcmp(link, rg_share_memfd, (size_t)len) == 0) {
		in->memfd = fd;
		return;
	}
	/* Classified now, while getpeername() still answers: a reset
	 * later is logged with the peer. */
	e = rg_fd_socket(fd);
	if (!e || e->share || e != rg_fd_peek(fd) || in->n == RG_SHARE_INHERITED ||
	    fstat(fd, &st) < 0)
		return;
	in->fd[in->n] = fd;
	in->ino[in->n] = (unsigned long)st.st_ino;
	in->id[in->n] = 0;
	in->outside[in->n++] = false;
}

/* The map handed over by the family member this program was exec'd from:
 * its sockets keep their slots, and every holder on both sides of the exec
 * is counted in one place. */
static bool rg_share_join(struct rg_share_inherit *in)
{
	struct rg_share_map *map;
	struct stat st;
	void *m;
	uint32_t me = (uint32_t)getpid();

	if (fstat(in->memfd, &st) < 0 || st.st_size != (off_t)sizeof(*map))
		return false;
	m = mmap(NULL, sizeof(*map), PROT_READ | PROT_WRITE, MAP_SHARED, in->memfd, 0);
	if (m == MAP_FAILED)
		return false;
	map = m;
	atomic_store_explicit(&rg_share_mapped, map, memory_order_release);
	rg_share_keep(in->memfd);
	for (unsigned int h = 0; h < RG_SHARE_HANDOFFS; h++) {
		struct rg_share_handoff *r = &map->handoff[h];

		if (atomic_load_explicit(&r->pid, memory_order_acquire) != me)
			continue;
		for (unsigned int i = 0; i < in->n; i++) {
			struct rg_fd *e = rg_fd_peek(in->fd[i]);

			if (in->fd[i] != r->fd || in->ino[i] != r->ino)
				continue;
			if (r->id && r->id < RG_SHARE_SLOTS)
				in->id[i] = r->id;
			rg_fd_learn_peer(e, &r->peer);
		}
		atomic_store_explicit(&r->pid, 0, memory_order_release);
	}
	return true;
}

/* The slot of the inherited socket i that came with no handoff: shared
 * with its other numbers here, else new and marked from outside. */
static void rg_share_inherit_slot(struct rg_share_inherit *in, unsigned int i)
{
	for (unsigned int j = 0; j < i; j++) {
		if (in->ino[j] == in->ino[i] && in->outside[j]) {
			rg_share_hold(in->id[j]);
			in->id[i] = in->id[j];
			in->outside[i] = true;
			return;
		}
	}
	in->id[i] = rg_share_new();
	if (!in->id[i])
		return;
	atomic_fetch_or_explicit(&rg_share_now()->holders[in->id[i]], RG_SHARE_OUTSIDE,
				 memory_order_relaxed);
	in->outside[i] = true;
}

/* Whether an ancestor's descriptor links to one of the inherited
 * sockets. */
struct rg_share_ancestor_search {
	const struct rg_share_inherit *in;
	bool holder;
};

static void rg_share_ancestor_visit(int dirfd, int fd, void *ctx)
{
	struct rg_share_ancestor_search *a = ctx;
	char name[16], link[64];
	unsigned long ino = 0;
	ssize_t len;

	snprintf(name, sizeof(name), "%d", fd);
	len = readlinkat(dirfd, name, link, sizeof(link) - 1);
	if (len <= 8 || memcmp(link, "socket:[", 8) != 0)
		return;
	link[len] = 0;
	for (const char *c = link + 8; *c >= '0' && *c <= '9'; c++)
		ino = ino * 10 + (unsigned long)(*c - '0');
	for (unsigned int i = 0; i < a->in->n; i++)
		a->holder |= a->in->outside[i] && a->in->ino[i] == ino;
}

/* The parent of pid, from /proc/<pid>/stat ("pid (comm) S ppid ..."; comm
 * may hold anything, so the last ')' ends it); 0 when unknown. */
static pid_t rg_share_parent_of(pid_t pid)
{
	char path[32], buf[512];
	const char *p;
	long ppid = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = rg_libc(open)(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = rg_libc(read)(fd, buf, sizeof(buf) - 1);
	rg_libc(close)(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || strlen(p) < 5)
		return 0;
	for (p += 4; *p >= '0' && *p <= '9'; p++)
		ppid = ppid * 10 + (*p - '0');
	return (pid_t)ppid;
}

/* The inherited sockets came down a line of ancestors, each of which may
 * still hold them: those that do at load are remembered, up to the first
 * that holds none.  One that cannot be read is remembered, and ends the
 * line: it may hold them and always will, as far as anyone here can
 * tell. */
static void rg_share_find_ancestors(const struct rg_share_inherit *in)
{
	pid_t pid = getppid();

	while (pid > 0 && rg_share_ancestors < RG_SHARE_ANCESTORS) {
		struct rg_share_ancestor_search a = { .in = in, .holder = false };
		char dir[32];

		snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
		if (rg_procfd_each(dir, rg_share_ancestor_visit, &a) < 0) {
			if (errno != ENOENT)
				rg_share_ancestor[rg_share_ancestors++] = pid;
			return;
		}
		if (!a.holder)
			return;
		rg_share_ancestor[rg_share_ancestors++] = pid;
		pid = rg_share_parent_of(pid);
	}
}

static void rg_share_peer_put(struct rg_share_map *map, unsigned long ino,
			      const struct rg_ip_peer *peer)
{
	uint32_t i = atomic_fetch_add_explicit(&map->peer_cursor, 1, memory_order_relaxed) %
		     RG_SHARE_PEERS;

	atomic_store_explicit(&map->peers[i].ino, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	map->peers[i].peer = *peer;
	atomic_store_explicit(&map->peers[i].ino, ino, memory_order_release);
}

/* The peer learnt for ino, checked again after the copy: a writer may
 * have reused the entry meanwhile. */
static struct rg_ip_peer rg_share_peer_get(struct rg_share_map *map, unsigned long ino)
{
	for (unsigned int i = 0; i < RG_SHARE_PEERS; i++) {
		struct rg_ip_peer copy;

		if (atomic_load_explicit(&map->peers[i].ino, memory_order_acquire) != ino)
			continue;
		copy = map->peers[i].peer;
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&map->peers[i].ino, memory_order_relaxed) == ino)
			return copy;
	}
	return (struct rg_ip_peer){ .family = AF_UNSPEC };
}

/* The peer of an inherited socket, learnt at load, is kept for the
 * programs this family starts; one met after a reset gets it from there. */
static void rg_share_peer_book(struct rg_share_map *map, int fd, unsigned long ino)
{
	struct rg_fd *e = rg_fd_peek(fd);
	struct rg_ip_peer peer = rg_fd_peer(e);

	if (peer.family != AF_UNSPEC) {
		rg_share_peer_put(map, ino, &peer);
	} else {
		peer = rg_share_peer_get(map, ino);
		rg_fd_learn_peer(e, &peer);
	}
}

/* At load, before the program runs: every socket inherited across exec
 * joins the family's counts, so that the children the program forks are
 * holders like those of sockets made here (git daemon's upload-pack).  A
 * program exec'd by a family member under resetguard joins that family
 * (rg_share_exec); its sockets are counted on both sides of the exec.
 * What remains outside are the ancestors that held the other sockets at
 * load, looked at again only when the family's last descriptor goes
 * (rg_share_outside). */
void rg_share_inherited(void)
{
	struct rg_share_inherit in = { .n = 0, .memfd = -1 };
	int saved = errno;
	bool outside = false;

	if (rg_procfd_each("/proc/self/fd", rg_share_inherit_visit, &in) < 0) {
		errno = saved;
		return;
	}
	if (in.memfd >= 0 && !rg_share_join(&in))
		rg_libc(close)(in.memfd);
	if (in.n && !rg_share_now())
		rg_share_make();
	for (unsigned int i = 0; i < in.n && rg_share_now(); i++) {
		/* One handed over may have come from outside to the family
		 * before: then its ancestors are this program's too. */
		if (!in.id[i])
			rg_share_inherit_slot(&in, i);
		else
			in.outside[i] = (atomic_load_explicit(&rg_share_now()->holders[in.id[i]],
							     memory_order_relaxed) &
					 RG_SHARE_OUTSIDE) != 0;
		outside |= in.outside[i];
		rg_fd_peek(in.fd[i])->share = in.id[i];
		rg_share_peer_book(rg_share_now(), in.fd[i], in.ino[i]);
	}
	if (outside)
		rg_share_find_ancestors(&in);
	errno = saved;
}

/* Whether the program execve() starts loads this library too: then it
 * joins this family. */
static bool rg_share_preloaded(char *const envp[])
{
	for (; envp && *envp; envp++) {
		if (strncmp(*envp, "LD_PRELOAD=", 11) == 0)
			return rg_share_lib[0] && strstr(*envp + 11, rg_share_lib);
	}
	return false;
}

/* One socket fd of this process's goes on into the new program. */
static bool rg_share_hand_over(struct rg_share_map *map, int fd, const struct rg_fd *e)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return false;
	for (unsigned int h = 0; h < RG_SHARE_HANDOFFS; h++) {
		struct rg_share_handoff *r = &map->handoff[h];
		uint32_t old = atomic_load_explicit(&r->pid, memory_order_acquire);

		/* A record left by a program that never loaded resetguard
		 * (its process is gone) is free again. */
		if (old == RG_SHARE_BUSY || (old && (kill((pid_t)old, 0) == 0 || errno != ESRCH)))
			continue;
		if (!atomic_compare_exchange_strong_explicit(&r->pid, &old, RG_SHARE_BUSY,
							     memory_order_acquire,
							     memory_order_relaxed))
			continue;
		r->fd = fd;
		r->id = e->share;
		r->ino = (uint64_t)st.st_ino;
		r->peer = rg_fd_peer(e);
		atomic_store_explicit(&r->pid, (uint32_t)getpid(), memory_order_release);
		return true;
	}
	return false;
}

/* One holder less, unless it is the last: a slot that stays held can be
 * held again. */
static bool rg_share_drop_other(uint32_t id)
{
	_Atomic uint32_t *word = &rg_share_now()->holders[id];
	uint32_t old = atomic_load_explicit(word, memory_order_acquire);

	do {
		if ((old & RG_SHARE_COUNT) < 2)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(word, &old, old - 1, memory_order_acq_rel,
							memory_order_acquire));
	return true;
}

/* Sockets that are close-on-exec go with the exec: their holders are
 * taken down before it (unless one is the socket's last, which the exec
 * closes anyway), and put back if it fails. */
#define RG_SHARE_EXEC_DROPS 64
static uint32_t rg_share_exec_dropped[RG_SHARE_EXEC_DROPS];
static unsigned int rg_share_exec_drops;

/* Right before exec.  When the new program loads resetguard too, each
 * socket that stays open across the exec is handed over with its slot,
 * and the map's descriptor with them; otherwise (or for a socket whose
 * record could not be written) its holders stay counted for good.  A
 * socket that is close-on-exec loses its holder here. */
void rg_share_exec(char *const envp[])
{
	struct rg_share_map *map = rg_share_now();
	int mfd = atomic_load_explicit(&rg_share_own.fd, memory_order_acquire);
	int saved = errno;
	bool any = false, hand = map && mfd >= 0 && rg_share_preloaded(envp);

	rg_share_exec_drops = 0;
	for (int fd = 0; map && (fd = rg_fd_next(fd, RG_FD_MAX, RG_FD_SOCKET)) >= 0; fd++) {
		uint32_t id = rg_fd_peek(fd)->share;
		int flags = id ? rg_libc(fcntl)(fd, F_GETFD) : -1;

		if (flags >= 0 && (flags & FD_CLOEXEC) && rg_share_exec_drops < RG_SHARE_EXEC_DROPS) {
			if (rg_share_drop_other(id))
				rg_share_exec_dropped[rg_share_exec_drops++] = id;
		} else if (flags >= 0 && !(flags & FD_CLOEXEC) && hand) {
			any |= rg_share_hand_over(map, fd, rg_fd_peek(fd));
		}
	}
	/* The family's metrics go on too. */
	if (any || (hand && rg_config.metrics_dir))
		rg_libc(fcntl)(mfd, F_SETFD, 0);
	errno = saved;
}

/* Right before exec in a vfork() child: its sockets are held for good
 * (rg_share_spawn), but a new program that loads resetguard gets the map,
 * for the peers the family learnt.  Only the child's descriptor table is
 * touched: its memory is the parent's. */
void rg_share_exec_vfork(char *const envp[])
{
	int mfd = atomic_load_explicit(&rg_share_own.fd, memory_order_acquire);
	int saved = errno;

	rg_share_spawn();
	if (mfd >= 0 && rg_share_preloaded(envp))
		rg_libc(fcntl)(mfd, F_SETFD, 0);
	errno = saved;
}

/* exec failed: the holders taken down come back, the records are taken
 * back, the map's descriptor is close-on-exec again. */
void rg_share_exec_failed(void)
{
	struct rg_share_map *map = rg_share_now();
	int mfd = atomic_load_explicit(&rg_share_own.fd, memory_order_acquire);
	uint32_t me = (uint32_t)getpid();

	if (!map)
		return;
	for (unsigned int i = 0; i < rg_share_exec_drops; i++)
		rg_share_hold(rg_share_exec_dropped[i]);
	rg_share_exec_drops = 0;
	for (unsigned int h = 0; h < RG_SHARE_HANDOFFS; h++) {
		uint32_t old = me;

		atomic_compare_exchange_strong_explicit(&map->handoff[h].pid, &old, 0,
							memory_order_release, memory_order_relaxed);
	}
	if (mfd >= 0)
		rg_libc(fcntl)(mfd, F_SETFD, FD_CLOEXEC);
}
