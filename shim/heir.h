/* The heir: a process that outlives the program to finish its graceful
 * closes, so that exit and exec are not held up by peers (heir.c). */
#ifndef RG_HEIR_H
#define RG_HEIR_H

#include <stdbool.h>

/* At exit, or before exec when exec: after a short wait, whatever still
 * lingers goes to an heir; false when nothing lingers any more, or no heir
 * could be made (then the caller waits as before). */
bool rg_heir_take_over(bool exec);
/* The exec failed: the heir gives the sockets back, the drainer goes on. */
void rg_heir_exec_failed(void);

#endif
