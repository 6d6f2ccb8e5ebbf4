/* The Prometheus textfile-collector file of RESETGUARD_METRICS. */
#ifndef RG_METRICS_H
#define RG_METRICS_H

void rg_metrics_start(void);
void rg_metrics_write(void);
void rg_metrics_fork_child(void);

#endif
