/*
 * tls.h: TLS servers for lightvm guests (link with `lightvm-cc --tls`,
 * which implies --net).
 *
 * mbedTLS (3.6, from Debian's source package, built into the SDK) over the
 * guest's TCP (lightvm/net.h). The application never sees mbedTLS: it
 * loads a certificate and key from files, listens, and gets plaintext in
 * callbacks, like a plain lvm_tcp server. TLS 1.2 and 1.3 are offered.
 *
 * A TLS echo server, complete:
 *
 *     #include <lightvm/guest.h>
 *     #include <lightvm/tls.h>
 *     #include <stdio.h>
 *
 *     LVM_MANIFEST(LVM_NET("net0"));
 *
 *     static void on_data(struct lvm_tls *t, const void *buf, size_t len,
 *                         void *arg)
 *     {
 *         lvm_tls_write(t, buf, len);
 *     }
 *
 *     static const struct lvm_tls_handlers echo = {.data = on_data};
 *
 *     int main(void)
 *     {
 *         char err[LVM_TLS_ERRLEN];
 *         struct lvm_tls_config *cfg;
 *         if (lvm_tls_config_load("/cert.pem", "/key.pem", &cfg, err) < 0) {
 *             fprintf(stderr, "echo: %s\n", err);
 *             return 1;
 *         }
 *         if (lvm_net_up(NULL, 5000) < 0 ||
 *             lvm_tls_listen(cfg, 443, &echo, NULL, NULL) < 0)
 *             return 1;
 *         lvm_net_run();
 *         return 0;
 *     }
 *
 * Callbacks run from inside lvm_net_poll(), like lvm_tcp's. Errors are
 * the LVM_NET_E* codes of net.h, plus LVM_TLS_EPROTO.
 *
 * Entropy comes from the host: the seed the monitor gives every guest at
 * boot (getrandom() in a guest), never from a constant.
 */
#ifndef LIGHTVM_TLS_H
#define LIGHTVM_TLS_H

#include <lightvm/net.h>

#include <stddef.h>
#include <stdint.h>

/* A TLS failure: a malformed record, a failed handshake, an alert. */
#define LVM_TLS_EPROTO (-32)

/* A short description of (err): LVM_TLS_EPROTO or any LVM_NET_E*. */
const char *lvm_tls_strerror(int err);

/* Room for the one-line errors of lvm_tls_config_load*(). */
#define LVM_TLS_ERRLEN 256

/* ---- Server configuration ------------------------------------------------ */

struct lvm_tls_config; /* certificate chain, key, protocol settings */

/*
 * Load the certificate chain (PEM or DER; leaf first) from file
 * (cert_path) and its private key (RSA or EC, unencrypted) from
 * (key_path), for example from the image's file tree (`lightvm-cc
 * --files`). The key must match the leaf certificate. On failure returns
 * LVM_TLS_EPROTO (or LVM_NET_ENOMEM) with one line in (err) naming the
 * file and what is wrong with it.
 */
int lvm_tls_config_load(const char *cert_path, const char *key_path,
                        struct lvm_tls_config **out, char err[LVM_TLS_ERRLEN]);

/*
 * The same from memory: (pem) holds the certificate chain and the private
 * key, PEM, in any order (e.g. read from a block device). (what) names
 * the source in errors.
 */
int lvm_tls_config_load_pem(const void *pem, size_t len, const char *what,
                            struct lvm_tls_config **out,
                            char err[LVM_TLS_ERRLEN]);

/* Versions offered, LVM_TLS_1_2 or LVM_TLS_1_3 (default: 1.2 to 1.3). */
#define LVM_TLS_1_2 0x0303
#define LVM_TLS_1_3 0x0304
int lvm_tls_config_versions(struct lvm_tls_config *cfg, int min, int max);

/*
 * Handshake timeout: a connection that has not finished its handshake
 * (ms) milliseconds after it was accepted is reset by lvm_tls_expire()
 * (its closed() gets LVM_NET_ETIMEDOUT), like nginx's
 * ssl_handshake_timeout. 0: none. At most LVM_TLS_TIMEOUT_MAX_MS (24 h);
 * more is LVM_NET_EINVAL. Applies to connections accepted afterwards.
 */
#define LVM_TLS_HANDSHAKE_TIMEOUT_MS 10000u
#define LVM_TLS_TIMEOUT_MAX_MS (24ull * 3600 * 1000)
int lvm_tls_config_handshake_timeout(struct lvm_tls_config *cfg, uint64_t ms);

/* Free (cfg); only once no listener or connection uses it. */
void lvm_tls_config_free(struct lvm_tls_config *cfg);

/* ---- Connections ----------------------------------------------------------- */

struct lvm_tls; /* one TLS connection */

/* Callbacks; any may be NULL. */
struct lvm_tls_handlers {
    /* The handshake is done: lvm_tls_write() may be used. */
    void (*connected)(struct lvm_tls *t, void *arg);
    /* (len) > 0 bytes of plaintext arrived, in order. */
    void (*data)(struct lvm_tls *t, const void *buf, size_t len, void *arg);
    /* The peer has finished sending (close_notify or TCP end of
     * stream). NULL: close our side too once everything is sent. */
    void (*eof)(struct lvm_tls *t, void *arg);
    /* Everything written has been acknowledged by the peer. */
    void (*drained)(struct lvm_tls *t, void *arg);
    /* The connection is gone: closed (err 0), or a TLS failure
     * (LVM_TLS_EPROTO, also a failed handshake), reset, or aborted;
     * LVM_NET_ETIMEDOUT: its handshake was cut to make room (at most
     * 16 connections may be in their handshake; one more ends the
     * oldest, so clients that connect and stall cannot lock out the
     * rest).
     * Also LVM_NET_ETIMEDOUT: its handshake timeout passed
     * (lvm_tls_expire()).
     * Called exactly once for every accepted connection, also one whose
     * handshake never finished; (t) is invalid after it returns. */
    void (*closed)(struct lvm_tls *t, int err, void *arg);
};

/* Accept TLS connections on (port) with (cfg). (*out) (may be NULL)
 * receives the TCP listener (lvm_tcp_unlisten() stops it). */
int lvm_tls_listen(struct lvm_tls_config *cfg, uint16_t port,
                   const struct lvm_tls_handlers *h, void *arg,
                   struct lvm_tcp_listener **out);

/*
 * Encrypt and queue (len) bytes of (buf). Returns (len), or
 * LVM_NET_ENOMEM if the records would not fit in the connection's send
 * queue (nothing is queued then: wait for drained() and try again), or
 * LVM_NET_ENOTCONN before connected() or once closing.
 */
long lvm_tls_write(struct lvm_tls *t, const void *buf, size_t len);

/* Bytes of records queued and not yet acknowledged. */
size_t lvm_tls_sendq(const struct lvm_tls *t);

/* Send close_notify and what is queued, then close. closed() follows. */
void lvm_tls_close(struct lvm_tls *t);

/* Close at once with a TCP reset. closed() follows. */
void lvm_tls_abort(struct lvm_tls *t);

/*
 * Reset the connections whose handshake timeout has passed at (now_ns)
 * (lvm_net_now() or lvm_clock_monotonic()), and return the monotonic
 * time at which the next one is due, LVM_FOREVER (UINT64_MAX, guest.h)
 * if none.
 * lvm_net_run() does not know about TLS: a server that wants handshake
 * timeouts runs its own loop, which wakes without traffic when one is
 * due:
 *
 *     while (!lvm_poweroff_requested())
 *         lvm_net_poll(lvm_tls_expire(lvm_net_now()));
 *
 * When nothing is due it only compares (now_ns) with a saved bound.
 */
uint64_t lvm_tls_expire(uint64_t now_ns);

/* Replace the argument passed to (t)'s callbacks. */
void lvm_tls_set_arg(struct lvm_tls *t, void *arg);

/* The negotiated version ("TLSv1.2", "TLSv1.3") and cipher suite name,
 * after connected(). */
const char *lvm_tls_version(const struct lvm_tls *t);
const char *lvm_tls_ciphersuite(const struct lvm_tls *t);

/* The underlying TCP connection (for lvm_tcp_peer()). */
struct lvm_tcp *lvm_tls_tcp(const struct lvm_tls *t);

#endif /* LIGHTVM_TLS_H */
