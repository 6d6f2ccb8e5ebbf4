/* The generator's model of the run WITHOUT the library: which number holds
 * what (the kernel gives the lowest free one), how many bytes are unread on
 * each side of each connection, what each peer has done.  It only has to be
 * right where a wrong guess would make a step's result depend on timing:
 * a receive is exact only when the bytes are known to be there, a send is
 * blocking only when it fits.  `oracle check --selfcheck` proves it. */
#ifndef ORACLE_MODEL_H
#define ORACLE_MODEL_H

#include "oracle.h"

enum mkind { MK_FREE, MK_CTRL, MK_CONN, MK_EPOLL, MK_SENTINEL, MK_OBJ };

struct mfd {
	uint8_t kind, cloexec;
	int8_t conn, ep;
};

struct mconn {
	bool used;
	uint8_t family;
	bool released;	   /* the program's last descriptor is gone */
	bool peer_fin;	   /* the peer sent FIN (shutdown or close) */
	bool peer_gone;	   /* the peer closed its socket */
	bool reset;	   /* the program's side was reset: sends fail */
	bool prog_shut_wr; /* the program shut down its sending side */
	bool pumped;	   /* the peer sent in the background: arrival times unknown */
	bool lost;	   /* how much is unread is unknown */
	bool async;	   /* O_ASYNC is set on it */
	bool nonblock;	   /* O_NONBLOCK is set on it */
	bool auto_close;   /* the peer reads and closes by itself */
	int regs;	   /* live epoll registrations */
	uint32_t to_peer;  /* sent by the program, not yet read by the peer */
	uint32_t to_prog;  /* sent by the peer, not yet read by the program */
};

struct mep {
	bool live;
	int fd, sentinel;
};

struct mreg {
	bool live;
	int ep, fd, conn;
	uint32_t events;
};

#define MAX_EPS 3
#define MAX_REGS 24

struct model {
	struct rng r;
	struct scenario *sc;
	struct mfd fd[MAX_FDS];
	struct mfd parent_fd[MAX_FDS]; /* the parent's table while a child runs */
	bool in_child;
	struct mconn conn[MAX_CONNS];
	int nconn;
	struct mep ep[MAX_EPS];
	int nep;
	struct mreg reg[MAX_REGS];
	int nreg;
	int limit; /* the soft RLIMIT_NOFILE */
	bool stormed, exec_done;
};

/* model.c */
void model_init(struct model *m, struct scenario *sc, uint64_t seed);
struct step *add_step(struct model *m, int op);
int model_floor(const struct model *m);
int fd_alloc(struct model *m, int lo);
int fd_free_count(const struct model *m, int lo);
int fd_max_used(const struct model *m, int below);
void fd_set_conn(struct model *m, int fd, int conn, bool cloexec);
void fd_release(struct model *m, int fd);
void conn_release_unheld(struct model *m, int c);
int conn_aliases(const struct model *m, int conn, int16_t *list, int max);
int conn_alias(struct model *m, int conn);
bool conn_held(const struct model *m, int conn);
int pick_conn(struct model *m, bool (*ok)(const struct model *, int));
int pick_fd(struct model *m, int kind);
int pick_free_below(struct model *m, int lo, int hi);
bool conn_live(const struct model *m, int c);
bool conn_quiet(const struct model *m, int c);

/* motifs.c, motifs2.c: one small story each, a few steps long. */
void motif_conn(struct model *m);
void motif_talk(struct model *m);
void motif_dup(struct model *m);
void motif_dup2_bad(struct model *m);
void motif_dup2_high(struct model *m);
void motif_close(struct model *m);
void motif_peer_end(struct model *m);
void motif_pump(struct model *m);
void motif_obj(struct model *m);
void motif_epoll(struct model *m);
void motif_epoll_close(struct model *m);
void motif_epoll_misc(struct model *m);
void motif_async(struct model *m);
void motif_fork(struct model *m);
void motif_thread_send(struct model *m);
void motif_thread_recv(struct model *m);
void motif_storm(struct model *m);
void motif_rlimit(struct model *m);
void motif_uring(struct model *m);
void motif_shutdown(struct model *m);
void motif_final(struct model *m);

/* Steps the motifs share. */
void do_send(struct model *m, int c, int fd, uint32_t n);
void do_recv(struct model *m, int c, int fd);
void do_peer_send(struct model *m, int c, uint32_t n);
void do_peer_recv(struct model *m, int c, uint32_t n);
void do_peer_close(struct model *m, int c, int how);
void do_close(struct model *m, int fd);
void do_close_conn(struct model *m, int c);
void do_epoll_wait(struct model *m, int e);

#endif
