/* What differs between the C libraries the library is built for, in one
 * place: glibc's forms here; the musl build includes shim/musl/compat.h
 * first, which defines RG_LIBC_MUSL and musl's. */
#ifndef RG_LIBC_H
#define RG_LIBC_H

#ifndef RG_LIBC_MUSL
#include <stdio.h>

/* ioctl()'s request, and sendmmsg()/recvmmsg()'s flags, as the libc's own
 * prototypes have them (musl: int and unsigned int). */
typedef unsigned long rg_ioctl_request;
typedef int rg_mmsg_flags;

/* A stream's descriptor, from glibc's public struct: no call on the path
 * of every wrapped stdio call.  -1 for streams on memory. */
static inline int rg_file_fd(const FILE *fp)
{
	return fp->_fileno;
}

/* A call the library wraps that libc lacks is worth a warning: every one
 * is in glibc 2.34 and later. */
#define RG_LIBC_HAS_ALL 1
#endif

#endif
