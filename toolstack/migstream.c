/*
 * migstream.c: the live-migration stream (see migstream.h).
 */
#include "toolstack/migstream.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

static const char *const type_names[] = {
    [MIG_HELLO] = "HELLO",   [MIG_ACCEPT] = "ACCEPT",   [MIG_REFUSE] = "REFUSE",
    [MIG_PAGES] = "PAGES",   [MIG_ZERO] = "ZERO",       [MIG_MEMFD] = "MEMFD",
    [MIG_STATE] = "STATE",   [MIG_END] = "END",         [MIG_READY] = "READY",
    [MIG_COMMIT] = "COMMIT", [MIG_RUNNING] = "RUNNING",
};

const char *mig_type_name(uint32_t type)
{
    return type >= 1 && type <= MIG_TYPE_MAX ? type_names[type] : "unknown";
}

/* ---- Frames --------------------------------------------------------------- */

/* The most a frame of (type) may carry. */
static uint64_t body_max(uint32_t type)
{
    switch (type) {
    case MIG_HELLO:
    case MIG_ACCEPT:
    case MIG_REFUSE:
    case MIG_READY:
    case MIG_RUNNING: return MIG_JSON_MAX;
    case MIG_PAGES: return MIG_BODY_MAX;
    case MIG_ZERO: return 16;
    case MIG_END: return MIG_END_MAX;
    case MIG_STATE:
        return sizeof(struct lvm_status) + sizeof(struct lvm_devpage);
    default: return 0; /* MEMFD, COMMIT */
    }
}

void mig_reader_init(struct mig_reader *rd)
{
    memset(rd, 0, sizeof *rd);
}

void mig_reader_free(struct mig_reader *rd)
{
    free(rd->body);
    mig_reader_init(rd);
}

long mig_reader_feed(struct mig_reader *rd, const uint8_t *data, size_t n,
                     struct lvm_err *err)
{
    size_t used = 0;
    if (rd->complete) { /* the last frame was taken: a new one */
        rd->complete = 0;
        rd->hdr_have = 0;
        rd->len = rd->have = 0;
    }
    if (rd->hdr_have < MIG_HEADER_LEN) {
        size_t k = MIG_HEADER_LEN - rd->hdr_have;
        if (k > n)
            k = n;
        memcpy(rd->hdr + rd->hdr_have, data, k);
        rd->hdr_have += k;
        used += k;
        if (rd->hdr_have < MIG_HEADER_LEN)
            return (long)used;
        uint32_t type, flags;
        uint64_t len;
        memcpy(&type, rd->hdr, 4);
        memcpy(&flags, rd->hdr + 4, 4);
        memcpy(&len, rd->hdr + 8, 8);
        type = le32toh(type);
        flags = le32toh(flags);
        len = le64toh(len);
        if (type < 1 || type > MIG_TYPE_MAX) {
            lvm_err_set(err, 0, "migration stream: unknown frame type %u",
                        type);
            return -1;
        }
        if (flags) {
            lvm_err_set(err, 0, "migration stream: %s frame with flags %#x",
                        mig_type_name(type), flags);
            return -1;
        }
        if (len > body_max(type)) {
            lvm_err_set(err, 0,
                        "migration stream: %s frame of %llu bytes (at most "
                        "%llu)",
                        mig_type_name(type), (unsigned long long)len,
                        (unsigned long long)body_max(type));
            return -1;
        }
        rd->len = len;
        rd->have = 0;
        if (len && !rd->body && !(rd->body = malloc(MIG_BODY_MAX))) {
            lvm_err_set(err, ENOMEM, "migration stream buffer");
            return -1;
        }
    }
    size_t k = (size_t)(rd->len - rd->have);
    if (k > n - used)
        k = n - used;
    if (k)
        memcpy(rd->body + rd->have, data + used, k);
    rd->have += k;
    used += k;
    if (rd->have == rd->len)
        rd->complete = 1;
    return (long)used;
}

void mig_reader_frame(const struct mig_reader *rd, struct mig_frame *f)
{
    uint32_t type;
    memcpy(&type, rd->hdr, 4);
    f->type = le32toh(type);
    f->len = rd->len;
    f->body = rd->body;
}

/* ---- The destination's state machine -------------------------------------- */

void mig_in_init(struct mig_in *mi)
{
    memset(mi, 0, sizeof *mi);
    mi->ram_fd = -1;
}

void mig_in_free(struct mig_in *mi)
{
    snap_info_free(&mi->info);
    if (mi->ram_fd >= 0)
        close(mi->ram_fd);
    mig_in_init(mi);
}

static int hex_hash(const char *s, uint8_t out[SNAP_HASH_LEN])
{
    if (strlen(s) != 2 * SNAP_HASH_LEN)
        return -1;
    for (unsigned i = 0; i < SNAP_HASH_LEN; i++) {
        unsigned v = 0;
        for (unsigned k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16u;
            if (d > 15)
                return -1;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* A printable name of at most (max - 1) bytes into (out). */
static int take_name(json_t *o, const char *key, char *out, size_t max,
                     int required, struct lvm_err *err)
{
    json_t *j = json_object_get(o, key);
    if (!j && !required)
        return 0;
    const char *s = json_string_value(j);
    if (!s || strlen(s) >= max)
        return lvm_err_set(err, 0,
                           "migration HELLO: field '%s' must be a string of "
                           "at most %zu bytes",
                           key, max - 1);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return lvm_err_set(err, 0,
                               "migration HELLO: field '%s' has a control "
                               "character",
                               key);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

static int take_u64(json_t *o, const char *key, uint64_t *out,
                    struct lvm_err *err)
{
    json_t *j = json_object_get(o, key);
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return lvm_err_set(err, 0,
                           "migration HELLO: field '%s' must be a "
                           "non-negative integer",
                           key);
    *out = (uint64_t)json_integer_value(j);
    return 0;
}

static int read_hello(struct mig_in *mi, const struct mig_frame *f,
                      struct lvm_err *err)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)f->body, (size_t)f->len, 0, &je);
    struct snap_info *in = &mi->info;
    uint64_t version = 0;
    int rc = -1;
    if (!json_is_object(o)) {
        lvm_err_set(err, 0, "migration HELLO is not a JSON object");
        goto out;
    }
    if (take_u64(o, "version", &version, err) < 0)
        goto out;
    if (version != MIG_VERSION) {
        lvm_err_set(err, 0,
                    "migration stream version %llu, this lightvmd speaks "
                    "version %d",
                    (unsigned long long)version, MIG_VERSION);
        goto out;
    }
    const char *kind = json_string_value(json_object_get(o, "kind"));
    if (!kind || strcmp(kind, "unikernel")) {
        lvm_err_set(err, 0,
                    "migration HELLO: kind must be \"unikernel\" (only proc "
                    "and kvm guests migrate)");
        goto out;
    }
    const char *hash = json_string_value(json_object_get(o, "image_sha256"));
    if (!hash || hex_hash(hash, in->image_hash) < 0) {
        lvm_err_set(err, 0,
                    "migration HELLO: image_sha256 must be 64 lower-case hex "
                    "digits");
        goto out;
    }
    if (take_u64(o, "ram_size", &in->ram_size, err) < 0 ||
        take_u64(o, "image_size", &in->image_size, err) < 0 ||
        take_name(o, "monitor", in->monitor, sizeof in->monitor, 1, err) < 0 ||
        take_name(o, "image_name", in->image_name, sizeof in->image_name, 1,
                  err) < 0 ||
        take_name(o, "name", in->guest_name, sizeof in->guest_name, 1, err) <
            0 ||
        take_name(o, "id", in->guest_id, sizeof in->guest_id, 0, err) < 0 ||
        take_name(o, "token", mi->token, sizeof mi->token, 0, err) < 0)
        goto out;
    if (!in->ram_size || in->ram_size % MIG_PAGE ||
        in->ram_size > MIG_RAM_MAX) {
        lvm_err_set(err, 0,
                    "migration HELLO: ram_size %llu is not a multiple of 4 "
                    "KiB between 4 KiB and 64 GiB",
                    (unsigned long long)in->ram_size);
        goto out;
    }
    json_t *recipe = json_object_get(o, "recipe");
    if (!json_is_object(recipe)) {
        lvm_err_set(err, 0, "migration HELLO: recipe must be a JSON object");
        goto out;
    }
    in->config = json_dumps(recipe, JSON_COMPACT);
    if (!in->config) {
        lvm_err_set(err, ENOMEM, "migration HELLO's recipe");
        goto out;
    }
    in->config_len = strlen(in->config);
    in->version = SNAP_VERSION;
    in->kind = SNAP_KIND_UNIKERNEL;
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* A memfd holding the guest's RAM, sealed so that it cannot change
 * under the guest that maps it copy-on-write. */
static int check_memfd(const struct mig_in *mi, int fd, struct lvm_err *err)
{
    int seals = fcntl(fd, F_GET_SEALS);
    int need = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
    if (seals < 0)
        return lvm_err_set(err, 0,
                           "migration stream: the MEMFD frame's fd is not a "
                           "memfd");
    if ((seals & need) != need)
        return lvm_err_set(err, 0,
                           "migration stream: the guest's memfd is not sealed "
                           "against writes and resizes");
    struct stat st;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != mi->info.ram_size)
        return lvm_err_set(err, 0,
                           "migration stream: the guest's memfd is not its "
                           "%llu bytes of RAM",
                           (unsigned long long)mi->info.ram_size);
    return 0;
}

/* Pages [first, first + count) of a PAGES or ZERO frame, checked. */
static int page_range(const struct mig_in *mi, const struct mig_frame *f,
                      uint64_t *first, uint64_t *count, struct lvm_err *err)
{
    if (f->len < 16)
        return lvm_err_set(err, 0, "migration stream: short %s frame",
                           mig_type_name(f->type));
    memcpy(first, f->body, 8);
    memcpy(count, f->body + 8, 8);
    *first = le64toh(*first);
    *count = le64toh(*count);
    uint64_t npages = mi->info.ram_size / MIG_PAGE;
    if (*count == 0 || *count > MIG_PAGES_MAX || *first >= npages ||
        *count > npages - *first)
        return lvm_err_set(err, 0,
                           "migration stream: pages %llu+%llu outside the "
                           "guest's %llu",
                           (unsigned long long)*first,
                           (unsigned long long)*count,
                           (unsigned long long)npages);
    if (f->type == MIG_PAGES && f->len != 16 + *count * MIG_PAGE)
        return lvm_err_set(err, 0,
                           "migration stream: a PAGES frame of %llu pages is "
                           "%llu bytes long",
                           (unsigned long long)*count,
                           (unsigned long long)f->len);
    if (f->type == MIG_ZERO && f->len != 16)
        return lvm_err_set(err, 0,
                           "migration stream: a ZERO frame is 16 "
                           "bytes long");
    if (mi->ram_whole)
        return lvm_err_set(err, 0,
                           "migration stream: pages after the whole RAM came "
                           "as a memfd");
    return 0;
}

static int write_pages(struct mig_in *mi, const struct mig_frame *f,
                       struct lvm_err *err)
{
    uint64_t first = 0, count = 0;
    if (page_range(mi, f, &first, &count, err) < 0)
        return -1;
    off_t at = (off_t)(first * MIG_PAGE);
    size_t len = (size_t)(count * MIG_PAGE);
    if (f->type == MIG_ZERO) {
        if (fallocate(mi->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      at, (off_t)len) < 0)
            return lvm_err_set(err, errno, "clear the guest's pages");
        return 0;
    }
    const uint8_t *data = f->body + 16;
    for (size_t done = 0; done < len;) {
        ssize_t n =
            pwrite(mi->ram_fd, data + done, len - done, at + (off_t)done);
        if (n <= 0)
            return lvm_err_set(err, n < 0 ? errno : EIO,
                               "write the guest's pages");
        done += (size_t)n;
    }
    mi->npages += count;
    return 0;
}

static int read_state(struct mig_in *mi, const struct mig_frame *f,
                      struct lvm_err *err)
{
    if (mi->have_state)
        return lvm_err_set(err, 0, "migration stream: a second STATE frame");
    if (f->len != sizeof mi->info.status + sizeof mi->info.devpage)
        return lvm_err_set(err, 0,
                           "migration stream: a STATE frame of %llu bytes "
                           "(this lightvmd's ABI needs %zu)",
                           (unsigned long long)f->len,
                           sizeof mi->info.status + sizeof mi->info.devpage);
    memcpy(&mi->info.status, f->body, sizeof mi->info.status);
    memcpy(&mi->info.devpage, f->body + sizeof mi->info.status,
           sizeof mi->info.devpage);
    if (mi->info.devpage.ndevices > LVM_MAX_DEVICES)
        return lvm_err_set(err, 0,
                           "migration stream: the device page lists %u "
                           "devices (at most %d)",
                           mi->info.devpage.ndevices, LVM_MAX_DEVICES);
    mi->have_state = 1;
    return 0;
}

/* END's optional JSON: how the guest was when it stopped. */
static int read_end(struct mig_in *mi, const struct mig_frame *f,
                    struct lvm_err *err)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)f->body, (size_t)f->len, 0, &je);
    json_t *p = json_object_get(o, "paused");
    int rc = 0;
    if (!json_is_object(o) || (p && !json_is_boolean(p)))
        rc = lvm_err_set(err, 0,
                         "migration stream: END must be empty or a JSON "
                         "object whose 'paused' is true or false");
    else
        mi->paused = json_is_true(p);
    json_decref(o);
    return rc;
}

static int out_of_order(const struct mig_frame *f, const char *expect,
                        struct lvm_err *err)
{
    return lvm_err_set(err, 0, "migration stream: a %s frame where %s was due",
                       mig_type_name(f->type), expect);
}

int mig_in_frame(struct mig_in *mi, const struct mig_frame *f, int fd,
                 struct lvm_err *err)
{
    int rc = -1;
    if (fd >= 0 && f->type != MIG_MEMFD) {
        lvm_err_set(err, 0, "migration stream: an fd came with a %s frame",
                    mig_type_name(f->type));
        goto out;
    }
    switch (mi->stage) {
    case MIG_IN_HELLO:
        if (f->type != MIG_HELLO) {
            out_of_order(f, "HELLO", err);
            goto out;
        }
        if (read_hello(mi, f, err) < 0)
            goto out;
        mi->stage = MIG_IN_DECIDE;
        rc = MIG_EV_HELLO;
        break;
    case MIG_IN_BODY:
        switch (f->type) {
        case MIG_PAGES:
        case MIG_ZERO:
            if (write_pages(mi, f, err) < 0)
                goto out;
            rc = MIG_EV_NONE;
            break;
        case MIG_MEMFD:
            if (fd < 0) {
                lvm_err_set(err, 0,
                            "migration stream: a MEMFD frame without its fd "
                            "(only a unix socket carries one)");
                goto out;
            }
            if (mi->ram_whole || mi->npages) {
                lvm_err_set(err, 0,
                            "migration stream: a MEMFD frame after the "
                            "guest's pages");
                goto out;
            }
            if (check_memfd(mi, fd, err) < 0)
                goto out;
            if (mi->ram_fd >= 0)
                close(mi->ram_fd);
            mi->ram_fd = fd;
            fd = -1;
            mi->ram_whole = 1;
            rc = MIG_EV_NONE;
            break;
        case MIG_STATE:
            if (read_state(mi, f, err) < 0)
                goto out;
            rc = MIG_EV_NONE;
            break;
        case MIG_END:
            if (!mi->have_state) {
                lvm_err_set(err, 0, "migration stream: END before STATE");
                goto out;
            }
            if (f->len && read_end(mi, f, err) < 0)
                goto out;
            mi->stage = MIG_IN_MAKE;
            rc = MIG_EV_END;
            break;
        default:
            out_of_order(f, "PAGES, ZERO, MEMFD, STATE or END", err);
            goto out;
        }
        break;
    case MIG_IN_HELD:
        if (f->type != MIG_COMMIT) {
            out_of_order(f, "COMMIT", err);
            goto out;
        }
        mi->stage = MIG_IN_COMMITED;
        rc = MIG_EV_COMMIT;
        break;
    default:
        /* The destination is deciding, or done: the source waits. */
        lvm_err_set(err, 0,
                    "migration stream: a %s frame before the destination "
                    "answered",
                    mig_type_name(f->type));
        goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

void mig_in_accept(struct mig_in *mi, int ram_fd)
{
    mi->ram_fd = ram_fd;
    mi->stage = MIG_IN_BODY;
}

void mig_in_held(struct mig_in *mi)
{
    mi->stage = MIG_IN_HELD;
}

/* ---- The source's side ---------------------------------------------------- */

int mig_token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return !diff && la > 0;
}

char *mig_hello_json(const struct snap_info *info, const char *token)
{
    char hex[65];
    snap_hash_hex(info->image_hash, hex);
    json_error_t je;
    json_t *recipe = info->config
                         ? json_loadb(info->config, info->config_len, 0, &je)
                         : json_object();
    if (!recipe)
        return NULL;
    json_t *o = json_pack(
        "{s:i, s:s, s:s, s:I, s:s, s:I, s:s, s:s, s:s, s:o}", "version",
        MIG_VERSION, "kind", "unikernel", "monitor", info->monitor, "ram_size",
        (json_int_t)info->ram_size, "image_sha256", hex, "image_size",
        (json_int_t)info->image_size, "image_name", info->image_name, "name",
        info->guest_name, "id", info->guest_id, "recipe", recipe);
    if (o && token && *token)
        json_object_set_new(o, "token", json_string(token));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static int sock_type(int sock)
{
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return -1;
    return type;
}

static int send_all(int sock, const uint8_t *p, size_t n, int fd,
                    struct lvm_err *err)
{
    int seqpacket = sock_type(sock) == SOCK_SEQPACKET;
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    do {
        size_t k = n;
        if (seqpacket && k > (64u << 10))
            k = 64u << 10;
        struct iovec iov = {(void *)(uintptr_t)p, k};
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
        ssize_t got = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return lvm_err_set(err, got < 0 ? errno : EPIPE,
                               "send to the destination");
        fd = -1; /* with the first bytes only */
        p += got;
        n -= (size_t)got;
    } while (n);
    return 0;
}

int mig_send(int sock, uint32_t type, const void *a, size_t alen, const void *b,
             size_t blen, int fd, struct lvm_err *err)
{
    uint64_t len = (uint64_t)alen + blen;
    size_t total = MIG_HEADER_LEN + alen + blen;
    uint8_t *buf = malloc(total);
    if (!buf)
        return lvm_err_set(err, ENOMEM, "a migration frame");
    uint32_t t = htole32(type), flags = 0;
    uint64_t l = htole64(len);
    memcpy(buf, &t, 4);
    memcpy(buf + 4, &flags, 4);
    memcpy(buf + 8, &l, 8);
    if (alen)
        memcpy(buf + MIG_HEADER_LEN, a, alen);
    if (blen)
        memcpy(buf + MIG_HEADER_LEN + alen, b, blen);
    int rc = send_all(sock, buf, total, fd, err);
    free(buf);
    return rc;
}

int mig_recv(int sock, struct mig_reader *rd, struct mig_frame *f, int *fd,
             struct lvm_err *err)
{
    *fd = -1;
    int seqpacket = sock_type(sock) == SOCK_SEQPACKET;
    static __thread uint8_t buf[MIG_JSON_MAX + MIG_HEADER_LEN];
    do {
        /* A stream is read a frame's bytes at a time; a seqpacket socket
         * a message at a time (a partial read would lose its rest). */
        size_t want = sizeof buf;
        if (!seqpacket)
            want = rd->hdr_have < MIG_HEADER_LEN || rd->complete
                       ? MIG_HEADER_LEN - (rd->complete ? 0 : rd->hdr_have)
                       : (size_t)(rd->len - rd->have);
        if (want > sizeof buf)
            want = sizeof buf;
        union {
            char b[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {buf, want ? want : 1};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl.b,
                            .msg_controllen = sizeof ctl.b};
        ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
             cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                int got;
                memcpy(&got, CMSG_DATA(cm), sizeof got);
                if (*fd >= 0)
                    close(*fd);
                *fd = got;
            }
        if (n < 0)
            return lvm_err_set(err, errno == EAGAIN ? ETIMEDOUT : errno,
                               "read from the destination");
        if (n == 0)
            return lvm_err_set(err, ECONNRESET,
                               "the other side closed the connection");
        if (seqpacket && (mh.msg_flags & MSG_TRUNC))
            return lvm_err_set(err, EMSGSIZE,
                               "migration stream: a message too long");
        for (size_t used = 0; used < (size_t)n;) {
            long k = mig_reader_feed(rd, buf + used, (size_t)n - used, err);
            if (k < 0)
                return -1;
            used += (size_t)k;
            if (rd->complete && used < (size_t)n)
                return lvm_err_set(err, 0,
                                   "migration stream: bytes after a frame "
                                   "in one message");
        }
    } while (!rd->complete);
    mig_reader_frame(rd, f);
    return 0;
}
