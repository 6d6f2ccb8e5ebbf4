/* The process's life cycle under resetguard: loading, fork(), exec, exit,
 * and the ways a program starts children the fork handlers never see. */
#ifndef RG_LIFECYCLE_H
#define RG_LIFECYCLE_H

#include <stdbool.h>
#include <sys/types.h>

#include "export.h"

/* True in the child of a vfork() (or any clone sharing our memory), where
 * the parent's state must not be touched: its descriptors are copies of
 * the parent's, its table entries, holder counts and drainer are the
 * parent's. */
bool rg_in_vfork_child(void);

/* The process the records are about: this one's pid, which the heir
 * (heir.c), finishing its graceful closes, keeps. */
pid_t rg_process_pid(void);

/* The program's name as it was when the library loaded
 * (program_invocation_short_name, copied before the program could
 * rewrite its argv). */
const char *rg_program_name(void);

/* Set at load for a program that RESETGUARD_ONLY_CMDS or
 * RESETGUARD_SKIP_CMDS leave out: nothing is started, and the wrappers
 * pass every call straight through (the descriptor table stays unmapped,
 * so no descriptor is ever classified, see fdtable.c). */
extern RG_HIDDEN bool rg_out_of_scope;

#endif
