/*
 * argsplit.c: --cmd word splitting (see argsplit.h).
 */
#include "tinyx/argsplit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void argv_free(struct argv_list *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    memset(a, 0, sizeof *a);
}

int argsplit(const char *s, struct argv_list *out, struct lvm_err *err)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(s);
    char *word = malloc(len + 1);
    if (!word)
        return lvm_err_set(err, ENOMEM, "--cmd");
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        size_t w = 0;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
            if (*p == '\'') {
                const char *end = strchr(p + 1, '\'');
                if (!end)
                    goto unterminated;
                memcpy(word + w, p + 1, (size_t)(end - p - 1));
                w += (size_t)(end - p - 1);
                p = end + 1;
            } else if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
                        p++;
                    word[w++] = *p++;
                }
                if (!*p)
                    goto unterminated;
                p++;
            } else if (*p == '\\') {
                if (!p[1]) {
                    free(word);
                    argv_free(out);
                    return lvm_err_invalid(err, "--cmd: trailing backslash");
                }
                word[w++] = p[1];
                p += 2;
            } else {
                word[w++] = *p++;
            }
        }
        if (out->n == ARGSPLIT_MAX) {
            free(word);
            argv_free(out);
            return lvm_err_set(err, E2BIG, "--cmd: more than %d words",
                               ARGSPLIT_MAX);
        }
        out->v[out->n] = strndup(word, w);
        if (!out->v[out->n]) {
            free(word);
            argv_free(out);
            return lvm_err_set(err, ENOMEM, "--cmd");
        }
        out->n++;
    }
    free(word);
    if (out->n == 0)
        return lvm_err_invalid(err, "--cmd: empty command");
    return 0;
unterminated:
    free(word);
    argv_free(out);
    return lvm_err_invalid(err, "--cmd: unterminated quote");
}
