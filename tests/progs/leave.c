/* leave: how long exit() and execve() take after a program lets go of
 * connections whose peers have not closed.  Without resetguard neither
 * waits for any peer.  Graceful close must not change that: whatever is
 * still lingering may be finished by someone else, but not by a child the
 * program could see (wait() must still say ECHILD).
 *
 * usage: leave -m exit|exec -p silent|open|reader [-n CONNS] [-c]
 * A launcher starts the peer, then the subject, which opens CONNS
 * connections to the peer and then leaves:
 *   silent: the subject sends 64 KiB; the peer never reads, answers or
 *           closes (until the launcher kills it at the end);
 *   open:   the subject sends a request and reads the whole answer; the
 *           peer keeps the connection open (a keep-alive server);
 *   reader: the peer answers with a line and 64 KiB more, which the subject
 *           leaves unread, then reads to the end and closes; it counts the
 *           connections that were reset instead of ending with EOF.
 * -c: the subject closes every descriptor listed in /proc/self/fd (the way
 * daemons do) before it leaves; with -m exec it always closes its sockets
 * first (else they would live on in the new image).  Then it checks
 * waitpid(-1, WNOHANG) and exits, or execs this program again, which
 * reports how long the exec took and checks waitpid() once more.
 * Prints "wait=ECHILD|child", then "exit_ms=N" or "exec_ms=N" and
 * "after_wait=ECHILD|child", and for reader "peer_resets=N". */
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include "common.h"

#define MAX_CONNS 64
#define BIG (64 << 10)

static const char *mode = "exit", *kind = "silent";
static int nconns = 1, close_all;

static const char *wait_says(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD ? "ECHILD" : "child";
}

/* ---- the peer ---- */

static int peer_finish(int fd)
{
	char buf[4096];
	ssize_t n = -1;

	while (readable_within(fd, 5000) && (n = recv(fd, buf, sizeof(buf), 0)) > 0)
		;
	raw_close(fd);
	return n != 0;
}

static void peer(int report)
{
	static char big[BIG];
	unsigned short port;
	int listener = listen_loopback(&port), fds[MAX_CONNS], resets = 0;
	char req[64];

	alarm(30); /* a peer nobody stops does not outlive the test */
	if (write(report, &port, sizeof(port)) != sizeof(port))
		err(2, "write");
	for (int i = 0; i < nconns; i++)
		if ((fds[i] = accept(listener, NULL, NULL)) < 0)
			err(2, "accept");
	if (!strcmp(kind, "silent"))
		for (;;)
			pause();
	for (int i = 0; i < nconns; i++) {
		if (recv(fds[i], req, sizeof(req), 0) <= 0 || send(fds[i], "ans\n", 4, 0) != 4)
			err(2, "peer");
		if (!strcmp(kind, "reader"))
			(void)!send(fds[i], big, sizeof(big), MSG_DONTWAIT);
	}
	if (!strcmp(kind, "open"))
		for (;;)
			pause();
	for (int i = 0; i < nconns; i++)
		resets += peer_finish(fds[i]);
	printf("peer_resets=%d\n", resets);
	exit(0);
}

/* ---- the subject ---- */

static void talk(int fd)
{
	char ans[4];

	if (!strcmp(kind, "silent")) {
		static char big[BIG];

		if (send(fd, big, sizeof(big), 0) != sizeof(big))
			err(2, "send");
		return;
	}
	if (send(fd, "req\n", 4, 0) != 4 || recv(fd, ans, 4, MSG_WAITALL) != 4)
		err(2, "talk");
	/* The rest of the reader's answer is there, and stays unread. */
	if (!strcmp(kind, "reader") && !readable_within(fd, 5000))
		errx(2, "no more from the reader");
}

static void close_listed(int keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int fds[1024], n = 0;

	if (!d)
		err(2, "/proc/self/fd");
	while ((de = readdir(d)) && n < 1024) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] != '.' && fd > 2 && fd != keep && fd != dirfd(d))
			fds[n++] = fd;
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void subject(unsigned short port, int report)
{
	int fds[MAX_CONNS];
	long long t0;
	char arg[32];

	for (int i = 0; i < nconns; i++)
		fds[i] = connect_loopback(port);
	for (int i = 0; i < nconns; i++)
		talk(fds[i]);
	if (close_all)
		close_listed(report);
	else if (!strcmp(mode, "exec"))
		for (int i = 0; i < nconns; i++)
			close(fds[i]);
	printf("wait=%s\n", wait_says());
	fflush(stdout);
	t0 = mono_ns();
	if (!strcmp(mode, "exit")) {
		if (write(report, &t0, sizeof(t0)) != sizeof(t0))
			err(2, "write");
		exit(0);
	}
	snprintf(arg, sizeof(arg), "%lld", t0);
	execl("/proc/self/exe", "leave", "-A", arg, (char *)NULL);
	err(2, "exec");
}

/* The new image after -m exec. */
static int after_exec(const char *t0)
{
	long long ms = (mono_ns() - atoll(t0)) / 1000000;

	printf("exec_ms=%lld\nafter_wait=%s\n", ms, wait_says());
	return 0;
}

int main(int argc, char **argv)
{
	int opt, portp[2], t0p[2];
	unsigned short port;
	pid_t peer_pid, subject_pid;
	long long t0;

	while ((opt = getopt(argc, argv, "m:p:n:cA:")) != -1) {
		switch (opt) {
		case 'm': mode = optarg; break;
		case 'p': kind = optarg; break;
		case 'n': nconns = atoi(optarg); break;
		case 'c': close_all = 1; break;
		case 'A': return after_exec(optarg);
		default: return 2;
		}
	}
	if (nconns < 1 || nconns > MAX_CONNS)
		errx(2, "-n: 1 to %d", MAX_CONNS);
	if (pipe(portp) < 0 || pipe(t0p) < 0)
		err(2, "pipe");
	fflush(stdout);
	if ((peer_pid = fork()) == 0)
		peer(portp[1]);
	if (read(portp[0], &port, sizeof(port)) != sizeof(port))
		errx(2, "no peer");
	close(portp[0]);
	close(portp[1]);
	if ((subject_pid = fork()) == 0)
		subject(port, t0p[1]);
	close(t0p[1]);
	if (!strcmp(mode, "exit")) {
		if (read(t0p[0], &t0, sizeof(t0)) != sizeof(t0))
			errx(2, "the subject did not report");
		waitpid(subject_pid, NULL, 0);
		printf("exit_ms=%lld\n", (mono_ns() - t0) / 1000000);
		fflush(stdout);
	} else {
		waitpid(subject_pid, NULL, 0);
	}
	if (strcmp(kind, "reader") != 0)
		kill(peer_pid, SIGTERM);
	waitpid(peer_pid, NULL, 0);
	return 0;
}
