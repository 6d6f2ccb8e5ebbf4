/* forkstorm: fork() again and again while other threads are busy inside
 * resetguard.  fork() copies every lock in the state another thread left
 * it; a lock the fork handlers do not take can be copied held, and the
 * child then waits forever the first time it needs it.  Without
 * resetguard every child exits at once.
 *
 * usage: forkstorm [-t LOG_THREADS] [-g CLOSE_THREADS] [-f FORKS]
 * LOG_THREADS threads write to a reset connection each, without pause
 * (SIGPIPE is ignored, so every write fails with EPIPE, and resetguard
 * logs each one, or counts it against its rate limit).  CLOSE_THREADS
 * threads make connections and close them with data unread while the
 * peer is still open (graceful closes, for the drainer), each time reading
 * the peer's end to EOF.  The main thread forks FORKS children one after
 * the other; each writes to a reset connection, closes it, makes one
 * graceful close of its own (with CLOSE_THREADS only), and exits.  A child
 * that has not exited within 3 s is counted as hung and killed, and ends
 * the forking.
 * Prints "forks=N hung=N failed=N" (failed: exited otherwise than 0). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "common.h"

#define MAX_THREADS 32

static atomic_bool stop;
static int broken[MAX_THREADS];

static void *log_thread(void *arg)
{
	int fd = broken[(long)arg];

	while (!atomic_load(&stop))
		(void)!write(fd, "x", 1);
	return NULL;
}

/* Closed with 4 KiB unread and the peer open: a graceful close.  The peer
 * end then reads to the EOF the drainer's shutdown sends, and closes. */
static void graceful_close(void)
{
	static char data[4096];
	struct conn c;
	char buf[4096];

	conn_open(&c, "inet", "");
	if (send(c.client, data, sizeof(data), 0) != sizeof(data))
		err(2, "send");
	close(c.server);
	while (readable_within(c.client, 5000) && recv(c.client, buf, sizeof(buf), 0) > 0)
		;
	close(c.client);
}

static void *close_thread(void *unused)
{
	(void)unused;
	while (!atomic_load(&stop))
		graceful_close();
	return NULL;
}

static int reset_connection(void)
{
	struct conn c;

	conn_open(&c, "inet", "");
	conn_reset(&c);
	return c.client;
}

static int nclose;

static void child(void)
{
	(void)!write(broken[0], "x", 1);
	close(broken[0]);
	if (nclose)
		graceful_close();
	exit(0);
}

/* 1 if the child hung (it is killed), else 0; *failed counts an exit
 * other than 0. */
static int reap(pid_t pid, int *failed)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), status = 0, hung = 0;

	if (pidfd < 0)
		err(2, "pidfd_open");
	if (!readable_within(pidfd, 3000)) {
		hung = 1;
		kill(pid, SIGKILL);
	}
	close(pidfd);
	waitpid(pid, &status, 0);
	if (!hung && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		++*failed;
	return hung;
}

int main(int argc, char **argv)
{
	pthread_t threads[2 * MAX_THREADS];
	int opt, nlog = 8, forks = 200, hung = 0, failed = 0, nthreads = 0, done;

	while ((opt = getopt(argc, argv, "t:g:f:")) != -1) {
		switch (opt) {
		case 't': nlog = atoi(optarg); break;
		case 'g': nclose = atoi(optarg); break;
		case 'f': forks = atoi(optarg); break;
		default: return 2;
		}
	}
	if (nlog < 1 || nlog > MAX_THREADS || nclose < 0 || nclose > MAX_THREADS)
		errx(2, "-t: 1 to %d, -g: 0 to %d", MAX_THREADS, MAX_THREADS);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < nlog; i++)
		broken[i] = reset_connection();
	for (long i = 0; i < nlog; i++)
		pthread_create(&threads[nthreads++], NULL, log_thread, (void *)i);
	for (int i = 0; i < nclose; i++)
		pthread_create(&threads[nthreads++], NULL, close_thread, NULL);
	fflush(stdout);
	/* One hung child is enough to know. */
	for (done = 0; done < forks && !hung; done++) {
		pid_t pid = fork();

		if (pid < 0)
			err(2, "fork");
		if (pid == 0)
			child();
		hung += reap(pid, &failed);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	printf("forks=%d hung=%d failed=%d\n", done, hung, failed);
	return 0;
}
