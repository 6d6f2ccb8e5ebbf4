/* resetguard status PID: whether libresetguard.so is loaded in process
 * PID, and what its state page (shim/state.h) says: the settings in force,
 * the counters and how many sockets linger now.
 *
 * Everything comes from /proc/PID: maps for the library, fd for the
 * page's memfd, opened through its link.  Both need only the permission
 * to read the process's /proc entries (PTRACE_MODE_READ: the same user,
 * or root), not to trace it, so Yama's ptrace_scope does not get in the
 * way.  The process is never stopped, signalled or written to. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shim/state.h"
#include "cli.h"

enum { STATUS_LOADED = 0, STATUS_NOT_LOADED = 1, STATUS_UNKNOWN = 2 };

/* The library among the process's mappings: 1 found (its path in lib), 0
 * not, -1 with errno when the maps cannot be read. */
static int library_mapping(int pid, char *lib, size_t cap)
{
	char path[64], line[PATH_MAX + 256];
	FILE *maps;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return -1;
	while (!found && fgets(line, sizeof(line), maps)) {
		char *file = strchr(line, '/');
		const char *base;

		if (!file)
			continue;
		file[strcspn(file, "\n")] = '\0';
		base = strrchr(file, '/') + 1;
		if (strncmp(base, "libresetguard", 13) == 0 && strstr(base, ".so")) {
			snprintf(lib, cap, "%s", file);
			found = 1;
		}
	}
	fclose(maps);
	return found;
}

/* The process's state page, read through its memfd: 1 read, 0 none. */
static int state_page(int pid, union rg_state_page *page)
{
	static const char want[] = "/memfd:" RG_STATE_MEMFD " (deleted)";
	char dir_path[64], link_path[64 + 256], link[sizeof(want) + 1];
	struct dirent *d;
	DIR *dir;
	int found = 0;

	snprintf(dir_path, sizeof(dir_path), "/proc/%d/fd", pid);
	dir = opendir(dir_path);
	if (!dir)
		return -1;
	while (!found && (d = readdir(dir))) {
		ssize_t n;
		int fd;

		snprintf(link_path, sizeof(link_path), "%s/%s", dir_path, d->d_name);
		n = readlink(link_path, link, sizeof(link));
		if (n != (ssize_t)sizeof(want) - 1 || memcmp(link, want, (size_t)n) != 0)
			continue;
		fd = open(link_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		found = pread(fd, page, sizeof(*page), 0) == (ssize_t)sizeof(*page) &&
			memcmp(page->f.magic, RG_STATE_MAGIC, sizeof(RG_STATE_MAGIC)) == 0 &&
			page->f.pid == pid && page->f.size == sizeof(*page);
		close(fd);
	}
	closedir(dir);
	return found;
}

static unsigned long long count(const _Atomic uint64_t *counter)
{
	return (unsigned long long)atomic_load_explicit(counter, memory_order_relaxed);
}

static void show_page(union rg_state_page *page)
{
	const struct rg_counters *c = &page->f.stats;
	const char *settings = page->f.settings;

	page->f.settings[sizeof(page->f.settings) - 1] = '\0';
	page->f.prog[sizeof(page->f.prog) - 1] = '\0';
	page->f.metrics_name[sizeof(page->f.metrics_name) - 1] = '\0';
	printf("program: %s\n", page->f.prog);
	printf("settings: %s\n", settings + strspn(settings, " "));
	if (page->f.metrics_name[0])
		printf("metrics name: %s\n", page->f.metrics_name);
	printf("resets: %llu\n", count(&c->resets));
	printf("broken pipes: %llu\n", count(&c->pipes));
	printf("other connection errors: %llu\n", count(&c->errors));
	printf("graceful closes: eof=%llu timeout=%llu bytes=%llu error=%llu cap=%llu\n",
	       count(&c->linger_eof), count(&c->linger_timeout), count(&c->linger_bytes),
	       count(&c->linger_error), count(&c->linger_cap));
	printf("plain closes of shared sockets: %llu\n", count(&c->shared_plain));
	printf("log records suppressed: %llu\n", count(&c->suppressed));
	printf("lingering now: %d\n", atomic_load_explicit(&page->f.lingering, memory_order_relaxed));
}

int status_command(int argc, char **argv)
{
	char lib[PATH_MAX], *end;
	union rg_state_page page;
	long pid;
	int loaded;

	if (argc != 1 || (pid = strtol(argv[0], &end, 10)) <= 0 || *end || pid > INT_MAX) {
		fputs("usage: resetguard status PID\n", stderr);
		return EXIT_OURS;
	}
	loaded = library_mapping((int)pid, lib, sizeof(lib));
	if (loaded < 0 && errno == ENOENT) {
		printf("process %ld: no such process\n", pid);
		return STATUS_NOT_LOADED;
	}
	if (loaded < 0) {
		printf("process %ld: cannot tell: %s (run as its user, or as root)\n", pid,
		       strerror(errno));
		return STATUS_UNKNOWN;
	}
	if (!loaded) {
		printf("process %ld: resetguard is not loaded\n", pid);
		return STATUS_NOT_LOADED;
	}
	printf("process %ld: resetguard is loaded (%s)\n", pid, lib);
	if (state_page((int)pid, &page) > 0)
		show_page(&page);
	else
		printf("no state page: it has no descriptor left for it, or was started before "
		       "this version\n");
	return STATUS_LOADED;
}
