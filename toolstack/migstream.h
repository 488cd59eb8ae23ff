/*
 * migstream.h: the stream a live migration sends from one lightvmd to
 * another (docs/migration-format.md has it byte by byte).
 *
 * A byte stream of frames, over a unix socket (the destination's API
 * socket, SOCK_SEQPACKET: messages are concatenated) or TCP. A frame is a
 * 16-byte header, {u32 type, u32 flags (0), u64 len}, little-endian, and
 * (len) bytes of body.
 *
 *   source -> destination
 *     HELLO    JSON: what the guest needs (image identity, RAM size,
 *              monitor, recipe); the destination answers ACCEPT or REFUSE
 *     PAGES    u64 first, u64 count, count pages: guest pages
 *              [first, first + count) (index = (address - RAM base) / 4096)
 *     ZERO     u64 first, u64 count: those pages are zero now
 *     MEMFD    no body; one fd comes with it (unix sockets only): the
 *              guest's whole RAM, a sealed memfd, pages at their offsets
 *     STATE    struct lvm_status, then struct lvm_devpage, raw
 *     END      empty, or JSON {"paused": BOOL}: the guest is complete; the
 *              destination makes it, held before its first instruction,
 *              and answers READY
 *     COMMIT   no body: the destination lets it run, answers RUNNING
 *   destination -> source
 *     ACCEPT, READY, RUNNING, REFUSE: JSON objects (REFUSE: {"code",
 *              "message"}; READY and RUNNING: {"guest": {...}})
 *
 * The destination's side is a state machine (struct mig_in) fed one frame
 * at a time, so that a stream from anywhere (a tenant's, or a TCP peer's)
 * is checked before anything is made: the order of frames, every length,
 * every page index against the RAM size, the HELLO's fields.
 */
#ifndef LVM_TS_MIGSTREAM_H
#define LVM_TS_MIGSTREAM_H

#include "toolstack/error.h"
#include "toolstack/snapfile.h"

#include <stddef.h>
#include <stdint.h>

#define MIG_VERSION 1
#define MIG_HEADER_LEN 16u
#define MIG_PAGE 4096u
#define MIG_PAGES_MAX 256u       /* pages in one PAGES frame (1 MiB) */
#define MIG_JSON_MAX (96u << 10) /* bytes of a JSON frame */
#define MIG_BODY_MAX (16u + MIG_PAGES_MAX * MIG_PAGE)
#define MIG_END_MAX 4096u  /* END's JSON */
#define MIG_TOKEN_MAX 256u /* HELLO's token: the TCP port's shared secret */
#define MIG_RAM_MAX (64ull << 30)

enum mig_type {
    MIG_HELLO = 1,
    MIG_ACCEPT = 2,
    MIG_REFUSE = 3,
    MIG_PAGES = 4,
    MIG_ZERO = 5,
    MIG_MEMFD = 6,
    MIG_STATE = 7,
    MIG_END = 8,
    MIG_READY = 9,
    MIG_COMMIT = 10,
    MIG_RUNNING = 11,
    MIG_TYPE_MAX = MIG_RUNNING,
};

const char *mig_type_name(uint32_t type);

/* ---- Frames off the wire ------------------------------------------------ */

struct mig_frame {
    uint32_t type;
    uint64_t len;
    const uint8_t *body; /* len bytes, valid until the next feed */
};

/* Reassembles frames from the bytes as they come. */
struct mig_reader {
    uint8_t hdr[MIG_HEADER_LEN];
    size_t hdr_have;
    uint8_t *body; /* malloc'd, up to MIG_BODY_MAX */
    uint64_t len, have;
    int complete; /* a whole frame is in (hdr, body) */
};

void mig_reader_init(struct mig_reader *rd);
void mig_reader_free(struct mig_reader *rd);

/* Take bytes of (data) until a frame is complete. Returns how many were
 * taken, or -1 (err: an unknown type, flags, or a length beyond its
 * type's bound). Once rd->complete, mig_reader_frame() gives it and the
 * next feed starts a new one. */
long mig_reader_feed(struct mig_reader *rd, const uint8_t *data, size_t n,
                     struct lvm_err *err);
void mig_reader_frame(const struct mig_reader *rd, struct mig_frame *f);

/* ---- The destination's state machine ------------------------------------ */

enum mig_in_stage {
    MIG_IN_HELLO,    /* waiting for HELLO */
    MIG_IN_DECIDE,   /* HELLO read: the caller accepts or refuses */
    MIG_IN_BODY,     /* accepted: pages, MEMFD, STATE, END */
    MIG_IN_MAKE,     /* END read: the caller makes the guest, held */
    MIG_IN_HELD,     /* READY sent: COMMIT next */
    MIG_IN_COMMITED, /* COMMIT read */
};

/* What a frame asks the caller to do. */
enum mig_in_event { MIG_EV_NONE, MIG_EV_HELLO, MIG_EV_END, MIG_EV_COMMIT };

struct mig_in {
    int stage; /* enum mig_in_stage */
    /* From HELLO: version, kind, monitor, ram_size, image identity,
     * names, config (the recipe, JSON text); from STATE: status and
     * devpage. Freed by mig_in_free. */
    struct snap_info info;
    int ram_fd;      /* where pages go (the caller's memfd), or MEMFD's */
    int ram_whole;   /* ram_fd came whole in a MEMFD frame */
    int have_state;  /* STATE read */
    int paused;      /* END says it was paused: it stays so */
    uint64_t npages; /* PAGES frames' pages written */
    char token[MIG_TOKEN_MAX + 1]; /* HELLO's, or "" (a TCP port's secret) */
};

void mig_in_init(struct mig_in *mi);
void mig_in_free(struct mig_in *mi);

/* Apply frame (f), with (fd) (-1: none; consumed either way) the fd that
 * came with it. Returns an enum mig_in_event, or -1 with (err) naming
 * what is wrong with the stream. */
int mig_in_frame(struct mig_in *mi, const struct mig_frame *f, int fd,
                 struct lvm_err *err);

/* The caller accepted HELLO: pages go into (ram_fd) (a memfd of
 * info.ram_size bytes; owned by mi now). */
void mig_in_accept(struct mig_in *mi, int ram_fd);

/* The caller made the guest and said READY: COMMIT may come. */
void mig_in_held(struct mig_in *mi);

/* ---- The source's side -------------------------------------------------- */

/* The HELLO for (info) (its image, RAM, names, config), with (token) if
 * not NULL, malloc'd JSON. */
char *mig_hello_json(const struct snap_info *info, const char *token);

/* Whether (a) and (b) are the same secret, in time that depends on
 * their lengths only. */
int mig_token_equal(const char *a, const char *b);

/* Send one frame (blocking; a SEQPACKET socket gets it in messages of at
 * most 64 KiB), with (fd) passed alongside if >= 0. */
int mig_send(int sock, uint32_t type, const void *a, size_t alen, const void *b,
             size_t blen, int fd, struct lvm_err *err);

/* Read one whole frame (blocking) into (rd); (*fd) the fd that came with
 * it, or -1. 0, or -1 (err) on EOF or error. */
int mig_recv(int sock, struct mig_reader *rd, struct mig_frame *f, int *fd,
             struct lvm_err *err);

#endif
