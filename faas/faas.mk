# faas/faas.mk: the function service (docs/faas.md): `lightvm fn` (the
# gateway and the function store, linked into the CLI) and its Lua guest,
# lightvm-fn-guest.elf, next to the CLI in $(BUILD)/bin. Lua 5.4 comes from
# Debian's source package at build time (faas/build-lua.sh, with the
# compatibility suite's fetch and pin), never committed. Included by the
# top-level Makefile.

FAAS_SRCS := faas/cmd_fn.c faas/gateway.c faas/invoke.c faas/http.c \
             faas/fn_store.c faas/baseline.c faas/clients.c
FAAS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(FAAS_SRCS))
FAAS_HDRS := $(wildcard faas/*.h)

$(FAAS_OBJS): $(FAAS_HDRS)
CLI_OBJS += $(FAAS_OBJS)
$(BUILD)/bin/lightvm $(BUILD)/bin/lightvm-net: $(FAAS_OBJS)

FAAS_LUA := $(BUILD)/faas/lua
FAAS_LUA_STAMP := $(FAAS_LUA)/.lightvm-version
$(FAAS_LUA_STAMP): faas/build-lua.sh tests/compat/fetch.sh \
                   tests/compat/compat.lock $(GUEST_DEPS)
	$(call say,LUA,$(FAAS_LUA)/liblua.a)faas/build-lua.sh $(BUILD)

FN_GUEST := $(BUILD)/bin/lightvm-fn-guest.elf
$(FN_GUEST): faas/guest/fn_guest.c $(FAAS_LUA_STAMP) $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) -std=gnu11 -O2 -g $(WARN) \
	    -I$(FAAS_LUA)/include -o $@ $< $(FAAS_LUA)/liblua.a -lm

BINS += $(FN_GUEST)

# The HTTP reader's fuzz target; seeds in tests/fuzz/corpus/http.
build/fuzz/fuzz_http: tests/fuzz/fuzz_http.c faas/http.c faas/http.h
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_http.c \
	    faas/http.c

# Its unit tests (tests/unit/test_fn_http.c) build the reader and the
# store into themselves: the generic unit-test rule links only the library.
$(BUILD)/tests/unit/test_fn_http: faas/http.c faas/fn_store.c $(FAAS_HDRS)
$(BUILD)/tests/unit/test_fn_clients: faas/clients.c $(FAAS_HDRS)

# tests/integration/test_fn_limits.sh's client that reads no answer.
tests: $(BUILD)/tests/tools/fn_slowread

# bench/faas.sh's open-loop load generator.
$(BUILD)/bench/faas_load: bench/faas_load.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< $(HOST_LDFLAGS)
bench-tools: $(BUILD)/bench/faas_load

# bench/fn_hard.sh's slow clients.
$(BUILD)/bench/fn_slowloris: bench/fn_slowloris.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< $(HOST_LDFLAGS)
bench-tools: $(BUILD)/bench/fn_slowloris
