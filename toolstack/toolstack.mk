# toolstack/toolstack.mk: libtoolstack.a, the host-side library (glibc):
# images, layout, devices, policies, cgroups, sandboxes, the guest
# lifecycle, and the qemu driver (toolstack/qemu/). The daemon, the CLI
# and the tests are its users. Included by the top-level Makefile;
# net/net.mk adds the networking libraries to TS_LIBS.

TS_SRCS := $(wildcard toolstack/*.c toolstack/qemu/*.c)
TS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TS_SRCS))
TS_LIB := $(BUILD)/lib/libtoolstack.a
# libcrypto: SHA-256 of state files and images (snapfile.c). Its static
# archive needs nothing more from glibc >= 2.34 (dlopen is in libc).
TS_LIBS := -lseccomp -lelf -ljansson -lcrypto -lm

$(TS_LIB): $(TS_OBJS)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^
