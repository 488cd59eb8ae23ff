# etc/install.mk: `make install` and `make uninstall`: the binaries, the
# guest SDK, the client library with its header and pkg-config file, the
# man pages, bash completion, the systemd unit, the config file and the
# state directories, in their FHS places (docs/install.md). PREFIX and
# DESTDIR as usual; the config file and state directories are the
# system's (/etc, /var, /run), under DESTDIR only. Included by the
# top-level Makefile.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
SBINDIR := $(PREFIX)/sbin
LIBDIR := $(PREFIX)/lib
LIBEXECDIR := $(LIBDIR)/lightvm
SDKDIR := $(LIBEXECDIR)/sdk
INCLUDEDIR := $(PREFIX)/include
MANDIR := $(PREFIX)/share/man
DATADIR := $(PREFIX)/share
COMPLETIONDIR := $(DATADIR)/bash-completion/completions
UNITDIR := $(LIBDIR)/systemd/system
TMPFILESDIR := $(LIBDIR)/tmpfiles.d
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
RUNSTATEDIR ?= /run

INSTALL := install
D := $(DESTDIR)

# Files generated for this PREFIX.
$(BUILD)/etc/lightvmd.service: etc/lightvmd.service.in FORCE
	@mkdir -p $(dir $@)
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g' $< > $@.tmp && \
	    { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }
$(BUILD)/etc/liblightvm.pc: etc/liblightvm.pc.in FORCE
	@mkdir -p $(dir $@)
	$(Q)sed 's|@PREFIX@|$(PREFIX)|g; s|@VERSION@|'"$$(./scripts/version.sh)"'|g' \
	    $< > $@.tmp && { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }

.PHONY: install uninstall
install: all $(BUILD)/etc/lightvmd.service $(BUILD)/etc/liblightvm.pc
	$(INSTALL) -d $(D)$(BINDIR) $(D)$(SBINDIR) $(D)$(LIBEXECDIR) \
	    $(D)$(SDKDIR)/bin $(D)$(SDKDIR)/lib $(D)$(SDKDIR)/include/lightvm \
	    $(D)$(INCLUDEDIR)/lightvm $(D)$(LIBDIR)/pkgconfig \
	    $(D)$(MANDIR)/man1 $(D)$(MANDIR)/man8 $(D)$(COMPLETIONDIR) \
	    $(D)$(UNITDIR) $(D)$(TMPFILESDIR) $(D)$(SYSCONFDIR)/lightvm
	$(INSTALL) -m 0755 $(BUILD)/bin/lightvm $(D)$(BINDIR)/lightvm
	$(if $(CLI_STATIC),$(INSTALL) -m 0755 $(BUILD)/bin/lightvm-net $(D)$(BINDIR)/lightvm-net)
	$(INSTALL) -m 0755 $(BUILD)/bin/lightvmd $(D)$(SBINDIR)/lightvmd
	$(INSTALL) -m 0755 $(BUILD)/bin/lightvm-runtime $(D)$(BINDIR)/lightvm-runtime
	$(INSTALL) -m 0755 $(BUILD)/bin/lightvm-shell $(D)$(LIBEXECDIR)/lightvm-shell
	$(INSTALL) -m 0755 $(TINYX_INIT) $(D)$(LIBEXECDIR)/lightvm-tinyx-init
	$(INSTALL) -m 0644 $(FN_GUEST) $(D)$(LIBEXECDIR)/lightvm-fn-guest.elf
	$(INSTALL) -m 0755 $(LIGHTVM_CC) $(D)$(SDKDIR)/bin/lightvm-cc
	ln -sf ../lib/lightvm/sdk/bin/lightvm-cc $(D)$(BINDIR)/lightvm-cc
	$(INSTALL) -m 0644 $(SDK)/lib/liblightvm-guest.a $(NET_LIB) $(D)$(SDKDIR)/lib/
	$(INSTALL) -m 0644 $(SDK)/include/lightvm/*.h $(D)$(SDKDIR)/include/lightvm/
	$(INSTALL) -m 0644 include/lightvm/lightvm.h $(D)$(INCLUDEDIR)/lightvm/lightvm.h
	$(INSTALL) -m 0644 $(CLIENT_LIB) $(D)$(LIBDIR)/liblightvm.a
	$(INSTALL) -m 0644 $(BUILD)/etc/liblightvm.pc $(D)$(LIBDIR)/pkgconfig/liblightvm.pc
	$(INSTALL) -m 0644 $(BUILD)/man/lightvm.1 $(D)$(MANDIR)/man1/lightvm.1
	$(INSTALL) -m 0644 $(BUILD)/man/lightvmd.8 $(D)$(MANDIR)/man8/lightvmd.8
	$(INSTALL) -m 0644 etc/lightvm.bash-completion $(D)$(COMPLETIONDIR)/lightvm
	$(INSTALL) -m 0644 $(BUILD)/etc/lightvmd.service $(D)$(UNITDIR)/lightvmd.service
	$(INSTALL) -m 0644 etc/lightvm.tmpfiles $(D)$(TMPFILESDIR)/lightvm.conf
	@# The operator's file is never replaced: a new default is left beside it.
	if [ -e $(D)$(SYSCONFDIR)/lightvm/lightvmd.conf ]; then \
	    $(INSTALL) -m 0644 etc/lightvmd.conf $(D)$(SYSCONFDIR)/lightvm/lightvmd.conf.dist; \
	else \
	    $(INSTALL) -m 0644 etc/lightvmd.conf $(D)$(SYSCONFDIR)/lightvm/lightvmd.conf; \
	fi
	$(INSTALL) -d -m 0755 $(D)$(RUNSTATEDIR)/lightvm $(D)$(LOCALSTATEDIR)/lib/lightvm \
	    $(D)$(LOCALSTATEDIR)/cache/lightvm

# What install put there; the config file only if the operator left it
# as shipped, the state directories only if empty.
uninstall:
	rm -f $(D)$(BINDIR)/lightvm $(D)$(BINDIR)/lightvm-net $(D)$(BINDIR)/lightvm-cc \
	    $(D)$(BINDIR)/lightvm-runtime \
	    $(D)$(SBINDIR)/lightvmd $(D)$(INCLUDEDIR)/lightvm/lightvm.h \
	    $(D)$(LIBDIR)/liblightvm.a $(D)$(LIBDIR)/pkgconfig/liblightvm.pc \
	    $(D)$(MANDIR)/man1/lightvm.1 $(D)$(MANDIR)/man8/lightvmd.8 \
	    $(D)$(COMPLETIONDIR)/lightvm $(D)$(UNITDIR)/lightvmd.service \
	    $(D)$(TMPFILESDIR)/lightvm.conf \
	    $(D)$(SYSCONFDIR)/lightvm/lightvmd.conf.dist
	rm -rf $(D)$(LIBEXECDIR)
	if cmp -s etc/lightvmd.conf $(D)$(SYSCONFDIR)/lightvm/lightvmd.conf; then \
	    rm -f $(D)$(SYSCONFDIR)/lightvm/lightvmd.conf; fi
	-rmdir $(D)$(INCLUDEDIR)/lightvm $(D)$(SYSCONFDIR)/lightvm \
	    $(D)$(RUNSTATEDIR)/lightvm $(D)$(LOCALSTATEDIR)/lib/lightvm \
	    $(D)$(LOCALSTATEDIR)/cache/lightvm 2>/dev/null
