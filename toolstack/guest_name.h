/*
 * guest_name.h: what a guest may be called. lightvmd checks the rule on
 * every request and the CLI before sending one; names are shown on
 * terminals, used in paths and QEMU's command line, and addressed as
 * OWNER/NAME, so they hold no controls, spaces or slashes.
 */
#ifndef LVM_GUEST_NAME_H
#define LVM_GUEST_NAME_H

#include <stddef.h>

#define GUEST_NAME_MAX 63
/* The rule, as error messages state it. */
#define GUEST_NAME_RULE                                                        \
    "1 to 63 characters of A-Z a-z 0-9 . _ -, the first a letter or digit"

/* 1 if (name) follows GUEST_NAME_RULE. */
int guest_name_valid(const char *name);

/* 0 if (name) follows the rule, else -1 with (err) naming the first
 * character that does not (shown escaped). */
struct lvm_err;
int guest_name_check(const char *name, struct lvm_err *err);

/* A name following the rule made from (s) (an image's file name) into
 * (buf) of (len) bytes (at least 2), at most (len - 1) characters: other
 * characters become '_', leading ones that cannot start a name are
 * dropped; "guest" if nothing is left. */
void guest_name_sanitize(const char *s, char *buf, size_t len);

#endif
