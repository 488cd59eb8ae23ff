/*
 * fuzz_oci_vm_conf.c: libFuzzer target for a VM container's config.json
 * mapping (oci/vm_conf.c). Any bytes give either a refusal in one line,
 * or an init configuration that the Tinyx init's own parser
 * (tinyx/init/init_conf.c, compiled in) accepts whole: whatever a
 * bundle holds, the guest never fails at boot on what the runtime wrote.
 */
#include "oci/vm_conf.h"

#include "../../tinyx/init/init_conf.c"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void init_log(const char *fmt, ...)
{
    (void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oci_vm_conf vc;
    char err[512] = "";
    if (oci_vm_conf_build((const char *)data, size, &vc, err, sizeof err) < 0) {
        if (!err[0] || strchr(err, '\n') || vc.init_conf)
            abort();
        return 0;
    }
    if (!vc.init_conf || vc.len != strlen(vc.init_conf) || vc.nfiles < 0 ||
        vc.nfiles > OCI_VM_MAX_FILES)
        abort();
    for (int i = 0; i < vc.nfiles; i++)
        if (!vc.files[i].source || vc.files[i].destination[0] != '/')
            abort();
    static struct init_conf c;
    memset(&c, 0, sizeof c);
    char why[64];
    if (init_conf_parse(&c, vc.init_conf, why, sizeof why) < 0)
        abort();
    if (c.ncopies != vc.nfiles || !c.root)
        abort();
    oci_vm_conf_free(&vc);
    return 0;
}
