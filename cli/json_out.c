/*
 * json_out.c: what the CLI's --json prints. Guests are printed as lightvmd
 * describes them (the API's objects, passed through, plus owner_name), so
 * that no field the API has is dropped by the CLI; every number with a
 * fraction is rounded to 3 decimals (docs/json-schema.md).
 */
#include "cli/cli.h"
#include "cli/daemon_cmds.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Round every real in (v) to 3 decimals: milliseconds for times in
 * seconds, microseconds for times in ms. Printed with 15 significant
 * digits (below), 0.608181 is "0.608", never "0.60818099999999997". */
void cli_json_round(json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_real(v)) {
        json_real_set(v, round(json_real_value(v) * 1000) / 1000);
    } else if (json_is_object(v)) {
        json_object_foreach (v, k, x) {
            cli_json_round(x);
        }
    } else if (json_is_array(v)) {
        json_array_foreach (v, i, x) {
            cli_json_round(x);
        }
    }
}

void cli_print_json(json_t *o)
{
    cli_json_round(o);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    if (s)
        puts(s);
    free(s);
    fflush(stdout);
}

json_t *cli_api(struct lightvm *cl, json_t *req, struct lightvm_error *e)
{
    char *s = json_dumps(req, JSON_COMPACT), *reply = NULL;
    json_decref(req);
    if (!s) {
        snprintf(e->message, sizeof e->message, "out of memory");
        return NULL;
    }
    int rc = lightvm_call(cl, s, -1, &reply, e);
    free(s);
    if (rc < 0)
        return NULL;
    json_t *r = json_loads(reply, 0, NULL);
    free(reply);
    if (!json_is_object(r)) {
        json_decref(r);
        snprintf(e->message, sizeof e->message,
                 "unreadable reply from lightvmd");
        return NULL;
    }
    if (!json_is_true(json_object_get(r, "ok"))) {
        json_t *er = json_object_get(r, "error");
        const char *m = json_string_value(json_object_get(er, "message"));
        const char *c = json_string_value(json_object_get(er, "code"));
        snprintf(e->message, sizeof e->message, "%s", m ? m : "request failed");
        snprintf(e->code, sizeof e->code, "%s", c ? c : "failed");
        json_decref(r);
        return NULL;
    }
    return r;
}

void cli_guest_decorate(json_t *g)
{
    json_t *owner = json_object_get(g, "owner");
    if (!json_is_integer(owner))
        return;
    /* Right after "owner", where scripts have always found it: the
     * object is rebuilt in order with it inserted. */
    char who[64];
    json_t *name = json_string(
        cli_owner_name((long)json_integer_value(owner), who, sizeof who));
    json_t *copy = json_copy(g), *v;
    const char *k;
    json_object_clear(g);
    json_object_foreach (copy, k, v) {
        json_object_set(g, k, v);
        if (!strcmp(k, "owner"))
            json_object_set(g, "owner_name", name);
    }
    json_decref(copy);
    json_decref(name);
}

json_t *cli_api_guest(struct lightvm *cl, const char *ref,
                      struct lightvm_error *e)
{
    json_t *r =
        cli_api(cl, json_pack("{s:s, s:s}", "op", "info", "id", ref), e);
    json_t *g = r ? json_incref(json_object_get(r, "guest")) : NULL;
    json_decref(r);
    if (r && !g)
        snprintf(e->message, sizeof e->message, "no guest in the reply");
    if (g)
        cli_guest_decorate(g);
    return g;
}

int cli_print_guest(struct lightvm *cl, const char *id)
{
    struct lightvm_error e;
    json_t *g = cli_api_guest(cl, id, &e);
    if (!g) {
        cli_msg("%s: %s", id, e.message);
        return -1;
    }
    cli_print_json(g);
    return 0;
}

json_t *cli_api_guests(struct lightvm *cl, int stats, struct lightvm_error *e)
{
    json_t *all = json_array();
    json_int_t offset = 0;
    for (;;) {
        json_t *r = cli_api(cl,
                            json_pack("{s:s, s:I, s:b}", "op", "list", "offset",
                                      offset, "stats", stats),
                            e);
        if (!r) {
            json_decref(all);
            return NULL;
        }
        size_t i;
        json_t *g;
        json_array_foreach (json_object_get(r, "guests"), i, g) {
            cli_guest_decorate(g);
            json_array_append(all, g);
        }
        json_t *next = json_object_get(r, "next");
        int more = json_is_integer(next);
        offset = more ? json_integer_value(next) : 0;
        json_decref(r);
        if (!more)
            return all;
    }
}

/* The length of the valid UTF-8 sequence at (s) (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xe0) == 0xc0 ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (!len || len > n || (len == 2 && s[0] < 0xc2))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (len == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) ||
                     (s[0] == 0xed && s[1] >= 0xa0))) /* overlong, surrogate */
        return 0;
    if (len == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || s[0] > 0xf4 ||
                     (s[0] == 0xf4 && s[1] >= 0x90)))
        return 0;
    return len;
}

json_t *cli_json_text(const char *buf, size_t n)
{
    /* JSON strings are Unicode: a guest's console is bytes. Each byte
     * that is not part of valid UTF-8 becomes U+FFFD. */
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)buf;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(s + i, n - i);
        if (len) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_t *t = json_stringn(out, o);
    free(out);
    return t;
}
