/* The program side: the process that runs under the library (or not) and
 * executes the scenario's steps. */
#ifndef ORACLE_PROG_H
#define ORACLE_PROG_H

#include <stdatomic.h>

#include "oracle.h"
#include "proto.h"

/* Shared with threads and forked children (MAP_SHARED): where each stream
 * is, so that a byte sent by a child continues the parent's pattern. */
struct shared {
	_Atomic uint64_t tx[MAX_CONNS]; /* bytes the program has sent */
	_Atomic uint64_t rx[MAX_CONNS]; /* bytes the program has read */
	_Atomic int64_t child_exit_ns;	/* when the child called exit */
	_Atomic int go;			/* the child may start */
	_Atomic long storm_ret;		/* a storm child's send */
	_Atomic int storm_err;
};

extern struct shared *shm;
extern const struct scenario *scen;
extern char cur_ctx;	 /* 'm' the main process, 'c' a forked child */
extern bool async_used; /* signals may arrive: look for them after each step */
extern int orig_limit;
extern bool leaving; /* the scenario returns from main */
extern int leave_status;

/* prog.c */
struct peer_reply peer_call(uint32_t op, int conn, int64_t a, int64_t b, const char *path);
void peer_line(struct line *l, const struct peer_reply *r);
void wait_events(int fd, short events);
void wait_unread(int fd, uint32_t bytes);
void wait_blocked(pid_t tid, long syscall_nr, _Atomic int *done);
void quiesce(void);
pid_t tid_self(void);
int pidfd_wait(pid_t pid, int timeout_ms, int *status);
void run_steps(int from, int to);
extern const char *prog_dir;

/* act_sock.c */
void act_conn(const struct step *st, int i);
void act_send(const struct step *st, int i);
void act_recv(const struct step *st, int i);
void act_shutdown(const struct step *st, int i);
void act_nonblock(const struct step *st, int i);
void act_dup(const struct step *st, int i);
void act_close(const struct step *st, int i);
void act_close_range(const struct step *st, int i);
void act_obj(const struct step *st, int i);
void act_peer(const struct step *st, int i);
void close_list(const struct step *st, int i);

/* act_event.c */
void act_epoll_create(const struct step *st, int i);
void act_epoll_ctl(const struct step *st, int i);
void act_epoll_wait(const struct step *st, int i);
void act_async(const struct step *st, int i);
void signals_setup(int sigpipe);
void harvest_signals(int i);
int sigpipe_count(void);

/* act_proc.c */
void act_fork(int i);
void act_child_end(const struct step *st, int i);
void act_thread_send(const struct step *st, int i);
void act_thread_recv(const struct step *st, int i);
void act_storm(const struct step *st, int i);
void act_rlimit(const struct step *st, int i);
void act_fill(const struct step *st, int i);
void act_exec(const struct step *st, int i);
void act_exit(const struct step *st, int i);

/* act_uring.c */
void act_uring(const struct step *st, int i);

#endif
