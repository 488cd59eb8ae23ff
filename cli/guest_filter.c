/*
 * guest_filter.c: `--filter KEY=VALUE` and `--format TEMPLATE` for
 * `lightvm ps` (list, ls), the subset of docker's that maps onto lightvmd's
 * guests (docs/cli.md says which).
 */
#include "cli/guest_filter.h"
#include "cli/cli.h"
#include "cli/daemon_cmds.h"
#include "toolstack/text.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { F_NAME, F_ID, F_STATUS, F_MONITOR };
static const char *const filter_keys[] = {"name", "id", "status", "monitor"};
#define NKEYS (sizeof filter_keys / sizeof filter_keys[0])

static const char *const states[] = {"starting", "running", "paused", "dying",
                                     "exited"};
static const char *const monitors[] = {"proc", "kvm", "qemu"};

static int one_of(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, set[i]))
            return 1;
    return 0;
}

int guest_filter_add(struct guest_filter *f, const char *spec)
{
    const char *eq = strchr(spec, '=');
    size_t klen = eq ? (size_t)(eq - spec) : strlen(spec);
    int key = -1;
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(filter_keys[i]) == klen &&
            !strncmp(spec, filter_keys[i], klen))
            key = (int)i;
    if (key < 0 || !eq) {
        cli_msg("--filter '%s': want KEY=VALUE with KEY one of name, id, "
                "status, monitor",
                spec);
        return -1;
    }
    const char *v = eq + 1;
    if (key == F_STATUS && !one_of(v, states, 5)) {
        cli_msg("--filter status=%s: status is one of starting, running, "
                "paused, dying, exited",
                v);
        return -1;
    }
    if (key == F_MONITOR && !one_of(v, monitors, 3)) {
        cli_msg("--filter monitor=%s: monitor is one of proc, kvm, qemu", v);
        return -1;
    }
    if (f->n == GUEST_FILTER_MAX) {
        cli_msg("--filter: at most %d", GUEST_FILTER_MAX);
        return -1;
    }
    f->cond[f->n].key = key;
    f->cond[f->n].value = v;
    f->n++;
    return 0;
}

static int cond_match(int key, const char *v, const struct lightvm_guest *g)
{
    switch (key) {
    case F_NAME: return strstr(g->name, v) != NULL;  /* docker: a substring */
    case F_ID: return !strncmp(g->id, v, strlen(v)); /* a prefix */
    case F_STATUS: return !strcmp(g->state, v);
    default: return !strcmp(g->monitor, v);
    }
}

int guest_filter_match(const struct guest_filter *f,
                       const struct lightvm_guest *g)
{
    for (size_t k = 0; k < NKEYS; k++) {
        int given = 0, hit = 0;
        for (int i = 0; i < f->n; i++)
            if (f->cond[i].key == (int)k) {
                given = 1;
                hit |= cond_match((int)k, f->cond[i].value, g);
            }
        if (given && !hit)
            return 0;
    }
    return 1;
}

/* ---- --format ----------------------------------------------------------- */

static const char *age(double created, char *buf, size_t len)
{
    double s = (double)time(NULL) - created;
    if (s < 120)
        snprintf(buf, len, "%.0f seconds ago", s < 0 ? 0 : s);
    else if (s < 7200)
        snprintf(buf, len, "%.0f minutes ago", s / 60);
    else
        snprintf(buf, len, "%.0f hours ago", s / 3600);
    return buf;
}

enum field {
    ID,
    NAME,
    STATE,
    STATUS,
    IMAGE,
    MONITOR,
    PID,
    MEM,
    IP,
    OWNER,
    CREATED,
    RUNNING_FOR,
    PORTS,
    NFIELDS
};
static const struct {
    const char *name, *title;
} fields[NFIELDS] = {
    [ID] = {"ID", "ID"},
    [NAME] = {"Name", "NAME"},
    [STATE] = {"State", "STATE"},
    [STATUS] = {"Status", "STATUS"},
    [IMAGE] = {"Image", "IMAGE"},
    [MONITOR] = {"Monitor", "MONITOR"},
    [PID] = {"PID", "PID"},
    [MEM] = {"Mem", "RAM"},
    [IP] = {"IP", "IP"},
    [OWNER] = {"Owner", "OWNER"},
    [CREATED] = {"CreatedAt", "CREATED AT"},
    [RUNNING_FOR] = {"RunningFor", "CREATED"},
    [PORTS] = {"Ports", "PORTS"},
};

static void field_text(enum field f, const struct lightvm_guest *g, char *b,
                       size_t len)
{
    size_t n = 0;
    switch (f) {
    case ID: snprintf(b, len, "%s", g->id); break;
    case NAME: text_escape(g->name, b, len); break;
    case STATE: snprintf(b, len, "%s", g->state); break;
    case STATUS:
        if (g->exit.kind[0])
            snprintf(b, len, "exited (%d)", g->exit.code);
        else
            snprintf(b, len, "%s", g->state);
        break;
    case IMAGE: text_escape(g->image, b, len); break;
    case MONITOR: snprintf(b, len, "%s", g->monitor); break;
    case PID: snprintf(b, len, "%d", g->pid); break;
    case MEM: cli_bytes(g->mem, b, len); break;
    case IP: snprintf(b, len, "%s", g->ip[0] ? g->ip : ""); break;
    case OWNER: cli_owner_name(g->owner, b, len); break;
    case CREATED: {
        time_t t = (time_t)g->created;
        struct tm tm;
        strftime(b, len, "%Y-%m-%d %H:%M:%S %z", localtime_r(&t, &tm));
        break;
    }
    case RUNNING_FOR: age(g->created, b, len); break;
    case PORTS:
        b[0] = 0;
        for (int i = 0; i < g->nports && n < len; i++)
            n += (size_t)snprintf(b + n, len - n, "%s%s:%d->%d/tcp",
                                  i ? ", " : "", g->ports[i].host_addr,
                                  g->ports[i].host, g->ports[i].guest);
        break;
    default: b[0] = 0;
    }
}

/* The action at (p) (just after "{{"): a field, or -2 for "json .";
 * -1 if unknown. (*end) is set past the closing "}}". */
static int action(const char *p, const char **end)
{
    const char *close = strstr(p, "}}");
    if (!close)
        return -1;
    *end = close + 2;
    while (*p == ' ')
        p++;
    const char *q = close;
    while (q > p && q[-1] == ' ')
        q--;
    size_t len = (size_t)(q - p);
    if (len == 6 && !strncmp(p, "json .", 6))
        return -2;
    if (len < 2 || p[0] != '.')
        return -1;
    for (int f = 0; f < NFIELDS; f++)
        if (strlen(fields[f].name) == len - 1 &&
            !strncmp(p + 1, fields[f].name, len - 1))
            return f;
    return -1;
}

static const char *body(const char *fmt)
{
    return !strncmp(fmt, "table ", 6) ? fmt + 6 : fmt;
}

int guest_format_check(const char *fmt)
{
    for (const char *p = body(fmt); (p = strstr(p, "{{"));) {
        const char *end = NULL;
        if (action(p + 2, &end) == -1) {
            const char *close = strstr(p, "}}");
            int n = close ? (int)(close + 2 - p) : (int)strlen(p);
            /* {{.Names}} is docker's: {{.Name}} meant. */
            const char *names[NFIELDS], *dot = p + 2 + strspn(p + 2, " ");
            for (int f = 0; f < NFIELDS; f++)
                names[f] = fields[f].name;
            const char *s = *dot == '.' && close
                                ? cli_suggest(dot + 1, strcspn(dot + 1, " }"),
                                              names, NFIELDS)
                                : NULL;
            if (s)
                cli_msg("--format: unknown '%.*s' (did you mean '{{.%s}}'?)", n,
                        p, s);
            else
                cli_msg("--format: unknown '%.*s' (fields: {{.ID}} {{.Name}} "
                        "{{.State}} {{.Status}} {{.Image}} {{.Monitor}} "
                        "{{.PID}} {{.Mem}} {{.IP}} {{.Owner}} {{.CreatedAt}} "
                        "{{.RunningFor}} {{.Ports}}, or {{json .}})",
                        n, p);
            return -1;
        }
        p = end;
    }
    return 0;
}

/* Print (fmt)'s body with \t and \n escapes, each action by (fn). */
static void render(FILE *out, const char *fmt,
                   void (*fn)(FILE *out, int action, void *arg), void *arg)
{
    for (const char *p = body(fmt); *p;) {
        const char *end;
        int a;
        if (p[0] == '{' && p[1] == '{' && (a = action(p + 2, &end)) != -1) {
            fn(out, a, arg);
            p = end;
        } else if (p[0] == '\\' && (p[1] == 't' || p[1] == 'n')) {
            fputc(p[1] == 't' ? '\t' : '\n', out);
            p += 2;
        } else {
            fputc(*p++, out);
        }
    }
    fputc('\n', out);
}

struct row {
    const struct lightvm_guest *g;
    json_t *raw;
};

static void value(FILE *out, int a, void *arg)
{
    const struct row *r = arg;
    if (a == -2) {
        char *s = json_dumps(r->raw, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (s)
            fputs(s, out);
        free(s);
        return;
    }
    char buf[1024];
    field_text((enum field)a, r->g, buf, sizeof buf);
    fputs(buf, out);
}

static void title(FILE *out, int a, void *arg)
{
    (void)arg;
    fputs(a == -2 ? "JSON" : fields[a].title, out);
}

void guest_format_print(FILE *out, const char *fmt,
                        const struct lightvm_guest *g, json_t *raw)
{
    struct row r = {g, raw};
    render(out, fmt, value, &r);
}

void guest_format_header(FILE *out, const char *fmt)
{
    if (body(fmt) != fmt)
        render(out, fmt, title, NULL);
}
