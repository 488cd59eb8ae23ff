/*
 * qemu_xframe.c: frames of the exec channel (qemu_xframe.h), host side.
 */
#include "toolstack/qemu/qemu_xframe.h"

#include <errno.h>
#include <string.h>

long xframe_next(const uint8_t *buf, size_t len, struct xframe *f,
                 struct lvm_err *err)
{
    if (len < LVM_XF_HDR)
        return 0;
    size_t plen = lvm_xf_len(buf);
    int type = buf[0];
    if (plen > LVM_XF_MAX)
        return lvm_err_set(err, EPROTO, "exec channel: a frame of %zu bytes",
                           plen);
    switch (type) {
    case LVM_XF_STARTED:
    case LVM_XF_EXIT:
        if (plen != 4)
            return lvm_err_set(
                err, EPROTO, "exec channel: frame %d of %zu bytes", type, plen);
        break;
    case LVM_XF_STDOUT:
    case LVM_XF_STDERR:
    case LVM_XF_ERROR: break;
    default:
        return lvm_err_set(err, EPROTO, "exec channel: unknown frame %d", type);
    }
    if (len < LVM_XF_HDR + plen)
        return 0;
    f->type = type;
    f->data = buf + LVM_XF_HDR;
    f->len = plen;
    return (long)(LVM_XF_HDR + plen);
}

uint32_t xframe_u32(const struct xframe *f)
{
    const uint8_t *p = f->data;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static int item(uint8_t *out, size_t *off, char tag, const char *val,
                struct lvm_err *err)
{
    size_t vl = strlen(val);
    if (*off + vl + 3 > LVM_XF_HDR + LVM_XF_MAX)
        return lvm_err_set(err, E2BIG,
                           "exec: the command, environment and options "
                           "exceed %d bytes",
                           LVM_XF_MAX);
    out[(*off)++] = (uint8_t)tag;
    out[(*off)++] = ':';
    memcpy(out + *off, val, vl + 1);
    *off += vl + 1;
    return 0;
}

int xframe_start(char *const *argv, int argc, char *const *env, int envc,
                 const char *cwd, const char *user, uint8_t *out, size_t *len,
                 struct lvm_err *err)
{
    if (argc < 1 || !argv[0][0])
        return lvm_err_invalid(err, "exec: no command");
    size_t off = LVM_XF_HDR;
    for (int i = 0; i < argc; i++)
        if (item(out, &off, 'a', argv[i], err) < 0)
            return -1;
    for (int i = 0; i < envc; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq || eq == env[i])
            return lvm_err_invalid(err, "exec: -e '%.64s': expected NAME=VALUE",
                                   env[i]);
        if (item(out, &off, 'e', env[i], err) < 0)
            return -1;
    }
    if (cwd && item(out, &off, 'w', cwd, err) < 0)
        return -1;
    if (user && item(out, &off, 'u', user, err) < 0)
        return -1;
    lvm_xf_header(out, LVM_XF_START, off - LVM_XF_HDR);
    *len = off;
    return 0;
}
