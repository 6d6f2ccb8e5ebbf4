/* musl has neither <sys/pidfd.h> nor the calls; the wrappers are built but
 * unused (a musl program uses syscall(SYS_pidfd_open), not seen by any
 * wrapper, as with glibc's). */
#ifndef RG_MUSL_SYS_PIDFD_H
#define RG_MUSL_SYS_PIDFD_H
#include <sys/types.h>
int pidfd_open(pid_t pid, unsigned int flags);
int pidfd_getfd(int pidfd, int targetfd, unsigned int flags);
#endif
