# tls/tls.mk: TLS in the SDK: mbedTLS from Debian's source package
# (tls/mbedtls.lock, fetched at build time by tests/compat/fetch.sh, never
# committed) and the glue to the guest's TCP (guest/tls/, lightvm/tls.h),
# in one archive, liblightvm-tls.a (`lightvm-cc --tls`); the TLS proxy
# example, its tests, fuzzer and benchmark. See docs/tls.md.

MBEDTLS_CACHE := build/debsrc
MBEDTLS_DIR := build/mbedtls
MBEDTLS_STAMP := $(MBEDTLS_DIR)/.lightvm-version

$(MBEDTLS_STAMP): tls/mbedtls.lock tests/compat/fetch.sh
	$(call say,FETCH,mbedtls (Debian source package))tests/compat/fetch.sh \
	    $(MBEDTLS_CACHE) $(MBEDTLS_DIR) mbedtls tls/mbedtls.lock

# Third-party code, compiled as Debian ships it with our configuration
# (tls/mbedtls_user.h); its warnings are not ours to fix.
MBEDTLS_CONFIG := -DMBEDTLS_USER_CONFIG_FILE='"mbedtls_user.h"'
MBEDTLS_INC := -I$(MBEDTLS_DIR)/include -Itls $(MBEDTLS_CONFIG)
# (the sub-make adds MBEDTLS_CONFIG itself: its quotes would not survive)
MBEDTLS_CFLAGS := -std=gnu11 -O2 -g -fno-pie -fno-stack-protector \
                  -fno-omit-frame-pointer -w -I$(MBEDTLS_DIR)/include -Itls
MBEDTLS_OBJDIR := $(BUILD)/tls/mbedtls

.PHONY: FORCE
$(MBEDTLS_OBJDIR)/.objs: $(MBEDTLS_STAMP) tls/mbedtls_user.h FORCE
	$(call say,MBEDTLS,$(MBEDTLS_OBJDIR))$(MAKE) --no-print-directory -s \
	    -f tls/mbedtls-lib.mk SRC=$(MBEDTLS_DIR) OUT=$(MBEDTLS_OBJDIR) \
	    CC='$(MUSL_CC)' CFLAGS='$(MBEDTLS_CFLAGS)'

TLS_SRCS := guest/tls/tls_config.c guest/tls/tls_conn.c guest/tls/tls_entropy.c
TLS_HDRS := guest/tls/tlspriv.h include/lightvm/tls.h include/lightvm/net.h \
            tls/mbedtls_user.h
TLS_OBJS := $(patsubst guest/tls/%.c,$(BUILD)/guest-tls/%.o,$(TLS_SRCS))
TLS_LIB := $(SDK)/lib/liblightvm-tls.a

$(BUILD)/guest-tls/%.o: guest/tls/%.c $(TLS_HDRS) $(MBEDTLS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(MUSL_CC) $(GUEST_CFLAGS) $(MBEDTLS_INC) -c $< -o $@

$(TLS_LIB): $(TLS_OBJS) $(MBEDTLS_OBJDIR)/.objs
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $(TLS_OBJS) $$(cat $(MBEDTLS_OBJDIR)/.objs)

sdk: $(TLS_LIB) $(SDK)/include/lightvm/tls.h

TLS_GUEST_DEPS := $(NET_GUEST_DEPS) $(TLS_LIB) $(SDK)/include/lightvm/tls.h

# ---- The TLS proxy (examples/tls-proxy) ----------------------------------

# tls-proxy.elf carries a file tree with a demo certificate made at build
# time (a throwaway self-signed P-256 key, never committed) so that the
# tutorial runs as is; tls-proxy-blk.elf reads its chain and key from a
# block device, so one image serves any certificate.
TLS_PROXY := $(BUILD)/examples/tls-proxy/tls-proxy.elf
TLS_PROXY_BLK := $(BUILD)/examples/tls-proxy/tls-proxy-blk.elf
TLS_DEMO_TREE := $(BUILD)/examples/tls-proxy/tree

$(TLS_DEMO_TREE)/etc/tls/cert.pem:
	@mkdir -p $(dir $@)
	$(call say,OPENSSL,$@)openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -days 3650 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
	    -keyout $(dir $@)key.pem -out $@ 2>/dev/null

$(TLS_PROXY): examples/tls-proxy/tls-proxy.c $(TLS_GUEST_DEPS) $(TLS_DEMO_TREE)/etc/tls/cert.pem
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) --tls --files $(TLS_DEMO_TREE) -std=c11 \
	    -O2 -g $(WARN) -o $@ $<

$(TLS_PROXY_BLK): examples/tls-proxy/tls-proxy.c $(TLS_GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) --tls -DTLS_PROXY_BLOCK -std=c11 -O2 -g \
	    $(WARN) -o $@ $<

examples: $(TLS_PROXY) $(TLS_PROXY_BLK)

# ---- The TLS input fuzzer: the library and mbedTLS built for the host ----

# Like the frame fuzzer (net/net.mk), outside $(BUILD) so SAN=1 does not
# build it twice; mbedTLS's objects are compiled once by the sub-make.
FUZZ_TLS := build/fuzz/fuzz_tls
FUZZ_TLS_OBJDIR := build/fuzz/mbedtls
FUZZ_TLS_CFLAGS := -std=gnu11 -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
                   -fno-sanitize-recover=undefined -w -I$(MBEDTLS_DIR)/include -Itls

$(FUZZ_TLS_OBJDIR)/.objs: $(MBEDTLS_STAMP) tls/mbedtls_user.h FORCE
	$(call say,MBEDTLS,$(FUZZ_TLS_OBJDIR))$(MAKE) --no-print-directory -s \
	    -f tls/mbedtls-lib.mk SRC=$(MBEDTLS_DIR) OUT=$(FUZZ_TLS_OBJDIR) \
	    CC='$(CLANG)' CFLAGS='$(FUZZ_TLS_CFLAGS)'

$(FUZZ_TLS): tests/fuzz/fuzz_tls.c tests/unit/tls_testcert.h $(TLS_SRCS) $(TLS_HDRS) $(FUZZ_TLS_OBJDIR)/.objs
	@mkdir -p $(dir $@)
	$(call say,CLANG,$@)$(CLANG) -std=gnu11 -D_GNU_SOURCE -O1 -g \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Iinclude $(MBEDTLS_INC) -o $@ tests/fuzz/fuzz_tls.c $(TLS_SRCS) \
	    $$(cat $(FUZZ_TLS_OBJDIR)/.objs)

ifneq ($(shell command -v $(CLANG) 2>/dev/null),)
tests: $(FUZZ_TLS)
endif

.PHONY: fuzz-tls
# make fuzz-tls FUZZ_SECONDS=300: grow build/fuzz/corpus-tls from the seeds.
fuzz-tls: $(FUZZ_TLS)
	@mkdir -p build/fuzz/corpus-tls
	$(FUZZ_TLS) -max_total_time=$(FUZZ_SECONDS) -max_len=20000 \
	    build/fuzz/corpus-tls tests/fuzz/corpus/tls

# ---- Benchmark (bench/tls.sh): the same proxy as a plain Linux process ----

# examples/tls-proxy and the TLS library over the host's sockets
# (bench/tls/host_net.c), with the same mbedTLS built for the host.
TLS_HOST_OBJDIR := $(BUILD)/bench/tls/mbedtls
TLS_HOST_PROXY := $(BUILD)/bench/tls/tls-proxy-host

$(TLS_HOST_OBJDIR)/.objs: $(MBEDTLS_STAMP) tls/mbedtls_user.h FORCE
	$(call say,MBEDTLS,$(TLS_HOST_OBJDIR))$(MAKE) --no-print-directory -s \
	    -f tls/mbedtls-lib.mk SRC=$(MBEDTLS_DIR) OUT=$(TLS_HOST_OBJDIR) \
	    CC='$(CC)' CFLAGS='-std=gnu11 -O2 -g -w -I$(MBEDTLS_DIR)/include -Itls'

$(TLS_HOST_PROXY): examples/tls-proxy/tls-proxy.c bench/tls/host_net.c $(TLS_SRCS) \
                   $(TLS_HDRS) $(TLS_HOST_OBJDIR)/.objs
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) -std=gnu11 -D_GNU_SOURCE -O2 -g $(WARN) \
	    -Wno-missing-prototypes -Iinclude $(MBEDTLS_INC) -o $@ \
	    examples/tls-proxy/tls-proxy.c bench/tls/host_net.c $(TLS_SRCS) \
	    $$(cat $(TLS_HOST_OBJDIR)/.objs)

tests: $(TLS_HOST_PROXY)

.PHONY: bench-tls
bench-tls: all tests
	./bench/tls.sh

# ---- Unit test: configuration loading, on the host's build of mbedTLS ----

# An explicit rule: tests/tests.mk's pattern links the toolstack instead.
$(BUILD)/tests/unit/test_tls_config: tests/unit/test_tls_config.c \
        tests/unit/tls_testcert.h guest/tls/tls_config.c guest/tls/tls_entropy.c \
        $(TLS_HDRS) $(TLS_HOST_OBJDIR)/.objs
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes $(MBEDTLS_INC) \
	    -o $@ tests/unit/test_tls_config.c guest/tls/tls_config.c \
	    guest/tls/tls_entropy.c $$(cat $(TLS_HOST_OBJDIR)/.objs) \
	    $(CMOCKA_LIBS) $(HOST_LDFLAGS)

# The handshake timeout and limit (tls_conn.c) over a fake TCP and clock.
$(BUILD)/tests/unit/test_tls_expire: tests/unit/test_tls_expire.c \
        tests/unit/tls_testcert.h $(TLS_SRCS) $(TLS_HDRS) $(TLS_HOST_OBJDIR)/.objs
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes $(MBEDTLS_INC) \
	    -o $@ tests/unit/test_tls_expire.c $(TLS_SRCS) \
	    $$(cat $(TLS_HOST_OBJDIR)/.objs) $(CMOCKA_LIBS) $(HOST_LDFLAGS)
