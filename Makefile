# resetguard: an LD_PRELOAD shim that keeps SIGPIPE from killing programs on
# socket writes and logs every connection reset with the peer's address.

CC ?= cc
PREFIX ?= /usr/local
BUILD ?= build
VERSION := 0.1.0

WARN := -Wall -Wextra -Wshadow -Wconversion -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wundef
ifeq ($(WERROR),1)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
BASE := -std=gnu11 -D_GNU_SOURCE -DRG_VERSION='"$(VERSION)"' $(WARN)
# The library lives in other people's processes: hidden symbols, no
# semantic interposition of its own internals, static TLS (it is loaded at
# start-up, and initial-exec TLS needs no allocation on first use).
LIB_FLAGS := $(BASE) -fPIC -fvisibility=hidden -fno-semantic-interposition \
	-ftls-model=initial-exec -pthread
LIB_LDFLAGS := -shared -Wl,--no-undefined -Wl,-z,now -Wl,-z,relro -pthread
LIB_LIBS := -ldl

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

LIB_SRC := $(wildcard shim/*.c)
LIB_OBJ := $(LIB_SRC:shim/%.c=$(BUILD)/shim/%.o)
LIB := $(BUILD)/libresetguard.so
CMD := $(BUILD)/resetguard

TEST_SRC := $(wildcard tests/progs/*.c)
# Every test program twice: as Debian builds (fortified, so read() becomes
# __read_chk) and plain.
TEST_BIN := $(TEST_SRC:tests/progs/%.c=$(BUILD)/tests/%) \
	$(TEST_SRC:tests/progs/%.c=$(BUILD)/tests/%.plain)
# The io_uring test program once more, linked to liburing (Debian's
# liburing-dev), whose system calls are inline and out of any wrapper's
# sight; built when liburing is installed (.ci/run installs it).
ifneq ($(wildcard /usr/include/liburing.h),)
TEST_BIN += $(BUILD)/tests/iouring-liburing
endif
# The differential oracle (tests/oracle/): one program, fortified as Debian
# builds, run without and with the library.
ORACLE_SRC := $(wildcard tests/oracle/*.c)
ORACLE := $(BUILD)/oracle/oracle
# A deliberately wrong preload library the oracle must catch (oracle.bats).
ORACLE_NAIVE := $(BUILD)/oracle/naive.so
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)

.PHONY: all programs test stress demo bench bench-percall clean check-exports install uninstall \
	fuzz fuzz-regress lint check-asan check-tsan memcheck
all: $(LIB) $(CMD)

# Everything else that is compiled: test programs, examples, benchmarks.
programs: $(TEST_BIN) $(EXAMPLE_BIN) $(BUILD)/bench/hotpath $(ORACLE) $(ORACLE_NAIVE)

$(BUILD)/shim/%.o: shim/%.c $(wildcard shim/*.h shim/*.def) Makefile
	@mkdir -p $(@D)
	$(CC) $(LIB_FLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	$(CC) $(LIB_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# The command checks options with the library's own parsers: shim/settings.c
# is compiled into both (here without the library's flags, which may
# carry a sanitizer the command does not load).
CMD_SHARED := shim/settings.c
$(CMD): $(wildcard cli/*.c cli/*.h) $(CMD_SHARED) shim/settings.h shim/settings.def \
		shim/config.h shim/defaults.h shim/state.h Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) $(CMD_FLAGS) -DRG_LIBDIR='"$(PREFIX)/lib/resetguard"' -o $@ \
		$(wildcard cli/*.c) $(CMD_SHARED) $(LDFLAGS)

$(BUILD)/tests/%: tests/progs/%.c tests/progs/common.h
	@mkdir -p $(@D)
	$(CC) $(BASE) -O2 -D_FORTIFY_SOURCE=2 -g -pthread -o $@ $< $(LDFLAGS)

$(BUILD)/tests/%.plain: tests/progs/%.c tests/progs/common.h
	@mkdir -p $(@D)
	$(CC) $(BASE) -O0 -U_FORTIFY_SOURCE -g -pthread -o $@ $< $(LDFLAGS)

$(BUILD)/tests/iouring-liburing: tests/progs/iouring.c tests/progs/common.h
	@mkdir -p $(@D)
	$(CC) $(BASE) -O2 -D_FORTIFY_SOURCE=2 -g -pthread -DRG_LIBURING -o $@ $< $(LDFLAGS) -luring
$(ORACLE): $(ORACLE_SRC) $(wildcard tests/oracle/*.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) -O2 -D_FORTIFY_SOURCE=2 -g -pthread -o $@ $(ORACLE_SRC) $(LDFLAGS)

$(ORACLE_NAIVE): tests/oracle/naive/naive.c Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) -O2 -fPIC -shared -o $@ $< $(LDFLAGS) -ldl

$(BUILD)/examples/%: examples/%.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -o $@ $< $(LDFLAGS)

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(BASE) -O2 -o $@ $< $(LDFLAGS)

# Nothing but the wrapped libc names may leave the library.
check-exports: $(LIB)
	@bad=$$(nm -D --defined-only $(LIB) | awk '$$2 ~ /[TWDB]/ {print $$3}' | \
		grep -vxFf shim/exports.txt || true); \
	if [ -n "$$bad" ]; then echo "unexpected exports: $$bad"; exit 1; fi

# The suite, and the deployment example that shows bats users how to use
# resetguard on their own programs.
BATS_ARGS ?= tests/*.bats examples/bats-example.bats
test: all programs check-exports
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
LINT_DEFS := -D_GNU_SOURCE -DRG_VERSION='"$(VERSION)"' -DRG_LIBDIR='"$(PREFIX)/lib/resetguard"'
CLANG_TIDY ?= clang-tidy
CPPCHECK ?= cppcheck

lint:
	$(CPPCHECK) --quiet --error-exitcode=1 --inline-suppr --std=c11 $(LINT_DEFS) \
		--enable=warning,style,performance,portability \
		--suppress=missingIncludeSystem $(LINT_SRC)
	$(CLANG_TIDY) --quiet $(LINT_SRC) -- -std=gnu11 $(LINT_DEFS) -pthread

# The command looks for the library in ../lib/resetguard beside itself, so
# an installed tree works wherever it is unpacked, DESTDIR staging included.
INSTALL_FILES := $(PREFIX)/bin/resetguard $(PREFIX)/lib/resetguard/libresetguard.so \
	$(PREFIX)/share/man/man1/resetguard.1 $(PREFIX)/share/man/man7/resetguard.7 \
	$(PREFIX)/share/man/man5/resetguard.conf.5

install: all
	install -D -m 0755 $(CMD) $(DESTDIR)$(PREFIX)/bin/resetguard
	install -D -m 0644 $(LIB) $(DESTDIR)$(PREFIX)/lib/resetguard/libresetguard.so
	install -D -m 0644 man/resetguard.1 $(DESTDIR)$(PREFIX)/share/man/man1/resetguard.1
	install -D -m 0644 man/resetguard.7 $(DESTDIR)$(PREFIX)/share/man/man7/resetguard.7
	install -D -m 0644 man/resetguard.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/resetguard.conf.5

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALL_FILES))
	-rmdir $(DESTDIR)$(PREFIX)/lib/resetguard

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) build-asan build-tsan
