/* Loading and unloading: bind libc, read the settings once, open the log,
 * and arrange for fork() and exit(). */
#include <pthread.h>

#include "config.h"
#include "drainer.h"
#include "linger.h"
#include "metrics.h"
#include "ownfd.h"
#include "log.h"
#include "sink.h"
#include "real.h"
#include "share.h"
#include "sigpipe.h"
#include "stdio_guard.h"

/* Locks are taken in one order (drainer, then log) and released in the
 * parent and the child, so that fork() never copies one held by a thread
 * the child does not have.  Every socket gains a holder: the child. */
static void rg_fork_prepare(void)
{
	rg_drainer_fork_prepare();
	rg_share_fork_prepare();
	rg_sink_fork_prepare();
}

static void rg_fork_parent(void)
{
	rg_sink_fork_done();
	rg_drainer_fork_parent();
}

static void rg_fork_child(void)
{
	rg_linger_note_pid();
	rg_metrics_fork_child();
	rg_sink_fork_done();
	rg_drainer_fork_child();
}

__attribute__((constructor)) static void rg_load(void)
{
	rg_real_bind();
	rg_linger_note_pid();
	rg_config_load();
	rg_sigpipe_init();
	rg_share_init();
	rg_own_reserve();
	rg_sink_open();
	rg_log_start();
	rg_metrics_start();
	pthread_atfork(rg_fork_prepare, rg_fork_parent, rg_fork_child);
}

/* Runs inside exit(), before glibc flushes every stream where SIGPIPE is
 * not guarded; then lets go of the sockets the program never closed. */
__attribute__((destructor)) static void rg_unload(void)
{
	rg_stdio_flush_sockets();
	rg_linger_exit();
}
