/* The state page: one page per process under resetguard, in a memfd named
 * "resetguard-state" that `resetguard status PID` opens through
 * /proc/PID/fd (which needs only the permission to read the process's
 * /proc entries: the same user, or root).  The page lies over the
 * library's own variable rg_state (mapped there with MAP_FIXED), so the
 * counters are counted in it directly: nothing on any path changes.
 *
 * Shared by the library and the command: plain data, fixed layout. */
#ifndef RG_STATE_H
#define RG_STATE_H

#include <stdatomic.h>
#include <stdint.h>

#define RG_STATE_MEMFD "resetguard-state"
#define RG_STATE_MAGIC "resetguard-state 1"
#define RG_STATE_PAGE 4096

/* Per-process totals, counted even when no line is logged. */
struct rg_counters {
	_Atomic uint64_t resets, pipes, errors;
	_Atomic uint64_t linger_eof, linger_timeout, linger_bytes, linger_error, linger_cap;
	_Atomic uint64_t shared_plain; /* plain closes: another holder, or unknown */
	_Atomic uint64_t suppressed;   /* records dropped: rate limit, full socket */
};

struct rg_state_fields {
	char magic[24];	     /* RG_STATE_MAGIC: set once the rest is */
	int32_t pid;	     /* whose page it is: a forked child gets its own */
	uint32_t size;	     /* sizeof(union rg_state_page) */
	char prog[64];	     /* the program's name at load */
	char metrics_name[64]; /* the name its metrics file and label carry, or "" */
	struct rg_counters stats;
	_Atomic int lingering; /* sockets handed to the drainer and not yet closed */
	char settings[2048];   /* the settings in force, as the start line has them */
};

union rg_state_page {
	struct rg_state_fields f;
	char bytes[RG_STATE_PAGE];
};

_Static_assert(sizeof(union rg_state_page) == RG_STATE_PAGE, "the state is one page");

/* The library's side (state.c): at load, once the settings are known
 * (metrics_name: NULL without metrics), and in a forked child with every
 * lock taken. */
void rg_state_start(const char *metrics_name);
void rg_state_fork_child(void);

#endif
