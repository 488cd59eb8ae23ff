/*
 * random.c: getrandom() for guests. A ChaCha20 keystream (RFC 8439 block
 * function) keyed by the 32 random bytes the monitor puts on the initial
 * stack (the boot info says where); each guest gets a fresh seed from the
 * host's getrandom(). start.c erases the seed once read and the key is
 * replaced after every request (fast key erasure), so memory disclosed
 * later cannot reveal earlier output.
 */
#include "sdk.h"

static uint32_t key[8];
static uint64_t counter;
static uint8_t block[64];
static unsigned block_used = 64;

#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define QR(a, b, c, d)                                                         \
    (a += b, d ^= a, d = ROTL(d, 16), c += d, b ^= c, b = ROTL(b, 12), a += b, \
     d ^= a, d = ROTL(d, 8), c += d, b ^= c, b = ROTL(b, 7))

static void chacha20_block(void)
{
    uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    for (int i = 0; i < 8; i++)
        in[4 + i] = key[i];
    in[12] = (uint32_t)counter;
    in[13] = (uint32_t)(counter >> 32);
    in[14] = in[15] = 0;
    uint32_t x[16];
    for (int i = 0; i < 16; i++)
        x[i] = in[i];
    for (int i = 0; i < 10; i++) {
        QR(x[0], x[4], x[8], x[12]);
        QR(x[1], x[5], x[9], x[13]);
        QR(x[2], x[6], x[10], x[14]);
        QR(x[3], x[7], x[11], x[15]);
        QR(x[0], x[5], x[10], x[15]);
        QR(x[1], x[6], x[11], x[12]);
        QR(x[2], x[7], x[8], x[13]);
        QR(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++) {
        uint32_t v = x[i] + in[i];
        block[4 * i] = (uint8_t)v;
        block[4 * i + 1] = (uint8_t)(v >> 8);
        block[4 * i + 2] = (uint8_t)(v >> 16);
        block[4 * i + 3] = (uint8_t)(v >> 24);
    }
    counter++;
    block_used = 0;
}

void lvm__random_init(const uint8_t seed[32])
{
    for (int i = 0; i < 8; i++)
        key[i] = (uint32_t)seed[4 * i] | (uint32_t)seed[4 * i + 1] << 8 |
                 (uint32_t)seed[4 * i + 2] << 16 |
                 (uint32_t)seed[4 * i + 3] << 24;
    counter = 0;
    block_used = 64;
}

void lvm__random_fill(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len--) {
        if (block_used == 64)
            chacha20_block();
        *p++ = block[block_used];
        block[block_used++] = 0; /* no copy of output left behind */
    }
    /* Fast key erasure: outputs already given cannot be recomputed from
     * what stays in memory. */
    chacha20_block();
    for (int i = 0; i < 8; i++)
        key[i] = (uint32_t)block[4 * i] | (uint32_t)block[4 * i + 1] << 8 |
                 (uint32_t)block[4 * i + 2] << 16 |
                 (uint32_t)block[4 * i + 3] << 24;
    lvm__memzero(block, sizeof block);
    block_used = 64;
}
