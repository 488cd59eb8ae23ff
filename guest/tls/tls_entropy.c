/*
 * tls_entropy.c: mbedTLS's entropy source in a guest.
 *
 * The SDK's mbedTLS is configured with MBEDTLS_ENTROPY_HARDWARE_ALT
 * (tls/mbedtls_user.h): it polls this function, which reads the guest's
 * getrandom(). That is the ChaCha20 stream keyed by the 32 bytes the
 * monitor draws from the host's getrandom() for every guest at boot
 * (guest/random.c), so two guests, or two boots of one image, never share
 * keys or nonces. No constant seed exists anywhere.
 */
#include <errno.h>
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
