/* Settings, read once from the environment when the library loads. */
#ifndef RG_CONFIG_H
#define RG_CONFIG_H

#include "export.h"

#include <stdbool.h>

enum rg_sigpipe_mode {
	RG_SIGPIPE_SOCKET, /* no socket write raises SIGPIPE; nothing else changes */
	RG_SIGPIPE_IGNORE, /* SIG_IGN process-wide, inherited by children */
	RG_SIGPIPE_OFF,
};

enum rg_log_dest {
	RG_LOG_STDERR,
	RG_LOG_FILE,
	RG_LOG_SYSLOG,
	RG_LOG_JOURNAL,
	RG_LOG_OFF,
};

enum rg_log_level {
	RG_LEVEL_WARN,
	RG_LEVEL_INFO,
	RG_LEVEL_DEBUG,
};

struct rg_config {
	enum rg_sigpipe_mode sigpipe;
	enum rg_log_dest log;	  /* changed by sink.c under its lock: see there */
	enum rg_log_level level;
	bool json;
	/* The strings are copies (config.c), never the environment's. */
	const char *log_path;	  /* RG_LOG_FILE */
	const char *syslog_path;  /* the syslog datagram socket */
	const char *journal_path; /* journald's native socket */
	int syslog_facility;
	bool syslog_rfc5424;	  /* RFC 5424 instead of the traditional local form */
	int log_rate, log_burst;  /* lines per second and burst; rate 0: no limit */
	const char *metrics_dir;  /* NULL: no metrics file */
	int metrics_interval_ms;
	const char *metrics_name; /* NULL: the program's name at load */
	bool all_errors;      /* log ETIMEDOUT, ECONNREFUSED... too */
	bool linger;	      /* graceful close */
	bool honour_linger0;  /* keep the RST a program asks for with SO_LINGER {1, 0} */
	int linger_timeout_ms; /* the longest wait for more data from the peer */
	int linger_time_ms;    /* the longest a socket lingers in all */
	unsigned long long linger_bytes; /* the most a socket drains; 0: no bound */
	int linger_max;	       /* sockets lingering at once; 0: a quarter of RLIMIT_NOFILE */
	const char *conf_path; /* the config file */
	const char *only_cmds, *skip_cmds; /* scope: program names, comma-separated */
	bool inherit;	       /* LD_PRELOAD passed on to what the program runs */
	int backlog;	       /* the least listen() backlog; 0: as the program asks */
	/* TCP keepalive for the program's connections, in seconds; idle 0:
	 * off; interval or count 0: the system's (listen.c). */
	int keepalive_idle, keepalive_interval, keepalive_count;
};

extern RG_HIDDEN struct rg_config rg_config;

/* Defaults, the config file, the environment; false when prog is out of
 * scope (RESETGUARD_ONLY_CMDS, RESETGUARD_SKIP_CMDS): the library then
 * stays out of the program's way altogether. */
bool rg_config_load(const char *prog);
/* NAME=VALUE is not EXPECTED: one line on stderr, with what is used
 * instead. */
void rg_log_bad_setting(const char *name, const char *value, const char *expected,
			const char *fallback);
/* Every setting's default (settings.def). */
void rg_config_defaults(void);
/* One variable's value, as rg_config_load() reads it from the
 * environment; false for a name that is not a setting.  The fuzzer's way
 * in. */
bool rg_config_apply(const char *name, const char *value);
/* The sockets that may linger at once: RESETGUARD_LINGER_MAX, or by
 * default a quarter of the descriptor limit; at most RG_LINGER_SLOTS_MAX. */
#define RG_LINGER_SLOTS_MAX (1 << 16)
unsigned long rg_config_linger_cap(void);
/* True when stderr is systemd's stream to journald ($JOURNAL_STREAM). */
bool rg_config_stderr_is_journal(void);

#endif
