#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>

#include "fdtable.h"
#include "ownfd.h"
#include "real.h"

/* From the top quarter of the descriptor numbers up, where programs, which
 * get the lowest free number, rarely reach; counted within the first 1024,
 * so that a huge limit does not make the kernel grow the process's fd table
 * for nothing, and select() users keep their low numbers.  Worked out at
 * load and again only when the program has lowered its limit below it. */
static int rg_own_floor_now(void)
{
	struct rlimit rl;
	rlim_t top = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < top)
		top = rl.rlim_cur;
	return top > 4 ? (int)(top - top / 4) : 3;
}

static _Atomic int rg_own_floor = -1;

/* F_DUPFD fails with EINVAL for a floor at or above the limit. */
static int rg_own_dup_high(int fd)
{
	int floor = atomic_load_explicit(&rg_own_floor, memory_order_relaxed);
	int high = floor < 0 ? -1 : rg_libc(fcntl)(fd, F_DUPFD_CLOEXEC, floor);

	if (high < 0 && (floor < 0 || errno == EINVAL)) {
		floor = rg_own_floor_now();
		atomic_store_explicit(&rg_own_floor, floor, memory_order_relaxed);
		high = rg_libc(fcntl)(fd, F_DUPFD_CLOEXEC, floor);
	}
	return high;
}

/* Makes the kernel's descriptor table large enough for own descriptors now,
 * while the process is still single-threaded: growing it later, with other
 * threads sharing it, waits for an RCU grace period (expand_fdtable), tens
 * of milliseconds that would land in some program's close(). */
void rg_own_reserve(void)
{
	int saved = errno;
	int fd = rg_libc(open)("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		int high = rg_own_dup_high(fd);

		if (high >= 0)
			rg_libc(close)(high);
		rg_libc(close)(fd);
	}
	errno = saved;
}

/* Takes fd over as resetguard's: moved high when there is room (it stays
 * where it is at the descriptor limit), close-on-exec either way. */
int rg_own_adopt(int fd)
{
	int saved = errno;
	int high = rg_own_dup_high(fd);

	if (high >= 0) {
		rg_libc(close)(fd);
		fd = high;
	} else {
		rg_libc(fcntl)(fd, F_SETFD, FD_CLOEXEC);
	}
	rg_fd_mark(fd, RG_FD_OWN);
	errno = saved;
	return fd;
}

/* A new own descriptor for what fd refers to; -1 when none is left. */
int rg_own_dup(int fd)
{
	int saved = errno;
	int high = rg_own_dup_high(fd);

	if (high >= 0)
		rg_fd_mark(high, RG_FD_OWN);
	errno = saved;
	return high;
}

/* A copy of an own descriptor the program is about to overwrite with
 * dup2(); the old number is handed back to the program's side of the table.
 * Returns -1 when no descriptor is left for the copy. */
int rg_own_move(int fd)
{
	int high = rg_own_dup(fd);

	rg_fd_mark(fd, RG_FD_UNSEEN);
	return high;
}

void rg_own_release(int fd)
{
	int saved = errno;

	rg_fd_mark(fd, RG_FD_UNSEEN);
	rg_libc(close)(fd);
	errno = saved;
}
