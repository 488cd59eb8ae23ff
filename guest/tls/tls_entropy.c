/*
 * tls_entropy.c: mbedTLS's entropy source in a guest.
 *
 * The SDK's mbedTLS is configured with MBEDTLS_ENTROPY_HARDWARE_ALT
 * (tls/mbedtls_user.h): it polls this function, which reads the guest's
 * getrandom(). That is the ChaCha20 stream keyed by the 32 bytes the
 * monitor draws from the host's getrandom() for every guest at boot
 * (guest/random.c), so two guests, or two boots of one image, never share
 * keys or nonces. No constant seed exists anywhere.
 *
 * Clones of one running guest start with the same memory: getrandom() is
 * rekeyed when a guest resumes as a clone, but a generator seeded before
 * would go on with the same state in every clone. So nothing keeps one:
 * PSA (TLS 1.3's key shares) draws from getrandom() here on every call
 * (MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG), and the TLS configs' CTR_DRBG reseeds
 * from it on every call (prediction resistance, tls_config.c).
 */
#include <errno.h>
#include <psa/crypto.h>
#include <stddef.h>
#include <sys/random.h>

/* mbedTLS declares no prototype for it in a public header. */
int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len,
                          size_t *olen);

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len,
                          size_t *olen)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(output + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *olen = done;
            return -1; /* MBEDTLS_ERR_ENTROPY_SOURCE_FAILED for the caller */
        }
        done += (size_t)n;
    }
    *olen = done;
    return 0;
}

psa_status_t
mbedtls_psa_external_get_random(mbedtls_psa_external_random_context_t *context,
                                uint8_t *output, size_t output_size,
                                size_t *output_length)
{
    (void)context;
    return mbedtls_hardware_poll(NULL, output, output_size, output_length)
               ? PSA_ERROR_INSUFFICIENT_ENTROPY
               : PSA_SUCCESS;
}
