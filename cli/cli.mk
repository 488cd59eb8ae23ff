# cli/cli.mk: lightvm, the CLI: one file per command over libtoolstack and
# liblightvm (a user of both libraries), and lightvm-net, the same CLI
# with host networking. Included by the top-level Makefile; tinyx.mk adds
# the Tinyx builder's library to CLI_OBJS and CLI_EXTRA_LIBS.

CLI_SRCS := $(filter-out cli/static_net.c,$(wildcard cli/*.c))
CLI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS))
# Libraries parts need linked after the CLI's objects (tinyx.mk).
CLI_EXTRA_LIBS :=

ifneq ($(CLI_STATIC),)
# The static CLI leaves out host networking (libmnl has no static archive
# in Debian): cli/static_net.c stands in for cmd_net.c and run_qemu_net.c,
# the CLI's only callers of the library's networking (dev_net.c, nic.c,
# toolstack/qemu/qemu_nic.c), so those archive members are never pulled
# in and nothing refers to libmnl. It hands those commands to lightvm-net,
# the same CLI with libmnl linked dynamically and every other library
# still static (libarchive's dynamic dependencies alone cost 20 ms at
# start).
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

BINS += $(BUILD)/bin/lightvm $(if $(CLI_STATIC),$(BUILD)/bin/lightvm-net)

# They report the build's version (the top-level Makefile's VERSION_H).
$(BUILD)/obj/cli/main.o $(BUILD)/obj/cli/cmd_version.o: $(VERSION_H)
