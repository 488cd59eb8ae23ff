/*
 * argsplit.h: split a --cmd string into argv words, with the quoting a
 * shell user expects ('single', "double" with \-escapes, \x) and nothing
 * else: no variables, globs or substitutions.
 */
#ifndef TINYX_ARGSPLIT_H
#define TINYX_ARGSPLIT_H

#include "toolstack/error.h"

#include <stddef.h>

#define ARGSPLIT_MAX 64

struct argv_list {
    char *v[ARGSPLIT_MAX + 1]; /* NULL-terminated */
    int n;
};

/* Split (s); -1 with a one-line reason for an unterminated quote, a
 * trailing backslash, too many words or no words. Safe on any input. */
int argsplit(const char *s, struct argv_list *out, struct lvm_err *err);

void argv_free(struct argv_list *a);

#endif
