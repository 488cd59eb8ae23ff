/*
 * lightvm.c: liblightvm, the client side of lightvmd's API (see
 * include/lightvm/lightvm.h and docs/api.md).
 */
#include <lightvm/lightvm.h>

#include <errno.h>
#include <netdb.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct lightvm {
    int fd;
    struct sockaddr_un addr; /* to connect again after an idle close */
    int64_t next_tag;
    int64_t wait_tag;   /* of an outstanding lightvm_wait_send() */
    json_t *wait_reply; /* its reply, if it came during another call */
    int rfd;            /* an fd the last reply carried, or -1 */
};

static int fail(struct lightvm_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct lightvm_error *e, const char *code, const char *fmt, ...)
{
    if (e) {
        snprintf(e->code, sizeof e->code, "%s", code);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

struct lightvm *lightvm_connect(const char *path, struct lightvm_error *e)
{
    /* As lightvmd finds its own: $LIGHTVM_SOCKET, else the socket in
     * $LIGHTVM_RUN_DIR, else the default. */
    char in_run_dir[sizeof((struct sockaddr_un *)0)->sun_path + 1];
    const char *run = getenv("LIGHTVM_RUN_DIR");
    if (!path)
        path = getenv("LIGHTVM_SOCKET");
    if ((!path || !*path) && run && *run) {
        snprintf(in_run_dir, sizeof in_run_dir, "%s/lightvmd.sock", run);
        path = in_run_dir;
    }
    if (!path || !*path)
        path = LIGHTVM_SOCKET_DEFAULT;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) {
        fail(e, "invalid", "socket path too long: %s", path);
        return NULL;
    }
    strcpy(a.sun_path, path);
    struct lightvm *c = calloc(1, sizeof *c);
    if (!c) {
        fail(e, "failed", "out of memory");
        return NULL;
    }
    c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        /* "denied": the socket is there, but not for this user. */
        fail(e, errno == EACCES || errno == EPERM ? "denied" : "unavailable",
             "cannot reach lightvmd at %s: %s", path, strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return NULL;
    }
    c->addr = a;
    c->next_tag = 1;
    c->wait_tag = -1;
    c->rfd = -1;
    return c;
}

/* lightvmd closes a connection left silent for its idle timeout (docs/
 * api.md); the request that found it closed was never read, so it may be
 * sent again on a new one. */
static int reconnect(struct lightvm *c, struct lightvm_error *e)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        connect(fd, (struct sockaddr *)&c->addr, sizeof c->addr) < 0) {
        fail(e, "unavailable", "cannot reach lightvmd at %s: %s",
             c->addr.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(c->fd);
    c->fd = fd;
    return 0;
}

void lightvm_close(struct lightvm *c)
{
    if (!c)
        return;
    json_decref(c->wait_reply);
    close(c->fd);
    if (c->rfd >= 0)
        close(c->rfd);
    free(c);
}

int lightvm_fd(const struct lightvm *c)
{
    return c->fd;
}

static int send_raw(struct lightvm *c, const char *s, size_t len, int fd,
                    struct lightvm_error *e)
{
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {(void *)s, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        mh.msg_control = ctl.b;
        mh.msg_controllen = sizeof ctl.b;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    }
    ssize_t n;
    do
        n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len)
        return fail(e, "unavailable", "send to lightvmd: %s",
                    n < 0 ? strerror(errno) : "short write");
    return 0;
}

/* Read one whole message, whatever its size. */
static char *recv_raw(struct lightvm *c, struct lightvm_error *e)
{
    char probe;
    ssize_t n;
    int reset = 0;
    do
        n = recv(c->fd, &probe, 1, MSG_PEEK | MSG_TRUNC);
    /* A reset (lightvmd closed with our request unread) comes before a
     * message it sent first, such as why it closed: read on once. */
    while (n < 0 && (errno == EINTR || (errno == ECONNRESET && !reset++)));
    if (n <= 0) {
        fail(e, "unavailable", "lightvmd closed the connection%s%s",
             n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
        return NULL;
    }
    char *buf = malloc((size_t)n + 1);
    if (!buf) {
        fail(e, "failed", "out of memory");
        return NULL;
    }
    /* A reply may carry an fd (exec): kept for the caller, which takes it
     * (lightvm_exec_channel) or leaves it to be closed with the next. */
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, (size_t)n};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = ctl.b,
                        .msg_controllen = sizeof ctl.b};
    ssize_t m = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
    if (c->rfd >= 0)
        close(c->rfd);
    c->rfd = -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); m > 0 && cm;
         cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&c->rfd, CMSG_DATA(cm), sizeof c->rfd);
    if (m != n) {
        free(buf);
        fail(e, "unavailable", "short reply from lightvmd");
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

/* Send (s) and return the reply with (tag) (an error reply becomes (e)). */
static json_t *exchange(struct lightvm *c, const char *s, int fd, int64_t tag,
                        struct lightvm_error *e)
{
    if (send_raw(c, s, strlen(s), fd, e) < 0) {
        /* Closed by lightvmd: it may have said why before (a refusal, an
         * idle close); that is the answer then. */
        char probe;
        if (recv(c->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
            return NULL;
    }
    for (;;) {
        char *buf = recv_raw(c, e);
        if (!buf)
            return NULL;
        json_error_t je;
        json_t *rep = json_loads(buf, 0, &je);
        free(buf);
        if (!rep || !json_is_object(rep)) {
            json_decref(rep);
            fail(e, "bad_reply", "unreadable reply from lightvmd");
            return NULL;
        }
        json_t *t = json_object_get(rep, "tag");
        if (t && json_integer_value(t) == c->wait_tag && !c->wait_reply) {
            c->wait_reply = rep; /* lightvm_wait_reply() wants it */
            continue;
        }
        if (t && json_integer_value(t) != tag) {
            json_decref(rep); /* a reply to an earlier, abandoned request */
            continue;
        }
        if (!json_is_true(json_object_get(rep, "ok"))) {
            json_t *er = json_object_get(rep, "error");
            fail(e,
                 json_string_value(json_object_get(er, "code"))
                     ? json_string_value(json_object_get(er, "code"))
                     : "failed",
                 "%s",
                 json_string_value(json_object_get(er, "message"))
                     ? json_string_value(json_object_get(er, "message"))
                     : "request failed");
            json_decref(rep);
            return NULL;
        }
        return rep;
    }
}

/* Send (req) (consumed) with a fresh tag; return the reply with that tag
 * (an error reply becomes (e)). A connection lightvmd closed as idle is
 * made again, once, unless a wait is outstanding on it. */
static json_t *call(struct lightvm *c, json_t *req, int fd,
                    struct lightvm_error *e)
{
    int64_t tag = c->next_tag++;
    json_object_set_new(req, "tag", json_integer(tag));
    char *s = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!s) {
        fail(e, "failed", "encode the request");
        return NULL;
    }
    struct lightvm_error le = {.code = ""};
    json_t *rep = exchange(c, s, fd, tag, &le);
    if (!rep && !strcmp(le.code, "idle") && c->wait_tag < 0 &&
        reconnect(c, &le) == 0)
        rep = exchange(c, s, fd, tag, &le);
    free(s);
    if (!rep && e)
        *e = le;
    return rep;
}

int lightvm_call(struct lightvm *c, const char *request, int fd, char **reply,
                 struct lightvm_error *e)
{
    if (send_raw(c, request, strlen(request), fd, e) < 0) {
        /* Closed by lightvmd: what it said before (a refusal: too many
         * connections, out of fds) is the answer, as for exchange(). */
        char probe;
        if (recv(c->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
            return -1;
    }
    *reply = recv_raw(c, e);
    return *reply ? 0 : -1;
}

static void str(json_t *o, const char *k, char *out, size_t len)
{
    const char *s = json_string_value(json_object_get(o, k));
    snprintf(out, len, "%s", s ? s : "");
}

static void exit_from(json_t *o, struct lightvm_exit *x)
{
    memset(x, 0, sizeof *x);
    str(o, "kind", x->kind, sizeof x->kind);
    str(o, "message", x->message, sizeof x->message);
    x->status = (int)json_integer_value(json_object_get(o, "status"));
    x->code = (int)json_integer_value(json_object_get(o, "code"));
}

static void guest_from(json_t *o, struct lightvm_guest *g)
{
    memset(g, 0, sizeof *g);
    str(o, "id", g->id, sizeof g->id);
    str(o, "name", g->name, sizeof g->name);
    str(o, "state", g->state, sizeof g->state);
    str(o, "image", g->image, sizeof g->image);
    str(o, "monitor", g->monitor, sizeof g->monitor);
    str(o, "console", g->console, sizeof g->console);
    g->pid = (int)json_integer_value(json_object_get(o, "pid"));
    g->mem = (uint64_t)json_integer_value(json_object_get(o, "mem"));
    g->mem_limit =
        (uint64_t)json_integer_value(json_object_get(o, "mem_limit"));
    g->cpus = json_number_value(json_object_get(o, "cpus"));
    g->created = json_number_value(json_object_get(o, "created"));
    g->create_ms = json_number_value(json_object_get(o, "create_ms"));
    g->pooled = json_is_true(json_object_get(o, "pooled"));
    g->adopted = json_is_true(json_object_get(o, "adopted"));
    g->suspended = json_is_true(json_object_get(o, "suspended"));
    json_t *owner = json_object_get(o, "owner");
    g->owner = json_is_integer(owner) ? (long)json_integer_value(owner) : -1;
    str(o, "restart", g->restart, sizeof g->restart);
    if (!g->restart[0])
        snprintf(g->restart, sizeof g->restart, "no");
    g->restart_count =
        (unsigned)json_integer_value(json_object_get(o, "restart_count"));
    json_t *st = json_object_get(o, "stats");
    if (st) {
        g->cpu_ns = (uint64_t)json_integer_value(json_object_get(st, "cpu_ns"));
        g->memory_bytes =
            (uint64_t)json_integer_value(json_object_get(st, "memory_bytes"));
        g->memory_limit =
            (uint64_t)json_integer_value(json_object_get(st, "memory_limit"));
    }
    json_t *nic = json_array_get(json_object_get(o, "net"), 0);
    if (nic) {
        str(nic, "dev", g->nic, sizeof g->nic);
        str(nic, "ip", g->ip, sizeof g->ip);
        g->prefix = (int)json_integer_value(json_object_get(nic, "prefix"));
        str(nic, "mac", g->mac, sizeof g->mac);
        str(nic, "bridge", g->bridge, sizeof g->bridge);
        str(nic, "tap", g->tap, sizeof g->tap);
        json_t *n = json_object_get(nic, "counters");
#define U64(k) (uint64_t) json_integer_value(json_object_get(n, k))
        g->net_rx_packets = U64("rx_packets");
        g->net_rx_bytes = U64("rx_bytes");
        g->net_tx_packets = U64("tx_packets");
        g->net_tx_bytes = U64("tx_bytes");
#undef U64
    }
    json_t *ex = json_object_get(o, "exit");
    if (ex)
        exit_from(ex, &g->exit);
    g->ready = json_is_true(json_object_get(o, "ready"));
    json_t *rm = json_object_get(o, "ready_ms");
    g->ready_ms = rm ? json_number_value(rm) : -1;
    str(o, "accel", g->accel, sizeof g->accel);
    g->restored = json_is_true(json_object_get(o, "restored"));
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get(o, "ports"), i, p) {
        if (g->nports == LIGHTVM_MAX_PORTS)
            break;
        struct lightvm_port *lp = &g->ports[g->nports++];
        str(p, "host_addr", lp->host_addr, sizeof lp->host_addr);
        lp->host = (int)json_integer_value(json_object_get(p, "host"));
        lp->guest = (int)json_integer_value(json_object_get(p, "guest"));
    }
}

int lightvm_guest_parse(const char *json, struct lightvm_guest *out)
{
    json_t *o = json_loads(json, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    guest_from(o, out);
    json_decref(o);
    return 0;
}

static json_t *strings(const char *const *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* A create or restore request for (o). */
static json_t *create_request(const char *op,
                              const struct lightvm_create_opts *o)
{
    json_t *r = json_pack("{s:s}", "op", op);
    if (o->image)
        json_object_set_new(r, "image", json_string(o->image));
    if (o->name)
        json_object_set_new(r, "name", json_string(o->name));
    if (o->argv0)
        json_object_set_new(r, "argv0", json_string(o->argv0));
    if (o->mem)
        json_object_set_new(r, "mem", json_integer((json_int_t)o->mem));
    if (o->mem_limit)
        json_object_set_new(r, "mem_limit",
                            json_integer((json_int_t)o->mem_limit));
    if (o->cpus > 0)
        json_object_set_new(r, "cpus", json_real(o->cpus));
    if (o->monitor)
        json_object_set_new(r, "monitor", json_string(o->monitor));
    if (o->console_limit)
        json_object_set_new(r, "console_limit",
                            json_integer((json_int_t)o->console_limit));
    if (o->watchdog_ms)
        json_object_set_new(r, "watchdog_ms", json_integer(o->watchdog_ms));
    if (o->auto_remove)
        json_object_set_new(r, "auto_remove", json_true());
    if (o->restart)
        json_object_set_new(r, "restart", json_string(o->restart));
    if (o->nargs > 0)
        json_object_set_new(r, "args", strings(o->args, o->nargs));
    if (o->nenv > 0)
        json_object_set_new(r, "env", strings(o->env, o->nenv));
    if (o->nports > 0)
        json_object_set_new(r, "ports", strings(o->ports, o->nports));
    if (o->nvolumes > 0) {
        json_t *a = json_array();
        for (int i = 0; i < o->nvolumes; i++)
            json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "path",
                                               o->volumes[i].path, "target",
                                               o->volumes[i].target, "readonly",
                                               o->volumes[i].readonly));
        json_object_set_new(r, "volumes", a);
    }
    if (o->nblocks > 0) {
        json_t *a = json_array();
        for (int i = 0; i < o->nblocks; i++)
            json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "name",
                                               o->blocks[i].name, "path",
                                               o->blocks[i].path, "readonly",
                                               o->blocks[i].readonly));
        json_object_set_new(r, "block", a);
    }
    if (o->console_fd >= 0)
        json_object_set_new(r, "console", json_string("fd"));
    if (o->net.enabled) {
        json_t *n = json_object();
        if (o->net.bridge)
            json_object_set_new(n, "bridge", json_string(o->net.bridge));
        if (o->net.subnet)
            json_object_set_new(n, "subnet", json_string(o->net.subnet));
        if (o->net.ip)
            json_object_set_new(n, "ip", json_string(o->net.ip));
        if (o->net.nat)
            json_object_set_new(n, "nat", json_true());
        if (o->net.dhcp)
            json_object_set_new(n, "dhcp", json_true());
        if (o->net.no_filter)
            json_object_set_new(n, "filter", json_false());
        if (o->net.nnics > 0) {
            json_t *a = json_array();
            for (int i = 0; i < o->net.nnics; i++)
                json_array_append_new(a, json_string(o->net.nics[i]));
            json_object_set_new(n, "nics", a);
        }
        json_object_set_new(r, "net", n);
    }
    return r;
}

int lightvm_create(struct lightvm *c, const struct lightvm_create_opts *o,
                   struct lightvm_guest *out, struct lightvm_error *e)
{
    if (!o->image)
        return fail(e, "bad_request", "no image");
    json_t *rep = call(c, create_request("create", o), o->console_fd, e);
    if (!rep)
        return -1;
    if (out)
        guest_from(json_object_get(rep, "guest"), out);
    json_decref(rep);
    return 0;
}

int lightvm_restore(struct lightvm *c, const char *path,
                    const struct lightvm_create_opts *o,
                    struct lightvm_guest *out, struct lightvm_error *e)
{
    if (!path)
        return fail(e, "bad_request", "no state file");
    json_t *r = create_request("restore", o); /* no image: the state's */
    json_object_set_new(r, "path", json_string(path));
    json_t *rep = call(c, r, o->console_fd, e);
    if (!rep)
        return -1;
    if (out)
        guest_from(json_object_get(rep, "guest"), out);
    json_decref(rep);
    return 0;
}

int lightvm_save(struct lightvm *c, const char *id, const char *path,
                 const struct lightvm_save_opts *o, struct lightvm_saved *out,
                 struct lightvm_error *e)
{
    json_t *r =
        json_pack("{s:s, s:s, s:s}", "op", "save", "id", id, "path", path);
    if (o && o->force)
        json_object_set_new(r, "force", json_true());
    if (o && o->leave_running)
        json_object_set_new(r, "leave_running", json_true());
    json_t *rep = call(c, r, -1, e);
    if (!rep)
        return -1;
    if (out) {
        json_t *sv = json_object_get(rep, "saved");
        out->bytes = (uint64_t)json_integer_value(json_object_get(sv, "bytes"));
        out->pages = (uint64_t)json_integer_value(json_object_get(sv, "pages"));
        out->save_ms = json_number_value(json_object_get(sv, "ms"));
    }
    json_decref(rep);
    return 0;
}

/* A connection to the migration destination (dest), or -1. */
static int connect_dest(const char *dest, struct lightvm_error *e)
{
    if (!strncmp(dest, "tcp:", 4)) {
        char host[256];
        const char *hp = dest + 4, *colon = strrchr(hp, ':');
        if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof host) {
            fail(e, "bad_request", "'%s' is not tcp:HOST:PORT", dest);
            return -1;
        }
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = 0;
        char *h = host;
        if (h[0] == '[' && h[strlen(h) - 1] == ']') {
            h[strlen(h) - 1] = 0;
            h++;
        }
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
        int rc = getaddrinfo(h, colon + 1, &hints, &ai);
        if (rc) {
            fail(e, "failed", "%s: %s", dest, gai_strerror(rc));
            return -1;
        }
        int fd = -1;
        for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
            fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
                close(fd);
                fd = -1;
            }
        }
        if (fd < 0)
            fail(e, "failed", "connect to %s: %s", dest, strerror(errno));
        freeaddrinfo(ai);
        return fd;
    }
    const char *path = !strncmp(dest, "unix:", 5) ? dest + 5 : dest;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (path[0] != '/' || strlen(path) >= sizeof a.sun_path) {
        fail(e, "bad_request",
             "'%s' is not unix:PATH, an absolute socket path or "
             "tcp:HOST:PORT",
             dest);
        return -1;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        fail(e, errno == EACCES ? "denied" : "failed",
             "connect to the destination %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (fd < 0)
        fail(e, "failed", "socket: %s", strerror(errno));
    return fd;
}

int lightvm_migrate(struct lightvm *c, const char *id, const char *dest,
                    const char *token, struct lightvm_migrated *out,
                    struct lightvm_error *e)
{
    int fd = connect_dest(dest, e);
    if (fd < 0)
        return -1;
    json_t *req = json_pack("{s:s, s:s}", "op", "migrate", "id", id);
    if (token && *token)
        json_object_set_new(req, "token", json_string(token));
    json_t *rep = call(c, req, fd, e);
    close(fd); /* the daemon has its own copy */
    if (!rep)
        return -1;
    if (out) {
        memset(out, 0, sizeof *out);
        json_t *m = json_object_get(rep, "migrated");
        str(json_object_get(m, "guest"), "id", out->id, sizeof out->id);
        str(json_object_get(m, "guest"), "name", out->name, sizeof out->name);
        out->ms = json_number_value(json_object_get(m, "ms"));
        out->downtime_ms = json_number_value(json_object_get(m, "downtime_ms"));
        out->pages = (uint64_t)json_integer_value(json_object_get(m, "pages"));
        out->final_pages =
            (uint64_t)json_integer_value(json_object_get(m, "final_pages"));
        out->rounds =
            (unsigned)json_integer_value(json_object_get(m, "rounds"));
        str(m, "via", out->via, sizeof out->via);
        out->parked_ns =
            (uint64_t)json_integer_value(json_object_get(m, "parked_ns"));
        json_t *ph = json_object_get(m, "phases");
        out->copy_ms = json_number_value(json_object_get(ph, "copy_ms"));
        out->make_ms = json_number_value(json_object_get(ph, "make_ms"));
        out->commit_ms = json_number_value(json_object_get(ph, "commit_ms"));
    }
    json_decref(rep);
    return 0;
}

int lightvm_clone(struct lightvm *c, const char *id, const char *path,
                  unsigned count, const char *name, struct lightvm_guest *out,
                  unsigned max, unsigned *n, struct lightvm_error *e)
{
    *n = 0;
    if (!id == !path)
        return fail(e, "bad_request", "clone a guest or a state file");
    json_t *r =
        json_pack("{s:s, s:I}", "op", "clone", "count", (json_int_t)count);
    json_object_set_new(r, id ? "id" : "path", json_string(id ? id : path));
    if (name)
        json_object_set_new(r, "name", json_string(name));
    json_t *rep = call(c, r, -1, e);
    if (!rep)
        return -1;
    json_t *a = json_object_get(rep, "guests");
    for (size_t i = 0; i < json_array_size(a); i++, (*n)++)
        if (out && i < max)
            guest_from(json_array_get(a, i), &out[i]);
    json_t *err = json_object_get(rep, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (err)
        fail(e, code ? code : "failed", "%s", msg ? msg : "");
    json_decref(rep);
    return 0;
}

static int simple(struct lightvm *c, const char *op, const char *id,
                  json_t **rep_out, struct lightvm_error *e)
{
    json_t *rep = call(c, json_pack("{s:s, s:s}", "op", op, "id", id), -1, e);
    if (!rep)
        return -1;
    if (rep_out)
        *rep_out = rep;
    else
        json_decref(rep);
    return 0;
}

/* A request on one guest whose reply carries the guest's exit. */
static int simple_exit(struct lightvm *c, const char *op, const char *id,
                       struct lightvm_exit *out, struct lightvm_error *e)
{
    json_t *rep;
    if (simple(c, op, id, &rep, e) < 0)
        return -1;
    if (out)
        exit_from(json_object_get(rep, "exit"), out);
    json_decref(rep);
    return 0;
}

int lightvm_exec_channel(struct lightvm *c, const char *id, int *fd,
                         struct lightvm_error *e)
{
    *fd = -1;
    if (simple(c, "exec", id, NULL, e) < 0)
        return -1;
    if (c->rfd < 0)
        return fail(e, "bad_reply", "lightvmd passed no exec channel");
    *fd = c->rfd;
    c->rfd = -1;
    return 0;
}

int lightvm_destroy(struct lightvm *c, const char *id, struct lightvm_exit *out,
                    struct lightvm_error *e)
{
    return simple_exit(c, "destroy", id, out, e);
}

int lightvm_pause(struct lightvm *c, const char *id, struct lightvm_error *e)
{
    return simple(c, "pause", id, NULL, e);
}

int lightvm_unpause(struct lightvm *c, const char *id, struct lightvm_error *e)
{
    return simple(c, "unpause", id, NULL, e);
}

int lightvm_poweroff(struct lightvm *c, const char *id, struct lightvm_error *e)
{
    return simple(c, "poweroff", id, NULL, e);
}

int lightvm_suspend(struct lightvm *c, const char *id, struct lightvm_error *e)
{
    return simple(c, "suspend", id, NULL, e);
}

int lightvm_resume(struct lightvm *c, const char *id, struct lightvm_error *e)
{
    return simple(c, "resume", id, NULL, e);
}

int lightvm_wait(struct lightvm *c, const char *id, struct lightvm_exit *out,
                 struct lightvm_error *e)
{
    return simple_exit(c, "wait", id, out, e);
}

int lightvm_wait_send(struct lightvm *c, const char *id,
                      struct lightvm_error *e)
{
    c->wait_tag = c->next_tag++;
    json_t *r = json_pack("{s:s, s:s, s:I}", "op", "wait", "id", id, "tag",
                          (json_int_t)c->wait_tag);
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    if (!s)
        return fail(e, "failed", "encode the request");
    int rc = send_raw(c, s, strlen(s), -1, e);
    free(s);
    return rc;
}

int lightvm_wait_reply(struct lightvm *c, struct lightvm_exit *out,
                       struct lightvm_error *e)
{
    for (;;) {
        json_t *rep = c->wait_reply;
        c->wait_reply = NULL;
        if (!rep) {
            char *buf = recv_raw(c, e);
            if (!buf)
                return -1;
            rep = json_loads(buf, 0, NULL);
            free(buf);
        }
        if (!rep)
            return fail(e, "bad_reply", "unreadable reply from lightvmd");
        if (json_integer_value(json_object_get(rep, "tag")) != c->wait_tag) {
            json_decref(rep);
            continue;
        }
        c->wait_tag = -1;
        int ok = json_is_true(json_object_get(rep, "ok"));
        if (ok && out)
            exit_from(json_object_get(rep, "exit"), out);
        if (!ok) {
            json_t *er = json_object_get(rep, "error");
            const char *m = json_string_value(json_object_get(er, "message"));
            fail(e, "failed", "%s", m ? m : "wait failed");
        }
        json_decref(rep);
        return ok ? 0 : -1;
    }
}

int lightvm_info(struct lightvm *c, const char *id, struct lightvm_guest *out,
                 struct lightvm_error *e)
{
    json_t *rep;
    if (simple(c, "info", id, &rep, e) < 0)
        return -1;
    guest_from(json_object_get(rep, "guest"), out);
    json_decref(rep);
    return 0;
}

int lightvm_list(struct lightvm *c, int with_stats,
                 int (*fn)(const struct lightvm_guest *g, void *arg), void *arg,
                 struct lightvm_error *e)
{
    json_int_t offset = 0;
    for (;;) {
        json_t *rep = call(c,
                           json_pack("{s:s, s:I, s:b}", "op", "list", "offset",
                                     offset, "stats", with_stats),
                           -1, e);
        if (!rep)
            return -1;
        size_t i;
        json_t *g;
        json_array_foreach (json_object_get(rep, "guests"), i, g) {
            struct lightvm_guest lg;
            guest_from(g, &lg);
            if (fn(&lg, arg)) {
                json_decref(rep);
                return 0;
            }
        }
        json_t *next = json_object_get(rep, "next");
        int more = json_is_integer(next);
        offset = more ? json_integer_value(next) : 0;
        json_decref(rep);
        if (!more)
            return 0;
    }
}
