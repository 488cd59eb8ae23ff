# examples/firewall/firewall.mk: the per-user firewall guest (raw frames
# on two NICs, no TCP/IP stack), in two flavours, and firewall-check, the
# same rule parser on the host. Included by the top-level Makefile.

FW_SRCS := examples/firewall/firewall.c examples/firewall/rules.c
FW_DEPS := $(FW_SRCS) examples/firewall/rules.h $(GUEST_DEPS) \
           $(wildcard examples/firewall/tree/etc/*)
FW_ELFS := $(BUILD)/examples/firewall/firewall.elf \
           $(BUILD)/examples/firewall/firewall-blk.elf

# Rules from the image's file tree (/etc/firewall.rules by default).
$(BUILD)/examples/firewall/firewall.elf: $(FW_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) --files examples/firewall/tree \
	    -std=c11 -O2 -g $(WARN) -o $@ $(FW_SRCS)

# Rules from block device "rules": one image for every user.
$(BUILD)/examples/firewall/firewall-blk.elf: $(FW_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) -DFW_BLOCK -std=c11 -O2 -g $(WARN) \
	    -o $@ $(FW_SRCS)

$(BUILD)/bin/firewall-check: examples/firewall/check.c \
    examples/firewall/rules.c examples/firewall/rules.h
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -o $@ examples/firewall/check.c \
	    examples/firewall/rules.c

examples: $(FW_ELFS) $(BUILD)/bin/firewall-check

# Its unit test links the parser too (tests/unit/test_fw_rules.c).
$(BUILD)/tests/unit/test_fw_rules: tests/unit/test_fw_rules.c \
    examples/firewall/rules.c examples/firewall/rules.h $(TS_LIB) $(HOST_HDRS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    examples/firewall/rules.c $(TS_LIB) $(TS_LIBS) $(CMOCKA_LIBS) \
	    $(HOST_LDFLAGS)

# Load and latency for bench/firewall.sh.
$(BUILD)/bench/fwbench: bench/fwbench.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(HOST_CFLAGS) -o $@ $<

.PHONY: bench-firewall
bench-firewall: all $(FW_ELFS) $(BUILD)/bench/fwbench
	BUILD=$(BUILD) bench/firewall.sh
