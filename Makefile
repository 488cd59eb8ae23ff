# lightvm: virtual machines as cheap as containers.
#
#   make run     install missing Debian packages, build, boot the hello guest
#   make test    build everything and run every test (unit, sanitizer,
#                integration, escape battery, fuzz corpus)
#   make         build into $(BUILD)
#
# This file holds the variables, the phony targets and the includes; each
# directory that builds something has its own fragment, included below in
# the order of the layers: the guest SDK, the shell, the host library, its
# users, then the tests, benchmarks and the parts that add to all of them.
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
HOST_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -Iinclude -I. -I$(BUILD)/gen \
               -fstack-protector-strong -D_FORTIFY_SOURCE=2 $(SANFLAGS)
HOST_LDFLAGS := $(SANFLAGS)

# Guest SDK and the shell run without the host's libc: musl, static.
GUEST_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -Iinclude -fno-pie \
                -fno-stack-protector -fno-tree-loop-distribute-patterns \
                -fno-omit-frame-pointer
SHELL_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -Iinclude -I. \
                -isystem $(BUILD)/kernel-headers -fno-stack-protector

# Every host (glibc) object: the library, its users, the Tinyx builder.
HOST_HDRS := $(wildcard include/lightvm/*.h toolstack/*.h toolstack/qemu/*.h \
               cli/*.h daemon/*.h shell/plan.h)

.PHONY: all clean run test deps sdk examples tests check-unit fuzz format lint
all: sdk examples

# Test suites run by `make test`, in order; each ends with a runner line.
# Parts add theirs in their own fragment (e.g. tinyx/tinyx.mk).
TEST_SUITES :=
# The binaries `make` builds; each fragment adds its own.
BINS :=

$(BUILD)/obj/%.o: %.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(HOST_CFLAGS) -c $< -o $@

# The version lightvm and lightvmd report (scripts/version.sh: git
# describe, else the VERSION file), as $(BUILD)/gen/lvm_version.h. It is
# rewritten only when the version changes, so a new commit rebuilds the
# two files that include it and nothing else.
VERSION_H := $(BUILD)/gen/lvm_version.h
.PHONY: FORCE
$(VERSION_H): FORCE
	@mkdir -p $(dir $@)
	$(Q)printf '#define LVM_VERSION "%s"\n' "$$(./scripts/version.sh)" > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

include guest/guest.mk
include examples/examples.mk
include shell/shell.mk
include toolstack/toolstack.mk
include client/client.mk
include cli/cli.mk
include oci/oci.mk
include daemon/daemon.mk
# After the library: its unit test names $(TS_LIB) as a prerequisite.
include examples/firewall/firewall.mk
include tests/tests.mk
include faas/faas.mk
include bench/bench.mk
include tinyx/tinyx.mk
include net/net.mk
include tls/tls.mk
include tests/kvm/kvm.mk
include tests/compat/compat.mk
include docs/man.mk
include etc/install.mk

all: $(BINS)

fuzz: $(FUZZ_TARGETS)

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

format:
	clang-format -i $(STYLE_FILES)

lint:
	clang-format --dry-run -Werror $(STYLE_FILES)
	$(CPPCHECK) toolstack daemon client cli oci shell guest tinyx bench faas \
	    tests/tools tests/unit

clean:
	rm -rf build
