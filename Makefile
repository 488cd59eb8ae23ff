# lightvm: virtual machines as cheap as containers.
#
#   make run     install missing Debian packages, build, boot the hello guest
#   make test    build everything and run every test (unit, sanitizer,
#                integration, escape battery, fuzz corpus)
#   make         build into $(BUILD)
#
# See docs/building.md for the layout and the variables below.

BUILD ?= build
SAN ?= 0
CC ?= gcc
MUSL_CC ?= musl-gcc
CLANG ?= clang

# `make V=1` shows every command.
ifeq ($(V),1)
Q :=
else
Q := @
endif
# Echo a short line for a build step when quiet: $(call say,CC,file)
say = $(if $(Q),@printf '  %-6s %s\n' '$(1)' '$(2)';)

# The CLI starts in a shell for every command: linked statically it skips
# the dynamic loader and six libraries (about 1 ms here). Sanitizers need
# the dynamic runtime.
CLI_STATIC := -static

ifeq ($(SAN),1)
CLI_STATIC :=
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wno-unused-parameter -Wno-format-truncation
HOST_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -Iinclude -I. \
               -fstack-protector-strong -D_FORTIFY_SOURCE=2 $(SANFLAGS)
HOST_LDFLAGS := $(SANFLAGS)

# Guest SDK and the shell run without the host's libc: musl, static.
GUEST_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -Iinclude -fno-pie \
                -fno-stack-protector -fno-tree-loop-distribute-patterns \
                -fno-omit-frame-pointer
SHELL_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -Iinclude -I. \
                -isystem $(BUILD)/kernel-headers -fno-stack-protector

.PHONY: all clean run test deps sdk examples tests check-unit
all: sdk examples

# Test suites run by `make test`, in order; each ends with a runner line.
# Parts add theirs in their own fragment (e.g. tinyx/tinyx.mk).
TEST_SUITES :=

# ---- Guest SDK ----------------------------------------------------------

SDK := $(BUILD)/sdk
SDK_SRCS := guest/start.S guest/start.c guest/binding_proc.c \
            guest/binding_kvm.c guest/sigsys.c guest/linux.c guest/mem.c \
            guest/random.c guest/control.c guest/api.c guest/util.c \
            guest/manifest_default.c
SDK_OBJS := $(patsubst guest/%,$(BUILD)/guest/%.o,$(SDK_SRCS))
SDK_HDRS := $(SDK)/include/lightvm/abi.h $(SDK)/include/lightvm/guest.h
LIGHTVM_CC := $(SDK)/bin/lightvm-cc

sdk: $(SDK)/lib/liblightvm-guest.a $(SDK_HDRS) $(LIGHTVM_CC)

$(BUILD)/guest/%.c.o: guest/%.c guest/sdk.h include/lightvm/abi.h include/lightvm/guest.h
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(MUSL_CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/guest/%.S.o: guest/%.S
	@mkdir -p $(dir $@)
	$(call say,AS,$<)$(MUSL_CC) -c $< -o $@

$(SDK)/lib/liblightvm-guest.a: $(SDK_OBJS)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(SDK)/include/lightvm/%.h: include/lightvm/%.h
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

$(LIGHTVM_CC): guest/lightvm-cc.in
	@mkdir -p $(dir $@)
	$(Q)sed 's|@MUSL_CC@|$(MUSL_CC)|' $< > $@ && chmod +x $@

# A guest ELF from one C file: $(BUILD)/<dir>/<name>.elf from <dir>/<name>.c
GUEST_DEPS := $(SDK)/lib/liblightvm-guest.a $(SDK_HDRS) $(LIGHTVM_CC)
$(BUILD)/examples/%.elf: examples/%.c $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) -std=c11 -O2 -g $(WARN) -o $@ $<

EXAMPLES := noop/noop hello/hello idle/idle primes/primes
EXAMPLE_ELFS := $(patsubst %,$(BUILD)/examples/%.elf,$(EXAMPLES))
examples: $(EXAMPLE_ELFS)

# ---- Shell (the process a guest runs in): static, musl ----------------

SHELL_SRCS := shell/shell.c shell/guest_fds.c \
              shell/proc/proc_exec.c \
              shell/proc/trampoline.S $(wildcard shell/kvm/*.c) \
              shell/kvm/kvm_stubs.S
SHELL_OBJS := $(patsubst %,$(BUILD)/shellobj/%.o,$(SHELL_SRCS))
SHELL_HDRS := shell/shell.h shell/plan.h include/lightvm/abi.h \
              shell/kvm/kvm.h

# musl has no Linux UAPI headers of its own: use the host's (linux-libc-dev)
# without the rest of glibc's include directory.
KHDR_STAMP := $(BUILD)/kernel-headers/.stamp
$(KHDR_STAMP):
	@mkdir -p $(dir $@)
	$(Q)ln -sfn /usr/include/linux $(BUILD)/kernel-headers/linux
	$(Q)ln -sfn /usr/include/asm-generic $(BUILD)/kernel-headers/asm-generic
	$(Q)ln -sfn /usr/include/x86_64-linux-gnu/asm $(BUILD)/kernel-headers/asm
	$(Q)touch $@

$(BUILD)/shellobj/%.c.o: %.c $(SHELL_HDRS) $(KHDR_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(MUSL_CC) $(SHELL_CFLAGS) -c $< -o $@

$(BUILD)/shellobj/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(call say,AS,$<)$(MUSL_CC) -c $< -o $@

# Static, at the default non-PIE address (0x400000, below the guest's
# region): nothing is loaded from the host when a shell starts. musl-gcc
# ignores -static-pie, hence the check that there is no interpreter.
$(BUILD)/bin/lightvm-shell: $(SHELL_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(MUSL_CC) -static -o $@ $^
	@if readelf -lW $@ | grep -q INTERP; then \
	    echo "$@ is not static"; rm -f $@; exit 1; fi

# ---- Toolstack library and CLI (host, glibc) ----------------------------

TS_SRCS := $(wildcard toolstack/*.c toolstack/qemu/*.c)
TS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TS_SRCS))
TS_LIB := $(BUILD)/lib/libtoolstack.a
TS_LIBS := -lseccomp -lelf -ljansson -lm
CLI_SRCS := $(filter-out cli/static_net.c,$(wildcard cli/*.c))
CLI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS))
HOST_HDRS := $(wildcard include/lightvm/*.h toolstack/*.h toolstack/qemu/*.h \
               cli/*.h daemon/*.h shell/plan.h)

$(BUILD)/obj/%.o: %.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(HOST_CFLAGS) -c $< -o $@

$(TS_LIB): $(TS_OBJS)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

# liblightvm: the daemon's client library (the CLI is its first user).
CLIENT_LIB := $(BUILD)/lib/liblightvm.a
$(CLIENT_LIB): $(BUILD)/obj/client/lightvm.o
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

ifneq ($(CLI_STATIC),)
# The static CLI leaves out host networking (libmnl has no static archive
# in Debian): cli/static_net.c stands in for cmd_net.c, run_qemu_net.c and dev_net.c and
# hands those commands to lightvm-net, the same CLI with libmnl linked
# dynamically and every other library still static (libarchive's dynamic
# dependencies alone cost 20 ms at start).
NET_LESS_LIBS = $(filter-out -lmnl -lnftnl,$(TS_LIBS))
CLI_STATIC_OBJS = $(filter-out $(BUILD)/obj/cli/cmd_net.o \
                    $(BUILD)/obj/cli/run_qemu_net.o,$(CLI_OBJS)) \
                  $(BUILD)/obj/cli/static_net.o
$(BUILD)/bin/lightvm: $(CLI_OBJS) $(BUILD)/obj/cli/static_net.o $(TS_LIB) \
    $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(HOST_LDFLAGS) $(CLI_STATIC) -o $@ \
	    $(CLI_STATIC_OBJS) $(TS_LIB) $(CLIENT_LIB) $(CLI_EXTRA_LIBS) \
	    $(NET_LESS_LIBS) -lz

DYNAMIC_ONLY := -lm -ldl -lpthread -pthread -lmnl -lnftnl -lc
$(BUILD)/bin/lightvm-net: $(CLI_OBJS) $(TS_LIB) $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(HOST_LDFLAGS) -no-pie -o $@ $(CLI_OBJS) \
	    $(TS_LIB) $(CLIENT_LIB) -Wl,-Bstatic \
	    $(filter-out $(DYNAMIC_ONLY),$(CLI_EXTRA_LIBS) $(TS_LIBS)) -lnftnl \
	    -lz -Wl,-Bdynamic -lmnl -lm -ldl -lpthread
else
$(BUILD)/bin/lightvm: $(CLI_OBJS) $(TS_LIB) $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(HOST_LDFLAGS) -o $@ $(CLI_OBJS) \
	    $(TS_LIB) $(CLIENT_LIB) $(CLI_EXTRA_LIBS) $(TS_LIBS) -lz
endif

DAEMON_SRCS := $(wildcard daemon/*.c)
DAEMON_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(DAEMON_SRCS))

$(BUILD)/bin/lightvmd: $(DAEMON_OBJS) $(TS_LIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(HOST_LDFLAGS) -o $@ $(DAEMON_OBJS) \
	    $(TS_LIB) $(TS_LIBS) -lpthread

BINS := $(BUILD)/bin/lightvm $(BUILD)/bin/lightvm-shell $(BUILD)/bin/lightvmd \
        $(if $(CLI_STATIC),$(BUILD)/bin/lightvm-net)
all: $(BINS)

# ---- Tests ----------------------------------------------------------------

CMOCKA_LIBS := -lcmocka
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))

# Unit tests link the toolstack and the daemon's pure parts: the request
# parser, the config file (with its quotas) and the network policy.
DAEMON_PURE_OBJS := $(patsubst %,$(BUILD)/obj/daemon/%.o,request config config_quota netpolicy)
$(BUILD)/tests/unit/%: tests/unit/%.c $(TS_LIB) $(DAEMON_PURE_OBJS) $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(DAEMON_PURE_OBJS) $(TS_LIB) $(TS_LIBS) $(CMOCKA_LIBS) \
	    $(HOST_LDFLAGS)

# Test guests: one C file each, built with the SDK like any guest.
TGUEST_SRCS := $(wildcard tests/guests/*.c)
TGUEST_ELFS := $(patsubst tests/guests/%.c,$(BUILD)/tests/guests/%.elf,$(TGUEST_SRCS))
$(BUILD)/tests/guests/%.elf: tests/guests/%.c $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) -std=gnu11 -O2 -g $(WARN) -o $@ $<

# Host tools for tests.
$(BUILD)/tests/tools/%: tests/tools/%.c include/lightvm/abi.h
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< $(HOST_LDFLAGS)

$(BUILD)/tests/tools/churn: tests/tools/churn.c $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(CLIENT_LIB) -ljansson $(HOST_LDFLAGS)

TEST_TOOLS := $(BUILD)/tests/tools/mkbadelf $(BUILD)/tests/tools/apiclient \
              $(BUILD)/tests/tools/churn $(BUILD)/tests/tools/flood

tests: all $(UNIT_BINS) $(TGUEST_ELFS) $(TEST_TOOLS)

# ---- Fuzzing (clang, libFuzzer) -----------------------------------------

FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -I. \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

build/fuzz/fuzz_image: tests/fuzz/fuzz_image.c toolstack/image.c toolstack/fsutil.c toolstack/error.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_image.c \
	    toolstack/image.c toolstack/fsutil.c toolstack/error.c -lelf

build/fuzz/fuzz_request: tests/fuzz/fuzz_request.c daemon/request.c toolstack/netaddr.c toolstack/error.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_request.c \
	    daemon/request.c toolstack/netaddr.c toolstack/error.c -ljansson

build/fuzz/fuzz_config: tests/fuzz/fuzz_config.c daemon/config.c daemon/config_quota.c toolstack/netaddr.c toolstack/error.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_config.c \
	    daemon/config.c daemon/config_quota.c toolstack/netaddr.c \
	    toolstack/error.c -ljansson -lm

.PHONY: fuzz fuzz-replay
fuzz: $(FUZZ_TARGETS)

# Replays every seed corpus through its target (deterministic; part of
# make test). Longer runs: build/fuzz/fuzz_X -max_total_time=600 CORPUS.
fuzz-replay: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	    c=tests/fuzz/corpus/$${t##*/fuzz_}; \
	    $$t -runs=0 $$c >/dev/null 2>&1 && echo "PASS $${t##*/} corpus" || \
	    { echo "FAIL $${t##*/} corpus"; exit 1; }; \
	done

include bench/bench.mk
-include tinyx/tinyx.mk
-include net/net.mk
-include tests/kvm/kvm.mk

deps:
	./scripts/deps.sh

run: deps
	$(MAKE) all
	$(BUILD)/bin/lightvm run $(BUILD)/examples/hello/hello.elf -- from make run

# Everything runs against the sanitizer build (ASan, UBSan, LeakSanitizer
# in the toolstack and the CLI); guests and the shell are the same musl
# binaries in both builds. ASan's quarantine of freed memory is kept
# small so that the daemon's memory-growth checks measure leaks, not it.
test: deps
	$(MAKE) lint
	$(MAKE) tests fuzz
	$(MAKE) SAN=1 tests
	ASAN_OPTIONS=quarantine_size_mb=4 BUILD=build/san ./scripts/run-tests.sh \
	    $(patsubst %,build/san/tests/unit/%,$(notdir $(UNIT_BINS))) \
	    $(wildcard tests/integration/test_*.sh) scripts/fuzz-replay.sh \
	    $(TEST_SUITES)

# ---- Style: clang-format (.clang-format) and cppcheck ------------------------

STYLE_FILES = $(shell git ls-files '*.c' '*.h')
CPPCHECK := cppcheck --quiet --enable=warning,performance,portability \
            --inline-suppr --std=c11 -I include -I . \
            --suppress=missingIncludeSystem \
            -D__x86_64__ --error-exitcode=1

.PHONY: format lint
format:
	clang-format -i $(STYLE_FILES)

lint:
	clang-format --dry-run -Werror $(STYLE_FILES)
	$(CPPCHECK) toolstack daemon client cli shell guest tinyx bench \
	    tests/tools tests/unit

clean:
	rm -rf build
