/* Loading and unloading: bind libc, read the settings once, open the log,
 * and arrange for fork() and exit(). */
#include <pthread.h>

#include "config.h"
#include "log.h"
#include "real.h"
#include "sigpipe.h"
#include "stdio_guard.h"

__attribute__((constructor)) static void rg_load(void)
{
	rg_real_bind();
	rg_config_load();
	rg_sigpipe_init();
	rg_log_open();
	pthread_atfork(rg_log_fork_prepare, rg_log_fork_done, rg_log_fork_done);
}

/* Runs inside exit(), before glibc flushes every stream where SIGPIPE is
 * not guarded. */
__attribute__((destructor)) static void rg_unload(void)
{
	rg_stdio_flush_sockets();
}
