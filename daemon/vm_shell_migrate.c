/*
 * vm_shell_migrate.c: live migration of a proc or kvm guest, the sending
 * side (the receiving side: migrate_in.c; the stream: toolstack/migstream.h).
 *
 * The client connects to the destination itself (`lightvm migrate` opens
 * the other daemon's API socket, or a TCP connection to its migration
 * port) and hands the connected socket over with the request: the
 * destination sees the client's own credentials, never this daemon's, and
 * this daemon connects nowhere on a client's word.
 *
 * A thread does the copying, with blocking I/O and timeouts, so that a
 * slow or stuck destination never holds up the daemon's loop; it touches
 * nothing of the daemon's but the guest's pid and layout, which stay put
 * until it is joined. The loop and the thread speak in single bytes over
 * a socketpair:
 *
 *   thread -> loop   'S' pre-copy done: stop the guest
 *                    'P' the destination made it (held): may it commit?
 *                    'D' the destination runs it: this copy goes
 *                    'F' failed before the commit: this copy goes on
 *                    'U' the commit's answer was lost: keep this copy
 *                        parked, never running twice
 *   loop -> thread   'G' parked, its status page copied: the last pages
 *                    'C' recorded as committing: commit
 *                    'A' abort
 *
 * Over TCP the RAM is pre-copied while the guest runs, in rounds that
 * send what changed (snapshot_sync), then the guest parks and the last
 * changes go. Over a unix socket (same host) nothing crosses the wire: the
 * guest parks, its RAM is copied once into a memfd, sealed, and the memfd
 * itself is passed; the destination maps it copy-on-write.
 */
#include "daemon/vm_shell_snap.h"
#include "toolstack/migstream.h"
#include "toolstack/snapshot.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define MIG_ROUNDS_MAX 8
#define MIG_STOP_PAGES 64 /* few enough to send while the guest is stopped */
#define MIG_IO_TIMEOUT_S 30

struct mig_out {
    int sock;   /* to the destination */
    int ctl[2]; /* [0]: the loop's end (watched), [1]: the thread's */
    struct ep_item ep;
    pthread_t th;
    int started;
    int stream; /* TCP: pre-copy over the wire */
    int api;    /* the destination's API socket: ask for migrate-in first */
    int paused; /* it was paused: it stays so at the destination */
    char token[257]; /* the TCP destination's secret, or "" */
    /* For the thread; fixed while it runs. */
    const struct guest *g;
    const struct image *img;
    int base_fd;
    struct snap_info info; /* status and devpage: copied at the park */
    /* The thread's results. */
    char msg[LVM_ERR_MSG_MAX + 64];
    char *dest_guest; /* the destination's guest, JSON text */
    uint64_t rounds, pages_sent, pages_final;
    uint64_t t0, t_parked;
    uint64_t t_sent, t_ready, t_running; /* END sent, READY, RUNNING read */
};

/* ---- the thread ----------------------------------------------------------- */

static void tell(struct mig_out *m, char ev)
{
    while (write(m->ctl[1], &ev, 1) < 0 && errno == EINTR)
        ;
}

static char await(struct mig_out *m)
{
    char c;
    ssize_t n;
    while ((n = read(m->ctl[1], &c, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? c : 'A';
}

/* Read the destination's answer: a frame of (type); -2 if it refused
 * (REFUSE: it holds nothing of the guest then), -1 on any other error. */
static int expect(struct mig_out *m, struct mig_reader *rd, uint32_t type,
                  struct lvm_err *err)
{
    struct mig_frame f;
    int fd;
    if (mig_recv(m->sock, rd, &f, &fd, err) < 0)
        return -1;
    if (fd >= 0)
        close(fd);
    json_error_t je;
    json_t *o = json_loadb((const char *)f.body, (size_t)f.len, 0, &je);
    int rc = 0;
    if (f.type == MIG_REFUSE) {
        const char *msg = json_string_value(
            json_object_get(json_object_get(o, "error"), "message"));
        lvm_err_set(err, 0, "the destination refused: %s",
                    msg ? msg : "(no reason given)");
        rc = -2;
    } else if (f.type != type || !json_is_object(o)) {
        rc = lvm_err_set(err, 0, "the destination answered %s where %s was due",
                         mig_type_name(f.type), mig_type_name(type));
    } else if (json_object_get(o, "guest")) {
        free(m->dest_guest);
        m->dest_guest = json_dumps(json_object_get(o, "guest"), JSON_COMPACT);
    }
    json_decref(o);
    return rc;
}

static int send_sink(void *arg, uint64_t first, uint64_t count,
                     const void *data, struct lvm_err *err)
{
    struct mig_out *m = arg;
    for (uint64_t i = 0; i < count;) {
        uint64_t n = count - i;
        if (n > MIG_PAGES_MAX)
            n = MIG_PAGES_MAX;
        uint64_t hdr[2] = {htole64(first + i), htole64(n)};
        int rc = data ? mig_send(m->sock, MIG_PAGES, hdr, sizeof hdr,
                                 (const uint8_t *)data + i * MIG_PAGE,
                                 n * MIG_PAGE, -1, err)
                      : mig_send(m->sock, MIG_ZERO, hdr, sizeof hdr, NULL, 0,
                                 -1, err);
        if (rc < 0)
            return -1;
        i += n;
    }
    m->pages_sent += count;
    return 0;
}

static int no_sink(void *arg, uint64_t first, uint64_t count, const void *data,
                   struct lvm_err *err)
{
    (void)arg, (void)first, (void)count, (void)data, (void)err;
    return 0;
}

/* While the guest runs: rounds of what changed, until little does. */
static int precopy(struct mig_out *m, int shadow, struct lvm_err *err)
{
    uint64_t last = UINT64_MAX;
    for (int round = 0; round < MIG_ROUNDS_MAX; round++) {
        uint64_t changed;
        if (snapshot_sync(m->g, m->img, m->base_fd, shadow, send_sink, m,
                          &changed, err) < 0)
            return -1;
        m->rounds++;
        /* Converged, or not converging (it writes faster than we send). */
        if (changed <= MIG_STOP_PAGES || (round > 0 && changed >= last))
            break;
        last = changed;
    }
    return 0;
}

/* The last pages, and the RAM itself when it goes as a memfd. */
static int final_copy(struct mig_out *m, int shadow, struct lvm_err *err)
{
    if (snapshot_sync(m->g, m->img, m->base_fd, shadow,
                      m->stream ? send_sink : no_sink, m, &m->pages_final,
                      err) < 0)
        return -1;
    if (m->stream)
        return 0;
    if (fcntl(shadow, F_ADD_SEALS,
              F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        return lvm_err_set(err, errno, "seal the guest's memory");
    return mig_send(m->sock, MIG_MEMFD, NULL, 0, NULL, 0, shadow, err);
}

static void *mig_thread(void *arg)
{
    struct mig_out *m = arg;
    struct lvm_err err = {0};
    struct mig_reader rd;
    mig_reader_init(&rd);
    char ev = 'F';
    int shadow = -1;
    char *hello = NULL;
    if (m->api) {
        static const char req[] = "{\"op\":\"migrate-in\"}";
        if (send(m->sock, req, sizeof req - 1, MSG_NOSIGNAL) !=
            (ssize_t)(sizeof req - 1)) {
            lvm_err_set(&err, errno, "send to the destination");
            goto out;
        }
    }
    hello = mig_hello_json(&m->info, m->token);
    if (!hello) {
        lvm_err_set(&err, ENOMEM, "the migration's HELLO");
        goto out;
    }
    if (mig_send(m->sock, MIG_HELLO, hello, strlen(hello), NULL, 0, -1, &err) <
        0) {
        /* A destination that refused at once (busy) has said why. */
        struct lvm_err said;
        if (expect(m, &rd, MIG_ACCEPT, &said) == -2)
            err = said;
        goto out;
    }
    if (expect(m, &rd, MIG_ACCEPT, &err) < 0)
        goto out;
    if ((shadow = snapshot_memfd(m->info.ram_size, &err)) < 0)
        goto out;
    if (m->stream && precopy(m, shadow, &err) < 0)
        goto out;
    fault_point("migrate-precopied");
    tell(m, 'S');
    if (await(m) != 'G') {
        lvm_err_set(&err, 0, "cancelled");
        goto out;
    }
    if (final_copy(m, shadow, &err) < 0 ||
        mig_send(m->sock, MIG_STATE, &m->info.status, sizeof m->info.status,
                 &m->info.devpage, sizeof m->info.devpage, -1, &err) < 0 ||
        mig_send(m->sock, MIG_END, m->paused ? "{\"paused\":true}" : NULL,
                 m->paused ? strlen("{\"paused\":true}") : 0, NULL, 0, -1,
                 &err) < 0)
        goto out;
    m->t_sent = host_now_ns();
    if (expect(m, &rd, MIG_READY, &err) < 0)
        goto out;
    m->t_ready = host_now_ns();
    tell(m, 'P');
    if (await(m) != 'C') {
        lvm_err_set(&err, 0, "cancelled");
        goto out;
    }
    fault_point("migrate-committing");
    /* A COMMIT that could not be sent never reached the destination,
     * which drops its held copy when the connection ends: this one goes
     * on. One that went out and got no answer leaves the guest in doubt. */
    if (mig_send(m->sock, MIG_COMMIT, NULL, 0, NULL, 0, -1, &err) < 0)
        goto out;
    int rc = expect(m, &rd, MIG_RUNNING, &err);
    if (rc < 0) {
        ev = rc == -2 ? 'F' : 'U';
        goto out;
    }
    m->t_running = host_now_ns();
    ev = 'D';
out:
    if (ev != 'D')
        lvm_err_str(&err, m->msg, sizeof m->msg);
    free(hello);
    mig_reader_free(&rd);
    if (shadow >= 0)
        close(shadow);
    tell(m, ev);
    return NULL;
}

/* ---- the loop's side ------------------------------------------------------ */

void mig_out_free(struct mig_out *m)
{
    if (m->started) {
        /* Whatever it waits for ends now. */
        char a = 'A';
        if (write(m->ctl[0], &a, 1) < 0) {
        }
        shutdown(m->sock, SHUT_RDWR);
        pthread_join(m->th, NULL);
    }
    if (m->ctl[0] >= 0)
        close(m->ctl[0]); /* out of the daemon's epoll set with it */
    if (m->ctl[1] >= 0)
        close(m->ctl[1]);
    if (m->sock >= 0)
        close(m->sock);
    snap_info_free(&m->info);
    free(m->dest_guest);
    free(m);
}

static void command(struct mig_out *m, char c)
{
    while (write(m->ctl[0], &c, 1) < 0 && errno == EINTR)
        ;
}

void mig_out_parked(struct daemon *d, struct vm *v)
{
    (void)d;
    struct svm_snap *op = svm(v)->snap;
    struct mig_out *m = op->mig;
    const struct guest *g = guest_of(v);
    struct itimerspec off = {{0, 0}, {0, 0}};
    timerfd_settime(op->timerfd, 0, &off, NULL);
    memcpy(&m->info.status, (const void *)g->dev.st, sizeof m->info.status);
    memcpy(&m->info.devpage, (const void *)g->dev.dp, sizeof m->info.devpage);
    m->t_parked = op->t_parked;
    m->paused = op->was_paused;
    command(m, 'G');
}

static void set_migration(struct daemon *d, struct vm *v, int state)
{
    struct lvm_err err;
    svm(v)->migration = state;
    if (rundir_update_config(d, v, &err) < 0)
        daemon_log("guest %s: cannot record its migration: %s", v->id, err.msg);
}

static void migrated(struct daemon *d, struct vm *v)
{
    struct svm_snap *op = svm(v)->snap;
    struct mig_out *m = op->mig;
    uint64_t now = host_now_ns();
    json_error_t je;
    json_t *dest = m->dest_guest ? json_loads(m->dest_guest, 0, &je) : NULL;
    /* Where the downtime went: the last copy, the destination's making
     * of the guest, the commit. */
    json_t *phases =
        json_pack("{s:f, s:f, s:f}", "copy_ms", (m->t_sent - m->t_parked) / 1e6,
                  "make_ms", (m->t_ready - m->t_sent) / 1e6, "commit_ms",
                  (m->t_running - m->t_ready) / 1e6);
    json_t *o = json_pack(
        "{s:o, s:o, s:f, s:f, s:I, s:I, s:I, s:s}", "guest",
        dest ? dest : json_object(), "phases", phases, "ms",
        (now - m->t0) / 1e6, "downtime_ms", (now - m->t_parked) / 1e6, "rounds",
        (json_int_t)m->rounds, "pages",
        (json_int_t)(m->pages_sent + (m->stream ? 0 : m->pages_final)),
        "final_pages", (json_int_t)m->pages_final, "via",
        m->stream ? "tcp" : "unix");
    /* When it stopped, on the host's monotonic clock: with the new copy's
     * first_insn_ns (same host) it gives the downtime exactly. */
    json_object_set_new(o, "parked_ns", json_integer((json_int_t)m->t_parked));
    struct waiter *w = op->w;
    snap_free(v);
    /* It runs on the destination: this copy goes, as a saved one does. */
    w->extra = json_pack("{s:o}", "migrated", o);
    vm_destroy_for(d, v, w);
    if (v->killed_by == KILLED_BY_DESTROY)
        v->killed_by = KILLED_BY_MIGRATE;
}

/* The commit's answer never came: the destination may run the guest, or
 * may not. This copy stays parked (it costs nothing and runs nothing),
 * shown as paused, until the user says which copy lives. */
static void in_doubt(struct daemon *d, struct vm *v)
{
    struct svm_snap *op = svm(v)->snap;
    char msg[LVM_ERR_MSG_MAX + 400];
    snprintf(msg, sizeof msg,
             "migration of guest %s: the destination did not confirm that "
             "it runs it (%s). This copy stays stopped, shown as paused, so "
             "that the guest never runs twice: destroy it if the "
             "destination runs the guest, else unpause it",
             v->id, op->mig->msg);
    struct waiter *w = op->w;
    op->w = NULL;
    snap_free(v);
    v->state = VM_PAUSED;
    vm_op_done(d, w, "failed", msg, NULL);
}

void shell_mig_event(struct daemon *d, struct vm *v)
{
    struct svm_snap *op = svm(v)->snap;
    if (!op || !op->mig)
        return;
    struct mig_out *m = op->mig;
    char ev;
    if (read(m->ctl[0], &ev, 1) != 1)
        return;
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    switch (ev) {
    case 'S':
        if (snap_begin(d, v, op, &err) < 0)
            shell_snap_cancel(d, v, lvm_err_str(&err, buf, sizeof buf));
        return;
    case 'P':
        /* Recorded before the commit: a daemon that dies from here on
         * comes back with this copy parked, never running. */
        set_migration(d, v, SVM_MIGRATION_OUT);
        command(m, 'C');
        return;
    case 'D': migrated(d, v); return;
    case 'U': in_doubt(d, v); return;
    default:
        if (svm(v)->migration) /* committing, then the COMMIT never left */
            set_migration(d, v, SVM_MIGRATION_NONE);
        if (op->t_parked)
            snap_release_guest(v);
        snprintf(buf, sizeof buf, "%s", m->msg);
        shell_snap_cancel(d, v, buf);
    }
}

void shell_migrate(struct daemon *d, struct vm *v, struct waiter *w,
                   const struct request *r, int fd)
{
    struct lvm_err err;
    char buf[LVM_ERR_MSG_MAX + 64];
    int domain = 0, type = 0;
    socklen_t len = sizeof domain;
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
        (len = sizeof type,
         getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) ||
        !((domain == AF_UNIX && type == SOCK_SEQPACKET) ||
          ((domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM))) {
        if (fd >= 0)
            close(fd);
        vm_op_done(d, w, "bad_request",
                   "migrate needs, as its fd, a connection to the "
                   "destination: its API socket (unix, seqpacket) or its "
                   "migration port (TCP); lightvm migrate makes it",
                   NULL);
        return;
    }
    if (snap_can(d, v, w, "migrated") < 0) {
        close(fd);
        return;
    }
    struct svm_snap *op = snap_op_new(d, w, SNAP_OP_MIGRATE);
    struct mig_out *m = op ? calloc(1, sizeof *m) : NULL;
    if (!m) {
        close(fd);
        if (op) {
            free(op);
            vm_op_done(d, w, "failed", "out of memory", NULL);
        }
        return;
    }
    m->sock = fd;
    m->ctl[0] = m->ctl[1] = -1;
    snprintf(m->token, sizeof m->token, "%s", r->token);
    m->stream = type == SOCK_STREAM;
    m->api = domain == AF_UNIX;
    m->t0 = host_now_ns();
    struct timeval tv = {MIG_IO_TIMEOUT_S, 0};
    /* Small frames (STATE, END, COMMIT) go at once: Nagle's algorithm
     * with the peer's delayed ACK would add 40 ms to the downtime. */
    int one = 1;
    if (m->stream)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct svm *s = svm(v);
    op->mig = m;
    svm(v)->snap = op; /* busy from now on */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, m->ctl) < 0) {
        lvm_err_set(&err, errno, "set up the migration");
        goto fail;
    }
    if (snap_fill_info(v, &m->info, &err) < 0)
        goto fail;
    m->g = s->g;
    m->img = s->img->img;
    m->base_fd = s->base ? s->base->fd : -1;
    if (vm_watch(d, v, m->ctl[0], &m->ep, SVM_SLOT_MIG, &err) < 0)
        goto fail;
    int e = pthread_create(&m->th, NULL, mig_thread, m);
    if (e) {
        lvm_err_set(&err, e, "start the migration's thread");
        goto fail;
    }
    m->started = 1;
    return;
fail:
    shell_snap_cancel(d, v, lvm_err_str(&err, buf, sizeof buf));
}
