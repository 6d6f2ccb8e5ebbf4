/* blocksend: close() while another thread is blocked in send() on the same
 * socket.  Without resetguard the close only drops the descriptor: the
 * send in flight holds its own reference, completes when the peer has read
 * enough, and the FIN follows the last byte.  A shutdown() in between (a
 * drainer starting too early) cuts the send short and the rest is lost.
 *
 * usage: blocksend [-b BYTES]
 * A child process is the peer: it reads nothing until the program has
 * closed, then reads in 4 KiB pieces, each when poll() says so, to the
 * end.  Prints "send=N" (what the blocked send returned) and
 * "peer_got=N end=eof|ERRNO". */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "common.h"

static size_t total = 8 << 20;
static int sock;
static _Atomic pid_t sender_tid;
static ssize_t sent;
static int sent_errno;

static void *sender(void *unused)
{
	char *buf = calloc(1, total);

	(void)unused;
	if (!buf)
		err(2, "calloc");
	atomic_store(&sender_tid, gettid());
	sent = send(sock, buf, total, MSG_NOSIGNAL);
	sent_errno = errno;
	free(buf);
	return NULL;
}

/* Whether thread tid is inside sendto() now, by the kernel's own account. */
static int in_sendto(pid_t tid)
{
	char path[64], line[64];
	FILE *f;
	int nr = -1;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	sscanf(line, "%d", &nr);
	return nr == SYS_sendto;
}

static void wait_blocked(void)
{
	for (int i = 0; i < 10000; i++) {
		pid_t tid = atomic_load(&sender_tid);

		if (tid && in_sendto(tid))
			return;
		usleep(1000);
	}
	errx(2, "the sender never blocked in send()");
}

static void peer(int listener, int go)
{
	static char buf[4096];
	size_t got = 0;
	ssize_t n;
	char byte;
	int fd = accept(listener, NULL, NULL);

	if (fd < 0 || read(go, &byte, 1) != 1)
		err(2, "peer");
	for (;;) {
		if (!readable_within(fd, 10000))
			errx(2, "peer: nothing for 10 s");
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	printf("peer_got=%zu end=%s\n", got, n == 0 ? "eof" : strerrorname_np(errno));
	raw_close(fd);
	exit(0);
}

int main(int argc, char **argv)
{
	unsigned short port;
	int listener, go[2], opt, status;
	pthread_t t;
	pid_t pid;

	while ((opt = getopt(argc, argv, "b:")) != -1) {
		if (opt != 'b')
			return 2;
		total = strtoul(optarg, NULL, 10);
	}
	listener = listen_loopback(&port);
	if (pipe(go) < 0)
		err(2, "pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		err(2, "fork");
	if (pid == 0)
		peer(listener, go[0]);
	close(listener);
	sock = connect_loopback(port);
	pthread_create(&t, NULL, sender, NULL);
	wait_blocked();
	close(sock);
	if (write(go[1], "g", 1) != 1)
		err(2, "write");
	pthread_join(t, NULL);
	printf("send=%zd%s%s\n", sent, sent < 0 ? " " : "", sent < 0 ? strerrorname_np(sent_errno) : "");
	fflush(stdout);
	waitpid(pid, &status, 0);
	return 0;
}
