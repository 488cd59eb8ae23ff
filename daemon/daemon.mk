# daemon/daemon.mk: lightvmd, the daemon: a user of libtoolstack (the
# qemu driver included). Included by the top-level Makefile.

DAEMON_SRCS := $(wildcard daemon/*.c)
DAEMON_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(DAEMON_SRCS))

$(BUILD)/bin/lightvmd: $(DAEMON_OBJS) $(TS_LIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(HOST_LDFLAGS) -o $@ $(DAEMON_OBJS) \
	    $(TS_LIB) $(TS_LIBS) -lacl -lpthread -lsystemd

BINS += $(BUILD)/bin/lightvmd

# They report the build's version (the top-level Makefile's VERSION_H).
$(BUILD)/obj/daemon/main.o $(BUILD)/obj/daemon/api.o: $(VERSION_H)
