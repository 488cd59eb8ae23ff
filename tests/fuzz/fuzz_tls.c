/*
 * fuzz_tls.c: libFuzzer target for a guest's TLS input path: the SDK's
 * TLS library (guest/tls/: the BIO over lvm_tcp, the pump that drives the
 * handshake and decrypts records) and mbedTLS's server with the SDK's
 * configuration, built for the host over a fake lvm_tcp layer.
 *
 * The server has a P-256 certificate made at start-up (mbedTLS generates
 * the key and signs it; it is loaded through lvm_tls_config_load_pem(),
 * the block-device path). An input is:
 *
 *     u8 mode                  bits 0-1: versions offered (0: 1.2-1.3,
 *                              1: 1.2 only, 2: 1.3 only, 3: as 0)
 *     then chunks, each:
 *     u8 len_hi, u8 len_lo     length (cut to what is left); 0 is the
 *                              peer's end of stream
 *     bytes                    what arrives on the TCP connection
 *
 * The application echoes plaintext back. Each chunk is followed by the
 * send queue draining. A crash, a leak, or a callback after closed() is a
 * bug; after the input the connection is reset (closed() must come
 * exactly once).
 *
 *   make fuzz-tls FUZZ_SECONDS=300   # grow build/fuzz/corpus-tls
 */
#include <lightvm/guest.h>
#include <lightvm/tls.h>

#include "../unit/tls_testcert.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The fake TCP layer ------------------------------------------------- */

struct lvm_tcp {
    int closed; /* close or abort was called */
    void *arg;
    size_t sendq;
};

static const struct lvm_tcp_handlers *listen_h;
static void *listen_arg;

int lvm_tcp_listen(uint16_t port, const struct lvm_tcp_handlers *h, void *arg,
                   struct lvm_tcp_listener **out)
{
    (void)port;
    listen_h = h;
    listen_arg = arg;
    if (out)
        *out = NULL;
    return 0;
}

long lvm_tcp_write(struct lvm_tcp *c, const void *buf, size_t len)
{
    (void)buf;
    if (c->closed)
        return LVM_NET_ENOTCONN;
    if (c->sendq + len > LVM_TCP_SENDQ_MAX)
        return LVM_NET_ENOMEM;
    c->sendq += len;
    return (long)len;
}

size_t lvm_tcp_sendq(const struct lvm_tcp *c)
{
    return c->sendq;
}

void lvm_tcp_close(struct lvm_tcp *c)
{
    c->closed = 1;
}

void lvm_tcp_abort(struct lvm_tcp *c)
{
    c->closed = 1;
}

void lvm_tcp_set_arg(struct lvm_tcp *c, void *arg)
{
    c->arg = arg;
}

/* One peer: the handshake limit (one address's oldest) is not fuzzed. */
void lvm_tcp_peer(const struct lvm_tcp *c, lvm_ip4_t *ip, uint16_t *port)
{
    (void)c;
    if (ip)
        *ip = 0;
    if (port)
        *port = 0;
}

/* Handshake deadlines are set from it; the fuzzer never expires them. */
uint64_t lvm_clock_monotonic(void)
{
    return 0;
}

const char *lvm_net_strerror(int err)
{
    return err ? "error" : "ok";
}

/* ---- The application: echo --------------------------------------------- */

static int closed_calls;

static void on_data(struct lvm_tls *t, const void *buf, size_t len, void *arg)
{
    (void)arg;
    lvm_tls_write(t, buf, len);
}

static void on_closed(struct lvm_tls *t, int err, void *arg)
{
    (void)t;
    (void)err;
    (void)arg;
    closed_calls++;
}

static const struct lvm_tls_handlers echo = {.data = on_data,
                                             .closed = on_closed};

/* ---- Set-up: a certificate made here, three configs ---------------------- */

static struct lvm_tls_config *cfgs[3];
static void *listen_args[3]; /* the library's listener of each config */

static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz_tls: %s failed (%d)\n", what, rc);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char pem[8192];
    char err[LVM_TLS_ERRLEN];
    tls_testcert(pem, 4096, pem + 4096, 4096);
    memmove(pem + strlen(pem), pem + 4096, strlen(pem + 4096) + 1);
    for (int i = 0; i < 3; i++) {
        if (lvm_tls_config_load_pem(pem, strlen(pem), "fuzz", &cfgs[i], err))
            die(err, 0);
    }
    lvm_tls_config_versions(cfgs[1], LVM_TLS_1_2, LVM_TLS_1_2);
    lvm_tls_config_versions(cfgs[2], LVM_TLS_1_3, LVM_TLS_1_3);
    for (int i = 0; i < 3; i++) {
        lvm_tls_listen(cfgs[i], 443, &echo, NULL, NULL);
        listen_args[i] = listen_arg;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] & 3;
    struct lvm_tcp c = {0};
    closed_calls = 0;
    c.arg = listen_args[mode == 3 ? 0 : mode];
    listen_h->connected(&c, c.arg);
    size_t off = 1;
    int eof = 0;
    while (off + 2 <= size && !c.closed) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        if (len == 0) {
            if (!eof)
                listen_h->eof(&c, c.arg);
            eof = 1;
        } else if (!eof) {
            listen_h->data(&c, data + off, len, c.arg);
        }
        off += len;
        c.sendq = 0;
        if (!c.closed)
            listen_h->drained(&c, c.arg);
    }
    listen_h->closed(&c, c.closed ? 0 : LVM_NET_ECONNRESET, c.arg);
    if (closed_calls != 1)
        abort(); /* closed() must come exactly once */
    return 0;
}
