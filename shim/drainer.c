/* The drainer thread.  Like the event MPM of Apache httpd, lingering
 * sockets wait in an epoll set instead of occupying a thread each: the
 * thread reads and discards into a scratch buffer, closes a socket on EOF
 * or error, and at its deadline: RESETGUARD_LINGER_TIMEOUT without data,
 * or RESETGUARD_LINGER_TIME after the close (nginx's lingering_timeout and
 * lingering_time).
 *
 * Slots are claimed under the shim's lock; after that each slot's state
 * word decides who may touch its descriptor (FREE, ACTIVE, or BUSY while
 * one thread reads or closes it), so the drainer never holds the lock while
 * it reads and a program's close() never waits for the drainer. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
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
#include "lock.h"
#include "log.h"
#include "ownfd.h"
#include "real.h"

#define RG_SLOTS_MAX (1 << 16)
#define RG_WAKE_TAG UINT64_MAX
#define RG_SCAN_GRAIN_NS 10000000 /* deadlines are kept to 10 ms */
#define RG_IDLE_EXIT_MS 200	   /* the thread leaves after this long with nothing to do */

enum rg_slot_state { RG_SLOT_FREE, RG_SLOT_ACTIVE, RG_SLOT_BUSY };

struct rg_slot {
	_Atomic int state;
	int fd;	     /* the drainer's own descriptor for the socket */
	int prog_fd; /* the number the program closed, for the log */
	int64_t start_ns, last_ns;
	uint64_t drained;
	struct rg_fd conn; /* what was known of the connection */
};

static rg_lock_t rg_drainer_lock;
static __thread sigset_t rg_drainer_saved_mask;
static bool rg_drainer_started;
static int rg_epoll_fd = -1, rg_wake_fd = -1;
static struct rg_slot *rg_slots;
static unsigned int rg_slot_cap, rg_slot_high;
static _Atomic int rg_lingering;       /* futex word: sockets not yet closed */
/* When the thread next looks at deadlines: a time while it sleeps, 0 while
 * it is awake and about to decide, -1 when a new socket asks it to scan
 * again before it sleeps. */
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

	rg_lock_take(&rg_drainer_lock, &rg_drainer_saved_mask);
	retire = atomic_load_explicit(&rg_lingering, memory_order_acquire) == 0;
	if (retire) {
		rg_own_release(rg_epoll_fd);
		rg_own_release(rg_wake_fd);
		rg_epoll_fd = rg_wake_fd = -1;
		rg_drainer_started = false;
	}
	rg_lock_give(&rg_drainer_lock, &rg_drainer_saved_mask);
	return retire;
}

static void *rg_drainer_main(void *unused)
{
	struct epoll_event events[64];
	int64_t next_scan = 0;

	(void)unused;
	for (;;) {
		int64_t now = rg_monotonic_ns(), awake = 0;
		int timeout = -1;

		atomic_store_explicit(&rg_drainer_wake_ns, 0, memory_order_seq_cst);
		if (now >= next_scan) {
			next_scan = rg_drainer_scan(now);
			if (next_scan != INT64_MAX && next_scan < now + RG_SCAN_GRAIN_NS)
				next_scan = now + RG_SCAN_GRAIN_NS;
		}
		if (!atomic_compare_exchange_strong(&rg_drainer_wake_ns, &awake, next_scan)) {
			next_scan = 0; /* a socket came in meanwhile */
			continue;
		}
		if (next_scan != INT64_MAX)
			timeout = (int)((next_scan - now + 999999) / 1000000);
		else
			timeout = RG_IDLE_EXIT_MS;

		int n = epoll_wait(rg_epoll_fd, events, 64, timeout);
		if (n == 0 && next_scan == INT64_MAX && rg_drainer_retire())
			return NULL;
		for (int i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64;

			if (tag == RG_WAKE_TAG) {
				uint64_t count = 0;

				if (rg_libc(read)(rg_wake_fd, &count, sizeof(count)) < 0)
					continue;
				next_scan = 0; /* a new, nearer deadline */
			} else {
				rg_slot_drain(&rg_slots[tag]);
			}
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

/* Called with the lock held, so every signal is blocked: the thread is
 * born with all of them blocked and never takes a signal meant for the
 * program. */
static bool rg_drainer_start(void)
{
	struct epoll_event wake = { .events = EPOLLIN, .data.u64 = RG_WAKE_TAG };
	pthread_attr_t attr;
	pthread_t thread;
	size_t size;
	int ep, ev;

	rg_slot_cap = rg_slot_limit();
	size = rg_slot_cap * sizeof(struct rg_slot);
	if (!rg_slots) {
		void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

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
	pthread_attr_setstacksize(&attr, 64 * 1024);
	rg_drainer_started = pthread_create(&thread, &attr, rg_drainer_main, NULL) == 0;
	pthread_attr_destroy(&attr);
	if (rg_drainer_started)
		pthread_setname_np(thread, "resetguard");
	return rg_drainer_started;
}

static struct rg_slot *rg_slot_alloc(void)
{
	for (unsigned int i = 0; i < rg_slot_cap; i++) {
		int free_state = RG_SLOT_FREE;

		if (atomic_compare_exchange_strong_explicit(&rg_slots[i].state, &free_state,
							    RG_SLOT_BUSY, memory_order_acquire,
							    memory_order_relaxed)) {
			if (i >= rg_slot_high)
				__atomic_store_n(&rg_slot_high, i + 1, __ATOMIC_RELEASE);
			return &rg_slots[i];
		}
	}
	return NULL;
}

/* Fills a claimed slot with the program's socket, on a descriptor of the
 * drainer's own, and hands it to epoll. */
static bool rg_slot_fill(struct rg_slot *s, int fd, const struct rg_fd *conn)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = (uint64_t)(s - rg_slots) };
	int own = rg_own_dup(fd);

	if (own < 0)
		return false;
	s->fd = own;
	s->prog_fd = fd;
	s->conn = *conn;
	s->drained = 0;
	s->start_ns = s->last_ns = rg_monotonic_ns();
	if (epoll_ctl(rg_epoll_fd, EPOLL_CTL_ADD, own, &ev) < 0) {
		rg_own_release(own);
		return false;
	}
	return true;
}

/* Makes sure the thread sees a new deadline: asks an awake thread to scan
 * again, wakes a sleeping one that would sleep past it. */
static void rg_drainer_wake(int64_t deadline)
{
	int64_t wake = atomic_load(&rg_drainer_wake_ns);

	while (wake == 0 && !atomic_compare_exchange_weak(&rg_drainer_wake_ns, &wake, -1))
		;
	if (wake > 0 && deadline < wake) {
		uint64_t one = 1;

		/* A full counter means a wake-up is pending anyway. */
		(void)!rg_libc(write)(rg_wake_fd, &one, sizeof(one));
	}
}

bool rg_drainer_adopt(int fd, const struct rg_fd *conn)
{
	struct rg_slot *s = NULL;
	int64_t deadline = 0;
	int saved = errno;

	rg_lock_take(&rg_drainer_lock, &rg_drainer_saved_mask);
	if ((rg_drainer_started || rg_drainer_start()) && (s = rg_slot_alloc())) {
		if (rg_slot_fill(s, fd, conn)) {
			/* Once ACTIVE, the slot is the drainer's to change. */
			deadline = rg_slot_deadline(s);
			atomic_fetch_add_explicit(&rg_lingering, 1, memory_order_acq_rel);
			atomic_store_explicit(&s->state, RG_SLOT_ACTIVE, memory_order_release);
		} else {
			atomic_store_explicit(&s->state, RG_SLOT_FREE, memory_order_release);
			s = NULL;
		}
	}
	rg_lock_give(&rg_drainer_lock, &rg_drainer_saved_mask);

	if (s)
		rg_drainer_wake(deadline);
	else
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

void rg_drainer_fork_prepare(void)
{
	rg_lock_take(&rg_drainer_lock, &rg_drainer_saved_mask);
}

void rg_drainer_fork_parent(void)
{
	rg_lock_give(&rg_drainer_lock, &rg_drainer_saved_mask);
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
	rg_slot_high = 0;
	rg_drainer_started = false;
	atomic_store_explicit(&rg_lingering, 0, memory_order_relaxed);
	atomic_store_explicit(&rg_drainer_wake_ns, 0, memory_order_relaxed);
	rg_lock_give(&rg_drainer_lock, &rg_drainer_saved_mask);
}
