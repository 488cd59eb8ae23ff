/*
 * server.c: lightvmd's API socket. SOCK_SEQPACKET keeps message
 * boundaries, so one recv is one request; replies are queued per client
 * and sent without blocking, so a slow or stuck client never holds up the
 * daemon (past a bound, it is disconnected instead).
 */
#include "daemon/server_guard.h"
#include "toolstack/fdpass.h"

#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define OUTQ_MAX_BYTES (4u << 20)

uint64_t server_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int server_open(struct daemon *d, struct lvm_err *err)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(d->sock_path) >= sizeof a.sun_path)
        return lvm_err_set(err, ENAMETOOLONG, "socket path %s", d->sock_path);
    strcpy(a.sun_path, d->sock_path);
    d->listen_fd =
        socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (d->listen_fd < 0)
        return lvm_err_set(err, errno, "socket");
    unlink(d->sock_path); /* we hold the run directory's lock */
    mode_t old = umask(0177);
    int r = bind(d->listen_fd, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (r < 0)
        return lvm_err_set(err, errno, "bind %s", d->sock_path);
    /* Root, and the API group if there is one, may connect. */
    if (d->api_gid != (gid_t)-1 && (chown(d->sock_path, 0, d->api_gid) < 0 ||
                                    chmod(d->sock_path, 0660) < 0))
        return lvm_err_set(err, errno, "give %s to the API group",
                           d->sock_path);
    if (listen(d->listen_fd, 512) < 0)
        return lvm_err_set(err, errno, "listen");
    struct stat st;
    if (stat(d->sock_path, &st) == 0) {
        d->sock_dev = st.st_dev;
        d->sock_ino = st.st_ino;
    }
    return 0;
}

/* Root, or a member of the API group (primary or supplementary). */
static int allowed(const struct daemon *d, int fd, uid_t *uid)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return 0;
    *uid = cr.uid;
    if (cr.uid == 0)
        return 1;
    if (d->api_gid == (gid_t)-1)
        return 0;
    if (cr.gid == d->api_gid)
        return 1;
    gid_t groups[256];
    len = sizeof groups;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
        return 0;
    for (size_t i = 0; i < len / sizeof(gid_t); i++)
        if (groups[i] == d->api_gid)
            return 1;
    return 0;
}

void server_accept(struct daemon *d)
{
    /* Bounded: with connections arriving as fast as they are refused,
     * the rest of the loop still gets its turn. */
    for (int i = 0; i < 256; i++) {
        int fd =
            accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (guard_accept_failed(d, errno))
                continue;
            return;
        }
        uid_t uid = (uid_t)-1;
        if (!allowed(d, fd, &uid)) {
            daemon_log("refused a client (uid %d): not root or in the API "
                       "group",
                       (int)uid);
            close(fd);
            continue;
        }
        struct creds cr;
        creds_of_peer(fd, &cr);
        cr.uid = uid;
        struct conn_user *u = guard_admit(d, fd, &cr);
        if (!u)
            continue; /* answered and closed */
        struct client *c = calloc(1, sizeof *c);
        if (!c) {
            guard_release(d, u);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->uid = uid;
        c->user = u;
        c->last_msg = server_now_ns();
        c->cr = cr;
        c->ep = (struct ep_item){.type = EP_CLIENT, .ptr = c};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->ep};
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            guard_release(d, u);
            close(fd);
            free(c);
            continue;
        }
        c->next = d->clients;
        if (d->clients)
            d->clients->prev = c;
        d->clients = c;
    }
}

void server_client_close(struct daemon *d, struct client *c, const char *code,
                         const char *msg)
{
    if (c->dead)
        return;
    c->dead = 1;
    if (code) { /* past its queued replies if there is room, else lost */
        char *s = json_dumps(api_error(NULL, code, msg), JSON_COMPACT);
        if (s)
            send(c->fd, s, strlen(s), MSG_DONTWAIT | MSG_NOSIGNAL);
        free(s);
    }
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    while (c->q_head) {
        struct outmsg *m = c->q_head;
        c->q_head = m->next;
        if (m->fd >= 0)
            close(m->fd);
        free(m);
    }
    c->q_tail = NULL;
    c->user->q_bytes -= c->q_bytes;
    c->q_bytes = 0;
    guard_release(d, c->user);
    c->user = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        d->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    /* Freed later: the caller, or another event in this batch, may still
     * hold it. */
    c->grave_next = d->client_graveyard;
    d->client_graveyard = c;
}

void server_client_put(struct daemon *d, struct client *c)
{
    (void)d;
    c->refs--;
}

void server_bury(struct daemon *d)
{
    for (struct client **p = &d->client_graveyard; *p;) {
        struct client *c = *p;
        if (c->refs > 0) { /* a waiter still points at it */
            p = &c->grave_next;
            continue;
        }
        *p = c->grave_next;
        free(c);
    }
}

static void set_events(struct daemon *d, struct client *c)
{
    struct epoll_event ev = {.events = EPOLLIN | (c->q_head ? EPOLLOUT : 0),
                             .data.ptr = &c->ep};
    epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void flush(struct daemon *d, struct client *c)
{
    while (c->q_head) {
        struct outmsg *m = c->q_head;
        /* SEQPACKET: a message goes whole or not at all, its fd with it. */
        ssize_t n =
            m->fd >= 0
                ? fdpass_send(c->fd, m->data, m->len, &m->fd, 1, MSG_DONTWAIT)
                : send(c->fd, m->data, m->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            server_client_close(d, c, NULL, NULL);
            return;
        }
        c->q_head = m->next;
        if (!c->q_head)
            c->q_tail = NULL;
        if (m->fd >= 0)
            close(m->fd);
        c->q_bytes -= m->len;
        c->user->q_bytes -= m->len;
        free(m);
    }
    set_events(d, c);
}

void server_reply(struct daemon *d, struct client *c, json_t *reply)
{
    server_reply_fd(d, c, reply, -1);
}

void server_reply_fd(struct daemon *d, struct client *c, json_t *reply, int fd)
{
    if (!reply) {
        if (fd >= 0)
            close(fd);
        return;
    }
    char *s = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    if (!s || c->dead) {
        free(s);
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t len = strlen(s);
    if (c->q_bytes + len > OUTQ_MAX_BYTES ||
        (c->uid != 0 && c->user->q_bytes + len > GUARD_USER_OUTQ_MAX_BYTES)) {
        /* It does not read its replies: let it go, not the daemon. A
         * member's connections together are held to a bound too, or
         * many of them could hold the daemon's memory. */
        daemon_log("dropping a client (uid %u) that does not read its "
                   "replies",
                   (unsigned)c->uid);
        free(s);
        if (fd >= 0)
            close(fd);
        server_client_close(d, c, NULL, NULL);
        return;
    }
    struct outmsg *m = malloc(sizeof *m + len);
    if (!m) {
        free(s);
        if (fd >= 0)
            close(fd);
        server_client_close(d, c, NULL, NULL);
        return;
    }
    m->next = NULL;
    m->fd = fd;
    m->len = len;
    memcpy(m->data, s, len);
    free(s);
    if (c->q_tail)
        c->q_tail->next = m;
    else
        c->q_head = m;
    c->q_tail = m;
    c->q_bytes += len;
    c->user->q_bytes += len;
    flush(d, c);
}

/* Read one request (and up to one fd) and handle it. */
static void client_read(struct daemon *d, struct client *c)
{
    static char buf[REQUEST_MAX_BYTES + 1];
    union {
        char b[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = ctl.b,
                        .msg_controllen = sizeof ctl.b};
    ssize_t n =
        recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        server_client_close(d, c, NULL, NULL);
        return;
    }
    c->last_msg = server_now_ns();
    int fds[4], nfds = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k && nfds < 4; i++)
                memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int),
                       sizeof(int));
        }
    d->requests++;
    struct request r;
    const char *code;
    struct lvm_err err;
    if ((mh.msg_flags & MSG_CTRUNC) || nfds > 1) {
        server_reply(d, c,
                     api_error(NULL, "bad_request",
                               "at most one fd may come with a request"));
    } else if (request_parse(buf, (size_t)n, &r, &code, &err) < 0) {
        server_reply(d, c, api_error(&r, code, err.msg));
    } else {
        api_handle(d, c, &r, nfds ? fds[0] : -1);
        nfds = 0; /* api_handle owns the fd */
        request_free(&r);
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

void server_client_event(struct daemon *d, struct client *c, uint32_t events)
{
    if (c->dead)
        return;
    if (events & EPOLLOUT)
        flush(d, c);
    if (c->dead || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    /* A member past its turns in this batch waits for the next: its
     * connection stays readable, so epoll reports it again. */
    if (c->uid != 0 && c->user->turns++ >= GUARD_TURNS_PER_BATCH)
        return;
    client_read(d, c);
}

int server_client_dead(const struct client *c)
{
    return c->dead;
}

void server_close_all(struct daemon *d)
{
    while (d->clients)
        server_client_close(d, d->clients, NULL, NULL);
    server_bury(d);
    if (d->listen_fd >= 0)
        close(d->listen_fd);
    d->listen_fd = -1;
    guard_close(d);
    /* Remove the socket only if it is still the one we made. */
    struct stat st;
    if (d->sock_ino && stat(d->sock_path, &st) == 0 &&
        st.st_dev == d->sock_dev && st.st_ino == d->sock_ino)
        unlink(d->sock_path);
}
