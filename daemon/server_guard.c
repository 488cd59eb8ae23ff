/*
 * server_guard.c: keeps API group members from starving lightvmd's API.
 *
 * A member could hold idle connections up to the daemon's fd limit; then
 * every accept failed with EMFILE, the level-triggered listen fd stayed
 * readable and the loop spun, and root could no longer connect. So:
 * members' connections are capped per uid and in total, both well below
 * the fd limit, and root's are counted apart (members never use root's
 * share); a connection silent for the idle timeout is closed; EMFILE is
 * answered with a spare fd kept for it, or by not watching the listen fd
 * until the next tick. A refused connection gets a one-line error first.
 */
#include "daemon/server_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Fds the daemon keeps for itself beyond guests and connections: epoll,
 * signalfd, timerfd, audit, lock, listen, the spare, netlink, the shells'
 * fd window, and a few in flight during a create. */
#define GUARD_FDS_OWN 64

static unsigned clamp(unsigned long v, unsigned lo, unsigned hi)
{
    return v < lo ? lo : v > hi ? hi : (unsigned)v;
}

int guard_init(struct daemon *d, struct lvm_err *err)
{
    struct conn_guard *g = &d->guard;
    struct rlimit rl;
    unsigned long nofile = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        nofile = rl.rlim_cur == RLIM_INFINITY ? 1ul << 20 : rl.rlim_cur;
    /* Guests cost an fd each (three for a qemu guest) and pooled shells a
     * few: connections get an eighth for members, a sixteenth for root. */
    if (!g->max_members)
        g->max_members = clamp(nofile / 8, 4, 1024);
    if (!g->max_per_user)
        g->max_per_user = clamp(g->max_members / 2, 1, 64);
    if (!g->max_root)
        g->max_root = clamp(nofile / 16, 2, 256);
    if ((unsigned long)g->max_members + g->max_root + GUARD_FDS_OWN > nofile)
        daemon_log("connection caps (%u for members, %u for root) leave "
                   "fewer than %d of %lu fds: accepts may fail with EMFILE",
                   g->max_members, g->max_root, GUARD_FDS_OWN, nofile);
    g->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (g->reserve_fd < 0)
        return lvm_err_set(err, errno, "open /dev/null");
    daemon_log("connections: %u for members (%u each), %u for root; idle "
               "timeout %u s",
               g->max_members, g->max_per_user, g->max_root, g->idle_s);
    return 0;
}

/* Log a refusal, at most one line a second; the rest are counted and
 * summed up in the next line (or by the tick). */
static void log_refusal(struct daemon *d, const char *why)
{
    struct conn_guard *g = &d->guard;
    uint64_t now = server_now_ns();
    g->refused++;
    if (g->logged_at && now - g->logged_at < 1000000000ull) {
        g->unlogged++;
        return;
    }
    if (g->unlogged)
        daemon_log("refused a connection: %s (and %lu more before it)", why,
                   g->unlogged);
    else
        daemon_log("refused a connection: %s", why);
    g->unlogged = 0;
    g->logged_at = now;
}

/* Answer (fd) with a `busy` error and close it. What the client sent
 * already is read and dropped first (fds it passed with it are released
 * by the kernel): closing a socket with unread data resets the peer's
 * side before it could read the error. */
static void refuse(struct daemon *d, int fd, const char *why)
{
    char buf[512];
    for (int i = 0; i < 8; i++)
        if (recv(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC) <= 0)
            break;
    char *s = json_dumps(api_error(NULL, "busy", why), JSON_COMPACT);
    if (s)
        send(fd, s, strlen(s), MSG_DONTWAIT | MSG_NOSIGNAL);
    free(s);
    close(fd);
    log_refusal(d, why);
}

static struct conn_user *user_of(const struct conn_guard *g, uid_t uid)
{
    struct conn_user *u = g->users;
    while (u && u->uid != uid)
        u = u->next;
    return u;
}

unsigned guard_user_conns(const struct daemon *d, uid_t uid)
{
    if (uid == 0)
        return d->guard.roots;
    const struct conn_user *u = user_of(&d->guard, uid);
    return u ? u->conns : 0;
}

uint64_t guard_user_cap(const struct daemon *d, uid_t uid)
{
    return uid == 0 ? d->guard.max_root : d->guard.max_per_user;
}

/* The most connections (cr) may have: the daemon's cap for a member, or
 * its quota where lower. */
static unsigned member_cap(const struct daemon *d, const struct creds *cr)
{
    struct quota_limits lim;
    quota_limits_for(&d->cfg.quotas, cr, &lim);
    uint64_t q = lim.v[QUOTA_CONNECTIONS];
    return q < d->guard.max_per_user ? (unsigned)q : d->guard.max_per_user;
}

struct conn_user *guard_admit(struct daemon *d, int fd, const struct creds *cr)
{
    struct conn_guard *g = &d->guard;
    uid_t uid = cr->uid;
    struct conn_user *u = user_of(g, uid);
    char why[128] = "";
    unsigned cap = uid ? member_cap(d, cr) : 0;
    if (uid == 0 && g->roots >= g->max_root)
        snprintf(why, sizeof why, "too many connections for uid 0 (limit %u)",
                 g->max_root);
    else if (uid != 0 && ((u && u->conns >= cap) || cap == 0))
        snprintf(why, sizeof why, "too many connections for uid %u (limit %u)",
                 (unsigned)uid, cap);
    else if (uid != 0 && g->members >= g->max_members)
        snprintf(why, sizeof why,
                 "too many connections from API group members (limit %u)",
                 g->max_members);
    if (!why[0] && !u) {
        u = calloc(1, sizeof *u);
        if (!u)
            snprintf(why, sizeof why, "out of memory");
        else {
            u->uid = uid;
            u->next = g->users;
            g->users = u;
        }
    }
    if (why[0]) {
        refuse(d, fd, why);
        return NULL;
    }
    u->conns++;
    if (uid == 0)
        g->roots++;
    else
        g->members++;
    return u;
}

void guard_release(struct daemon *d, struct conn_user *u)
{
    struct conn_guard *g = &d->guard;
    if (!u)
        return;
    if (u->uid == 0)
        g->roots--;
    else
        g->members--;
    if (--u->conns > 0)
        return;
    for (struct conn_user **p = &g->users; *p; p = &(*p)->next)
        if (*p == u) {
            *p = u->next;
            break;
        }
    free(u);
}

/* Stop watching the listen fd until the next tick: it stays readable
 * while connections wait, and epoll would report it again at once. */
static void pause_listen(struct daemon *d, int err)
{
    if (d->guard.listen_paused)
        return;
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->listen_fd, NULL);
    d->guard.listen_paused = 1;
    log_refusal(d, err == EMFILE || err == ENFILE
                       ? "lightvmd is out of file descriptors"
                       : strerror(err));
}

int guard_accept_failed(struct daemon *d, int err)
{
    struct conn_guard *g = &d->guard;
    switch (err) {
    case EAGAIN: return 0;
    case EINTR:
    case ECONNABORTED: /* gone before we took it: the next one */
    case EPROTO:
    case EPERM: /* an LSM said no to this one */ return 1;
    case EMFILE:
    case ENFILE:
        /* Give up the spare to take the connection, answer and close it,
         * take the spare back. The pool thread may take the fd meanwhile:
         * then wait for the tick instead. */
        if (g->reserve_fd >= 0) {
            close(g->reserve_fd);
            int fd =
                accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            int again = fd >= 0 ? 1 : errno == EAGAIN ? 0 : -1;
            if (fd >= 0)
                refuse(d, fd, "lightvmd is out of file descriptors");
            g->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (again >= 0 && g->reserve_fd >= 0)
                return again; /* (none left waiting: epoll says when) */
        }
        pause_listen(d, err);
        return 0;
    default: /* ENOBUFS, ENOMEM: out of kernel memory for now */
        pause_listen(d, err);
        return 0;
    }
}

void guard_tick(struct daemon *d)
{
    struct conn_guard *g = &d->guard;
    if (g->listen_paused) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &d->ep_listen};
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->listen_fd, &ev) == 0)
            g->listen_paused = 0;
        if (g->reserve_fd < 0)
            g->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    uint64_t now = server_now_ns();
    if (g->unlogged && now - g->logged_at >= 1000000000ull) {
        daemon_log("refused %lu more connections", g->unlogged);
        g->unlogged = 0;
        g->logged_at = now;
    }
    if (!g->idle_s || d->ticks % 10)
        return;
    uint64_t limit = (uint64_t)g->idle_s * 1000000000ull;
    char msg[64];
    snprintf(msg, sizeof msg, "closed after %u s without a request", g->idle_s);
    for (struct client *c = d->clients, *next; c; c = next) {
        next = c->next;
        if (c->waits || now - c->last_msg < limit)
            continue; /* a wait or destroy legitimately takes its time */
        /* A request it sent is waiting to be read: not idle. */
        char b;
        if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
            continue;
        server_client_close(d, c, "idle", msg);
    }
}

void guard_batch_done(struct daemon *d)
{
    for (struct conn_user *u = d->guard.users; u; u = u->next)
        u->turns = 0;
}

void guard_close(struct daemon *d)
{
    if (d->guard.reserve_fd >= 0)
        close(d->guard.reserve_fd);
    d->guard.reserve_fd = -1;
}
