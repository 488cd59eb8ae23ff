# tests/tests.mk: unit tests (cmocka, over libtoolstack), test guests (built
# with the SDK), host test tools and the libFuzzer targets of the library
# and the daemon. Included by the top-level Makefile; each part's own
# suites are in its fragment (tinyx/tinyx.mk, net/net.mk, tests/kvm/kvm.mk).

CMOCKA_LIBS := -lcmocka
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))

# Unit tests link the toolstack and the daemon's pure parts: the request
# parser, the config file (with its quotas) and the network policy.
DAEMON_PURE_OBJS := $(patsubst %,$(BUILD)/obj/daemon/%.o,request config config_quota config_service netpolicy)
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

# The sweep again, in strict mode: every unserved call is fatal.
TGUEST_ELFS += $(BUILD)/tests/guests/sweep_strict.elf
$(BUILD)/tests/guests/sweep_strict.elf: tests/guests/sweep.c $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) --strict-syscalls -std=gnu11 -O2 -g \
	    $(WARN) -o $@ $<
# The file tree's guest carries a tree: the committed files plus a
# generated one bigger than stdio's buffers.
$(BUILD)/tests/guests/files.elf: tests/guests/files.c $(wildcard tests/guests/files-tree/*/* tests/guests/files-tree/*/*/*) $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(Q)rm -rf $@.tree && cp -r tests/guests/files-tree $@.tree && \
	    seq 1 5000 >$@.tree/data/big.txt
	$(call say,GUEST,$@)$(LIGHTVM_CC) -std=gnu11 -O2 -g $(WARN) \
	    --files $@.tree -o $@ $<

# Host tools for tests.
$(BUILD)/tests/tools/%: tests/tools/%.c include/lightvm/abi.h
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< $(HOST_LDFLAGS)

$(BUILD)/tests/tools/churn: tests/tools/churn.c $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(CLIENT_LIB) -ljansson $(HOST_LDFLAGS)

TEST_TOOLS := $(BUILD)/tests/tools/mkbadelf $(BUILD)/tests/tools/apiclient \
              $(BUILD)/tests/tools/churn $(BUILD)/tests/tools/flood \
              $(BUILD)/tests/tools/int80probe $(BUILD)/tests/tools/subreaper

tests: all $(UNIT_BINS) $(TGUEST_ELFS) $(TEST_TOOLS)

# ---- Fuzzing (clang, libFuzzer; `make fuzz` builds FUZZ_TARGETS) --------

FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -I. \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

build/fuzz/fuzz_image: tests/fuzz/fuzz_image.c toolstack/image.c toolstack/fsutil.c toolstack/error.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_image.c \
	    toolstack/image.c toolstack/fsutil.c toolstack/error.c -lelf

build/fuzz/fuzz_request: tests/fuzz/fuzz_request.c daemon/request.c toolstack/netaddr.c toolstack/nic_spec.c toolstack/guest_name.c toolstack/error.c toolstack/qemu/qemu_volume.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_request.c \
	    daemon/request.c toolstack/netaddr.c toolstack/nic_spec.c toolstack/guest_name.c \
	    toolstack/error.c toolstack/qemu/qemu_volume.c -ljansson

build/fuzz/fuzz_config: tests/fuzz/fuzz_config.c daemon/config.c daemon/config_quota.c \
    daemon/config_service.c toolstack/netaddr.c toolstack/error.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_config.c \
	    daemon/config.c daemon/config_quota.c daemon/config_service.c \
	    toolstack/netaddr.c toolstack/error.c -ljansson -lm

# The state file reader, with the checksum computed but not enforced
# (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) so that mutations reach the
# checks behind it. Seeds: tests/fuzz/make_snapfile_seeds.py.
build/fuzz/fuzz_snapfile: tests/fuzz/fuzz_snapfile.c toolstack/snapfile.c toolstack/error.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) \
	    -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -o $@ \
	    tests/fuzz/fuzz_snapfile.c toolstack/snapfile.c toolstack/error.c \
	    -lcrypto

# The migration stream's reader and the destination's state machine, fed
# in chunks. Seeds: tests/fuzz/make_migstream_seeds.py.
build/fuzz/fuzz_migstream: tests/fuzz/fuzz_migstream.c toolstack/migstream.c toolstack/snapfile.c toolstack/error.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ \
	    tests/fuzz/fuzz_migstream.c toolstack/migstream.c \
	    toolstack/snapfile.c toolstack/error.c -ljansson -lcrypto

# The guest file tree's ustar reader (guest/fs_tar.c), shared with
# lightvm-tarcheck. Seeds: tests/fuzz/corpus/tar, archives made by tar cf.
build/fuzz/fuzz_tar: tests/fuzz/fuzz_tar.c guest/fs_tar.c guest/fs_tar.h
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_tar.c \
	    guest/fs_tar.c

# Replays every seed corpus through its target (deterministic; part of
# make test). Longer runs: build/fuzz/fuzz_X -max_total_time=600 CORPUS.
.PHONY: fuzz-replay
fuzz-replay: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	    c=tests/fuzz/corpus/$${t##*/fuzz_}; \
	    $$t -runs=0 $$c >/dev/null 2>&1 && echo "PASS $${t##*/} corpus" || \
	    { echo "FAIL $${t##*/} corpus"; exit 1; }; \
	done

build/fuzz/fuzz_guest_text: tests/fuzz/fuzz_guest_text.c toolstack/text.c $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_guest_text.c \
	    toolstack/text.c

build/fuzz/fuzz_fw_rules: tests/fuzz/fuzz_fw_rules.c examples/firewall/rules.c examples/firewall/rules.h
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_fw_rules.c \
	    examples/firewall/rules.c
