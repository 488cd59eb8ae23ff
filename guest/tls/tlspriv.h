/*
 * tlspriv.h: what the TLS library's files share (guest/tls/).
 */
#ifndef LVM_TLSPRIV_H
#define LVM_TLSPRIV_H

#include <lightvm/tls.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

struct lvm_tls_config {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt chain;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    uint64_t handshake_ns; /* lvm_tls_config_handshake_timeout(); 0: none */
};

#endif
