/* faultprobe: programs doing awkward things next to resetguard, for
 * tests/faults.bats.
 *
 * usage: faultprobe spawn vfork|posix_spawn
 *          closes a connection whose peer stays open and silent (so that
 *          under resetguard it lingers), then starts "faultprobe count"
 *          the given way and prints what the child printed, its status,
 *          and how long starting and reaping it took (spawn_us=N)
 *        faultprobe vfork-close close|dup2|closefrom
 *          keeps a connection open while a vfork() child lets go of its
 *          copy the given way and execs /bin/true; then sends on it and
 *          prints what the peer got: the connection must be intact
 *        faultprobe count
 *          prints how many sockets this process holds (child_sockets=N)
 *        faultprobe double-close
 *          closes a lingering socket and a file twice each, printing each
 *          result; then lists the descriptors from 768 up (own=...), which
 *          must not have changed, and meets one reset for the log
 *        faultprobe fill
 *          opens /dev/null until it fails: filled=ERRNO fds=N first=FD,...
 *          (the numbers the first eight got) */
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include "common.h"

extern char **environ;

static void report(const char *what, int ret)
{
	printf("%s ret=%d errno=%s\n", what, ret, ret < 0 ? strerrorname_np(errno) : "0");
}

static int count_sockets(int from)
{
	char path[64], link[64];
	int sockets = 0;

	for (int fd = from; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, link, sizeof(link) - 1);

		if (n > 0 && !strncmp(link, "socket:", 7))
			sockets++;
	}
	return sockets;
}

/* A connected pair: the client end is returned, the server end (the peer,
 * close-on-exec so that no child holds it) in *peer. */
static int silent_peer(int *peer)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int client = socket(AF_INET, SOCK_STREAM, 0);

	if (listener < 0 || client < 0 || bind(listener, (struct sockaddr *)&a, len) < 0 ||
	    listen(listener, 1) < 0 || getsockname(listener, (struct sockaddr *)&a, &len) < 0 ||
	    connect(client, (struct sockaddr *)&a, len) < 0 ||
	    (*peer = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) < 0)
		err(2, "connect");
	close(listener);
	return client;
}

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int spawn(const char *how, const char *self)
{
	int peer, client = silent_peer(&peer), status;
	char *argv[] = { (char *)self, "count", NULL };
	pid_t pid;

	close(client); /* lingers under resetguard: the peer has not closed */
	fflush(stdout);
	long t = now_us();
	if (!strcmp(how, "vfork")) {
		/* What is tested is the shim under vfork(), so vfork() it is. */
		pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */
		if (pid == 0) {
			execv(self, argv);
			_exit(127);
		}
	} else if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0) {
		pid = -1;
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		err(2, "spawn");
	printf("child_status=%d spawn_us=%ld\n", status, now_us() - t);
	close(peer);
	printf("alive\n");
	return 0;
}

static int vfork_close(const char *how)
{
	int peer, client = silent_peer(&peer), status;
	char buf[16];
	pid_t pid;

	fflush(stdout);
	/* The closes a vfork() child makes before exec are what is tested;
	 * the analyzer allows only exec and _exit there. */
	/* NOLINTBEGIN(clang-analyzer-security.insecureAPI.vfork,clang-analyzer-unix.Vfork) */
	pid = vfork();
	if (pid == 0) {
		if (!strcmp(how, "dup2"))
			dup2(STDERR_FILENO, client);
		else if (!strcmp(how, "closefrom"))
			closefrom(3);
		else
			close(client);
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	/* NOLINTEND(clang-analyzer-security.insecureAPI.vfork,clang-analyzer-unix.Vfork) */
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		err(2, "vfork");
	report("send", (int)send(client, "hello", 5, 0));
	if (poll(&(struct pollfd){ .fd = peer, .events = POLLIN }, 1, 5000) != 1)
		errx(2, "nothing arrived");
	report("peer recv", (int)recv(peer, buf, sizeof(buf), MSG_DONTWAIT));
	report("peer recv again", (int)recv(peer, buf, sizeof(buf), MSG_DONTWAIT));
	close(client);
	close(peer);
	return 0;
}

static void list_own(void)
{
	char path[64], link[64];

	printf("own=");
	for (int fd = 768; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, link, sizeof(link) - 1);

		if (n > 0) {
			link[n] = '\0';
			printf("%d:%s,", fd, strncmp(link, "socket:", 7) ? link : "socket");
		}
	}
	printf("\n");
}

static int double_close(void)
{
	int peer, client = silent_peer(&peer);
	int file = open("/dev/null", O_RDONLY);
	struct conn c;

	report("socket close", close(client));
	list_own();
	report("socket close again", close(client));
	report("file close", close(file));
	report("file close again", close(file));
	list_own();
	close(peer);
	conn_open(&c, "inet", "");
	conn_reset(&c);
	char byte;
	report("read", (int)read(c.client, &byte, 1));
	return 0;
}

static int fill(void)
{
	int fds = 0, fd, first[8];

	while ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		if (fds < 8)
			first[fds] = fd;
		fds++;
	}
	printf("filled=%s fds=%d first=", strerrorname_np(errno), fds);
	for (int i = 0; i < fds && i < 8; i++)
		printf("%s%d", i ? "," : "", first[i]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "spawn"))
		return spawn(argv[2], argv[0]);
	if (argc == 3 && !strcmp(argv[1], "vfork-close"))
		return vfork_close(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "count")) {
		printf("child_sockets=%d\n", count_sockets(0));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "double-close"))
		return double_close();
	if (argc == 2 && !strcmp(argv[1], "fill"))
		return fill();
	fprintf(stderr, "usage: faultprobe spawn vfork|posix_spawn | vfork-close close|dup2|closefrom |\n"
			"       count | double-close | fill\n");
	return 2;
}
