/* Settings, read once from the environment when the library loads. */
#ifndef RG_CONFIG_H
#define RG_CONFIG_H

#include <stdbool.h>

enum rg_sigpipe_mode {
	RG_SIGPIPE_SOCKET, /* no socket write raises SIGPIPE; nothing else changes */
	RG_SIGPIPE_IGNORE, /* SIG_IGN process-wide, inherited by children */
	RG_SIGPIPE_OFF,
};

enum rg_log_dest {
	RG_LOG_STDERR,
	RG_LOG_FILE,
	RG_LOG_OFF,
};

struct rg_config {
	enum rg_sigpipe_mode sigpipe;
	enum rg_log_dest log;
	const char *log_path; /* RG_LOG_FILE: points into the environment */
	bool all_errors;      /* log ETIMEDOUT, ECONNREFUSED... too */
};

extern struct rg_config rg_config;

void rg_config_load(void);

#endif
