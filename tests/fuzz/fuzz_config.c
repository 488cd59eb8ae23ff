/*
 * fuzz_config.c: libFuzzer target for lightvmd's config file parser
 * (daemon/config.c). Any bytes must give a policy within its limits, or a
 * refusal in one line; a parsed policy never lets members below 1024
 * unless it says "privileged", its networks never overlap, and its
 * quotas are within their bounds (no sum of them can wrap).
 */
#include "daemon/config.h"
#include "toolstack/netaddr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct daemon_config c;
    struct lvm_err err = {0};
    if (config_parse((const char *)data, size, "f.conf", &c, &err) < 0) {
        if (!err.msg[0] || strchr(err.msg, '\n') ||
            strncmp(err.msg, "f.conf", 6) != 0)
            abort();
        return 0;
    }
    if (c.nnets > CONFIG_MAX_NETWORKS || c.nranges > CONFIG_MAX_RANGES ||
        c.naddrs > CONFIG_MAX_ADDRS || (c.nnets && c.default_net >= c.nnets))
        abort();
    for (unsigned i = 0; i < c.nranges; i++)
        if (c.ranges[i].lo == 0 || c.ranges[i].lo > c.ranges[i].hi ||
            (c.ranges[i].lo < 1024 && !c.privileged))
            abort();
    for (unsigned i = 0; i < c.nnets; i++) {
        const struct config_network *n = &c.nets[i];
        if (!n->bridge[0] || strlen(n->bridge) >= sizeof n->bridge ||
            n->prefix < 8 || n->prefix > 30)
            abort();
        for (unsigned j = 0; j < i; j++) {
            unsigned p =
                n->prefix < c.nets[j].prefix ? n->prefix : c.nets[j].prefix;
            uint32_t m = netaddr_mask(p);
            if ((n->addr & m) == (c.nets[j].addr & m) ||
                !strcmp(n->bridge, c.nets[j].bridge))
                abort();
        }
    }
    const struct config_quotas *q = &c.quotas;
    if (q->n > CONFIG_MAX_QUOTA_ENTRIES)
        abort();
    for (unsigned i = 0; i <= q->n; i++) {
        const struct quota_limits *l = i < q->n ? &q->e[i].q : &q->members;
        for (unsigned k = 0; k < QUOTA_KINDS; k++)
            if (l->v[k] < QUOTA_UNSET && l->v[k] > (1ull << 50))
                abort();
        if (i < q->n && (!q->e[i].name[0] || strchr(q->e[i].name, ':')))
            abort();
    }
    for (unsigned k = 0; k < QUOTA_KINDS; k++)
        if (q->root.v[k] == QUOTA_UNSET)
            abort();
    return 0;
}
