/* What --check learns from a program's ELF headers: enough to tell whether
 * the dynamic loader will preload the library into it, and whether the
 * program makes its connections through the libc calls the library wraps. */
#ifndef RG_CLI_ELFFACTS_H
#define RG_CLI_ELFFACTS_H

#include <limits.h>
#include <stdbool.h>

struct elf_facts {
	bool elf;	 /* an ELF file at all */
	bool same_arch;	 /* the class and machine the library was built for */
	bool dynamic;	 /* it names a program interpreter: the dynamic loader */
	bool uses_libc;	 /* libc.so among its DT_NEEDED */
	bool go;	 /* Go's build-id note or build info */
	bool libuv;	 /* links libuv, or carries it (defines uv_close) */
	unsigned machine;
	char interp[PATH_MAX]; /* PT_INTERP, when dynamic */
};

/* Fills f from the ELF file open on fd; the library's own class and
 * machine decide same_arch, and nothing further is read without it. */
void elf_inspect(int fd, unsigned char lib_class, unsigned lib_machine, struct elf_facts *f);
/* The class and machine of the ELF file open on fd, or false. */
bool elf_identity(int fd, unsigned char *class, unsigned *machine);
const char *elf_machine_name(unsigned machine);

#endif
