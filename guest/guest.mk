# guest/guest.mk: the guest SDK (build/sdk): liblightvm-guest.a, built with
# musl for the inside of a guest, the public headers and lightvm-cc.
# Included by the top-level Makefile; net/net.mk adds the network library.

SDK := $(BUILD)/sdk
SDK_SRCS := guest/start.S guest/snapshot.S guest/start.c guest/binding_proc.c \
            guest/binding_kvm.c guest/sigsys.c guest/linux.c guest/mem.c \
            guest/random.c guest/control.c guest/api.c guest/util.c \
            guest/manifest_default.c guest/unserved.c guest/thread.c \
            guest/thread_frame.c guest/thread_switch.S guest/fs_tar.c \
            guest/fs_tree.c guest/fs_path.c guest/fs_fd.c guest/fs_io.c \
            guest/fs_syscall.c
SDK_OBJS := $(patsubst guest/%,$(BUILD)/guest/%.o,$(SDK_SRCS))
SDK_HDRS := $(SDK)/include/lightvm/abi.h $(SDK)/include/lightvm/guest.h \
            $(SDK)/include/lightvm/syscalls.h
LIGHTVM_CC := $(SDK)/bin/lightvm-cc
# Host side of the file tree: checks an archive before lightvm-cc --files
# puts it in an image, with the guest's own reader.
TARCHECK := $(SDK)/bin/lightvm-tarcheck

sdk: $(SDK)/lib/liblightvm-guest.a $(SDK_HDRS) $(LIGHTVM_CC) $(TARCHECK)

$(TARCHECK): guest/tarcheck.c guest/fs_tar.c guest/fs_tar.h
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -o $@ guest/tarcheck.c guest/fs_tar.c $(HOST_LDFLAGS)

$(BUILD)/guest/%.c.o: guest/%.c guest/sdk.h guest/fs.h guest/fs_io.h guest/fs_tar.h \
                      include/lightvm/abi.h include/lightvm/guest.h \
                      include/lightvm/syscalls.h
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(MUSL_CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/guest/%.S.o: guest/%.S
	@mkdir -p $(dir $@)
	$(call say,AS,$<)$(MUSL_CC) -c $< -o $@

$(SDK)/lib/liblightvm-guest.a: $(SDK_OBJS)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(SDK)/include/lightvm/%.h: include/lightvm/%.h
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

$(LIGHTVM_CC): guest/lightvm-cc.in
	@mkdir -p $(dir $@)
	$(Q)sed 's|@MUSL_CC@|$(MUSL_CC)|' $< > $@ && chmod +x $@

# What building a guest with the SDK depends on (examples, test guests).
GUEST_DEPS := $(SDK)/lib/liblightvm-guest.a $(SDK_HDRS) $(LIGHTVM_CC) $(TARCHECK)
