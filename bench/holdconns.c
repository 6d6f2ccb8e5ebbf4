/* holdconns: the peers for the closing benchmarks.  Opens COUNT client
 * connections to 127.0.0.1:PORT one after the other, each sending BYTES,
 * and then, by mode:
 *   hold  never reads and never closes: the worst peer for a lingering
 *         close, which must not make the server's close() wait;
 *   read  reads the answer to EOF (or an error) and closes, as a well
 *         behaved client does;
 *   late  waits for each answer without reading it, and once the last one
 *         is in reads them all to EOF and closes, in turn: the server has
 *         closed every connection by then, and all of them wait for these
 *         peers at once.
 * -a waits, in hold mode, until each answer is readable (poll, no read)
 * before the next connection, for a server that answers one at a time
 * (tests/progs/lingerserver) and would otherwise overflow its backlog.
 * -p PID samples that server while it runs, and holds every connection
 * until it has exited: its VmRSS and the anonymous and shared part of it,
 * RssAnon + RssShmem, without the program's and libraries' code (each
 * before the first connection, and its peak), its CPU time (all threads),
 * the CPU time of its threads named "resetguard" (the drainer), and its
 * peak descriptor count.
 *
 * usage: holdconns -P PORT -n COUNT -b BYTES [-m hold|read|late] [-a] [-p PID]
 * Prints "connected=N resets=R" (R: connections whose send or read failed
 * with ECONNRESET or EPIPE) and, with -p, "rss_start_kb= rss_peak_kb=
 * mem_start_kb= mem_peak_kb= cpu_ms= drainer_cpu_ms= drainer_threads=
 * fds_peak= held_ms=". */
#include <arpa/inet.h>
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64

static int server_pid;
static long rss_start = -1, rss_peak, mem_start = -1, mem_peak, cpu_ticks, fds_peak,
	last_fd_count_ms;
static struct { int tid; long ticks; } drainers[MAX_THREADS];
static int n_drainers;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Reads to EOF and closes; 1 when the connection was reset instead. */
static int read_to_eof(int fd)
{
	char answer[4096];
	ssize_t n;

	while ((n = read(fd, answer, sizeof(answer))) > 0)
		;
	close(fd);
	return n < 0 && errno == ECONNRESET;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* utime + stime, in clock ticks, from a /proc stat line; state in *state. */
static long stat_ticks(const char *stat, char *state)
{
	const char *p = strrchr(stat, ')');
	unsigned long utime = 0, stime = 0;

	if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", state, &utime,
			 &stime) != 3)
		return -1;
	return (long)(utime + stime);
}

/* A "Key:   N kB" line of /proc/PID/status, in kB; 0 when absent. */
static long status_kb(const char *status, const char *key)
{
	const char *p = strstr(status, key);

	return p ? atol(p + strlen(key)) : 0;
}

/* One sample of the server; returns 0 once it has exited (or is a zombie). */
static int sample(void)
{
	char path[96], buf[4096], state = 'Z';
	long ms = now_ms();

	if (!server_pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", server_pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return 0;
	long ticks = stat_ticks(buf, &state);
	if (state == 'Z' || state == 'X')
		return 0;
	if (ticks > cpu_ticks)
		cpu_ticks = ticks;

	snprintf(path, sizeof(path), "/proc/%d/status", server_pid);
	if (read_file(path, buf, sizeof(buf)) == 0) {
		long kb = status_kb(buf, "VmRSS:");
		long mem = status_kb(buf, "RssAnon:") + status_kb(buf, "RssShmem:");

		if (rss_start < 0)
			rss_start = kb;
		if (kb > rss_peak)
			rss_peak = kb;
		if (mem_start < 0)
			mem_start = mem;
		if (mem > mem_peak)
			mem_peak = mem;
	}

	/* The drainer: every thread named "resetguard", at its latest. */
	snprintf(path, sizeof(path), "/proc/%d/task", server_pid);
	DIR *d = opendir(path);
	for (struct dirent *e; d && (e = readdir(d));) {
		int tid = atoi(e->d_name), i;
		char comm[32], st[1024], s;

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", server_pid, tid);
		if (read_file(path, comm, sizeof(comm)) < 0 || strcmp(comm, "resetguard\n") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", server_pid, tid);
		if (read_file(path, st, sizeof(st)) < 0 || (ticks = stat_ticks(st, &s)) < 0)
			continue;
		for (i = 0; i < n_drainers && drainers[i].tid != tid; i++)
			;
		if (i == n_drainers) {
			if (n_drainers == MAX_THREADS)
				continue;
			drainers[n_drainers++].tid = tid;
		}
		if (ticks > drainers[i].ticks)
			drainers[i].ticks = ticks;
	}
	if (d)
		closedir(d);

	/* Counting 10,000 descriptors takes a while: every 100 ms is enough. */
	if (ms - last_fd_count_ms >= 100) {
		long n = 0;

		last_fd_count_ms = ms;
		snprintf(path, sizeof(path), "/proc/%d/fd", server_pid);
		if ((d = opendir(path))) {
			for (struct dirent *e; (e = readdir(d));)
				n += e->d_name[0] != '.';
			closedir(d);
		}
		if (n > fds_peak)
			fds_peak = n;
	}
	return 1;
}

int main(int argc, char **argv)
{
	int opt, port = 0, count = 1, bytes = 10240, await = 0, reading = 0, late = 0;
	long last_sample = 0;

	while ((opt = getopt(argc, argv, "P:n:b:m:ap:")) != -1) {
		switch (opt) {
		case 'P': port = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		case 'b': bytes = atoi(optarg); break;
		case 'm':
			reading = !strcmp(optarg, "read");
			late = !strcmp(optarg, "late");
			await |= late;
			break;
		case 'a': await = 1; break;
		case 'p': server_pid = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!port || count < 1 || bytes < 0)
		errx(2, "usage: holdconns -P PORT -n COUNT -b BYTES [-m hold|read|late] [-a] [-p PID]");

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	char *body = calloc(1, (size_t)bytes + 1);
	int *fds = calloc((size_t)count, sizeof(*fds)), *reset = calloc((size_t)count, sizeof(*reset));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (!body || !reset || !fds)
		err(2, "calloc");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(body, 'x', (size_t)bytes);
	sample();

	int connected = 0, resets = 0;
	for (int i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		ssize_t n = 0;

		if (fd < 0)
			err(1, "socket %d", i);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			err(1, "connect %d", i);
		connected++;
		for (ssize_t off = 0; off < bytes; off += n)
			if ((n = send(fd, body + off, (size_t)(bytes - off), MSG_NOSIGNAL)) <= 0)
				break; /* reset already: nothing more to send */
		reset[i] = n < 0 && (errno == ECONNRESET || errno == EPIPE);
		fds[i] = fd;
		if (reading) {
			reset[i] |= read_to_eof(fd);
		} else if (await) {
			struct pollfd p = { fd, POLLIN, 0 };

			if (poll(&p, 1, 10000) == 0)
				errx(1, "no answer on connection %d", i);
		}
		if (server_pid && now_ms() - last_sample >= 10) {
			last_sample = now_ms();
			sample();
		}
	}
	for (int i = 0; late && i < count; i++)
		reset[i] |= read_to_eof(fds[i]);
	for (int i = 0; i < count; i++)
		resets += reset[i];
	free(fds);
	free(reset);
	free(body);
	printf("connected=%d resets=%d\n", connected, resets);
	fflush(stdout);
	if (!server_pid)
		return 0;

	/* Hold everything until the server is gone, sampling it. */
	long held = now_ms();
	while (sample())
		usleep(10000);
	held = now_ms() - held;

	long hz = sysconf(_SC_CLK_TCK), drainer_ticks = 0;
	for (int i = 0; i < n_drainers; i++)
		drainer_ticks += drainers[i].ticks;
	printf("rss_start_kb=%ld rss_peak_kb=%ld mem_start_kb=%ld mem_peak_kb=%ld cpu_ms=%ld "
	       "drainer_cpu_ms=%ld drainer_threads=%d fds_peak=%ld held_ms=%ld\n",
	       rss_start, rss_peak, mem_start, mem_peak, cpu_ticks * 1000 / hz,
	       drainer_ticks * 1000 / hz, n_drainers, fds_peak, held);
	return 0;
}
