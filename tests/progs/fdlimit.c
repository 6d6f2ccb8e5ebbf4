/* fdlimit: every libc call that makes a descriptor, at a low descriptor
 * limit, just after the program closed connections whose peers are still
 * open.  Lingering sockets and resetguard's own descriptors count against
 * RLIMIT_NOFILE like any other; the program cannot see them, so they must
 * never cost it a descriptor: each call must succeed exactly as often
 * before EMFILE as without resetguard.
 *
 * usage: fdlimit -l LIMIT|+EXTRA [-L LINGER] [-d DIR] [CALL...]
 * For each CALL (default: all of them), a child process starts a peer
 * process, sets RLIMIT_NOFILE to LIMIT (or to EXTRA above the highest
 * descriptor the program holds), accepts LINGER connections from the peer,
 * each with 4 KiB unread, and closes them while the peer keeps its end
 * open.  Then it makes the call until it fails (at most 500 times).
 * DIR holds the files of creat and mkstemp.
 * Prints one line per call: "CALL ok=N errno=E fds=A,B,..." with the
 * numbers the calls returned (the first of a pair), which must be the
 * same as without resetguard too. */
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pty.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "common.h"

#define MAX_TRIES 500

static const char *dir = "/tmp";
static char path[4096], ipc_name[64];
static int accept_listener, pair[2], self_pidfd, next_target;

static int c_open(void) { return open("/dev/null", O_RDONLY); }
static int c_open64(void) { return open64("/dev/null", O_RDONLY); }
static int c_openat(void) { return openat(AT_FDCWD, "/dev/null", O_RDONLY); }
static int c_creat(void) { return creat(path, 0600); }
static int c_fopen(void)
{
	FILE *f = fopen("/dev/null", "r");

	return f ? fileno(f) : -1;
}
static int c_opendir(void)
{
	DIR *d = opendir("/");

	return d ? dirfd(d) : -1;
}
static int c_tmpfile(void)
{
	FILE *f = tmpfile();

	return f ? fileno(f) : -1;
}
static int c_mkstemp(void)
{
	char t[4096];
	int fd;

	snprintf(t, sizeof(t), "%s/fdlimitXXXXXX", dir);
	fd = mkstemp(t);
	if (fd >= 0)
		unlink(t);
	return fd;
}
static int c_mkostemp(void)
{
	char t[4096];
	int fd;

	snprintf(t, sizeof(t), "%s/fdlimitXXXXXX", dir);
	fd = mkostemp(t, O_CLOEXEC);
	if (fd >= 0)
		unlink(t);
	return fd;
}
static int c_shm_open(void) { return shm_open(ipc_name, O_RDWR | O_CREAT, 0600); }
static int c_mq_open(void) { return mq_open(ipc_name, O_RDWR | O_CREAT, 0600, NULL); }
static int c_pipe(void)
{
	int p[2];

	return pipe(p) < 0 ? -1 : p[0];
}
static int c_pipe2(void)
{
	int p[2];

	return pipe2(p, O_CLOEXEC) < 0 ? -1 : p[0];
}
static int c_socket(void) { return socket(AF_INET, SOCK_STREAM, 0); }
static int c_socket_unix(void) { return socket(AF_UNIX, SOCK_DGRAM, 0); }
static int c_socketpair(void)
{
	int sv[2];

	return socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ? -1 : sv[0];
}
static int c_accept(void) { return accept(accept_listener, NULL, NULL); }
static int c_accept4(void) { return accept4(accept_listener, NULL, NULL, SOCK_CLOEXEC); }
static int c_dup(void) { return dup(0); }
static int c_fcntl_dupfd(void) { return fcntl(0, F_DUPFD, 0); }
static int c_fcntl_dupfd_cloexec(void) { return fcntl(0, F_DUPFD_CLOEXEC, 0); }
/* dup2() and dup3() onto every number upwards from the first free one:
 * they fail only at the limit (EBADF). */
static int c_dup2(void) { return dup2(0, next_target++); }
static int c_dup3(void) { return dup3(0, next_target++, O_CLOEXEC); }
static int c_epoll_create(void) { return epoll_create(1); }
static int c_epoll_create1(void) { return epoll_create1(EPOLL_CLOEXEC); }
static int c_eventfd(void) { return eventfd(0, 0); }
static int c_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, 0); }
static int c_signalfd(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	return signalfd(-1, &mask, 0);
}
static int c_inotify_init(void) { return inotify_init(); }
static int c_inotify_init1(void) { return inotify_init1(IN_CLOEXEC); }
static int c_memfd_create(void) { return memfd_create("fdlimit", 0); }
static int c_pidfd_open(void) { return pidfd_open(getpid(), 0); }
static int c_pidfd_getfd(void) { return pidfd_getfd(self_pidfd, 0, 0); }
static int c_posix_openpt(void) { return posix_openpt(O_RDWR | O_NOCTTY); }
static int c_getpt(void) { return getpt(); }
static int c_openpty(void)
{
	int master, slave;

	return openpty(&master, &slave, NULL, NULL, NULL) < 0 ? -1 : master;
}
/* A descriptor received with SCM_RIGHTS: past the limit the kernel drops
 * it and sets MSG_CTRUNC, which counts as EMFILE here. */
static int c_recvmsg(void)
{
	char data = 'x', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &data, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	int fd = 0;

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(pair[0], &m, 0) != 1)
		return -1;
	m.msg_controllen = sizeof(cbuf);
	if (recvmsg(pair[1], &m, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&m);
	if ((m.msg_flags & MSG_CTRUNC) || !cm || cm->cmsg_type != SCM_RIGHTS) {
		errno = EMFILE;
		return -1;
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static const struct call {
	const char *name;
	int (*make)(void);
} calls[] = {
	{ "open", c_open },
	{ "open64", c_open64 },
	{ "openat", c_openat },
	{ "creat", c_creat },
	{ "fopen", c_fopen },
	{ "opendir", c_opendir },
	{ "tmpfile", c_tmpfile },
	{ "mkstemp", c_mkstemp },
	{ "mkostemp", c_mkostemp },
	{ "shm_open", c_shm_open },
	{ "mq_open", c_mq_open },
	{ "pipe", c_pipe },
	{ "pipe2", c_pipe2 },
	{ "socket", c_socket },
	{ "socket_unix", c_socket_unix },
	{ "socketpair", c_socketpair },
	{ "accept", c_accept },
	{ "accept4", c_accept4 },
	{ "dup", c_dup },
	{ "fcntl_dupfd", c_fcntl_dupfd },
	{ "fcntl_dupfd_cloexec", c_fcntl_dupfd_cloexec },
	{ "dup2", c_dup2 },
	{ "dup3", c_dup3 },
	{ "epoll_create", c_epoll_create },
	{ "epoll_create1", c_epoll_create1 },
	{ "eventfd", c_eventfd },
	{ "timerfd_create", c_timerfd_create },
	{ "signalfd", c_signalfd },
	{ "inotify_init", c_inotify_init },
	{ "inotify_init1", c_inotify_init1 },
	{ "memfd_create", c_memfd_create },
	{ "pidfd_open", c_pidfd_open },
	{ "pidfd_getfd", c_pidfd_getfd },
	{ "posix_openpt", c_posix_openpt },
	{ "getpt", c_getpt },
	{ "openpty", c_openpty },
	{ "recvmsg_scm_rights", c_recvmsg },
};

/* ---- the peer: connects on command and keeps every connection open ---- */

struct order {
	char what; /* 'L': to the lingering listener, with 4 KiB; 'A': to the other */
	int count;
};

static void peer(int cmd, int ack, unsigned short linger_port, unsigned short accept_port)
{
	static char data[4096];
	static int fds[4096];
	struct order o;
	int n = 0;

	while (read(cmd, &o, sizeof(o)) == sizeof(o)) {
		for (int i = 0; i < o.count && n < 4096; i++) {
			fds[n] = connect_loopback(o.what == 'L' ? linger_port : accept_port);
			if (o.what == 'L' && send(fds[n], data, sizeof(data), 0) != sizeof(data))
				err(2, "peer send");
			n++;
		}
		if (write(ack, "k", 1) != 1)
			err(2, "peer ack");
	}
	for (int i = 0; i < n; i++)
		raw_close(fds[i]);
	_exit(0);
}

static void order(int cmd, int ack, char what, int count)
{
	struct order o = { what, count };
	char byte;

	if (write(cmd, &o, sizeof(o)) != sizeof(o) || read(ack, &byte, 1) != 1)
		errx(2, "the peer is gone");
}

/* ---- one call, in a process of its own ---- */

static int highest;

static int note(int fd)
{
	if (fd < 0)
		err(2, "setup");
	if (fd > highest)
		highest = fd;
	return fd;
}

static void set_limit(const char *spec)
{
	rlim_t limit = spec[0] == '+' ? (rlim_t)(highest + 1 + atoi(spec + 1)) : (rlim_t)atoi(spec);
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = limit;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		err(2, "setrlimit");
}

/* LINGER connections closed with data unread and their peer open. */
static void linger(int listener, int cmd, int ack, int count)
{
	int fds[1024];

	order(cmd, ack, 'L', count);
	for (int i = 0; i < count; i++)
		if ((fds[i] = accept(listener, NULL, NULL)) < 0)
			err(2, "accept");
	for (int i = 0; i < count; i++)
		close(fds[i]);
}

static void try_call(const struct call *c, const char *limit, int lingering)
{
	unsigned short linger_port, accept_port;
	int linger_listener, cmd[2], ack[2], ok = 0, saved = 0, fd;
	static char fds[MAX_TRIES * 8];
	size_t used = 0;
	pid_t pid;

	linger_listener = note(listen_loopback(&linger_port));
	accept_listener = note(listen_loopback(&accept_port));
	note(pipe(cmd));
	note(pipe(ack));
	note(cmd[1]);
	note(ack[1]);
	if ((pid = fork()) == 0) {
		close(cmd[1]);
		close(ack[0]);
		peer(cmd[0], ack[1], linger_port, accept_port);
	}
	close(cmd[0]);
	close(ack[1]);
	note(socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
	note(pair[1]);
	self_pidfd = note(pidfd_open(getpid(), 0));
	snprintf(path, sizeof(path), "%s/fdlimit.creat", dir);
	snprintf(ipc_name, sizeof(ipc_name), "/rg-fdlimit-%d", getpid());
	set_limit(limit);
	linger(linger_listener, cmd[1], ack[0], lingering);
	if (c->make == c_accept || c->make == c_accept4)
		order(cmd[1], ack[0], 'A', MAX_TRIES);
	next_target = highest + 1;
	while (ok < MAX_TRIES && (fd = c->make()) >= 0) {
		used += (size_t)snprintf(fds + used, sizeof(fds) - used, "%s%d", ok ? "," : "", fd);
		ok++;
	}
	saved = errno;
	printf("%s ok=%d errno=%s fds=%s\n", c->name, ok,
	       ok == MAX_TRIES ? "none" : strerrorname_np(saved), fds);
	fflush(stdout);
	shm_unlink(ipc_name);
	mq_unlink(ipc_name);
	close(cmd[1]); /* the peer closes everything and leaves */
	waitpid(pid, NULL, 0);
	exit(0);
}

int main(int argc, char **argv)
{
	const char *limit = "64";
	int opt, lingering = 20, status;

	while ((opt = getopt(argc, argv, "l:L:d:")) != -1) {
		switch (opt) {
		case 'l': limit = optarg; break;
		case 'L': lingering = atoi(optarg); break;
		case 'd': dir = optarg; break;
		default: return 2;
		}
	}
	if (lingering < 0 || lingering > 1024)
		errx(2, "-L: 0 to 1024");
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int wanted = optind == argc;

		for (int a = optind; a < argc; a++)
			wanted |= !strcmp(argv[a], calls[i].name);
		if (!wanted)
			continue;
		fflush(stdout);
		pid_t pid = fork();

		if (pid == 0)
			try_call(&calls[i], limit, lingering);
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			printf("%s failed\n", calls[i].name);
	}
	return 0;
}
