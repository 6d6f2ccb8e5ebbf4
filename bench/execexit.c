/* execexit: how long exec and exit take in a process that has just closed
 * sockets which linger under resetguard.  It accepts COUNT connections one
 * at a time, reads 4 KiB of each request, answers one line and closes with
 * the rest unread (so each close is a graceful one under the shim), and
 * then:
 *   exec  execs itself as a tiny program that only reads CLOCK_MONOTONIC
 *         first thing in main() and prints how long after the execve()
 *         call that was: "exec_us=N";
 *   exit  (the server runs in a forked child) returns from main(); the
 *         parent prints the time from the child's last stamp before its
 *         return until its own waitpid() returned: "exit_us=N".
 * Everything the shim does between the call and the new image's main() (or
 * the parent's wake-up) counts, its start-up in the new image included.
 *
 * usage: execexit -m exec|exit [-n COUNT]
 * Prints "listening PORT" when ready, then the figure. */
#include <arpa/inet.h>
#include <err.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int listen_local(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		err(2, "listen");
	printf("listening %u\n", ntohs(a.sin_port));
	fflush(stdout);
	return fd;
}

/* Answers early and closes with the rest of each request unread. */
static void serve(int count)
{
	int listener = listen_local();
	char buf[4096];

	for (int i = 0; i < count; i++) {
		int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			err(2, "accept");
		if (read(fd, buf, sizeof(buf)) < 0 || write(fd, "413 too large\n", 14) != 14)
			warn("connection %d", i);
		close(fd);
	}
	close(listener);
}

static int run_exit(int count)
{
	int p[2];
	long long stamp = 0;
	pid_t pid;

	if (pipe(p) < 0)
		err(2, "pipe");
	if ((pid = fork()) < 0)
		err(2, "fork");
	if (pid == 0) {
		close(p[0]);
		serve(count);
		stamp = now_ns();
		if (write(p[1], &stamp, sizeof(stamp)) != sizeof(stamp))
			err(2, "stamp");
		return 0; /* the exit being measured */
	}
	close(p[1]);
	if (read(p[0], &stamp, sizeof(stamp)) != sizeof(stamp))
		errx(2, "the child gave no stamp");
	if (waitpid(pid, NULL, 0) < 0)
		err(2, "waitpid");
	printf("exit_us=%.1f\n", (double)(now_ns() - stamp) / 1000);
	return 0;
}

static int run_exec(int count, const char *self)
{
	char stamp[32];

	serve(count);
	snprintf(stamp, sizeof(stamp), "%lld", now_ns());
	execl(self, self, "--stamp", stamp, (char *)NULL);
	err(2, "exec %s", self);
}

int main(int argc, char **argv)
{
	long long started = now_ns(); /* first thing: the exec'd image's stamp */
	const char *mode = "exit";
	int opt, count = 20;

	if (argc == 3 && !strcmp(argv[1], "--stamp")) {
		printf("exec_us=%.1f\n", (double)(started - atoll(argv[2])) / 1000);
		return 0;
	}
	while ((opt = getopt(argc, argv, "m:n:")) != -1) {
		switch (opt) {
		case 'm': mode = optarg; break;
		case 'n': count = atoi(optarg); break;
		default: return 2;
		}
	}
	if (count < 1 || (strcmp(mode, "exec") != 0 && strcmp(mode, "exit") != 0))
		errx(2, "usage: execexit -m exec|exit [-n COUNT]");
	return !strcmp(mode, "exec") ? run_exec(count, "/proc/self/exe") : run_exit(count);
}
