/* The Prometheus textfile-collector file of RESETGUARD_METRICS. */
#ifndef RG_METRICS_H
#define RG_METRICS_H

void rg_metrics_start(void);
void rg_metrics_write(void);
/* In a forked child: fresh counters and names (with the locks taken),
 * then the child's own writer thread (after they were given back). */
void rg_metrics_fork_child(void);
void rg_metrics_start_in_child(void);

#endif
