/* The fuzz targets link this instead of shim/sink.c and shim/fdtable.c:
 * what log.c would write is kept here for the target to check. */
#ifndef FZ_CAPTURE_H
#define FZ_CAPTURE_H

#include <stdbool.h>

#include "../shim/format.h"

struct fz_capture {
	unsigned records, complaints;
	struct rg_line line, fields; /* the last record; fields when journald */
	bool has_fields;
	struct rg_line complaint;    /* the last rg_sink_stderr() line */
};

extern struct fz_capture fz_captured;
extern bool fz_journal; /* what rg_sink_is_journal() answers */

#endif
