/* The test programs built for musl (make MUSL=1): glibc's calls they use
 * that musl lacks, as a musl program would write them.  close_range() and
 * closefrom() are system calls here, out of any wrapper's sight, as they
 * are in a real musl program. */
#ifndef RG_TEST_MUSL_COMPAT_H
#define RG_TEST_MUSL_COMPAT_H

#include <sys/syscall.h>
#include <unistd.h>

static inline int close_range(unsigned int first, unsigned int last, int flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

static inline void closefrom(int lowfd)
{
	syscall(SYS_close_range, (unsigned int)lowfd, ~0U, 0);
}

/* shim/musl/errnames.c, linked in. */
const char *strerrorname_np(int err);
const char *strerrordesc_np(int err);

#endif
