/* Who else holds a socket.  shutdown() acts on the socket, not on the
 * descriptor, so resetguard may only shut down and drain a socket when the
 * descriptor being closed is the last one anywhere. */
#ifndef RG_SHARE_H
#define RG_SHARE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

void rg_share_init(void);
uint32_t rg_share_new(void);
void rg_share_hold(uint32_t id);
/* One descriptor fewer; true when it was the last in the fork family. */
bool rg_share_drop(uint32_t id);
void rg_share_fork_prepare(void);
void rg_share_spawn(void);
void rg_share_passing(const struct msghdr *msg);
bool rg_share_sole_holder(int fd);

#endif
