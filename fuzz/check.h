/* Strict readers of what shim/format.c writes, for the fuzz targets: each
 * takes one finished record apart into keys and decoded values, and
 * aborts on anything that is not exactly one well-formed record. */
#ifndef FZ_CHECK_H
#define FZ_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "../shim/format.h"

#define FZ_PAIRS_MAX (RG_LINE_MAX / 4)

struct fz_pair {
	const char *key; /* as written: upper case for journald */
	size_t key_len;
	const char *val; /* decoded, in fz_record.text */
	size_t val_len;
	bool quoted;	 /* JSON: a string, not a number or true */
};

struct fz_record {
	size_t n;
	struct fz_pair pair[FZ_PAIRS_MAX];
	char text[RG_LINE_MAX];
};

/* Prints why and the line, then aborts, so that libFuzzer keeps the input. */
void fz_fail(const struct rg_line *l, const char *why) __attribute__((noreturn));
/* Takes l apart into r, checking the grammar of l->format and the length. */
void fz_parse(const struct rg_line *l, struct fz_record *r);
/* The last pair is truncated=true (TRUNCATED=true) exactly when l->cut. */
void fz_check_cut(const struct rg_line *l, const struct fz_record *r);
bool fz_pair_is(const struct fz_pair *p, const char *key, const char *val, size_t len);
/* Reads one logfmt value (bare or quoted) at *pos, decoding it onto *out. */
void fz_logfmt_value(const struct rg_line *l, size_t *pos, char **out);

#endif
