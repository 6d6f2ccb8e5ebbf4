/* Binding of the real libc calls.  Every symbol is resolved in one go, at
 * load time or on the first wrapped call, so that no wrapper calls dlsym()
 * later: dlsym can take the loader lock and allocate, which must not happen
 * in a signal handler or between fork() and exec(). */
#include <dlfcn.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

struct rg_real rg_real;

static void *rg_lookup(const char *name)
{
	void *sym = dlsym(RTLD_NEXT, name);

	if (!sym) {
		/* Every symbol here is in glibc >= 2.34; an older libc cannot
		 * have linked a program that calls the missing one, so say it
		 * once and carry on.  Raw syscall: write itself may be unbound. */
		char msg[128] = "resetguard: libc has no ";
		size_t len = strlen(msg), nlen = strnlen(name, 64);

		memcpy(msg + len, name, nlen);
		memcpy(msg + len + nlen, "; that call is not wrapped\n", 27);
		(void)!syscall(SYS_write, 2, msg, len + nlen + 27);
	}
	return sym;
}

void rg_real_bind(void)
{
	struct rg_real r;

#define RG_REAL_BIND(name, ret, params) r.name = (ret(*) params)rg_lookup(#name);
	RG_REAL_CALLS(RG_REAL_BIND)
#undef RG_REAL_BIND

	/* close is published last: rg_libc() tests it to know the table is
	 * complete. */
	__typeof__(r.close) close_fn = r.close;
	r.close = NULL;
	rg_real = r;
	__atomic_store_n(&rg_real.close, close_fn, __ATOMIC_RELEASE);
}
