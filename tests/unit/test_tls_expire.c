/*
 * test_tls_expire.c: the TLS library's handshake timeout and handshake
 * limit (guest/tls/tls_conn.c: lvm_tls_config_handshake_timeout(),
 * lvm_tls_expire()), built for the host with the SDK's mbedTLS over a fake
 * lvm_tcp and a fake clock: a stalled handshake is reset exactly when its
 * timeout passes and its closed() says LVM_NET_ETIMEDOUT; none is reset
 * before; 0 turns the timeout off; the 17th handshake resets the oldest
 * of the address with the most in progress;
 * a bad value is refused.
 */
#include <lightvm/guest.h>
#include <lightvm/tls.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tls_testcert.h"

#define SEC 1000000000ull

/* ---- The fake clock and TCP layer ----------------------------------------- */

static uint64_t fake_now;

uint64_t lvm_clock_monotonic(void)
{
    return fake_now;
}

struct lvm_tcp {
    int closed, aborted;
    void *arg;
    lvm_ip4_t ip; /* the peer's address */
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
    return c->closed || c->aborted ? LVM_NET_ENOTCONN : (long)len;
}

size_t lvm_tcp_sendq(const struct lvm_tcp *c)
{
    (void)c;
    return 0;
}

void lvm_tcp_close(struct lvm_tcp *c)
{
    c->closed = 1;
}

void lvm_tcp_abort(struct lvm_tcp *c)
{
    c->aborted = 1;
}

void lvm_tcp_set_arg(struct lvm_tcp *c, void *arg)
{
    c->arg = arg;
}

void lvm_tcp_peer(const struct lvm_tcp *c, lvm_ip4_t *ip, uint16_t *port)
{
    if (ip)
        *ip = c->ip;
    if (port)
        *port = 443;
}

const char *lvm_net_strerror(int err)
{
    return err ? "error" : "ok";
}

/* ---- The application: counts closed() and keeps its error -------------- */

#define CONNS 20
static struct lvm_tcp conns[CONNS];
static int closed_err[CONNS], closed_calls[CONNS];

static void on_closed(struct lvm_tls *t, int err, void *arg)
{
    (void)t;
    (void)arg;
    for (int i = 0; i < CONNS; i++) {
        if (conns[i].arg == t) {
            closed_err[i] = err;
            closed_calls[i]++;
        }
    }
}

static const struct lvm_tls_handlers app = {.closed = on_closed};
static struct lvm_tls_config *cfg;

/* The peer address of the connections accepted next. */
static lvm_ip4_t peer_ip;

/* Connection (i) is accepted now, from peer_ip. */
static void accept_conn(int i)
{
    memset(&conns[i], 0, sizeof conns[i]);
    conns[i].ip = peer_ip;
    closed_err[i] = 1;
    closed_calls[i] = 0;
    listen_h->connected(&conns[i], listen_arg);
    assert_non_null(conns[i].arg);
}

/* TCP's closed() for (i), as the stack calls it after an abort or close. */
static void tcp_gone(int i)
{
    listen_h->closed(&conns[i], conns[i].aborted ? LVM_NET_ECONNABORTED : 0,
                     conns[i].arg);
    assert_int_equal(closed_calls[i], 1);
    conns[i].arg = NULL; /* freed: never matched again */
}

static int setup(void **state)
{
    (void)state;
    static char cert[4096], key[4096], pem[8192];
    char err[LVM_TLS_ERRLEN];
    tls_testcert(cert, sizeof cert, key, sizeof key);
    snprintf(pem, sizeof pem, "%s%s", cert, key);
    if (lvm_tls_config_load_pem(pem, strlen(pem) + 1, "test", &cfg, err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return lvm_tls_listen(cfg, 443, &app, NULL, NULL);
}

static void test_nothing_due(void **state)
{
    (void)state;
    assert_int_equal(lvm_tls_expire(123 * SEC), LVM_FOREVER);
}

static void test_timeout_resets_stalled(void **state)
{
    (void)state;
    assert_int_equal(lvm_tls_config_handshake_timeout(cfg, 1500), 0);
    fake_now = 10 * SEC;
    accept_conn(0);
    fake_now = 11 * SEC;
    accept_conn(1);
    /* Not before: the next deadline is the first connection's. */
    assert_int_equal(lvm_tls_expire(11 * SEC), 11 * SEC + SEC / 2);
    assert_int_equal(lvm_tls_expire(11 * SEC + SEC / 2 - 1),
                     11 * SEC + SEC / 2);
    assert_false(conns[0].aborted);
    /* At its deadline: reset, and the next one is the second's. */
    assert_int_equal(lvm_tls_expire(11 * SEC + SEC / 2), 12 * SEC + SEC / 2);
    assert_true(conns[0].aborted);
    assert_false(conns[1].aborted);
    tcp_gone(0);
    assert_int_equal(closed_err[0], LVM_NET_ETIMEDOUT);
    assert_int_equal(lvm_tls_expire(13 * SEC), LVM_FOREVER);
    assert_true(conns[1].aborted);
    tcp_gone(1);
    assert_int_equal(closed_err[1], LVM_NET_ETIMEDOUT);
}

static void test_failed_handshake_not_expired(void **state)
{
    (void)state;
    assert_int_equal(lvm_tls_config_handshake_timeout(cfg, 1000), 0);
    fake_now = 20 * SEC;
    accept_conn(2);
    /* Not TLS: the handshake fails at once (an alert, then FIN). */
    static const char junk[] = "GET / HTTP/1.1\r\n\r\n";
    listen_h->data(&conns[2], junk, sizeof junk - 1, conns[2].arg);
    assert_true(conns[2].closed);
    assert_int_equal(lvm_tls_expire(30 * SEC), LVM_FOREVER);
    assert_false(conns[2].aborted);
    tcp_gone(2);
    assert_int_equal(closed_err[2], LVM_TLS_EPROTO);
}

static void test_zero_is_none(void **state)
{
    (void)state;
    assert_int_equal(lvm_tls_config_handshake_timeout(cfg, 0), 0);
    fake_now = 40 * SEC;
    accept_conn(3);
    assert_int_equal(lvm_tls_expire(UINT64_MAX - 1), LVM_FOREVER);
    assert_false(conns[3].aborted);
    lvm_tcp_abort(&conns[3]); /* the peer resets */
    tcp_gone(3);
    assert_int_equal(closed_err[3], LVM_NET_ECONNABORTED);
}

static void test_limit_cuts_oldest(void **state)
{
    (void)state;
    assert_int_equal(lvm_tls_config_handshake_timeout(cfg, 0), 0);
    fake_now = 50 * SEC;
    for (int i = 0; i < 16; i++)
        accept_conn(i);
    for (int i = 0; i < 16; i++)
        assert_false(conns[i].aborted);
    accept_conn(16); /* one more than may be in their handshake */
    assert_true(conns[0].aborted);
    for (int i = 1; i <= 16; i++)
        assert_false(conns[i].aborted);
    tcp_gone(0);
    assert_int_equal(closed_err[0], LVM_NET_ETIMEDOUT);
    for (int i = 1; i <= 16; i++) {
        lvm_tcp_abort(&conns[i]);
        tcp_gone(i);
    }
}

static void test_limit_cuts_from_busiest_address(void **state)
{
    (void)state;
    assert_int_equal(lvm_tls_config_handshake_timeout(cfg, 0), 0);
    fake_now = 60 * SEC;
    peer_ip = 2; /* a real client, in its handshake first */
    accept_conn(0);
    peer_ip = 1; /* then a flood of connects from another address */
    for (int i = 1; i <= 16; i++)
        accept_conn(i);
    /* The 17th cuts the flood's oldest, not the older real client. */
    assert_false(conns[0].aborted);
    assert_true(conns[1].aborted);
    for (int i = 2; i <= 16; i++)
        assert_false(conns[i].aborted);
    for (int i = 0; i <= 16; i++) {
        lvm_tcp_abort(&conns[i]);
        tcp_gone(i);
    }
    peer_ip = 0;
}

static void test_bad_value(void **state)
{
    (void)state;
    assert_int_equal(
        lvm_tls_config_handshake_timeout(cfg, LVM_TLS_TIMEOUT_MAX_MS), 0);
    assert_int_equal(
        lvm_tls_config_handshake_timeout(cfg, LVM_TLS_TIMEOUT_MAX_MS + 1),
        LVM_NET_EINVAL);
    assert_int_equal(lvm_tls_config_handshake_timeout(NULL, 10),
                     LVM_NET_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_due),
        cmocka_unit_test(test_timeout_resets_stalled),
        cmocka_unit_test(test_failed_handshake_not_expired),
        cmocka_unit_test(test_zero_is_none),
        cmocka_unit_test(test_limit_cuts_oldest),
        cmocka_unit_test(test_limit_cuts_from_busiest_address),
        cmocka_unit_test(test_bad_value),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
