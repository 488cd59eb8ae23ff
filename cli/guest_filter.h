/*
 * guest_filter.h: `lightvm ps --filter KEY=VALUE` and `--format TEMPLATE`,
 * docker's subset (docs/cli.md): which guests a list shows, and how.
 */
#ifndef LVM_CLI_GUEST_FILTER_H
#define LVM_CLI_GUEST_FILTER_H

#include <jansson.h>
#include <lightvm/lightvm.h>
#include <stdio.h>

#define GUEST_FILTER_MAX 16

struct guest_filter {
    struct {
        int key; /* enum in guest_filter.c */
        const char *value;
    } cond[GUEST_FILTER_MAX];
    int n;
};

/* Add "KEY=VALUE" (name=, id=, status=, monitor=); -1 (said why) if it is
 * not one. */
int guest_filter_add(struct guest_filter *f, const char *spec);

/* 1 if (g) passes: every key given matches (one of its values, when a key
 * is given more than once). */
int guest_filter_match(const struct guest_filter *f,
                       const struct lightvm_guest *g);

/* -1 (said why) unless every {{...}} in (fmt) is one we know. */
int guest_format_check(const char *fmt);

/* Print (g) by the template (fmt), with a newline; {{json .}} prints
 * (raw), the API's object. With a "table " prefix, guest_format_header
 * prints the column titles first. */
void guest_format_print(FILE *out, const char *fmt,
                        const struct lightvm_guest *g, json_t *raw);
void guest_format_header(FILE *out, const char *fmt);

#endif
