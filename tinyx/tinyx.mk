# tinyx.mk: Tinyx (minimal Linux VMs for one Debian application): the
# image builder and the guests' init, their tests and benchmark. Images
# run under the qemu driver, part of the host library (toolstack/qemu/,
# which owns the image format); the builder depends on it, never the
# other way. Included by the top-level Makefile.

TINYX_SRCS := $(wildcard tinyx/*.c)
TINYX_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TINYX_SRCS))
TINYX_HDRS := $(wildcard tinyx/*.h toolstack/qemu/*.h)
TINYX_LIB := $(BUILD)/lib/libtinyx.a
# A statically linked CLI (CLI_STATIC) needs libarchive's and libcrypto's
# own dependencies spelt out; only the objects used are pulled in.
TINYX_LIBS := $(if $(CLI_STATIC),$(shell pkg-config --static --libs \
                  libarchive libcrypto),-larchive -lcrypto)
TINYX_INIT := $(BUILD)/bin/lightvm-tinyx-init

# The CLI links the library: cmd_tinyx.c and run_qemu.c live in cli/.
CLI_OBJS += $(TINYX_LIB)
CLI_EXTRA_LIBS += $(TINYX_LIBS)
$(BUILD)/bin/lightvm $(BUILD)/bin/lightvm-net: $(TINYX_LIB)
$(TINYX_OBJS) $(BUILD)/obj/cli/cmd_tinyx.o $(BUILD)/obj/cli/run_qemu.o \
    $(BUILD)/obj/cli/cmd_run.o $(BUILD)/obj/cli/guest_opts.o: $(TINYX_HDRS)

$(TINYX_LIB): $(TINYX_OBJS)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

# The guest's init: static, musl, no libraries (like kvmtool's guest/init).
TINYX_INIT_SRCS := $(wildcard tinyx/init/*.c)
$(TINYX_INIT): $(TINYX_INIT_SRCS) tinyx/init/init.h include/lightvm/tinyx_exec.h
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(MUSL_CC) -std=c11 -D_GNU_SOURCE -Os -static $(WARN) \
	    -Iinclude \
	    -o $@ $(TINYX_INIT_SRCS)

BINS += $(TINYX_INIT)

# Unit tests of Tinyx link its library before the toolstack's.
$(BUILD)/tests/unit/test_tinyx_%: tests/unit/test_tinyx_%.c $(TINYX_LIB) \
    $(TS_LIB) $(HOST_HDRS) $(TINYX_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(TINYX_LIB) $(TS_LIB) $(TS_LIBS) $(TINYX_LIBS) $(CMOCKA_LIBS) $(HOST_LDFLAGS)

# Test programs driving the monitor library (lifecycle: pause, save...).
TINYX_TPROGS := $(BUILD)/tests/tinyx/qemu_lifecycle
$(BUILD)/tests/tinyx/%: tests/tinyx/%.c $(TINYX_LIB) $(TS_LIB) $(TINYX_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -o $@ $< $(TINYX_LIB) $(TS_LIB) \
	    $(TS_LIBS) $(TINYX_LIBS) $(HOST_LDFLAGS)

# libFuzzer targets for Tinyx's parsers of untrusted input, in build/fuzz
# whatever BUILD is (they carry their own sanitizers); each is replayed over
# its seed corpus tests/fuzz/corpus/tinyx_NAME by
# tests/tinyx/test_fuzz_corpus.sh.
TINYX_FUZZ := dpkg qmp manifest kconfig argsplit elf xframe
TINYX_FUZZ_BINS := $(patsubst %,build/fuzz/fuzz_tinyx_%,$(TINYX_FUZZ))
TINYX_FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -I. \
                     -fsanitize=fuzzer,address,undefined \
                     -fno-sanitize-recover=undefined
TINYX_FUZZ_SRCS := tinyx/dpkg.c toolstack/qemu/tinyx_manifest.c tinyx/kconfig.c \
                   tinyx/argsplit.c tinyx/elfdeps.c toolstack/qemu/qemu_qmp.c \
                   toolstack/qemu/qemu_control.c toolstack/qemu/qemu_xframe.c \
                   toolstack/error.c toolstack/fdpass.c
build/fuzz/fuzz_tinyx_%: tests/fuzz/fuzz_tinyx_%.c $(TINYX_FUZZ_SRCS) \
    $(TINYX_HDRS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(TINYX_FUZZ_CFLAGS) -o $@ $< \
	    $(TINYX_FUZZ_SRCS) -ljansson -lelf -lcrypto

tests: $(TINYX_TPROGS) $(TINYX_FUZZ_BINS)

TEST_SUITES += tests/tinyx/test_fuzz_corpus.sh tests/tinyx/test_tinyx.sh \
               tests/tinyx/test_daemon_qemu.sh tests/tinyx/test_qemu_net.sh \
               tests/tinyx/test_qemu_sandbox.sh tests/tinyx/test_tinyx_exec.sh \
               tests/tinyx/test_qemu_nics.sh

# `make tinyx-bench`: the measurements in bench/results/ (minutes).
.PHONY: tinyx-bench
tinyx-bench: all
	bench/tinyx/run.sh

TINYX_BENCH := $(BUILD)/bench/tinyx/boot_bench
$(TINYX_BENCH): bench/tinyx/boot_bench.c $(TINYX_LIB) $(TS_LIB) $(TINYX_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -o $@ $< $(TINYX_LIB) $(TS_LIB) \
	    $(TS_LIBS) $(TINYX_LIBS) $(HOST_LDFLAGS)
tinyx-bench: $(TINYX_BENCH)
