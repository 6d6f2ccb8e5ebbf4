/* The drainer thread.  Like the event MPM of Apache httpd, lingering
 * sockets wait in an epoll set instead of occupying a thread each: the
 * thread reads and discards (in the kernel, on TCP), closes a socket on EOF
 * or error, and at its deadline: RESETGUARD_LINGER_TIMEOUT without data,
 * or RESETGUARD_LINGER_TIME after the close (nginx's lingering_timeout and
 * lingering_time); and once it has discarded RESETGUARD_LINGER_BYTES, so
 * that a peer that keeps sending at loopback speed costs a bounded amount
 * of CPU, not 30 seconds of it.
 *
 * What the drainer owns: a slot per lingering socket, holding its own
 * descriptor for the socket (ownfd.h), what was known of the connection,
 * and the program's in-flight count for it; the thread's epoll set and
 * eventfd.  A slot's state word decides who may touch its descriptor:
 * FREE; NEW, handed over and not yet seen by the thread (DROPPED when it
 * was given up for the program before the thread came to it); WAITING, seen,
 * but a call of the program's is still in flight on the socket (another
 * thread's blocking send or recv must end as it would without resetguard,
 * so the socket is neither shut down nor read until it returns), or a
 * process outside the family holds it still (share.h); ACTIVE,
 * shut down and draining; BUSY while one thread reads, closes or moves it.
 * Slots are claimed under RG_LOCK_DRAINER; after that the state word
 * suffices, so the thread never holds the lock while it reads and a
 * program's close() never waits for the thread.
 *
 * close() does as little as it can on the program's thread: it copies the
 * descriptor, queues the slot and, when the thread would not look again
 * within a tick, wakes it.  The shutdown(SHUT_WR) is the thread's: on
 * loopback it runs the peer's whole receive path for the FIN, about as
 * long as a plain close() takes. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bindings.h"
#include "config.h"
#include "drainer.h"
#include "linger.h"
#include "lock.h"
#include "log.h"
#include "ownfd.h"
#include "real.h"
#include "rings.h"
#include "stats.h"
#include "thread.h"

#define RG_SLOTS_MAX RG_LINGER_SLOTS_MAX
#define RG_WAKE_TAG UINT64_MAX
#define RG_SCAN_GRAIN_NS 5000000 /* deadlines are kept to 5 ms */
#define RG_IDLE_EXIT_MS 200	   /* the thread leaves after this long with nothing to do */
/* Waking a sleeping thread from close() costs the closing thread a
 * cross-CPU wake-up, several µs in a VM, more than the rest of close().
 * So for RG_HOT_NS after it last took new sockets the thread looks again
 * every RG_TICK_NS by itself, and close() wakes it only when it would
 * sleep longer: busy programs pay a tick instead of a wake-up per close,
 * and a new socket waits at most a tick for its FIN.  A socket WAITING for
 * a call in flight is looked at every tick too. */
#define RG_TICK_NS 1000000
#define RG_HOT_NS 10000000
/* Filling the holes that ended sockets leave among own descriptors
 * (rg_own_compact) costs two system calls a hole: it waits while
 * deadlines are due, so that a burst of them is not made later by it, but
 * no longer than this. */
#define RG_COMPACT_WAIT_NS 100000000
/* How long a mover waits for the thread to pause before it lets go of its
 * lock and asks again (ownfd.c). */
#define RG_PAUSE_WAIT_NS 2000000
/* How long exit() and exec() wait for the thread to stop for the heir.  It
 * stops within a turn; one that does not (a record's write() to a terminal
 * held by ^S) must not hold the program's exit for ever: without the heir,
 * the exit waits for the deadlines instead (rg_drainer_wait). */
#define RG_HOLD_WAIT_NS 1000000000

enum rg_slot_state {
	RG_SLOT_FREE,
	RG_SLOT_NEW,
	RG_SLOT_WAITING,
	RG_SLOT_ACTIVE,
	RG_SLOT_BUSY,
	RG_SLOT_DROPPED, /* closed while NEW: free once the thread has passed it in the queue */
};

/* A lingering socket.  Ten thousand of them linger in under a megabyte:
 * the slot keeps what the records say of the connection (log.c's
 * rg_line_conn and the linger fields read no more of struct rg_fd), in
 * the fewest bytes that hold it, and what it rarely needs (a holder
 * outside the family) apart, in rg_slot_aside.  The times are those of
 * the drainer's deadlines, which a slot never outlives by more than
 * RESETGUARD_LINGER_TIME (an int of milliseconds), so activity is kept as
 * milliseconds after the start. */
struct rg_slot {
	_Atomic unsigned char state;
	unsigned char paused_from; /* the state a mover's pause found, to go back to */
	unsigned char family;
	unsigned char role : 2;	  /* enum rg_role */
	unsigned char life : 1;	  /* the entry's lives[] the program's calls in flight count in */
	unsigned char awaits : 1; /* rg_slot_aside names a holder who must let go first */
	struct rg_own own;
	int next_new;	    /* the next NEW slot on the queue, or -1 */
	int fd;		    /* the program's number */
	uint32_t active_ms; /* the last data the drainer saw arrive, after start_ns */
	struct rg_ip_peer peer;
	int64_t start_ns;
	uint64_t drained;
	int64_t opened_ns;
	uint64_t conn_id;
};
_Static_assert(sizeof(struct rg_slot) <= 80, "a lingering socket outgrew its budget (docs/cost.md)");
_Static_assert(RG_ROLE_PAIR < 4, "a slot keeps the role in two bits");

/* A holder outside the family that the slot of the same index waits for:
 * in a map of its own whose pages are touched only by slots that do. */
struct rg_slot_aside {
	struct rg_outside_holder outside;
	int64_t look_ns; /* when to look at it again */
};

/* e may be a copy of the program's entry: its life points into the
 * entry itself. */
static void rg_slot_keep_conn(struct rg_slot *s, const struct rg_fd *e, const struct rg_ip_peer *peer)
{
	const struct rg_fd_life *life = atomic_load_explicit(&e->life, memory_order_relaxed);

	s->fd = e->fd;
	s->family = e->family;
	s->role = e->role & 3u;
	s->life = life == &rg_fd_of_life(life)->lives[1];
	s->opened_ns = e->opened_ns;
	s->conn_id = e->conn_id;
	s->peer = *peer;
}

/* An entry for the records, made back from what the slot kept: on the
 * drainer's stack, only when a record is written. */
static const struct rg_fd *rg_slot_entry(const struct rg_slot *s, struct rg_fd *e)
{
	*e = (struct rg_fd){ .fd = s->fd, .family = s->family, .role = s->role,
			     .opened_ns = s->opened_ns, .conn_id = s->conn_id, .pair_fd = -1 };
	return e;
}

static bool rg_slot_pause(struct rg_own *o);
static void rg_slot_resume(struct rg_own *o);
static enum rg_give rg_slot_give_up(struct rg_own *o);
static bool rg_thread_pause(struct rg_own *o);
static void rg_thread_resume(struct rg_own *o);
static enum rg_give rg_thread_give_up(struct rg_own *o);

const struct rg_own_holder rg_slot_holder = { rg_slot_pause, rg_slot_resume,
						     rg_slot_give_up };
const struct rg_own_holder rg_drainer_holder = { rg_thread_pause, rg_thread_resume,
						       rg_thread_give_up };

/* Changed under the lock only. */
static bool rg_drainer_started;
static struct rg_own rg_epoll = { -1, RG_HELD_BY_DRAINER };
static struct rg_own rg_wake = { -1, RG_HELD_BY_DRAINER };
/* /proc/self/fd, open while the thread runs, which looks for rings there
 * (rings.h) without making a descriptor each time. */
static struct rg_own rg_procdir = { -1, RG_HELD_BY_DRAINER };
static struct rg_slot *rg_slots;
static struct rg_slot_aside *rg_slot_asides;
static unsigned int rg_slot_cap, rg_slot_high, rg_slot_hint;
/* Slots handed over and not yet begun: pushed under the lock, taken all at
 * once by the thread without it, so no entry is ever popped twice. */
static _Atomic int rg_new_head = -1;
/* The futex word: sockets handed over and not yet closed, in the state
 * page, where `resetguard status` reads it. */
#define rg_lingering (rg_state.f.lingering)
/* When the thread next wakes by itself (a deadline, a tick, the idle
 * time-out) while it sleeps, 0 while it is awake and about to decide, -1
 * when a new socket asks it to look again before it sleeps. */
static _Atomic int64_t rg_drainer_wake_ns;
/* A mover asks the thread to keep off its descriptors (ASKED), the thread
 * says it does (PAUSED) until the mover is done (NONE again); QUIT makes it
 * leave instead, its descriptors already given up. */
enum { RG_PARK_NONE, RG_PARK_ASKED, RG_PARK_PAUSED };
static _Atomic int rg_park;
/* Which thread is the drainer: one told to leave sees it is not. */
static _Atomic unsigned int rg_thread_gen;
/* Paused for the heir (rg_drainer_hold): movers find it paused already,
 * and do not let it go on.  Changed under the lock. */
static bool rg_drainer_held;

static struct rg_slot_aside *rg_slot_aside_of(const struct rg_slot *s)
{
	return &rg_slot_asides[s - rg_slots];
}

static int64_t rg_ms_ns(int ms)
{
	return (int64_t)ms * 1000000;
}

static void rg_futex(_Atomic int *word, int op, int val, const struct timespec *timeout)
{
	rg_libc(syscall)(SYS_futex, word, op, val, timeout, NULL, 0);
}

static struct rg_slot *rg_slot_of(struct rg_own *o)
{
	return (struct rg_slot *)((char *)o - offsetof(struct rg_slot, own));
}

int rg_slot_fd(const struct rg_slot *s)
{
	return atomic_load_explicit(&s->own.fd, memory_order_acquire);
}

/* Claims a slot in one of the states in mask (bits of enum rg_slot_state)
 * for the caller; from tells which it was in. */
static bool rg_slot_claim(struct rg_slot *s, unsigned int mask, int *from)
{
	unsigned char state = atomic_load_explicit(&s->state, memory_order_acquire);

	*from = state;
	return (mask & (1u << state)) &&
	       atomic_compare_exchange_strong_explicit(&s->state, &state, RG_SLOT_BUSY,
						       memory_order_acquire, memory_order_relaxed);
}

static void rg_slot_put(struct rg_slot *s, enum rg_slot_state state)
{
	atomic_store_explicit(&s->state, (unsigned char)state, memory_order_release);
}

static bool rg_slot_pause(struct rg_own *o)
{
	struct rg_slot *s = rg_slot_of(o);
	int from;

	if (!rg_slot_claim(s, 1u << RG_SLOT_NEW | 1u << RG_SLOT_WAITING | 1u << RG_SLOT_ACTIVE, &from))
		return false;
	s->paused_from = (unsigned char)from;
	return true;
}

static void rg_slot_resume(struct rg_own *o)
{
	struct rg_slot *s = rg_slot_of(o);

	rg_slot_put(s, (enum rg_slot_state)s->paused_from);
}

/* Logs a slot's outcome and closes its socket.  With RG_LOCK_DRAINER held
 * (locked), the outcome is counted and its record is not written
 * (rg_log_linger_unwritten). */
static void rg_slot_end(struct rg_slot *s, const char *outcome, bool locked)
{
	struct rg_fd e;

	if (locked) {
		rg_log_linger_unwritten(outcome);
		rg_own_close_locked(&s->own);
	} else {
		rg_log_linger(rg_slot_entry(s, &e), &s->peer, s->fd, rg_slot_fd(s),
			      outcome, s->drained, (rg_monotonic_ns() - s->start_ns) / 1000000);
		rg_own_close(&s->own);
	}
}

/* Closes a slot the caller holds BUSY, logs the outcome and frees it; one
 * still on the queue of new slots is freed by the thread as it passes. */
static void rg_slot_finish_as(struct rg_slot *s, const char *outcome, bool locked, bool queued)
{
	rg_slot_end(s, outcome, locked);
	rg_slot_put(s, queued ? RG_SLOT_DROPPED : RG_SLOT_FREE);
	if (atomic_fetch_sub_explicit(&rg_lingering, 1, memory_order_acq_rel) == 1)
		rg_futex(&rg_lingering, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
}

static void rg_slot_finish(struct rg_slot *s, const char *outcome)
{
	rg_slot_finish_as(s, outcome, false, false);
}

/* Gives up a slot the thread holds BUSY and has not touched: the plain
 * close, for why. */
static void rg_slot_drop(struct rg_slot *s, const char *why)
{
	struct rg_fd e;

	rg_log_plain_close(rg_slot_entry(s, &e), &s->peer, s->fd, rg_slot_fd(s), why);
	rg_own_close(&s->own);
	rg_slot_put(s, RG_SLOT_FREE);
	if (atomic_fetch_sub_explicit(&rg_lingering, 1, memory_order_acq_rel) == 1)
		rg_futex(&rg_lingering, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
}

/* The peer was active at now: the idle time counts again from there,
 * rounded up to the millisecond, so that it is never cut short. */
static void rg_slot_active(struct rg_slot *s, int64_t now)
{
	int64_t after = (now - s->start_ns + rg_ms_ns(1) - 1) / rg_ms_ns(1);

	__atomic_store_n(&s->active_ms, (uint32_t)after, __ATOMIC_RELAXED);
}

/* TCP discards in the kernel: recv() with MSG_TRUNC and no buffer drops
 * what is queued and says how much, and nothing is copied to user space.
 * Other families (AF_UNIX) copy into a scratch buffer, as does a kernel
 * that refuses the call (then never asked again). */
#define RG_DISCARD_MAX (1 << 20)
static _Atomic bool rg_no_discard;

static bool rg_slot_discards(const struct rg_slot *s)
{
	return (s->family == AF_INET || s->family == AF_INET6) &&
	       !atomic_load_explicit(&rg_no_discard, memory_order_relaxed);
}

/* One read's worth of what the peer sent, thrown away: up to what is left
 * of RESETGUARD_LINGER_BYTES, so that drained_bytes stays exact. */
static ssize_t rg_slot_read(struct rg_slot *s)
{
	static char scratch[16384];
	size_t want = RG_DISCARD_MAX;

	if (rg_config.linger_bytes && rg_config.linger_bytes - s->drained < want)
		want = (size_t)(rg_config.linger_bytes - s->drained);
	if (rg_slot_discards(s)) {
		ssize_t n = rg_libc(recv)(rg_slot_fd(s), NULL, want, MSG_DONTWAIT | MSG_TRUNC);

		if (n >= 0 || (errno != EFAULT && errno != EINVAL && errno != EOPNOTSUPP))
			return n;
		atomic_store_explicit(&rg_no_discard, true, memory_order_relaxed);
	}
	return rg_libc(recv)(rg_slot_fd(s), scratch, want < sizeof(scratch) ? want : sizeof(scratch),
			     MSG_DONTWAIT);
}

/* Reads what the peer sent and throws it away, at most 16 reads: level-
 * triggered epoll brings the slot back if more is left.  False when the
 * slot is finished (EOF, error, the byte limit).  Only data that arrived
 * while the drainer watched (fresh) moves the idle deadline: what was
 * queued when it began had come before the close, or while this thread
 * was busy with other sockets, and does not delay the close further. */
static bool rg_slot_discard(struct rg_slot *s, bool fresh)
{
	for (int reads = 0; reads < 16; reads++) {
		ssize_t n = rg_slot_read(s);

		if (n > 0) {
			s->drained += (uint64_t)n;
			if (fresh)
				rg_slot_active(s, rg_monotonic_ns());
			if (rg_config.linger_bytes && s->drained >= rg_config.linger_bytes) {
				rg_slot_finish(s, "bytes"); /* the peer gets what it gets */
				return false;
			}
		} else if (n == 0) {
			rg_slot_finish(s, "eof");
			return false;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			break;
		} else if (errno != EINTR) {
			rg_slot_finish(s, "error");
			return false;
		}
	}
	return true;
}

static void rg_slot_drain(struct rg_slot *s)
{
	int from;

	if (rg_slot_claim(s, 1u << RG_SLOT_ACTIVE, &from) && rg_slot_discard(s, true))
		rg_slot_put(s, RG_SLOT_ACTIVE);
}

/* The idle deadline counts from the close (from the shutdown, for a slot
 * that waited), or from the last data that came while the drainer
 * watched; the total one from the close.  The times are read atomically
 * for the pass that does not claim the slot (rg_drainer_scan): a mover may
 * free it meanwhile and a close() fill it anew, and the deadline read is
 * then a wake-up at a wrong time for a slot that the thread's next turn
 * begins, with its deadline, anyway. */
static int64_t rg_slot_deadline(const struct rg_slot *s)
{
	int64_t start = __atomic_load_n(&s->start_ns, __ATOMIC_RELAXED);
	uint32_t active = __atomic_load_n(&s->active_ms, __ATOMIC_RELAXED);
	int64_t idle = start + (int64_t)active * rg_ms_ns(1) + rg_ms_ns(rg_config.linger_timeout_ms);
	int64_t total = start + rg_ms_ns(rg_config.linger_time_ms);

	return idle < total ? idle : total;
}

/* Shuts down and starts draining a slot the thread holds BUSY, now that no
 * call of the program's is in flight on it; returns its deadline.  What is
 * queued already is read at once: a peer that has sent its EOF is done
 * with here, without a turn through the epoll set. */
static int64_t rg_slot_begin(struct rg_slot *s)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = (uint64_t)(s - rg_slots) };
	int fd = rg_slot_fd(s);

	rg_linger_cancel_abort(fd);
	rg_libc(shutdown)(fd, SHUT_WR);
	if (!rg_slot_discard(s, false))
		return INT64_MAX;
	if (rg_libc(epoll_ctl)(atomic_load(&rg_epoll.fd), EPOLL_CTL_ADD, fd, &ev) < 0) {
		rg_slot_finish(s, "error");
		return INT64_MAX;
	}
	rg_slot_put(s, RG_SLOT_ACTIVE);
	return rg_slot_deadline(s);
}

/* In the heir (heir.c) the program is gone, and with it its calls.  A
 * slot another thread of the program held BUSY when the heir was made is
 * one the heir can never claim: it leaves by the last deadline whatever
 * is left. */
static bool rg_drainer_is_heir;
static int64_t rg_heir_until;

static bool rg_heir_time_left(void)
{
	return rg_monotonic_ns() < rg_heir_until;
}

/* The life of the program's entry that its calls on the socket count in:
 * the entry lingering needs (rg_release_begin), whose chunk stays. */
static struct rg_fd_life *rg_slot_life(const struct rg_slot *s)
{
	return &rg_fd_peek(s->fd)->lives[s->life];
}

static bool rg_slot_in_flight(const struct rg_slot *s)
{
	return !rg_drainer_is_heir && atomic_load_explicit(&rg_slot_life(s)->inflight, memory_order_acquire) != 0;
}

/* What one look at the slots found. */
struct rg_pass {
	int64_t next;	 /* the nearest deadline */
	unsigned int waiting; /* slots waiting for a call in flight */
};

static void rg_pass_deadline(struct rg_pass *p, int64_t deadline)
{
	if (deadline < p->next)
		p->next = deadline;
}

enum rg_await {
	RG_AWAIT_NONE,	/* nobody outside holds the socket (any more) */
	RG_AWAIT_HELD,	/* a process outside holds it still */
	RG_AWAIT_BOUND, /* let go, but a binding could not be undone */
};

/* Whether a process outside the family that held the socket at the last
 * close here still does: looked at every tick at first (a superserver
 * closes its copy right after it started the service), then every
 * RG_SCAN_GRAIN_NS.  Once it let go, what the socket may be bound to is
 * unknown (an owner for O_ASYNC signals), and all there is is undone. */
static enum rg_await rg_slot_await(struct rg_slot *s, int64_t now)
{
	struct rg_slot_aside *a = rg_slot_aside_of(s);

	if (!s->awaits)
		return RG_AWAIT_NONE;
	if (now < a->look_ns)
		return RG_AWAIT_HELD;
	if (!rg_share_outside_gone(&a->outside)) {
		a->look_ns = now + (now - s->start_ns < RG_SCAN_GRAIN_NS ? RG_TICK_NS : RG_SCAN_GRAIN_NS);
		return RG_AWAIT_HELD;
	}
	s->awaits = false;
	return rg_bindings_undo_unknown(rg_slot_fd(s)) ? RG_AWAIT_NONE : RG_AWAIT_BOUND;
}

/* A slot the thread holds BUSY whose socket it has not touched yet: in a
 * process with an io_uring instance, the plain close (the ring may use the
 * socket still); while a call is in flight on it or a process outside
 * holds it, WAITING, until its time is up; else begun.  One that waited
 * is shut down only now, and its peer gets the whole idle time from here,
 * as from a close. */
static void rg_slot_start(struct rg_slot *s, struct rg_pass *p, int64_t now, bool waited)
{
	enum rg_await await;

	if (rg_rings_in_use()) {
		rg_slot_drop(s, "ring");
		return;
	}
	await = rg_slot_await(s, now);
	if (await == RG_AWAIT_BOUND) {
		rg_slot_drop(s, "bound");
	} else if (await == RG_AWAIT_NONE && !rg_slot_in_flight(s)) {
		if (waited)
			rg_slot_active(s, now);
		rg_pass_deadline(p, rg_slot_begin(s));
	} else if (now < s->start_ns + rg_ms_ns(rg_config.linger_time_ms)) {
		p->waiting++;
		rg_slot_put(s, RG_SLOT_WAITING);
	} else if (await == RG_AWAIT_HELD) {
		rg_slot_drop(s, "shared"); /* its last close is the holder's */
	} else {
		rg_slot_finish(s, "timeout"); /* the socket lives on in that call */
	}
}

/* Takes every slot queued since the last look.  A mover may hold one for
 * a moment (rg_slot_pause): it gives it back NEW. */
static void rg_drainer_take_new(struct rg_pass *p, int64_t now)
{
	int next = atomic_exchange_explicit(&rg_new_head, -1, memory_order_acquire);

	while (next >= 0) {
		struct rg_slot *s = &rg_slots[next];
		int from;

		next = s->next_new;
		while (!rg_slot_claim(s, 1u << RG_SLOT_NEW, &from) && from == RG_SLOT_BUSY)
			sched_yield();
		if (from == RG_SLOT_NEW)
			rg_slot_start(s, p, now, false);
		else if (from == RG_SLOT_DROPPED)
			rg_slot_put(s, RG_SLOT_FREE);
	}
}

/* Looks at every slot: deadlines, and calls in flight that have ended.  A
 * draining slot's times change only in this thread (rg_slot_discard):
 * read without claiming it, so that a pass over thousands of slots claims
 * only those whose time is up. */
static void rg_drainer_scan(struct rg_pass *p, int64_t now)
{
	unsigned int high = __atomic_load_n(&rg_slot_high, __ATOMIC_ACQUIRE);

	for (unsigned int i = 0; i < high; i++) {
		struct rg_slot *s = &rg_slots[i];
		int state = atomic_load_explicit(&s->state, memory_order_acquire), from;

		if (state == RG_SLOT_ACTIVE && rg_slot_deadline(s) > now) {
			rg_pass_deadline(p, rg_slot_deadline(s));
			continue;
		}
		if (!rg_slot_claim(s, 1u << RG_SLOT_WAITING | 1u << RG_SLOT_ACTIVE, &from))
			continue;
		if (from == RG_SLOT_WAITING)
			rg_slot_start(s, p, now, true);
		else if (rg_slot_deadline(s) <= now)
			rg_slot_finish(s, "timeout");
		else { /* a mover held it when it was first looked at */
			rg_pass_deadline(p, rg_slot_deadline(s));
			rg_slot_put(s, RG_SLOT_ACTIVE);
		}
	}
}

/* Keeps off the thread's descriptors while a mover asks it to; true when
 * it was told to leave meanwhile (another generation is the drainer). */
static bool rg_drainer_obey(unsigned int gen)
{
	int asked = RG_PARK_ASKED;

	if (atomic_compare_exchange_strong(&rg_park, &asked, RG_PARK_PAUSED)) {
		rg_futex(&rg_park, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
		while (atomic_load(&rg_park) == RG_PARK_PAUSED)
			rg_futex(&rg_park, FUTEX_WAIT_PRIVATE, RG_PARK_PAUSED, NULL);
	}
	return atomic_load(&rg_thread_gen) != gen;
}

static void rg_thread_wake(void)
{
	uint64_t one = 1;

	/* A full counter means a wake-up is pending anyway. */
	(void)!rg_libc(write)(atomic_load(&rg_wake.fd), &one, sizeof(one));
}

/* The mover holds RG_LOCK_DRAINER, so the thread cannot start or retire
 * meanwhile.  Waits a little for the thread to pause; false if it did not
 * (it may be waiting for a lock the mover holds), and the mover tries again
 * later. */
static bool rg_thread_pause(struct rg_own *o)
{
	struct timespec wait = { 0, RG_PAUSE_WAIT_NS };
	int asked = RG_PARK_ASKED;

	(void)o;
	if (!rg_drainer_started || rg_drainer_held)
		return true;
	atomic_store(&rg_park, RG_PARK_ASKED);
	rg_thread_wake();
	rg_futex(&rg_park, FUTEX_WAIT_PRIVATE, RG_PARK_ASKED, &wait);
	return !atomic_compare_exchange_strong(&rg_park, &asked, RG_PARK_NONE);
}

static void rg_thread_resume(struct rg_own *o)
{
	(void)o;
	if (!rg_drainer_started || rg_drainer_held)
		return;
	atomic_store(&rg_park, RG_PARK_NONE);
	rg_futex(&rg_park, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
}

/* Closes every slot it can claim without starting on it: for a thread that
 * lost its epoll set to a program that took every descriptor. */
static void rg_drainer_abandon(void)
{
	for (unsigned int i = 0; i < rg_slot_high; i++) {
		struct rg_slot *s = &rg_slots[i];
		int from;

		if (rg_slot_claim(s, 1u << RG_SLOT_WAITING | 1u << RG_SLOT_ACTIVE, &from))
			rg_slot_finish(s, "cap");
	}
}

/* Gives up the thread's epoll set and eventfd.  With the lock held, and
 * the thread paused or gone. */
static void rg_drainer_close_thread_fds(void)
{
	/* The epoll set last: whoever sees it gone sees the others gone. */
	rg_own_close_locked(&rg_procdir);
	rg_own_close_locked(&rg_wake);
	rg_own_close_locked(&rg_epoll);
	rg_drainer_started = false;
}

/* Ends the thread once nothing has lingered for a while.  A thread that
 * never ended would keep alive a process whose threads all called
 * pthread_exit(), and would sit in every process that once closed a
 * connection.  Decided under the lock, against rg_drainer_commit(); tried
 * only, since a mover may hold the lock while it waits for this thread. */
static bool rg_drainer_retire(void)
{
	sigset_t saved;
	bool retire;

	if (!rg_lock_try(RG_LOCK_DRAINER, &saved))
		return false;
	retire = atomic_load_explicit(&rg_lingering, memory_order_acquire) == 0 &&
		 atomic_load_explicit(&rg_new_head, memory_order_acquire) < 0;
	if (retire)
		rg_drainer_close_thread_fds();
	rg_lock_give(RG_LOCK_DRAINER, &saved);
	return retire;
}

/* A close() that wakes the thread must not hand its CPU to it: a batch
 * thread keeps its fair share but never preempts on wake-up, which on a
 * busy core would put the drainer's work inside the program's close(). */
static void rg_drainer_yield_to_program(void)
{
	struct sched_param param = { 0 };

	sched_setscheduler(0, SCHED_BATCH, &param);
}

/* When the thread wakes next: at the next deadline, every tick while hot
 * or while a slot waits, else after the idle time-out, which *idle says,
 * after which it may leave. */
static int64_t rg_drainer_wake_at(int64_t now, const struct rg_pass *p, int64_t hot_until,
				  bool *idle)
{
	int64_t at = p->next;

	*idle = p->next == INT64_MAX && !p->waiting;
	if (*idle)
		at = now + rg_ms_ns(RG_IDLE_EXIT_MS);
	if ((now < hot_until || p->waiting) && at > now + RG_TICK_NS) {
		at = now + RG_TICK_NS;
		*idle = false;
	}
	return at;
}

static void rg_drainer_events(const struct epoll_event *events, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t tag = events[i].data.u64;
		uint64_t count;

		if (tag != RG_WAKE_TAG)
			rg_slot_drain(&rg_slots[tag]);
		else if (rg_libc(read)(atomic_load(&rg_wake.fd), &count, sizeof(count)) < 0)
			continue; /* already read: the queue is taken anyway */
	}
}

/* One turn of the thread: take new slots, look at deadlines, and decide
 * when to look again; *idle when there was nothing to do. */
static int64_t rg_drainer_turn(struct rg_pass *p, int64_t *hot_until, bool *idle)
{
	int64_t now = rg_monotonic_ns();

	if (atomic_load_explicit(&rg_new_head, memory_order_relaxed) >= 0)
		*hot_until = now + RG_HOT_NS;
	rg_drainer_take_new(p, now);
	now = rg_monotonic_ns();
	if (now >= p->next || p->waiting) {
		p->next = INT64_MAX;
		p->waiting = 0;
		rg_drainer_scan(p, now);
		if (p->next != INT64_MAX && p->next < now + RG_SCAN_GRAIN_NS)
			p->next = now + RG_SCAN_GRAIN_NS;
	}
	return rg_drainer_wake_at(now, p, *hot_until, idle);
}

/* Fills the holes among own descriptors unless deadlines are due (p is
 * the last pass); *waiting_since is when it first waited for them. */
static void rg_drainer_compact(const struct rg_pass *p, int64_t *waiting_since)
{
	int64_t now = rg_monotonic_ns();

	if (p->next <= now + RG_SCAN_GRAIN_NS &&
	    (!*waiting_since || now - *waiting_since < RG_COMPACT_WAIT_NS)) {
		if (!*waiting_since)
			*waiting_since = now;
		return;
	}
	*waiting_since = 0;
	rg_own_compact(RG_HELD_BY_DRAINER);
}

/* The thread's loop; gen says which thread it is.  In the heir it runs
 * until nothing lingers, with nobody to pause for and no ring to fear. */
static void rg_drainer_loop(unsigned int gen)
{
	struct epoll_event events[64];
	/* The heir starts with slots begun by the thread: it looks at them
	 * all at once. */
	struct rg_pass pass = { rg_drainer_is_heir ? 0 : INT64_MAX, 0 };
	int64_t hot_until = 0, compact_waiting = 0;

	for (;;) {
		int64_t wake_at, awake = 0;
		bool idle;

		if (!rg_drainer_is_heir && rg_drainer_obey(gen))
			return;
		if (!rg_drainer_is_heir) {
			/* Rings matter to sockets about to be begun only: one
			 * made later cannot reach a socket the program closed. */
			if (atomic_load_explicit(&rg_new_head, memory_order_relaxed) >= 0 || pass.waiting)
				rg_rings_scan(false, atomic_load(&rg_procdir.fd));
			rg_drainer_compact(&pass, &compact_waiting);
		}
		/* Seen by a commit that queues after the take below: it makes
		 * the exchange further down fail instead of waking us. */
		atomic_store_explicit(&rg_drainer_wake_ns, 0, memory_order_seq_cst);
		wake_at = rg_drainer_turn(&pass, &hot_until, &idle);
		if (rg_drainer_is_heir && (atomic_load(&rg_lingering) <= 0 || !rg_heir_time_left()))
			return;
		if (!atomic_compare_exchange_strong(&rg_drainer_wake_ns, &awake, wake_at))
			continue; /* a socket came in meanwhile */
		if (atomic_load(&rg_epoll.fd) < 0) {
			/* The program took every descriptor, this one too. */
			rg_drainer_abandon();
			if (rg_drainer_is_heir || rg_drainer_retire())
				return;
			sched_yield();
			continue;
		}

		int64_t now = rg_monotonic_ns();
		int n = epoll_wait(atomic_load(&rg_epoll.fd), events, 64,
				   wake_at > now ? (int)((wake_at - now + 999999) / 1000000) : 0);
		if (n == 0 && idle && !rg_drainer_is_heir && rg_drainer_retire())
			return;
		rg_drainer_events(events, n);
	}
}

static void *rg_drainer_main(void *arg)
{
	rg_thread_masked = true;
	rg_drainer_yield_to_program();
	/* A ring made through inline system calls is seen only here: before
	 * any socket is touched, and then once a second. */
	rg_rings_scan(true, atomic_load(&rg_procdir.fd));
	rg_drainer_loop((unsigned int)(uintptr_t)arg);
	return NULL;
}

static unsigned int rg_slot_limit(void)
{
	return (unsigned int)rg_config_linger_cap();
}

static bool rg_drainer_thread_fds(void)
{
	struct epoll_event wake = { .events = EPOLLIN, .data.u64 = RG_WAKE_TAG };
	int ep = rg_libc(epoll_create1)(EPOLL_CLOEXEC);
	int ev = rg_libc(eventfd)(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (ep < 0 || ev < 0 || rg_libc(epoll_ctl)(ep, EPOLL_CTL_ADD, ev, &wake) < 0) {
		if (ep >= 0)
			rg_libc(close)(ep);
		if (ev >= 0)
			rg_libc(close)(ev);
		return false;
	}
	rg_own_take(&rg_epoll, ep);
	rg_own_take(&rg_wake, ev);
	int dir = rg_libc(open)("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir >= 0)
		rg_own_take(&rg_procdir, dir);
	return true;
}

/* Called with the lock held. */
static bool rg_drainer_start(void)
{
	unsigned int gen;

	if (!rg_drainer_thread_fds())
		return false;
	atomic_store(&rg_park, RG_PARK_NONE);
	gen = atomic_fetch_add(&rg_thread_gen, 1) + 1;
	rg_drainer_started = rg_thread_spawn(rg_drainer_main, (void *)(uintptr_t)gen, "resetguard");
	if (!rg_drainer_started)
		rg_drainer_close_thread_fds();
	return rg_drainer_started;
}

/* Sized once: a restart must not outgrow the map.  With the lock held. */
static bool rg_slots_map(void)
{
	if (rg_slots)
		return true;
	rg_slot_cap = rg_slot_limit();
	void *map = mmap(NULL, rg_slot_cap * sizeof(struct rg_slot), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *aside = mmap(NULL, rg_slot_cap * sizeof(struct rg_slot_aside), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (map == MAP_FAILED || aside == MAP_FAILED) {
		if (map != MAP_FAILED)
			munmap(map, rg_slot_cap * sizeof(struct rg_slot));
		if (aside != MAP_FAILED)
			munmap(aside, rg_slot_cap * sizeof(struct rg_slot_aside));
		return false;
	}
	rg_slot_asides = aside;
	rg_slots = map;
	return true;
}

/* Searched from where the last search ended: with thousands lingering,
 * the free slots are mostly past the ones taken last. */
static struct rg_slot *rg_slot_alloc(void)
{
	for (unsigned int n = 0; n < rg_slot_cap; n++) {
		unsigned int i = (rg_slot_hint + n) % rg_slot_cap;
		unsigned char free_state = RG_SLOT_FREE;

		if (atomic_compare_exchange_strong_explicit(&rg_slots[i].state, &free_state,
							    RG_SLOT_BUSY, memory_order_acquire,
							    memory_order_relaxed)) {
			rg_slots[i].own.holder = RG_HELD_BY_SLOT;
			if (i >= rg_slot_high)
				__atomic_store_n(&rg_slot_high, i + 1, __ATOMIC_RELEASE);
			rg_slot_hint = i + 1;
			return &rg_slots[i];
		}
	}
	return NULL;
}

/* Fills a claimed slot with the program's socket, on a descriptor of the
 * drainer's own. */
static bool rg_slot_fill(struct rg_slot *s, int fd, const struct rg_fd *conn,
			 const struct rg_ip_peer *peer, const struct rg_outside_holder *outside)
{
	if (!rg_own_dup(&s->own, fd))
		return false;
	rg_slot_keep_conn(s, conn, peer);
	s->awaits = outside->pid != 0;
	if (s->awaits)
		*rg_slot_aside_of(s) = (struct rg_slot_aside){ .outside = *outside };
	s->drained = 0;
	__atomic_store_n(&s->start_ns, rg_monotonic_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&s->active_ms, 0, __ATOMIC_RELAXED);
	return true;
}

struct rg_slot *rg_drainer_reserve(int fd, const struct rg_fd *conn, const struct rg_ip_peer *peer,
				   const struct rg_outside_holder *outside)
{
	struct rg_slot *s = NULL;
	int saved = errno;

	/* close() takes the lock without blocking signals (two system calls
	 * less per close): a signal handler that closes a socket while its
	 * own thread is here gets the plain close. */
	if (!rg_lock_enter_unmasked(RG_LOCK_DRAINER))
		return NULL;
	if (rg_slots_map() && (s = rg_slot_alloc()) && !rg_slot_fill(s, fd, conn, peer, outside)) {
		rg_slot_put(s, RG_SLOT_FREE);
		s = NULL;
	}
	rg_lock_leave_unmasked(RG_LOCK_DRAINER);
	if (!s)
		rg_log_linger(conn, peer, fd, fd, "cap", 0, 0);
	errno = saved;
	return s;
}

/* Makes sure the thread takes the queue: asks an awake thread to look
 * again before it sleeps, wakes one that would sleep past a tick.  Under
 * the lock, so that the thread cannot retire and close the eventfd in
 * between. */
static void rg_drainer_wake(void)
{
	int64_t wake = atomic_load(&rg_drainer_wake_ns);

	while (wake == 0 && !atomic_compare_exchange_weak(&rg_drainer_wake_ns, &wake, -1))
		;
	if (wake > 0 && wake > rg_monotonic_ns() + RG_TICK_NS)
		rg_thread_wake();
}

static void rg_slot_queue(struct rg_slot *s)
{
	int head = atomic_load_explicit(&rg_new_head, memory_order_relaxed);

	rg_slot_put(s, RG_SLOT_NEW);
	do
		s->next_new = head;
	while (!atomic_compare_exchange_weak_explicit(&rg_new_head, &head, (int)(s - rg_slots),
						      memory_order_seq_cst, memory_order_relaxed));
}

void rg_drainer_commit(struct rg_slot *s)
{
	int saved = errno;
	bool ours = rg_lock_enter_unmasked(RG_LOCK_DRAINER);
	bool queued = ours && (rg_drainer_started || rg_drainer_start());

	/* Counted before it is queued, so that the count never drops below
	 * zero when the thread finishes it first; counted only once it can
	 * be: an _exit() from a handler never waits for a socket the thread
	 * cannot see. */
	if (queued) {
		atomic_fetch_add_explicit(&rg_lingering, 1, memory_order_acq_rel);
		rg_slot_queue(s);
		rg_drainer_wake();
	}
	if (ours)
		rg_lock_leave_unmasked(RG_LOCK_DRAINER);
	if (!queued) {
		/* No thread could start (no descriptor left for its epoll
		 * set): the plain close.  In a signal handler that interrupted
		 * this thread in the lock, the lock is the interrupted code's:
		 * held all the same. */
		rg_slot_end(s, "cap", !ours);
		rg_slot_put(s, RG_SLOT_FREE);
	}
	errno = saved;
}

void rg_drainer_cancel(struct rg_slot *s)
{
	rg_own_close(&s->own);
	rg_slot_put(s, RG_SLOT_FREE);
}

void rg_drainer_wait(void)
{
	int64_t give_up = rg_monotonic_ns() + rg_ms_ns(rg_config.linger_time_ms) + rg_ms_ns(1000);
	int n;

	while ((n = atomic_load_explicit(&rg_lingering, memory_order_acquire)) > 0 &&
	       rg_monotonic_ns() < give_up) {
		struct timespec slice = { 0, 100000000 };

		rg_futex(&rg_lingering, FUTEX_WAIT_PRIVATE, n, &slice);
	}
}

/* The oldest lingering slot other than exclusive's, claimed; NULL if none.
 * *from says whether it is still on the queue of new ones.  A slot busy
 * for a moment (the thread reading it, a close handing it over) is waited
 * for: it may be the one the program needs. */
static struct rg_slot *rg_slot_oldest(const struct rg_own *exclusive, int *from)
{
	const unsigned int lingering = 1u << RG_SLOT_NEW | 1u << RG_SLOT_WAITING | 1u << RG_SLOT_ACTIVE;

	for (int tries = 0; tries < 1000; tries++) {
		struct rg_slot *oldest = NULL;
		unsigned int high = __atomic_load_n(&rg_slot_high, __ATOMIC_ACQUIRE);
		bool busy = false;

		for (unsigned int i = 0; i < high; i++) {
			struct rg_slot *s = &rg_slots[i];
			int state = atomic_load_explicit(&s->state, memory_order_acquire);

			if (&s->own == exclusive)
				continue;
			busy |= state == RG_SLOT_BUSY;
			if ((lingering & (1u << state)) && (!oldest || s->start_ns < oldest->start_ns))
				oldest = s;
		}
		if (oldest && rg_slot_claim(oldest, lingering, from))
			return oldest;
		if (!oldest && !busy)
			return NULL;
		sched_yield();
	}
	return NULL;
}

bool rg_drainer_release_other(const struct rg_own *exclusive)
{
	int from;
	struct rg_slot *s = rg_slots ? rg_slot_oldest(exclusive, &from) : NULL;

	if (s)
		rg_slot_finish_as(s, "cap", true, from == RG_SLOT_NEW);
	return s != NULL;
}

/* A lingering socket given up for a program short of descriptors: the
 * plain close, as the program's own close would have been. */
static enum rg_give rg_slot_give_up(struct rg_own *o)
{
	const unsigned int lingering = 1u << RG_SLOT_NEW | 1u << RG_SLOT_WAITING | 1u << RG_SLOT_ACTIVE;
	struct rg_slot *s = rg_slot_of(o);
	int from;

	if (rg_slot_claim(s, lingering, &from)) {
		rg_slot_finish_as(s, "cap", false, from == RG_SLOT_NEW);
		return RG_GAVE;
	}
	return from == RG_SLOT_BUSY ? RG_BUSY : RG_CANNOT;
}

/* Frees the dropped slots still on the queue, for a paused thread that
 * will not pass them itself; with nothing lingering, nothing else is on
 * it. */
static void rg_drainer_pass_dropped(void)
{
	int next = atomic_exchange_explicit(&rg_new_head, -1, memory_order_acquire);

	while (next >= 0) {
		struct rg_slot *s = &rg_slots[next];

		next = s->next_new;
		rg_slot_put(s, RG_SLOT_FREE);
	}
}

/* With nothing lingering, the idle thread's two descriptors go, and the
 * thread with them: it is paused first, then told to leave. */
static bool rg_drainer_retire_now(void)
{
	sigset_t saved;
	bool retired = false, wanted = true;

	/* A thread slow to pause (a busy machine, a lock a mover holds) is
	 * asked again: the program's call waits for the descriptors. */
	for (int tries = 0; wanted && !retired && tries < 100; tries++) {
		rg_lock_take(RG_LOCK_DRAINER, &saved);
		wanted = rg_drainer_started && !rg_drainer_held && atomic_load(&rg_lingering) == 0;
		if (wanted && rg_thread_pause(NULL)) {
			rg_drainer_pass_dropped();
			atomic_fetch_add(&rg_thread_gen, 1);
			rg_drainer_close_thread_fds();
			atomic_store(&rg_park, RG_PARK_NONE);
			rg_futex(&rg_park, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
			retired = true;
		}
		rg_lock_give(RG_LOCK_DRAINER, &saved);
	}
	return retired;
}

/* The thread's descriptors go only with nothing lingering. */
static enum rg_give rg_thread_give_up(struct rg_own *o)
{
	(void)o;
	if (atomic_load(&rg_lingering) > 0)
		return RG_CANNOT;
	return rg_drainer_retire_now() ? RG_GAVE : RG_CANNOT;
}

/* The child of fork() holds every lock (lifecycle.c) and has no thread:
 * it drops its copies of every lingering socket (the parent's copies keep
 * them alive, so nothing reaches the wire) and starts afresh if it
 * lingers. */
void rg_drainer_fork_child(void)
{
	for (unsigned int i = 0; i < rg_slot_high; i++) {
		struct rg_slot *s = &rg_slots[i];

		if (atomic_load_explicit(&s->state, memory_order_relaxed) != RG_SLOT_FREE)
			rg_own_close_locked(&s->own);
		atomic_store_explicit(&s->state, RG_SLOT_FREE, memory_order_relaxed);
	}
	if (rg_drainer_started)
		rg_drainer_close_thread_fds();
	rg_slot_high = rg_slot_hint = 0;
	atomic_store_explicit(&rg_new_head, -1, memory_order_relaxed);
	atomic_store_explicit(&rg_lingering, 0, memory_order_relaxed);
	atomic_store_explicit(&rg_drainer_wake_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&rg_park, RG_PARK_NONE, memory_order_relaxed);
	rg_drainer_held = false;
}

bool rg_drainer_settle(int64_t budget_ns)
{
	int64_t give_up = rg_monotonic_ns() + budget_ns;
	int n;

	while ((n = atomic_load_explicit(&rg_lingering, memory_order_acquire)) > 0) {
		int64_t left = give_up - rg_monotonic_ns();
		struct timespec slice = { 0, left };

		if (left <= 0)
			return false;
		rg_futex(&rg_lingering, FUTEX_WAIT_PRIVATE, n, &slice);
	}
	return true;
}

bool rg_drainer_hold(void)
{
	int64_t give_up_ns = rg_monotonic_ns() + RG_HOLD_WAIT_NS;
	sigset_t saved;
	bool held;

	for (;;) {
		rg_lock_take(RG_LOCK_DRAINER, &saved);
		held = rg_drainer_started && atomic_load(&rg_lingering) > 0;
		if (!held || rg_thread_pause(NULL))
			break;
		if (rg_monotonic_ns() > give_up_ns) {
			held = false;
			break;
		}
		rg_lock_give(RG_LOCK_DRAINER, &saved);
		sched_yield();
	}
	rg_drainer_held = held;
	rg_lock_give(RG_LOCK_DRAINER, &saved);
	return held;
}

void rg_drainer_resume(void)
{
	sigset_t saved;

	rg_lock_take(RG_LOCK_DRAINER, &saved);
	rg_drainer_held = false;
	rg_thread_resume(NULL);
	rg_lock_give(RG_LOCK_DRAINER, &saved);
}

void rg_drainer_heir(void)
{
	rg_drainer_is_heir = true;
	rg_heir_until = rg_monotonic_ns() + rg_ms_ns(rg_config.linger_time_ms) + rg_ms_ns(1000);
	rg_thread_masked = true;
	rg_drainer_loop(0);
}
