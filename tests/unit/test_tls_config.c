/*
 * test_tls_config.c: the TLS library's configuration loading
 * (guest/tls/tls_config.c, lightvm/tls.h) built for the host with the
 * SDK's mbedTLS: good files and bundles load, every bad one is refused
 * with one line naming the file and what is wrong.
 */
#include <lightvm/tls.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tls_testcert.h"

static char dir[64];
static char cert[4096], key[4096], other_key[4096], other_cert[4096];

static const char *path(const char *name)
{
    static char p[2][128];
    static int i;
    i ^= 1;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static void put(const char *name, const void *data, size_t len)
{
    FILE *f = fopen(path(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/lvm-tls-unit.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    tls_testcert(cert, sizeof cert, key, sizeof key);
    tls_testcert(other_cert, sizeof other_cert, other_key, sizeof other_key);
    put("cert.pem", cert, strlen(cert));
    put("key.pem", key, strlen(key));
    put("other_key.pem", other_key, strlen(other_key));
    put("empty.pem", "", 0);
    put("junk.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n", 46);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"cert.pem", "key.pem", "other_key.pem", "empty.pem",
                           "junk.pem"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(path(names[i]));
    rmdir(dir);
    return 0;
}

/* Loading (cert, key) fails with (code) and an error holding (want). */
static void refused(const char *c, const char *k, int code, const char *want)
{
    struct lvm_tls_config *cfg = NULL;
    char err[LVM_TLS_ERRLEN] = "";
    assert_int_equal(lvm_tls_config_load(c, k, &cfg, err), code);
    assert_null(cfg);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
    assert_null(strchr(err, '\n')); /* one line */
}

static void good_files_load(void **state)
{
    (void)state;
    struct lvm_tls_config *cfg = NULL;
    char err[LVM_TLS_ERRLEN] = "";
    assert_int_equal(
        lvm_tls_config_load(path("cert.pem"), path("key.pem"), &cfg, err), 0);
    assert_non_null(cfg);
    assert_int_equal(lvm_tls_config_versions(cfg, LVM_TLS_1_2, LVM_TLS_1_3), 0);
    assert_int_equal(lvm_tls_config_versions(cfg, LVM_TLS_1_3, LVM_TLS_1_3), 0);
    assert_int_equal(lvm_tls_config_versions(cfg, LVM_TLS_1_3, LVM_TLS_1_2),
                     LVM_NET_EINVAL);
    assert_int_equal(lvm_tls_config_versions(cfg, 0x0301, LVM_TLS_1_3),
                     LVM_NET_EINVAL);
    lvm_tls_config_free(cfg);
}

static void missing_files(void **state)
{
    (void)state;
    refused("/nonexistent/cert.pem", path("key.pem"), LVM_TLS_EPROTO,
            "/nonexistent/cert.pem: No such file or directory");
    refused(path("cert.pem"), "/nonexistent/key.pem", LVM_TLS_EPROTO,
            "/nonexistent/key.pem: No such file or directory");
    refused(dir, path("key.pem"), LVM_TLS_EPROTO, dir); /* a directory */
}

static void bad_files(void **state)
{
    (void)state;
    refused(path("empty.pem"), path("key.pem"), LVM_TLS_EPROTO, "empty file");
    refused(path("junk.pem"), path("key.pem"), LVM_TLS_EPROTO,
            "junk.pem: not a certificate");
    refused(path("cert.pem"), path("cert.pem"), LVM_TLS_EPROTO,
            "cert.pem: not a private key");
    refused(path("key.pem"), path("key.pem"), LVM_TLS_EPROTO,
            "key.pem: not a certificate");
}

static void mismatched_key(void **state)
{
    (void)state;
    refused(path("cert.pem"), path("other_key.pem"), LVM_TLS_EPROTO,
            "other_key.pem: the key does not match the certificate");
}

static void pem_bundles(void **state)
{
    (void)state;
    char bundle[16384];
    struct lvm_tls_config *cfg = NULL;
    char err[LVM_TLS_ERRLEN] = "";
    /* Key first, then the certificate, zero-padded like a block device. */
    memset(bundle, 0, sizeof bundle);
    snprintf(bundle, sizeof bundle, "%s%s", key, cert);
    assert_int_equal(
        lvm_tls_config_load_pem(bundle, sizeof bundle, "dev", &cfg, err), 0);
    lvm_tls_config_free(cfg);
    cfg = NULL;

    snprintf(bundle, sizeof bundle, "%s", cert);
    assert_int_equal(
        lvm_tls_config_load_pem(bundle, strlen(bundle), "dev", &cfg, err),
        LVM_TLS_EPROTO);
    assert_string_equal(err, "dev: no PEM private key in it");
    snprintf(bundle, sizeof bundle, "%s", key);
    assert_int_equal(
        lvm_tls_config_load_pem(bundle, strlen(bundle), "dev", &cfg, err),
        LVM_TLS_EPROTO);
    assert_string_equal(err, "dev: no PEM certificate in it");
    snprintf(bundle, sizeof bundle, "%s%s", cert, other_key);
    assert_int_equal(
        lvm_tls_config_load_pem(bundle, strlen(bundle), "dev", &cfg, err),
        LVM_TLS_EPROTO);
    assert_non_null(strstr(err, "the key does not match"));
    assert_int_equal(lvm_tls_config_load_pem(bundle, 0, "dev", &cfg, err),
                     LVM_TLS_EPROTO);
    assert_string_equal(err, "dev: empty");
    assert_null(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_files_load), cmocka_unit_test(missing_files),
        cmocka_unit_test(bad_files),       cmocka_unit_test(mismatched_key),
        cmocka_unit_test(pem_bundles),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
