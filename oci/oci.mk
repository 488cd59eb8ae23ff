# oci/oci.mk: lightvm-runtime, the OCI runtime (runc's command line) for
# unikernel bundles, a user of libtoolstack (docs/oci.md). Included by
# the top-level Makefile after cli/cli.mk (it reuses CLI_STATIC and the
# CLI's net-less library list: the runtime makes no host networking).

OCI_SRCS := $(wildcard oci/*.c)
OCI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(OCI_SRCS))
# The parts the unit tests and the fuzz target link without main.c.
OCI_LIB_OBJS := $(BUILD)/obj/oci/args.o $(BUILD)/obj/oci/config.o \
                $(BUILD)/obj/oci/hooks.o $(BUILD)/obj/oci/errf.o

$(BUILD)/obj/oci/%.o: oci/%.c $(HOST_HDRS) $(wildcard oci/*.h)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(HOST_CFLAGS) -c $< -o $@

# VM containers (oci/vm_*.c) pick their kernel with Tinyx's kernel.c
# (libtinyx.a, tinyx/tinyx.mk; only its kernel objects are pulled in).
OCI_TINYX_LIB := $(BUILD)/lib/libtinyx.a
$(BUILD)/bin/lightvm-runtime: $(OCI_OBJS) $(OCI_TINYX_LIB) $(TS_LIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(HOST_LDFLAGS) $(CLI_STATIC) -o $@ $(OCI_OBJS) \
	    $(OCI_TINYX_LIB) $(TS_LIB) $(filter-out -lmnl -lnftnl,$(TS_LIBS)) -lz

BINS += $(BUILD)/bin/lightvm-runtime

# The suites: the runtime driven directly, then under its real callers
# (each skips, saying why, where its caller is not installed).
TEST_SUITES += tests/oci/test_oci_runtime.sh tests/oci/test_oci_podman.sh \
               tests/oci/test_oci_containerd.sh tests/oci/test_oci_vm.sh

# The unit test links the runtime's pure parts (tests/unit/test_oci.c).
$(BUILD)/tests/unit/test_oci: tests/unit/test_oci.c $(OCI_LIB_OBJS) $(TS_LIB) \
    $(HOST_HDRS) $(wildcard oci/*.h)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(OCI_LIB_OBJS) $(TS_LIB) -ljansson $(CMOCKA_LIBS) $(HOST_LDFLAGS)

# The VM containers' pure parts (tests/unit/test_oci_vm.c).
OCI_VM_UNIT_OBJS := $(BUILD)/obj/oci/vm_conf.o $(BUILD)/obj/oci/vm_image.o \
                    $(BUILD)/obj/oci/state.o $(BUILD)/obj/oci/errf.o
$(BUILD)/tests/unit/test_oci_vm: tests/unit/test_oci_vm.c $(OCI_VM_UNIT_OBJS) \
    $(TS_LIB) $(HOST_HDRS) $(wildcard oci/*.h)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(OCI_VM_UNIT_OBJS) $(TS_LIB) -ljansson -lcrypto $(CMOCKA_LIBS) \
	    $(HOST_LDFLAGS)

# libFuzzer: config.json to a bundle (seeds: tests/fuzz/corpus/oci_config).
build/fuzz/fuzz_oci_config: tests/fuzz/fuzz_oci_config.c oci/config.c oci/hooks.c \
    oci/errf.c oci/config.h
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ \
	    tests/fuzz/fuzz_oci_config.c oci/config.c oci/hooks.c oci/errf.c \
	    -ljansson

# libFuzzer: config.json to a VM container's init configuration, checked
# against the init's own parser (seeds: tests/fuzz/corpus/oci_vm_conf).
build/fuzz/fuzz_oci_vm_conf: tests/fuzz/fuzz_oci_vm_conf.c oci/vm_conf.c oci/errf.c \
    oci/vm_conf.h tinyx/init/init_conf.c tinyx/init/init.h
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ \
	    tests/fuzz/fuzz_oci_vm_conf.c oci/vm_conf.c oci/errf.c -ljansson
