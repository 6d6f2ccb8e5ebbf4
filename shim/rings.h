/* io_uring: a ring holds references of its own to the files registered in
 * it and to those its pending requests use, and keeps using a socket after
 * the program's close().  resetguard cannot see what a ring holds, so a
 * process that has one gets the plain close for its sockets. */
#ifndef RG_RINGS_H
#define RG_RINGS_H

#include <stdbool.h>

bool rg_rings_in_use(void);
/* Looks for a ring among the process's descriptors through dirfd, the
 * drainer's /proc/self/fd: always when now, else unless it looked within
 * the last second.  Without one (-1: the program had no descriptor to
 * spare for it) no scan: the drainer thread never opens a descriptor of
 * its own at a moment the program cannot foresee, where it could take a
 * number the program's next call would get. */
void rg_rings_scan(bool now, int dirfd);
/* The same at load, while the process is single-threaded. */
void rg_rings_scan_at_load(void);

#endif
