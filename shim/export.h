/* Symbol visibility: the library is built with -fvisibility=hidden, so only
 * the wrapped libc entry points marked RG_EXPORT leave the object. */
#ifndef RG_EXPORT_H
#define RG_EXPORT_H

#define RG_EXPORT __attribute__((visibility("default")))
/* For declarations of the library's own data: -fvisibility=hidden covers
 * definitions only, and without this every access to a global defined in
 * another file takes a load from the GOT first. */
#define RG_HIDDEN __attribute__((visibility("hidden")))
#define RG_LIKELY(x) __builtin_expect(!!(x), 1)
#define RG_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
