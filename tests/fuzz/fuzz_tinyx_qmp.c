/*
 * fuzz_tinyx_qmp.c: what QEMU and the guest send us: QMP messages and
 * control-channel lines.
 */
#include "toolstack/qemu/qemu.h"
#include "toolstack/qemu/qemu_qmp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct qmp_msg m;
    if (qmp_parse((const char *)data, size, &m) == 0)
        json_decref(m.root);
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = 0;
    struct qemu_guest_state gs;
    memset(&gs, 0, sizeof gs);
    qemu_control_line(&gs, line, 1);
    free(line);
    return 0;
}
