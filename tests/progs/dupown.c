/* dupown: dup2() onto numbers the program did not open, while a socket it
 * closed lingers.  A program may dup2() onto any number below its limit;
 * whatever resetguard keeps there (its log, the drainer's epoll and
 * eventfd, the lingering socket itself) must move out of the way, and the
 * number must stay the program's: resetguard must never close it later.
 *
 * usage: dupown
 * Closes a connection whose peer (an end the program keeps) has sent
 * nothing, then dup2()s a pipe's write end onto every number in the top
 * quarter of min(RLIMIT_NOFILE, 1024) and onto every other number listed
 * in /proc/self/fd that it did not open.  The peer then sends 1 MiB and
 * EOF and reads what comes back: the drainer ends the socket at that EOF.
 * For 500 ms after that every one of those numbers is written to, and the
 * byte must come out of the pipe.
 * Prints "targets=N dup2_failed=N peer_send=ok|ERRNO peer=eof|ERRNO
 * broken_after=N". */
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "common.h"

#define MAX_TARGETS 1024

static int targets[MAX_TARGETS], ntargets;
static int mine[8], nmine;

static int is_mine(int fd)
{
	for (int i = 0; i < nmine; i++)
		if (mine[i] == fd)
			return 1;
	return fd <= 2;
}

static void add_target(int fd)
{
	for (int i = 0; i < ntargets; i++)
		if (targets[i] == fd)
			return;
	if (!is_mine(fd) && ntargets < MAX_TARGETS)
		targets[ntargets++] = fd;
}

/* Every number resetguard may be holding: the top quarter, where it puts
 * its own, and whatever else /proc shows that the program never opened. */
static void find_targets(void)
{
	struct rlimit rl;
	int top = 1024;
	DIR *d;
	struct dirent *de;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024)
		top = (int)rl.rlim_cur;
	for (int fd = top - top / 4; fd < top; fd++)
		add_target(fd);
	d = opendir("/proc/self/fd");
	if (!d)
		err(2, "/proc/self/fd");
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
			add_target(atoi(de->d_name));
	closedir(d);
}

/* The peer writes 1 MiB after the program's close, then EOF, and reads
 * until the end: a graceful close drains it all and answers EOF. */
static void peer_talks(int peer, const char **send_result, const char **end)
{
	static char chunk[16384];
	char buf[256];
	ssize_t n;

	*send_result = "ok";
	for (int i = 0; i < 64; i++)
		if (send(peer, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0) {
			*send_result = strerrorname_np(errno);
			break;
		}
	shutdown(peer, SHUT_WR);
	if (!readable_within(peer, 5000)) {
		*end = "nothing";
		return;
	}
	while ((n = recv(peer, buf, sizeof(buf), 0)) > 0)
		;
	*end = n == 0 ? "eof" : strerrorname_np(errno);
}

/* Writes a byte to every target for 500 ms; counts those that failed at
 * least once or whose byte did not come out of the pipe. */
static int use_targets(int pipe_in)
{
	int broken[MAX_TARGETS] = { 0 }, count = 0;
	long long until = mono_ns() + 500000000LL;
	char byte;

	do {
		for (int i = 0; i < ntargets; i++)
			if (write(targets[i], "z", 1) != 1 || read(pipe_in, &byte, 1) != 1)
				broken[i] = 1;
		usleep(20000);
	} while (mono_ns() < until);
	for (int i = 0; i < ntargets; i++)
		count += broken[i];
	return count;
}

int main(void)
{
	struct conn c;
	int p[2], failed = 0;
	const char *send_result, *end;

	conn_open(&c, "inet", "");
	mine[nmine++] = c.client;
	close(c.server); /* the peer may still send: it lingers */
	drainer_barrier();
	if (pipe2(p, O_NONBLOCK) < 0) /* a byte gone astray must not block the read */
		err(2, "pipe");
	mine[nmine++] = p[0];
	mine[nmine++] = p[1];
	find_targets();
	for (int i = 0; i < ntargets; i++)
		if (dup2(p[1], targets[i]) != targets[i])
			failed++;
	peer_talks(c.client, &send_result, &end);
	printf("targets=%d dup2_failed=%d peer_send=%s peer=%s broken_after=%d\n", ntargets,
	       failed, send_result, end, use_targets(p[0]));
	return 0;
}
