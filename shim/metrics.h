/* The Prometheus textfile-collector file of RESETGUARD_METRICS. */
#ifndef RG_METRICS_H
#define RG_METRICS_H

#include <stdint.h>

#include "stats.h"

/* One family's counts, in the family's shared map (share.c). */
/* A listener's drops (listen.h) as the family's file shows them, by
 * local address: named once (state 0 free, 1 being named, 2 named), then
 * the highest total any member saw, since every member that holds the
 * listener sees the same one. */
#define RG_FAMILY_LISTENERS 16
struct rg_family_listener {
	_Atomic uint32_t state;
	char local[52];
	_Atomic uint64_t drops;
};

struct rg_family {
	struct rg_counters stats;
	struct rg_family_listener listeners[RG_FAMILY_LISTENERS];
	_Atomic uint64_t written;    /* the sum of the counts the file shows */
	_Atomic int64_t written_ms;  /* when it was last written, Unix time */
	_Atomic int32_t writer;	     /* the pid writing the file; 0: none */
	_Atomic int64_t claimed_ms;  /* when it took the file */
};

void rg_metrics_start(void);
/* The name the file and the label carry; NULL without metrics. */
const char *rg_metrics_name(void);
/* At exit and exec: the file catches up with the counts, and this
 * process's thread writes no more; rg_metrics_resume() after an exec that
 * failed. */
void rg_metrics_write(void);
/* A listener's last look, before this process lets it go: its drops reach
 * the file, which looks only at the listeners still held when it is
 * written (the last one at exit). */
void rg_metrics_listener_closing(const char *local, uint64_t drops_total);
void rg_metrics_resume(void);
/* In a forked child, after the fork handlers gave the locks back: the
 * child's own writer thread. */
void rg_metrics_start_in_child(void);

#endif
