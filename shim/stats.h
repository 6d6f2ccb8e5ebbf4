/* Per-process totals (state.h), counted even when no line is logged, and
 * with RESETGUARD_METRICS the same counts for the whole fork family
 * (metrics.c), in the family's shared map. */
#ifndef RG_STATS_H
#define RG_STATS_H

#include "export.h"
#include "state.h"

#include <stdatomic.h>
#include <stdint.h>

extern RG_HIDDEN union rg_state_page rg_state;
#define rg_stats (rg_state.f.stats)

/* The family's counters (metrics.c), or NULL without metrics. */
extern RG_HIDDEN struct rg_counters *_Atomic rg_stats_family;

/* Two atomic adds, one of them only with metrics on: no lock, so a signal
 * handler may count too. */
static inline void rg_count(_Atomic uint64_t *counter)
{
	struct rg_counters *family = atomic_load_explicit(&rg_stats_family, memory_order_relaxed);

	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
	if (family)
		atomic_fetch_add_explicit(
			(_Atomic uint64_t *)((char *)family + ((char *)counter - (char *)&rg_stats)),
			1, memory_order_relaxed);
}

#endif
