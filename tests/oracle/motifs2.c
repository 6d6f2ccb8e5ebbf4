/* Motifs on epoll, signals, processes, threads and limits. */
#include <string.h>
#include <sys/epoll.h>

#include "model.h"

static bool can_watch(const struct model *m, int c)
{
	return conn_live(m, c) && !m->conn[c].pumped && !m->in_child;
}

static int epoll_pick(struct model *m)
{
	int cand[MAX_EPS], n = 0;

	for (int e = 0; e < m->nep; e++)
		if (m->ep[e].live && m->ep[e].sentinel >= 0)
			cand[n++] = e;
	return n ? cand[rng_below(&m->r, (uint32_t)n)] : -1;
}

static int epoll_new(struct model *m)
{
	struct step *st;
	struct mep *e;

	if (m->nep >= MAX_EPS || fd_free_count(m, FD_FIRST) < 4)
		return -1;
	e = &m->ep[m->nep];
	st = add_step(m, OP_EPOLL_CREATE);
	e->live = true;
	e->fd = st->expect = (int16_t)fd_alloc(m, 0);
	m->fd[e->fd] = (struct mfd){ .kind = MK_EPOLL, .conn = -1, .ep = (int8_t)m->nep };
	e->sentinel = st->expect2 = (int16_t)fd_alloc(m, 0);
	m->fd[e->sentinel] = (struct mfd){ .kind = MK_SENTINEL, .conn = -1, .ep = (int8_t)m->nep };
	return m->nep++;
}

/* Level-triggered, edge-triggered (mostly with data.ptr, as nginx), one
 * shot, or exclusive. */
static uint32_t epoll_events(struct model *m, bool *ptr)
{
	uint32_t ev = 0, mode = rng_below(&m->r, 4);

	if (rng_chance(&m->r, 80))
		ev |= EPOLLIN;
	if (rng_chance(&m->r, 50))
		ev |= EPOLLOUT;
	if (mode != 3 && rng_chance(&m->r, 40))
		ev |= EPOLLRDHUP;
	if (!ev)
		ev = EPOLLIN;
	*ptr = rng_chance(&m->r, mode == 1 ? 80 : 30);
	if (mode == 1)
		return ev | EPOLLET;
	if (mode == 2)
		return ev | EPOLLONESHOT | (rng_chance(&m->r, 30) ? EPOLLET : 0);
	return mode == 3 ? ev | EPOLLEXCLUSIVE : ev;
}

static bool reg_exists(const struct model *m, int e, int fd, int c)
{
	for (int i = 0; i < m->nreg; i++)
		if (m->reg[i].live && m->reg[i].ep == e && m->reg[i].fd == fd && m->reg[i].conn == c)
			return true;
	return false;
}

static void epoll_add(struct model *m, int e, int c)
{
	struct step *st = add_step(m, OP_EPOLL_CTL);
	bool ptr;

	st->fd2 = (int16_t)m->ep[e].fd;
	st->fd = (int16_t)conn_alias(m, c);
	st->conn = (int16_t)c;
	st->a = EPOLL_CTL_ADD;
	st->b = epoll_events(m, &ptr);
	st->n = ptr;
	st->c = (uint32_t)m->sc->nsteps - 1; /* the tag: this step's index */
	if (reg_exists(m, e, st->fd, c) || m->nreg >= MAX_REGS)
		return;
	m->reg[m->nreg++] = (struct mreg){ .live = true, .ep = e, .fd = st->fd, .conn = c,
					   .events = st->b };
	m->conn[c].regs++;
}

void motif_epoll(struct model *m)
{
	int e = epoll_pick(m), n = (int)rng_range(&m->r, 1, 3);

	if (m->in_child)
		return;
	if (e < 0 || rng_chance(&m->r, 20))
		e = epoll_new(m);
	if (e < 0)
		return;
	for (int i = 0; i < n; i++) {
		int c = pick_conn(m, can_watch);

		if (c >= 0)
			epoll_add(m, e, c);
	}
	if (rng_chance(&m->r, 60))
		do_epoll_wait(m, e);
}

static int reg_pick(struct model *m)
{
	int cand[MAX_REGS], n = 0;

	for (int i = 0; i < m->nreg; i++) {
		const struct mreg *r = &m->reg[i];

		if (r->live && m->ep[r->ep].sentinel >= 0 && conn_live(m, r->conn))
			cand[n++] = i;
	}
	return n ? cand[rng_below(&m->r, (uint32_t)n)] : -1;
}

static void epoll_ctl_step(struct model *m, const struct mreg *r, int op, uint32_t events)
{
	struct step *st = add_step(m, OP_EPOLL_CTL);

	st->fd2 = (int16_t)m->ep[r->ep].fd;
	st->fd = (int16_t)r->fd;
	st->conn = (int16_t)r->conn;
	st->a = (uint32_t)op;
	st->b = events;
	st->c = (uint32_t)m->sc->nsteps - 1;
}

/* Closed with or without EPOLL_CTL_DEL first: either way, no event may
 * come for it afterwards; then the number is often reused. */
void motif_epoll_close(struct model *m)
{
	int i = reg_pick(m), e, c;

	if (m->in_child || i < 0) {
		motif_epoll(m);
		return;
	}
	e = m->reg[i].ep;
	c = m->reg[i].conn;
	if (rng_chance(&m->r, 40)) {
		epoll_ctl_step(m, &m->reg[i], EPOLL_CTL_DEL, 0);
		m->reg[i].live = false;
		m->conn[c].regs--;
	}
	do_close_conn(m, c);
	if (rng_chance(&m->r, 60))
		do_peer_send(m, c, rng_range(&m->r, 1, 8000));
	else if (rng_chance(&m->r, 50))
		do_peer_close(m, c, PC_DRAIN_FIN);
	do_epoll_wait(m, e);
	if (rng_chance(&m->r, 40)) {
		int before = m->nconn;

		motif_conn(m);
		if (m->nconn > before) {
			epoll_add(m, e, m->nconn - 1);
			do_epoll_wait(m, e);
		}
	}
}

void motif_epoll_misc(struct model *m)
{
	int i = reg_pick(m), pick = (int)rng_below(&m->r, 4);
	bool ptr;

	if (m->in_child)
		return;
	if (i < 0) {
		motif_epoll(m);
		return;
	}
	if (pick == 0) {
		epoll_ctl_step(m, &m->reg[i], EPOLL_CTL_MOD, epoll_events(m, &ptr) & ~(uint32_t)EPOLLEXCLUSIVE);
		m->sc->s[m->sc->nsteps - 1].n = ptr;
	} else if (pick == 1) {
		epoll_ctl_step(m, &m->reg[i], EPOLL_CTL_DEL, 0);
		m->reg[i].live = false;
		m->conn[m->reg[i].conn].regs--;
	} else if (pick == 2) {
		int fd = pick_fd(m, MK_OBJ);
		struct step *st;

		if (fd < 0)
			return;
		st = add_step(m, OP_EPOLL_CTL);
		st->fd2 = (int16_t)m->ep[m->reg[i].ep].fd;
		st->fd = (int16_t)fd;
		st->a = EPOLL_CTL_ADD;
		st->b = epoll_events(m, &ptr) & ~(uint32_t)EPOLLET;
		st->c = (uint32_t)m->sc->nsteps - 1;
	}
	do_epoll_wait(m, m->reg[i].ep);
}

static bool can_signal(const struct model *m, int c)
{
	return can_watch(m, c) && !m->conn[c].async;
}

/* O_ASYNC with F_SETOWN and F_SETSIG: once closed, no signal may name it. */
void motif_async(struct model *m)
{
	int c = pick_conn(m, can_signal);
	struct step *st;

	if (c < 0)
		return;
	st = add_step(m, OP_ASYNC);
	st->fd = (int16_t)conn_alias(m, c);
	st->conn = (int16_t)c;
	st->a = rng_below(&m->r, 3);
	m->conn[c].async = true;
	do_peer_send(m, c, rng_range(&m->r, 1, 4000));
	if (rng_chance(&m->r, 50)) {
		do_close_conn(m, c);
		do_peer_send(m, c, rng_range(&m->r, 1, 4000));
		if (rng_chance(&m->r, 50))
			do_peer_close(m, c, PC_DRAIN_FIN);
	}
}

static void child_motif(struct model *m)
{
	static void (*const child[])(struct model *) = {
		motif_talk, motif_talk, motif_dup, motif_close, motif_peer_end, motif_shutdown,
		motif_dup2_bad,
	};

	child[rng_below(&m->r, sizeof(child) / sizeof(child[0]))](m);
}

/* The child's copies go when it leaves: what only it held is released. */
static void child_leaves(struct model *m)
{
	static struct mfd child_fd[MAX_FDS];

	memcpy(child_fd, m->fd, sizeof(child_fd));
	memcpy(m->fd, m->parent_fd, sizeof(m->fd));
	m->in_child = false;
	for (int fd = 0; fd < MAX_FDS; fd++)
		if (child_fd[fd].kind == MK_CONN)
			conn_release_unheld(m, child_fd[fd].conn);
}

/* fork(); the parent may close its copy at once, as a fork-per-connection
 * server does; the child works on the connections and leaves, often with
 * some still open. */
void motif_fork(struct model *m)
{
	int c = pick_conn(m, conn_live), n = (int)rng_range(&m->r, 1, 3);
	struct step *st;

	if (m->in_child || c < 0)
		return;
	st = add_step(m, OP_FORK);
	memcpy(m->parent_fd, m->fd, sizeof(m->fd));
	if (rng_chance(&m->r, 50)) {
		st->nlist = (uint8_t)conn_aliases(m, c, st->list, MAX_LIST);
		for (int i = 0; i < st->nlist; i++)
			m->parent_fd[st->list[i]].kind = MK_FREE;
	}
	m->in_child = true;
	for (int i = 0; i < n; i++)
		child_motif(m);
	st = add_step(m, OP_CHILD_END);
	st->a = rng_chance(&m->r, 50) ? LH_EXIT : LH__EXIT;
	child_leaves(m);
}

static bool can_wait_on(const struct model *m, int c)
{
	return conn_quiet(m, c) && m->conn[c].to_prog == 0 && !m->conn[c].nonblock && !m->in_child;
}

/* The connection's descriptors, closed by the step itself. */
static void step_closes_all(struct model *m, struct step *st, int c)
{
	st->nlist = (uint8_t)conn_aliases(m, c, st->list, MAX_LIST);
	for (int i = 0; i < st->nlist; i++)
		fd_release(m, st->list[i]);
}

/* A thread blocked in a large send while the main thread closes. */
void motif_thread_send(struct model *m)
{
	int c = pick_conn(m, can_wait_on);
	struct step *st;

	if (c < 0)
		return;
	st = add_step(m, OP_THREAD_SEND);
	st->fd = (int16_t)conn_alias(m, c);
	st->conn = (int16_t)c;
	st->n = (int32_t)(m->conn[c].family == FAM_TCP ? rng_range(&m->r, 8, 12) << 20
						       : rng_range(&m->r, 1, 3) << 20);
	st->c = m->conn[c].to_peer;
	step_closes_all(m, st, c);
	m->conn[c].to_peer = 0;
}

/* A thread blocked in recv() while the main thread closes. */
void motif_thread_recv(struct model *m)
{
	int c = pick_conn(m, can_wait_on);
	struct step *st;

	if (c < 0)
		return;
	st = add_step(m, OP_THREAD_RECV);
	st->fd = (int16_t)conn_alias(m, c);
	st->conn = (int16_t)c;
	st->n = (int32_t)rng_range(&m->r, 1, 16384);
	step_closes_all(m, st, c);
	m->conn[c].peer_fin = true;
}

/* Threads write to a reset socket (resetguard logs each failure) while the
 * main thread forks: every child must run and leave. */
void motif_storm(struct model *m)
{
	int before = m->nconn, c;
	struct step *st;

	if (m->stormed || m->in_child)
		return;
	motif_conn(m);
	if (m->nconn == before)
		return;
	c = m->nconn - 1;
	do_peer_close(m, c, PC_RST);
	st = add_step(m, OP_STORM);
	st->fd = (int16_t)conn_alias(m, c);
	st->conn = (int16_t)c;
	st->a = rng_range(&m->r, 4, 8);
	st->b = rng_range(&m->r, 16, 40);
	m->stormed = true;
}

static void rlimit_step(struct model *m, int limit)
{
	add_step(m, OP_RLIMIT)->n = limit;
	m->limit = limit;
}

/* A low descriptor limit, sockets closed under it, then every kind of
 * descriptor-creating call until EMFILE. */
void motif_rlimit(struct model *m)
{
	int closes = (int)rng_below(&m->r, 3), fills = (int)rng_range(&m->r, 1, 3);

	if (m->in_child)
		return;
	if (m->limit < 1024) {
		rlimit_step(m, 1024);
		return;
	}
	rlimit_step(m, fd_max_used(m, 512) + 1 + (int)rng_range(&m->r, 6, 20));
	for (int i = 0; i < closes; i++)
		do_close_conn(m, pick_conn(m, conn_live));
	for (int i = 0; i < fills; i++)
		add_step(m, OP_FILL)->a = rng_chance(&m->r, 60) ? rng_below(&m->r, 4)
								 : rng_below(&m->r, FK_COUNT);
	if (rng_chance(&m->r, 40))
		rlimit_step(m, 1024);
}

/* The socket registered as an io_uring fixed file, then closed: the ring
 * still receives and sends on it. */
void motif_uring(struct model *m)
{
	int c = pick_conn(m, can_wait_on);
	struct step *st;

	if (c < 0)
		return;
	st = add_step(m, OP_URING);
	st->fd = (int16_t)conn_alias(m, c);
	st->conn = (int16_t)c;
	st->n = (int32_t)rng_range(&m->r, 1, 4096);
	st->c = m->conn[c].to_peer;
	step_closes_all(m, st, c);
	m->conn[c].to_peer = 0;
	m->conn[c].peer_fin = true;
}

static void final_exec(struct model *m, int style)
{
	struct step *st = add_step(m, OP_EXEC);

	st->a = rng_chance(&m->r, 50);
	st->b = (uint32_t)style;
	if (style != CA_NONE)
		return;
	for (int fd = model_floor(m); fd < MAX_FDS && st->nlist < MAX_LIST; fd++)
		if (m->fd[fd].kind != MK_FREE && !m->fd[fd].cloexec)
			st->list[st->nlist++] = (int16_t)fd;
}

/* Peers that read and close while the program leaves, or stay silent;
 * then exit or exec with whatever is still open. */
void motif_final(struct model *m)
{
	int style = rng_chance(&m->r, 55) ? CA_NONE : (int)rng_range(&m->r, 1, 3);
	struct step *st;

	/* Only where the program's last close is a FIN: with bytes left
	 * unread, whether the peer sees the FIN or the reset first would be a
	 * matter of time; and not after the program's own shutdown, which
	 * the peer would answer by closing at a time of its own. */
	for (int c = 0; c < m->nconn; c++) {
		const struct mconn *k = &m->conn[c];

		if (!conn_live(m, c) || k->to_prog || k->pumped || k->lost || k->async ||
		    k->prog_shut_wr || !rng_chance(&m->r, 50))
			continue;
		add_step(m, OP_PEER_AUTO)->conn = (int16_t)c;
		m->conn[c].auto_close = true;
	}
	if (rng_chance(&m->r, 40)) {
		final_exec(m, style);
		return;
	}
	st = add_step(m, OP_EXIT);
	st->a = rng_below(&m->r, 3);
	st->b = (uint32_t)style;
	st->n = (int32_t)rng_below(&m->r, 4);
}
