/*
 * restore.c: read a state file for a restore or a clone (restore.h).
 */
#include "daemon/restore.h"

#include "daemon/quota.h"
#include "daemon/vm_shell.h"
#include "toolstack/netaddr.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAIL(c, ...)                                                           \
    do {                                                                       \
        *code = (c);                                                           \
        lvm_err_set(err, 0, __VA_ARGS__);                                      \
        goto fail;                                                             \
    } while (0)

/* The recipe, what the client gave on top, and what the file decides. */
static json_t *merged_request(const struct request *r,
                              const struct snap_info *in, const char **code,
                              struct lvm_err *err)
{
    json_error_t je;
    json_t *o = in->config_len ? json_loadb(in->config, in->config_len, 0, &je)
                               : json_object();
    if (!o || !json_is_object(o)) {
        json_decref(o);
        *code = "invalid";
        lvm_err_set(err, 0, "the state file's recipe is not a JSON object");
        return NULL;
    }
    static const char *const drop[] = {"op",      "tag", "path",
                                       "console", "id",  "count"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        json_object_del(o, drop[i]);
    if (r->op == OP_RESTORE && r->json) {
        const char *k;
        json_t *v;
        json_object_foreach (r->json, k, v)
            if (strcmp(k, "op") && strcmp(k, "tag") && strcmp(k, "path"))
                json_object_set(o, k, v);
    }
    if (!json_object_get(o, "monitor"))
        json_object_set_new(o, "monitor", json_string(in->monitor));
    json_object_set_new(o, "op", json_string("restore"));
    json_object_set_new(o, "path", json_string(r->path));
    return o;
}

/* The request (o) says, parsed into (q) as any client's would be; its
 * text in (*text) (the caller's to free). */
static int parse_recipe(json_t *o, struct request *q, char **text,
                        const char *what, const char **code,
                        struct lvm_err *err)
{
    *text = json_dumps(o, JSON_COMPACT);
    if (!*text) {
        *code = "failed";
        return lvm_err_set(err, ENOMEM, "out of memory");
    }
    const char *pcode;
    if (request_parse(*text, strlen(*text), q, &pcode, err) < 0) {
        *code = pcode;
        return lvm_err_wrap(err, "%s", what);
    }
    return 0;
}

/* A restored guest keeps its first NIC's MAC and address, unless another
 * guest has that MAC now. */
static int keep_address(struct daemon *d, const struct creds *cr,
                        struct request *q, const struct snap_info *in,
                        struct lvm_err *err)
{
    const struct lvm_device *nic = NULL;
    unsigned n = in->devpage.ndevices;
    for (unsigned i = 0; i < n && i < LVM_MAX_DEVICES && !nic; i++)
        if (in->devpage.dev[i].type == LVM_DEV_NET)
            nic = &in->devpage.dev[i];
    if (!nic || !q->net.enabled)
        return 0;
    /* A member's file is its own to edit: a MAC in it could be another
     * guest's (or the bridge's). Its restored guest gets a new MAC and
     * address, as a clone does; root's keeps the file's. */
    if (cr->uid != 0)
        return 0;
    const uint8_t *mac = nic->u.net.mac;
    char ms[18];
    /* Only a MAC a toolstack would give: locally administered unicast. */
    if ((mac[0] & 3) != 2)
        return lvm_err_set(err, 0,
                           "the state file's MAC %s is not a locally "
                           "administered unicast address",
                           netaddr_mac_str(mac, ms));
    const struct vm *other = shell_mac_owner(d, mac);
    if (other)
        return lvm_err_set(err, 0,
                           "guest %s (%s) has the MAC %s of this state now: "
                           "restore a state once, or clone it",
                           other->id, other->name, netaddr_mac_str(mac, ms));
    q->net.have_mac = 1;
    memcpy(q->net.want_mac, mac, 6);
    if (!(nic->flags & LVM_DEVF_DHCP) && !q->net.want_addr)
        q->net.want_addr = nic->u.net.ipv4_addr;
    return 0;
}

/* Before the file is read (its checksum covers it all) or its RAM made:
 * the RAM its header claims within what the client may still use, so
 * that a crafted header costs the daemon no more than the client's own
 * quota. The restored guest is charged for it later as any guest is. */
static int ram_within_quota(struct daemon *d, const struct creds *cr, int fd,
                            struct lvm_err *err)
{
    struct snap_header h;
    if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
        return 0; /* too short: snap_read_info says so */
    uint64_t ram = le64toh(h.ram_size);
    if (!ram)
        return 0;
    if (quota_take(d, cr, QUOTA_RAM, ram, err) < 0)
        return -1;
    quota_give(d, cr->uid, QUOTA_RAM, ram);
    return 0;
}

int restore_prepare(struct daemon *d, const struct creds *cr,
                    const struct request *r, struct restore_ctx *x,
                    const char **code, struct lvm_err *err)
{
    memset(x, 0, sizeof *x);
    x->fd = -1;
    json_t *o = NULL;
    char *text = NULL;
    *code = "invalid";
    x->fd = creds_open_data(cr, r->path, 0, err);
    if (x->fd < 0)
        return -1;
    if (ram_within_quota(d, cr, x->fd, err) < 0) {
        *code = "quota";
        goto fail;
    }
    if (snap_read_info(x->fd, &x->info, err) < 0) {
        /* What older lightvm versions saved of a qemu guest: QEMU's own
         * stream, whose first bytes are "QEVM". */
        char magic[4];
        if (pread(x->fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
            !memcmp(magic, "QEVM", sizeof magic))
            lvm_err_set(err, 0,
                        "not a lightvm state file (a raw QEMU migration "
                        "stream, as older versions saved: it cannot be "
                        "restored)");
        lvm_err_wrap(err, "%s", r->path);
        goto fail;
    }
    o = merged_request(r, &x->info, code, err);
    if (!o)
        goto fail;
    /* Root restoring another user's file: its recipe's block devices
     * would be opened as root, paths that user chose (a link to a file of
     * root's). Root names them itself, or the owner restores it. */
    struct stat fst;
    if (cr->uid == 0 && json_object_get(o, "block") &&
        !(r->json && json_object_get(r->json, "block")) &&
        fstat(x->fd, &fst) == 0 && fst.st_uid != 0)
        FAIL("invalid",
             "%s is uid %u's and its recipe names block devices, which "
             "would be opened as root: restore it as its owner, or name the "
             "devices (--block)",
             r->path, (unsigned)fst.st_uid);
    if (parse_recipe(o, &x->req, &text,
                     "the state file's recipe with this "
                     "request",
                     code, err) < 0)
        goto fail;
    struct request *q = &x->req;
    q->state = &x->info;
    q->state_fd = x->fd;
    q->count = r->count;
    if (r->op == OP_CLONE)
        snprintf(q->name, sizeof q->name, "%s", r->name);
    /* The state file's kind decides where it may go. */
    const struct vm_monitor *mon = vm_monitor_find(d, q->monitor, err);
    if (!mon)
        goto fail;
    if (mon->state_kind != x->info.kind)
        FAIL("invalid", "%s holds a %s guest: it cannot be restored under %s",
             r->path, x->info.monitor, mon->name);
    if (x->info.kind != SNAP_KIND_UNIKERNEL)
        return 0; /* its monitor reads the rest itself */
    if (q->mem && q->mem != x->info.ram_size)
        FAIL("invalid", "a restored guest keeps its %llu KiB of memory",
             (unsigned long long)(x->info.ram_size >> 10));
    q->mem = x->info.ram_size;
    if (r->op == OP_RESTORE && keep_address(d, cr, q, &x->info, err) < 0)
        goto fail;
    int ram = snap_read_ram(x->fd, &x->info, err);
    if (ram < 0) {
        lvm_err_wrap(err, "%s", r->path);
        goto fail;
    }
    x->base = malloc(sizeof *x->base);
    if (!x->base) {
        close(ram);
        FAIL("failed", "out of memory");
    }
    *x->base = (struct snap_base){ram, 1};
    x->resume = (struct guest_resume){ram, &x->info.status,
                                      r->op == OP_CLONE ? LVM_RESUME_CLONED
                                                        : LVM_RESUME_RESTORED};
    q->resume = &x->resume;
    q->base = x->base;
    free(text);
    json_decref(o);
    return 0;
fail:
    free(text);
    json_decref(o);
    restore_done(x);
    return -1;
}

int restore_prepare_migration(struct daemon *d, const struct creds *cr,
                              struct snap_info *info, int ram_fd,
                              struct restore_ctx *x, const char **code,
                              struct lvm_err *err)
{
    memset(x, 0, sizeof *x);
    x->fd = -1;
    x->info = *info; /* moved */
    memset(info, 0, sizeof *info);
    x->base = malloc(sizeof *x->base);
    if (!x->base) {
        close(ram_fd);
        *code = "failed";
        lvm_err_set(err, ENOMEM, "out of memory");
        restore_done(x);
        return -1;
    }
    *x->base = (struct snap_base){ram_fd, 1};
    json_t *o = NULL;
    char *text = NULL;
    struct request r = {.op = OP_RESTORE};
    /* Not a file: nothing opens it (the state is in memory). */
    snprintf(r.path, sizeof r.path, "/dev/null");
    o = merged_request(&r, &x->info, code, err);
    if (!o)
        goto fail;
    /* The guest keeps its name, and the monitor it ran under. */
    json_object_set_new(o, "name", json_string(x->info.guest_name));
    json_object_set_new(o, "monitor", json_string(x->info.monitor));
    if (parse_recipe(o, &x->req, &text, "the migrating guest's recipe", code,
                     err) < 0)
        goto fail;
    struct request *q = &x->req;
    q->state = &x->info;
    q->state_fd = -1;
    q->count = 1;
    const struct vm_monitor *mon = vm_monitor_find(d, q->monitor, err);
    if (!mon)
        goto fail;
    if (mon->state_kind != SNAP_KIND_UNIKERNEL)
        FAIL("invalid", "a %s guest cannot come in by migration", mon->name);
    q->mem = x->info.ram_size;
    if (keep_address(d, cr, q, &x->info, err) < 0)
        goto fail;
    x->resume = (struct guest_resume){ram_fd, &x->info.status,
                                      LVM_RESUME_RESTORED | LVM_RESUME_HOLD};
    q->resume = &x->resume;
    q->base = x->base;
    free(text);
    json_decref(o);
    return 0;
fail:
    free(text);
    json_decref(o);
    restore_done(x);
    return -1;
}

void restore_done(struct restore_ctx *x)
{
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
    snap_base_put(x->base);
    x->base = NULL;
    snap_info_free(&x->info);
    request_free(&x->req);
}

struct begin_args {
    struct snap_writer *wr;
    const char *path;
    int force;
};

static int begin_as_client(void *arg, struct lvm_err *err)
{
    struct begin_args *a = arg;
    return snap_write_begin(a->wr, AT_FDCWD, a->path, a->force, err);
}

int state_write_begin(const struct creds *cr, struct snap_writer *wr,
                      const char *path, int force, struct lvm_err *err)
{
    struct begin_args a = {wr, path, force};
    return creds_call(cr, begin_as_client, &a, err);
}

struct commit_args {
    struct snap_writer *wr;
    const struct snap_info *info;
};

static int commit_as_client(void *arg, struct lvm_err *err)
{
    struct commit_args *a = arg;
    return snap_write_commit(a->wr, a->info, err);
}

int state_write_commit(const struct creds *cr, struct snap_writer *wr,
                       const struct snap_info *info, struct lvm_err *err)
{
    struct commit_args a = {wr, info};
    return creds_call(cr, commit_as_client, &a, err);
}

char *state_recipe_text(const struct vm *v, const json_t *recipe, json_t *extra)
{
    json_t *o = recipe ? json_deep_copy(recipe) : json_object();
    if (!o) {
        json_decref(extra);
        return NULL;
    }
    static const char *const drop[] = {"op", "tag", "path", "console"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        json_object_del(o, drop[i]);
    /* Its image by the path it was created from. */
    json_object_set_new(o, "image", json_string(v->image));
    json_object_set_new(o, "name", json_string(v->name));
    if (extra) {
        json_object_update(o, extra);
        json_decref(extra);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
