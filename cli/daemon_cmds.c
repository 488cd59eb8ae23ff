/*
 * daemon_cmds.c: helpers for the commands that talk to lightvmd.
 */
#include "cli/daemon_cmds.h"
#include "cli/cli.h"

#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lightvm *cli_connect(void)
{
    struct lightvm_error e;
    struct lightvm *c = lightvm_connect(NULL, &e);
    if (!c)
        cli_msg("%s (is lightvmd running? start it with 'lightvmd &')",
                e.message);
    return c;
}

static json_t *exit_json(const struct lightvm_exit *x)
{
    return json_pack("{s:s, s:i, s:i, s:s}", "kind", x->kind, "status",
                     x->status, "code", x->code, "message", x->message);
}

void cli_print_json(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s)
        puts(s);
    free(s);
}

void cli_print_guest_json(const struct lightvm_guest *g)
{
    cli_print_json(cli_guest_json(g));
}

json_t *cli_guest_json(const struct lightvm_guest *g)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:f, s:f, s:f, s:b, s:b, "
        "s:b}",
        "id", g->id, "name", g->name, "state", g->state, "image", g->image,
        "monitor", g->monitor, "pid", g->pid, "mem", (json_int_t)g->mem,
        "mem_limit", (json_int_t)g->mem_limit, "cpus", g->cpus, "created",
        g->created, "create_ms", g->create_ms, "pooled", g->pooled, "adopted",
        g->adopted, "suspended", g->suspended);
    if (g->console[0])
        json_object_set_new(o, "console", json_string(g->console));
    json_object_set_new(o, "restart", json_string(g->restart));
    json_object_set_new(o, "restart_count", json_integer(g->restart_count));
    if (g->owner >= 0) {
        char who[64];
        json_object_set_new(o, "owner", json_integer(g->owner));
        json_object_set_new(
            o, "owner_name",
            json_string(cli_owner_name(g->owner, who, sizeof who)));
    }
    if (g->memory_limit)
        json_object_set_new(
            o, "stats",
            json_pack("{s:I, s:I, s:I}", "cpu_ns", (json_int_t)g->cpu_ns,
                      "memory_bytes", (json_int_t)g->memory_bytes,
                      "memory_limit", (json_int_t)g->memory_limit));
    if (g->mac[0]) {
        json_t *n = json_pack("{s:s, s:s, s:s, s:s}", "dev", g->nic, "mac",
                              g->mac, "bridge", g->bridge, "tap", g->tap);
        json_object_set_new(n, "ip",
                            g->ip[0] ? json_string(g->ip) : json_null());
        if (g->memory_limit) /* with stats */
            json_object_set_new(
                n, "counters",
                json_pack("{s:I, s:I, s:I, s:I}", "rx_packets",
                          (json_int_t)g->net_rx_packets, "rx_bytes",
                          (json_int_t)g->net_rx_bytes, "tx_packets",
                          (json_int_t)g->net_tx_packets, "tx_bytes",
                          (json_int_t)g->net_tx_bytes));
        json_object_set_new(o, "net", json_pack("[o]", n));
    }
    if (g->exit.kind[0])
        json_object_set_new(o, "exit", exit_json(&g->exit));
    if (g->accel[0]) { /* what the daemon says of an image with an app */
        json_object_set_new(o, "ready", json_boolean(g->ready));
        if (g->ready && g->ready_ms >= 0)
            json_object_set_new(o, "ready_ms", json_real(g->ready_ms));
        json_object_set_new(o, "accel", json_string(g->accel));
        json_t *a = json_array();
        for (int i = 0; i < g->nports; i++)
            json_array_append_new(a, json_pack("{s:s, s:i, s:i}", "host_addr",
                                               g->ports[i].host_addr, "host",
                                               g->ports[i].host, "guest",
                                               g->ports[i].guest));
        json_object_set_new(o, "ports", a);
        if (g->restored)
            json_object_set_new(o, "restored", json_true());
    }
    return o;
}

void cli_print_exit_json(const char *id, const struct lightvm_exit *x)
{
    json_t *o = json_pack("{s:s, s:o}", "id", id, "exit", exit_json(x));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s)
        puts(s);
    free(s);
}

const char *cli_owner_name(long uid, char *buf, size_t len)
{
    if (uid < 0)
        return "-";
    const struct passwd *pw = getpwuid((uid_t)uid);
    if (pw)
        snprintf(buf, len, "%s", pw->pw_name);
    else
        snprintf(buf, len, "%ld", uid);
    return buf;
}

const char *cli_guest_ref(const char *arg, char *buf, size_t len)
{
    const char *slash = strchr(arg, '/');
    if (!slash || slash == arg || (size_t)(slash - arg) >= 64)
        return arg;
    char user[64];
    snprintf(user, sizeof user, "%.*s", (int)(slash - arg), arg);
    if (strspn(user, "0123456789") == strlen(user))
        return arg; /* a uid already */
    const struct passwd *pw = getpwnam(user);
    if (!pw)
        return arg; /* the daemon says there is no such guest */
    snprintf(buf, len, "%u/%s", (unsigned)pw->pw_uid, slash + 1);
    return buf;
}

const char *cli_bytes(uint64_t v, char *buf, size_t len)
{
    if (v >= 1ull << 30)
        snprintf(buf, len, "%.1f GiB", v / (double)(1ull << 30));
    else if (v >= 1ull << 20)
        snprintf(buf, len, "%.1f MiB", v / (double)(1ull << 20));
    else
        snprintf(buf, len, "%.0f KiB", v / 1024.0);
    return buf;
}
