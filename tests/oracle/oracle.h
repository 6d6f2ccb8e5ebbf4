/* The differential oracle: one scenario, generated from a seed, run without
 * and with resetguard; everything the program can observe is compared.
 *
 * Processes (main.c):
 *   oracle check SEED   the supervisor (super.c): runs the scenario twice and
 *                       compares (compare.c); never runs under the library
 *   oracle prog SEED    the program side (prog.c and act_*.c), with or
 *                       without LD_PRELOAD: it executes the steps and writes
 *                       one observation line per step on stdout
 *   oracle peer         the peers (peer.c), always without the library, driven
 *                       by the program side over two pipes
 *   oracle report ...   what the program execs at the end (report.c): it
 *                       reports what it inherited
 *   oracle show SEED    prints the scenario
 *
 * What is observed, and why each: every call's return value and errno, and
 * every descriptor number (the library must change none of them); epoll
 * events as (registration tag, mask), never raw pointers (a closed
 * socket's registration must be gone, as the kernel's last close removes
 * it); I/O signals as (number, si_fd, band) (no signal may name a closed
 * socket); how forked children end, and how long their exit took; what an
 * exec'd image inherited; the program's stderr; from the peers, the bytes
 * each connection brought (count, and whether each was the expected one,
 * in order) and how it ended; the delay of exec and exit, compared only
 * against a generous bound.  What the library may change is in one table,
 * allowed[] in compare.c.
 *
 * The scenario (gen.c) is a list of steps with concrete descriptor numbers:
 * the generator simulates the descriptor table of the run without the
 * library (lowest free number first), so a replay prints exactly what will
 * happen, and a run with the library that gets another number shows it. */
#ifndef ORACLE_H
#define ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_STEPS 220
#define MAX_CONNS 10
#define MAX_FDS 1024
#define MAX_LIST 8

/* Descriptors the supervisor hands the program side. */
#define FD_OBS 1    /* observation lines */
#define FD_CMD 3    /* commands to the peer */
#define FD_REPLY 4  /* the peer's replies */
#define FD_FIRST 5  /* the scenario's own numbers start here */

enum op {
	OP_CONN,	  /* conn; a family, b 1: the program accepts; expect fd, expect2 listener */
	OP_SEND,	  /* fd conn n; a how, b flags, c 1: a reset comes back */
	OP_RECV,	  /* fd conn n; a how, b mode */
	OP_SHUTDOWN,	  /* fd; a how */
	OP_NONBLOCK,	  /* fd; a on */
	OP_DUP,		  /* fd -> fd2; a kind, b flags; expect */
	OP_CLOSE,	  /* fd */
	OP_CLOSE_RANGE,	  /* fd..fd2; a flags */
	OP_OBJ,		  /* a kind; expect (expect2 for a pipe) */
	OP_PEER_SEND,	  /* conn n; fd the program's alias or -1; c unread after; b closed */
	OP_PEER_RECV,	  /* conn n; b closed */
	OP_PEER_CLOSE,	  /* conn; a how; fd alias or -1 */
	OP_PEER_PUMP,	  /* conn n */
	OP_PEER_AUTO,	  /* conn: the peer reads to EOF and closes, by itself */
	OP_PEER_STOP,	  /* conn: the pump stops, one byte after what it sent */
	OP_EPOLL_CREATE,  /* expect epoll, expect2 sentinel eventfd */
	OP_EPOLL_CTL,	  /* fd2 epoll, fd target; a ctl, b events, c tag, n 1: data.ptr */
	OP_EPOLL_WAIT,	  /* fd epoll, fd2 sentinel */
	OP_ASYNC,	  /* fd; a signal */
	OP_FORK,	  /* list: the parent closes these first; child steps follow */
	OP_CHILD_END,	  /* a how the child leaves */
	OP_THREAD_SEND,	  /* fd conn n; list closed meanwhile; c unread before */
	OP_THREAD_RECV,	  /* fd conn n; list closed meanwhile */
	OP_STORM,	  /* fd; a threads, b forks */
	OP_RLIMIT,	  /* n the new soft limit */
	OP_FILL,	  /* a kind */
	OP_URING,	  /* fd conn n; list closed meanwhile */
	OP_EXEC,	  /* a keep the library, b close-all style; list high numbers */
	OP_EXIT,	  /* a how, b close-all style, n status */
	OP_COUNT
};

enum family { FAM_TCP, FAM_UNIX };
enum send_how { SH_SEND, SH_WRITE, SH_SENDTO, SH_SENDMSG, SH_WRITEV, SH_COUNT };
enum recv_how { RH_RECV, RH_READ, RH_RECVFROM, RH_RECVMSG, RH_READV, RH_COUNT };
/* How a receive is made so that its result is the same every run. */
enum recv_mode {
	RM_EXACT, /* exactly n bytes are unread or on their way: MSG_WAITALL */
	RM_EMPTY, /* nothing unread: MSG_DONTWAIT */
	RM_END,	  /* read until EOF or an error; the count is not compared */
};
enum dup_kind { DK_DUP, DK_DUPFD, DK_DUPFD_CLOEXEC, DK_DUP2, DK_DUP3, DK_COUNT };
enum obj_kind { OK_EVENTFD, OK_PIPE, OK_FILE, OK_TIMERFD, OK_COUNT };
enum peer_close { PC_FIN, PC_RST, PC_SHUT_WR, PC_DRAIN_FIN };
enum fill_kind {
	FK_EPOLL, FK_EVENTFD, FK_TIMERFD, FK_MEMFD, FK_SOCKET, FK_OPEN, FK_PIPE, FK_DUP,
	FK_SIGNALFD, FK_INOTIFY, FK_SOCKETPAIR, FK_COUNT
};
enum leave_how { LH_EXIT, LH__EXIT, LH_RETURN };
enum close_all { CA_NONE, CA_CLOSE_RANGE, CA_PROC_LOOP, CA_CLOSEFROM };

struct step {
	uint8_t op, child; /* child: run by the forked child of the OP_FORK before */
	int16_t fd, fd2, conn, expect, expect2;
	int32_t n;
	uint32_t a, b, c;
	uint8_t nlist;
	int16_t list[MAX_LIST];
};

enum sigpipe_disp { SP_DEFAULT, SP_IGNORE, SP_HANDLER };

struct scenario {
	uint64_t seed;
	int sigpipe;
	int nsteps;
	uint8_t family[MAX_CONNS];
	struct step s[MAX_STEPS];
};

/* rng.c */
struct rng {
	uint64_t s;
};
void rng_seed(struct rng *r, uint64_t seed);
uint32_t rng_below(struct rng *r, uint32_t n);
bool rng_chance(struct rng *r, int percent);
uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi);

/* gen.c: the scenario for a seed. */
void gen_scenario(struct scenario *sc, uint64_t seed);
void show_step(const struct step *st, int index, char *buf, size_t size);
const char *op_name(int op);

/* The byte at offset off of a connection's stream in one direction (0: the
 * program sends, 1: the peer sends): what a receiver must get, in order. */
static inline uint8_t pattern_byte(int conn, int dir, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)(conn * 2 + dir + 1) << 52);

	x ^= x >> 31;
	return (uint8_t)(x >> 24);
}
void pattern_fill(uint8_t *buf, size_t len, int conn, int dir, uint64_t off);
bool pattern_check(const uint8_t *buf, size_t len, int conn, int dir, uint64_t off);

/* obs.c: observation lines, each written with one write(2). */
struct line {
	char buf[3072];
	size_t len;
};
void line_start(struct line *l, char ctx, int step, const char *verb);
void line_add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void line_ret(struct line *l, long ret, int err);
/* The call's result and its errno, read after the call (an argument list
 * has no order of evaluation). */
#define LINE_CALL(l, call)                             \
	do {                                           \
		long ret_ = (long)(call);              \
		line_ret((l), ret_, errno);            \
	} while (0)
void line_emit(struct line *l);
const char *errno_name(int err);
int64_t now_ns(void);

/* main.c */
extern const char *oracle_self; /* the path of this executable */

int super_main(int argc, char **argv);
int prog_main(int argc, char **argv);
int peer_main(int argc, char **argv);
int report_main(int argc, char **argv);
int compare_runs(uint64_t seed, char **a, int na, char **b, int nb, bool verbose, const char *label_b);

#endif
