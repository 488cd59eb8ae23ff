/*
 * vm_shell_migrate_in.c: live migration, the receiving side: a guest comes
 * in over a connection that speaks the migration stream
 * (toolstack/migstream.h), and becomes a proc or kvm guest here.
 *
 * Two ways in:
 *   - an API client's connection that asks for "migrate-in" (the source
 *     daemon, through the socket `lightvm migrate` connected as the
 *     user): the guest is that user's, under its quotas and the
 *     operator's policy, exactly as its restore would be;
 *   - the TCP migration port (lightvmd --migrate-listen ADDR:PORT), which
 *     the operator opens on a network it trusts, as QEMU's -incoming: a
 *     guest that comes in there is root's.
 *
 * Everything runs in the daemon's loop without blocking: bytes are fed to
 * the stream's state machine as they come, pages go into a memfd, and the
 * few answers are small. The guest is made when the stream ends, held
 * before its first instruction (LVM_RESUME_HOLD) and recorded as such; it
 * runs only when the source commits, and goes if the connection ends
 * first (or the daemon restarts meanwhile: rundir's record says "in").
 */
#include "daemon/quota.h"
#include "daemon/restore.h"
#include "daemon/server_guard.h"
#include "daemon/vm_shell_snap.h"
#include "toolstack/guest_policy.h"
#include "toolstack/migstream.h"
#include "toolstack/monitor.h"
#include "toolstack/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (MIG_BODY_MAX + MIG_HEADER_LEN)
#define MIG_IN_IDLE_NS 60000000000ull /* a silent source is dropped */
#define MIG_IN_MAX 16       /* incoming migrations at once, over the API */
#define MIG_IN_MAX_MEMBER 2 /* of one member of the API group */
#define MIG_IN_MAX_TCP                                                         \
    8                               /* over the TCP port, apart: unauthenticated
                                until HELLO, they never take the API's */
#define MIG_HELLO_NS 10000000000ull /* a connection's HELLO comes in 10 s */

struct mig_conn {
    int fd;
    struct ep_item ep;
    struct creds cr;
    int tcp;
    struct mig_reader rd;
    struct mig_in mi;
    uint8_t *chunk; /* received, not yet fed: [off, len) */
    size_t off, len;
    int pending_fd;              /* came with the last message */
    char held[GUEST_ID_LEN + 1]; /* the guest made and held, or "" */
    uint64_t reserved;           /* RAM quota held for the stream */
    int hello;                   /* HELLO read */
    uint64_t deadline, t0;
    struct mig_conn *next;
};

static struct mig_conn *conns;
static unsigned nconns;

static unsigned count_of(uid_t uid, int tcp)
{
    unsigned n = 0;
    for (struct mig_conn *c = conns; c; c = c->next)
        n += c->tcp == tcp && (tcp || c->cr.uid == uid);
    return n;
}

/* ---- answers -------------------------------------------------------------- */

static int answer(struct mig_conn *mc, uint32_t type, json_t *o,
                  struct lvm_err *err)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return lvm_err_set(err, ENOMEM, "an answer");
    int rc = mig_send(mc->fd, type, s, strlen(s), NULL, 0, -1, err);
    free(s);
    return rc;
}

static struct vm *held_vm(struct daemon *d, struct mig_conn *mc)
{
    if (!mc->held[0])
        return NULL;
    int ambiguous;
    struct vm *v = vm_find(d, mc->held, 0, &ambiguous);
    return v && !strcmp(v->id, mc->held) ? v : NULL;
}

static void unreserve(struct daemon *d, struct mig_conn *mc)
{
    if (mc->reserved)
        quota_give(d, mc->cr.uid, QUOTA_RAM, mc->reserved);
    mc->reserved = 0;
}

static void conn_free(struct daemon *d, struct mig_conn *mc)
{
    for (struct mig_conn **p = &conns; *p; p = &(*p)->next)
        if (*p == mc) {
            *p = mc->next;
            nconns--;
            break;
        }
    /* A guest made but not committed goes: the source still has it. */
    struct vm *v = held_vm(d, mc);
    if (v && vm_live(v) && !v->killed_by) {
        daemon_log("guest %s: its migration in did not commit: removed", v->id);
        v->killed_by = KILLED_BY_DESTROY; /* forgotten once it exits */
        v->mon->kill(d, v);
    }
    unreserve(d, mc);
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, mc->fd, NULL);
    close(mc->fd);
    if (mc->pending_fd >= 0)
        close(mc->pending_fd);
    mig_reader_free(&mc->rd);
    mig_in_free(&mc->mi);
    free(mc->chunk);
    free(mc);
}

/* End (mc), telling the source why (code, msg) if it may still hear. */
static void refuse(struct daemon *d, struct mig_conn *mc, const char *code,
                   const char *msg)
{
    struct lvm_err ignore;
    daemon_log("incoming migration (uid %u) ended: %s", (unsigned)mc->cr.uid,
               msg);
    answer(mc, MIG_REFUSE,
           json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg),
           &ignore);
    conn_free(d, mc);
}

/* ---- the stream's steps --------------------------------------------------- */

/* HELLO: whether this daemon can take the guest, before any page. */
static int decide(struct daemon *d, struct mig_conn *mc, const char **code,
                  struct lvm_err *err)
{
    struct snap_info *in = &mc->mi.info;
    mc->hello = 1;
    /* The TCP port's peers prove they hold its secret before anything
     * else is looked at (no file is opened, nothing said of the host). */
    if (mc->tcp && !mig_token_equal(mc->mi.token, d->mig_token)) {
        *code = "denied";
        return lvm_err_set(err, 0,
                           "a missing or wrong migration token (lightvm "
                           "migrate --token-file: the destination's "
                           "--migrate-token)");
    }
    *code = "invalid";
    const struct vm_monitor *mon = vm_monitor_find(d, in->monitor, err);
    if (!mon)
        return -1;
    if (mon->state_kind != SNAP_KIND_UNIKERNEL || !mon->migrate)
        return lvm_err_set(err, 0, "a %s guest cannot come in by migration",
                           mon->name);
    if (vm_find_name(d, mc->cr.uid, in->guest_name)) {
        *code = "exists";
        return lvm_err_set(err, 0, "a guest named '%s' exists here",
                           in->guest_name);
    }
    struct guest_ram_range rr =
        guest_ram_range(monitor_find(mon->name, NULL)->kind, GUEST_KERNEL_TINY);
    if (in->ram_size < rr.min || in->ram_size > rr.max)
        return lvm_err_set(err, 0,
                           "%llu KiB of RAM is outside the %s monitor's %llu "
                           "KiB to %llu KiB",
                           (unsigned long long)(in->ram_size >> 10), mon->name,
                           (unsigned long long)(rr.min >> 10),
                           (unsigned long long)(rr.max >> 10));
    /* Its RAM reserved from what the user may still use while the memfd
     * fills (a stream's pages are the daemon's memory until the guest is
     * made, which charges it for real). */
    if (quota_take(d, &mc->cr, QUOTA_RAM, in->ram_size, err) < 0) {
        *code = "quota";
        return -1;
    }
    mc->reserved = in->ram_size;
    int ram = snapshot_memfd(in->ram_size, err);
    if (ram < 0) {
        *code = "failed";
        return -1;
    }
    mig_in_accept(&mc->mi, ram);
    return answer(mc, MIG_ACCEPT, json_object(), err);
}

/* END: the guest, made as the user's restore of it would be, held. */
static int make(struct daemon *d, struct mig_conn *mc, const char **code,
                struct lvm_err *err)
{
    struct restore_ctx *x = malloc(sizeof *x);
    if (!x) {
        *code = "failed";
        return lvm_err_set(err, ENOMEM, "out of memory");
    }
    int ram = mc->mi.ram_fd;
    mc->mi.ram_fd = -1;
    unreserve(d, mc); /* the guest is charged for it now */
    if (restore_prepare_migration(d, &mc->cr, &mc->mi.info, ram, x, code, err) <
        0) {
        free(x);
        return -1;
    }
    if (mc->tcp && x->req.nblocks) {
        /* Paths of another host, opened here as root: no. */
        restore_done(x);
        free(x);
        *code = "invalid";
        return lvm_err_set(err, 0,
                           "a guest with block devices cannot come in over "
                           "TCP (its devices are paths on another host)");
    }
    struct client as = {.fd = -1, .uid = mc->cr.uid, .cr = mc->cr};
    struct vm *v = NULL;
    const struct vm_monitor *mon = NULL;
    if (vm_policy_apply(d, &as, &x->req, err) < 0)
        *code = err->code == EPERM ? "denied" : "failed";
    else if ((mon = vm_monitor_find(d, x->req.monitor, err)))
        v = shell_make(d, &mc->cr, &x->req, -1, mon, code, err);
    restore_done(x);
    free(x);
    if (!v)
        return -1;
    snprintf(mc->held, sizeof mc->held, "%s", v->id);
    svm(v)->migration = SVM_MIGRATION_IN;
    if (rundir_update_config(d, v, err) < 0) {
        *code = "failed";
        return -1;
    }
    mig_in_held(&mc->mi);
    fault_point("migrate-in-held");
    return answer(mc, MIG_READY,
                  json_pack("{s:o}", "guest", api_guest_json(d, v, 0)), err);
}

/* COMMIT: the source's copy is stopped for good; this one runs. */
static int commit(struct daemon *d, struct mig_conn *mc, const char **code,
                  struct lvm_err *err)
{
    struct vm *v = held_vm(d, mc);
    *code = "failed";
    if (!v || v->state == VM_EXITED || v->killed_by)
        return lvm_err_set(err, 0, "the guest exited before the commit");
    /* A guest paused at the source stays paused: frozen before it is
     * let go, so it wakes only when unpaused. */
    struct guest *g = guest_of(v);
    if (mc->mi.paused && g && cgroup_freeze(&g->cg, 1, err) < 0)
        return -1;
    svm(v)->migration = SVM_MIGRATION_NONE;
    if (vm_control(d, v, LVM_CTRL_RESUME, err) < 0) {
        svm(v)->migration = SVM_MIGRATION_IN;
        return -1;
    }
    if (mc->mi.paused)
        v->state = VM_PAUSED;
    mc->held[0] = 0; /* ours now, whatever happens to the connection */
    if (rundir_update_config(d, v, err) < 0)
        daemon_log("guest %s: %s", v->id, err->msg);
    fault_point("migrate-in-committed");
    daemon_log("guest %s (%s) migrated in (uid %u, %.1f ms)", v->id, v->name,
               (unsigned)mc->cr.uid, (host_now_ns() - mc->t0) / 1e6);
    struct lvm_err ignore;
    answer(mc, MIG_RUNNING,
           json_pack("{s:o}", "guest", api_guest_json(d, v, 0)), &ignore);
    return 0;
}

/* A whole frame: 1 to go on, 0 if (mc) is gone. */
static int on_frame(struct daemon *d, struct mig_conn *mc)
{
    struct mig_frame f;
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    const char *code = "bad_request";
    mig_reader_frame(&mc->rd, &f);
    int fd = mc->pending_fd;
    mc->pending_fd = -1;
    int ev = mig_in_frame(&mc->mi, &f, fd, &err);
    int rc = 0;
    if (ev == MIG_EV_HELLO)
        rc = decide(d, mc, &code, &err);
    else if (ev == MIG_EV_END)
        rc = make(d, mc, &code, &err);
    else if (ev == MIG_EV_COMMIT) {
        if (commit(d, mc, &code, &err) == 0) {
            conn_free(d, mc);
            return 0;
        }
        rc = -1;
    }
    if (ev < 0 || rc < 0) {
        refuse(d, mc, code, lvm_err_str(&err, buf, sizeof buf));
        return 0;
    }
    return 1;
}

static void take_fds(struct mig_conn *mc, struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(cm) + i * sizeof fd, sizeof fd);
                if (mc->pending_fd >= 0)
                    close(mc->pending_fd); /* one per frame: the last */
                mc->pending_fd = fd;
            }
        }
}

void migrate_in_event(struct daemon *d, struct mig_conn *mc)
{
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    /* Bounded, so that one fast source does not starve the loop. */
    for (int turn = 0; turn < 64; turn++) {
        if (mc->off == mc->len) {
            union {
                char b[CMSG_SPACE(sizeof(int) * 4)];
                struct cmsghdr align;
            } ctl;
            struct iovec iov = {mc->chunk, CHUNK};
            struct msghdr mh = {.msg_iov = &iov,
                                .msg_iovlen = 1,
                                .msg_control = ctl.b,
                                .msg_controllen = sizeof ctl.b};
            ssize_t n = recvmsg(mc->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (n >= 0)
                take_fds(mc, &mh);
            if (n <= 0) {
                refuse(d, mc, "failed",
                       n == 0 ? "the source closed the connection"
                              : strerror(errno));
                return;
            }
            if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
                refuse(d, mc, "bad_request",
                       "migration stream: a message too long, or too many "
                       "fds");
                return;
            }
            mc->off = 0;
            mc->len = (size_t)n;
            mc->deadline = host_now_ns() + MIG_IN_IDLE_NS;
        }
        while (mc->off < mc->len) {
            long k = mig_reader_feed(&mc->rd, mc->chunk + mc->off,
                                     mc->len - mc->off, &err);
            if (k < 0) {
                refuse(d, mc, "bad_request",
                       lvm_err_str(&err, buf, sizeof buf));
                return;
            }
            mc->off += (size_t)k;
            if (mc->rd.complete && !on_frame(d, mc))
                return;
        }
    }
}

/* ---- connections ---------------------------------------------------------- */

static void conn_add(struct daemon *d, int fd, const struct creds *cr, int tcp)
{
    const char *why = NULL;
    if (tcp ? count_of(0, 1) >= MIG_IN_MAX_TCP
            : nconns - count_of(0, 1) >= MIG_IN_MAX)
        why = "too many incoming migrations at once";
    else if (!tcp && cr->uid != 0 && count_of(cr->uid, 0) >= MIG_IN_MAX_MEMBER)
        why = "you have as many incoming migrations as a member may";
    struct mig_conn *mc = why ? NULL : calloc(1, sizeof *mc);
    if (mc && !(mc->chunk = malloc(CHUNK))) {
        free(mc);
        mc = NULL;
    }
    if (!mc) {
        struct lvm_err ignore;
        json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", "busy",
                              "message", why ? why : "out of memory");
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (s)
            mig_send(fd, MIG_REFUSE, s, strlen(s), NULL, 0, -1, &ignore);
        free(s);
        close(fd);
        return;
    }
    mc->fd = fd;
    mc->cr = *cr;
    mc->tcp = tcp;
    mc->pending_fd = -1;
    mig_reader_init(&mc->rd);
    mig_in_init(&mc->mi);
    mc->t0 = host_now_ns();
    mc->deadline = mc->t0 + MIG_IN_IDLE_NS;
    mc->ep = (struct ep_item){.type = EP_MIGRATE, .ptr = mc};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &mc->ep};
    mc->next = conns;
    conns = mc;
    nconns++;
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        refuse(d, mc, "failed", "cannot watch the connection");
}

void migrate_in_take(struct daemon *d, struct client *c)
{
    int fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 3);
    struct creds cr = c->cr;
    /* The connection is the stream's from here on: no more requests. */
    server_client_close(d, c, NULL, NULL);
    if (fd >= 0)
        conn_add(d, fd, &cr, 0);
}

int migrate_in_listen(struct daemon *d, const char *spec, struct lvm_err *err)
{
    char host[128];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof host ||
        !colon[1])
        return lvm_err_set(err, 0, "--migrate-listen: '%s' is not ADDRESS:PORT",
                           spec);
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') { /* [::1]:7000 */
        h[strlen(h) - 1] = 0;
        h++;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags =
                                 AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai;
    int e = getaddrinfo(h, colon + 1, &hints, &ai);
    if (e)
        return lvm_err_set(err, 0, "--migrate-listen: '%s': %s", spec,
                           gai_strerror(e));
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    int rc = fd < 0 ||
                     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
                                sizeof one) < 0 ||
                     bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
                     listen(fd, 16) < 0
                 ? lvm_err_set(err, errno, "--migrate-listen %s", spec)
                 : 0;
    freeaddrinfo(ai);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    d->mig_listen_fd = fd;
    d->ep_mig_listen = (struct ep_item){.type = EP_MIGRATE_LISTEN};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &d->ep_mig_listen};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return lvm_err_set(err, errno, "watch the migration port");
    return 0;
}

void migrate_in_accept(struct daemon *d)
{
    for (int i = 0; i < 16; i++) {
        int fd =
            accept4(d->mig_listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        /* The operator's port: what comes in is root's. Its answers go
         * at once (no Nagle: they are small, and the source waits). */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct creds root = {0};
        conn_add(d, fd, &root, 1);
    }
}

void migrate_in_tick(struct daemon *d)
{
    uint64_t now = host_now_ns();
    for (struct mig_conn *mc = conns, *next; mc; mc = next) {
        next = mc->next;
        if (!mc->hello && now > mc->t0 + MIG_HELLO_NS)
            refuse(d, mc, "failed", "no HELLO within 10 s");
        else if (now > mc->deadline)
            refuse(d, mc, "failed", "the source went silent for 60 s");
    }
}

void migrate_in_close_all(struct daemon *d)
{
    while (conns)
        conn_free(d, conns);
    if (d->mig_listen_fd >= 0)
        close(d->mig_listen_fd);
    d->mig_listen_fd = -1;
}
