/* Who else holds a socket.  shutdown() acts on the socket, not on the
 * descriptor, so resetguard may only shut down and drain a socket when the
 * descriptor being closed is the last one anywhere; and whatever another
 * holder bound to it under a number it has since released stays bound. */
#ifndef RG_SHARE_H
#define RG_SHARE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fdtable.h"

void rg_share_init(void);
uint32_t rg_share_new(void);
void rg_share_hold(uint32_t id);

/* What dropping one descriptor found. */
struct rg_share_drop {
	bool last;    /* it was the last in the fork family */
	bool tainted; /* a holder left bindings behind (rg_share_taint) */
	bool outside;  /* from outside the family: a holder there may remain */
	bool received; /* ... received with SCM_RIGHTS, not inherited at exec */
	bool sent;    /* a holder had sent data through a number it released */
};
struct rg_share_drop rg_share_drop(uint32_t id);
/* A holder released a number under which bindings stay (bindings.h): the
 * socket's last close must be plain. */
void rg_share_taint(const struct rg_fd *conn);
/* A holder releases a number through which it sent data (rg_share_sent),
 * before it drops its count. */
void rg_share_sent(const struct rg_fd *conn);
void rg_share_fork_prepare(void);
void rg_share_spawn(void);
void rg_share_passing(const struct msghdr *msg);
/* At load: sockets inherited across exec join the family's counts (the
 * family of the program this one was exec'd from, when it handed them
 * over). */
void rg_share_inherited(void);
/* Right before a (non-vfork) exec with envp, and after it failed. */
void rg_share_exec(char *const envp[]);
void rg_share_exec_failed(void);
/* Right before exec in a vfork() child. */
void rg_share_exec_vfork(char *const envp[]);

/* The counters of the family's processes named name (metrics.h), made
 * on first need; NULL when there is no shared map or no slot left. */
struct rg_family *rg_share_family(const char *name);

/* For a socket from outside the family (no slot, or the family's last
 * descriptor of an inherited one), what /proc says. */
enum rg_outside {
	RG_OUTSIDE_SOLE,    /* no other descriptor here or in the parent (or the
			     * process that started this one), or that is gone */
	RG_OUTSIDE_SHARED,  /* another holder here, or nothing could be read */
	RG_OUTSIDE_WATCHED, /* an epoll set here or in the parent watches it unknown to conn */
	RG_OUTSIDE_AWAIT,   /* processes outside hold it, and can be watched letting go */
};
/* A process outside the family that holds the socket too when the last
 * descriptor here goes: a superserver that has not closed its copy yet of
 * the connection it gave a service that has already answered and exited.
 * Whoever closes last must linger, and that is resetguard unless the
 * outside holder runs it too: the drainer keeps the socket, untouched,
 * until the holder lets go (rg_share_outside_gone). */
struct rg_outside_holder {
	pid_t pid;	   /* 0: none */
	int fd;		   /* its number for the socket, when last looked */
	pid_t parent;	   /* for a received socket, the parent at the close;
			    * 0: inherited, the ancestors found at load */
	unsigned long ino; /* the socket's inode */
};
/* inherited: at exec (the ancestors found at load are looked at), else
 * received (the parent is).  For RG_OUTSIDE_AWAIT, *h names a holder. */
enum rg_outside rg_share_outside(int fd, const struct rg_fd *conn, bool inherited,
				 struct rg_outside_holder *h);
/* Whether every process outside has let go of h's socket; h follows the
 * socket to another number or holder meanwhile.  Unreadable counts as
 * holding. */
bool rg_share_outside_gone(struct rg_outside_holder *h);
/* A socket just received with SCM_RIGHTS joins the family's counts. */
void rg_share_received(int fd);

#endif
