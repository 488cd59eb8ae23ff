/*
 * mbedtls_user.h: the SDK's changes to mbedTLS's default configuration
 * (include/mbedtls/mbedtls_config.h, included first), given to every
 * mbedTLS file as MBEDTLS_USER_CONFIG_FILE. The source stays as Debian
 * ships it; only this file decides what is built.
 */
#ifndef LVM_MBEDTLS_USER_H
#define LVM_MBEDTLS_USER_H

/* Entropy: the guest has no /dev/urandom of the host, only the seed the
 * monitor gives at boot (guest/random.c, served as getrandom()). mbedTLS
 * polls it through mbedtls_hardware_poll() (guest/tls/tls_entropy.c)
 * instead of opening device files. */
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT
/* PSA keeps no generator state of its own: it asks getrandom() each time
 * (mbedtls_psa_external_get_random, tls_entropy.c), which a clone's
 * rekeyed stream answers differently from its siblings'. */
#define MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG

/* Sockets: a guest's TCP is lwIP (lightvm/net.h); the TLS library feeds
 * mbedTLS through callbacks, so mbedTLS's BSD-socket layer is left out. */
#undef MBEDTLS_NET_C

/* PSA key storage writes files; a guest's file tree is read-only and the
 * TLS library keeps keys in memory only. */
#undef MBEDTLS_PSA_CRYPTO_STORAGE_C
#undef MBEDTLS_PSA_ITS_FILE_C

#endif
