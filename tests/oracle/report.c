/* What the program execs at the end: how long the exec took, and what it
 * inherited.  Numbers from the top quarter up are reported only when the
 * program put something there itself (they are given as arguments): the
 * library, if this image loads it again, opens its log there. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oracle.h"

static void socket_kind(struct line *l, int fd)
{
	int domain = 0, type = 0, listening = 0;
	socklen_t len = sizeof(int);
	char byte;
	ssize_t n;

	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
	line_add(l, " kind=%s%s%s", domain == AF_UNIX ? "unix" : "inet",
		 type == SOCK_STREAM ? "-stream" : "-other", listening ? "-listen" : "");
	if (listening)
		return;
	/* Can it still be read, and written?  A shutdown shows here. */
	n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	line_add(l, " rd=%s", n > 0 ? "data" : n == 0 ? "eof" : errno_name(errno));
	n = send(fd, &byte, 0, MSG_DONTWAIT | MSG_NOSIGNAL);
	line_add(l, " wr=%s", n == 0 ? "ok" : errno_name(errno));
}

static void other_kind(struct line *l, int fd, const struct stat *sb)
{
	char path[64], link[128];
	ssize_t n;

	if (S_ISFIFO(sb->st_mode) || S_ISREG(sb->st_mode) || S_ISCHR(sb->st_mode)) {
		line_add(l, " kind=%s", S_ISFIFO(sb->st_mode) ? "fifo" : S_ISREG(sb->st_mode) ? "file"
													  : "chr");
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	line_add(l, " kind=%s", strncmp(link, "anon_inode:", 11) != 0 ? "other" : link + 11);
}

static void report_fd(int step, int fd)
{
	struct stat sb;
	struct line l;

	if (fcntl(fd, F_GETFD) < 0 || fstat(fd, &sb) < 0)
		return;
	line_start(&l, 'r', step, "inherited");
	line_add(&l, " fd=%d", fd);
	if (S_ISSOCK(sb.st_mode))
		socket_kind(&l, fd);
	else
		other_kind(&l, fd, &sb);
	line_emit(&l);
}

static void report_signals(int step)
{
	sigset_t pending;
	struct line l;

	sigpending(&pending);
	line_start(&l, 'r', step, "sigpending");
	line_add(&l, " io=%d rt=%d", sigismember(&pending, SIGIO), sigismember(&pending, SIGRTMIN + 2));
	line_emit(&l);
}

int report_main(int argc, char **argv)
{
	int64_t t0 = argc > 3 ? strtoll(argv[3], NULL, 10) : now_ns();
	int step = argc > 2 ? atoi(argv[2]) : 0;
	struct rlimit rl;
	struct line l;
	int top;

	line_start(&l, 'r', step, "exec");
	line_add(&l, " ms=%lld", (long long)(now_ns() - t0) / 1000000);
	line_emit(&l);
	getrlimit(RLIMIT_NOFILE, &rl);
	top = rl.rlim_cur < 1024 ? (int)rl.rlim_cur : 1024;
	for (int fd = 0; fd < top - top / 4; fd++)
		report_fd(step, fd);
	for (int k = 4; k < argc; k++)
		report_fd(step, atoi(argv[k]));
	report_signals(step);
	dprintf(FD_OBS, "T exit %lld\n", (long long)now_ns());
	return 0;
}
