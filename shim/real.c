/* Binding of the real libc calls.  Every symbol is resolved in one go, at
 * load time or on the first wrapped call, so that no wrapper calls dlsym()
 * later: dlsym can take the loader lock and allocate, which must not happen
 * in a signal handler or between fork() and exec(). */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

struct rg_real rg_real;
struct rg_optional rg_optional_real;
/* Set, with release, once every pointer above is stored. */
static bool rg_real_ready;

static void *rg_lookup(const char *name)
{
	void *sym = dlsym(RTLD_NEXT, name);

	if (!sym && RG_LIBC_HAS_ALL) {
		/* Every symbol here is in glibc >= 2.34; an older libc cannot
		 * have linked a program that calls the missing one, so say it
		 * once and carry on.  Raw syscall: write itself may be unbound. */
		char msg[128] = "resetguard: libc has no ";
		size_t len = strlen(msg), nlen = strnlen(name, 64);

		memcpy(msg + len, name, nlen);
		memcpy(msg + len + nlen, "; that call is not wrapped\n", 27);
		if (rg_real.syscall)
			(void)!rg_real.syscall(SYS_write, 2, msg, len + nlen + 27);
	}
	return sym;
}

/* Each pointer is stored atomically: threads that bind at the same time
 * store the same values, and a reader sees either NULL (and binds too) or
 * the real function. */
void rg_real_bind(void)
{
	/* First: the complaint about a missing call is written with it. */
	__atomic_store_n(&rg_real.syscall, (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall"),
			 __ATOMIC_RELAXED);
/* NOLINTBEGIN(bugprone-macro-parentheses): ret(*) params is a type */
#define RG_REAL_BIND(name, ret, params) \
	__atomic_store_n(&rg_real.name, (ret(*) params)rg_lookup(#name), __ATOMIC_RELAXED);
/* NOLINTEND(bugprone-macro-parentheses) */
	RG_REAL_CALLS(RG_REAL_BIND)
#define RG_REAL_STDIO_BIND(name, type, params, ...) RG_REAL_BIND(name, type, params)
#define RG_REAL_VOID_BIND(name, params, ...) RG_REAL_BIND(name, void, params)
	RG_STDIO_FILE_CALLS(RG_REAL_STDIO_BIND)
	RG_STDIO_VOID_CALLS(RG_REAL_VOID_BIND)
#undef RG_REAL_STDIO_BIND
#undef RG_REAL_VOID_BIND
#undef RG_REAL_BIND
	__atomic_store_n(&rg_real_ready, true, __ATOMIC_RELEASE);
}

void rg_real_ensure(void)
{
	if (!__atomic_load_n(&rg_real_ready, __ATOMIC_ACQUIRE))
		rg_real_bind();
}

const struct rg_real *rg_real_bound(void)
{
	rg_real_ensure();
	return &rg_real;
}

void *rg_optional_find(void **slot, const char *name)
{
	void *sym = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (!sym) {
		sym = dlsym(RTLD_NEXT, name);
		__atomic_store_n(slot, sym, __ATOMIC_RELEASE);
	}
	return sym;
}
