/* resetguard --check COMMAND [ARGS...]: will resetguard work in COMMAND?
 * The dynamic loader is what preloads, so the answer starts in COMMAND's
 * ELF headers and file mode: a dynamically linked program of the
 * library's architecture that uses glibc, and that the loader does not
 * run in secure-execution mode (setuid, setgid, file capabilities), for
 * which it ignores LD_PRELOAD.  The program's own loader then lists what
 * it would load with the library preloaded, and has the last word.  A
 * script is judged by its interpreter.
 *
 * Statuses: 0, resetguard attaches with all its effects; 1, it cannot
 * attach; 2, it attaches, but an effect is missing: a runtime that makes
 * or closes its connections without libc (Go, libuv), a launcher that
 * strips LD_PRELOAD from what it starts, a log or metrics destination
 * that cannot be written, a setting the library would refuse.  The
 * settings judged are those the library would use, config file and scope
 * included: its own reader reads them (settings_in_force.c). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../shim/config.h"
#include "../shim/defaults.h"
#include "cli.h"
#include "elffacts.h"
#include "loader.h"

extern char **environ;

/* The class and machine of the library: what a program must match. */
static unsigned char lib_class;
static unsigned lib_machine;

/* The executable execvp() would run for name. */
static bool resolve(const char *name, char *path, size_t size)
{
	const char *dirs = getenv("PATH");

	if (strchr(name, '/'))
		return realpath(name, path) != NULL && access(path, F_OK) == 0;
	for (const char *p = dirs ? dirs : "/usr/local/bin:/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		char raw[PATH_MAX];

		if ((size_t)snprintf(raw, sizeof(raw), "%.*s/%s", (int)n, n ? p : ".", name) < sizeof(raw) &&
		    access(raw, X_OK) == 0 && realpath(raw, path) && strlen(path) < size)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/* What keeps resetguard from working fully in the program, short of not
 * attaching at all: each a line on its own, named in the verdict. */
struct shortfalls {
	const char *why[4];
	unsigned n;
};

static void fall_short(struct shortfalls *s, const char *label, const char *detail, const char *why)
{
	printf("  %-9s %s\n", label, detail);
	if (s->n < sizeof(s->why) / sizeof(s->why[0]))
		s->why[s->n++] = why;
}

static int verdict_no(const char *why)
{
	printf("  verdict:  no: %s\n", why);
	return 1;
}

static int verdict(const struct shortfalls *s)
{
	if (!s->n) {
		printf("  verdict:  yes: resetguard can attach\n");
		return 0;
	}
	printf("  verdict:  partly:");
	for (unsigned i = 0; i < s->n; i++)
		printf("%s %s", i ? ";" : "", s->why[i]);
	printf("\n");
	return CHECK_PARTLY;
}

/* "#!interpreter [arg]": the interpreter, or with env, the program env
 * runs, is what gets preloaded. */
static bool script_interpreter(int fd, char *interp, size_t size)
{
	char line[256];
	ssize_t n = pread(fd, line, sizeof(line) - 1, 0);

	if (n < 2 || line[0] != '#' || line[1] != '!')
		return false;
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	char *p = line + 2 + strspn(line + 2, " \t");
	char *arg = p + strcspn(p, " \t");

	if (*arg) {
		*arg++ = '\0';
		arg += strspn(arg, " \t");
		arg[strcspn(arg, " \t")] = '\0';
	}
	snprintf(interp, size, "%s", strcmp(p, "/usr/bin/env") == 0 && *arg ? arg : p);
	return true;
}

/* Programs that start others with an environment of their own making:
 * resetguard attaches to them, but what they start runs without it unless
 * they are told to keep the environment.  Each is recognised by a string
 * only its own binary carries (its usage line). */
struct launcher {
	const char *marker;
	char keep_option; /* the single-letter option that keeps LD_PRELOAD */
	const char *what;
};

static const struct launcher launchers[] = {
	{ "usage: inetd [-dEil]", 'E',
	  "openbsd-inetd removes LD_PRELOAD from the environment of the services it starts "
	  "unless it runs with -E: run it with -E, or start each service through "
	  "`resetguard --`" },
};

static bool file_contains(int fd, off_t size, const char *marker)
{
	if (size <= 0)
		return false;
	void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return false;
	bool found = memmem(map, (size_t)size, marker, strlen(marker)) != NULL;

	munmap(map, (size_t)size);
	return found;
}

/* Whether args has the option letter among its leading options. */
static bool has_option(char *const *args, char letter)
{
	for (; *args && (*args)[0] == '-' && strcmp(*args, "--") != 0; args++)
		if (strchr(*args + 1, letter))
			return true;
	return false;
}

static const struct launcher *launcher_dropping_preload(int fd, off_t size, char *const *args)
{
	for (size_t i = 0; i < sizeof(launchers) / sizeof(launchers[0]); i++)
		if (file_contains(fd, size, launchers[i].marker) &&
		    !has_option(args, launchers[i].keep_option))
			return &launchers[i];
	return NULL;
}

/* The runtimes that make or close connections without the libc calls
 * resetguard wraps. */
static void runtime_shortfalls(const struct elf_facts *f, struct shortfalls *s)
{
	if (f->go)
		fall_short(s, "runtime:", "Go makes and closes its connections with system calls of its "
			   "own: none of resetguard's effects reach them, only what C code in the "
			   "program does (cgo)", "Go's own connections are not covered");
	if (f->libuv)
		fall_short(s, "runtime:", "libuv closes sockets with syscall(SYS_close), not close(): "
			   "no graceful close; SIGPIPE is guarded and resets are logged",
			   "no graceful close under libuv");
}

/* What the program's loader says; false when it refuses the library. */
static bool loader_accepts(const struct elf_facts *f, const char *path, const char *library)
{
	char why[512];

	if (loader_refuses(f->interp, path, library, why, sizeof(why))) {
		printf("  loader:   %s refuses the library: %s\n", f->interp, why);
		return false;
	}
	if (why[0] == '\0' && libc_of_loader(f->interp) != LIBC_OTHER)
		printf("  loader:   %s would load the library\n", f->interp);
	return true;
}

/* The decision for an ELF program; "no" comes first, then what falls short. */
static int judge_program(const char *path, const struct stat *st, const struct elf_facts *f,
			 const struct launcher *launcher, const char *library,
			 struct shortfalls *s)
{
	printf("  program:  %s: %s%s%s%s\n", path, f->elf ? "ELF for " : "not an ELF executable",
	       f->elf ? elf_machine_name(f->machine) : "",
	       !f->same_arch ? "" : f->dynamic ? ", dynamically linked" : ", statically linked",
	       f->go ? ", built by Go" : "");
	if (!f->elf)
		return verdict_no("not a program the dynamic loader runs");
	if (!f->same_arch)
		return verdict_no("its architecture is not the library's");
	if (!f->dynamic)
		return verdict_no("statically linked: there is no dynamic loader to preload anything");
	if (!f->uses_libc)
		return verdict_no(f->go ? "a Go program built without cgo does not call libc"
					: "it does not use libc, whose calls resetguard wraps");
	enum libc_kind libc = libc_of_loader(f->interp);
	printf("  libc:     %s (its loader: %s)\n", libc_name(libc), f->interp);
	if (st->st_mode & (S_ISUID | S_ISGID))
		return verdict_no("setuid or setgid: the loader ignores LD_PRELOAD for it");
	if (getxattr(path, "security.capability", NULL, 0) > 0)
		return verdict_no("it has file capabilities: the loader ignores LD_PRELOAD for it");
	bool accepted = loader_accepts(f, path, library);
	if (libc != library_libc(library))
		return verdict_no("the library is not built for this program's C library, and no "
				  "library for it was found (see resetguard(7), MUSL)");
	if (!accepted)
		return verdict_no("its loader refuses the library");
	runtime_shortfalls(f, s);
	if (launcher)
		fall_short(s, "starts:", launcher->what, "not what it starts");
	return -1;
}

enum libc_kind target_libc(const char *command)
{
	char path[PATH_MAX], interp[PATH_MAX];
	unsigned char class;
	unsigned machine;

	for (int depth = 0; depth <= 4; depth++) {
		struct elf_facts f = { 0 };
		int fd;

		if (!resolve(command, path, sizeof(path)) || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return LIBC_OTHER;
		if (script_interpreter(fd, interp, sizeof(interp))) {
			close(fd);
			command = interp;
			continue;
		}
		if (elf_identity(fd, &class, &machine))
			elf_inspect(fd, class, machine, &f);
		close(fd);
		return f.dynamic ? libc_of_loader(f.interp) : LIBC_OTHER;
	}
	return LIBC_OTHER;
}

/* Returns a status, or -1 when the program passes, with s filled.
 * Recursion bounded by depth: a script's interpreter, at most four deep. */
/* NOLINTNEXTLINE(misc-no-recursion) */
static int check_file(const char *command, char *const *args, const char *library, int depth,
		      struct shortfalls *s)
{
	char path[PATH_MAX], interp[PATH_MAX];
	struct stat st;
	struct elf_facts f = { 0 };

	if (!resolve(command, path, sizeof(path))) {
		printf("  program:  %s: not found\n", command);
		return verdict_no("there is no such program");
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		printf("  program:  %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return verdict_no("the program cannot be read");
	}
	if (depth < 4 && script_interpreter(fd, interp, sizeof(interp))) {
		close(fd);
		printf("  program:  %s: a script run by %s\n", path, interp);
		return check_file(interp, args, library, depth + 1, s);
	}
	elf_inspect(fd, lib_class, lib_machine, &f);
	const struct launcher *launcher = launcher_dropping_preload(fd, st.st_size, args);
	close(fd);
	return judge_program(path, &st, &f, launcher, library, s);
}

/* Whether the library could append to path: to the file, or to a new one
 * in its directory (the command has made the path absolute). */
static bool writable_file(const char *path)
{
	char dir[PATH_MAX];

	if (access(path, W_OK) == 0)
		return true;
	if (errno != ENOENT || (size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return false;
	return access(dirname(dir), W_OK | X_OK) == 0;
}

/* The log destination in force, when records could not be written there. */
static void log_shortfall(struct shortfalls *s)
{
	const char *sock = rg_config.log == RG_LOG_SYSLOG    ? rg_config.syslog_path
			   : rg_config.log == RG_LOG_JOURNAL ? rg_config.journal_path
							     : NULL;
	const char *path = sock ? sock : rg_config.log_path;
	char line[PATH_MAX + 128];
	struct stat st;

	if (!sock && rg_config.log != RG_LOG_FILE)
		return;
	if (sock ? stat(sock, &st) == 0 && S_ISSOCK(st.st_mode) : writable_file(path))
		return;
	snprintf(line, sizeof(line), "%s: %s: records would go to stderr", path,
		 sock ? "no such socket" : strerror(errno));
	fall_short(s, "log:", line, "the log destination cannot be written");
}

static void metrics_shortfall(struct shortfalls *s)
{
	const char *dir = rg_config.metrics_dir;
	char line[PATH_MAX + 128];
	struct stat st;

	if (!dir)
		return;
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
		errno = ENOTDIR;
	else if (stat(dir, &st) == 0 && access(dir, W_OK | X_OK) == 0)
		return;
	snprintf(line, sizeof(line), "%s: %s: no metrics file would be written", dir, strerror(errno));
	fall_short(s, "metrics:", line, "the metrics directory cannot be written");
}

static void settings_shortfall(struct shortfalls *s)
{
	if (settings_complaints)
		fall_short(s, "config:", "the library would refuse the setting named above",
			   "a setting would be refused");
}

int check_command(const char *command, char *const *args, const char *library)
{
	struct shortfalls s = { 0 };
	int fd = open(library, O_RDONLY | O_CLOEXEC);
	int status;

	if (fd >= 0) {
		(void)elf_identity(fd, &lib_class, &lib_machine);
		close(fd);
	}
	printf("resetguard --check %s\n", command);
	printf("  library:  %s (%s, %s)\n", library, elf_machine_name(lib_machine),
	       libc_name(library_libc(library)));
	/* The name the library matches RESETGUARD_ONLY_CMDS and
	 * RESETGUARD_SKIP_CMDS against: the program's, without its
	 * directory. */
	const char *name = strrchr(command, '/') ? strrchr(command, '/') + 1 : command;
	if (!rg_config_load(name)) {
		printf("  scope:    %s is left out by RESETGUARD_ONLY_CMDS or RESETGUARD_SKIP_CMDS\n",
		       name);
		status = verdict_no("out of scope: the library would stay out of its way");
	} else {
		status = check_file(command, args, library, 0, &s);
	}
	if (status < 0) {
		log_shortfall(&s);
		metrics_shortfall(&s);
		settings_shortfall(&s);
		status = verdict(&s);
	}

	puts("  settings:");
	bool shown = access(rg_config.conf_path, F_OK) == 0;
	if (shown)
		printf("    config file %s\n", rg_config.conf_path);
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "RESETGUARD_", 11) != 0)
			continue;
		printf("    %s\n", *e);
		shown = true;
	}
	if (!shown)
		puts("    (all defaults)");
	return status;
}
