/* Steps on processes, threads and limits: fork, threads blocked in a call
 * while another closes, a fork storm while threads log, a lowered
 * descriptor limit, and the way out (exit or exec). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prog.h"

bool leaving;
int leave_status;

static void status_line(struct line *l, int status, bool hung)
{
	if (hung)
		line_add(l, " status=hung");
	else if (WIFSIGNALED(status))
		line_add(l, " status=signal:%s", sigabbrev_np(WTERMSIG(status)));
	else
		line_add(l, " status=exit:%d", WEXITSTATUS(status));
}

/* Waits for a child, at most timeout_ms; a child still there is killed
 * and counts as hung. */
static bool reap(pid_t pid, int timeout_ms, int *status)
{
	if (pidfd_wait(pid, timeout_ms, status) == 0)
		return false;
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return true;
}

/* The child waits for the parent's closes; the parent then waits for the
 * child, which runs the steps marked as its own and leaves at
 * OP_CHILD_END.  How long the child's exit took is printed (compared only
 * against a generous bound). */
void act_fork(int i)
{
	const struct step *st = &scen->s[i];
	int status = 0;
	bool hung;
	struct line l;
	pid_t pid;

	atomic_store(&shm->go, 0);
	atomic_store(&shm->child_exit_ns, 0);
	pid = fork();
	if (pid == 0) {
		cur_ctx = 'c';
		while (!atomic_load(&shm->go))
			syscall(SYS_futex, &shm->go, FUTEX_WAIT, 0, NULL, NULL, 0);
		return;
	}
	close_list(st, i);
	atomic_store(&shm->go, 1);
	syscall(SYS_futex, &shm->go, FUTEX_WAKE, 1, NULL, NULL, 0);
	hung = pid < 0 || reap(pid, 10000, &status);
	line_start(&l, cur_ctx, i, "fork");
	status_line(&l, status, hung);
	if (!hung && atomic_load(&shm->child_exit_ns))
		line_add(&l, " ms=%lld",
			 (long long)(now_ns() - atomic_load(&shm->child_exit_ns)) / 1000000);
	line_emit(&l);
}

void act_child_end(const struct step *st, int i)
{
	struct line l;

	line_start(&l, cur_ctx, i, st->a == LH__EXIT ? "_exit" : "exit");
	line_emit(&l);
	atomic_store(&shm->child_exit_ns, now_ns());
	if (st->a == LH__EXIT)
		_exit(0);
	exit(0);
}

struct worker {
	pthread_t thread;
	const struct step *st;
	uint8_t *buf;
	_Atomic int started, done;
	_Atomic pid_t tid;
	ssize_t ret;
	int err;
};

/* The step's watchdog is for the main thread's calls. */
static void block_alarm(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *send_worker(void *arg)
{
	struct worker *w = arg;

	block_alarm();
	atomic_store(&w->tid, tid_self());
	atomic_store(&w->started, 1);
	w->ret = send(w->st->fd, w->buf, (size_t)w->st->n, 0);
	w->err = errno;
	atomic_store(&w->done, 1);
	return NULL;
}

static void *recv_worker(void *arg)
{
	struct worker *w = arg;

	block_alarm();
	atomic_store(&w->tid, tid_self());
	atomic_store(&w->started, 1);
	w->ret = recv(w->st->fd, w->buf, (size_t)w->st->n, MSG_WAITALL);
	w->err = errno;
	atomic_store(&w->done, 1);
	return NULL;
}

static void worker_start(struct worker *w, void *(*fn)(void *), long nr)
{
	pthread_create(&w->thread, NULL, fn, w);
	while (!atomic_load(&w->started))
		sched_yield();
	wait_blocked(atomic_load(&w->tid), nr, &w->done);
}

static void worker_line(struct worker *w, int i, const char *verb, bool ok)
{
	struct line l;

	pthread_join(w->thread, NULL);
	line_start(&l, 't', i, verb);
	line_add(&l, " fd=%d n=%d", w->st->fd, w->st->n);
	line_ret(&l, (long)w->ret, w->err);
	line_add(&l, " ok=%d", ok);
	line_emit(&l);
}

static void peer_do(const struct step *st, int i, const char *verb, uint32_t op, int64_t a)
{
	struct peer_reply r = peer_call(op, st->conn, a, 0, NULL);
	struct line l;

	line_start(&l, cur_ctx, i, verb);
	line_add(&l, " c=%d n=%lld", st->conn, (long long)a);
	peer_line(&l, &r);
	line_emit(&l);
}

/* Another thread is blocked in a large send when the descriptor is
 * closed: without the library it completes and the peer gets every byte. */
void act_thread_send(const struct step *st, int i)
{
	struct worker w = { .st = st, .buf = malloc((size_t)st->n) };
	uint64_t off = atomic_load(&shm->tx[st->conn]);

	pattern_fill(w.buf, (size_t)st->n, st->conn, 0, off);
	worker_start(&w, send_worker, SYS_sendto);
	close_list(st, i);
	peer_do(st, i, "peer-recv", P_RECV, (int64_t)st->c + st->n);
	worker_line(&w, i, "send", true);
	if (w.ret > 0)
		atomic_fetch_add(&shm->tx[st->conn], (uint64_t)w.ret);
	free(w.buf);
}

/* Another thread is blocked in recv() when the descriptor is closed: the
 * data the peer sends afterwards is still all its own. */
void act_thread_recv(const struct step *st, int i)
{
	struct worker w = { .st = st, .buf = malloc((size_t)st->n) };
	uint64_t off = atomic_load(&shm->rx[st->conn]);
	bool ok;

	worker_start(&w, recv_worker, SYS_recvfrom);
	close_list(st, i);
	peer_do(st, i, "peer-send", P_SEND, st->n);
	peer_do(st, i, "peer-shut", P_CLOSE, PC_SHUT_WR);
	pthread_join(w.thread, NULL);
	ok = w.ret <= 0 || pattern_check(w.buf, (size_t)w.ret, st->conn, 1, off);
	if (w.ret > 0)
		atomic_fetch_add(&shm->rx[st->conn], (uint64_t)w.ret);
	worker_line(&w, i, "recv", ok);
	free(w.buf);
}

struct storm {
	int fd;
	_Atomic int stop, ready, resets, others;
	_Atomic long sent;
};

/* Writes to a reset socket as fast as it can: each failure is a line in
 * resetguard's log. */
static void *storm_writer(void *arg)
{
	struct storm *s = arg;
	bool counted = false;

	block_alarm();
	while (!atomic_load(&s->stop)) {
		ssize_t n = send(s->fd, "x", 1, MSG_NOSIGNAL);

		if (n > 0)
			atomic_fetch_add(&s->sent, n);
		else if (errno == ECONNRESET)
			atomic_fetch_add(&s->resets, 1);
		else if (errno != EPIPE)
			atomic_fetch_add(&s->others, 1);
		if (!counted)
			atomic_fetch_add(&s->ready, 1);
		counted = true;
	}
	return NULL;
}

/* The child's send fails, and resetguard logs it: a lock copied while
 * another thread held it would hang the child here. */
static void storm_child(const struct step *st)
{
	ssize_t n = send(st->fd, "x", 1, MSG_NOSIGNAL);

	atomic_store(&shm->storm_err, errno);
	atomic_store(&shm->storm_ret, (long)n);
	_exit(0);
}

/* One line per child, by the parent once it is gone, or killed. */
static int storm_reap(int i, int k, pid_t pid)
{
	int status = 0;
	bool hung = pid < 0 || reap(pid, 2000, &status);
	struct line l;

	line_start(&l, 'c', i, "storm-child");
	line_add(&l, " k=%d", k);
	if (!hung)
		line_ret(&l, atomic_load(&shm->storm_ret), atomic_load(&shm->storm_err));
	status_line(&l, status, hung);
	line_emit(&l);
	return hung;
}

void act_storm(const struct step *st, int i)
{
	struct storm s = { .fd = st->fd };
	pthread_t threads[16];
	int hung = 0, n = (int)st->a;
	struct line l;

	for (int t = 0; t < n; t++)
		pthread_create(&threads[t], NULL, storm_writer, &s);
	while (atomic_load(&s.ready) < n)
		sched_yield();
	for (int k = 0; k < (int)st->b; k++) {
		pid_t pid;

		atomic_store(&shm->storm_ret, -2);
		pid = fork();
		if (pid == 0)
			storm_child(st);
		hung += storm_reap(i, k, pid);
	}
	atomic_store(&s.stop, 1);
	for (int t = 0; t < n; t++)
		pthread_join(threads[t], NULL);
	line_start(&l, cur_ctx, i, "storm");
	line_add(&l, " fd=%d threads=%d forks=%u hung=%d resets=%d others=%d sent=%ld", st->fd, n,
		 st->b, hung, atomic_load(&s.resets), atomic_load(&s.others), atomic_load(&s.sent));
	line_emit(&l);
}

void act_rlimit(const struct step *st, int i)
{
	struct rlimit rl;
	struct line l;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = (rlim_t)(st->n >= 1024 ? orig_limit : st->n);
	line_start(&l, cur_ctx, i, "setrlimit");
	line_add(&l, " nofile=%llu", (unsigned long long)rl.rlim_cur);
	LINE_CALL(&l, setrlimit(RLIMIT_NOFILE, &rl));
	line_emit(&l);
}

/* One descriptor-creating call of the given kind; fds gets what it made. */
static int fill_one(int kind, int fds[2])
{
	sigset_t mask;

	fds[1] = -1;
	switch (kind) {
	case FK_EPOLL: return fds[0] = epoll_create1(0);
	case FK_EVENTFD: return fds[0] = eventfd(0, 0);
	case FK_TIMERFD: return fds[0] = timerfd_create(CLOCK_MONOTONIC, 0);
	case FK_MEMFD: return fds[0] = memfd_create("oracle", 0);
	case FK_SOCKET: return fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	case FK_OPEN: return fds[0] = open("/dev/null", O_RDONLY);
	case FK_PIPE: return pipe(fds);
	case FK_DUP: return fds[0] = dup(0);
	case FK_SIGNALFD:
		sigemptyset(&mask);
		return fds[0] = signalfd(-1, &mask, 0);
	case FK_INOTIFY: return fds[0] = inotify_init1(0);
	default: return socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
	}
}

/* Creates descriptors of one kind until the call fails, then closes them:
 * how many, and why it stopped. */
void act_fill(const struct step *st, int i)
{
	static const char *const names[] = {
		"epoll_create1", "eventfd", "timerfd_create", "memfd_create", "socket", "open",
		"pipe", "dup", "signalfd", "inotify_init1", "socketpair",
	};
	static int made[2048];
	int count = 0, fds[2], first = -1, err = 0;
	struct line l;

	while (count < 2000 && fill_one((int)st->a, fds) >= 0) {
		if (first < 0)
			first = fds[0];
		made[count++] = fds[0];
		if (fds[1] >= 0)
			made[count++] = fds[1];
	}
	err = errno;
	for (int k = 0; k < count; k++)
		close(made[k]);
	line_start(&l, cur_ctx, i, "fill");
	line_add(&l, " call=%s made=%d first=%d errno=%s", names[st->a], count, first,
		 errno_name(err));
	line_emit(&l);
}

/* The daemon's way: close whatever /proc/self/fd lists. */
static void close_listed(struct line *l)
{
	static int fds[4096];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0, failed = 0;

	while (d && (de = readdir(d)) && n < 4096) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] != '.' && fd >= FD_FIRST && fd != dirfd(d))
			fds[n++] = fd;
	}
	if (d)
		closedir(d);
	for (int k = 0; k < n; k++)
		failed += close(fds[k]) < 0;
	line_add(l, " failed=%d", failed);
}

static void close_all(const struct step *st, int i)
{
	static const char *const names[] = { "", "close_range", "close-listed", "closefrom" };
	struct line l;

	if (st->b == CA_NONE)
		return;
	line_start(&l, cur_ctx, i, names[st->b]);
	if (st->b == CA_CLOSE_RANGE)
		LINE_CALL(&l, close_range(FD_FIRST, ~0U, 0));
	else if (st->b == CA_PROC_LOOP)
		close_listed(&l);
	else
		closefrom(FD_FIRST);
	line_emit(&l);
}

/* The environment without the library, for an exec that drops it. */
static char **env_without_preload(void)
{
	extern char **environ;
	static char *env[512];
	int n = 0;

	for (char **e = environ; *e && n < 511; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) != 0)
			env[n++] = *e;
	env[n] = NULL;
	return env;
}

void act_exec(const struct step *st, int i)
{
	extern char **environ;
	char step[16], t0[32], list[MAX_LIST][16];
	char *argv[8 + MAX_LIST] = { "oracle", "report", step, t0 };
	int argc = 4, e;
	struct line l;

	close_all(st, i);
	snprintf(step, sizeof(step), "%d", i);
	for (int k = 0; k < st->nlist; k++) {
		snprintf(list[k], sizeof(list[k]), "%d", st->list[k]);
		argv[argc++] = list[k];
	}
	argv[argc] = NULL;
	snprintf(t0, sizeof(t0), "%lld", (long long)now_ns());
	alarm(0); /* an alarm would outlive the exec */
	execve(oracle_self, argv, st->a ? environ : env_without_preload());
	e = errno;
	line_start(&l, cur_ctx, i, "execve");
	line_ret(&l, -1, e);
	line_emit(&l);
	_exit(127);
}

void act_exit(const struct step *st, int i)
{
	static const char *const names[] = { "exit", "_exit", "return" };
	struct line l;

	close_all(st, i);
	line_start(&l, cur_ctx, i, names[st->a]);
	line_add(&l, " status=%d", st->n);
	line_emit(&l);
	if (st->a == LH_RETURN) { /* prog_main() returns it */
		leaving = true;
		leave_status = st->n;
		return;
	}
	/* Not compared: the supervisor measures from here to the end. */
	dprintf(FD_OBS, "T exit %lld\n", (long long)now_ns());
	if (st->a == LH_EXIT)
		exit(st->n);
	_exit(st->n);
}
