# bench/bench.mk: benchmark drivers (host tools) and their static peers.

BENCH_BIN := $(BUILD)/bench

$(BENCH_BIN)/bench_create: bench/bench_create.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $<

$(BENCH_BIN)/bench_idle_mem: bench/bench_idle_mem.c $(TS_LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(TS_LIB) $(TS_LIBS) $(HOST_LDFLAGS)

$(BENCH_BIN)/noop $(BENCH_BIN)/pause $(BENCH_BIN)/echo_stdio: $(BENCH_BIN)/%: bench/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(MUSL_CC) -static -O2 -o $@ $<

$(BENCH_BIN)/bench_density: bench/bench_density.c $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(CLIENT_LIB) -ljansson $(HOST_LDFLAGS)

$(BENCH_BIN)/bench_snapshot: bench/bench_snapshot.c $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(CLIENT_LIB) -ljansson $(HOST_LDFLAGS)

$(BENCH_BIN)/bench_migrate: bench/bench_migrate.c $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(CLIENT_LIB) -ljansson $(HOST_LDFLAGS)

# The brief's reference spawn: a glibc static no-op of about 0.7 MB.
$(BENCH_BIN)/noop-glibc: bench/noop.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) -static -O2 -o $@ $<

.PHONY: bench-tools
bench-tools: all tests $(BENCH_BIN)/bench_create $(BENCH_BIN)/bench_idle_mem \
             $(BENCH_BIN)/bench_density $(BENCH_BIN)/noop $(BENCH_BIN)/pause \
             $(BENCH_BIN)/noop-glibc $(BENCH_BIN)/bench_snapshot \
             $(BENCH_BIN)/bench_migrate $(BENCH_BIN)/threadbench \
             $(BENCH_BIN)/threadbench.elf

# Threads: one source, a guest (the SDK's green threads) and a static musl
# program for the host's threads (bench/threads.sh).
$(BENCH_BIN)/threadbench.elf: bench/threadbench.c $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) -std=gnu11 -O2 $(WARN) -o $@ $<

$(BENCH_BIN)/threadbench: bench/threadbench.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(MUSL_CC) -std=gnu11 -static -O2 $(WARN) -o $@ $< -lpthread
