#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "../shim/fdtable.h"
#include "../shim/lifecycle.h"
#include "../shim/sigpipe.h"
#include "../shim/sink.h"
#include "../shim/state.h"
#include "../shim/stats.h"
#include "capture.h"

struct fz_capture fz_captured;
bool fz_journal;
int64_t rg_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The target's entry is in no table: its peer is the one it passes. */
struct rg_ip_peer rg_fd_peer(const struct rg_fd *e)
{
	(void)e;
	return (struct rg_ip_peer){ .family = AF_UNSPEC };
}

bool rg_sink_is_journal(void)
{
	return fz_journal;
}

void rg_sink_send(enum rg_log_level level, const char *msgid, int err, const struct rg_line *line,
		  const struct rg_line *fields)
{
	(void)level;
	(void)msgid;
	(void)err;
	fz_captured.records++;
	fz_captured.line = *line;
	fz_captured.has_fields = fields != NULL;
	if (fields)
		fz_captured.fields = *fields;
}

void rg_sink_stderr(const struct rg_line *line)
{
	fz_captured.complaints++;
	fz_captured.complaint = *line;
}

pid_t rg_process_pid(void)
{
	return getpid();
}

/* The fuzzer sets program_invocation_short_name itself (record.c). */
const char *rg_program_name(void)
{
	return program_invocation_short_name;
}

/* The records are built here without a program's write behind them:
 * there is no signal to hand on (sigpipe.c). */
void rg_sigpipe_deliver(void)
{
}

/* The counters the records count (state.c), with no state page for
 * `resetguard status` and no family to add up in (metrics.c). */
union rg_state_page rg_state;
struct rg_counters *_Atomic rg_stats_family;
