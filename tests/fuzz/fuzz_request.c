/*
 * fuzz_request.c: libFuzzer target for lightvmd's request parser. Any
 * bytes a client sends must give a parsed request whose fields respect
 * their limits, or a refusal with an error code and a one-line message.
 */
#include "daemon/request.h"
#include "toolstack/guest_policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct request r;
    const char *code;
    struct lvm_err err;
    if (request_parse((const char *)data, size, &r, &code, &err) < 0) {
        if (!code || !err.msg[0] || strchr(err.msg, '\n'))
            abort();
        return 0;
    }
    if ((unsigned)r.op > OP_LAST || r.argc > REQUEST_MAX_ARGS ||
        r.envc > REQUEST_MAX_ENV || r.nblocks > GUEST_MAX_BLOCKS ||
        r.limit > LIST_PAGE_MAX || r.mem > GUEST_RAM_ANY_MAX ||
        r.nvolumes > QEMU_MAX_VOLUMES)
        abort();
    if (r.op == OP_CREATE && (!r.image[0] || strlen(r.image) >= sizeof r.image))
        abort();
    for (int i = 0; i < r.envc; i++)
        if (!strchr(r.envp[i], '='))
            abort();
    request_free(&r);
    return 0;
}
