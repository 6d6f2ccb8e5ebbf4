/* Two causes of resets the program never meets itself, at their source.
 *
 * A full accept queue: the kernel drops handshakes a listener has no room
 * for, and counts them per socket (SO_MEMINFO's SK_MEMINFO_DROPS; TCP_INFO
 * on a listener gives the queue's length in tcpi_unacked and the backlog
 * in force in tcpi_sacked).  That count also takes in stray segments the
 * listener discarded (a late RST for a connection already gone: a prefork
 * server under no load counts dozens), so a rise in it is checked against
 * the namespace's ListenDrops (/proc/net/netstat), which counts handshakes
 * only: the drops reported are the smaller of the two rises.  Each listener the program makes gets a slot in
 * a table in shared anonymous memory, so that the processes of a prefork
 * family, which all accept on the listener they inherited, share what was
 * reported: a compare-and-swap on the drops seen decides which process
 * reports a new drop, once.  The look runs after accept() returns, at
 * most once a second per listener (the clock is read through the vDSO,
 * not a system call), before the listener is closed and at exit.
 *
 * Idle connections cut by middleboxes: keepalive (RESETGUARD_KEEPALIVE)
 * is set on a listener, which Linux copies to every connection it
 * accepts, and on a TCP socket before connect(). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "real.h"

#define RG_LISTENERS 64
#define RG_LOOK_EVERY_NS 1000000000

struct rg_listener {
	_Atomic uint64_t ino;	     /* the socket's inode; 0: a free slot */
	_Atomic uint32_t holders;    /* processes of the family that hold it */
	_Atomic uint32_t seen;	     /* SK_MEMINFO_DROPS at the last look */
	_Atomic uint64_t ns_seen;    /* the namespace's ListenDrops then */
	_Atomic uint64_t reported;   /* drops reported in all */
	_Atomic int64_t next_look_ns; /* CLOCK_MONOTONIC */
	_Atomic int backlog;	     /* what the program asked for */
	struct rg_addr local;
	char label[INET6_ADDRSTRLEN + 8]; /* local as text: 127.0.0.1:80, [::1]:80 */
};

static struct rg_listener *_Atomic rg_listeners;
/* This process's descriptor for each slot, plus one (0: none here). */
static _Atomic int rg_listen_fd[RG_LISTENERS];
_Atomic int rg_listen_high;
/* The system's TCP_KEEPIDLE, which a socket nobody set reports. */
static int rg_keepidle_default = 7200;

static bool rg_is_tcp(const struct rg_fd *e)
{
	return (e->family == AF_INET || e->family == AF_INET6) &&
	       (e->type & 0xf) == SOCK_STREAM;
}

static struct rg_listener *rg_table(void)
{
	struct rg_listener *t = atomic_load(&rg_listeners), *none = NULL;

	if (t)
		return t;
	t = mmap(NULL, sizeof(*t) * RG_LISTENERS, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong(&rg_listeners, &none, t)) {
		munmap(t, sizeof(*t) * RG_LISTENERS);
		t = none;
	}
	return t;
}

static void rg_release(struct rg_listener *s, int i)
{
	atomic_store(&rg_listen_fd[i], 0);
	if (atomic_fetch_sub(&s->holders, 1) == 1)
		atomic_store(&s->ino, 0);
}

/* The namespace's TcpExt ListenDrops, or -1.  Read only when a
 * listener's own count rose, so that the descriptor it takes for a moment
 * is rare. */
static int64_t rg_ns_listen_drops(void)
{
	char buf[8192];
	ssize_t n;
	int fd = rg_libc(open)("/proc/net/netstat", O_RDONLY | O_CLOEXEC);
	const char *head, *vals, *key = " ListenDrops";
	size_t col = 0;
	int64_t v = 0;

	if (fd < 0)
		return -1;
	n = rg_libc(read)(fd, buf, sizeof(buf) - 1);
	rg_libc(close)(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "TcpExt: name name ...\nTcpExt: value value ...\n" */
	if (!(head = strstr(buf, "TcpExt:")) || !(vals = strstr(head + 1, "TcpExt:")))
		return -1;
	const char *at = strstr(head, key);

	if (!at || at > vals)
		return -1;
	for (const char *p = head; p < at; p++)
		col += *p == ' ';
	for (vals += strlen("TcpExt:"); col && *vals && *vals != '\n'; vals++)
		col -= *vals == ' ';
	for (; *vals >= '0' && *vals <= '9'; vals++)
		v = v * 10 + (*vals - '0');
	return v;
}

/* The look: drops since the last report, logged by the one process whose
 * compare-and-swap takes them. */
static void rg_look(int i, int fd, bool force)
{
	struct rg_listener *s = &atomic_load(&rg_listeners)[i];
	int64_t now = rg_monotonic_ns(), next = atomic_load(&s->next_look_ns);
	uint32_t mem[SK_MEMINFO_VARS], seen = atomic_load(&s->seen), drops;
	socklen_t len = sizeof(mem);
	struct tcp_info ti;
	struct stat st;

	if (!force && (now < next ||
		       !atomic_compare_exchange_strong(&s->next_look_ns, &next,
						       now + RG_LOOK_EVERY_NS)))
		return;
	/* The number may be another socket's by now, closed where no
	 * wrapper saw it (a raw system call, dup2 over it). */
	if (fstat(fd, &st) != 0 || st.st_ino != atomic_load(&s->ino)) {
		rg_release(s, i);
		return;
	}
	if (rg_libc(getsockopt)(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 ||
	    len <= SK_MEMINFO_DROPS * sizeof(mem[0]))
		return;
	drops = mem[SK_MEMINFO_DROPS];
	do {
		if ((int32_t)(drops - seen) <= 0)
			return;
	} while (!atomic_compare_exchange_weak(&s->seen, &seen, drops));
	/* This process took the rise; the namespace's count says how much of
	 * it were handshakes. */
	int64_t ns = rg_ns_listen_drops();
	uint64_t overflow = drops - seen;

	if (ns >= 0) {
		int64_t ns_before = (int64_t)atomic_exchange(&s->ns_seen, (uint64_t)ns);
		if (ns - ns_before < (int64_t)overflow)
			overflow = ns > ns_before ? (uint64_t)(ns - ns_before) : 0;
	}
	if (!overflow)
		return;

	struct rg_listen_info li = { fd, &s->local, atomic_load(&s->backlog), -1, -1, -1,
				     (int64_t)overflow,
				     (int64_t)(atomic_fetch_add(&s->reported, overflow) + overflow) };

	len = sizeof(ti);
	if (rg_libc(getsockopt)(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
		li.backlog_max = (int)ti.tcpi_sacked;
		li.queue = (int)ti.tcpi_unacked;
	}
	rg_log_listener("listen_overflow", &li);
}

static int rg_slot_of(int fd)
{
	int high = atomic_load(&rg_listen_high);

	for (int i = 0; i < high; i++)
		if (atomic_load_explicit(&rg_listen_fd[i], memory_order_relaxed) == fd + 1)
			return i;
	return -1;
}

void rg_listen_look_after_accept(int fd)
{
	int i = rg_slot_of(fd), saved = errno;

	if (i >= 0)
		rg_look(i, fd, false);
	errno = saved;
}

void rg_listen_look_before_close(int fd)
{
	int i = rg_slot_of(fd), saved = errno;

	if (i >= 0) {
		struct rg_listener *s = &atomic_load(&rg_listeners)[i];

		rg_look(i, fd, true);
		if (atomic_load(&rg_listen_fd[i]) == fd + 1) {
			rg_metrics_listener_closing(s->label, atomic_load(&s->reported));
			rg_release(s, i);
		}
	}
	errno = saved;
}

void rg_listen_exit(void)
{
	int high = atomic_load(&rg_listen_high);

	for (int i = 0; i < high; i++) {
		int fd = atomic_load(&rg_listen_fd[i]) - 1;

		if (fd >= 0)
			rg_listen_look_before_close(fd);
	}
}

/* Before fork(): the child will hold every listener this process holds.
 * Counted here, not in the child, so that this process cannot close one
 * and free its slot before the child has said it holds it too (a fork
 * that fails leaves the count one too high: the slot is never reused). */
void rg_listen_fork_prepare(void)
{
	struct rg_listener *t = atomic_load(&rg_listeners);
	int high = atomic_load(&rg_listen_high);

	for (int i = 0; t && i < high; i++)
		if (atomic_load(&rg_listen_fd[i]))
			atomic_fetch_add(&t[i].holders, 1);
}

/* A slot for the socket: its own if it was listening already (listen()
 * again changes the backlog), else a free one. */
static int rg_claim(struct rg_listener *t, int fd, uint64_t ino)
{
	int i = rg_slot_of(fd);

	if (i >= 0 && atomic_load(&t[i].ino) == ino)
		return i;
	for (i = 0; i < RG_LISTENERS; i++) {
		uint64_t free_ino = 0;

		if (atomic_load(&t[i].ino) == 0 &&
		    atomic_compare_exchange_strong(&t[i].ino, &free_ino, ino)) {
			atomic_store(&t[i].holders, 1);
			atomic_store(&t[i].seen, 0);
			atomic_store(&t[i].reported, 0);
			int64_t ns = rg_ns_listen_drops();

			atomic_store(&t[i].ns_seen, (uint64_t)(ns > 0 ? ns : 0));
			atomic_store(&t[i].next_look_ns, 0);
			return i;
		}
	}
	return -1;
}

static void rg_local(int fd, struct rg_addr *a)
{
	socklen_t len = sizeof(a->u);

	a->len = getsockname(fd, &a->u.sa, &len) == 0 ? len : 0;
}

/* The metrics file's label for the address, as the records write it. */
static void rg_label(const struct rg_addr *a, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	bool v6 = a->len && a->u.sa.sa_family == AF_INET6;

	if (!a->len) {
		snprintf(out, size, "unknown");
		return;
	}
	inet_ntop(a->u.sa.sa_family, v6 ? (const void *)&a->u.in6.sin6_addr
					 : (const void *)&a->u.in.sin_addr,
		  ip, sizeof(ip));
	snprintf(out, size, v6 ? "[%s]:%u" : "%s:%u", ip,
		 ntohs(v6 ? a->u.in6.sin6_port : a->u.in.sin_port));
}

/* A TCP listener: in the table, or one debug record when it is full. */
static void rg_watch(int fd, int asked)
{
	struct rg_listener *t = rg_table();
	struct stat st;
	int i, high;

	if (fstat(fd, &st) != 0)
		return;
	i = t ? rg_claim(t, fd, st.st_ino) : -1;
	if (i < 0) {
		struct rg_addr local;
		struct rg_listen_info li = { fd, &local, asked, -1, -1, -1, -1, -1 };

		rg_local(fd, &local);
		rg_log_listener("listen_untracked", &li);
		return;
	}
	atomic_store(&t[i].backlog, asked);
	rg_local(fd, &t[i].local);
	rg_label(&t[i].local, t[i].label, sizeof(t[i].label));
	atomic_store(&rg_listen_fd[i], fd + 1);
	high = atomic_load(&rg_listen_high);
	while (high <= i && !atomic_compare_exchange_weak(&rg_listen_high, &high, i + 1))
		;
}

/* What the program set itself wins: keepalive on already, or a keepalive
 * time that is not the system's.  (SO_KEEPALIVE 0 set on purpose before
 * connect() cannot be told from the default; resetguard(7) says so.) */
static bool rg_keepalive_chosen(int fd)
{
	int on = 0, idle = 0;
	socklen_t len = sizeof(on);

	if (rg_libc(getsockopt)(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len) != 0 || on)
		return true;
	len = sizeof(idle);
	return rg_libc(getsockopt)(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len) != 0 ||
	       idle != rg_keepidle_default;
}

static void rg_keepalive_set(int fd)
{
	int on = 1;

	if (rg_keepalive_chosen(fd))
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &rg_config.keepalive_idle, sizeof(int));
	if (rg_config.keepalive_interval)
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &rg_config.keepalive_interval,
			   sizeof(int));
	if (rg_config.keepalive_count)
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &rg_config.keepalive_count, sizeof(int));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
}

void rg_keepalive_connect(int fd, const struct rg_fd *e)
{
	int saved = errno;

	if (rg_config.keepalive_idle && rg_is_tcp(e))
		rg_keepalive_set(fd);
	errno = saved;
}

/* The backlog the program asked for, raised to RESETGUARD_BACKLOG; a
 * negative one already means "the most" to the kernel. */
static int rg_backlog(int asked)
{
	return asked >= 0 && asked < rg_config.backlog ? rg_config.backlog : asked;
}

static void rg_log_raised(int fd, int asked, int set)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	struct rg_addr local;
	struct rg_listen_info li = { fd, &local, asked, set, -1, -1, -1, -1 };

	if (rg_libc(getsockopt)(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    ti.tcpi_state == TCP_LISTEN)
		li.backlog_max = (int)ti.tcpi_sacked;
	rg_local(fd, &local);
	rg_log_listener("backlog", &li);
}

RG_EXPORT int listen(int fd, int backlog)
{
	struct rg_fd *e = rg_fd_socket(fd);
	int set, ret, saved;

	if (!e)
		return rg_libc(listen)(fd, backlog);
	set = rg_backlog(backlog);
	ret = rg_libc(listen)(fd, set);
	if (ret != 0)
		return ret;
	saved = errno;
	if (set != backlog)
		rg_log_raised(fd, backlog, set);
	if (rg_is_tcp(e)) {
		if (rg_config.keepalive_idle)
			rg_keepalive_set(fd);
		rg_watch(fd, backlog);
	}
	errno = saved;
	return ret;
}

void rg_listeners_each(void (*each)(const char *local, uint64_t drops_total, void *ctx),
		       void *ctx)
{
	struct rg_listener *t = atomic_load(&rg_listeners);
	int high = atomic_load(&rg_listen_high), saved = errno;

	for (int i = 0; t && i < high; i++) {
		int fd = atomic_load(&rg_listen_fd[i]) - 1;

		if (fd < 0)
			continue;
		rg_look(i, fd, false);
		if (atomic_load(&rg_listen_fd[i]) == fd + 1)
			each(t[i].label, atomic_load(&t[i].reported), ctx);
	}
	errno = saved;
}

/* Read while the program has no thread that could take the descriptor
 * number for a moment. */
void rg_listen_init(void)
{
	char buf[32] = "";
	int fd, v = 0;
	ssize_t n;

	if (!rg_config.keepalive_idle)
		return;
	fd = rg_libc(open)("/proc/sys/net/ipv4/tcp_keepalive_time", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = rg_libc(read)(fd, buf, sizeof(buf) - 1);
	rg_libc(close)(fd);
	for (ssize_t k = 0; k < n && buf[k] >= '0' && buf[k] <= '9'; k++)
		v = v * 10 + (buf[k] - '0');
	if (n > 0 && v > 0)
		rg_keepidle_default = v;
}
