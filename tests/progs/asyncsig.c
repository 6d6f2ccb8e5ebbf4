/* asyncsig: signal-driven I/O (O_ASYNC, F_SETOWN, F_SETSIG) on sockets
 * closed with data unread while their peers keep sending.  The kernel ties
 * the signal to the open file description; the last close undoes it, so
 * without resetguard no signal ever names a descriptor after it was
 * closed.  A socket kept open behind the program's back for a graceful
 * close would go on signalling, under the closed number, and after the
 * number is reused, under another connection's name.
 *
 * usage: asyncsig [-n CONNS]
 * A child process is the peer: it opens CONNS connections and sends on
 * each, as fast as they take it, until told to stop.  The program sets
 * O_ASYNC, F_SETOWN (itself) and F_SETSIG (SIGRTMIN) on each accepted
 * socket, reads what is there, waits until each holds 32 KiB unread, closes them all, then
 * accepts CONNS new connections (which take the same numbers, without
 * O_ASYNC) and reads 256 KiB from each while the peer keeps sending on the
 * old ones too.  Signals stay blocked and are taken with sigtimedwait(),
 * in the order the kernel queued them.  After each close() the program
 * queues a marker signal of its own naming that descriptor: a SIGRTMIN
 * naming it that comes after its marker was generated after the close.
 * Finally the peer shuts its old connections down and reads them to the
 * end, counting those that were reset.
 * Prints "signals=N stale=N reused=N overflow=N" (reused: the stale ones
 * naming a number a new connection had by then; overflow: SIGIO, which the
 * kernel sends when the realtime queue is full) and "peer_resets=N". */
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "common.h"

#define MAX_CONNS 200
#define UNREAD (32 << 10)
#define READ_NEW (256 << 10)

static int nconns = 50;
static sigset_t sigs;
static int marker_seen[4096], closed_fd[4096], reused_fd[4096];
static long signals, stale, reused, overflow;

/* ---- the peer ---- */

struct peer_conn {
	int fd, reset;
};

static void peer_send_round(struct peer_conn *c, int n)
{
	static char chunk[16384];
	struct pollfd p[2 * MAX_CONNS];

	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = c[i].reset ? -1 : c[i].fd, .events = POLLOUT };
	if (poll(p, (nfds_t)n, 100) <= 0)
		return;
	for (int i = 0; i < n; i++)
		if ((p[i].revents & (POLLOUT | POLLERR | POLLHUP)) &&
		    send(c[i].fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
		    errno != EAGAIN)
			c[i].reset = 1;
}

/* Shut down, then read to the end: EOF is a graceful close, an error a
 * reset (one that arrived earlier was already counted). */
static int peer_finish(struct peer_conn *c)
{
	if (!c->reset) {
		char buf[4096];
		ssize_t n = -1;

		shutdown(c->fd, SHUT_WR);
		while (readable_within(c->fd, 5000) && (n = recv(c->fd, buf, sizeof(buf), 0)) > 0)
			;
		c->reset = n != 0;
	}
	return c->reset;
}

/* Commands on the pipe: 'B' opens the second batch, EOF ends it all. */
static void peer(unsigned short port, int cmd)
{
	struct peer_conn c[2 * MAX_CONNS];
	int n = nconns, resets = 0;
	char byte;

	for (int i = 0; i < n; i++)
		c[i] = (struct peer_conn){ connect_loopback(port), 0 };
	fcntl(cmd, F_SETFL, O_NONBLOCK);
	for (;;) {
		ssize_t r = read(cmd, &byte, 1);

		if (r == 0)
			break;
		if (r == 1 && byte == 'B')
			for (int i = 0; i < nconns; i++)
				c[n++] = (struct peer_conn){ connect_loopback(port), 0 };
		peer_send_round(c, n);
	}
	for (int i = 0; i < nconns; i++)
		resets += peer_finish(&c[i]);
	printf("peer_resets=%d\n", resets);
	for (int i = 0; i < n; i++)
		raw_close(c[i].fd);
	exit(0);
}

/* ---- the program ---- */

static void take(const siginfo_t *si)
{
	if (si->si_signo == SIGIO) {
		overflow++;
		return;
	}
	if (si->si_code == SI_QUEUE) { /* our marker: the close is behind us */
		marker_seen[si->si_value.sival_int] = 1;
		return;
	}
	signals++;
	if (si->si_fd >= 0 && si->si_fd < 4096 && closed_fd[si->si_fd] && marker_seen[si->si_fd]) {
		stale++;
		reused += reused_fd[si->si_fd]; /* now another connection's number */
	}
}

/* Takes every signal already queued; waits up to ms for the first. */
static void take_signals(int ms)
{
	struct timespec wait = { ms / 1000, (ms % 1000) * 1000000L };
	siginfo_t si;

	while (sigtimedwait(&sigs, &si, &wait) > 0) {
		take(&si);
		wait = (struct timespec){ 0, 0 };
	}
}

static int accept_async(int listener)
{
	int fd = accept(listener, NULL, NULL);

	if (fd < 0 || fd >= 4096)
		err(2, "accept");
	if (fcntl(fd, F_SETOWN, getpid()) < 0 || fcntl(fd, F_SETSIG, SIGRTMIN) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC) < 0)
		err(2, "fcntl");
	return fd;
}

static int unread(int fd)
{
	int n = 0;

	ioctl(fd, FIONREAD, &n);
	return n;
}

/* Reads what came before O_ASYNC was set, so that what follows comes
 * with signals, then waits until UNREAD more is waiting on each. */
static void wait_unread(const int *fds, int n)
{
	static char buf[1 << 20];
	long long give_up = mono_ns() + 10000000000LL;

	for (int i = 0; i < n; i++)
		while (recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
	for (int i = 0; i < n; i++)
		while (unread(fds[i]) < UNREAD) {
			if (mono_ns() > give_up)
				errx(2, "no data from the peer");
			take_signals(100);
		}
}

static void close_all(const int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		union sigval v = { .sival_int = fds[i] };

		close(fds[i]);
		closed_fd[fds[i]] = 1;
		if (sigqueue(getpid(), SIGRTMIN, v) < 0)
			err(2, "sigqueue");
	}
}

/* The second batch: read READ_NEW from each, the signals still flowing. */
static void read_new(int listener)
{
	static char buf[65536];
	int fds[MAX_CONNS];

	for (int i = 0; i < nconns; i++)
		if ((fds[i] = accept(listener, NULL, NULL)) < 0 || fds[i] >= 4096)
			err(2, "accept");
		else
			reused_fd[fds[i]] = 1;
	for (int i = 0; i < nconns; i++) {
		for (size_t got = 0; got < READ_NEW;) {
			ssize_t n = recv(fds[i], buf, sizeof(buf), 0);

			if (n <= 0)
				errx(2, "the peer stopped sending");
			got += (size_t)n;
			take_signals(0);
		}
	}
	take_signals(0);
	for (int i = 0; i < nconns; i++)
		raw_close(fds[i]); /* not what this test is about */
}

int main(int argc, char **argv)
{
	int fds[MAX_CONNS], cmd[2], opt, listener, status, n;
	unsigned short port;
	pid_t pid;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n')
			return 2;
		nconns = atoi(optarg);
	}
	if (nconns < 1 || nconns > MAX_CONNS)
		errx(2, "-n: 1 to %d", MAX_CONNS);
	n = nconns;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGRTMIN);
	sigaddset(&sigs, SIGIO);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	listener = listen_loopback(&port);
	if (pipe(cmd) < 0)
		err(2, "pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		err(2, "fork");
	if (pid == 0) {
		close(cmd[1]);
		peer(port, cmd[0]);
	}
	close(cmd[0]);
	for (int i = 0; i < n; i++)
		fds[i] = accept_async(listener);
	wait_unread(fds, n);
	close_all(fds, n);
	if (write(cmd[1], "B", 1) != 1)
		err(2, "write");
	read_new(listener);
	printf("signals=%ld stale=%ld reused=%ld overflow=%ld\n", signals, stale, reused, overflow);
	fflush(stdout);
	close(cmd[1]);
	waitpid(pid, &status, 0);
	return 0;
}
