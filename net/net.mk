# net/net.mk: guest networking: lwIP in the SDK (liblightvm-net.a), the
# network examples, their tests and the frame fuzzer. Included by the
# top-level Makefile; see docs/network.md.

# lwIP comes from Debian's source package at build time (net/lwip.lock
# pins it); the download is cached in build/debsrc and shared by every
# build variant, so neither SAN=1 nor a rebuild fetches it again.
LWIP_CACHE := build/debsrc
LWIP_DIR := build/lwip
LWIP_STAMP := $(LWIP_DIR)/.lightvm-version

$(LWIP_STAMP): net/lwip.lock net/fetch-lwip.sh $(wildcard net/patches/*.patch)
	$(call say,FETCH,lwip (Debian source package))./net/fetch-lwip.sh $(LWIP_CACHE) $(LWIP_DIR)

# The parts of lwIP a NO_SYS, raw-API, IPv4 guest needs; options turn
# off what is unused inside them (guest/net/include/lwipopts.h).
LWIP_FILES := core/init.c core/def.c core/inet_chksum.c core/ip.c \
              core/mem.c core/memp.c core/netif.c core/pbuf.c core/tcp.c \
              core/tcp_in.c core/tcp_out.c core/udp.c core/timeouts.c \
              core/ipv4/dhcp.c core/ipv4/etharp.c core/ipv4/icmp.c \
              core/ipv4/ip4.c core/ipv4/ip4_addr.c netif/ethernet.c
NET_SRCS := guest/net/netif.c guest/net/stack.c guest/net/tcp.c \
            guest/net/udp.c guest/net/ip4.c
NET_HDRS := guest/net/netpriv.h guest/net/include/lwipopts.h \
            guest/net/include/arch/cc.h guest/net/include/lvm_hooks.h \
            include/lightvm/net.h include/lightvm/guest.h \
            include/lightvm/abi.h

NET_INC := -Iguest/net/include -I$(LWIP_DIR)/src/include
# lwIP is third-party code: compiled as Debian ships it, its warnings are
# not ours to fix (and must not break the build on a newer compiler).
LWIP_CFLAGS := -std=gnu11 -O2 -g -fno-pie -fno-stack-protector \
               -fno-omit-frame-pointer -w $(NET_INC)
NET_CFLAGS := $(GUEST_CFLAGS) $(NET_INC)

LWIP_OBJS := $(patsubst %.c,$(BUILD)/guest-net/lwip/%.o,$(LWIP_FILES))
NET_OBJS := $(patsubst guest/net/%.c,$(BUILD)/guest-net/%.o,$(NET_SRCS))
NET_LIB := $(SDK)/lib/liblightvm-net.a

$(BUILD)/guest-net/lwip/%.o: $(LWIP_STAMP) $(NET_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,lwip/$*.c)$(MUSL_CC) $(LWIP_CFLAGS) -c $(LWIP_DIR)/src/$*.c -o $@

$(BUILD)/guest-net/%.o: guest/net/%.c $(NET_HDRS) $(LWIP_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(MUSL_CC) $(NET_CFLAGS) -c $< -o $@

$(NET_LIB): $(LWIP_OBJS) $(NET_OBJS)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

sdk: $(NET_LIB) $(SDK)/include/lightvm/net.h

# ---- Network examples: linked with the network library ----------------

NET_EXAMPLES := daytime/daytime echo/echo http/http
NET_EXAMPLE_ELFS := $(patsubst %,$(BUILD)/examples/%.elf,$(NET_EXAMPLES))
NET_GUEST_DEPS := $(GUEST_DEPS) $(NET_LIB) $(SDK)/include/lightvm/net.h

$(NET_EXAMPLE_ELFS): $(BUILD)/examples/%.elf: examples/%.c $(NET_GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) --net -std=c11 -O2 -g $(WARN) -o $@ $<

examples: $(NET_EXAMPLE_ELFS)

# ---- Toolstack: netlink (libmnl) and nftables (libnftnl) -----------------

TS_LIBS += -lmnl -lnftnl

# ---- Tests ------------------------------------------------------------------

# Guests that exercise the stack (a client, a spoofer), and host tools.
NET_TGUEST_SRCS := $(wildcard tests/net/guests/*.c)
NET_TGUEST_ELFS := $(patsubst tests/net/guests/%.c,$(BUILD)/tests/net/guests/%.elf,$(NET_TGUEST_SRCS))
$(BUILD)/tests/net/guests/%.elf: tests/net/guests/%.c $(NET_GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) --net -std=gnu11 -O2 -g $(WARN) -o $@ $<

NET_TOOL_SRCS := $(wildcard tests/net/tools/*.c)
NET_TOOLS := $(patsubst tests/net/tools/%.c,$(BUILD)/tests/net/tools/%,$(NET_TOOL_SRCS))
$(BUILD)/tests/net/tools/%: tests/net/tools/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< $(HOST_LDFLAGS)

tests: $(NET_TGUEST_ELFS) $(NET_TOOLS)

# ---- The frame fuzzer: lwIP and the driver built for the host --------------

# libFuzzer needs clang. The fuzzer links the same driver and API files
# as the SDK, over a fake hypercall layer (tests/fuzz/fuzz_net_frame.c);
# it lives outside $(BUILD) so the SAN=1 pass does not build it twice.
FUZZ_DIR := build/fuzz
FUZZ_NET := $(FUZZ_DIR)/fuzz_net_frame $(FUZZ_DIR)/fuzz_net_dhcp
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined -DLVM_NET_FUZZ -Iinclude \
               $(NET_INC)
FUZZ_NET_SRCS := tests/fuzz/fuzz_net_frame.c $(NET_SRCS) \
                 $(addprefix $(LWIP_DIR)/src/,$(LWIP_FILES))

# The same target twice: a NIC with a static address, and one on DHCP.
$(FUZZ_DIR)/fuzz_net_frame: $(LWIP_STAMP) tests/fuzz/fuzz_net_frame.c $(NET_SRCS) $(NET_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CLANG,$@)$(CLANG) $(FUZZ_CFLAGS) -w -o $@ $(FUZZ_NET_SRCS)

$(FUZZ_DIR)/fuzz_net_dhcp: $(LWIP_STAMP) tests/fuzz/fuzz_net_frame.c $(NET_SRCS) $(NET_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CLANG,$@)$(CLANG) $(FUZZ_CFLAGS) -DLVM_FUZZ_DHCP -w -o $@ $(FUZZ_NET_SRCS)

ifneq ($(shell command -v $(CLANG) 2>/dev/null),)
tests: $(FUZZ_NET)
endif

.PHONY: fuzz-net
# make fuzz-net FUZZ_SECONDS=300: grow the corpus in build/fuzz/corpus,
# half the time on each target.
FUZZ_SECONDS ?= 60
fuzz-net: $(FUZZ_NET)
	@mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_DIR)/fuzz_net_frame -max_total_time=$$(($(FUZZ_SECONDS) / 2)) \
	    -max_len=8192 $(FUZZ_DIR)/corpus tests/fuzz/corpus/net_frame
	$(FUZZ_DIR)/fuzz_net_dhcp -max_total_time=$$(($(FUZZ_SECONDS) / 2)) \
	    -max_len=8192 $(FUZZ_DIR)/corpus tests/fuzz/corpus/net_frame

TEST_SUITES += tests/fuzz/run_net_corpus.sh

# ---- Benchmarks (bench/net/run.sh; results in bench/results/) ------------

NET_BENCH_TOOLS := $(patsubst bench/net/%.c,$(BUILD)/bench/net/%,$(wildcard bench/net/*.c))
$(BUILD)/bench/net/%: bench/net/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< $(HOST_LDFLAGS)

# daytime_api is a lightvmd client (liblightvm).
$(BUILD)/bench/net/daytime_api: bench/net/daytime_api.c $(CLIENT_LIB) $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(CLIENT_LIB) -ljansson $(HOST_LDFLAGS)

# attach_cost drives the toolstack library itself.
$(BUILD)/bench/net/attach_cost: bench/net/attach_cost.c $(TS_LIB) $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(TS_LIB) $(TS_LIBS) $(HOST_LDFLAGS)

tests: $(NET_BENCH_TOOLS)

.PHONY: bench-net
bench-net: all tests
	./bench/net/run.sh
