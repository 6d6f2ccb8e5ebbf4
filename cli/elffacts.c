/* The ELF facts --check decides on (elffacts.h).  Everything is read with
 * pread() from the file as it is on disk: nothing of the program runs. */
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elffacts.h"

static bool read_at(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off) == (ssize_t)len;
}

const char *elf_machine_name(unsigned machine)
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

bool elf_identity(int fd, unsigned char *class, unsigned *machine)
{
	ElfW(Ehdr) eh;

	if (!read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return false;
	*class = eh.e_ident[EI_CLASS];
	*machine = eh.e_machine;
	return true;
}

static bool section(int fd, const ElfW(Ehdr) *eh, unsigned i, ElfW(Shdr) *sh)
{
	return read_at(fd, sh, sizeof(*sh), (off_t)(eh->e_shoff + (uint64_t)i * eh->e_shentsize));
}

/* Go marks its binaries with a build-id note and a build-info section. */
static bool go_section(int fd, const ElfW(Ehdr) *eh, const ElfW(Shdr) *sh)
{
	ElfW(Shdr) names;
	char name[32] = "";

	if (sh->sh_type != SHT_NOTE && sh->sh_type != SHT_PROGBITS)
		return false;
	if (section(fd, eh, eh->e_shstrndx, &names))
		(void)!pread(fd, name, sizeof(name) - 1, (off_t)(names.sh_offset + sh->sh_name));
	return !strcmp(name, ".note.go.buildid") || !strcmp(name, ".go.buildinfo");
}

/* The DT_NEEDED names of the dynamic section sh, whose strings are in strtab. */
static void needed(int fd, const ElfW(Shdr) *sh, const ElfW(Shdr) *strtab, struct elf_facts *f)
{
	for (ElfW(Xword) off = 0; off + sizeof(ElfW(Dyn)) <= sh->sh_size; off += sizeof(ElfW(Dyn))) {
		ElfW(Dyn) d;
		char name[32] = "";

		if (!read_at(fd, &d, sizeof(d), (off_t)(sh->sh_offset + off)) || d.d_tag == DT_NULL)
			break;
		if (d.d_tag != DT_NEEDED ||
		    pread(fd, name, sizeof(name) - 1, (off_t)(strtab->sh_offset + d.d_un.d_val)) <= 0)
			continue;
		if (!strncmp(name, "libc.so", 7))
			f->uses_libc = true;
		if (!strncmp(name, "libuv.so", 8))
			f->libuv = true;
	}
}

/* node carries libuv inside and exports its API for addons: uv_close is
 * among the dynamic symbol names. */
static bool names_symbol(int fd, const ElfW(Shdr) *strtab, const char *symbol)
{
	size_t size = strtab->sh_size, n = strlen(symbol);
	char key[64];
	char *names = n + 2 <= sizeof(key) && size >= n + 2 && size < (64u << 20) ? malloc(size) : NULL;
	bool found = false;

	if (names && read_at(fd, names, size, (off_t)strtab->sh_offset)) {
		key[0] = '\0'; /* a whole name: NUL before and after */
		memcpy(key + 1, symbol, n + 1);
		found = memmem(names, size, key, n + 2) != NULL;
	}
	free(names);
	return found;
}

static void inspect_sections(int fd, const ElfW(Ehdr) *eh, struct elf_facts *f)
{
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		ElfW(Shdr) sh, link;

		if (!section(fd, eh, i, &sh))
			return;
		f->go |= go_section(fd, eh, &sh);
		if ((sh.sh_type != SHT_DYNAMIC && sh.sh_type != SHT_DYNSYM) ||
		    !section(fd, eh, sh.sh_link, &link))
			continue;
		if (sh.sh_type == SHT_DYNAMIC)
			needed(fd, &sh, &link, f);
		else
			f->libuv |= names_symbol(fd, &link, "uv_close");
	}
}

static void inspect_interpreter(int fd, const ElfW(Ehdr) *eh, struct elf_facts *f)
{
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		ElfW(Phdr) ph;

		if (!read_at(fd, &ph, sizeof(ph), (off_t)(eh->e_phoff + (uint64_t)i * eh->e_phentsize)) ||
		    ph.p_type != PT_INTERP)
			continue;
		f->dynamic = true;
		size_t n = ph.p_filesz < sizeof(f->interp) ? ph.p_filesz : sizeof(f->interp) - 1;
		if (!read_at(fd, f->interp, n, (off_t)ph.p_offset))
			n = 0;
		f->interp[n] = '\0';
	}
}

void elf_inspect(int fd, unsigned char lib_class, unsigned lib_machine, struct elf_facts *f)
{
	ElfW(Ehdr) eh;

	if (!read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return;
	f->elf = true;
	f->machine = eh.e_machine;
	f->same_arch = eh.e_ident[EI_CLASS] == lib_class && eh.e_machine == lib_machine;
	if (!f->same_arch)
		return;
	inspect_sections(fd, &eh, f);
	inspect_interpreter(fd, &eh, f);
}
