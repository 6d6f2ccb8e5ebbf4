/* The process's life cycle under resetguard: loading, fork(), exec, exit,
 * and the ways a program starts children the fork handlers never see. */
#ifndef RG_LIFECYCLE_H
#define RG_LIFECYCLE_H

#include <stdbool.h>

/* True in the child of a vfork() (or any clone sharing our memory), where
 * the parent's state must not be touched: its descriptors are copies of
 * the parent's, its table entries, holder counts and drainer are the
 * parent's. */
bool rg_in_vfork_child(void);

#endif
