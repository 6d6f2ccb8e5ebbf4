/* The settings as data: one entry per line of settings.def, and the
 * parsers that read a value into a struct rg_config.  Shared by the
 * library and the command (the Makefile builds settings.c into both), so
 * that a value the command accepts is one the library takes, and the
 * reason for a refusal reads the same in both. */
#ifndef RG_SETTINGS_H
#define RG_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

enum rg_kind {
	RG_K_WORD,     /* one of WORDS; FIELD gets its index */
	RG_K_DURATION, /* ms, s, m or h, decimals too; FIELD in ms */
	RG_K_SIZE,     /* bytes, KiB, MiB, GiB; 0 for no bound */
	RG_K_COUNT,    /* a whole number from 1, or auto (0) */
	RG_K_RATE,     /* N or N/B or 0: log_rate and log_burst */
	RG_K_FACILITY, /* a syslog facility name */
	RG_K_PATH,     /* an absolute path */
	RG_K_DIR,      /* an absolute directory, or off (NULL) */
	RG_K_CONF,     /* an absolute path, the config file */
	RG_K_CMDS,     /* program names, comma-separated */
	RG_K_NAME,     /* a label: letters, digits, '.', '_', '-' (1 to 63) */
	RG_K_LOG,      /* stderr, syslog, journal, off or a file path */
	RG_K_NUMBER,   /* a whole number from 1 to 65535, or off (0) */
	RG_K_KEEPALIVE, /* off, or IDLE[,INTERVAL[,COUNT]]: keepalive_* */
};

struct rg_setting {
	const char *name;   /* RESETGUARD_... */
	const char *option; /* the command's, or NULL */
	const char *arg;    /* --help's name for the value, or "=VALUE" */
	enum rg_kind kind;
	size_t offset, size; /* FIELD in struct rg_config */
	const char *words;
	const char *fallback; /* DEFAULT */
	const char *help;
};

enum rg_setting_id {
#define RG_SETTING(NAME, ...) RG_S_##NAME,
#include "settings.def"
#undef RG_SETTING
	RG_N_SETTINGS
};

extern RG_HIDDEN const struct rg_setting rg_settings[RG_N_SETTINGS];

/* The setting of that variable name, or NULL. */
const struct rg_setting *rg_setting_named(const char *name, size_t len);
/* Reads value into c: NULL when it was taken, else what was expected
 * ("a duration from 1ms to 1h, ..."), c unchanged. */
const char *rg_setting_parse(const struct rg_setting *s, const char *value,
			     struct rg_config *c);
/* Every DEFAULT, read into c. */
void rg_settings_defaults(struct rg_config *c);
/* A number, WORD index or bool FIELD of c. */
unsigned long long rg_setting_get(const struct rg_setting *s, const struct rg_config *c);
/* WORDS' word number i, copied into buf (NUL-terminated, cut to size). */
const char *rg_setting_word(const struct rg_setting *s, unsigned long long i, char *buf,
			    size_t size);
/* A syslog facility's name. */
const char *rg_facility_name(int facility);
/* Whether name is in a comma-separated list (blanks around names ignored). */
bool rg_cmds_match(const char *list, const char *name);

#endif
