/* libFuzzer target: the records of shim/log.c, as a sink receives them,
 * with the program name, the IP peer's address, the operation and the
 * settings shown in the start-up line (log file, metrics directory) taken
 * from the input, in logfmt or JSON and as journald fields.  Checked: each
 * record is one well-formed line (check.c) that begins ts, level, event,
 * and a prog field, where there is one, reads back as the program name. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "../shim/log.h"
#include "capture.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated string of the next length-prefixed bytes (NULs kept
 * out, as no C string can hold one). */
static const char *fz_string(const uint8_t **p, size_t *left, char *buf, size_t max)
{
	size_t len = *left ? (size_t)(*p)[0] * 16 : 0;

	if (*left) {
		(*p)++;
		(*left)--;
	}
	len = len < *left ? len : *left;
	len = len < max - 1 ? len : max - 1;
	memcpy(buf, *p, len);
	buf[len] = '\0';
	*p += len;
	*left -= len;
	return buf;
}

static void fz_check_record(const struct rg_line *l, const char *prog)
{
	static const char *const firsts[][3] = {
		{ "ts", "level", "event" }, { "ts", "level", "event" }, { "TS", "LEVEL", "EVENT" },
	};
	static struct fz_record r;

	fz_parse(l, &r);
	fz_check_cut(l, &r);
	if (r.n < 3)
		fz_fail(l, "a record without ts, level and event");
	for (size_t i = 0; i < 3; i++)
		if (r.pair[i].key_len != strlen(firsts[l->format][i]) ||
		    memcmp(r.pair[i].key, firsts[l->format][i], r.pair[i].key_len) != 0)
			fz_fail(l, "a record that does not begin ts, level, event");
	for (size_t i = 3; i < r.n; i++)
		if (r.pair[i].key_len == 4 &&
		    memcmp(r.pair[i].key, l->format == RG_FMT_JOURNAL ? "PROG" : "prog", 4) == 0 &&
		    (r.pair[i].val_len != strlen(prog) ||
		     memcmp(r.pair[i].val, prog, r.pair[i].val_len) != 0))
			fz_fail(l, "prog does not read back as the program name");
}

static void fz_check_sent(unsigned before, const char *prog)
{
	if (fz_captured.records != before + 1) {
		struct rg_line none = { 0 };

		fz_fail(&none, "not exactly one record per event");
	}
	fz_check_record(&fz_captured.line, prog);
	if (fz_journal != fz_captured.has_fields)
		fz_fail(&fz_captured.line, "journald fields rendered when not asked for, or not");
	if (fz_captured.has_fields)
		fz_check_record(&fz_captured.fields, prog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool defaults;

	if (!defaults) {
		rg_config_defaults();
		defaults = true;
	}
	static char prog[4096], op[4096], log_path[4096], metrics[4096];
	static struct rg_fd e;
	static struct rg_ip_peer peer;
	static const sa_family_t families[] = { AF_UNSPEC, AF_INET, AF_INET6 };
	static const int errs[] = { ECONNRESET, EPIPE, ETIMEDOUT, ECONNREFUSED };
	char *saved_prog = program_invocation_short_name;
	unsigned flags = size ? data[0] : 0;

	if (size) {
		data++;
		size--;
	}
	memset(&e, 0, sizeof(e));
	e.life = &e.lives[0];
	e.role = (unsigned char)(flags >> 2 & 3);
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer, data, size < sizeof(peer) ? size : sizeof(peer));
	peer.family = families[size ? data[0] % 3 : 0];
	e.family = (unsigned char)peer.family;
	if (size > sizeof(peer)) {
		data += sizeof(peer);
		size -= sizeof(peer);
	} else {
		size = 0;
	}
	program_invocation_short_name = (char *)fz_string(&data, &size, prog, sizeof(prog));
	fz_string(&data, &size, op, sizeof(op));
	rg_config.log_path = fz_string(&data, &size, log_path, sizeof(log_path));
	rg_config.metrics_dir = fz_string(&data, &size, metrics, sizeof(metrics));
	rg_config.log = flags & 16 ? RG_LOG_FILE : RG_LOG_STDERR;
	rg_config.json = flags & 1;
	rg_config.level = RG_LEVEL_DEBUG;
	rg_config.log_rate = 0;
	fz_journal = flags & 2;

	unsigned before = fz_captured.records;

	rg_log_conn_error(&e, -1, op, errs[flags >> 5 & 3]);
	fz_check_sent(before++, prog);
	rg_log_linger(&e, &peer, -1, -1, flags & 128 ? "eof" : "timeout", 1, 2);
	fz_check_sent(before++, prog);
	rg_log_plain_close(&e, &peer, -1, -1, "shared");
	fz_check_sent(before++, prog);
	rg_log_start();
	fz_check_sent(before++, prog);
	rg_log_summary();
	fz_check_sent(before, prog);
	program_invocation_short_name = saved_prog;
	return 0;
}
