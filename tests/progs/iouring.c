/* iouring: a socket registered with an io_uring as a fixed file, then
 * closed, then used through the ring.  The registration holds its own
 * reference to the socket, so close(fd) only drops the number: the ring
 * keeps talking on the connection, and nobody may shut it down or read
 * from it behind the ring's back.
 *
 * Built twice from this file: with raw system calls through syscall()
 * (iouring), and with -DRG_LIBURING against liburing (iouring-liburing),
 * which makes its system calls inline, where no wrapper sees them.
 *
 * usage: iouring [-n EXCHANGES]
 * A child process answers each request "req N" with "ans N".  Prints
 * "answered=K/N", K counting up to the first exchange that failed. */
#include <signal.h>
#include <sys/wait.h>

#include "common.h"

#ifdef RG_LIBURING
#include <liburing.h>

static struct io_uring ring;

static void ring_setup(int fd)
{
	int ret = io_uring_queue_init(8, &ring, 0);

	if (ret < 0)
		errx(2, "io_uring_queue_init: %s", strerror(-ret));
	ret = io_uring_register_files(&ring, &fd, 1);
	if (ret < 0)
		errx(2, "io_uring_register_files: %s", strerror(-ret));
}

/* One send or recv on fixed file 0; the result, or -errno. */
static int ring_io(int op, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (op == IORING_OP_SEND)
		io_uring_prep_send(sqe, 0, buf, len, 0);
	else
		io_uring_prep_recv(sqe, 0, buf, len, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return ret;
}
#else
#include <linux/io_uring.h>
#include <stdint.h>
#include <sys/mman.h>

static int ring_fd;
static unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
static struct io_uring_sqe *sqes;
static struct io_uring_cqe *cqes;

static void *ring_map(size_t len, off_t what)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, what);

	if (p == MAP_FAILED)
		err(2, "mmap ring");
	return p;
}

static void ring_setup(int fd)
{
	struct io_uring_params p = { 0 };
	char *sq, *cq;

	ring_fd = (int)syscall(SYS_io_uring_setup, 8, &p);
	if (ring_fd < 0)
		err(2, "io_uring_setup");
	sq = ring_map(p.sq_off.array + p.sq_entries * sizeof(unsigned), IORING_OFF_SQ_RING);
	cq = ring_map(p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe), IORING_OFF_CQ_RING);
	sqes = ring_map(p.sq_entries * sizeof(struct io_uring_sqe), IORING_OFF_SQES);
	sq_tail = (unsigned *)(sq + p.sq_off.tail);
	sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	sq_array = (unsigned *)(sq + p.sq_off.array);
	cq_head = (unsigned *)(cq + p.cq_off.head);
	cq_tail = (unsigned *)(cq + p.cq_off.tail);
	cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	if (syscall(SYS_io_uring_register, ring_fd, IORING_REGISTER_FILES, &fd, 1) < 0)
		err(2, "IORING_REGISTER_FILES");
}

static int ring_io(int op, void *buf, size_t len)
{
	unsigned tail = *sq_tail, head, idx = tail & *sq_mask;
	struct io_uring_sqe *sqe = &sqes[idx];
	int ret;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = (__u8)op;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->fd = 0; /* the index among the registered files */
	sqe->addr = (__u64)(uintptr_t)buf;
	sqe->len = (__u32)len;
	sq_array[idx] = idx;
	__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, ring_fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = *cq_head;
	if (head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	ret = cqes[head & *cq_mask].res;
	__atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
	return ret;
}
#endif

static void peer(int listener)
{
	char req[64], ans[80];
	ssize_t n;
	int fd = accept(listener, NULL, NULL);

	if (fd < 0)
		err(2, "accept");
	while ((n = recv(fd, req, sizeof(req) - 1, 0)) > 0) {
		req[n] = '\0';
		snprintf(ans, sizeof(ans), "ans %s", req + 4);
		if (send(fd, ans, strlen(ans), MSG_NOSIGNAL) < 0)
			break;
	}
	raw_close(fd);
	_exit(0);
}

/* A ring that waits for an answer the drainer ate must not hang the test:
 * the alarm interrupts the wait (no SA_RESTART). */
static void on_alarm(int sig)
{
	(void)sig;
}

static int exchange(int i)
{
	char req[32], ans[32], want[32];
	int n;

	snprintf(req, sizeof(req), "req %d", i);
	snprintf(want, sizeof(want), "ans %d", i);
	alarm(2);
	n = ring_io(IORING_OP_SEND, req, strlen(req));
	if (n == (int)strlen(req))
		n = ring_io(IORING_OP_RECV, ans, sizeof(ans) - 1);
	alarm(0);
	if (n <= 0)
		return 0;
	ans[n] = '\0';
	return !strcmp(ans, want);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	unsigned short port;
	int listener, fd, opt, count = 10, answered = 0;
	pid_t pid;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n')
			return 2;
		count = atoi(optarg);
	}
	sigaction(SIGALRM, &sa, NULL);
	listener = listen_loopback(&port);
	pid = fork();
	if (pid < 0)
		err(2, "fork");
	if (pid == 0)
		peer(listener);
	close(listener);
	fd = connect_loopback(port);
	ring_setup(fd);
	close(fd); /* the ring's reference keeps the connection */
	/* A drainer that took the socket has shut it down by now: the
	 * exchanges must not race it. */
	drainer_barrier();
	/* A lost answer leaves the stream out of step: stop there. */
	while (answered < count && exchange(answered))
		answered++;
	printf("answered=%d/%d\n", answered, count);
	fflush(stdout);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return 0;
}
