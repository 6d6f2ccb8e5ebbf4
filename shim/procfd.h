/* Reading /proc/<pid>/fd without stdio or malloc. */
#ifndef RG_PROCFD_H
#define RG_PROCFD_H

/* Calls visit(dirfd, fd, ctx) for each descriptor listed in dir, a
 * /proc/<pid>/fd directory, with raw getdents64: async-signal-safe, since
 * close() may run in a signal handler.  Returns -1 when dir cannot be
 * read. */
int rg_procfd_each(const char *dir, void (*visit)(int dirfd, int fd, void *ctx), void *ctx);
/* The same on dfd, such a directory already open: a thread of
 * resetguard's own must not take a descriptor number the program's next
 * call would get, even for a moment. */
int rg_procfd_each_at(int dfd, void (*visit)(int dirfd, int fd, void *ctx), void *ctx);

/* Whether the file at path (a /proc file, read without stdio) contains
 * needle: 1 or 0, -1 when it cannot be read. */
int rg_procfd_file_has(const char *path, const char *needle);

#endif
