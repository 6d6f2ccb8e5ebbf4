/* Starting resetguard's own threads (the drainer, the metrics writer). */
#ifndef RG_THREAD_H
#define RG_THREAD_H

#include <stdbool.h>

/* Starts fn(arg) on a detached thread named name, with a small stack and
 * every signal blocked, so that it never takes a signal meant for the
 * program; false when it could not. */
bool rg_thread_spawn(void *(*fn)(void *), void *arg, const char *name);

#endif
