/* Reading the RESETGUARD_* environment.  A malformed value never stops the
 * program: it gets one line on stderr naming the variable and the value
 * used instead. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

struct rg_config rg_config = {
	.sigpipe = RG_SIGPIPE_SOCKET,
	.log = RG_LOG_STDERR,
};

struct rg_choice {
	const char *word;
	int value;
};

/* The first choice is the default.  secure_getenv: a setuid program must not be steered into writing a file
 * of the caller's choosing (the loader drops LD_PRELOAD for those anyway,
 * unless the library is installed as a trusted one). */
static int rg_config_choice(const char *name, const struct rg_choice *choices,
			    const char *expected)
{
	const char *value = secure_getenv(name);

	if (!value)
		return choices[0].value;
	for (const struct rg_choice *c = choices; c->word; c++)
		if (strcmp(value, c->word) == 0)
			return c->value;
	rg_log_bad_setting(name, value, expected, choices[0].word);
	return choices[0].value;
}

static void rg_config_log_dest(void)
{
	const char *value = secure_getenv("RESETGUARD_LOG");

	if (!value || strcmp(value, "stderr") == 0)
		return;
	if (strcmp(value, "off") == 0) {
		rg_config.log = RG_LOG_OFF;
	} else if (value[0] == '\0') {
		rg_log_bad_setting("RESETGUARD_LOG", value, "stderr, off or a file path",
				   "stderr");
	} else {
		rg_config.log = RG_LOG_FILE;
		rg_config.log_path = value;
	}
}

void rg_config_load(void)
{
	static const struct rg_choice sigpipe[] = {
		{ "socket", RG_SIGPIPE_SOCKET },
		{ "ignore", RG_SIGPIPE_IGNORE },
		{ "off", RG_SIGPIPE_OFF },
		{ NULL, 0 },
	};
	static const struct rg_choice errors[] = {
		{ "reset", 0 },
		{ "all", 1 },
		{ NULL, 0 },
	};

	rg_config.sigpipe = (enum rg_sigpipe_mode)rg_config_choice(
		"RESETGUARD_SIGPIPE", sigpipe, "socket, ignore or off");
	rg_config.all_errors = rg_config_choice("RESETGUARD_ERRORS", errors, "reset or all");
	rg_config_log_dest();
}
