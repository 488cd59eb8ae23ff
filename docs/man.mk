# docs/man.mk: the man pages, built from the docs with pandoc:
# lightvm(1) from docs/cli.md and lightvmd(8) from docs/lightvmd.8.md.
# Each page is a markdown document whose title is "NAME(SECTION)" and
# whose "##" sections are the man page's (NAME, SYNOPSIS, ...). Included
# by the top-level Makefile; etc/install.mk installs them.

MAN_PAGES := $(BUILD)/man/lightvm.1 $(BUILD)/man/lightvmd.8
MAN_DATE := $(shell git log -1 --format=%cs 2>/dev/null || date +%F)

# The "##" headings become the page's sections (.SH); the title line
# names the page and its section.
define man_rule
$(BUILD)/man/$(1).$(2): $(3) $(VERSION_H)
	@mkdir -p $$(dir $$@)
	$$(call say,MAN,$$@)pandoc --standalone --from markdown --to man \
	    --shift-heading-level-by=-1 \
	    --metadata title=$(shell echo $(1) | tr a-z A-Z) \
	    --metadata section=$(2) --metadata date=$(MAN_DATE) \
	    --metadata header="lightvm manual" \
	    --metadata footer="lightvm $$(shell ./scripts/version.sh)" \
	    -o $$@ $$<
endef
$(eval $(call man_rule,lightvm,1,docs/cli.md))
$(eval $(call man_rule,lightvmd,8,docs/lightvmd.8.md))

.PHONY: man
man: $(MAN_PAGES)
all: $(MAN_PAGES)
