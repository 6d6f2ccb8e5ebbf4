/* The drainer thread.  Like the event MPM of Apache httpd, lingering
 * sockets wait in an epoll set instead of occupying a thread each: the
 * thread reads and discards into a scratch buffer, closes a socket on EOF
 * or error, and at its deadline: RESETGUARD_LINGER_TIMEOUT without data,
 * or RESETGUARD_LINGER_TIME after the close (nginx's lingering_timeout and
 * lingering_time).
 *
 * Slots are claimed under the shim's lock; after that each slot's state
 * word decides who may touch its descriptor (FREE; NEW, handed over and
 * not yet seen by the thread; ACTIVE; or BUSY while one thread reads or
 * closes it), so the drainer never holds the lock while it reads and a
 * program's close() never waits for the drainer.
 *
 * close() does as little as it can on the program's thread: it copies the
 * descriptor, queues the slot and, when the thread would not look again
 * within a tick, wakes it.  The
 * shutdown(SHUT_WR) is the drainer's: on loopback it runs the peer's whole
 * receive path for the FIN, about as long as a plain close() takes. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "drainer.h"
#include "linger.h"
#include "lock.h"
#include "log.h"
#include "ownfd.h"
#include "real.h"

#define RG_SLOTS_MAX (1 << 16)
#define RG_WAKE_TAG UINT64_MAX
#define RG_SCAN_GRAIN_NS 10000000 /* deadlines are kept to 10 ms */
#define RG_IDLE_EXIT_MS 200	   /* the thread leaves after this long with nothing to do */
/* Waking a sleeping thread from close() costs the closing thread a
 * cross-CPU wake-up, several µs in a VM, more than the rest of close().
 * So for RG_HOT_NS after it last took new sockets the thread looks again
 * every RG_TICK_NS by itself, and close() wakes it only when it would
 * sleep longer: busy programs pay a tick instead of a wake-up per close,
 * and a new socket waits at most a tick for its FIN. */
#define RG_TICK_NS 1000000
#define RG_HOT_NS 10000000

enum rg_slot_state { RG_SLOT_FREE, RG_SLOT_NEW, RG_SLOT_ACTIVE, RG_SLOT_BUSY };

struct rg_slot {
	_Atomic int state;
	int fd;	     /* the drainer's own descriptor for the socket */
	int prog_fd; /* the number the program closed, for the log */
	int next_new; /* the next NEW slot on the queue, or -1 */
	int64_t start_ns, last_ns;
	uint64_t drained;
	struct rg_fd conn; /* what was known of the connection */
};

static bool rg_drainer_started;
static int rg_epoll_fd = -1, rg_wake_fd = -1;
static struct rg_slot *rg_slots;
static unsigned int rg_slot_cap, rg_slot_high, rg_slot_hint;
/* Slots handed over and not yet begun: pushed under the lock, taken all at
 * once by the thread without it, so no entry is ever popped twice. */
static _Atomic int rg_new_head = -1;
static _Atomic int rg_lingering;       /* futex word: sockets not yet closed */
/* When the thread next wakes by itself (a deadline, a tick, the idle
 * time-out) while it sleeps, 0 while it is awake and about to decide, -1
 * when a new socket asks it to look again before it sleeps. */
static _Atomic int64_t rg_drainer_wake_ns;

static int64_t rg_ms_ns(int ms)
{
	return (int64_t)ms * 1000000;
}

static void rg_futex(_Atomic int *word, int op, int val, const struct timespec *timeout)
{
	syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

/* Closes a slot the caller holds BUSY, logs the outcome and frees it. */
static void rg_slot_finish(struct rg_slot *s, const char *outcome)
{
	rg_log_linger(&s->conn, s->prog_fd, s->fd, outcome, s->drained,
		      (rg_monotonic_ns() - s->start_ns) / 1000000);
	rg_own_release(s->fd);
	s->fd = -1;
	atomic_store_explicit(&s->state, RG_SLOT_FREE, memory_order_release);
	if (atomic_fetch_sub_explicit(&rg_lingering, 1, memory_order_acq_rel) == 1)
		rg_futex(&rg_lingering, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
}

static bool rg_slot_claim(struct rg_slot *s)
{
	int active = RG_SLOT_ACTIVE;

	return atomic_compare_exchange_strong_explicit(&s->state, &active, RG_SLOT_BUSY,
						       memory_order_acquire, memory_order_relaxed);
}

/* Reads what the peer sent and throws it away; level-triggered epoll
 * brings the slot back if more is left after a bounded number of reads. */
static void rg_slot_drain(struct rg_slot *s)
{
	static char scratch[16384];

	if (!rg_slot_claim(s))
		return;
	for (int reads = 0; reads < 16; reads++) {
		ssize_t n = rg_libc(recv)(s->fd, scratch, sizeof(scratch), MSG_DONTWAIT);

		if (n > 0) {
			s->drained += (uint64_t)n;
			s->last_ns = rg_monotonic_ns();
		} else if (n == 0) {
			rg_slot_finish(s, "eof");
			return;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			break;
		} else if (errno != EINTR) {
			rg_slot_finish(s, "error");
			return;
		}
	}
	atomic_store_explicit(&s->state, RG_SLOT_ACTIVE, memory_order_release);
}

static int64_t rg_slot_deadline(const struct rg_slot *s)
{
	int64_t idle = s->last_ns + rg_ms_ns(rg_config.linger_timeout_ms);
	int64_t total = s->start_ns + rg_ms_ns(rg_config.linger_time_ms);

	return idle < total ? idle : total;
}

/* Closes every slot past its deadline; returns the next deadline. */
static int64_t rg_drainer_scan(int64_t now)
{
	int64_t next = INT64_MAX;
	unsigned int high = __atomic_load_n(&rg_slot_high, __ATOMIC_ACQUIRE);

	for (unsigned int i = 0; i < high; i++) {
		struct rg_slot *s = &rg_slots[i];

		if (!rg_slot_claim(s))
			continue;
		int64_t deadline = rg_slot_deadline(s);
		if (deadline <= now) {
			rg_slot_finish(s, "timeout");
			continue;
		}
		if (deadline < next)
			next = deadline;
		atomic_store_explicit(&s->state, RG_SLOT_ACTIVE, memory_order_release);
	}
	return next;
}

/* Ends the thread once nothing has lingered for a while.  A thread that
 * never ended would keep alive a process whose threads all called
 * pthread_exit(), and would sit in every process that once closed a
 * connection.  Decided under the lock, against rg_drainer_adopt(). */
static bool rg_drainer_retire(void)
{
	bool retire;

	sigset_t saved;

	rg_lock_take(RG_LOCK_DRAINER, &saved);
	retire = atomic_load_explicit(&rg_lingering, memory_order_acquire) == 0;
	if (retire) {
		rg_own_release(rg_epoll_fd);
		rg_own_release(rg_wake_fd);
		rg_epoll_fd = rg_wake_fd = -1;
		rg_drainer_started = false;
	}
	rg_lock_give(RG_LOCK_DRAINER, &saved);
	return retire;
}

/* Begins lingering on a slot that close() handed over; returns its
 * deadline.  Only this thread touches NEW slots. */
static int64_t rg_slot_begin(struct rg_slot *s)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = (uint64_t)(s - rg_slots) };

	rg_linger_cancel_abort(s->fd);
	rg_libc(shutdown)(s->fd, SHUT_WR);
	if (epoll_ctl(rg_epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
		atomic_store_explicit(&s->state, RG_SLOT_BUSY, memory_order_relaxed);
		rg_slot_finish(s, "error");
		return INT64_MAX;
	}
	atomic_store_explicit(&s->state, RG_SLOT_ACTIVE, memory_order_release);
	return rg_slot_deadline(s);
}

/* Begins every slot queued since the last look; returns the nearest of
 * their deadlines. */
static int64_t rg_drainer_take_new(void)
{
	int next = atomic_exchange_explicit(&rg_new_head, -1, memory_order_acquire);
	int64_t nearest = INT64_MAX;

	while (next >= 0) {
		struct rg_slot *s = &rg_slots[next];
		int64_t deadline;

		next = s->next_new;
		deadline = rg_slot_begin(s);
		if (deadline < nearest)
			nearest = deadline;
	}
	return nearest;
}

/* A close() that wakes the thread must not hand its CPU to it: a batch
 * thread keeps its fair share but never preempts on wake-up, which on a
 * busy core would put the drainer's work inside the program's close(). */
static void rg_drainer_yield_to_program(void)
{
	struct sched_param param = { 0 };

	sched_setscheduler(0, SCHED_BATCH, &param);
}

/* When the thread wakes next: at the next deadline, every tick while hot,
 * else after the idle time-out, which *idle says, after which it may
 * leave. */
static int64_t rg_drainer_wake_at(int64_t now, int64_t next_scan, int64_t hot_until, bool *idle)
{
	int64_t at = next_scan;

	*idle = next_scan == INT64_MAX;
	if (*idle)
		at = now + rg_ms_ns(RG_IDLE_EXIT_MS);
	if (now < hot_until && at > now + RG_TICK_NS) {
		at = now + RG_TICK_NS;
		*idle = false;
	}
	return at;
}

static void *rg_drainer_main(void *unused)
{
	struct epoll_event events[64];
	int64_t next_scan = INT64_MAX, hot_until = 0;

	(void)unused;
	rg_thread_masked = true;
	rg_drainer_yield_to_program();
	for (;;) {
		int64_t now, awake = 0, nearest, wake_at;
		bool idle;

		/* Seen by a close() that queues after the take below: it
		 * makes the exchange further down fail instead of waking us. */
		atomic_store_explicit(&rg_drainer_wake_ns, 0, memory_order_seq_cst);
		if (atomic_load_explicit(&rg_new_head, memory_order_relaxed) >= 0)
			hot_until = rg_monotonic_ns() + RG_HOT_NS;
		nearest = rg_drainer_take_new();
		if (nearest < next_scan)
			next_scan = nearest;
		now = rg_monotonic_ns();
		if (now >= next_scan) {
			next_scan = rg_drainer_scan(now);
			if (next_scan != INT64_MAX && next_scan < now + RG_SCAN_GRAIN_NS)
				next_scan = now + RG_SCAN_GRAIN_NS;
		}
		wake_at = rg_drainer_wake_at(now, next_scan, hot_until, &idle);
		if (!atomic_compare_exchange_strong(&rg_drainer_wake_ns, &awake, wake_at))
			continue; /* a socket came in meanwhile */

		int n = epoll_wait(rg_epoll_fd, events, 64, (int)((wake_at - now + 999999) / 1000000));
		if (n == 0 && idle && rg_drainer_retire())
			return NULL;
		for (int i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64;
			uint64_t count;

			if (tag != RG_WAKE_TAG)
				rg_slot_drain(&rg_slots[tag]);
			else if (rg_libc(read)(rg_wake_fd, &count, sizeof(count)) < 0)
				continue; /* already read: the queue is taken above */
		}
	}
	return NULL;
}

/* At most a quarter of the descriptor limit by default, so lingering
 * sockets leave the program most of its descriptors. */
static unsigned int rg_slot_limit(void)
{
	struct rlimit rl;
	rlim_t cap = (rlim_t)rg_config.linger_max;

	if (cap == 0)
		cap = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
			      ? rl.rlim_cur / 4
			      : 256;
	if (cap < 1)
		cap = 1;
	return cap > RG_SLOTS_MAX ? RG_SLOTS_MAX : (unsigned int)cap;
}

/* The thread is born with every signal blocked and never takes a signal
 * meant for the program. */
static bool rg_drainer_spawn(pthread_t *thread, const pthread_attr_t *attr)
{
	sigset_t all, old;
	bool started;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	started = pthread_create(thread, attr, rg_drainer_main, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return started;
}

/* Called with the lock held. */
static bool rg_drainer_start(void)
{
	struct epoll_event wake = { .events = EPOLLIN, .data.u64 = RG_WAKE_TAG };
	pthread_attr_t attr;
	pthread_t thread;
	int ep, ev;

	if (!rg_slots) { /* sized once: a restart must not outgrow the map */
		rg_slot_cap = rg_slot_limit();
		void *map = mmap(NULL, rg_slot_cap * sizeof(struct rg_slot), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (map == MAP_FAILED)
			return false;
		rg_slots = map;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ep < 0 || ev < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ev, &wake) < 0) {
		if (ep >= 0)
			rg_libc(close)(ep);
		if (ev >= 0)
			rg_libc(close)(ev);
		return false;
	}
	rg_epoll_fd = rg_own_adopt(ep);
	rg_wake_fd = rg_own_adopt(ev);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, (size_t)64 * 1024);
	rg_drainer_started = rg_drainer_spawn(&thread, &attr);
	pthread_attr_destroy(&attr);
	if (rg_drainer_started)
		pthread_setname_np(thread, "resetguard");
	return rg_drainer_started;
}

/* Searched from where the last search ended: with thousands lingering,
 * the free slots are mostly past the ones taken last. */
static struct rg_slot *rg_slot_alloc(void)
{
	for (unsigned int n = 0; n < rg_slot_cap; n++) {
		unsigned int i = (rg_slot_hint + n) % rg_slot_cap;
		int free_state = RG_SLOT_FREE;

		if (atomic_compare_exchange_strong_explicit(&rg_slots[i].state, &free_state,
							    RG_SLOT_BUSY, memory_order_acquire,
							    memory_order_relaxed)) {
			if (i >= rg_slot_high)
				__atomic_store_n(&rg_slot_high, i + 1, __ATOMIC_RELEASE);
			rg_slot_hint = i + 1;
			return &rg_slots[i];
		}
	}
	return NULL;
}

/* Fills a claimed slot with the program's socket, on a descriptor of the
 * drainer's own, and queues it for the thread. */
static bool rg_slot_fill(struct rg_slot *s, int fd, const struct rg_fd *conn)
{
	int own = rg_own_dup(fd);
	int head;

	if (own < 0)
		return false;
	s->fd = own;
	s->prog_fd = fd;
	s->conn = *conn;
	s->drained = 0;
	s->start_ns = s->last_ns = rg_monotonic_ns();
	atomic_store_explicit(&s->state, RG_SLOT_NEW, memory_order_relaxed);
	head = atomic_load_explicit(&rg_new_head, memory_order_relaxed);
	do
		s->next_new = head;
	while (!atomic_compare_exchange_weak_explicit(&rg_new_head, &head, (int)(s - rg_slots),
						      memory_order_seq_cst, memory_order_relaxed));
	/* Counted once queued: an _exit() from a handler that interrupted us
	 * never waits for a socket the thread cannot see.  The thread may
	 * finish it first; the count is then -1 for a moment. */
	atomic_fetch_add_explicit(&rg_lingering, 1, memory_order_acq_rel);
	return true;
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
	if (wake > 0 && wake > rg_monotonic_ns() + RG_TICK_NS) {
		uint64_t one = 1;

		/* A full counter means a wake-up is pending anyway. */
		(void)!rg_libc(write)(rg_wake_fd, &one, sizeof(one));
	}
}

bool rg_drainer_adopt(int fd, const struct rg_fd *conn)
{
	struct rg_slot *s = NULL;
	int saved = errno;

	/* close() takes the lock without blocking signals (two system calls
	 * less per close): a signal handler that closes a socket while its
	 * own thread is here gets the plain close. */
	if (!rg_lock_enter_unmasked(RG_LOCK_DRAINER))
		return false;
	if ((rg_drainer_started || rg_drainer_start()) && (s = rg_slot_alloc())) {
		if (rg_slot_fill(s, fd, conn)) {
			rg_drainer_wake();
		} else {
			atomic_store_explicit(&s->state, RG_SLOT_FREE, memory_order_release);
			s = NULL;
		}
	}
	rg_lock_leave_unmasked(RG_LOCK_DRAINER);

	if (!s)
		rg_log_linger(conn, fd, fd, "cap", 0, 0);
	errno = saved;
	return s != NULL;
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

bool rg_drainer_release_one(void)
{
	struct rg_slot *oldest = NULL;
	unsigned int high = __atomic_load_n(&rg_slot_high, __ATOMIC_ACQUIRE);

	for (unsigned int i = 0; i < high; i++) {
		struct rg_slot *s = &rg_slots[i];

		if (atomic_load_explicit(&s->state, memory_order_acquire) == RG_SLOT_ACTIVE &&
		    (!oldest || s->start_ns < oldest->start_ns))
			oldest = s;
	}
	if (!oldest || !rg_slot_claim(oldest))
		return false;
	rg_slot_finish(oldest, "cap");
	return true;
}

/* The child has no drainer thread and must not inherit its work: it drops
 * its copies of every lingering socket (the parent's copies keep them
 * alive, so nothing reaches the wire) and starts afresh if it lingers. */
void rg_drainer_fork_child(void)
{
	for (unsigned int i = 0; i < rg_slot_high; i++) {
		struct rg_slot *s = &rg_slots[i];

		if (atomic_load_explicit(&s->state, memory_order_relaxed) != RG_SLOT_FREE)
			rg_own_release(s->fd);
		s->fd = -1;
		atomic_store_explicit(&s->state, RG_SLOT_FREE, memory_order_relaxed);
	}
	if (rg_drainer_started) {
		rg_own_release(rg_epoll_fd);
		rg_own_release(rg_wake_fd);
	}
	rg_epoll_fd = rg_wake_fd = -1;
	rg_slot_high = rg_slot_hint = 0;
	atomic_store_explicit(&rg_new_head, -1, memory_order_relaxed);
	rg_drainer_started = false;
	atomic_store_explicit(&rg_lingering, 0, memory_order_relaxed);
	atomic_store_explicit(&rg_drainer_wake_ns, 0, memory_order_relaxed);
}
