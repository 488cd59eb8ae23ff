# tls/mbedtls-lib.mk: compiles mbedTLS's library/*.c for guests, run by
# tls/tls.mk as a sub-make once the source is fetched (the file list is
# only known then). Variables: SRC (the unpacked source), OUT (objects),
# CC, CFLAGS.

override CFLAGS += -DMBEDTLS_USER_CONFIG_FILE='"mbedtls_user.h"'
OBJS := $(patsubst $(SRC)/library/%.c,$(OUT)/%.o,$(wildcard $(SRC)/library/*.c))

all: $(OUT)/.objs

$(OUT)/%.o: $(SRC)/library/%.c tls/mbedtls_user.h tls/mbedtls-lib.mk
	@mkdir -p $(OUT)
	$(CC) $(CFLAGS) -c $< -o $@

# The list of objects, rewritten only when one changed.
$(OUT)/.objs: $(OBJS)
	@printf '%s\n' $(OBJS) > $@
