/* The program side and its peers talk over two pipes: a command, then its
 * reply, one at a time, each a fixed-size message written with one write()
 * (well under PIPE_BUF, so a forked child and its parent never interleave).
 * The supervisor shares the command pipe to send P_FINAL once the program
 * has ended. */
#ifndef ORACLE_PROTO_H
#define ORACLE_PROTO_H

#include <stdint.h>

enum peer_op {
	P_ACCEPT,    /* conn a=family: accept the program's connection */
	P_CONNECT,   /* conn a=family b=port (TCP) or path: connect to the program */
	P_SEND,	     /* conn a=bytes: send at once (it fits) */
	P_RECV,	     /* conn a=bytes: read exactly that many, or to the end */
	P_CLOSE,     /* conn a=enum peer_close */
	P_PUMP,	     /* conn a=bytes: send them in the background */
	P_AUTO,	     /* conn: read to EOF in the background, then close */
	P_STOP,	     /* conn: stop the pump, leaving at least a byte unread */
	P_FINAL,     /* read every connection to its end, report, exit */
};

struct peer_cmd {
	uint32_t op, conn;
	int64_t a, b;
	char path[112];
};

/* end: how the connection ended as far as the peer has seen. */
enum peer_end { END_OPEN, END_EOF, END_ERROR, END_SELF };

struct peer_reply {
	int64_t ret;	 /* bytes, or -1 */
	int32_t err;	 /* errno of the failure */
	int32_t ok;	 /* every byte read was the expected one */
	int32_t end;	 /* enum peer_end after the command */
	int32_t end_err; /* the errno that ended it */
};

/* The peer's first words: where it listens. */
struct peer_hello {
	uint32_t tcp_port;
};

#endif
