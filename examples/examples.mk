# examples/examples.mk: the example guests, each one C file built with the
# SDK like any guest. Included by the top-level Makefile; net/net.mk adds
# the network examples.

# A guest ELF from one C file: $(BUILD)/<dir>/<name>.elf from <dir>/<name>.c
$(BUILD)/examples/%.elf: examples/%.c $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)$(LIGHTVM_CC) -std=c11 -O2 -g $(WARN) -o $@ $<

EXAMPLES := noop/noop hello/hello idle/idle primes/primes
EXAMPLE_ELFS := $(patsubst %,$(BUILD)/examples/%.elf,$(EXAMPLES))
examples: $(EXAMPLE_ELFS)
