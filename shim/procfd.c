#include <dirent.h>
#include <fcntl.h>
#include <string.h>
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

int rg_procfd_each_at(int dfd, void (*visit)(int dirfd, int fd, void *ctx), void *ctx)
{
	char buf[4096];
	long n;

	if (lseek(dfd, 0, SEEK_SET) < 0)
		return -1;
	while ((n = rg_libc(syscall)(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			int fd = rg_procfd_number(d->d_name);

			off += d->d_reclen;
			if (fd >= 0 && fd != dfd)
				visit(dfd, fd, ctx);
		}
	}
	return n < 0 ? -1 : 0;
}

int rg_procfd_each(const char *dir, void (*visit)(int dirfd, int fd, void *ctx), void *ctx)
{
	int dfd = rg_libc(open)(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (dfd < 0)
		return -1;
	ret = rg_procfd_each_at(dfd, visit, ctx);
	rg_libc(close)(dfd);
	return ret;
}

int rg_procfd_file_has(const char *path, const char *needle)
{
	char buf[4096];
	size_t keep = 0, nlen = strlen(needle);
	int fd = rg_libc(open)(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int found = 0;

	if (fd < 0 || nlen == 0 || nlen >= sizeof(buf) / 2) {
		if (fd >= 0)
			rg_libc(close)(fd);
		return -1;
	}
	/* Read in pieces, each searched with the tail of the last one in
	 * front, where a needle may begin. */
	while (!found && (n = rg_libc(read)(fd, buf + keep, sizeof(buf) - keep)) > 0) {
		size_t have = keep + (size_t)n;

		found = memmem(buf, have, needle, nlen) != NULL;
		keep = nlen - 1 < have ? nlen - 1 : have;
		memmove(buf, buf + have - keep, keep);
	}
	rg_libc(close)(fd);
	return found;
}
