/* What resetguard knows about each descriptor, indexed by number.
 *
 * The table is two-level and grows lazily: a directory of chunk pointers in
 * .bss and chunks of RG_FD_CHUNK entries mapped on first use, so a program
 * allowed a million descriptors that uses ten costs one page.  A lookup is a
 * bounds check and two loads; no lock, no system call, safe in a signal
 * handler.  Descriptors beyond RG_FD_MAX are passed through untracked. */
#ifndef RG_FDTABLE_H
#define RG_FDTABLE_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "export.h"

#define RG_FD_CHUNK_SHIFT 8
#define RG_FD_CHUNK (1u << RG_FD_CHUNK_SHIFT)
#define RG_FD_DIR 4096u
#define RG_FD_MAX (RG_FD_DIR * RG_FD_CHUNK)

enum rg_fd_kind {
	RG_FD_UNSEEN = 0, /* never met, or closed: classify on next use */
	RG_FD_BUSY,	  /* an entry being (re)written by another thread */
	RG_FD_OTHER,	  /* not a socket: pass everything through */
	RG_FD_SOCKET,
};

enum rg_role {
	RG_ROLE_UNKNOWN = 0, /* met already connected (inherited, passed) */
	RG_ROLE_CLIENT,	     /* this process called connect() */
	RG_ROLE_SERVER,	     /* this process accepted it */
	RG_ROLE_PAIR,	     /* one end of a socketpair() */
};

struct rg_addr {
	socklen_t len; /* 0: unknown */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} u;
};

/* The peer of an IP socket as connect() or accept() named it, or as
 * getpeername() answered when the socket was first met: after a reset the
 * kernel no longer does.  A Unix socket's peer stays known to the kernel
 * until the socket's own close, so it is asked for when a record needs it
 * and kept nowhere.  What a record prints of a sockaddr_in or _in6 (no
 * flow label), in 24 bytes: a table of them runs beside the entries and a
 * lingering socket's slot keeps one. */
struct rg_ip_peer {
	unsigned char addr[16]; /* an IPv4 address in the first four */
	uint32_t scope_id;
	in_port_t port;	      /* network order */
	unsigned char family; /* AF_INET, AF_INET6; AF_UNSPEC: none kept */
};

/* A registration the program made in an epoll set (epoll_ctl ADD) under
 * this descriptor's number; uid names the epoll instance (struct rg_fd's
 * epoll_uid), since its number may be closed and reused. */
struct rg_epoll_reg {
	int epfd;
	uint32_t uid;
};

#define RG_FD_REGS 2

/* Bindings the program made on the open file description that the
 * kernel's last close would undo (linger.c undoes them at hand-over). */
enum rg_bind {
	RG_BIND_ASYNC = 1,   /* O_ASYNC, an owner or a signal for it (fcntl, ioctl) */
	RG_BIND_LOST = 2,    /* registrations beyond RG_FD_REGS: cannot be undone */
	RG_BIND_TAINTED = 4, /* another number of this socket left bindings behind */
};

/* One socket's life on a number: its calls in flight and the bytes they
 * moved.  An entry has two, used in turn, so that a number closed and
 * reused counts its new socket apart from the calls the old one may still
 * have in flight, which the drainer waits for (linger.c). */
struct rg_fd_life {
	_Atomic uint32_t inflight;
	_Atomic uint64_t tx_bytes;
	_Atomic uint64_t rx_bytes;
};

struct rg_fd {
	_Atomic unsigned char kind;
	unsigned char role;
	unsigned char family;	  /* AF_*: all below 256 */
	bool sent;		  /* another number of the socket had sent data (share.c) */
	int fd;			  /* the number this entry is for: set once, so the hot paths
				   * need not keep it across the libc call for the rare log */
	unsigned char type;	  /* SOCK_STREAM ... SOCK_PACKET */
	unsigned char send_flags; /* what write() means as send(): MSG_EOR as write() sets it */
	unsigned char nregs;	  /* registrations in regs[] */
	unsigned char bind;	  /* enum rg_bind */
	uint32_t share;		  /* holder-count slot (share.c); 0: from outside the family */
	struct rg_fd_life *_Atomic life; /* the current one of lives[] */
	struct rg_fd_life lives[2];
	int64_t opened_ns; /* CLOCK_MONOTONIC; 0: opened before resetguard saw it */
	uint64_t conn_id;  /* per process, in the order sockets were met */
	uint32_t epoll_uid; /* an epoll instance (kind OTHER): its name in rg_epoll_reg */
	int pair_fd;	    /* the other end, for one end of a socketpair(); else -1 */
	uint64_t pair_conn_id; /* the other end's conn_id, to know it is still it */
	struct rg_epoll_reg regs[RG_FD_REGS];
	void *stream; /* the FILE fdopen() made of the socket, flushed before exit */
};

/* Entries sit in cells of a power-of-two size, so that finding one is a
 * shift and not a multiply: this is on every wrapped call.  The peer's
 * address is kept apart (rg_fd_peer) to fit in this one. */
#define RG_FD_CELL 128u
union rg_fd_cell {
	struct rg_fd fd;
	char cell[RG_FD_CELL];
};
_Static_assert(sizeof(struct rg_fd) <= RG_FD_CELL, "struct rg_fd outgrew its cell");

/* The entry a life belongs to: cells are RG_FD_CELL-aligned (chunks are
 * mapped, the scratch entry is aligned), so the hot paths keep one pointer
 * across the libc call instead of two. */
static inline struct rg_fd *rg_fd_of_life(const struct rg_fd_life *l)
{
	return (struct rg_fd *)((uintptr_t)l & ~(uintptr_t)(RG_FD_CELL - 1));
}

extern RG_HIDDEN union rg_fd_cell *_Atomic rg_fd_dir[RG_FD_DIR];

/* rg_fd_peek() for a number known to be below RG_FD_MAX. */
static inline struct rg_fd *rg_fd_peek_in_table(unsigned int fd)
{
	union rg_fd_cell *chunk = atomic_load_explicit(&rg_fd_dir[fd >> RG_FD_CHUNK_SHIFT],
						       memory_order_acquire);
	return chunk ? &chunk[fd & (RG_FD_CHUNK - 1)].fd : NULL;
}

/* The entry for fd if its chunk exists, else NULL; never allocates. */
static inline struct rg_fd *rg_fd_peek(int fd)
{
	if (RG_UNLIKELY((unsigned)fd >= RG_FD_MAX))
		return NULL;
	return rg_fd_peek_in_table((unsigned)fd);
}

static inline enum rg_fd_kind rg_fd_kind_of(const struct rg_fd *e)
{
	return (enum rg_fd_kind)atomic_load_explicit(&e->kind, memory_order_acquire);
}

struct rg_fd *rg_fd_classify(int fd);

/* The hot-path question: the entry if fd is a socket, else NULL.  A
 * descriptor is classified once, on first use, then answered from the
 * table. */
static inline struct rg_fd *rg_fd_socket(int fd)
{
	struct rg_fd *e = rg_fd_peek(fd);

	if (RG_LIKELY(e)) {
		enum rg_fd_kind k = rg_fd_kind_of(e);

		if (RG_LIKELY(k == RG_FD_SOCKET))
			return e;
		if (RG_LIKELY(k == RG_FD_OTHER))
			return NULL;
	}
	return rg_fd_classify(fd);
}

/* What the table already says of fd, without classifying it: the hot
 * wrappers test it, a socket first, so that each outcome is a tail call. */
static inline enum rg_fd_kind rg_fd_known(int fd, struct rg_fd **entry)
{
	*entry = rg_fd_peek(fd);
	return *entry ? rg_fd_kind_of(*entry) : RG_FD_UNSEEN;
}

static inline void rg_fd_count(_Atomic uint64_t *counter, long n)
{
	atomic_fetch_add_explicit(counter, (uint64_t)n, memory_order_relaxed);
}

/* Whether data went out through this number of the socket (the wrappers
 * count it), as linger.c asks when the number is released. */
static inline bool rg_fd_has_sent(const struct rg_fd *e)
{
	const struct rg_fd_life *l = atomic_load_explicit(&e->life, memory_order_relaxed);

	return atomic_load_explicit(&l->tx_bytes, memory_order_relaxed) != 0;
}

/* The entry of a socket just made at fd (rg_fd_created); returns the
 * number it has now. */
int rg_fd_new_socket(int fd, int family, int type, enum rg_role role,
		     const struct sockaddr *peer, socklen_t peer_len);
/* The same for a socket whose number rg_fd_created() already settled. */
void rg_fd_init_socket(int fd, int family, int type, enum rg_role role,
		       const struct sockaddr *peer, socklen_t peer_len);
void rg_fd_link_pair(const int sv[2]);
/* One end of a socketpair() that the program made one end of a pipe (see
 * socket.c's shutdown()): from now on a pipe to resetguard too. */
void rg_fd_pipe_end(struct rg_fd *e);
void rg_fd_set_peer(int fd, enum rg_role role, const struct sockaddr *peer, socklen_t len);
/* The IP peer kept for the socket of entry e, family AF_UNSPEC when none
 * is (not an IP socket, not known, or e not an entry of the table).  The
 * peers are kept apart from the entries, in chunks of their own mapped
 * when a chunk's first one is kept: a Unix socket, a file, resetguard's
 * own descriptor pay nothing for them. */
struct rg_ip_peer rg_fd_peer(const struct rg_fd *e);
/* Keeps p as e's peer unless e already has one (a peer its family
 * learnt before a reset, share.c). */
void rg_fd_learn_peer(struct rg_fd *e, const struct rg_ip_peer *p);
void rg_fd_copy(int newfd, int oldfd);
void rg_fd_forget(int fd);
/* A descriptor the program just made: classified afresh on first use, so
 * that an entry left by a close resetguard did not see (a raw system
 * call) is never taken for it; and given the number it would have had
 * without resetguard (ownfd.h, rg_own_make_way).  Returns that number. */
/* The slow path of rg_fd_created(), and the whole of it for callers that
 * need floor or renumber. */
int rg_fd_created_slow(int fd);
/* rg_fd_created() for the n descriptors one call made (pipe, socketpair,
 * openpty), each given the number it would have had; the _in_turn form
 * one by one, *moved false before the first. */
void rg_fd_created_set(int *fds, size_t n);
int rg_fd_created_in_turn(int fd, bool *moved);
/* The same with F_DUPFD's lowest number, or, without renumber, for one
 * whose number cannot change (a FILE's, a DIR's). */
int rg_fd_created_from(int fd, int floor, bool renumber);
/* The highest number the program was seen to get from a call that makes a
 * descriptor: where its descriptors reach, in the table (RG_FD_MAX - 1 at
 * most: the untracked numbers above are nobody's business here). */
extern RG_HIDDEN _Atomic int rg_fd_program_high;
/* ownfd.c's lowest own descriptor, INT_MAX when there is none. */
extern RG_HIDDEN _Atomic int rg_own_lowest;

/* rg_fd_created() is on every open() a program makes (nginx: one per
 * request), so its usual case is inline and does nothing: a number below
 * where the program's numbers already reached and below every own
 * descriptor, whose entry the close() of its last user left unseen, has
 * nothing to forget and nowhere to move.  Anything else (a new high, an
 * entry a raw close left behind, a number own descriptors hold or are
 * near) goes the whole way. */
static inline int rg_fd_created(int fd)
{
	struct rg_fd *e;

	/* Below the high-water mark, fd is within the table. */
	if (RG_LIKELY(fd >= 0 &&
		      fd <= atomic_load_explicit(&rg_fd_program_high, memory_order_relaxed) &&
		      fd < atomic_load_explicit(&rg_own_lowest, memory_order_acquire) &&
		      (!(e = rg_fd_peek_in_table((unsigned)fd)) || rg_fd_kind_of(e) == RG_FD_UNSEEN)))
		return fd;
	return rg_fd_created_slow(fd);
}

/* rg_fd_forget() for an entry close() has already looked up. */
static inline void rg_fd_forget_entry(struct rg_fd *e)
{
	e->stream = NULL; /* before the release that hands the entry on */
	atomic_store_explicit(&e->kind, RG_FD_UNSEEN, memory_order_release);
}
/* Undoes rg_fd_forget() for a number whose release failed after all. */
void rg_fd_revive(int fd, const struct rg_fd *was);
void rg_fd_forget_range(unsigned int first, unsigned int last);
/* The lowest descriptor in [first, last] whose entry is of kind, or -1;
 * unmapped chunks are skipped whole.  Loops over the table use it:
 *   for (int fd = 0; (fd = rg_fd_next(fd, last, kind)) >= 0; fd++) */
int rg_fd_next(int first, unsigned int last, enum rg_fd_kind kind);
void rg_fd_mark(int fd, enum rg_fd_kind kind);
void rg_fd_fork_child(void);
int64_t rg_monotonic_ns(void);

#endif
