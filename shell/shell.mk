# shell/shell.mk: lightvm-shell, the process a guest runs in until its
# first instruction: shell.c and guest_fds.c, the proc executor (proc/)
# and the kvm monitor (kvm/). Static, musl, no library; it depends on the
# launch-plan protocol (shell/plan.h) and the guest ABI alone. Included by
# the top-level Makefile; the kvm suite is tests/kvm/kvm.mk.

SHELL_SRCS := shell/shell.c shell/guest_fds.c \
              shell/proc/proc_exec.c \
              shell/proc/trampoline.S $(wildcard shell/kvm/*.c) \
              shell/kvm/kvm_stubs.S
SHELL_OBJS := $(patsubst %,$(BUILD)/shellobj/%.o,$(SHELL_SRCS))
SHELL_HDRS := shell/shell.h shell/plan.h include/lightvm/abi.h \
              shell/kvm/kvm.h

# musl has no Linux UAPI headers of its own: use the host's (linux-libc-dev)
# without the rest of glibc's include directory.
KHDR_STAMP := $(BUILD)/kernel-headers/.stamp
$(KHDR_STAMP):
	@mkdir -p $(dir $@)
	$(Q)ln -sfn /usr/include/linux $(BUILD)/kernel-headers/linux
	$(Q)ln -sfn /usr/include/asm-generic $(BUILD)/kernel-headers/asm-generic
	$(Q)ln -sfn /usr/include/x86_64-linux-gnu/asm $(BUILD)/kernel-headers/asm
	$(Q)touch $@

$(BUILD)/shellobj/%.c.o: %.c $(SHELL_HDRS) $(KHDR_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(MUSL_CC) $(SHELL_CFLAGS) -c $< -o $@

$(BUILD)/shellobj/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(call say,AS,$<)$(MUSL_CC) -c $< -o $@

# Static, at the default non-PIE address (0x400000, below the guest's
# region): nothing is loaded from the host when a shell starts. musl-gcc
# ignores -static-pie, hence the check that there is no interpreter.
$(BUILD)/bin/lightvm-shell: $(SHELL_OBJS)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(MUSL_CC) -static -o $@ $^
	@if readelf -lW $@ | grep -q INTERP; then \
	    echo "$@ is not static"; rm -f $@; exit 1; fi

BINS += $(BUILD)/bin/lightvm-shell
