# client/client.mk: liblightvm, the daemon's client library
# (include/lightvm/lightvm.h; the CLI is its first user). Included by the
# top-level Makefile.

CLIENT_LIB := $(BUILD)/lib/liblightvm.a
$(CLIENT_LIB): $(BUILD)/obj/client/lightvm.o
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^
