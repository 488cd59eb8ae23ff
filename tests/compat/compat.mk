# tests/compat/compat.mk: the compatibility suite (tests/compat/
# test_compat.sh): real programs from Debian source packages, fetched at
# build time (fetch.sh, pinned in compat.lock) and built unmodified with
# lightvm-cc (build.sh) into $(BUILD)/compat/PACKAGE/. Sources are cached
# in build/compat-src and objects under $(BUILD)/compat, so a change to
# the SDK only relinks. Included by the Makefile.

COMPAT_PKGS := zlib lz4 bzip2 cjson jansson mbedtls pcre2 lua5.4
COMPAT_STAMPS := $(patsubst %,$(BUILD)/compat/%/.built,$(COMPAT_PKGS))

$(BUILD)/compat/%/.built: tests/compat/build.sh tests/compat/fetch.sh \
                          tests/compat/compat.lock \
                          $(wildcard tests/compat/lua/*.lua) $(GUEST_DEPS)
	$(call say,COMPAT,$*)tests/compat/build.sh $(BUILD) $*

.PHONY: compat
compat: $(COMPAT_STAMPS)

tests: compat

TEST_SUITES += tests/compat/test_compat.sh

# The kvm suite runs it under kvm inside its nested VM (tests/kvm).
$(KVM_INITRAMFS): $(COMPAT_STAMPS) tests/compat/test_compat.sh \
                  $(wildcard tests/compat/lua/*.lua)
