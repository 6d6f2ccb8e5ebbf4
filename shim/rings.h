/* io_uring: a ring holds references of its own to the files registered in
 * it and to those its pending requests use, and keeps using a socket after
 * the program's close().  resetguard cannot see what a ring holds, so a
 * process that has one gets the plain close for its sockets. */
#ifndef RG_RINGS_H
#define RG_RINGS_H

#include <stdbool.h>

bool rg_rings_in_use(void);
/* Looks for a ring among the process's descriptors (/proc/self/fd, open
 * as dirfd when not -1): always when now, else unless it looked within
 * the last second. */
void rg_rings_scan(bool now, int dirfd);

#endif
