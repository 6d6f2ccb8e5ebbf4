/* stress: threads that make, reset and close connections every which way
 * for a while, and count what they saw, for tests/stress.sh to hold against
 * resetguard's log.
 *
 * usage: stress [-d SECONDS] [-t THREADS] [-s SEED] [-w WAIT_MS] [-P]
 * Each thread has its own TCP and AF_UNIX listener and plays both ends of
 * each connection: the peer resets (SO_LINGER {1, 0} or unread data, closed
 * with a raw system call, out of resetguard's reach, as a remote peer would
 * be), answers early and closes, never reads, forks a child that answers and
 * exits without closing, or starts a child (fork, vfork or posix_spawn)
 * that execs /bin/true; the closes go through close, close_range, dup2,
 * shutdown and SO_LINGER {1, 0}.  A per-thread timer and a process-wide
 * SIGALRM interrupt it with a handler that writes to the thread's current
 * connection.  -P ignores SIGPIPE (the program's own choice); -w is how
 * long resetguard may still hold sockets after the threads are done (its
 * RESETGUARD_LINGER_TIME plus slack).
 *
 * Prints, with write(2) only (forked children must not flush stdio twice):
 *   fds start prog=N own=N
 *   child pid=PID resets=N          one per forked child
 *   resets pid=PID count=N          calls on sockets that failed with
 *                                   ECONNRESET or EPIPE, in this process
 *   fds end prog=N own_sockets=N own_epoll=N own_eventfd=N own_files=N
 *   ops=N
 * "prog" counts descriptors below 768, where resetguard never puts its own;
 * own_files does not count the holder map (share.c), which a process keeps
 * from its first socket on, nor the state page (state.c), kept from load;
 * the end line is taken after the threads have closed everything and the
 * sockets resetguard held have had WAIT_MS to go.  Exits 1 on a hang (a
 * peer that neither answered nor closed within 10 s) or a child that died. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "common.h"

#define OWN_FLOOR 768
#define PARKED 3

extern char **environ;

static atomic_long resets, total_ops;
static __thread volatile sig_atomic_t handler_fd = -1;
static unsigned int seed;
static int seconds = 10;
static struct timespec stop_at;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[160];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
	va_end(ap);
	if (write(STDOUT_FILENO, line, (size_t)n) != n)
		_exit(3);
}

static void fatal(const char *what)
{
	say("FAIL pid=%d seed=%u: %s (%s)\n", (int)getpid(), seed, what, strerror(errno));
	_exit(1);
}

/* Every call on a socket goes through here: the count the log must match. */
static long counted(long ret)
{
	if (ret < 0 && (errno == ECONNRESET || errno == EPIPE))
		atomic_fetch_add(&resets, 1);
	return ret;
}

static void on_tick(int sig)
{
	int saved = errno, fd = handler_fd;

	(void)sig;
	if (fd >= 0)
		counted(send(fd, "s", 1, MSG_DONTWAIT));
	errno = saved;
}

struct worker {
	int index;
	unsigned int rng;
	int listener[2]; /* TCP, AF_UNIX */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_un un;
	} addr[2];
	socklen_t addr_len[2];
	int parked[PARKED];
	int nparked;
	pthread_t thread;
};

static unsigned int pick(struct worker *w, unsigned int n)
{
	return (unsigned int)rand_r(&w->rng) % n;
}

static void listen_on(struct worker *w, int kind)
{
	memset(&w->addr[kind], 0, sizeof(w->addr[kind]));
	if (kind == 0) {
		w->addr[0].in.sin_family = AF_INET;
		w->addr[0].in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		w->addr_len[0] = sizeof(w->addr[0].in);
	} else {
		/* Abstract: no file to clean up. */
		w->addr[1].un.sun_family = AF_UNIX;
		int n = snprintf(w->addr[1].un.sun_path + 1, sizeof(w->addr[1].un.sun_path) - 1,
				 "rgstress.%d.%d", (int)getpid(), w->index);
		w->addr_len[1] = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	}
	w->listener[kind] = socket(w->addr[kind].sa.sa_family, SOCK_STREAM, 0);
	if (w->listener[kind] < 0 || bind(w->listener[kind], &w->addr[kind].sa, w->addr_len[kind]) < 0 ||
	    listen(w->listener[kind], 16) < 0 ||
	    getsockname(w->listener[kind], &w->addr[kind].sa, &w->addr_len[kind]) < 0)
		fatal("listen");
}

static void pair(struct worker *w, int *client, int *server)
{
	int kind = (int)pick(w, 2);

	*client = socket(w->addr[kind].sa.sa_family, SOCK_STREAM, 0);
	if (*client < 0)
		fatal("socket");
	while (counted(connect(*client, &w->addr[kind].sa, w->addr_len[kind])) < 0)
		if (errno != EINTR)
			fatal("connect");
	while ((*server = accept(w->listener[kind], NULL, NULL)) < 0)
		if (errno != EINTR)
			fatal("accept");
}

/* Waits for data, EOF or an error on fd; a peer that does none of these
 * within 10 s is a hang. */
static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	while ((n = poll(&p, 1, 10000)) < 0 && errno == EINTR)
		;
	if (n == 0)
		fatal("hang: the peer neither answered nor closed");
}

static long send_some(struct worker *w, int fd, size_t len)
{
	static const char data[16384];
	struct iovec iov = { (void *)data, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	switch (pick(w, 4)) {
	case 0:
		return counted(write(fd, data, len));
	case 1:
		return counted(writev(fd, &iov, 1));
	case 2:
		return counted(sendmsg(fd, &msg, MSG_DONTWAIT));
	default:
		return counted(send(fd, data, len, MSG_DONTWAIT));
	}
}

static long recv_some(struct worker *w, int fd)
{
	char buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	wait_readable(fd);
	switch (pick(w, 4)) {
	case 0:
		return counted(read(fd, buf, sizeof(buf)));
	case 1:
		return counted(readv(fd, &iov, 1));
	case 2:
		return counted(recvmsg(fd, &msg, 0));
	default:
		return counted(recv(fd, buf, sizeof(buf), 0));
	}
}

/* The program's close, by one of the roads resetguard must follow. */
static void let_go(struct worker *w, int fd)
{
	int null;

	struct linger abortive = { 1, 0 };

	switch (pick(w, 5)) {
	case 0:
		close_range((unsigned int)fd, (unsigned int)fd, 0);
		break;
	case 3: /* an abortive close, which resetguard converts */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
		close(fd);
		break;
	case 1:
		null = open("/dev/null", O_RDONLY);
		if (null < 0)
			fatal("open");
		dup2(null, fd); /* the socket goes here */
		close(null);
		close(fd);
		break;
	case 2:
		counted(shutdown(fd, SHUT_WR));
		close(fd);
		break;
	default:
		close(fd);
	}
}

/* A remote peer going away abortively, out of resetguard's reach. */
static void peer_resets(struct worker *w, int server)
{
	if (pick(w, 2)) {
		struct linger lg = { 1, 0 };

		setsockopt(server, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	syscall(SYS_close, server);
}

/* The client keeps talking to whatever is left of the connection; it only
 * reads from a peer that will answer or close. */
static void client_goes_on(struct worker *w, int client, int peer_silent)
{
	for (unsigned int i = pick(w, 4); i > 0; i--) {
		long n = peer_silent || pick(w, 2) ? send_some(w, client, 1 + pick(w, 4096))
						   : recv_some(w, client);

		if (n <= 0 && pick(w, 2))
			break;
	}
}

/* A server that keeps connections open without reading, for a while. */
static void park(struct worker *w, int server)
{
	if (w->nparked == PARKED) {
		let_go(w, w->parked[0]);
		memmove(w->parked, w->parked + 1, sizeof(int) * (PARKED - 1));
		w->nparked--;
	}
	w->parked[w->nparked++] = server;
}

static void reap(pid_t pid, int exec_child)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fatal("waitpid");
	if (exec_child && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (!exec_child && WIFEXITED(status) && WEXITSTATUS(status) >= 64) {
		say("child pid=%d resets=%d\n", (int)pid, WEXITSTATUS(status) - 64);
		return;
	}
	errno = 0;
	say("child pid=%d status=%d\n", (int)pid, status);
	fatal("a child died");
}

/* Answers from a forked child that leaves without closing its copy; it is
 * reaped once the client is done, as a fork-per-connection server's parent
 * does not wait for its child either (the child's exit waits for the
 * client's EOF). */
static pid_t fork_answers(struct worker *w, int server)
{
	pid_t pid = fork();

	if (pid < 0)
		fatal("fork");
	if (pid == 0) {
		handler_fd = -1;
		atomic_store(&resets, 0);
		counted(write(server, "413 too large\n", 14));
		int status = 64 + (int)atomic_load(&resets);
		if (pick(w, 2))
			exit(status);
		_exit(status);
	}
	close(server); /* the parent's copy, while the child answers */
	return pid;
}

/* A child that execs /bin/true, started by fork, vfork or posix_spawn:
 * it holds copies of every socket of the process for a moment. */
static pid_t start_true(unsigned int how)
{
	char *argv[] = { "true", NULL };
	pid_t pid;

	if (how == 2)
		return posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0 ? pid : -1;
	/* The shim under vfork() is what is tested. */
	pid = how == 0 ? fork() : vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork,clang-analyzer-unix.Vfork) */
	if (pid == 0) {
		execv("/bin/true", argv);
		_exit(127);
	}
	return pid;
}

static void fork_execs(struct worker *w)
{
	pid_t pid = start_true(pick(w, 3));

	if (pid < 0)
		fatal("fork");
	reap(pid, 1);
}

static void one_connection(struct worker *w)
{
	int client, server, peer_silent = 0;
	pid_t child = 0;
	size_t request = 1 + pick(w, 16384);

	pair(w, &client, &server);
	if (pick(w, 2))
		handler_fd = client;
	send_some(w, client, request);
	switch (pick(w, 7)) {
	case 0: /* the peer resets */
		wait_readable(server);
		peer_resets(w, server);
		wait_readable(client);
		break;
	case 1: /* it never reads, and stays a while */
		park(w, server);
		peer_silent = 1;
		break;
	case 2: /* dup2() onto the client: an implicit close, both ends now one */
		handler_fd = -1;
		dup2(server, client);
		close(server);
		server = client;
		client = -1;
		park(w, server);
		break;
	case 3:
		child = fork_answers(w, server);
		break;
	case 4:
		fork_execs(w);
		__attribute__((fallthrough)); /* the exec'd child had copies; now answer */
	default: /* answers early, closes with the request half read */
		wait_readable(server);
		counted(recv(server, (char[2048]){ 0 }, pick(w, 2048), MSG_DONTWAIT));
		counted(write(server, "413 too large\n", 14));
		let_go(w, server);
	}
	if (client >= 0) {
		client_goes_on(w, client, peer_silent);
		handler_fd = -1;
		let_go(w, client);
	}
	if (child)
		reap(child, 0);
	atomic_fetch_add(&total_ops, 1);
}

static int time_is_up(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > stop_at.tv_sec ||
	       (now.tv_sec == stop_at.tv_sec && now.tv_nsec >= stop_at.tv_nsec);
}

static timer_t start_thread_timer(struct worker *w)
{
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR1 };
	struct itimerspec every = { { 0, 2000000 + 500000 * w->index }, { 0, 1000000 } };
	timer_t timer;

	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0 || timer_settime(timer, 0, &every, NULL) < 0)
		fatal("timer");
	return timer;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	timer_t timer = start_thread_timer(w);

	listen_on(w, 0);
	listen_on(w, 1);
	while (!time_is_up())
		one_connection(w);
	timer_delete(timer);
	handler_fd = -1;
	while (w->nparked > 0)
		let_go(w, w->parked[--w->nparked]);
	close(w->listener[0]);
	close(w->listener[1]);
	return NULL;
}

struct fd_count {
	int prog, own_sockets, own_epoll, own_eventfd, own_files;
};

static struct fd_count count_fds(void)
{
	struct fd_count c = { 0 };
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		fatal("opendir /proc/self/fd");
	while ((de = readdir(d))) {
		char path[300], link[256];
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (fd < OWN_FLOOR) {
			c.prog++;
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		if (!strncmp(link, "socket:", 7))
			c.own_sockets++;
		else if (strstr(link, "eventpoll"))
			c.own_epoll++;
		else if (strstr(link, "eventfd"))
			c.own_eventfd++;
		else if (!strstr(link, "/memfd:resetguard-holders") &&
			 !strstr(link, "/memfd:resetguard-state"))
			c.own_files++; /* the holder map stays, made with the first socket,
					* and the state page, made at load */
	}
	closedir(d);
	return c;
}

/* resetguard's lingering sockets go by their deadline, and its drainer's
 * epoll, eventfd and /proc/self/fd when the thread retires; give them
 * wait_ms to.  Its files may be counted twice for a moment while one
 * moves to another number (ownfd.c): a count above the start's is looked
 * at again, and stays a failure only if it lasts. */
static struct fd_count settled_fds(int wait_ms, int own_files)
{
	for (int waited = 0;; waited += 20) {
		struct fd_count c = count_fds();

		if ((!c.own_sockets && !c.own_epoll && !c.own_eventfd && c.own_files <= own_files) ||
		    waited >= wait_ms)
			return c;
		usleep(20000);
	}
}

int main(int argc, char **argv)
{
	int opt, threads = 8, wait_ms = 3000;
	struct worker workers[64];

	seed = (unsigned int)time(NULL);
	while ((opt = getopt(argc, argv, "d:t:s:w:P")) != -1) {
		switch (opt) {
		case 'd': seconds = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 's': seed = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'w': wait_ms = atoi(optarg); break;
		case 'P': signal(SIGPIPE, SIG_IGN); break;
		default: return 2;
		}
	}
	if (threads < 1 || threads > 64)
		threads = 8;

	struct fd_count start = count_fds();
	say("fds start prog=%d own=%d\n", start.prog,
	    start.own_sockets + start.own_epoll + start.own_eventfd + start.own_files);

	struct sigaction sa = { .sa_handler = on_tick, .sa_flags = SA_RESTART };
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval alarm_every = { { 0, 7000 }, { 0, 7000 } };
	setitimer(ITIMER_REAL, &alarm_every, NULL);

	clock_gettime(CLOCK_MONOTONIC, &stop_at);
	stop_at.tv_sec += seconds;
	for (int i = 0; i < threads; i++) {
		workers[i] = (struct worker){ .index = i, .rng = seed * 2654435761u + (unsigned int)i };
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
			fatal("pthread_create");
	}
	for (int i = 0; i < threads; i++)
		pthread_join(workers[i].thread, NULL);
	setitimer(ITIMER_REAL, &(struct itimerval){ 0 }, NULL);

	struct fd_count end = settled_fds(wait_ms, start.own_files);
	say("resets pid=%d count=%ld\n", (int)getpid(), atomic_load(&resets));
	say("fds end prog=%d own_sockets=%d own_epoll=%d own_eventfd=%d own_files=%d\n", end.prog,
	    end.own_sockets, end.own_epoll, end.own_eventfd, end.own_files);
	say("ops=%ld\n", atomic_load(&total_ops));
	return 0;
}
