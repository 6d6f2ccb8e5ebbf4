/* The scenario for a seed: a few connections, then a random series of
 * motifs (small stories: talk, copy a descriptor, close with epoll
 * registrations left behind, fork, ...), then the program leaves by exit or
 * exec.  The steps the motifs share are here. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "model.h"

/* Sends at most this much unread per connection, so that every send fits
 * at once and EPOLLOUT never depends on how fast the peer's kernel acks. */
#define UNREAD_MAX (24 * 1024)

static bool send_fails(const struct mconn *k)
{
	return k->reset || k->prog_shut_wr || (k->family == FAM_UNIX && k->peer_gone);
}

/* A send that may raise SIGPIPE gets MSG_NOSIGNAL most of the time, so that
 * few scenarios end early without the library (a death by SIGPIPE ends
 * what can be compared). */
static void send_flags(struct model *m, struct step *st, bool may_fail)
{
	bool nosig = may_fail && m->sc->sigpipe == SP_DEFAULT && rng_chance(&m->r, 85);

	st->a = (uint32_t)rng_below(&m->r, SH_COUNT);
	if (nosig && (st->a == SH_WRITE || st->a == SH_WRITEV))
		st->a = SH_SEND;
	if (st->a != SH_WRITE && st->a != SH_WRITEV) {
		if (nosig || rng_chance(&m->r, 20))
			st->b |= MSG_NOSIGNAL;
		if (rng_chance(&m->r, 30))
			st->b |= MSG_DONTWAIT;
	}
}

void do_send(struct model *m, int c, int fd, uint32_t n)
{
	struct mconn *k = &m->conn[c];
	bool fails = send_fails(k), rst_back = !fails && k->peer_gone;
	struct step *st;

	if (!fails && k->to_peer + n > UNREAD_MAX)
		return;
	st = add_step(m, OP_SEND);
	st->fd = (int16_t)fd;
	st->conn = (int16_t)c;
	st->n = (int32_t)n;
	send_flags(m, st, fails || rst_back);
	/* Data for a peer that has closed: it answers with a reset, which
	 * the step waits for. */
	st->c = rst_back;
	if (rst_back) {
		k->reset = k->lost = true;
		k->to_prog = 0;
	} else if (!fails) {
		k->to_peer += n;
	}
}

static void recv_exact(struct model *m, struct step *st, struct mconn *k)
{
	st->b = RM_EXACT;
	st->n = (int32_t)rng_range(&m->r, 1, k->to_prog < 65536 ? k->to_prog : 65536);
	/* While a pump runs, what has arrived is a matter of time: only
	 * MSG_WAITALL makes the count certain. */
	if (k->pumped)
		st->a = (uint32_t)(rng_chance(&m->r, 50) ? RH_RECV : RH_RECVMSG);
	k->to_prog -= (uint32_t)st->n;
}

void do_recv(struct model *m, int c, int fd)
{
	struct mconn *k = &m->conn[c];
	struct step *st;

	/* Bytes on their way in unknown number, and no end in sight: no
	 * receive has a result that is certain. */
	if (k->lost && k->to_prog == 0 && !k->peer_fin && !k->reset)
		return;
	st = add_step(m, OP_RECV);
	st->fd = (int16_t)fd;
	st->conn = (int16_t)c;
	st->a = (uint32_t)rng_below(&m->r, RH_COUNT);
	if (!k->lost && k->to_prog > 0) {
		recv_exact(m, st, k);
	} else if (k->peer_fin || k->reset || k->lost) {
		st->b = RM_END;
		st->n = 65536;
		st->c = !k->lost; /* the total is certain */
		k->to_prog = 0;
		k->lost = false;
	} else {
		st->b = RM_EMPTY;
		st->n = 4096;
		/* read() and readv() take no MSG_DONTWAIT. */
		if (!k->nonblock && (st->a == RH_READ || st->a == RH_READV))
			st->a = RH_RECV;
	}
}

void do_peer_send(struct model *m, int c, uint32_t n)
{
	struct mconn *k = &m->conn[c];
	struct step *st;

	if (k->peer_fin || k->pumped || k->auto_close || (!k->released && k->to_prog + n > 32768))
		return;
	st = add_step(m, OP_PEER_SEND);
	st->conn = (int16_t)c;
	st->n = (int32_t)n;
	st->b = k->released;
	if (!k->released) {
		k->to_prog += n;
		st->fd = (int16_t)conn_alias(m, c);
		st->c = k->to_prog;
	}
}

void do_peer_recv(struct model *m, int c, uint32_t n)
{
	struct mconn *k = &m->conn[c];
	struct step *st;

	if (n == 0 || n > k->to_peer || k->peer_gone || k->auto_close)
		return;
	st = add_step(m, OP_PEER_RECV);
	st->conn = (int16_t)c;
	st->n = (int32_t)n;
	st->b = k->released;
	k->to_peer -= n;
}

/* FIN with data the peer never read is a reset too. */
void do_peer_close(struct model *m, int c, int how)
{
	struct mconn *k = &m->conn[c];
	struct step *st;

	if (k->peer_gone || k->auto_close || (how == PC_SHUT_WR && k->peer_fin))
		return;
	st = add_step(m, OP_PEER_CLOSE);
	st->conn = (int16_t)c;
	st->a = (uint32_t)how;
	st->b = k->released;
	st->fd = (int16_t)(k->released ? -1 : conn_alias(m, c));
	/* A pump may have filled the window: a FIN then waits for the program
	 * to read, and only a reset can be waited for. */
	if (k->pumped && (how == PC_SHUT_WR || (how == PC_FIN && !k->to_peer)))
		st->fd = -1;
	if (k->pumped)
		k->lost = true;
	k->peer_fin = true;
	if (how == PC_SHUT_WR)
		return;
	k->peer_gone = true;
	if (how == PC_RST || (k->to_peer > 0 && how != PC_DRAIN_FIN)) {
		k->reset = k->lost = true;
		k->to_prog = 0;
	}
	k->to_peer = 0;
}

void do_close(struct model *m, int fd)
{
	struct step *st = add_step(m, OP_CLOSE);

	st->fd = (int16_t)fd;
	fd_release(m, fd);
}

/* Every descriptor of the connection, closed one by one. */
void do_close_conn(struct model *m, int c)
{
	int16_t list[MAX_LIST];
	int n = c < 0 ? 0 : conn_aliases(m, c, list, MAX_LIST);

	for (int i = 0; i < n; i++)
		do_close(m, list[i]);
}

void do_epoll_wait(struct model *m, int e)
{
	struct step *st;

	if (e < 0 || !m->ep[e].live || m->ep[e].sentinel < 0)
		return;
	st = add_step(m, OP_EPOLL_WAIT);
	st->fd = (int16_t)m->ep[e].fd;
	st->fd2 = (int16_t)m->ep[e].sentinel;
}

struct motif {
	void (*run)(struct model *m);
	int weight;
};

static const struct motif motifs[] = {
	{ motif_conn, 10 },	   { motif_talk, 14 },	    { motif_dup, 8 },
	{ motif_dup2_bad, 3 },	   { motif_dup2_high, 4 },  { motif_close, 10 },
	{ motif_peer_end, 6 },	   { motif_pump, 3 },	    { motif_obj, 3 },
	{ motif_epoll, 8 },	   { motif_epoll_close, 8 }, { motif_epoll_misc, 4 },
	{ motif_async, 5 },	   { motif_fork, 5 },	    { motif_thread_send, 2 },
	{ motif_thread_recv, 2 },  { motif_storm, 2 },	    { motif_rlimit, 3 },
	{ motif_uring, 2 },	   { motif_shutdown, 3 },
};

static void run_motif(struct model *m)
{
	int total = 0, pick;

	for (size_t i = 0; i < sizeof(motifs) / sizeof(motifs[0]); i++)
		total += motifs[i].weight;
	pick = (int)rng_below(&m->r, (uint32_t)total);
	for (size_t i = 0; i < sizeof(motifs) / sizeof(motifs[0]); i++) {
		pick -= motifs[i].weight;
		if (pick < 0) {
			motifs[i].run(m);
			return;
		}
	}
}

void gen_scenario(struct scenario *sc, uint64_t seed)
{
	static struct model m;
	int count;

	model_init(&m, sc, seed);
	sc->sigpipe = rng_chance(&m.r, 60) ? SP_DEFAULT : rng_chance(&m.r, 50) ? SP_IGNORE : SP_HANDLER;
	motif_conn(&m);
	if (rng_chance(&m.r, 60))
		motif_conn(&m);
	count = (int)rng_range(&m.r, 6, 16);
	for (int i = 0; i < count && sc->nsteps < MAX_STEPS - 90; i++)
		run_motif(&m);
	motif_final(&m);
}
