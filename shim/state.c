/* The state page (state.h): what `resetguard status PID` shows.
 *
 * rg_state is a page-aligned page of the library's own memory; at load a
 * memfd with its contents is mapped over it, shared, and the memfd kept as
 * an own descriptor at the top of the table (ownfd.h), where the program
 * never meets it.  The command opens it through /proc/PID/fd.  No thread,
 * no signal, and the counters are counted where they always were.
 *
 * fork() shares that mapping with the child: the child maps a memfd of its
 * own over the page before anything of the program's runs, and closes the
 * parent's.  Without a memfd (none left, another page size), the process
 * has no state page: `status` then says only that the library is loaded. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lifecycle.h"
#include "lock.h"
#include "log.h"
#include "ownfd.h"
#include "real.h"
#include "state.h"
#include "stats.h"

RG_HIDDEN union rg_state_page rg_state __attribute__((aligned(RG_STATE_PAGE)));

static bool rg_state_pause(struct rg_own *o)
{
	(void)o;
	return true; /* nothing here reads the descriptor: it may move at any time */
}

static void rg_state_resume(struct rg_own *o)
{
	(void)o;
}

/* The page stays mapped; only `status` loses its way in. */
static enum rg_give rg_state_give_up(struct rg_own *o)
{
	if (atomic_load_explicit(&o->fd, memory_order_acquire) < 0)
		return RG_CANNOT;
	rg_own_close(o);
	return RG_GAVE;
}

const struct rg_own_holder rg_state_holder = { rg_state_pause, rg_state_resume,
						      rg_state_give_up };
static struct rg_own rg_state_own = { -1, RG_HELD_BY_STATE };
/* Whether rg_state is a shared mapping (a forked child must leave it). */
static bool rg_state_mapped;

/* A new memfd holding the page as it is, mapped over it; -1 when it cannot
 * be had, and then the page is the library's private memory as before. */
static int rg_state_map(void)
{
	int fd;

	if (sysconf(_SC_PAGESIZE) != RG_STATE_PAGE)
		return -1;
	fd = rg_libc(memfd_create)(RG_STATE_MEMFD, MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (pwrite(fd, &rg_state, sizeof(rg_state), 0) != (ssize_t)sizeof(rg_state) ||
	    mmap(&rg_state, sizeof(rg_state), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 0) == MAP_FAILED) {
		rg_libc(close)(fd);
		return -1;
	}
	rg_state_mapped = true;
	return fd;
}

static void rg_state_fill(void)
{
	strncpy(rg_state.f.prog, rg_program_name(), sizeof(rg_state.f.prog) - 1);
	rg_state.f.pid = (int32_t)getpid();
	rg_state.f.size = (uint32_t)sizeof(rg_state);
	rg_log_settings(rg_state.f.settings, sizeof(rg_state.f.settings));
	memcpy(rg_state.f.magic, RG_STATE_MAGIC, sizeof(RG_STATE_MAGIC));
}

/* At load, once the settings are known. */
void rg_state_start(const char *metrics_name)
{
	int saved = errno, fd;

	if (metrics_name)
		strncpy(rg_state.f.metrics_name, metrics_name, sizeof(rg_state.f.metrics_name) - 1);
	rg_state_fill();
	fd = rg_state_map();
	if (fd >= 0) {
		if (rg_lock_enter_unmasked(RG_LOCK_DRAINER)) {
			rg_own_take(&rg_state_own, fd);
			rg_lock_leave_unmasked(RG_LOCK_DRAINER);
		} else {
			rg_libc(close)(fd);
		}
	}
	errno = saved;
}

/* In a forked child, with every lock taken (the child's only thread): a
 * page of its own, with counters from zero. */
void rg_state_fork_child(void)
{
	int saved = errno, fd = -1;

	if (rg_state_mapped) {
		rg_own_close_locked(&rg_state_own);
		fd = rg_state_map();
		if (fd < 0) {
			union rg_state_page copy = rg_state;

			rg_state_mapped = false;
			if (mmap(&rg_state, sizeof(rg_state), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
				rg_state = copy;
		}
	}
	memset(&rg_state.f.stats, 0, sizeof(rg_state.f.stats));
	atomic_store_explicit(&rg_state.f.lingering, 0, memory_order_relaxed);
	rg_state.f.pid = (int32_t)getpid();
	rg_log_settings(rg_state.f.settings, sizeof(rg_state.f.settings)); /* its pid */
	if (fd >= 0)
		rg_own_take(&rg_state_own, fd);
	errno = saved;
}
