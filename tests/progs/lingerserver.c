/* lingerserver: a server that answers early and closes without reading the
 * rest of the request, the way that makes Linux reset the client; each mode
 * closes the connection by a different road.
 *
 * usage: lingerserver [-f inet|unix] [-u PATH] [-n COUNT] [-d DELAY_MS]
 *                     [-s REPLY_BYTES] [-L] [-m MODE]
 * MODE: close (default), fclose, close_range, closefrom, dup2, shutdown, threads,
 *       fork (fork per connection: the parent closes its copy at once),
 *       exit (a forked child answers and leaves without closing),
 *       _exit (the same with _exit), busy (ignore the client, close anyway),
 *       prefork (4 workers forked before the first accept share the
 *       listening socket and each serve a quarter of the connections)
 * -L sets SO_LINGER {1, 0} first (an abortive close); -d waits before the
 * answer; -s answers with that many bytes instead of a line; -F, after the
 * last connection, opens descriptors until EMFILE and prints how many; -C
 * then forks a child that prints how many sockets it holds; -E then execs
 * /bin/true.
 * Prints "listening <port|path>" when ready, then one line per connection:
 * "close_us=N" (how long the program's close call took). */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "common.h"

static const char *mode = "close";
static int delay_ms, reply_bytes, abortive;

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void answer(int fd)
{
	char req[4096];

	if (read(fd, req, sizeof(req)) < 0)
		return;
	if (delay_ms)
		usleep((useconds_t)delay_ms * 1000);
	if (reply_bytes) {
		char *big = calloc(1, (size_t)reply_bytes);

		for (ssize_t off = 0, n; off < reply_bytes; off += n)
			if ((n = write(fd, big + off, (size_t)(reply_bytes - off))) <= 0)
				break;
		free(big);
	} else if (write(fd, "413 too large\n", 14) != 14) {
		return;
	}
	if (abortive) {
		struct linger lg = { 1, 0 };

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
}

static void report_close(long started)
{
	printf("close_us=%ld\n", now_us() - started);
	fflush(stdout);
}

/* Closes fd the way the mode says, timing the call the program makes. */
static void let_go(int fd)
{
	long t = now_us();

	if (!strcmp(mode, "fclose")) {
		fclose(fdopen(fd, "r+"));
	} else if (!strcmp(mode, "close_range")) {
		close_range((unsigned)fd, (unsigned)fd, 0);
	} else if (!strcmp(mode, "closefrom")) {
		closefrom(fd); /* the listener is below it */
	} else if (!strcmp(mode, "dup2")) {
		int null = open("/dev/null", O_RDONLY);

		t = now_us();
		dup2(null, fd);
		report_close(t);
		close(fd);
		close(null);
		return;
	} else if (!strcmp(mode, "shutdown")) {
		shutdown(fd, SHUT_WR);
		close(fd);
	} else {
		close(fd);
	}
	report_close(t);
}

static void *serve_thread(void *arg)
{
	int fd = (int)(long)arg;

	answer(fd);
	let_go(fd);
	return NULL;
}

static void serve(int fd)
{
	pid_t pid;

	if (!strcmp(mode, "busy")) {
		let_go(fd);
	} else if (!strcmp(mode, "threads")) {
		pthread_t t;

		pthread_create(&t, NULL, serve_thread, (void *)(long)fd);
		pthread_detach(t);
	} else if (!strcmp(mode, "fork") || !strcmp(mode, "exit") || !strcmp(mode, "_exit")) {
		pid = fork();
		if (pid < 0)
			err(2, "fork");
		if (pid == 0) {
			answer(fd);
			if (!strcmp(mode, "exit"))
				exit(0);
			if (!strcmp(mode, "_exit"))
				_exit(0);
			close(fd);
			_exit(0);
		}
		let_go(fd); /* the parent's copy, while the child talks on */
	} else {
		answer(fd);
		let_go(fd);
	}
}

/* Workers forked before the first accept, each serving count/4 with a
 * plain close; the parent only waits for them. */
static void prefork(int listener, int count)
{
	signal(SIGCHLD, SIG_DFL);
	for (int w = 0; w < 4; w++) {
		if (fork() == 0) {
			for (int i = 0; i < count / 4; i++) {
				int fd = accept(listener, NULL, NULL);

				if (fd < 0)
					err(2, "accept");
				answer(fd);
				let_go(fd);
			}
			exit(0);
		}
	}
	close(listener);
	while (wait(NULL) > 0)
		;
	exit(0);
}

/* A child forked now must hold none of the drainer's sockets. */
static void count_child_sockets(void)
{
	fflush(stdout);
	if (fork() == 0) {
		char path[64], link[64];
		int sockets = 0;

		for (int fd = 0; fd < 1024; fd++) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			ssize_t n = readlink(path, link, sizeof(link) - 1);

			if (n > 0 && !strncmp(link, "socket:", 7))
				sockets++;
		}
		printf("child_sockets=%d\n", sockets);
		exit(0);
	}
	wait(NULL);
}

int main(int argc, char **argv)
{
	const char *family = "inet", *path = "/tmp/lingerserver.sock";
	int opt, count = 1, fill = 0, child_count = 0, exec_after = 0;

	while ((opt = getopt(argc, argv, "f:u:n:d:s:LFCEm:")) != -1) {
		switch (opt) {
		case 'f': family = optarg; break;
		case 'u': path = optarg; break;
		case 'n': count = atoi(optarg); break;
		case 'd': delay_ms = atoi(optarg); break;
		case 's': reply_bytes = atoi(optarg); break;
		case 'L': abortive = 1; break;
		case 'F': fill = 1; break;
		case 'C': child_count = 1; break;
		case 'E': exec_after = 1; break;
		case 'm': mode = optarg; break;
		default: return 2;
		}
	}
	signal(SIGCHLD, SIG_IGN);

	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_un un;
	} a;
	socklen_t len;
	int one = 1;

	memset(&a, 0, sizeof(a));
	if (!strcmp(family, "unix")) {
		a.un.sun_family = AF_UNIX;
		snprintf(a.un.sun_path, sizeof(a.un.sun_path), "%s", path);
		unlink(path);
		len = sizeof(a.un);
	} else {
		a.in.sin_family = AF_INET;
		a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(a.in);
	}
	int listener = socket(a.sa.sa_family, SOCK_STREAM, 0);
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (listener < 0 || bind(listener, &a.sa, len) < 0 || listen(listener, 128) < 0 ||
	    getsockname(listener, &a.sa, &len) < 0)
		err(2, "listen");
	if (a.sa.sa_family == AF_UNIX)
		printf("listening %s\n", a.un.sun_path);
	else
		printf("listening %u\n", ntohs(a.in.sin_port));
	fflush(stdout);

	if (!strcmp(mode, "prefork"))
		prefork(listener, count);
	for (int i = 0; i < count; i++) {
		int fd = accept(listener, NULL, NULL);

		if (fd < 0)
			err(2, "accept");
		serve(fd);
	}
	close(listener);
	if (child_count)
		count_child_sockets();
	if (exec_after) {
		fflush(stdout);
		execl("/bin/true", "true", (char *)NULL);
		err(2, "exec");
	}
	if (fill) {
		int fds = 0;

		while (open("/dev/null", O_RDONLY) >= 0)
			fds++;
		printf("filled=%s fds=%d\n", strerrorname_np(errno), fds);
	}
	/* Threads may still be answering: let them finish. */
	if (!strcmp(mode, "threads"))
		pthread_exit(NULL);
	return 0;
}
