/*
 * check.c: firewall-check FILE...: parse rule files on the host, as the
 * guest will, so an operator learns of an error before a guest starts.
 * Prints "FILE: N rules" or "FILE:LINE: what is wrong"; exit status 1 if
 * any file is refused.
 */
#include "rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char text[1 << 16];
static struct fw_rules rules;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: firewall-check FILE...\n");
        return 2;
    }
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        FILE *fp = fopen(argv[i], "r");
        if (!fp) {
            fprintf(stderr, "firewall-check: cannot open %s: %s\n", argv[i],
                    strerror(errno));
            bad = 1;
            continue;
        }
        size_t n = fread(text, 1, sizeof text - 1, fp);
        int big = !feof(fp);
        fclose(fp);
        char err[160];
        if (big) {
            fprintf(stderr, "%s: over %zu bytes\n", argv[i], sizeof text - 1);
            bad = 1;
        } else if (fw_rules_parse(text, n, &rules, err, sizeof err) < 0) {
            /* "rules:LINE: ..." named after the file. */
            fprintf(stderr, "%s%s\n", argv[i], err + strlen("rules"));
            bad = 1;
        } else {
            printf("%s: %u rule%s\n", argv[i], rules.n,
                   rules.n == 1 ? "" : "s");
        }
    }
    return bad;
}
