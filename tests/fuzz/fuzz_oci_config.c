/*
 * fuzz_oci_config.c: libFuzzer target for lightvm-runtime's config.json
 * mapping (oci/config.c) and the cgroupsPath mapping. Any bytes give a
 * bundle whose fields hold what the runtime relies on (non-empty
 * NULL-terminated args, KEY=VALUE env, an absolute cwd, a known monitor,
 * annotations as a JSON object), or a refusal in one line naming
 * config.json; a cgroup never climbs out of the cgroup root.
 */
#include "oci/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oci_config c;
    char err[512] = "";
    if (oci_config_parse((const char *)data, size, &c, err, sizeof err) < 0) {
        if (!err[0] || strchr(err, '\n') ||
            (strncmp(err, "config.json", 11) != 0 &&
             strcmp(err, "out of memory") != 0))
            abort();
        oci_config_free(&c);
        return 0;
    }
    if (c.argc < 1 || !c.argv || !c.argv[0][0] || c.argv[c.argc] ||
        !c.root_path || !c.root_path[0] || !c.oci_version)
        abort();
    for (int i = 0; i < c.envc; i++)
        if (!strchr(c.env[i], '='))
            abort();
    if (c.env && c.env[c.envc])
        abort();
    if (c.cwd && c.cwd[0] != '/')
        abort();
    if (strcmp(c.monitor, "proc") && strcmp(c.monitor, "kvm"))
        abort();
    if (!c.annotations || c.annotations[0] != '{')
        abort();
    for (int systemd = 0; systemd < 2; systemd++) {
        char parent[256], name[128];
        if (oci_cgroup_path(c.cgroups_path, systemd, "id", parent,
                            sizeof parent, name, sizeof name, err,
                            sizeof err) < 0)
            continue;
        if (!name[0] || strchr(name, '/') || strstr(parent, "..") ||
            !strcmp(name, "..") || parent[0] == '/')
            abort();
    }
    oci_config_free(&c);
    return 0;
}
