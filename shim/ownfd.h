/* resetguard's own descriptors: the log file, the drainer's epoll and
 * eventfd, and every lingering socket.  They live above the
 * numbers programs use, close-on-exec, and are marked in the fd table so
 * that close(), close_range(), closefrom() and dup2() from the program can
 * neither close them nor make resetguard write into a descriptor the
 * program has reused. */
#ifndef RG_OWNFD_H
#define RG_OWNFD_H

void rg_own_reserve(void);
int rg_own_adopt(int fd);
int rg_own_dup(int fd);
int rg_own_move(int fd);
void rg_own_release(int fd);

#endif
