/* The per-descriptor table: lazy chunks, first-sight classification, and the
 * updates made by every call that creates, copies or closes a descriptor. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "fdtable.h"
#include "format.h"
#include "lifecycle.h"
#include "ownfd.h"
#include "real.h"
#include "share.h"

union rg_fd_cell *_Atomic rg_fd_dir[RG_FD_DIR];
/* The IP peers (rg_fd_peer), by number as the entries are, in chunks of
 * whole pages: a peer is 24 bytes, and 256 of them would leave a third of
 * their second page unused. */
#define RG_PEER_CHUNK_SHIFT 9
#define RG_PEER_CHUNK (1u << RG_PEER_CHUNK_SHIFT)
_Static_assert(RG_PEER_CHUNK * sizeof(struct rg_ip_peer) % 4096 == 0,
	       "a chunk of peers fills its pages");
static struct rg_ip_peer *_Atomic rg_peer_dir[RG_FD_MAX >> RG_PEER_CHUNK_SHIFT];
static _Atomic uint64_t rg_conn_ids;
_Atomic int rg_fd_program_high = -1;

/* Handed out when another thread is rewriting the real entry; see
 * rg_fd_classify().  Aligned like a cell, for rg_fd_of_life(). */
static __thread union rg_fd_cell rg_fd_scratch_cell __attribute__((aligned(RG_FD_CELL)));
#define rg_fd_scratch (rg_fd_scratch_cell.fd)

int64_t rg_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The entry for fd, mapping its chunk if needed.  mmap rather than malloc:
 * it is async-signal-safe and never re-enters an allocator that may itself
 * be wrapped or locked. */
static struct rg_fd *rg_fd_slot(int fd)
{
	struct rg_fd *e = rg_fd_peek(fd);

	if (e || (unsigned)fd >= RG_FD_MAX || rg_out_of_scope)
		return e;
	/* Bound before the first entry exists: the wrappers call libc
	 * through rg_libc_bound() once they have found one. */
	rg_real_ensure();

	size_t size = RG_FD_CHUNK * sizeof(union rg_fd_cell);
	union rg_fd_cell *chunk = mmap(NULL, size, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (chunk == MAP_FAILED)
		return NULL;

	int first = fd & ~(int)(RG_FD_CHUNK - 1);
	for (unsigned int i = 0; i < RG_FD_CHUNK; i++) {
		chunk[i].fd.fd = first + (int)i;
		chunk[i].fd.life = &chunk[i].fd.lives[0];
	}

	union rg_fd_cell *expected = NULL;
	union rg_fd_cell *_Atomic *dir = &rg_fd_dir[(unsigned)fd >> RG_FD_CHUNK_SHIFT];
	if (!atomic_compare_exchange_strong_explicit(dir, &expected, chunk,
						     memory_order_acq_rel,
						     memory_order_acquire))
		munmap(chunk, size); /* another thread won */
	return rg_fd_peek(fd);
}

/* Where the peer of the socket on fd is kept: its chunk is mapped on the
 * first peer kept there (with make), as the entries' chunks are.  NULL
 * when there is none and make is false, or no memory. */
static struct rg_ip_peer *rg_peer_cell(int fd, bool make)
{
	struct rg_ip_peer *_Atomic *dir = &rg_peer_dir[(unsigned)fd >> RG_PEER_CHUNK_SHIFT];
	struct rg_ip_peer *chunk = atomic_load_explicit(dir, memory_order_acquire);

	if (!chunk && make) {
		size_t size = RG_PEER_CHUNK * sizeof(*chunk);
		struct rg_ip_peer *expected = NULL;

		chunk = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (chunk == MAP_FAILED)
			return NULL;
		if (!atomic_compare_exchange_strong_explicit(dir, &expected, chunk,
							     memory_order_acq_rel,
							     memory_order_acquire)) {
			munmap(chunk, size); /* another thread won */
			chunk = expected;
		}
	}
	return chunk ? &chunk[(unsigned)fd & (RG_PEER_CHUNK - 1)] : NULL;
}

/* Whether e is the table's entry for its number: the scratch entry and
 * copies elsewhere have no peer there. */
static bool rg_fd_in_table(const struct rg_fd *e)
{
	return (unsigned)e->fd < RG_FD_MAX && rg_fd_peek(e->fd) == e;
}

/* Keeps p as e's peer (AF_UNSPEC: forgets e's): every new socket on the
 * number calls it once. */
static void rg_fd_put_peer(struct rg_fd *e, const struct rg_ip_peer *p)
{
	struct rg_ip_peer *cell = rg_fd_in_table(e) ? rg_peer_cell(e->fd, p->family != AF_UNSPEC)
						   : NULL;

	if (cell)
		*cell = *p;
}

static void rg_fd_keep_peer(struct rg_fd *e, const struct sockaddr *sa, socklen_t len)
{
	struct rg_ip_peer p;

	rg_ip_peer_of(sa, len, &p);
	rg_fd_put_peer(e, &p);
}

struct rg_ip_peer rg_fd_peer(const struct rg_fd *e)
{
	struct rg_ip_peer *p = rg_fd_in_table(e) ? rg_peer_cell(e->fd, false) : NULL;

	return p ? *p : (struct rg_ip_peer){ .family = AF_UNSPEC };
}

void rg_fd_learn_peer(struct rg_fd *e, const struct rg_ip_peer *p)
{
	if (rg_fd_peer(e).family == AF_UNSPEC && p->family != AF_UNSPEC)
		rg_fd_put_peer(e, p);
}

/* What write() on a socket of this type does in the kernel
 * (sock_write_iter), as send() flags; the wrappers add MSG_NOSIGNAL while
 * SIGPIPE would kill. */
static int rg_fd_send_flags(int type)
{
	return type == SOCK_SEQPACKET ? MSG_EOR : 0;
}

/* A new socket on this number begins the other life: its calls are
 * counted apart from those the last one may still have in flight, which
 * keep counting there. */
static void rg_fd_new_life(struct rg_fd *e)
{
	struct rg_fd_life *next = atomic_load_explicit(&e->life, memory_order_relaxed) == &e->lives[0]
					  ? &e->lives[1]
					  : &e->lives[0];

	atomic_store_explicit(&next->tx_bytes, 0, memory_order_relaxed);
	atomic_store_explicit(&next->rx_bytes, 0, memory_order_relaxed);
	atomic_store_explicit(&e->life, next, memory_order_relaxed);
}

static void rg_fd_fill(struct rg_fd *e, int family, int type, enum rg_role role)
{
	rg_fd_new_life(e);
	e->family = (unsigned char)family;
	e->type = (unsigned char)type;
	e->send_flags = (unsigned char)rg_fd_send_flags(type);
	e->role = (unsigned char)role;
	e->opened_ns = rg_monotonic_ns();
	e->stream = NULL;
	e->share = 0;
	e->conn_id = atomic_fetch_add_explicit(&rg_conn_ids, 1, memory_order_relaxed) + 1;
	e->pair_fd = -1;
	e->nregs = 0;
	e->bind = 0;
	e->sent = false;
	e->epoll_uid = 0;
}

/* ksh93 builds its pipelines from socketpairs and makes each end look like
 * a pipe's: shut down one way and, with fchmod(), readable only or
 * writable only by its owner, where a socket is otherwise 0777.  Such an
 * end is a pipe to the programs it is handed to, and resetguard leaves it
 * alone as it does pipes: a write whose reader has gone raises SIGPIPE as
 * it would, nothing lingers, nothing is logged. */
static bool rg_fd_pipe_mode(int fd, int family, int type)
{
	struct stat st;

	if (family != AF_UNIX || type != SOCK_STREAM || fstat(fd, &st) < 0)
		return false;
	return (st.st_mode & 0777) == S_IRUSR || (st.st_mode & 0777) == S_IWUSR;
}

void rg_fd_pipe_end(struct rg_fd *e)
{
	rg_share_drop(e->share);
	e->share = 0;
	atomic_store_explicit(&e->kind, RG_FD_OTHER, memory_order_release);
}

/* One getsockopt tells a socket from anything else; for a socket met
 * already connected, learn its peer now, while getpeername() still works:
 * after a reset it fails with ENOTCONN. */
static enum rg_fd_kind rg_fd_probe(int fd, struct rg_fd *e)
{
	e->fd = fd; /* already so, but for the scratch entry */
	int type, family;
	socklen_t len = sizeof(type);

	if (rg_libc(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
		e->epoll_uid = 0;
		return errno == ENOTSOCK ? RG_FD_OTHER : RG_FD_UNSEEN;
	}
	len = sizeof(family);
	if (rg_libc(getsockopt)(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
		family = AF_UNSPEC;
	if (rg_fd_pipe_mode(fd, family, type)) {
		e->epoll_uid = 0;
		return RG_FD_OTHER;
	}
	rg_fd_fill(e, family, type, RG_ROLE_UNKNOWN);
	e->opened_ns = 0; /* opened before resetguard saw it: age unknown */

	struct sockaddr_in6 peer = { .sin6_family = AF_UNSPEC };
	len = sizeof(peer);
	if ((family != AF_INET && family != AF_INET6) ||
	    getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
		peer.sin6_family = AF_UNSPEC;
	rg_fd_keep_peer(e, (struct sockaddr *)&peer, len);
	return RG_FD_SOCKET;
}

/* resetguard's own descriptors are not the program's sockets: passed
 * through, and never cached, for they come and go under the program. */
struct rg_fd *rg_fd_classify(int fd)
{
	if (RG_UNLIKELY(rg_out_of_scope) || rg_own_at(fd))
		return NULL;
	int saved = errno;
	struct rg_fd *e = rg_fd_slot(fd);
	struct rg_fd *result = NULL;
	enum rg_fd_kind kind;

	if (!e) {
		/* Out of table or out of memory: probe without caching. */
		e = &rg_fd_scratch;
		if (rg_fd_probe(fd, e) == RG_FD_SOCKET)
			result = e;
		goto out;
	}

	unsigned char expected = RG_FD_UNSEEN;
	if (!atomic_compare_exchange_strong_explicit(&e->kind, &expected, RG_FD_BUSY,
						     memory_order_acquire,
						     memory_order_acquire)) {
		if (expected == RG_FD_SOCKET)
			result = e;
		else if (expected == RG_FD_BUSY && rg_fd_probe(fd, &rg_fd_scratch) == RG_FD_SOCKET)
			/* Another thread, or the code this signal handler
			 * interrupted, is rewriting the entry: never wait for
			 * it, answer from a private probe. */
			result = &rg_fd_scratch;
		goto out;
	}

	kind = rg_fd_probe(fd, e);
	atomic_store_explicit(&e->kind, (unsigned char)kind, memory_order_release);
	if (kind == RG_FD_SOCKET)
		result = e;
out:
	errno = saved;
	return result;
}

int rg_fd_new_socket(int fd, int family, int type, enum rg_role role,
		     const struct sockaddr *peer, socklen_t peer_len)
{
	fd = rg_fd_created(fd);
	rg_fd_init_socket(fd, family, type, role, peer, peer_len);
	return fd;
}

void rg_fd_init_socket(int fd, int family, int type, enum rg_role role,
		       const struct sockaddr *peer, socklen_t peer_len)
{
	struct rg_fd *e = rg_fd_slot(fd);

	if (!e)
		return;
	/* The number may have been another thread's until its close(): what
	 * that thread did with the entry comes before, as rg_fd_forget()
	 * released it.  (The kernel orders them; the C memory model and
	 * ThreadSanitizer need to be told.) */
	(void)atomic_load_explicit(&e->kind, memory_order_acquire);
	atomic_store_explicit(&e->kind, RG_FD_BUSY, memory_order_relaxed);
	rg_fd_fill(e, family, type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), role);
	e->share = rg_share_new();
	rg_fd_keep_peer(e, peer, peer_len);
	atomic_store_explicit(&e->kind, RG_FD_SOCKET, memory_order_release);
}

/* Each end of a new socketpair() learns the other. */
void rg_fd_link_pair(const int sv[2])
{
	struct rg_fd *a = rg_fd_peek(sv[0]), *b = rg_fd_peek(sv[1]);

	if (!a || !b)
		return;
	a->pair_fd = sv[1];
	a->pair_conn_id = b->conn_id;
	b->pair_fd = sv[0];
	b->pair_conn_id = a->conn_id;
}

void rg_fd_set_peer(int fd, enum rg_role role, const struct sockaddr *peer, socklen_t len)
{
	struct rg_fd *e = rg_fd_socket(fd);

	if (!e || e == &rg_fd_scratch)
		return;
	atomic_store_explicit(&e->kind, RG_FD_BUSY, memory_order_relaxed);
	e->role = (unsigned char)role;
	rg_fd_keep_peer(e, peer, len);
	atomic_store_explicit(&e->kind, RG_FD_SOCKET, memory_order_release);
}

/* An epoll instance keeps its name across dup(), so that a registration
 * made through one number can be undone through another. */
static void rg_fd_copy_other(struct rg_fd *to, const struct rg_fd *from)
{
	(void)atomic_load_explicit(&to->kind, memory_order_acquire); /* see rg_fd_copy() */
	to->epoll_uid = from->epoll_uid;
	atomic_store_explicit(&to->kind, RG_FD_OTHER, memory_order_release);
}

void rg_fd_copy(int newfd, int oldfd)
{
	struct rg_ip_peer peer;
	struct rg_fd *from = rg_fd_peek(oldfd);
	struct rg_fd *to = rg_fd_slot(newfd);
	enum rg_fd_kind kind = from ? rg_fd_kind_of(from) : RG_FD_UNSEEN;

	if (!to) {
		/* Untracked, but a holder all the same. */
		if (kind == RG_FD_SOCKET)
			rg_share_hold(from->share);
		return;
	}
	if (kind == RG_FD_OTHER && from->epoll_uid) {
		rg_fd_copy_other(to, from);
		return;
	}
	if (kind != RG_FD_SOCKET) {
		rg_fd_forget(newfd);
		return;
	}
	/* The number may have been another thread's until its close(): what
	 * that thread did with the entry comes before, as rg_fd_forget()
	 * released it. */
	(void)atomic_load_explicit(&to->kind, memory_order_acquire);
	atomic_store_explicit(&to->kind, RG_FD_BUSY, memory_order_relaxed);
	rg_fd_new_life(to);
	to->role = from->role;
	to->family = from->family;
	to->type = from->type;
	to->send_flags = from->send_flags;
	to->opened_ns = from->opened_ns;
	peer = rg_fd_peer(from);
	rg_fd_put_peer(to, &peer);
	to->stream = NULL;
	to->share = from->share;
	to->conn_id = from->conn_id;
	to->pair_fd = from->pair_fd;
	to->pair_conn_id = from->pair_conn_id;
	/* Registrations belong to a number; what is bound to the file is the
	 * new number's too. */
	to->nregs = 0;
	to->bind = from->bind & (RG_BIND_ASYNC | RG_BIND_TAINTED);
	to->sent = from->sent || rg_fd_has_sent(from);
	to->epoll_uid = 0;
	rg_share_hold(to->share);
	atomic_store_explicit(&to->kind, RG_FD_SOCKET, memory_order_release);
}

int rg_fd_created_from(int fd, int floor, bool renumber)
{
	int high = atomic_load_explicit(&rg_fd_program_high, memory_order_relaxed);

	if (fd < 0 || rg_out_of_scope)
		return fd;
	if (rg_own_at(fd))
		rg_own_lost(fd);
	fd = rg_own_make_way(fd, floor, renumber);
	int reach = fd < (int)RG_FD_MAX ? fd : (int)RG_FD_MAX - 1;

	while (reach > high && !atomic_compare_exchange_weak_explicit(&rg_fd_program_high, &high,
								      reach, memory_order_relaxed,
								      memory_order_relaxed))
		;
	rg_fd_forget(fd);
	return fd;
}

int rg_fd_created_slow(int fd)
{
	return rg_fd_created_from(fd, 0, true);
}

/* The kernel gave a call's descriptors the lowest free numbers in turn:
 * once one moved down to an own descriptor's number, the number it left
 * is lower than the next one's, which moves down too. */
int rg_fd_created_in_turn(int fd, bool *moved)
{
	int given = fd;

	if (*moved && fd >= 0) {
		int saved = errno;
		int cmd = (rg_libc(fcntl)(fd, F_GETFD) & FD_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD;
		int low = rg_libc(fcntl)(fd, cmd, 0);

		if (low >= 0 && low < fd) {
			rg_libc(close)(fd);
			fd = low;
		} else if (low >= 0) {
			rg_libc(close)(low);
		}
		errno = saved;
	}
	fd = rg_fd_created(fd);
	*moved |= fd != given;
	return fd;
}

void rg_fd_created_set(int *fds, size_t n)
{
	bool moved = false;

	for (size_t i = 0; i < n; i++)
		fds[i] = rg_fd_created_in_turn(fds[i], &moved);
}

void rg_fd_forget(int fd)
{
	struct rg_fd *e = rg_fd_peek(fd);

	if (e)
		rg_fd_forget_entry(e);
}

/* Only kind and stream were changed by rg_fd_forget(); the in-flight
 * counts stayed live in the entry and must stay. */
void rg_fd_revive(int fd, const struct rg_fd *was)
{
	struct rg_fd *e = rg_fd_peek(fd);

	if (e && rg_fd_kind_of(e) == RG_FD_UNSEEN) {
		e->stream = was->stream;
		atomic_store_explicit(&e->kind, rg_fd_kind_of(was), memory_order_release);
	}
}

void rg_fd_forget_range(unsigned int first, unsigned int last)
{
	if (last >= RG_FD_MAX)
		last = RG_FD_MAX - 1;
	for (unsigned int fd = first; fd <= last; fd++) {
		if (!rg_fd_peek((int)fd)) {
			fd |= RG_FD_CHUNK - 1; /* skip the whole unmapped chunk */
			continue;
		}
		rg_fd_forget((int)fd);
	}
}

int rg_fd_next(int first, unsigned int last, enum rg_fd_kind kind)
{
	if (last >= RG_FD_MAX)
		last = RG_FD_MAX - 1;
	for (unsigned int fd = (unsigned int)first; fd <= last; fd++) {
		struct rg_fd *e = rg_fd_peek((int)fd);

		if (!e)
			fd |= RG_FD_CHUNK - 1;
		else if (rg_fd_kind_of(e) == kind)
			return (int)fd;
	}
	return -1;
}

void rg_fd_mark(int fd, enum rg_fd_kind kind)
{
	struct rg_fd *e = rg_fd_slot(fd);

	if (e)
		atomic_store_explicit(&e->kind, (unsigned char)kind, memory_order_release);
}

/* The child of fork() has only the thread that forked: the calls other
 * threads had in flight are not its own. */
void rg_fd_fork_child(void)
{
	for (unsigned int c = 0; c < RG_FD_DIR; c++) {
		union rg_fd_cell *chunk = atomic_load_explicit(&rg_fd_dir[c], memory_order_relaxed);

		for (unsigned int i = 0; chunk && i < RG_FD_CHUNK; i++) {
			atomic_store_explicit(&chunk[i].fd.lives[0].inflight, 0, memory_order_relaxed);
			atomic_store_explicit(&chunk[i].fd.lives[1].inflight, 0, memory_order_relaxed);
		}
	}
}
