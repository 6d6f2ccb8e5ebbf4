# resetguard: an LD_PRELOAD shim that keeps SIGPIPE from killing programs on
# socket writes and logs every connection reset with the peer's address.

# `make` alone builds the library and the command (the stamp rules below
# come first in the file).
.DEFAULT_GOAL := all
CC ?= cc
# MUSL=1: the library (and command, test programs) for musl programs, with
# Debian's musl-gcc, in build-musl.  Any compiler whose C library is not
# glibc builds there too (CC=musl-gcc, or gcc on Alpine).
MUSL_CC ?= musl-gcc
ifeq ($(MUSL),1)
override CC := $(MUSL_CC)
endif
# ARM64=1: the same for arm64, cross-built with Debian's
# gcc-aarch64-linux-gnu, in build-arm64 (make arm64, make check-arm64).
ARM64_CC ?= aarch64-linux-gnu-gcc
ARM64_BUILD ?= build-arm64
ifeq ($(ARM64),1)
CC := $(ARM64_CC)
BUILD ?= $(ARM64_BUILD)
endif
LIBC := $(if $(shell printf '\043include <stdio.h>\n__GLIBC__\n' | $(CC) -E -P - 2>/dev/null | \
	grep -x __GLIBC__),musl,glibc)
BUILD ?= $(if $(filter musl,$(LIBC)),build-musl,build)
# Where `make install` puts things (DESTDIR stages the whole tree).  The
# command has the library's directory compiled in.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/resetguard
PKGLIBDIR := $(LIBDIR)/resetguard
# The version lives in VERSION; in a git checkout with a v* tag, git
# describe says more precisely what is built.  make dist writes the
# version it used into the tarball's VERSION.
VERSION := $(shell [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] && \
	git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null | sed 's/^v//')
ifeq ($(VERSION),)
VERSION := $(shell cat VERSION)
endif

WARN := -Wall -Wextra -Wshadow -Wconversion -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wundef
ifeq ($(WERROR),1)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
# CPPFLAGS, CFLAGS and LDFLAGS are the builder's (dpkg-buildflags gives
# all three): on every compile and link line, after the project's own.
BASE := -std=gnu11 -D_GNU_SOURCE -DRG_VERSION='"$(VERSION)"' $(WARN) $(CPPFLAGS)
# The library lives in other people's processes: hidden symbols, no
# semantic interposition of its own internals, static TLS (it is loaded at
# start-up, and initial-exec TLS needs no allocation on first use).
LIB_FLAGS := $(BASE) -fPIC -fvisibility=hidden -fno-semantic-interposition \
	-ftls-model=initial-exec -pthread
LIB_LDFLAGS := -shared -Wl,--no-undefined -Wl,-z,now -Wl,-z,relro -pthread
LIB_LIBS := -ldl
# What musl lacks of glibc's declarations comes from shim/musl/ (the only
# place that knows which C library it is); musl-gcc also needs the
# kernel's headers, which it does not see on its own.
ifeq ($(LIBC),musl)
MUSL_FLAGS := -I shim/musl -include shim/musl/compat.h
ifneq ($(findstring musl-gcc,$(CC)),)
KERNEL_INC := $(BUILD)/kernel-include
MUSL_FLAGS += -isystem $(KERNEL_INC)
endif
LIB_FLAGS += $(MUSL_FLAGS)
endif
CMD_PATHS := -DRG_BINDIR='"$(BINDIR)"' -DRG_PKGLIBDIR='"$(PKGLIBDIR)"' \
	-DRG_COMMAND_LIBC=$(if $(filter musl,$(LIBC)),LIBC_MUSL,LIBC_GLIBC)

# SANITIZE=address,undefined or SANITIZE=thread instruments the library
# (with gcc, in a build directory of its own: make check-asan, make
# check-tsan).  A sanitizer's runtime must be the first library an
# uninstrumented program loads, so that build of the command preloads it
# ahead of the library.  The command itself stays uninstrumented: it would
# need the runtime first too, before any LD_PRELOAD it is given.
ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_LIB := $(if $(findstring address,$(SANITIZE)),libasan.so,$(if $(findstring thread,$(SANITIZE)),libtsan.so))
SAN_RUNTIME := $(if $(SAN_LIB),$(realpath $(shell $(CC) -print-file-name=$(SAN_LIB))))
LIB_FLAGS += $(SAN_FLAGS)
LIB_LDFLAGS += $(SAN_FLAGS)
CMD_FLAGS := $(if $(SAN_RUNTIME),-DRG_PRELOAD_FIRST='"$(SAN_RUNTIME)"')
endif

LIB_SRC := $(wildcard shim/*.c) $(if $(filter musl,$(LIBC)),$(wildcard shim/musl/*.c))
LIB_OBJ := $(LIB_SRC:shim/%.c=$(BUILD)/shim/%.o)
LIB := $(BUILD)/libresetguard.so
CMD := $(BUILD)/resetguard

TEST_SRC := $(wildcard tests/progs/*.c)
# For musl, the test programs get what they use of glibc's from
# tests/progs/musl/ and the library's errno names.  Left out: io_uring's
# (no liburing for musl-gcc), those of pidfd and timer internals of glibc's,
# the oracle and the benchmarks.
ifeq ($(LIBC),musl)
TEST_SRC := $(filter-out tests/progs/iouring.c tests/progs/fdlimit.c tests/progs/stress.c,$(TEST_SRC))
PROG_FLAGS := -I tests/progs/musl -include tests/progs/musl/compat.h $(filter-out -I shim/musl \
	-include shim/musl/compat.h,$(MUSL_FLAGS))
PROG_LIBS := shim/musl/errnames.c
endif
# Every test program twice: as Debian builds (fortified, so read() becomes
# __read_chk) and plain (-O0 and -U_FORTIFY_SOURCE after the builder's
# flags, whatever they are).
TEST_BIN := $(TEST_SRC:tests/progs/%.c=$(BUILD)/tests/%) \
	$(TEST_SRC:tests/progs/%.c=$(BUILD)/tests/%.plain)
# The io_uring test program once more, linked to liburing (Debian's
# liburing-dev), whose system calls are inline and out of any wrapper's
# sight; built when liburing is installed (.ci/run installs it).
ifeq ($(wildcard /usr/include/liburing.h)$(LIBC),/usr/include/liburing.hglibc)
# (and when the compiler finds liburing for its target: not for a cross
# compiler without the target's liburing-dev)
ifneq ($(filter /%,$(shell $(CC) -print-file-name=liburing.so)),)
TEST_BIN += $(BUILD)/tests/iouring-liburing
endif
endif
# The differential oracle (tests/oracle/): one program, fortified as Debian
# builds, run without and with the library.
ORACLE_SRC := $(wildcard tests/oracle/*.c)
ORACLE := $(BUILD)/oracle/oracle
# A deliberately wrong preload library the oracle must catch (oracle.bats).
ORACLE_NAIVE := $(BUILD)/oracle/naive.so
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)

# What the objects are built with, rewritten only when it changes, so that
# a build for another PREFIX or other flags is not kept.
CONFIG_STAMP := $(BUILD)/config.stamp
CONFIG := CPPFLAGS=$(CPPFLAGS) CFLAGS=$(CFLAGS) LDFLAGS=$(LDFLAGS) VERSION=$(VERSION)
PATHS_STAMP := $(BUILD)/paths.stamp
PATHS := PREFIX=$(PREFIX) BINDIR=$(BINDIR) LIBDIR=$(LIBDIR) PKGLIBDIR=$(PKGLIBDIR)

$(CONFIG_STAMP): STAMP = $(CONFIG)
$(PATHS_STAMP): STAMP = $(PATHS)
$(CONFIG_STAMP) $(PATHS_STAMP): FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(STAMP)' | cmp -s - $@ || printf '%s\n' '$(STAMP)' >$@

.PHONY: FORCE all programs dist distcheck musl check-musl arm64 check-arm64 deb test stress demo bench bench-percall clean check-exports install uninstall \
	fuzz fuzz-regress lint check-asan check-tsan memcheck
all: $(LIB) $(CMD)

# Everything else that is compiled: test programs, examples, benchmarks.
programs: $(TEST_BIN) $(EXAMPLE_BIN) $(if $(filter glibc,$(LIBC)),$(BUILD)/bench/hotpath $(ORACLE) \
	$(ORACLE_NAIVE))

$(BUILD)/shim/%.o: shim/%.c $(wildcard shim/*.h shim/*.def shim/musl/*.h) Makefile $(CONFIG_STAMP) \
		| $(KERNEL_INC)
	@mkdir -p $(@D)
	$(CC) $(LIB_FLAGS) $(CFLAGS) -c -o $@ $<

# The kernel's headers for musl-gcc: linux/, asm-generic/ and this
# architecture's asm/, as a kernel-headers package lays them out.
$(KERNEL_INC):
	mkdir -p $@
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn /usr/include/$$($(CC) -print-multiarch)/asm $@/asm

$(LIB): $(LIB_OBJ)
	$(CC) $(LIB_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# The command checks options with the library's own parsers, and --check
# reads the settings with the library's own reader: shim/settings.c and
# shim/config.c are compiled into both (here without the library's flags, which may
# carry a sanitizer the command does not load).
CMD_SHARED := shim/settings.c shim/config.c
$(CMD): $(wildcard cli/*.c cli/*.h) $(CMD_SHARED) shim/settings.h shim/settings.def \
		shim/config.h shim/defaults.h shim/state.h Makefile $(CONFIG_STAMP) $(PATHS_STAMP) \
		| $(KERNEL_INC)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) $(CMD_FLAGS) $(MUSL_FLAGS) $(CMD_PATHS) -o $@ $(wildcard cli/*.c) $(CMD_SHARED) \
		$(LDFLAGS)

$(BUILD)/tests/%: tests/progs/%.c tests/progs/common.h $(CONFIG_STAMP) | $(KERNEL_INC)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -g -pthread $(PROG_FLAGS) -o $@ \
		$< $(PROG_LIBS) $(LDFLAGS)

$(BUILD)/tests/%.plain: tests/progs/%.c tests/progs/common.h $(CONFIG_STAMP) | $(KERNEL_INC)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -O0 -U_FORTIFY_SOURCE -g -pthread $(PROG_FLAGS) -o $@ $< $(PROG_LIBS) \
		$(LDFLAGS)

$(BUILD)/tests/iouring-liburing: tests/progs/iouring.c tests/progs/common.h
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -g -pthread -DRG_LIBURING -o $@ $< $(LDFLAGS) -luring
$(ORACLE): $(ORACLE_SRC) $(wildcard tests/oracle/*.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -g -pthread -o $@ $(ORACLE_SRC) $(LDFLAGS)

$(ORACLE_NAIVE): tests/oracle/naive/naive.c Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -O2 -fPIC -shared -o $@ $< $(LDFLAGS) -ldl

$(BUILD)/examples/%: examples/%.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -o $@ $< $(LDFLAGS)

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -O2 -o $@ $< $(LDFLAGS)

# Nothing but the wrapped libc names may leave the library (and, from
# musl's crti.o, _init and _fini).
check-exports: $(LIB)
	@bad=$$(nm -D --defined-only $(LIB) | awk '$$2 ~ /[TWDB]/ {print $$3}' | \
		grep -vxFf shim/exports.txt | grep -vxe _init -e _fini || true); \
	if [ -n "$$bad" ]; then echo "unexpected exports: $$bad"; exit 1; fi

# The suite, and the deployment example that shows bats users how to use
# resetguard on their own programs.
# (tests/arm64.bats runs with make check-arm64: it needs the arm64 build
# and qemu-user, and a minute.)
BATS_ARGS ?= $(filter-out tests/arm64.bats,$(wildcard tests/*.bats)) examples/bats-example.bats
test: all programs check-exports $(if $(shell command -v musl-gcc),musl)
	tests/run $(BATS_ARGS)

# Processes of threads that reset, close, fork and exec at random under the
# shim, held against its log and their descriptors (tests/stress.sh).
STRESS_SECONDS ?= 60
stress: all programs
	BUILD=$(BUILD) STRESS_SECONDS=$(STRESS_SECONDS) tests/stress.sh

# The whole suite against the library built with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc); any report fails it.
SAN_CC ?= gcc
check-asan:
	$(MAKE) --no-print-directory CC=$(SAN_CC) BUILD=build-asan SANITIZE=address,undefined \
		all programs
	tests/run-sanitized build-asan $(BATS_ARGS)

# ThreadSanitizer over the tests that run the library's threads: the
# drainer, the metrics thread, program threads logging and closing at once,
# fork while draining, calls in flight in another thread, event loops.
TSAN_BATS ?= tests/linger.bats tests/logging.bats tests/noharm.bats tests/eventloops.bats
check-tsan:
	$(MAKE) --no-print-directory CC=$(SAN_CC) BUILD=build-tsan SANITIZE=thread all programs
	tests/run-sanitized build-tsan $(TSAN_BATS)

# Valgrind memcheck over the examples and test programs under the library:
# no error, no leak.
memcheck: all programs
	tests/memcheck $(BUILD)

# Extra system calls and instructions per wrapped call (strace, callgrind).
bench-percall: all $(BUILD)/bench/hotpath
	BUILD=$(BUILD) bench/percall.sh

# Every benchmark, side by side with and without the shim: bench/RESULTS.md.
bench: all programs
	BUILD=$(BUILD) bench/run

demo: all $(EXAMPLE_BIN)
	BUILD=$(BUILD) examples/demo.sh

# libFuzzer targets (fuzz/), with ASan and UBSan: the settings parsers
# and the record builder, linked to the shim's own objects (the sink is
# replaced by one that keeps the records for the target to check).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_TARGETS := settings format record
FUZZ_CFLAGS := $(BASE) -O1 -g -pthread -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJ := $(addprefix $(FUZZ_BUILD)/shim/,config.o settings.o log.o format.o lock.o real.o) \
	$(addprefix $(FUZZ_BUILD)/fuzz/,check.o capture.o)
FUZZ_BIN := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz-%)

$(FUZZ_BUILD)/shim/%.o: shim/%.c $(wildcard shim/*.h shim/*.def) Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz/%.o: fuzz/%.c $(wildcard fuzz/*.h shim/*.h) Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz-%: $(FUZZ_BUILD)/fuzz/%.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^

# Each target for FUZZ_SECONDS from its seeds; FUZZ_SECONDS=0 runs the
# seeds alone, as fuzz-regress does.
fuzz: $(FUZZ_BIN)
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run $(FUZZ_TARGETS)

fuzz-regress: $(FUZZ_BIN)
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=0 fuzz/run $(FUZZ_TARGETS)

# Static analysis: cppcheck and clang-tidy (.clang-tidy says which checks
# and why) over every C file, with the Makefile's own flags; any finding
# fails.  Inline suppressions carry their reason.
LINT_SRC := $(wildcard shim/*.c cli/*.c tests/progs/*.c tests/oracle/*.c tests/oracle/naive/*.c \
	bench/*.c examples/*.c fuzz/*.c)
LINT_DEFS := -D_GNU_SOURCE -DRG_VERSION='"$(VERSION)"' $(CMD_PATHS)
CLANG_TIDY ?= clang-tidy
CPPCHECK ?= cppcheck

lint:
	$(CPPCHECK) --quiet --error-exitcode=1 --inline-suppr --std=c11 $(LINT_DEFS) \
		--enable=warning,style,performance,portability \
		--suppress=missingIncludeSystem $(LINT_SRC)
	$(CLANG_TIDY) --quiet $(LINT_SRC) -- -std=gnu11 $(LINT_DEFS) -pthread

# The command finds the library in PKGLIBDIR below the root it runs from
# (so a DESTDIR-staged tree works before it is moved), in ../lib/resetguard
# beside itself, or in PKGLIBDIR.  The library for the other C library
# (libresetguard-musl.so beside a glibc build) is installed beside it when
# `make musl` has built it.
DOC_FILES := $(BUILD)/resetguard.pc $(BUILD)/examples/systemd/resetguard.conf
INSTALL_FILES := $(BINDIR)/resetguard $(PKGLIBDIR)/libresetguard.so \
	$(PKGLIBDIR)/libresetguard-musl.so $(PKGLIBDIR)/libresetguard-glibc.so \
	$(LIBDIR)/pkgconfig/resetguard.pc \
	$(MANDIR)/man1/resetguard.1 $(MANDIR)/man7/resetguard.7 $(MANDIR)/man5/resetguard.conf.5 \
	$(DOCDIR)/examples/systemd/resetguard.conf

# The installed paths in the files that name them.
SUBST := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@PKGLIBDIR@|$(PKGLIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g'
$(BUILD)/resetguard.pc: resetguard.pc.in $(PATHS_STAMP) $(CONFIG_STAMP)
	$(SUBST) $< >$@
# The drop-in in the tree names the default place; the installed copy, the
# library's.
$(BUILD)/examples/systemd/resetguard.conf: examples/systemd/resetguard.conf $(PATHS_STAMP)
	@mkdir -p $(@D)
	sed 's|=/usr/local/lib/resetguard/|=$(PKGLIBDIR)/|' $< >$@

install: all $(DOC_FILES)
	install -D -m 0755 $(CMD) $(DESTDIR)$(BINDIR)/resetguard
	install -D -m 0644 $(LIB) $(DESTDIR)$(PKGLIBDIR)/libresetguard.so
	for f in $(wildcard $(BUILD)/libresetguard-*.so); do \
		install -D -m 0644 $$f $(DESTDIR)$(PKGLIBDIR)/$${f##*/} || exit; done
	install -D -m 0644 $(BUILD)/resetguard.pc $(DESTDIR)$(LIBDIR)/pkgconfig/resetguard.pc
	install -D -m 0644 man/resetguard.1 $(DESTDIR)$(MANDIR)/man1/resetguard.1
	install -D -m 0644 man/resetguard.7 $(DESTDIR)$(MANDIR)/man7/resetguard.7
	install -D -m 0644 man/resetguard.conf.5 $(DESTDIR)$(MANDIR)/man5/resetguard.conf.5
	install -D -m 0644 $(BUILD)/examples/systemd/resetguard.conf \
		$(DESTDIR)$(DOCDIR)/examples/systemd/resetguard.conf

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALL_FILES))
	-rmdir $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(DOCDIR)/examples/systemd \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)

# A tarball of the tracked files, in DISTDIR, with the version in its name
# and in its VERSION file: it builds and tests without git.  distcheck
# unpacks it, builds it and runs part of its suite.
DISTDIR ?= .
DIST := resetguard-$(VERSION)
dist:
	@[ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] || \
		{ echo "make dist: needs a git checkout of this tree" >&2; exit 1; }
	rm -rf $(DISTDIR)/$(DIST) && mkdir -p $(DISTDIR)/$(DIST)
	git ls-files -z | xargs -0 sh -c 'for f; do [ ! -e "$$f" ] || echo "$$f"; done' sh | \
		tar -cf - -T - | tar -C $(DISTDIR)/$(DIST) -xf -
	echo $(VERSION) >$(DISTDIR)/$(DIST)/VERSION
	tar -C $(DISTDIR) --owner=0 --group=0 --sort=name -czf $(DISTDIR)/$(DIST).tar.gz $(DIST)
	rm -rf $(DISTDIR)/$(DIST)
	@echo $(DISTDIR)/$(DIST).tar.gz

DISTCHECK_BATS ?= tests/sigpipe.bats tests/wrapper.bats tests/install.bats
distcheck:
	rm -rf $(BUILD)/distcheck && mkdir -p $(BUILD)/distcheck
	$(MAKE) --no-print-directory dist DISTDIR=$(BUILD)/distcheck
	tar -C $(BUILD)/distcheck -xzf $(BUILD)/distcheck/$(DIST).tar.gz
	$(MAKE) -C $(BUILD)/distcheck/$(DIST) --no-print-directory BUILD=build all programs
	cd $(BUILD)/distcheck/$(DIST) && RESETGUARD_BUILD=$$PWD/build tests/run $(DISTCHECK_BATS)

# The library for musl programs beside the glibc one: MUSL_BUILD holds the
# musl build (library, command, test programs); each build directory gets
# the other's library under the name its command looks for.  check-musl
# runs the SIGPIPE, graceful-close and logging tests with the musl build.
MUSL_BUILD ?= build-musl
MUSL_BATS ?= tests/sigpipe.bats tests/linger.bats tests/logging.bats
musl: all
	$(MAKE) --no-print-directory MUSL=1 CC=$(MUSL_CC) BUILD=$(MUSL_BUILD) all programs check-exports
	cp -p $(MUSL_BUILD)/libresetguard.so $(BUILD)/libresetguard-musl.so
	cp -p $(LIB) $(MUSL_BUILD)/libresetguard-glibc.so

check-musl: musl
	RESETGUARD_MUSL_BUILD=$(abspath $(MUSL_BUILD)) tests/run tests/musl.bats
	RESETGUARD_BUILD=$(abspath $(MUSL_BUILD)) tests/run $(MUSL_BATS)

# The Debian packages, from a `make dist` tarball as a builder would build
# them, then lintian and blhc (.ci/deb), in $(BUILD)/deb.
deb:
	.ci/deb $(BUILD)/deb

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) build-asan build-tsan $(MUSL_BUILD) $(ARM64_BUILD)

# The library, command and test programs for arm64 in ARM64_BUILD (ARM64=1,
# above).  check-arm64 runs tests/arm64.bats: those arm64 programs under
# qemu-user (qemu-aarch64 -L ARM64_SYSROOT, Debian's qemu-user and
# libc6-arm64-cross) against native peers, without and with the library.
ARM64_SYSROOT ?= /usr/aarch64-linux-gnu
arm64:
	$(MAKE) --no-print-directory ARM64=1 BUILD=$(ARM64_BUILD) all programs check-exports

check-arm64: all programs arm64
	RESETGUARD_ARM64_BUILD=$(abspath $(ARM64_BUILD)) RESETGUARD_ARM64_SYSROOT=$(ARM64_SYSROOT) \
		tests/run tests/arm64.bats
