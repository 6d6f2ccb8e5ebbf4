/* The descriptor table and connection state of the generator's model. */
#include <err.h>
#include <string.h>

#include "model.h"

void model_init(struct model *m, struct scenario *sc, uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	memset(sc, 0, sizeof(*sc));
	rng_seed(&m->r, seed);
	m->sc = sc;
	sc->seed = seed;
	m->limit = 1024; /* the supervisor starts the program with it */
	for (int fd = 0; fd < FD_FIRST; fd++)
		m->fd[fd].kind = MK_CTRL;
	for (int fd = 0; fd < MAX_FDS; fd++)
		m->fd[fd].conn = m->fd[fd].ep = -1;
}

struct step *add_step(struct model *m, int op)
{
	struct scenario *sc = m->sc;
	struct step *st;

	if (sc->nsteps >= MAX_STEPS)
		errx(2, "seed %llu: more than %d steps", (unsigned long long)sc->seed, MAX_STEPS);
	st = &sc->s[sc->nsteps++];
	memset(st, 0, sizeof(*st));
	st->op = (uint8_t)op;
	st->child = m->in_child;
	st->fd = st->fd2 = st->conn = st->expect = st->expect2 = -1;
	return st;
}

/* The top quarter of min(RLIMIT_NOFILE, 1024): resetguard keeps its own
 * descriptors at the top, from the top down. */
int model_floor(const struct model *m)
{
	int top = m->limit < 1024 ? m->limit : 1024;

	return top - top / 4;
}

int fd_alloc(struct model *m, int lo)
{
	int top = m->limit < MAX_FDS ? m->limit : MAX_FDS;

	for (int fd = lo; fd < top; fd++)
		if (m->fd[fd].kind == MK_FREE)
			return fd;
	return -1;
}

int fd_free_count(const struct model *m, int lo)
{
	int top = m->limit < MAX_FDS ? m->limit : MAX_FDS, n = 0;

	for (int fd = lo; fd < top; fd++)
		n += m->fd[fd].kind == MK_FREE;
	return n;
}

int fd_max_used(const struct model *m, int below)
{
	int max = 0;

	for (int fd = 0; fd < below && fd < MAX_FDS; fd++)
		if (m->fd[fd].kind != MK_FREE)
			max = fd;
	return max;
}

void fd_set_conn(struct model *m, int fd, int conn, bool cloexec)
{
	m->fd[fd] = (struct mfd){ .kind = MK_CONN, .cloexec = cloexec, .conn = (int8_t)conn,
				  .ep = -1 };
}

bool conn_held(const struct model *m, int conn)
{
	for (int fd = 0; fd < MAX_FDS; fd++) {
		if (m->fd[fd].kind == MK_CONN && m->fd[fd].conn == conn)
			return true;
		if (m->in_child && m->parent_fd[fd].kind == MK_CONN && m->parent_fd[fd].conn == conn)
			return true;
	}
	return false;
}

/* The kernel's last close: epoll forgets the registrations. */
static void conn_release(struct model *m, int c)
{
	struct mconn *k = &m->conn[c];

	k->released = true;
	for (int i = 0; i < m->nreg; i++)
		if (m->reg[i].live && m->reg[i].conn == c) {
			m->reg[i].live = false;
			k->regs--;
		}
}

void conn_release_unheld(struct model *m, int c)
{
	if (!m->conn[c].released && !conn_held(m, c))
		conn_release(m, c);
}

static void ep_release(struct model *m, int e)
{
	m->ep[e].live = false;
	for (int i = 0; i < m->nreg; i++)
		if (m->reg[i].live && m->reg[i].ep == e) {
			m->reg[i].live = false;
			m->conn[m->reg[i].conn].regs--;
		}
}

void fd_release(struct model *m, int fd)
{
	struct mfd was;

	if (fd < FD_FIRST || fd >= MAX_FDS)
		return;
	was = m->fd[fd];
	m->fd[fd] = (struct mfd){ .kind = MK_FREE, .conn = -1, .ep = -1 };
	if (was.kind == MK_CONN && !conn_held(m, was.conn))
		conn_release(m, was.conn);
	else if (was.kind == MK_EPOLL)
		ep_release(m, was.ep);
	else if (was.kind == MK_SENTINEL)
		m->ep[was.ep].sentinel = -1;
}

int conn_aliases(const struct model *m, int conn, int16_t *list, int max)
{
	int n = 0;

	for (int fd = 0; fd < MAX_FDS && n < max; fd++)
		if (m->fd[fd].kind == MK_CONN && m->fd[fd].conn == conn)
			list[n++] = (int16_t)fd;
	return n;
}

/* One of the numbers the current process holds the connection under. */
int conn_alias(struct model *m, int conn)
{
	int16_t list[MAX_LIST];
	int n = conn_aliases(m, conn, list, MAX_LIST);

	return n ? list[rng_below(&m->r, (uint32_t)n)] : -1;
}

/* The program holds it, and nothing makes its readiness a matter of time. */
bool conn_live(const struct model *m, int c)
{
	const struct mconn *k = &m->conn[c];
	int16_t list[1];

	return k->used && !k->auto_close && conn_aliases(m, c, list, 1) > 0;
}

/* Live, open at both ends, no background traffic: threads and rings may
 * wait on it. */
bool conn_quiet(const struct model *m, int c)
{
	const struct mconn *k = &m->conn[c];

	return conn_live(m, c) && !k->pumped && !k->lost && !k->peer_fin && !k->reset &&
	       !k->prog_shut_wr && !k->async;
}

int pick_conn(struct model *m, bool (*ok)(const struct model *, int))
{
	int cand[MAX_CONNS] = { 0 }, n = 0;

	for (int c = 0; c < m->nconn; c++)
		if (ok(m, c))
			cand[n++] = c;
	return n ? cand[rng_below(&m->r, (uint32_t)n)] : -1;
}

int pick_fd(struct model *m, int kind)
{
	int cand[64] = { 0 }, n = 0;

	for (int fd = FD_FIRST; fd < MAX_FDS && n < 64; fd++)
		if (m->fd[fd].kind == kind)
			cand[n++] = fd;
	return n ? cand[rng_below(&m->r, (uint32_t)n)] : -1;
}

/* A number nothing holds, in [lo, hi). */
int pick_free_below(struct model *m, int lo, int hi)
{
	int cand[64] = { 0 }, n = 0;

	if (hi > m->limit)
		hi = m->limit;
	for (int fd = lo; fd < hi && n < 64; fd++)
		if (m->fd[fd].kind == MK_FREE)
			cand[n++] = fd;
	return n ? cand[rng_below(&m->r, (uint32_t)n)] : -1;
}
