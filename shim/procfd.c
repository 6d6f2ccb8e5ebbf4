#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procfd.h"
#include "real.h"

static int rg_procfd_number(const char *name)
{
	int fd = 0;

	for (; *name >= '0' && *name <= '9'; name++)
		fd = fd * 10 + (*name - '0');
	return *name ? -1 : fd;
}

int rg_procfd_each(const char *dir, void (*visit)(int dirfd, int fd, void *ctx), void *ctx)
{
	char buf[4096];
	int dfd = rg_libc(open)(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	if (dfd < 0)
		return -1;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			int fd = rg_procfd_number(d->d_name);

			off += d->d_reclen;
			if (fd >= 0 && fd != dfd)
				visit(dfd, fd, ctx);
		}
	}
	rg_libc(close)(dfd);
	return n < 0 ? -1 : 0;
}
