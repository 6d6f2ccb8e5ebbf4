/* The supervisor: `oracle check SEED [--lib PATH] [--selfcheck] [-v]`.
 * Runs the scenario without the library, then with it (or a second time
 * without, for --selfcheck), each time with a fresh peer process, and
 * compares the two sets of observations (compare.c).  It never runs under
 * the library itself.  Exit status: 0 same, 1 different, 2 trouble. */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oracle.h"
#include "proto.h"

#define PROG_DEADLINE_NS 60000000000LL
#define PEER_DEADLINE_NS 20000000000LL

struct side {
	char **lines;
	int n, cap;
	char **errs; /* the program's stderr, compared after its lines */
	int nerr, caperr;
	int64_t exit_mark; /* the program's last "T exit" */
	char dir[128];
	char partial[2][4096];
};

static void push(char ***v, int *n, int *cap, const char *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*v = realloc(*v, (size_t)*cap * sizeof(char *));
		if (!*v)
			err(2, "realloc");
	}
	(*v)[(*n)++] = strdup(s);
}

static void take_line(struct side *s, int which, const char *text)
{
	long long t;

	if (which == 1)
		push(&s->errs, &s->nerr, &s->caperr, text);
	else if (sscanf(text, "T exit %lld", &t) == 1)
		s->exit_mark = t;
	else
		push(&s->lines, &s->n, &s->cap, text);
}

/* Reads what is there; whole lines go to the side.  1: read some, 0: EOF,
 * -1: nothing now. */
static int drain(struct side *s, int fd, int which)
{
	char buf[8192], *part = s->partial[which];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0)
		return n < 0 && (errno == EAGAIN || errno == EINTR) ? -1 : 0;
	for (ssize_t k = 0; k < n; k++) {
		size_t len = strlen(part);

		if (buf[k] != '\n') {
			if (len < sizeof(s->partial[0]) - 1) {
				part[len] = buf[k];
				part[len + 1] = '\0';
			}
			continue;
		}
		take_line(s, which, part);
		part[0] = '\0';
	}
	return 1;
}

static void set_env(const char *lib, const char *dir)
{
	char log[160];

	unsetenv("LD_PRELOAD");
	if (!lib)
		return;
	snprintf(log, sizeof(log), "%s/resetguard.log", dir);
	setenv("LD_PRELOAD", lib, 1);
	setenv("RESETGUARD_LOG", log, 1);
}

/* The peer never sees the library or its settings. */
static void clear_env(void)
{
	extern char **environ;

	unsetenv("LD_PRELOAD");
	for (char **e = environ; *e;) {
		if (!strncmp(*e, "RESETGUARD_", 11)) {
			char name[128];

			snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
			unsetenv(name);
		} else {
			e++;
		}
	}
}

/* Both sides start with the same descriptor limit, so the library's top
 * quarter is the same everywhere. */
static void child_setup(const int map[][2], int count)
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = 1024;
	if (rl.rlim_max < 1024)
		rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (int k = 0; k < count; k++)
		if (dup2(map[k][0], 100 + k) < 0)
			_exit(120);
	for (int k = 0; k < count; k++)
		if (dup2(100 + k, map[k][1]) < 0)
			_exit(121);
	close_range(5, ~0U, 0);
}

static pid_t spawn_peer(struct side *s, int cmd_r, int out_w, int reply_w)
{
	const int map[][2] = { { cmd_r, 0 }, { out_w, 1 }, { reply_w, 3 } };
	pid_t pid = fork();

	if (pid == 0) {
		child_setup(map, 3);
		clear_env();
		execl(oracle_self, "oracle", "peer", s->dir, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static pid_t spawn_prog(struct side *s, uint64_t seed, const char *lib, const int fds[4])
{
	int null = open("/dev/null", O_RDONLY);
	const int map[][2] = { { null, 0 },	   { fds[0], FD_OBS }, { fds[1], 2 },
			       { fds[2], FD_CMD }, { fds[3], FD_REPLY } };
	pid_t pid = fork();

	if (pid == 0) {
		char seedtxt[32];

		setpgid(0, 0);
		child_setup(map, 5);
		set_env(lib, s->dir);
		snprintf(seedtxt, sizeof(seedtxt), "%llu", (unsigned long long)seed);
		execl(oracle_self, "oracle", "prog", seedtxt, s->dir, (char *)NULL);
		_exit(127);
	}
	close(null);
	return pid;
}

static const char *status_text(int status, char *buf, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(buf, size, "signal:%s", sigabbrev_np(WTERMSIG(status)));
	else
		snprintf(buf, size, "exit:%d", WEXITSTATUS(status));
	return buf;
}

/* Collects the program's output until it has ended (its pidfd), then
 * whatever is left in the pipes; its children may hold them open. */
static int watch_prog(struct side *s, pid_t pid, int obs, int errfd, int64_t *end_ns)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), status = 0;
	int64_t deadline = now_ns() + PROG_DEADLINE_NS;
	struct pollfd pf[3] = { { obs, POLLIN, 0 }, { errfd, POLLIN, 0 }, { pidfd, POLLIN, 0 } };

	for (bool ended = false; !ended;) {
		if (now_ns() > deadline) {
			kill(-pid, SIGKILL);
			push(&s->lines, &s->n, &s->cap, "end status=timeout");
			deadline = INT64_MAX;
		}
		if (poll(pf, 3, 1000) < 0 && errno != EINTR)
			err(2, "poll");
		if (pf[0].revents && drain(s, obs, 0) == 0)
			pf[0].fd = -1;
		if (pf[1].revents && drain(s, errfd, 1) == 0)
			pf[1].fd = -1;
		ended = pf[2].revents != 0;
	}
	*end_ns = now_ns();
	waitpid(pid, &status, 0);
	close(pidfd);
	fcntl(obs, F_SETFL, O_NONBLOCK);
	fcntl(errfd, F_SETFL, O_NONBLOCK);
	while (drain(s, obs, 0) == 1)
		;
	while (drain(s, errfd, 1) == 1)
		;
	return status;
}

static void collect_peer(struct side *s, pid_t peer, int cmd_w, int out)
{
	struct peer_cmd final = { .op = P_FINAL };
	int64_t deadline = now_ns() + PEER_DEADLINE_NS;
	struct pollfd pf = { out, POLLIN, 0 };

	if (write(cmd_w, &final, sizeof(final)) != (ssize_t)sizeof(final))
		warn("final");
	while (now_ns() < deadline) {
		if (poll(&pf, 1, 1000) > 0 && drain(s, out, 0) == 0)
			break;
	}
	kill(peer, SIGKILL);
	waitpid(peer, NULL, 0);
}

static void end_line(struct side *s, int status, int64_t end_ns)
{
	char buf[160], st[48];

	snprintf(buf, sizeof(buf), "end status=%s", status_text(status, st, sizeof(st)));
	if (s->exit_mark && WIFEXITED(status))
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " ms=%lld",
			 (long long)(end_ns - s->exit_mark) / 1000000);
	push(&s->lines, &s->n, &s->cap, buf);
}

static void make_pipes(int p[][2], int n)
{
	for (int k = 0; k < n; k++)
		if (pipe2(p[k], O_CLOEXEC) < 0)
			err(2, "pipe");
}

/* The side's directory holds only sockets and the log: no subdirectory. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	if (rmdir(dir) < 0)
		warn("rmdir %s", dir);
}

/* One run of the scenario; the side gets every observation. */
static void run_side(struct side *s, uint64_t seed, const char *lib, bool keep)
{
	int p[5][2]; /* cmd, reply, obs, err, peer out */
	const char *tmp = getenv("TMPDIR");
	int64_t end_ns;
	pid_t peer, prog;
	int status;

	/* Socket paths must fit in sun_path (108 bytes). */
	if (!tmp || strlen(tmp) > 80)
		tmp = "/tmp";
	snprintf(s->dir, sizeof(s->dir), "%s/oracle.XXXXXX", tmp);
	if (!mkdtemp(s->dir))
		err(2, "mkdtemp");
	make_pipes(p, 5);
	peer = spawn_peer(s, p[0][0], p[4][1], p[1][1]);
	prog = spawn_prog(s, seed, lib, (int[]){ p[2][1], p[3][1], p[0][1], p[1][0] });
	/* Kept: the command pipe's write end (for P_FINAL) and the read ends
	 * of the program's output and the peer's records. */
	close(p[0][0]);
	close(p[1][0]);
	close(p[1][1]);
	close(p[2][1]);
	close(p[3][1]);
	close(p[4][1]);
	status = watch_prog(s, prog, p[2][0], p[3][0], &end_ns);
	end_line(s, status, end_ns);
	collect_peer(s, peer, p[0][1], p[4][0]);
	for (int k = 0; k < s->nerr; k++) {
		char buf[4200];

		snprintf(buf, sizeof(buf), "stderr %s", s->errs[k]);
		push(&s->lines, &s->n, &s->cap, buf);
	}
	close(p[0][1]);
	close(p[2][0]);
	close(p[3][0]);
	close(p[4][0]);
	if (keep)
		fprintf(stderr, "kept %s\n", s->dir);
	else
		remove_dir(s->dir);
}

static void dump(const char *title, const struct side *s)
{
	printf("---- %s\n", title);
	for (int k = 0; k < s->n; k++)
		printf("%s\n", s->lines[k]);
}

int super_main(int argc, char **argv)
{
	const char *lib = NULL;
	bool self = false, verbose = false, keep = false, one = false;
	static struct side a, b;
	uint64_t seed;

	if (argc < 3)
		errx(2, "usage: oracle check SEED [--lib PATH] [--selfcheck] [--one] [-v] [--keep]");
	seed = strtoull(argv[2], NULL, 10);
	for (int k = 3; k < argc; k++) {
		if (!strcmp(argv[k], "--lib") && k + 1 < argc)
			lib = argv[++k];
		else if (!strcmp(argv[k], "--selfcheck"))
			self = true;
		else if (!strcmp(argv[k], "-v"))
			verbose = true;
		else if (!strcmp(argv[k], "--keep"))
			keep = true;
		else if (!strcmp(argv[k], "--one"))
			one = true;
		else
			errx(2, "unknown argument %s", argv[k]);
	}
	if (!self && !lib && !one)
		errx(2, "--lib PATH or --selfcheck");
	run_side(&a, seed, one ? lib : NULL, keep);
	if (one) {
		dump(lib ? "with" : "without", &a);
		return 0;
	}
	run_side(&b, seed, self ? NULL : lib, keep);
	if (verbose) {
		dump("without", &a);
		dump(self ? "without, again" : "with", &b);
	}
	return compare_runs(seed, a.lines, a.n, b.lines, b.n, verbose, self ? "again" : "with");
}
