/*
 * tls_config.c: lvm_tls_config, a server's certificate chain, key and
 * mbedTLS settings, loaded from files or memory (lightvm/tls.h).
 *
 * Files are read here rather than by mbedTLS's own file functions so that
 * a missing or unreadable file is reported with its errno text, and a bad
 * one with mbedTLS's reason, each on one line naming the file.
 */
#include "tlspriv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>

/* Certificates and keys are small; a bigger file is a mistake (or an
 * attempt to make the guest allocate). */
#define TLS_FILE_MAX (1u << 20)

static int psa_ready;

static int fail(char *err, int code, const char *fmt, const char *what,
                int mbed)
{
    char why[160] = "";
    if (mbed)
        mbedtls_strerror(mbed, why, sizeof why);
    snprintf(err, LVM_TLS_ERRLEN, fmt, what, why);
    return code;
}

/* Read all of (path) into a NUL-terminated buffer (PEM parsing wants the
 * NUL counted in the length). */
static int read_file(const char *path, unsigned char **out, size_t *len,
                     char *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, LVM_TLS_ERRLEN, "%s: %s", path, strerror(errno));
        return LVM_TLS_EPROTO;
    }
    unsigned char *buf = malloc(TLS_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, LVM_TLS_ERRLEN, "%s: out of memory", path);
        return LVM_NET_ENOMEM;
    }
    size_t n = fread(buf, 1, TLS_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n == 0 || n > TLS_FILE_MAX) {
        free(buf);
        snprintf(err, LVM_TLS_ERRLEN, "%s: %s", path,
                 bad ? "read error"
                 : n ? "larger than 1 MiB"
                     : "empty file");
        return LVM_TLS_EPROTO;
    }
    buf[n] = 0;
    *out = buf;
    *len = n + 1;
    return 0;
}

static struct lvm_tls_config *config_new(void)
{
    struct lvm_tls_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    mbedtls_ssl_config_init(&cfg->conf);
    mbedtls_x509_crt_init(&cfg->chain);
    mbedtls_pk_init(&cfg->key);
    mbedtls_entropy_init(&cfg->entropy);
    mbedtls_ctr_drbg_init(&cfg->drbg);
    cfg->handshake_ns = LVM_TLS_HANDSHAKE_TIMEOUT_MS * 1000000ull;
    return cfg;
}

void lvm_tls_config_free(struct lvm_tls_config *cfg)
{
    if (!cfg)
        return;
    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_x509_crt_free(&cfg->chain);
    mbedtls_pk_free(&cfg->key);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    free(cfg);
}

/* The pair check and the server defaults, once chain and key are parsed
 * (and the generator seeded). */
static int finish(struct lvm_tls_config *cfg, const char *what, char *err)
{
    int rc;
    if (!psa_ready) {
        /* TLS 1.3 in mbedTLS 3.6 runs its key schedule through PSA. */
        if (psa_crypto_init() != PSA_SUCCESS)
            return fail(err, LVM_TLS_EPROTO, "%s: cannot start PSA crypto%s",
                        what, 0);
        psa_ready = 1;
    }
    rc = mbedtls_pk_check_pair(&cfg->chain.pk, &cfg->key,
                               mbedtls_ctr_drbg_random, &cfg->drbg);
    if (rc)
        return fail(err, LVM_TLS_EPROTO,
                    "%s: the key does not match the certificate (%s)", what,
                    rc);
    rc = mbedtls_ssl_config_defaults(&cfg->conf, MBEDTLS_SSL_IS_SERVER,
                                     MBEDTLS_SSL_TRANSPORT_STREAM,
                                     MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc)
        return fail(err, LVM_TLS_EPROTO, "%s: %s", what, rc);
    mbedtls_ssl_conf_rng(&cfg->conf, mbedtls_ctr_drbg_random, &cfg->drbg);
    mbedtls_ssl_conf_min_tls_version(&cfg->conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_max_tls_version(&cfg->conf, MBEDTLS_SSL_VERSION_TLS1_3);
    rc = mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->chain, &cfg->key);
    if (rc)
        return fail(err, LVM_TLS_EPROTO, "%s: %s", what, rc);
    return 0;
}

static int parse_chain(struct lvm_tls_config *cfg, const unsigned char *buf,
                       size_t len, const char *what, char *err)
{
    int rc = mbedtls_x509_crt_parse(&cfg->chain, buf, len);
    if (rc < 0)
        return fail(err, LVM_TLS_EPROTO, "%s: not a certificate: %s", what, rc);
    if (rc > 0 || cfg->chain.raw.len == 0)
        return fail(err, LVM_TLS_EPROTO, "%s: no valid certificate in it%s",
                    what, 0);
    return 0;
}

static int parse_key(struct lvm_tls_config *cfg, const unsigned char *buf,
                     size_t len, const char *what, char *err)
{
    int rc = mbedtls_pk_parse_key(&cfg->key, buf, len, NULL, 0,
                                  mbedtls_ctr_drbg_random, &cfg->drbg);
    if (rc)
        return fail(err, LVM_TLS_EPROTO, "%s: not a private key: %s", what, rc);
    return 0;
}

/* The config's random generator, seeded from the host's entropy (the
 * guest's boot seed, tls_entropy.c); mbedtls_pk_parse_key() already
 * wants it for blinding, so it is seeded before the key is parsed. */
static int seed(struct lvm_tls_config *cfg, const char *what, char *err)
{
    static const char pers[] = "lightvm tls";
    int rc =
        mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func, &cfg->entropy,
                              (const unsigned char *)pers, sizeof pers - 1);
    if (rc)
        return fail(err, LVM_TLS_EPROTO, "%s: no entropy: %s", what, rc);
    /* Reseeded from getrandom() at every draw: clones of a running guest
     * share this state, and only getrandom() is rekeyed per clone
     * (tls_entropy.c). */
    mbedtls_ctr_drbg_set_prediction_resistance(&cfg->drbg,
                                               MBEDTLS_CTR_DRBG_PR_ON);
    return 0;
}

int lvm_tls_config_load(const char *cert_path, const char *key_path,
                        struct lvm_tls_config **out, char err[LVM_TLS_ERRLEN])
{
    unsigned char *cbuf = NULL, *kbuf = NULL;
    size_t clen, klen;
    struct lvm_tls_config *cfg = NULL;
    int rc = read_file(cert_path, &cbuf, &clen, err);
    if (rc == 0)
        rc = read_file(key_path, &kbuf, &klen, err);
    if (rc == 0 && !(cfg = config_new())) {
        snprintf(err, LVM_TLS_ERRLEN, "out of memory");
        rc = LVM_NET_ENOMEM;
    }
    if (rc == 0)
        rc = parse_chain(cfg, cbuf, clen, cert_path, err);
    if (rc == 0)
        rc = seed(cfg, key_path, err);
    if (rc == 0)
        rc = parse_key(cfg, kbuf, klen, key_path, err);
    if (rc == 0)
        rc = finish(cfg, key_path, err);
    if (kbuf) {
        mbedtls_platform_zeroize(kbuf, klen); /* the key leaves no copy */
        free(kbuf);
    }
    free(cbuf);
    if (rc) {
        lvm_tls_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int lvm_tls_config_load_pem(const void *pem, size_t len, const char *what,
                            struct lvm_tls_config **out,
                            char err[LVM_TLS_ERRLEN])
{
    /* Certificates and the key may come in any order: each parser finds
     * its own PEM blocks in the text and skips the others. */
    if (len == 0 || len > TLS_FILE_MAX) {
        snprintf(err, LVM_TLS_ERRLEN, "%s: %s", what,
                 len ? "larger than 1 MiB" : "empty");
        return LVM_TLS_EPROTO;
    }
    unsigned char *buf = malloc(len + 1);
    struct lvm_tls_config *cfg = buf ? config_new() : NULL;
    if (!cfg) {
        free(buf);
        snprintf(err, LVM_TLS_ERRLEN, "%s: out of memory", what);
        return LVM_NET_ENOMEM;
    }
    memcpy(buf, pem, len);
    buf[len] = 0;
    /* A block device is padded with zeros: the text ends at the first. */
    size_t tlen = strlen((char *)buf) + 1;
    int rc = 0;
    if (!strstr((char *)buf, "-----BEGIN CERTIFICATE-----"))
        rc = fail(err, LVM_TLS_EPROTO, "%s: no PEM certificate in it%s", what,
                  0);
    else if (!strstr((char *)buf, "PRIVATE KEY-----"))
        rc = fail(err, LVM_TLS_EPROTO, "%s: no PEM private key in it%s", what,
                  0);
    if (rc == 0)
        rc = parse_chain(cfg, buf, tlen, what, err);
    if (rc == 0)
        rc = seed(cfg, what, err);
    if (rc == 0)
        rc = parse_key(cfg, buf, tlen, what, err);
    if (rc == 0)
        rc = finish(cfg, what, err);
    mbedtls_platform_zeroize(buf, len + 1);
    free(buf);
    if (rc) {
        lvm_tls_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int lvm_tls_config_versions(struct lvm_tls_config *cfg, int min, int max)
{
    if (!cfg || (min != LVM_TLS_1_2 && min != LVM_TLS_1_3) ||
        (max != LVM_TLS_1_2 && max != LVM_TLS_1_3) || min > max)
        return LVM_NET_EINVAL;
    mbedtls_ssl_conf_min_tls_version(&cfg->conf,
                                     (mbedtls_ssl_protocol_version)min);
    mbedtls_ssl_conf_max_tls_version(&cfg->conf,
                                     (mbedtls_ssl_protocol_version)max);
    return 0;
}

int lvm_tls_config_handshake_timeout(struct lvm_tls_config *cfg, uint64_t ms)
{
    if (!cfg || ms > LVM_TLS_TIMEOUT_MAX_MS)
        return LVM_NET_EINVAL;
    cfg->handshake_ns = ms * 1000000ull;
    return 0;
}
