/* Per-process totals, counted even when no line is logged. */
#ifndef RG_STATS_H
#define RG_STATS_H

#include "export.h"

#include <stdatomic.h>
#include <stdint.h>

struct rg_stats {
	_Atomic uint64_t resets, pipes, errors;
	_Atomic uint64_t linger_eof, linger_timeout, linger_bytes, linger_error, linger_cap;
	_Atomic uint64_t shared_plain; /* plain closes: another holder, or unknown */
	_Atomic uint64_t suppressed;   /* records dropped: rate limit, full socket */
};

extern RG_HIDDEN struct rg_stats rg_stats;

static inline void rg_count(_Atomic uint64_t *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

#endif
