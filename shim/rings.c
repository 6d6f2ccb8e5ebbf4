/* Seeing io_uring instances (rings.h).  liburing makes its system calls
 * with inline assembly, where no wrapper sees them; what can be seen is
 * liburing's own entry points, when the program links it dynamically, a
 * raw io_uring_setup through libc's syscall() (libuv's way), and the
 * ring's descriptor, "anon_inode:[io_uring]" in /proc/self/fd, which is
 * looked for at load, when the drainer thread starts (before it touches
 * any socket) and at most once a second while it has sockets to begin. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fdtable.h"
#include "ownfd.h"
#include "procfd.h"
#include "real.h"
#include "rings.h"

static _Atomic bool rg_rings_seen;
static _Atomic int64_t rg_rings_scanned_ns;

bool rg_rings_in_use(void)
{
	return atomic_load_explicit(&rg_rings_seen, memory_order_acquire);
}

static void rg_rings_note(void)
{
	atomic_store_explicit(&rg_rings_seen, true, memory_order_release);
}

/* Sockets and resetguard's own descriptors are no rings: only the rest is
 * read, so that a server with thousands of connections reads a handful. */
static void rg_rings_visit(int dirfd, int fd, void *ctx)
{
	static const char ring[] = "anon_inode:[io_uring]";
	char name[16], link[sizeof(ring) + 1];
	struct rg_fd *e;
	ssize_t len;

	(void)ctx;
	if (rg_fd_known(fd, &e) == RG_FD_SOCKET || rg_own_at(fd))
		return;
	snprintf(name, sizeof(name), "%d", fd);
	len = readlinkat(dirfd, name, link, sizeof(link));
	if (len == (ssize_t)sizeof(ring) - 1 && memcmp(link, ring, sizeof(ring) - 1) == 0)
		rg_rings_note();
}

void rg_rings_scan(bool now, int dirfd)
{
	int64_t t = rg_monotonic_ns();

	if (rg_rings_in_use())
		return;
	if (!now && t - atomic_load_explicit(&rg_rings_scanned_ns, memory_order_relaxed) < 1000000000)
		return;
	atomic_store_explicit(&rg_rings_scanned_ns, t, memory_order_relaxed);
	if (dirfd >= 0)
		rg_procfd_each_at(dirfd, rg_rings_visit, NULL);
}

void rg_rings_scan_at_load(void)
{
	rg_procfd_each("/proc/self/fd", rg_rings_visit, NULL);
}

/* liburing's ways of making a ring, with opaque types (real.h): resetguard
 * does not depend on liburing.  Like liburing, -errno on failure. */
int io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags);
int io_uring_queue_init_params(unsigned entries, struct io_uring *ring, struct io_uring_params *p);
int io_uring_queue_mmap(int fd, struct io_uring_params *p, struct io_uring *ring);
int io_uring_setup(unsigned entries, struct io_uring_params *p);
RG_EXPORT int io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
	rg_rings_note();
	__typeof__(rg_optional_real.io_uring_queue_init) next = rg_optional(io_uring_queue_init);

	return next ? next(entries, ring, flags) : -ENOSYS;
}

RG_EXPORT int io_uring_queue_init_params(unsigned entries, struct io_uring *ring,
					 struct io_uring_params *p)
{
	rg_rings_note();
	__typeof__(rg_optional_real.io_uring_queue_init_params) next = rg_optional(io_uring_queue_init_params);

	return next ? next(entries, ring, p) : -ENOSYS;
}

RG_EXPORT int io_uring_queue_mmap(int fd, struct io_uring_params *p, struct io_uring *ring)
{
	rg_rings_note();
	__typeof__(rg_optional_real.io_uring_queue_mmap) next = rg_optional(io_uring_queue_mmap);

	return next ? next(fd, p, ring) : -ENOSYS;
}

RG_EXPORT int io_uring_setup(unsigned entries, struct io_uring_params *p)
{
	rg_rings_note();
	__typeof__(rg_optional_real.io_uring_setup) next = rg_optional(io_uring_setup);

	return next ? next(entries, p) : -ENOSYS;
}

/* syscall() takes up to six arguments in registers, and passes on all six
 * whatever the call, as glibc's own does: the kernel ignores the rest. */
RG_EXPORT long syscall(long number, ...)
{
	va_list ap;

	va_start(ap, number);
	long a0 = va_arg(ap, long), a1 = va_arg(ap, long), a2 = va_arg(ap, long);
	long a3 = va_arg(ap, long), a4 = va_arg(ap, long), a5 = va_arg(ap, long);
	va_end(ap);
	if (number == SYS_io_uring_setup)
		rg_rings_note();
	return rg_libc(syscall)(number, a0, a1, a2, a3, a4, a5);
}
