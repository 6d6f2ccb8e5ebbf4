/* Starting resetguard's own threads.
 *
 * GCC 12's AddressSanitizer (Debian bookworm's) does not lock its
 * allocator around fork(), and a thread's start-up under it allocates.  A
 * program that forks right after the close() that started the drainer
 * (an accept loop that forks per connection) may then give its child an
 * allocator lock held for ever, and the child hangs at its first
 * allocation of that size: in the drainer it starts at exit.  In that
 * build only, a new thread is handed back once it runs its own code, past
 * the runtime's start-up; everywhere else pthread_create() returns at
 * once, as the program's own would. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>

#include "thread.h"

#if defined(__SANITIZE_ADDRESS__)
#define RG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RG_ASAN 1
#endif
#endif

#ifdef RG_ASAN
struct rg_thread_start {
	void *(*fn)(void *);
	void *arg;
	_Atomic bool running;
};

static void *rg_thread_run(void *start)
{
	struct rg_thread_start *s = start;
	void *(*fn)(void *) = s->fn;
	void *arg = s->arg;

	atomic_store_explicit(&s->running, true, memory_order_release); /* s goes now */
	return fn(arg);
}

static bool rg_thread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
			     void *arg)
{
	struct rg_thread_start s = { fn, arg, false };

	if (pthread_create(thread, attr, rg_thread_run, &s) != 0)
		return false;
	while (!atomic_load_explicit(&s.running, memory_order_acquire))
		sched_yield();
	return true;
}
#else
static bool rg_thread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
			     void *arg)
{
	return pthread_create(thread, attr, fn, arg) == 0;
}
#endif

bool rg_thread_spawn(void *(*fn)(void *), void *arg, const char *name)
{
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, saved;
	bool started;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, (size_t)64 * 1024);
	started = rg_thread_create(&thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (started)
		pthread_setname_np(thread, name);
	return started;
}
