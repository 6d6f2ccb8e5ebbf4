/* resetprobe: meet a connection reset through one or more libc calls and
 * report what each returned.  Without resetguard a write after the reset
 * kills it with SIGPIPE; with it, it lives and prints "alive".
 *
 * usage: resetprobe [-f inet|inet6|unix] [-u PATH] [-n] [-t THREADS] [-s] [-H] [-F]
 *                   [-B] [-p] [-r N] [-i MS] [-c loop|range|from|dup2] OP...
 * -F use up every descriptor before the ops, -n non-blocking socket,
 * -r N meet N resets one after the other (in each thread), -i MS pause
 * between them, -t ops in THREADS threads each with its own
 * connection, -s ops inside a signal handler, -H count SIGPIPEs with a
 * handler of the program's own, -c close every descriptor first, -B
 * block SIGPIPE, then print whether one is pending after the ops
 * (pending=0|1) and unblock it, -p make a SIGPIPE pending with a write to
 * a pipe nobody reads before the ops (with -B).
 * OP: write writev send send_nosignal sendto sendmsg sendmmsg sendfile splice
 *     fwrite fputs fprintf fflush exitflush fwrite_unlocked fputs_unlocked
 *     putc_unlocked fputwc fwprintf dprintf fseek perror error warn
 *     read readv recv recvfrom recvmsg recvmmsg */
#include <error.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <wchar.h>

#include "common.h"

static const char *family = "inet";
static const char *unix_path = "/tmp/resetprobe.sock";
static int nonblocking;
static char **ops;
static int nops;

static void report(const char *op, long ret, int err)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%s ret=%ld errno=%s\n", op, ret,
			 ret < 0 ? strerrorname_np(err) : "0");

	/* write(2), not stdio: this also runs in a signal handler. */
	if (write(STDOUT_FILENO, line, (size_t)n) != n)
		_exit(3);
}

static long do_send(const char *op, int fd)
{
	static char buf[65536];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct mmsghdr mm = { .msg_hdr = msg };

	if (!strcmp(op, "write"))
		return write(fd, buf, sizeof(buf));
	if (!strcmp(op, "writev"))
		return writev(fd, &iov, 1);
	if (!strcmp(op, "send"))
		return send(fd, buf, sizeof(buf), 0);
	if (!strcmp(op, "send_nosignal"))
		return send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
	if (!strcmp(op, "sendto"))
		return sendto(fd, buf, sizeof(buf), 0, NULL, 0);
	if (!strcmp(op, "sendmsg"))
		return sendmsg(fd, &msg, 0);
	if (!strcmp(op, "sendmmsg"))
		return sendmmsg(fd, &mm, 1, 0);
	return -2;
}

static long do_sendfile(const char *op, int fd)
{
	static char buf[65536];
	long ret;

	if (!strcmp(op, "sendfile")) {
		int mfd = memfd_create("resetprobe", 0);

		if (mfd < 0 || write(mfd, buf, sizeof(buf)) < 0)
			err(2, "memfd");
		off_t off = 0;
		ret = sendfile(fd, mfd, &off, sizeof(buf));
		close(mfd);
		return ret;
	}
	if (!strcmp(op, "splice")) {
		int p[2];

		if (pipe(p) < 0 || write(p[1], buf, 4096) < 0)
			err(2, "pipe");
		ret = splice(p[0], NULL, fd, NULL, 4096, 0);
		close(p[0]);
		close(p[1]);
		return ret;
	}
	return -2;
}

static long do_recv(const char *op, int fd)
{
	/* Fixed-size buffers, so that a fortified build calls __read_chk,
	 * __recv_chk and __recvfrom_chk. */
	char buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct mmsghdr mm = { .msg_hdr = msg };

	if (!strcmp(op, "read"))
		return read(fd, buf, sizeof(buf));
	if (!strcmp(op, "readv"))
		return readv(fd, &iov, 1);
	if (!strcmp(op, "recv"))
		return recv(fd, buf, sizeof(buf), 0);
	if (!strcmp(op, "recvfrom"))
		return recvfrom(fd, buf, sizeof(buf), 0, NULL, NULL);
	if (!strcmp(op, "recvmsg"))
		return recvmsg(fd, &msg, 0);
	if (!strcmp(op, "recvmmsg"))
		return recvmmsg(fd, &mm, 1, 0, NULL);
	return -2;
}

/* The rest of glibc's stdio write paths: the _unlocked family (in the
 * fortified build putc_unlocked() is inline and calls __overflow), wide
 * characters, dprintf(), a seek that writes what is pending, and the
 * error reporters writing to stderr made the socket. */
static long do_stdio_more(const char *op, int fd, FILE *fp)
{
	if (!strcmp(op, "fwrite_unlocked")) {
		static char big[65536];

		return fwrite_unlocked(big, 1, sizeof(big), fp) == sizeof(big) ? 0 : -1;
	}
	if (!strcmp(op, "fputs_unlocked"))
		return fputs_unlocked("hello\n", fp) == EOF ? -1 : 0;
	if (!strcmp(op, "putc_unlocked"))
		return putc_unlocked('x', fp) == EOF ? -1 : 0;
	if (!strcmp(op, "fputwc"))
		return fputwc(L'x', fp) == WEOF ? -1 : 0;
	if (!strcmp(op, "fwprintf"))
		return fwprintf(fp, L"hello %d\n", 42) < 0 ? -1 : 0;
	if (!strcmp(op, "dprintf"))
		return dprintf(fd, "hello %d\n", 42) < 0 ? -1 : 0;
	if (!strcmp(op, "fseek")) {
		/* Buffered: the seek writes what is pending first. */
		fputs("hello\n", fp);
		return fseek(fp, 0, SEEK_CUR);
	}
	if (!strcmp(op, "perror") || !strcmp(op, "error") || !strcmp(op, "warn")) {
		if (dup2(fd, STDERR_FILENO) < 0)
			err(2, "dup2");
		clearerr(stderr);
		errno = 0;
		/* perror() writes through a FILE of its own on a dup of 2:
		 * only errno tells. */
		if (!strcmp(op, "perror"))
			perror("hello");
		else if (!strcmp(op, "warn"))
			warnx("hello %d", 42);
		else
			error(0, 0, "hello %d", 42);
		return ferror(stderr) || errno ? -1 : 0;
	}
	return -2;
}

/* stdio: unbuffered streams write at once; "fflush" and "exitflush" buffer
 * first, the latter leaving the flush to exit(). */
static long do_stdio(const char *op, int fd)
{
	FILE *fp = fdopen(fd, "w");
	int buffered = !strcmp(op, "fflush") || !strcmp(op, "exitflush") || !strcmp(op, "fseek");
	long ret;

	if (!fp)
		err(2, "fdopen");
	setvbuf(fp, NULL, buffered ? _IOFBF : _IONBF, 0);
	if (!strcmp(op, "fwrite")) {
		static char big[65536];

		return (long)fwrite(big, 1, sizeof(big), fp) == (long)sizeof(big) ? 0 : -1;
	}
	if (!strcmp(op, "fputs"))
		return fputs("hello\n", fp) == EOF ? -1 : 0;
	if (!strcmp(op, "fprintf"))
		return fprintf(fp, "hello %d\n", 42) < 0 ? -1 : 0;
	ret = do_stdio_more(op, fd, fp);
	if (ret != -2)
		return ret;
	fputs("hello\n", fp);
	if (!strcmp(op, "fflush"))
		return fflush(fp) == EOF ? -1 : 0;
	return 0; /* exitflush: left in the buffer on purpose */
}

static void run_ops(int fd)
{
	for (int i = 0; i < nops; i++) {
		long ret = do_send(ops[i], fd);

		if (ret == -2)
			ret = do_sendfile(ops[i], fd);
		if (ret == -2)
			ret = do_recv(ops[i], fd);
		if (ret == -2)
			ret = do_stdio(ops[i], fd);
		report(ops[i], ret, errno);
	}
}

static struct conn *connect_and_reset(int index)
{
	static __thread struct conn c;
	char path[108];

	snprintf(path, sizeof(path), "%s.%d", unix_path, index);
	conn_open(&c, family, path);
	if (nonblocking)
		fcntl(c.client, F_SETFL, O_NONBLOCK);
	conn_reset(&c);
	return &c;
}

static int repeat = 1, interval_ms;

static void *thread_main(void *arg)
{
	for (int i = 0; i < repeat; i++) {
		struct conn *c = connect_and_reset((int)(long)arg);

		run_ops(c->client);
		close(c->client);
		if (interval_ms)
			usleep((useconds_t)interval_ms * 1000);
	}
	return NULL;
}

static int handler_fd = -1;
static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* A write to a pipe without a reader: the kernel's SIGPIPE for a pipe,
 * which no shim takes away. */
static void raise_pipe_sigpipe(void)
{
	int p[2];

	if (pipe(p) < 0)
		err(2, "pipe");
	close(p[0]);
	if (write(p[1], "x", 1) >= 0 || errno != EPIPE)
		errx(2, "the pipe did not break");
	close(p[1]);
}

static void on_usr1(int sig)
{
	(void)sig;
	run_ops(handler_fd);
}

/* What daemons do at start-up: get rid of every inherited descriptor. */
static void close_everything(const char *how)
{
	if (!strcmp(how, "range")) {
		close_range(3, ~0U, 0);
		return;
	}
	if (!strcmp(how, "from")) {
		closefrom(3);
		return;
	}
	int null = !strcmp(how, "dup2") ? open("/dev/null", O_RDONLY) : -1;

	for (int fd = 3; fd < 1024; fd++) {
		if (fd == null)
			continue;
		if (null >= 0)
			dup2(null, fd);
		close(fd);
	}
	close(null);
}

int main(int argc, char **argv)
{
	int opt, threads = 0, in_handler = 0, fill = 0, block = 0, pipe_first = 0;
	sigset_t pipe_set;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	while ((opt = getopt(argc, argv, "f:u:nt:sHFBpc:r:i:")) != -1) {
		switch (opt) {
		case 'f': family = optarg; break;
		case 'u': unix_path = optarg; break;
		case 'n': nonblocking = 1; break;
		case 't': threads = atoi(optarg); break;
		case 's': in_handler = 1; break;
		case 'H': signal(SIGPIPE, on_sigpipe); break;
		case 'F': fill = 1; break;
		case 'B': block = 1; break;
		case 'p': pipe_first = 1; break;
		case 'r': repeat = atoi(optarg); break;
		case 'i': interval_ms = atoi(optarg); break;
		case 'c': close_everything(optarg); break;
		default: return 2;
		}
	}
	ops = argv + optind;
	nops = argc - optind;
	if (block)
		sigprocmask(SIG_BLOCK, &pipe_set, NULL);
	if (pipe_first)
		raise_pipe_sigpipe();

	if (repeat > 1 && threads == 0)
		threads = 1;
	if (threads > 0) {
		pthread_t tid[64];

		for (int i = 0; i < threads && i < 64; i++)
			pthread_create(&tid[i], NULL, thread_main, (void *)(long)i);
		for (int i = 0; i < threads && i < 64; i++)
			pthread_join(tid[i], NULL);
	} else {
		struct conn *c = connect_and_reset(0);

		printf("peer=%s\n", c->server_addr);
		while (fill && dup(0) >= 0)
			;
		if (fill)
			printf("filled=%s\n", strerrorname_np(errno));
		fflush(stdout);
		if (in_handler) {
			handler_fd = c->client;
			signal(SIGUSR1, on_usr1);
			raise(SIGUSR1);
		} else {
			run_ops(c->client);
		}
	}
	if (block) {
		sigset_t pending;

		sigpending(&pending);
		printf("pending=%d\n", sigismember(&pending, SIGPIPE));
		fflush(stdout);
		sigprocmask(SIG_UNBLOCK, &pipe_set, NULL);
	}
	printf("sigpipes=%d\nalive\n", (int)sigpipes);
	return 0;
}
