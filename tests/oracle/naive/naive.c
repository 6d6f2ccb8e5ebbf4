/* A deliberately wrong preload library, for the oracle's own test: the
 * naive "graceful close" that shuts every socket down before closing it,
 * even when another descriptor (a dup, a forked child) still uses it.
 * That is the bug resetguard's holder counts exist to avoid
 * (../shared/NOTES.md, "Shared sockets"), and the oracle must see it. */
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int close(int fd)
{
	static int (*real_close)(int);
	struct stat sb;

	if (!real_close)
		*(void **)&real_close = dlsym(RTLD_NEXT, "close");
	if (fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode))
		shutdown(fd, SHUT_WR);
	return real_close(fd);
}
