/* The comparison.  Both runs' observations are lists of lines, one per
 * step (and per thread, child, exec'd image), then the program's end, the
 * peers' records and the program's stderr.  They must be equal line by
 * line, but for the differences resetguard exists to make; those, and
 * only those, are in allowed[] below.  resetguard's own log records are
 * not observations at all: the run with the library sends them to a file
 * (RESETGUARD_LOG), so the program's stderr stays comparable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"

enum verdict { DIFF, SAME, STOP };

/* The value of key=... in a line, into out; false when absent. */
static bool field(const char *line, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);

	for (const char *p = line; (p = strstr(p, key)); p++) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, " ");

			snprintf(out, size, "%.*s", (int)n, p + klen + 1);
			return true;
		}
	}
	return false;
}

static long num(const char *line, const char *key)
{
	char v[64];

	return field(line, key, v, sizeof(v)) ? strtol(v, NULL, 10) : -1;
}

static bool has(const char *line, const char *key, const char *value)
{
	char v[64];

	return field(line, key, v, sizeof(v)) && !strcmp(v, value);
}

static bool skipped(const char *tok, size_t len, const char *const *keys)
{
	for (const char *const *k = keys; *k; k++) {
		size_t kl = strlen(*k);

		if (len > kl && !strncmp(tok, *k, kl) && tok[kl] == '=')
			return true;
	}
	return false;
}

/* The next token not listed in keys, and its length (0 at the end). */
static const char *next_token(const char *p, size_t *len, const char *const *keys)
{
	for (;;) {
		while (*p == ' ')
			p++;
		*len = strcspn(p, " ");
		if (!*len || !skipped(p, *len, keys))
			return p;
		p += *len;
	}
}

/* Equal but for the tokens whose keys are listed (in either line). */
static bool equal_except(const char *a, const char *b, const char *const *keys)
{
	size_t la, lb;

	for (;;) {
		a = next_token(a, &la, keys);
		b = next_token(b, &lb, keys);
		if (la != lb || strncmp(a, b, la) != 0)
			return false;
		if (!la)
			return true;
		a += la;
		b += lb;
	}
}

static bool verb_is(const char *line, const char *verb)
{
	const char *sp = strchr(line, ' ');
	size_t n = strlen(verb);

	return sp && !strncmp(sp + 1, verb, n) && (sp[n + 1] == ' ' || !sp[n + 1]);
}

static bool socket_write(const char *line)
{
	static const char *const verbs[] = { "send", "write", "sendto", "sendmsg", "writev",
					     "storm-child", "ring-send" };

	for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++)
		if (verb_is(line, verbs[k]))
			return true;
	return false;
}

/* Without the library the program (or a child) died of SIGPIPE on a
 * socket write; with it, that write returned -1 EPIPE.  What follows can
 * no longer be compared: one process is dead, the other goes on. */
static enum verdict no_sigpipe_death(const char *a, const char *b)
{
	return strstr(a, "status=signal:PIPE") && socket_write(b) && has(b, "errno", "EPIPE") ? STOP
												 : DIFF;
}

/* The peer of a graceful close sees EOF where it saw a reset without the
 * library, and may receive more (the reset can destroy data it had not
 * read): what it got without must be a prefix of what it got with. */
static enum verdict peer_eof_not_reset(const char *a, const char *b)
{
	if (strncmp(a, "peer ", 5) != 0 || strncmp(b, "peer ", 5) != 0 || num(a, "c") != num(b, "c"))
		return DIFF;
	if (!has(a, "end", "reset") || !has(b, "end", "eof") || !has(a, "ok", "1") ||
	    !has(b, "ok", "1") || num(b, "rx") < num(a, "rx"))
		return DIFF;
	return SAME;
}

static bool failed_on_reset(const char *line)
{
	return has(line, "errno", "EPIPE") || has(line, "errno", "ECONNRESET");
}

/* Once the program has closed its socket, the peer's writes may succeed
 * longer (the drainer reads them), and its reads may end with EOF where
 * they ended with a reset. */
static enum verdict peer_after_close(const char *a, const char *b)
{
	static const char *const keys[] = { "ret", "errno", "end", NULL };
	char ea[64] = "", eb[64] = "";

	if (strncmp(a, b, strcspn(a, " ")) != 0 || !has(a, "closed", "1") ||
	    (!verb_is(a, "peer-send") && !verb_is(a, "peer-close")))
		return DIFF;
	if (!equal_except(a, b, keys))
		return DIFF;
	if (num(a, "ret") != num(b, "ret") &&
	    !(num(a, "ret") < 0 && failed_on_reset(a) && num(b, "ret") >= 0))
		return DIFF;
	field(a, "end", ea, sizeof(ea));
	field(b, "end", eb, sizeof(eb));
	if (strcmp(ea, eb) != 0 && !(!strcmp(eb, "eof") && !strcmp(ea, "reset")))
		return DIFF;
	return SAME;
}

/* exit, exec and a child's exit may take longer, within a generous bound:
 * timing is never compared closer than that. */
static enum verdict timing(const char *a, const char *b)
{
	static const char *const keys[] = { "ms", NULL };

	if (!equal_except(a, b, keys) || num(a, "ms") < 0 || num(b, "ms") < 0)
		return DIFF;
	return num(b, "ms") <= num(a, "ms") + 500 ? SAME : DIFF;
}

/* A close() of a number the program does not hold fails with EBADF; with
 * the library the number may be one of resetguard's own (listed in
 * /proc/self/fd, act_close()), and close() on one reports success and
 * leaves it open: EBADF there trips daemons that close what /proc lists
 * and assert on the result (systemd #20586). */
static enum verdict close_own_number(const char *a, const char *b)
{
	static const char *const keys[] = { "listed", "ret", "errno", NULL };

	if (!verb_is(a, "close") || !equal_except(a, b, keys))
		return DIFF;
	return has(a, "listed", "0") && has(a, "errno", "EBADF") && has(b, "listed", "1") &&
			       has(b, "ret", "0") && !strstr(b, "errno=")
		       ? SAME
		       : DIFF;
}

static const struct {
	const char *name;
	enum verdict (*judge)(const char *without, const char *with);
} allowed[] = {
	{ "no-sigpipe-death", no_sigpipe_death },
	{ "peer-eof-not-reset", peer_eof_not_reset },
	{ "peer-after-close", peer_after_close },
	{ "timing", timing },
	{ "close-own-number", close_own_number },
};

/* And one line the run with the library may have that the other has not:
 * resetguard's own one-line complaint on the program's stderr, such as
 * the one that says its log could not be opened at the descriptor limit
 * (resetguard(7): every bad input gets one line naming the fallback). */
static bool resetguard_complaint(const char *with)
{
	return !strncmp(with, "stderr resetguard: ", 19);
}

#define NRULES (sizeof(allowed) / sizeof(allowed[0]))

static void where(const char *line, char *out, size_t size)
{
	if (!line)
		snprintf(out, size, "the end");
	else if (line[0] == 'm' || line[0] == 'c' || line[0] == 't' || line[0] == 'r')
		snprintf(out, size, "step %ld", strtol(line + 1, NULL, 10));
	else
		snprintf(out, size, "%s", !strncmp(line, "peer", 4) ? "the peers' records"
								   : "the program's end");
}

static int report_diff(uint64_t seed, const char *a, const char *b, const char *label)
{
	char at[64];

	where(a ? a : b, at, sizeof(at));
	printf("seed %llu: DIFFERENT at %s\n  without: %s\n  %-8s %s\n", (unsigned long long)seed, at,
	       a ? a : "(nothing)", label, b ? b : "(nothing)");
	return 1;
}

int compare_runs(uint64_t seed, char **a, int na, char **b, int nb, bool verbose, const char *label_b)
{
	int used[NRULES] = { 0 }, k = 0;
	char lab[16];

	snprintf(lab, sizeof(lab), "%s:", label_b);
	int kept = 0, complaints = 0;

	for (int j = 0; j < nb; j++) {
		if (resetguard_complaint(b[j]))
			complaints++;
		else
			b[kept++] = b[j];
	}
	nb = kept;
	for (; k < na && k < nb; k++) {
		enum verdict v = strcmp(a[k], b[k]) != 0 ? DIFF : SAME;

		for (size_t r = 0; r < NRULES && v == DIFF; r++)
			if ((v = allowed[r].judge(a[k], b[k])) != DIFF)
				used[r]++;
		if (v == DIFF)
			return report_diff(seed, a[k], b[k], lab);
		if (v == STOP) {
			printf("seed %llu: same up to a death by SIGPIPE (%d lines)\n",
			       (unsigned long long)seed, k);
			return 0;
		}
	}
	if (k < na || k < nb)
		return report_diff(seed, k < na ? a[k] : NULL, k < nb ? b[k] : NULL, lab);
	printf("seed %llu: same (%d lines", (unsigned long long)seed, na);
	for (size_t r = 0; r < NRULES; r++)
		if (used[r] && verbose)
			printf(", %s x%d", allowed[r].name, used[r]);
	if (complaints && verbose)
		printf(", resetguard-complaint x%d", complaints);
	printf(")\n");
	return 0;
}
