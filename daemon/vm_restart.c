/*
 * vm_restart.c: restart policies, docker's --restart: "no", "on-failure"
 * (a non-zero exit status or any abnormal end; "on-failure:N" at most N
 * times) and "always". A guest that a client stopped (poweroff, destroy)
 * is not restarted, until the next daemon start for "always", as docker
 * does.
 *
 * A restart makes a new guest from the old one's recipe (the create
 * request's fields, kept in config.json) with the same name and owner, as
 * the owner: its files are opened with the owner's credentials, and it is
 * charged to the owner's quotas like any create. It gets a new id (an id
 * names a run directory and a shell). Between restarts the daemon waits
 * 100 ms, doubled for each restart in a row, up to a minute; a guest that
 * ran 10 s or more starts the doubling over. The policy is in the guest's
 * config.json, so a restarted daemon applies it to the guests that ended
 * while no daemon ran (restored when the daemon starts).
 */
#include "daemon/daemon.h"
#include "daemon/quota.h"
#include "daemon/vm_monitor.h"

#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_FIRST_NS 100000000ull /* 100 ms */
#define BACKOFF_MAX_NS 60000000000ull /* 1 min */
#define BACKOFF_RESET_S 10.0          /* ran this long: start over */

void vm_restart_from_request(struct vm *v, const struct request *r)
{
    v->restart = r->restart;
    v->restart_max = r->restart_max;
    v->restart_count = r->restart_count;
    v->restart_streak = r->restart_streak;
}

void vm_restart_record(const struct vm *v, json_t *cfg)
{
    char p[32];
    json_object_set_new(cfg, "restart",
                        json_string(request_restart_str(
                            v->restart, v->restart_max, p, sizeof p)));
    json_object_set_new(cfg, "restart_count", json_integer(v->restart_count));
    json_object_set_new(cfg, "restart_streak", json_integer(v->restart_streak));
}

void vm_restart_json(const struct vm *v, json_t *o)
{
    char p[32];
    json_object_set_new(o, "restart",
                        json_string(request_restart_str(
                            v->restart, v->restart_max, p, sizeof p)));
    json_object_set_new(o, "restart_count", json_integer(v->restart_count));
}

/* Whether (v), exited, is to be restarted; (at_start): by a daemon that
 * is starting. */
static int wanted(const struct vm *v, int at_start)
{
    if (v->dead || v->destroyers || v->killed_by == KILLED_BY_DESTROY ||
        v->killed_by == KILLED_BY_SAVE || v->killed_by == KILLED_BY_MIGRATE)
        return 0;
    if (v->restart == RESTART_ALWAYS)
        return at_start || !v->stopped;
    if (v->restart != RESTART_ON_FAILURE || v->stopped)
        return 0;
    int failed = !(v->exit.kind == GUEST_EXITED && v->exit.status == 0);
    return failed && (!v->restart_max || v->restart_count < v->restart_max);
}

/* (reset): a guest that ran long enough starts the doubling over. */
static void schedule(struct vm *v, uint64_t now, int reset)
{
    if (reset && v->exited_at > 0 && v->created > 0 &&
        v->exited_at - v->created >= BACKOFF_RESET_S)
        v->restart_streak = 0;
    unsigned n = v->restart_streak < 20 ? v->restart_streak : 20;
    uint64_t delay = BACKOFF_FIRST_NS << n;
    v->restart_at = now + (delay < BACKOFF_MAX_NS ? delay : BACKOFF_MAX_NS);
}

void vm_restart_load(struct vm *v, const json_t *cfg)
{
    const char *p = json_string_value(json_object_get(cfg, "restart"));
    if (!p || request_restart_parse(p, &v->restart, &v->restart_max) < 0)
        v->restart = RESTART_NO; /* recorded by a daemon without them */
    v->restart_count =
        (unsigned)json_integer_value(json_object_get(cfg, "restart_count"));
    v->restart_streak =
        (unsigned)json_integer_value(json_object_get(cfg, "restart_streak"));
}

void vm_restart_exited(struct daemon *d, struct vm *v)
{
    (void)d;
    v->exited_at = daemon_unix_time();
    if (wanted(v, 0))
        schedule(v, host_now_ns(), 1);
}

void vm_restart_recovered(struct daemon *d, struct vm *v)
{
    (void)d;
    /* Ended while no daemon ran, or waiting for its restart when the last
     * one stopped: restarted now, without a backoff. */
    if (v->state == VM_EXITED && wanted(v, 1))
        v->restart_at = host_now_ns();
}

/* The owner's credentials, as its client would have them: its passwd
 * entry's groups, or its recorded group alone. */
void vm_owner_creds(const struct vm *v, struct creds *cr)
{
    memset(cr, 0, sizeof *cr);
    cr->uid = v->owner;
    cr->gid = v->owner_gid;
    cr->ngroups = 1;
    cr->groups[0] = v->owner_gid;
    struct passwd *pw = getpwuid(v->owner);
    int n = CREDS_MAX_GROUPS;
    if (pw && getgrouplist(pw->pw_name, v->owner_gid, cr->groups, &n) >= 0)
        cr->ngroups = n;
}

/* The create request that makes (v) again, as text, or NULL. */
static char *remake_request(const struct vm *v)
{
    json_t *own = v->mon->record(v);
    json_t *recipe = own ? json_object_get(own, "recipe") : NULL;
    json_t *o = json_is_object(recipe) ? json_deep_copy(recipe) : NULL;
    json_decref(own);
    if (!o)
        return NULL;
    /* A restored guest's recipe is its create's, with the restore's
     * own fields. */
    json_object_set_new(o, "op", json_string("create"));
    json_object_del(o, "tag");
    json_object_del(o, "path");
    json_object_set_new(o, "name", json_string(v->name));
    /* The console the first client passed is gone with it. */
    json_object_set_new(o, "console", json_string("log"));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void restart_now(struct daemon *d, struct vm *v)
{
    v->restart_at = 0;
    char *text = remake_request(v);
    struct request r;
    const char *code;
    struct lvm_err err;
    if (!text || request_parse(text, strlen(text), &r, &code, &err) < 0) {
        daemon_log("guest %s (%s): cannot restart it: %s", v->name, v->id,
                   text ? err.msg : "it has no recipe");
        free(text);
        if (text)
            request_free(&r);
        return;
    }
    free(text);
    struct client *c = calloc(1, sizeof *c);
    if (!c) {
        request_free(&r);
        return;
    }
    r.restart_count = v->restart_count + 1;
    r.restart_streak = v->restart_streak + 1;
    c->fd = -1;
    c->dead = 1; /* nothing to reply to: vm_op_done logs a failure */
    c->restarter = 1;
    vm_owner_creds(v, &c->cr);
    c->uid = c->cr.uid;
    /* Freed by server_bury once no waiter refers to it. */
    c->grave_next = d->client_graveyard;
    d->client_graveyard = c;
    char why[512];
    daemon_log("guest %s (%s) %s: restarting it (restart %u)", v->name, v->id,
               guest_exit_str(&v->exit, why, sizeof why), r.restart_count);
    /* The new guest takes its name and is charged instead of it; the old
     * record goes once the new one is made. */
    json_t *charged = quota_record(v);
    quota_release(d, v, QUOTA_ALL);
    v->restarting = 1;
    vm_create(d, c, &r, -1);
    v->restarting = 0;
    request_free(&r);
    if (!c->restart_failed) {
        json_decref(charged);
        vm_forget(d, v);
        return;
    }
    /* Refused (its image gone, a quota reached): it stays as it was, and
     * is tried again after the next step of its backoff. */
    quota_recover(d, v, charged);
    json_decref(charged);
    v->restart_count++;
    v->restart_streak++;
    if (wanted(v, 0))
        schedule(v, host_now_ns(), 0);
}

void vm_restart_tick(struct daemon *d, struct vm *v, uint64_t now)
{
    if (v->restart_at && now >= v->restart_at && v->state == VM_EXITED &&
        !v->dead && !v->audit_pending)
        restart_now(d, v);
}
