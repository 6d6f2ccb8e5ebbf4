/* Motifs on connections and descriptor numbers. */
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/socket.h>

#include "model.h"

static bool can_talk(const struct model *m, int c)
{
	return conn_live(m, c);
}

void motif_conn(struct model *m)
{
	struct step *st;
	struct mconn *k;
	int c = m->nconn, fd, listener = -1;

	if (m->in_child || c >= MAX_CONNS || fd_free_count(m, FD_FIRST) < 4)
		return;
	k = &m->conn[m->nconn++];
	k->used = true;
	k->family = rng_chance(&m->r, 50) ? FAM_TCP : FAM_UNIX;
	m->sc->family[c] = k->family;
	st = add_step(m, OP_CONN);
	st->conn = (int16_t)c;
	st->a = k->family;
	st->b = rng_chance(&m->r, 40);
	if (st->b) { /* the listener takes a number until the accept */
		listener = fd_alloc(m, 0);
		m->fd[listener].kind = MK_OBJ;
	}
	fd = fd_alloc(m, 0);
	if (listener >= 0)
		m->fd[listener].kind = MK_FREE;
	fd_set_conn(m, fd, c, false);
	st->expect = (int16_t)fd;
	st->expect2 = (int16_t)listener;
	if (rng_chance(&m->r, 30)) {
		do_peer_send(m, c, rng_range(&m->r, 1, 2000));
		do_recv(m, c, fd);
	}
}

static void talk_once(struct model *m, int c)
{
	struct mconn *k = &m->conn[c];
	int fd = conn_alias(m, c);

	switch (rng_below(&m->r, 4)) {
	case 0:
		do_send(m, c, fd, rng_chance(&m->r, 70) ? rng_range(&m->r, 1, 2000)
							 : rng_range(&m->r, 2000, 16384));
		break;
	case 1:
		do_recv(m, c, fd);
		break;
	case 2:
		do_peer_send(m, c, rng_range(&m->r, 1, 8000));
		break;
	default:
		do_peer_recv(m, c, k->to_peer ? rng_range(&m->r, 1, k->to_peer) : 0);
		break;
	}
}

/* O_NONBLOCK on the file (every copy has it): read() then never waits. */
static void set_nonblock(struct model *m, int c)
{
	struct step *st = add_step(m, OP_NONBLOCK);

	st->fd = (int16_t)conn_alias(m, c);
	st->conn = (int16_t)c;
	st->a = 1;
	m->conn[c].nonblock = true;
}

void motif_talk(struct model *m)
{
	int c = pick_conn(m, can_talk), n = (int)rng_range(&m->r, 1, 4);

	if (c < 0) {
		motif_conn(m);
		return;
	}
	if (!m->conn[c].nonblock && !m->conn[c].pumped && rng_chance(&m->r, 15))
		set_nonblock(m, c);
	for (int i = 0; i < n && conn_live(m, c); i++)
		talk_once(m, c);
}

/* Where dup2()/dup3() put the copy: a free number, one in use (an implicit
 * close), the top quarter where resetguard keeps its own, or the same. */
static int dup_target(struct model *m, int fd)
{
	int t, floor = model_floor(m);

	switch (rng_below(&m->r, 10)) {
	case 0:
	case 1:
	case 2:
		return pick_free_below(m, FD_FIRST, 48);
	case 3:
	case 4:
		t = (int)rng_range(&m->r, FD_FIRST, (uint32_t)fd_max_used(m, floor));
		return m->fd[t].kind == MK_FREE ? pick_fd(m, MK_CONN) : t;
	case 5:
	case 6:
		t = floor + (int)rng_below(&m->r, 6);
		return t < m->limit ? t : -1;
	case 7:
		return fd;
	default:
		return pick_fd(m, rng_chance(&m->r, 50) ? MK_CONN : MK_OBJ);
	}
}

static int dup_numbered(struct model *m, struct step *st, int fd, int c)
{
	int target = dup_target(m, fd);
	bool cloexec;

	if (target < 0 || target < FD_FIRST)
		return -1;
	st->fd2 = (int16_t)target;
	if (st->a == DK_DUP3 && rng_chance(&m->r, 50))
		st->b = O_CLOEXEC;
	if (target == fd)
		return st->a == DK_DUP2 ? fd : -1; /* dup3 refuses: EINVAL */
	cloexec = st->b == O_CLOEXEC;
	fd_release(m, target);
	fd_set_conn(m, target, c, cloexec);
	return target;
}

/* A copy of a connection's descriptor; returns the new number or -1. */
static int dup_conn(struct model *m, int c, int kind)
{
	int fd = conn_alias(m, c), nfd;
	struct step *st = add_step(m, OP_DUP);

	st->fd = (int16_t)fd;
	st->conn = (int16_t)c;
	st->a = (uint32_t)kind;
	if (kind == DK_DUP2 || kind == DK_DUP3)
		return st->expect = (int16_t)dup_numbered(m, st, fd, c);
	st->fd2 = (int16_t)(kind == DK_DUP ? 0 : rng_range(&m->r, FD_FIRST, 40));
	nfd = fd_alloc(m, st->fd2);
	if (nfd >= 0)
		fd_set_conn(m, nfd, c, kind == DK_DUPFD_CLOEXEC);
	return st->expect = (int16_t)nfd;
}

void motif_dup(struct model *m)
{
	int c = pick_conn(m, can_talk), nfd;

	if (c < 0 || fd_free_count(m, FD_FIRST) < 3) {
		motif_conn(m);
		return;
	}
	nfd = dup_conn(m, c, (int)rng_below(&m->r, DK_COUNT));
	if (nfd >= 0 && conn_live(m, c) && rng_chance(&m->r, 50))
		do_send(m, c, nfd, rng_range(&m->r, 1, 3000));
}

/* dup2() from a closed number onto a socket fails with EBADF and must
 * leave the socket exactly as it was. */
void motif_dup2_bad(struct model *m)
{
	int c = pick_conn(m, can_talk), bad;
	struct step *st;

	if (c < 0 || (bad = pick_free_below(m, FD_FIRST, 64)) < 0)
		return;
	st = add_step(m, OP_DUP);
	st->a = rng_chance(&m->r, 70) ? DK_DUP2 : DK_DUP3;
	st->fd = (int16_t)bad;
	st->fd2 = (int16_t)conn_alias(m, c);
	st->conn = (int16_t)c;
	do_send(m, c, st->fd2, rng_range(&m->r, 1, 3000));
	do_peer_recv(m, c, m->conn[c].to_peer);
	do_recv(m, c, st->fd2);
}

/* A connection lingers (with the library); another is copied onto a
 * number in the top quarter, which may be one the drainer holds; then the
 * lingering one ends, and the copy must still work. */
void motif_dup2_high(struct model *m)
{
	int gone = pick_conn(m, can_talk), c, fd, target;
	struct step *st;

	if (gone >= 0 && !m->in_child)
		do_close_conn(m, gone);
	c = pick_conn(m, can_talk);
	if (c < 0)
		return;
	fd = conn_alias(m, c);
	target = model_floor(m) + (int)(rng_chance(&m->r, 50) ? 3 : rng_below(&m->r, 6));
	if (target >= m->limit)
		return;
	st = add_step(m, OP_DUP);
	st->a = rng_chance(&m->r, 75) ? DK_DUP2 : DK_DUP3;
	st->fd = (int16_t)fd;
	st->fd2 = st->expect = (int16_t)target;
	st->conn = (int16_t)c;
	fd_release(m, target);
	fd_set_conn(m, target, c, false);
	if (gone >= 0 && !m->in_child)
		do_peer_close(m, gone, PC_DRAIN_FIN);
	do_send(m, c, target, rng_range(&m->r, 1, 3000));
	do_peer_recv(m, c, m->conn[c].to_peer);
}

/* What the peer does once the program has let go. */
static void after_release(struct model *m, int c)
{
	switch (rng_below(&m->r, 4)) {
	case 0:
		do_peer_send(m, c, rng_range(&m->r, 1, 8000));
		break;
	case 1:
		do_peer_close(m, c, rng_chance(&m->r, 50) ? PC_DRAIN_FIN : PC_FIN);
		break;
	default:
		break;
	}
}

static void close_range_step(struct model *m)
{
	int lo = pick_fd(m, rng_chance(&m->r, 70) ? MK_CONN : MK_OBJ), hi;
	struct step *st;

	if (lo < 0)
		return;
	hi = rng_chance(&m->r, 10) ? 65535 : lo + (int)rng_below(&m->r, 5);
	st = add_step(m, OP_CLOSE_RANGE);
	st->fd = (int16_t)lo;
	st->fd2 = (int16_t)(hi > 32767 ? 32767 : hi);
	st->a = rng_chance(&m->r, 20) ? CLOSE_RANGE_CLOEXEC : 0;
	for (int fd = lo; fd <= hi && fd < MAX_FDS; fd++) {
		if (st->a)
			m->fd[fd].cloexec = m->fd[fd].kind != MK_FREE;
		else
			fd_release(m, fd);
	}
}

void motif_close(struct model *m)
{
	int c = pick_conn(m, can_talk), pick = (int)rng_below(&m->r, 10);

	if (c < 0 && pick < 7) {
		motif_conn(m);
		return;
	}
	if (pick < 4) {
		do_close(m, conn_alias(m, c));
	} else if (pick < 7) {
		do_close_conn(m, c);
	} else if (pick < 8) {
		close_range_step(m);
	} else if (pick < 9) {
		int fd = pick_free_below(m, FD_FIRST, 64);

		if (fd >= 0)
			add_step(m, OP_CLOSE)->fd = (int16_t)fd; /* EBADF */
	} else {
		int fd = pick_fd(m, MK_OBJ);

		if (fd >= 0)
			do_close(m, fd);
	}
	if (c >= 0 && m->conn[c].released)
		after_release(m, c);
}

void motif_peer_end(struct model *m)
{
	int c = pick_conn(m, can_talk), fd;
	static const int hows[] = { PC_FIN, PC_RST, PC_SHUT_WR };

	if (c < 0) {
		motif_conn(m);
		return;
	}
	do_peer_close(m, c, hows[rng_below(&m->r, 3)]);
	fd = conn_alias(m, c);
	if (rng_chance(&m->r, 60))
		do_recv(m, c, fd);
	if (rng_chance(&m->r, 50))
		do_send(m, c, fd, rng_range(&m->r, 1, 2000));
	if (rng_chance(&m->r, 30))
		do_send(m, c, fd, rng_range(&m->r, 1, 2000));
}

static bool can_pump(const struct model *m, int c)
{
	const struct mconn *k = &m->conn[c];

	/* MSG_WAITALL waits only on a blocking file.  After the program's
	 * FIN, the peer reads EOF even past a reset, and only the pump's send
	 * would see the reset, if it still runs: a matter of time. */
	return conn_live(m, c) && !k->pumped && !k->async && k->regs == 0 && !k->peer_fin &&
	       !k->lost && !k->nonblock && !k->prog_shut_wr && !m->in_child;
}

/* The peer sends a lot in the background and never reads; the program
 * reads some, then closes while it pumps (a reset without the library:
 * the pump goes on until it meets it), or the pump stops with bytes
 * still unread.  A pump never outlives its motif: when it stops is a
 * matter of time. */
void motif_pump(struct model *m)
{
	int c = pick_conn(m, can_pump), reads = (int)rng_below(&m->r, 3);
	struct mconn *k;
	struct step *st;

	if (c < 0)
		return;
	k = &m->conn[c];
	st = add_step(m, OP_PEER_PUMP);
	st->conn = (int16_t)c;
	st->n = (int32_t)rng_range(&m->r, 65536, 1 << 20);
	k->pumped = true;
	k->to_prog += (uint32_t)st->n;
	for (int i = 0; i < reads; i++)
		do_recv(m, c, conn_alias(m, c));
	if (rng_chance(&m->r, 40)) {
		do_close_conn(m, c);
		return;
	}
	add_step(m, OP_PEER_STOP)->conn = (int16_t)c;
	k->lost = true;
	k->to_prog = 0;
	if (rng_chance(&m->r, 50))
		do_peer_close(m, c, PC_SHUT_WR);
}

void motif_obj(struct model *m)
{
	struct step *st;

	if (m->in_child || fd_free_count(m, FD_FIRST) < 4)
		return;
	st = add_step(m, OP_OBJ);
	st->a = rng_below(&m->r, OK_COUNT);
	st->expect = (int16_t)fd_alloc(m, 0);
	m->fd[st->expect].kind = MK_OBJ;
	if (st->a == OK_PIPE) {
		st->expect2 = (int16_t)fd_alloc(m, 0);
		m->fd[st->expect2].kind = MK_OBJ;
	}
}

void motif_shutdown(struct model *m)
{
	int c = pick_conn(m, can_talk);
	struct mconn *k;
	struct step *st;

	if (c < 0)
		return;
	k = &m->conn[c];
	st = add_step(m, OP_SHUTDOWN);
	st->fd = (int16_t)conn_alias(m, c);
	st->conn = (int16_t)c;
	st->a = rng_chance(&m->r, 60) || k->pumped ? SHUT_WR : rng_chance(&m->r, 50) ? SHUT_RD : SHUT_RDWR;
	if (st->a != SHUT_RD)
		k->prog_shut_wr = true;
	/* After SHUT_RD an AF_UNIX peer can no longer send, and a TCP read
	 * ends at once: no more data from the peer either way. */
	if (st->a != SHUT_WR)
		k->peer_fin = true;
	/* A pump's bytes stop being queued somewhere after SHUT_RD. */
	if (st->a != SHUT_WR && k->pumped)
		k->lost = true;
	if (rng_chance(&m->r, 50))
		do_recv(m, c, st->fd);
}
