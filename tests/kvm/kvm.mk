# tests/kvm/kvm.mk: the kvm monitor's tests (its sources, shell/kvm/, are
# part of lightvm-shell: shell/shell.mk). Included by the Makefile.
#
#   tests/kvm/guests/*.c  guests for the kvm suite (negative guests, a
#                         ticker, libc and block checks), built with the SDK
#   tests/kvm/*.c         host programs that drive guests through the
#                         toolstack library
#   kvm-initramfs         the initramfs the suite boots under QEMU (TCG,
#                         emulated AMD SVM) when this host has no /dev/kvm:
#                         built only then, by tests/kvm/test_kvm.sh

KVM_TGUEST_SRCS := $(wildcard tests/kvm/guests/*.c)
KVM_TGUEST_ELFS := $(patsubst tests/kvm/guests/%.c,$(BUILD)/tests/kvm/%.elf,$(KVM_TGUEST_SRCS))
KVM_TPROG_SRCS := $(wildcard tests/kvm/*.c)
KVM_TPROGS := $(patsubst tests/kvm/%.c,$(BUILD)/tests/kvm/%,$(KVM_TPROG_SRCS))

$(BUILD)/tests/kvm/%.elf: tests/kvm/guests/%.c $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) -std=gnu11 -O2 -g $(WARN) -o $@ $< -lm

$(BUILD)/tests/kvm/%: tests/kvm/%.c $(TS_LIB) $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -o $@ $< $(TS_LIB) $(TS_LIBS) \
	    $(HOST_LDFLAGS)

tests: $(KVM_TGUEST_ELFS) $(KVM_TPROGS)

TEST_SUITES += tests/kvm/test_kvm.sh

# ---- The nested path: KVM inside QEMU's emulated SVM ---------------------

KVM_NESTED := $(BUILD)/kvm-nested
KVM_INITRAMFS := $(KVM_NESTED)/initramfs.cpio.gz

.PHONY: kvm-initramfs
kvm-initramfs: $(KVM_INITRAMFS)

$(KVM_INITRAMFS): tests/kvm/nested/mkinitramfs.sh tests/kvm/nested/init \
                  tests/kvm/test_kvm.sh tests/lib.sh all $(TGUEST_SRCS) \
                  $(TGUEST_ELFS) $(KVM_TGUEST_ELFS) $(KVM_TPROGS) \
                  $(BUILD)/tests/net/guests/net_multi.elf \
                  $(BUILD)/tests/net/tools/netc
	$(call say,CPIO,$@)tests/kvm/nested/mkinitramfs.sh $(BUILD) $(KVM_NESTED)

# ---- Benchmark (bench/kvm/run.sh) ----------------------------------------

$(BUILD)/bench/kvm/bench_kvm: bench/kvm/bench_kvm.c $(TS_LIB) $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -o $@ $< $(TS_LIB) $(TS_LIBS) \
	    $(HOST_LDFLAGS)

tests: $(BUILD)/bench/kvm/bench_kvm
