/* The program side: regenerates the scenario from the seed and runs it,
 * one observation line per step.  Every wait is for a condition (a reply,
 * readiness, a thread in a system call), so that the run without the
 * library is the same every time. */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prog.h"

struct shared *shm;
const struct scenario *scen;
char cur_ctx = 'm';
bool async_used;
int orig_limit;
const char *prog_dir;

static void full_write(int fd, const void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			err(3, "write to the peer");
		off += (size_t)n;
	}
}

static void full_read(int fd, void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = read(fd, (char *)buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			errx(3, "the peer is gone");
		off += (size_t)n;
	}
}

/* One command, one reply; errno is the caller's afterwards. */
struct peer_reply peer_call(uint32_t op, int conn, int64_t a, int64_t b, const char *path)
{
	struct peer_cmd cmd = { .op = op, .conn = (uint32_t)conn, .a = a, .b = b };
	struct peer_reply r;
	int saved = errno;

	if (path)
		snprintf(cmd.path, sizeof(cmd.path), "%s", path);
	full_write(FD_CMD, &cmd, sizeof(cmd));
	full_read(FD_REPLY, &r, sizeof(r));
	errno = saved;
	return r;
}

void peer_line(struct line *l, const struct peer_reply *r)
{
	static const char *const ends[] = { "open", "eof", "error", "self" };

	bool reset = r->end == END_ERROR && (r->end_err == ECONNRESET || r->end_err == EPIPE);

	line_ret(l, (long)r->ret, r->err);
	/* ECONNRESET or EPIPE: which one depends on which call met the
	 * reset first, the peer's send or its read. */
	line_add(l, " ok=%d end=%s", r->ok, reset ? "reset" : ends[r->end & 3]);
	if (r->end == END_ERROR && !reset)
		line_add(l, ":%s", errno_name(r->end_err));
}

static int poll_once(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return n > 0 ? p.revents : 0;
}

static void pause_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

/* Until fd reports one of events: a FIN, a reset, data that the peer's
 * reply says was sent. */
void wait_events(int fd, short events)
{
	int saved = errno;

	poll_once(fd, events, 5000);
	errno = saved;
}

/* Until `bytes` are readable: all of what the peer said it sent. */
void wait_unread(int fd, uint32_t bytes)
{
	int64_t give_up = now_ns() + 5000000000;
	int saved = errno, n = 0;

	while (ioctl(fd, FIONREAD, &n) == 0 && (uint32_t)n < bytes && now_ns() < give_up) {
		if (n == 0)
			poll_once(fd, POLLIN, 100);
		else
			pause_us(100);
	}
	errno = saved;
}

/* Until the thread tid sits in the system call nr (or is done). */
void wait_blocked(pid_t tid, long nr, _Atomic int *done)
{
	int64_t give_up = now_ns() + 5000000000;
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	while (!atomic_load(done) && now_ns() < give_up) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (strtol(buf, NULL, 10) == nr && buf[0] != 'r')
				return;
		}
		pause_us(200);
	}
}

pid_t tid_self(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Is every thread but this one asleep?  Without the library there is no
 * other thread at step boundaries; with it, the drainer.  Returns -1 when
 * this thread is alone. */
static int others_asleep(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int others = 0, awake = 0;
	pid_t me = tid_self();

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char path[300], buf[256], *paren;
		int fd;
		ssize_t n;

		if (de->d_name[0] == '.' || atoi(de->d_name) == me)
			continue;
		others++;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		paren = strrchr(buf, ')');
		awake += paren && paren[1] && paren[2] != 'S';
	}
	closedir(d);
	return others ? awake : -1;
}

/* With the library, what it does for a closed socket happens on its own
 * thread, a little later.  Before each step, wait until that thread has
 * slept for 3 ms running (it looks at new sockets at least every
 * millisecond), so that the step sees what it did.  Without the library
 * there is no other thread between steps, and this costs a directory read. */
void quiesce(void)
{
	int64_t start = now_ns(), quiet_since = 0;
	int saved = errno, awake;

	while ((awake = others_asleep()) >= 0 && now_ns() - start < 200000000) {
		if (awake)
			quiet_since = 0;
		else if (!quiet_since)
			quiet_since = now_ns();
		else if (now_ns() - quiet_since > 3000000)
			break;
		pause_us(250);
	}
	errno = saved;
}

int pidfd_wait(pid_t pid, int timeout_ms, int *status)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), ready;

	ready = pidfd < 0 || poll_once(pidfd, POLLIN, timeout_ms);
	if (pidfd >= 0)
		close(pidfd);
	if (!ready)
		return -1;
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static void on_alarm(int sig)
{
	(void)sig; /* only to interrupt a call that would wait for ever */
}

/* A step that blocks for good (a receive whose data someone else took)
 * is interrupted after 10 s and shows EINTR, and the run goes on. */
static void watchdog_setup(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	sigaction(SIGALRM, &sa, NULL);
}

typedef void (*act_fn)(const struct step *, int);

static const act_fn acts[OP_COUNT] = {
	[OP_CONN] = act_conn,
	[OP_SEND] = act_send,
	[OP_RECV] = act_recv,
	[OP_SHUTDOWN] = act_shutdown,
	[OP_NONBLOCK] = act_nonblock,
	[OP_DUP] = act_dup,
	[OP_CLOSE] = act_close,
	[OP_CLOSE_RANGE] = act_close_range,
	[OP_OBJ] = act_obj,
	[OP_PEER_SEND] = act_peer,
	[OP_PEER_RECV] = act_peer,
	[OP_PEER_CLOSE] = act_peer,
	[OP_PEER_PUMP] = act_peer,
	[OP_PEER_AUTO] = act_peer,
	[OP_PEER_STOP] = act_peer,
	[OP_EPOLL_CREATE] = act_epoll_create,
	[OP_EPOLL_CTL] = act_epoll_ctl,
	[OP_EPOLL_WAIT] = act_epoll_wait,
	[OP_ASYNC] = act_async,
	[OP_CHILD_END] = act_child_end,
	[OP_THREAD_SEND] = act_thread_send,
	[OP_THREAD_RECV] = act_thread_recv,
	[OP_STORM] = act_storm,
	[OP_RLIMIT] = act_rlimit,
	[OP_FILL] = act_fill,
	[OP_URING] = act_uring,
	[OP_EXEC] = act_exec,
	[OP_EXIT] = act_exit,
};

void run_steps(int from, int to)
{
	for (int i = from; i < to; i++) {
		const struct step *st = &scen->s[i];

		if (st->child && cur_ctx == 'm')
			continue; /* the child's, run and waited for at OP_FORK */
		quiesce();
		alarm(10);
		if (st->op == OP_FORK)
			act_fork(i);
		else if (acts[st->op])
			acts[st->op](st, i);
		alarm(0);
		if (cur_ctx == 'm' && async_used)
			harvest_signals(i);
		if (leaving)
			return;
	}
}

int prog_main(int argc, char **argv)
{
	static struct scenario sc;
	struct rlimit rl;
	struct peer_hello hello;
	extern uint32_t peer_port;

	if (argc < 4)
		errx(2, "usage: oracle prog SEED DIR");
	prog_dir = argv[3];
	gen_scenario(&sc, strtoull(argv[2], NULL, 10));
	scen = &sc;
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		err(2, "mmap");
	getrlimit(RLIMIT_NOFILE, &rl);
	orig_limit = (int)rl.rlim_cur;
	signals_setup(sc.sigpipe);
	watchdog_setup();
	full_read(FD_REPLY, &hello, sizeof(hello));
	peer_port = hello.tcp_port;
	run_steps(0, sc.nsteps);
	if (leaving)
		dprintf(FD_OBS, "T exit %lld\n", (long long)now_ns());
	return leave_status;
}
