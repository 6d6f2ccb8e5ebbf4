/* A socket registered as an io_uring fixed file, then closed by number:
 * the ring's own reference keeps it alive, and without the library the
 * ring still receives and sends on it.  Raw system calls, one request at
 * a time; no liburing needed. */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "prog.h"

struct ring {
	int fd;
	uint8_t *sq, *cq;
	struct io_uring_sqe *sqes;
	struct io_uring_params p;
	size_t sq_size, cq_size;
};

static int ring_setup(struct ring *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = (int)syscall(SYS_io_uring_setup, 4, &r->p);
	if (r->fd < 0)
		return -1;
	r->sq_size = r->p.sq_off.array + r->p.sq_entries * sizeof(uint32_t);
	r->cq_size = r->p.cq_off.cqes + r->p.cq_entries * sizeof(struct io_uring_cqe);
	r->sq = mmap(NULL, r->sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		     IORING_OFF_SQ_RING);
	r->cq = mmap(NULL, r->cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		     IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, r->p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sq == MAP_FAILED || r->cq == MAP_FAILED || r->sqes == MAP_FAILED)
		return -1;
	return 0;
}

static void ring_free(struct ring *r)
{
	if (r->fd < 0)
		return;
	syscall(SYS_io_uring_register, r->fd, IORING_UNREGISTER_FILES, NULL, 0);
	if (r->sqes && r->sqes != MAP_FAILED)
		munmap(r->sqes, r->p.sq_entries * sizeof(struct io_uring_sqe));
	if (r->cq && r->cq != MAP_FAILED)
		munmap(r->cq, r->cq_size);
	if (r->sq && r->sq != MAP_FAILED)
		munmap(r->sq, r->sq_size);
	close(r->fd);
}

/* One request on fixed file 0, waited for; its result (bytes or -errno). */
static int ring_io(struct ring *r, int opcode, void *buf, uint32_t len, int flags)
{
	uint32_t *tail = (uint32_t *)(r->sq + r->p.sq_off.tail);
	uint32_t mask = *(uint32_t *)(r->sq + r->p.sq_off.ring_mask);
	uint32_t *array = (uint32_t *)(r->sq + r->p.sq_off.array);
	uint32_t *head = (uint32_t *)(r->cq + r->p.cq_off.head);
	struct io_uring_cqe *cqes = (struct io_uring_cqe *)(r->cq + r->p.cq_off.cqes);
	uint32_t t = *tail, idx = t & mask;
	struct io_uring_sqe *sqe = &r->sqes[idx];
	int res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = (uint8_t)opcode;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->addr = (uint64_t)(uintptr_t)buf;
	sqe->len = len;
	sqe->msg_flags = (uint32_t)flags;
	array[idx] = idx;
	__atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	uint32_t h = __atomic_load_n(head, __ATOMIC_ACQUIRE);
	res = cqes[h & *(uint32_t *)(r->cq + r->p.cq_off.ring_mask)].res;
	__atomic_store_n(head, h + 1, __ATOMIC_RELEASE);
	return res;
}

static void ring_line(int i, const char *verb, int res, int ok)
{
	struct line l;

	line_start(&l, cur_ctx, i, verb);
	line_ret(&l, res < 0 ? -1 : res, res < 0 ? -res : 0);
	if (ok >= 0)
		line_add(&l, " ok=%d", ok);
	line_emit(&l);
}

static void peer_line_step(const struct step *st, int i, const char *verb, uint32_t op, int64_t a)
{
	struct peer_reply pr = peer_call(op, st->conn, a, 0, NULL);
	struct line l;

	line_start(&l, cur_ctx, i, verb);
	line_add(&l, " c=%d n=%lld", st->conn, (long long)a);
	peer_line(&l, &pr);
	line_emit(&l);
}

#define RING_SEND 1024

void act_uring(const struct step *st, int i)
{
	static uint8_t buf[RING_SEND > 4096 ? RING_SEND : 4096];
	int fd = st->fd, setup, res = -EBADF;
	uint64_t off = atomic_load(&shm->rx[st->conn]);
	struct ring r;

	setup = ring_setup(&r) < 0 ? -errno : 0;
	if (!setup && syscall(SYS_io_uring_register, r.fd, IORING_REGISTER_FILES, &fd, 1) < 0)
		setup = -errno;
	ring_line(i, "io_uring_register", setup, -1);
	close_list(st, i);
	peer_line_step(st, i, "peer-send", P_SEND, st->n);
	peer_line_step(st, i, "peer-shut", P_CLOSE, PC_SHUT_WR);
	if (!setup)
		res = ring_io(&r, IORING_OP_RECV, buf, (uint32_t)st->n, MSG_WAITALL);
	ring_line(i, "ring-recv", res,
		  res <= 0 || pattern_check(buf, (size_t)res, st->conn, 1, off));
	if (res > 0)
		atomic_fetch_add(&shm->rx[st->conn], (uint64_t)res);
	pattern_fill(buf, RING_SEND, st->conn, 0, atomic_load(&shm->tx[st->conn]));
	res = setup ? -EBADF : ring_io(&r, IORING_OP_SEND, buf, RING_SEND, MSG_NOSIGNAL);
	ring_line(i, "ring-send", res, -1);
	if (res > 0)
		atomic_fetch_add(&shm->tx[st->conn], (uint64_t)res);
	/* What the ring should have sent, whatever it did: a short count
	 * shows the loss. */
	peer_line_step(st, i, "peer-recv", P_RECV, (int64_t)st->c + RING_SEND);
	ring_free(&r);
}
