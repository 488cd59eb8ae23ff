/*
 * blacklist.h: files of the app's packages that a single-app VM never
 * reads, by category (docs/tinyx.md lists each rule and why).
 */
#ifndef TINYX_BLACKLIST_H
#define TINYX_BLACKLIST_H

#include <stddef.h>

struct blacklist_cat {
    const char *name; /* short, for reports: "docs", "man", ... */
    const char *why;
};

/* The categories, in report order; (n) receives their count. */
const struct blacklist_cat *blacklist_categories(size_t *n);

/* The index of the category (path) (canonical, merged-/usr spelling)
 * falls in, or -1 if it is kept. */
int blacklist_match(const char *path);

#endif
