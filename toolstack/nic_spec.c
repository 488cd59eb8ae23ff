/*
 * nic_spec.c: a NIC named on its own on the command line or in a request,
 * "NAME=BRIDGE[,forward][,nat][,subnet=CIDR][,ip=ADDRESS]" (nic.h). Apart from
 * nic.c so that the static CLI, which has no netlink, can parse it.
 */
#include "toolstack/netaddr.h"
#include "toolstack/nic.h"

#include <errno.h>
#include <string.h>

const struct guest_nic_spec *nic_spec_find(const struct guest_net_spec *ns,
                                           const char *dev)
{
    for (unsigned i = 0; i < ns->nnics && i < GUEST_MAX_NICS; i++)
        if (!strcmp(ns->nics[i].dev, dev))
            return &ns->nics[i];
    return NULL;
}

/* One option of a NIC's list: "forward", "subnet=CIDR" or "ip=ADDR". */
static int nic_option(const char *opt, size_t len, struct guest_nic_spec *out,
                      struct lvm_err *err)
{
    char v[64];
    if (len == 7 && !memcmp(opt, "forward", 7)) {
        out->forward = 1;
        return 0;
    }
    if (len == 3 && !memcmp(opt, "nat", 3)) {
        out->nat = 1;
        return 0;
    }
    const char *eq = memchr(opt, '=', len);
    size_t klen = eq ? (size_t)(eq - opt) : len;
    size_t vlen = eq ? len - klen - 1 : 0;
    if (!eq || vlen == 0 || vlen >= sizeof v)
        return lvm_err_invalid(
            err,
            "NIC %s: '%.*s' is not forward, nat, subnet=CIDR "
            "or ip=ADDRESS",
            out->dev, (int)len, opt);
    memcpy(v, eq + 1, vlen);
    v[vlen] = 0;
    if (klen == 6 && !memcmp(opt, "subnet", 6)) {
        if (netaddr_parse_cidr(v, &out->bridge_addr, &out->prefix, err) < 0)
            return lvm_err_wrap(err, "NIC %s", out->dev);
        return 0;
    }
    if (klen == 2 && !memcmp(opt, "ip", 2)) {
        if (netaddr_parse_ip4(v, &out->want_addr) < 0)
            return lvm_err_invalid(
                err, "NIC %s: ip '%s' is not an IPv4 address", out->dev, v);
        return 0;
    }
    return lvm_err_invalid(err,
                           "NIC %s: unknown option '%.*s' (forward, nat, "
                           "subnet=CIDR, ip=ADDRESS)",
                           out->dev, (int)klen, opt);
}

int nic_spec_parse(const char *arg, struct guest_nic_spec *out,
                   struct lvm_err *err)
{
    memset(out, 0, sizeof *out);
    const char *eq = strchr(arg, '=');
    size_t nlen = eq ? (size_t)(eq - arg) : 0;
    if (!eq || nlen == 0 || nlen >= LVM_DEVNAME_MAX ||
        strcspn(arg, ", /") < nlen)
        return lvm_err_set(
            err, EINVAL,
            "'%s' is not NAME=BRIDGE[,forward][,nat]"
            "[,subnet=CIDR][,ip=ADDRESS] (NAME: the manifest's, up to %d "
            "characters)",
            arg, LVM_DEVNAME_MAX - 1);
    memcpy(out->dev, arg, nlen);
    const char *b = eq + 1;
    size_t blen = strcspn(b, ",");
    if (blen == 0 || blen >= sizeof out->bridge || memchr(b, '/', blen) ||
        memchr(b, ' ', blen) || memchr(b, '=', blen))
        return lvm_err_invalid(err,
                               "NIC %s: '%.*s' is not a bridge name (1 to %zu "
                               "characters)",
                               out->dev, (int)blen, b, sizeof out->bridge - 1);
    memcpy(out->bridge, b, blen);
    for (const char *p = b + blen; *p == ',';) {
        const char *o = p + 1;
        size_t olen = strcspn(o, ",");
        if (nic_option(o, olen, out, err) < 0)
            return -1;
        p = o + olen;
    }
    return 0;
}
