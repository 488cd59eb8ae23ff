/*
 * tls_testcert.h: a throwaway P-256 key and self-signed certificate made
 * with mbedTLS at run time, as PEM, for the TLS library's unit test and
 * fuzzer (no key is committed). Aborts on failure: a test set-up error.
 */
#ifndef LVM_TLS_TESTCERT_H
#define LVM_TLS_TESTCERT_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tls_testcert_die(const char *what, int rc)
{
    fprintf(stderr, "tls_testcert: %s failed (%d)\n", what, rc);
    abort();
}

/* A new key and a certificate for it, PEM, into (cert) and (key). */
static void tls_testcert(char *cert, size_t csize, char *key, size_t ksize)
{
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context pk;
    mbedtls_x509write_cert crt;
    int rc;
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&pk);
    mbedtls_x509write_crt_init(&crt);
    if ((rc =
             mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0)))
        tls_testcert_die("seed", rc);
    if ((rc = mbedtls_pk_setup(&pk,
                               mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) ||
        (rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
                                  mbedtls_ctr_drbg_random, &drbg)))
        tls_testcert_die("key", rc);
    static const unsigned char serial[] = {1};
    mbedtls_x509write_crt_set_subject_key(&crt, &pk);
    mbedtls_x509write_crt_set_issuer_key(&crt, &pk);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    if ((rc = mbedtls_x509write_crt_set_subject_name(&crt, "CN=test")) ||
        (rc = mbedtls_x509write_crt_set_issuer_name(&crt, "CN=test")) ||
        (rc = mbedtls_x509write_crt_set_serial_raw(
             &crt, (unsigned char *)serial, sizeof serial)) ||
        (rc = mbedtls_x509write_crt_set_validity(&crt, "20250101000000",
                                                 "20350101000000")))
        tls_testcert_die("certificate fields", rc);
    if ((rc = mbedtls_x509write_crt_pem(&crt, (unsigned char *)cert, csize,
                                        mbedtls_ctr_drbg_random, &drbg)))
        tls_testcert_die("certificate", rc);
    if ((rc = mbedtls_pk_write_key_pem(&pk, (unsigned char *)key, ksize)))
        tls_testcert_die("key PEM", rc);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&pk);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
}

#endif
