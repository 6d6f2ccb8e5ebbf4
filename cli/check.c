/* resetguard --check COMMAND: can the shim attach to COMMAND?  The dynamic
 * loader is what preloads, so the answer is in COMMAND's ELF headers and
 * file mode: a dynamically linked program of the library's architecture
 * that uses libc, and that the loader does not run in secure-execution
 * mode (setuid, setgid, file capabilities), for which it ignores
 * LD_PRELOAD.  A script is judged by its interpreter.  A launcher known
 * to strip LD_PRELOAD from what it starts, without the option that keeps
 * it among ARGS, gets "partly". */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"

extern char **environ;

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

static const char *machine_name(unsigned machine)
{
	switch (machine) {
	case EM_X86_64: return "x86-64";
	case EM_386: return "i386";
	case EM_AARCH64: return "aarch64";
	case EM_ARM: return "arm";
	case EM_RISCV: return "riscv";
	case EM_PPC64: return "ppc64";
	case EM_S390: return "s390";
	default: return "another architecture";
	}
}

struct elf_facts {
	bool elf, same_arch, dynamic, uses_libc, go;
	unsigned machine;
};

/* The class and machine of the library: what a program must match. */
static unsigned char lib_class;
static unsigned lib_machine;

static bool read_at(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off) == (ssize_t)len;
}

/* The facts that decide, from the ELF header, the program headers (an
 * interpreter means dynamic linking) and the dynamic section's DT_NEEDED
 * names (libc.so.6, or the program never calls libc, as Go without cgo). */
static void inspect_elf(int fd, struct elf_facts *f)
{
	ElfW(Ehdr) eh;

	if (!read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return;
	f->elf = true;
	f->machine = eh.e_machine;
	f->same_arch = eh.e_ident[EI_CLASS] == lib_class && eh.e_machine == lib_machine;
	if (!f->same_arch)
		return;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		ElfW(Shdr) sh, link;

		if (!read_at(fd, &sh, sizeof(sh), (off_t)(eh.e_shoff + (uint64_t)i * eh.e_shentsize)))
			return;
		if (sh.sh_type == SHT_NOTE || sh.sh_type == SHT_PROGBITS) {
			ElfW(Shdr) names;
			char name[32] = "";

			if (read_at(fd, &names, sizeof(names),
				    (off_t)(eh.e_shoff + (uint64_t)eh.e_shstrndx * eh.e_shentsize)))
				(void)!pread(fd, name, sizeof(name) - 1, (off_t)(names.sh_offset + sh.sh_name));
			if (!strcmp(name, ".note.go.buildid") || !strcmp(name, ".go.buildinfo"))
				f->go = true;
		}
		if (sh.sh_type != SHT_DYNAMIC ||
		    !read_at(fd, &link, sizeof(link), (off_t)(eh.e_shoff + (uint64_t)sh.sh_link * eh.e_shentsize)))
			continue;
		for (ElfW(Xword) off = 0; off + sizeof(ElfW(Dyn)) <= sh.sh_size; off += sizeof(ElfW(Dyn))) {
			ElfW(Dyn) d;
			char needed[32] = "";

			if (!read_at(fd, &d, sizeof(d), (off_t)(sh.sh_offset + off)) || d.d_tag == DT_NULL)
				break;
			if (d.d_tag == DT_NEEDED &&
			    pread(fd, needed, sizeof(needed) - 1, (off_t)(link.sh_offset + d.d_un.d_val)) > 0 &&
			    !strncmp(needed, "libc.so", 7))
				f->uses_libc = true;
		}
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		ElfW(Phdr) ph;

		if (read_at(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) &&
		    ph.p_type == PT_INTERP)
			f->dynamic = true;
	}
}

static int verdict(bool yes, const char *why)
{
	printf("  verdict:  %s: %s\n", yes ? "yes" : "no", why);
	return yes ? 0 : 1;
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
	  "unless it runs with -E" },
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

/* Recursion bounded by depth: a script's interpreter, at most four deep. */
static int check_file(const char *command, char *const *args, int depth) /* NOLINT(misc-no-recursion) */
{
	char path[PATH_MAX], interp[PATH_MAX];
	struct stat st;
	struct elf_facts f = { 0 };

	if (!resolve(command, path, sizeof(path))) {
		printf("  program:  %s: not found\n", command);
		return verdict(false, "there is no such program");
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		printf("  program:  %s: %s\n", path, strerror(errno));
		return verdict(false, "the program cannot be read");
	}
	if (depth < 4 && script_interpreter(fd, interp, sizeof(interp))) {
		close(fd);
		printf("  program:  %s: a script run by %s\n", path, interp);
		return check_file(interp, args, depth + 1);
	}
	inspect_elf(fd, &f);
	const struct launcher *launcher = launcher_dropping_preload(fd, st.st_size, args);
	close(fd);
	printf("  program:  %s: %s%s%s%s\n", path, f.elf ? "ELF for " : "not an ELF executable",
	       f.elf ? machine_name(f.machine) : "",
	       !f.same_arch ? "" : f.dynamic ? ", dynamically linked" : ", statically linked",
	       f.go ? ", built by Go" : "");
	if (!f.elf)
		return verdict(false, "not a program the dynamic loader runs");
	if (!f.same_arch)
		return verdict(false, "its architecture is not the library's");
	if (!f.dynamic)
		return verdict(false, "statically linked: there is no dynamic loader to preload anything");
	if (!f.uses_libc)
		return verdict(false, f.go ? "a Go program built without cgo does not call libc"
					   : "it does not use libc, whose calls resetguard wraps");
	if (st.st_mode & (S_ISUID | S_ISGID))
		return verdict(false, "setuid or setgid: the loader ignores LD_PRELOAD for it");
	if (getxattr(path, "security.capability", NULL, 0) > 0)
		return verdict(false, "it has file capabilities: the loader ignores LD_PRELOAD for it");
	if (launcher) {
		printf("  starts:   %s; run it with -%c, or start each program it runs as "
		       "`resetguard -- PROGRAM`\n",
		       launcher->what, launcher->keep_option);
		printf("  verdict:  partly: resetguard attaches to it, not to what it starts\n");
		return CHECK_PARTLY;
	}
	return verdict(true, "resetguard can attach");
}

int check_command(const char *command, char *const *args, const char *library)
{
	ElfW(Ehdr) eh;
	int fd = open(library, O_RDONLY | O_CLOEXEC);
	int status;

	if (fd >= 0 && read_at(fd, &eh, sizeof(eh), 0)) {
		lib_class = eh.e_ident[EI_CLASS];
		lib_machine = eh.e_machine;
	}
	if (fd >= 0)
		close(fd);
	printf("resetguard --check %s\n", command);
	printf("  library:  %s (%s)\n", library, machine_name(lib_machine));
	status = check_file(command, args, 0);

	puts("  settings:");
	int shown = 0;
	for (char **e = environ; *e; e++)
		if (!strncmp(*e, "RESETGUARD_", 11) && ++shown)
			printf("    %s\n", *e);
	if (!shown)
		puts("    (all defaults)");
	return status;
}
