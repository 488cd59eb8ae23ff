/*
 * devices.c: console, control and block devices (see devices.h); network
 * devices are attached by dev_net.c.
 */
#include "toolstack/devices.h"
#include "toolstack/dev_net.h"
#include "toolstack/guest.h"
#include "toolstack/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int owned(struct attach *a, int fd)
{
    a->owned[a->nowned++] = fd;
    return fd;
}

static int attach_block(struct guest *g, struct attach *a,
                        const struct guest_block *b,
                        const struct lvm_manifest_device *want, int guest_fd,
                        struct lvm_err *err)
{
    int ro = b->readonly || (want->flags & LVM_DEVF_READONLY);
    int fd = b->fd;
    if (fd < 0) {
        fd = fs_open_data(b->path, !ro, 1, err);
        if (fd < 0)
            return lvm_err_wrap(err, "block device %s", b->name);
    } else {
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            return lvm_err_set(err, errno, "block device %s", b->name);
        if (!ro && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY) {
            close(fd);
            return lvm_err_set(err, EBADF,
                               "block device %s was opened "
                               "read-only",
                               b->name);
        }
    }
    owned(a, fd);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return lvm_err_set(err, errno, "stat %s", b->path);
    uint64_t size = (uint64_t)st.st_size;
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        size = end > 0 ? (uint64_t)end : 0;
    } else if (!S_ISREG(st.st_mode)) {
        return lvm_err_invalid(err,
                               "block device %s: %s is not a file or a disk",
                               b->name, b->path);
    }
    uint64_t cap = size - size % DEV_BLOCK_SIZE;
    /* The guest sees whole blocks: a tail would be silently cut (a rule
     * or key file missing its end), so it is refused. */
    if (cap != 0 && cap != size)
        return lvm_err_invalid(
            err,
            "block device %s: %s is %llu bytes, not a whole "
            "number of %d-byte blocks (its last %llu would be "
            "lost; pad it: truncate -s %%%d %s)",
            b->name, b->path, (unsigned long long)size, DEV_BLOCK_SIZE,
            (unsigned long long)(size - cap), DEV_BLOCK_SIZE, b->path);
    if (cap == 0)
        return lvm_err_invalid(
            err,
            "block device %s: %s holds less than one %d-byte "
            "block",
            b->name, b->path, DEV_BLOCK_SIZE);
    struct lvm_device d;
    memset(&d, 0, sizeof d);
    d.type = LVM_DEV_BLOCK;
    d.flags = ro ? LVM_DEVF_READONLY : 0;
    d.handle = (uint16_t)guest_fd;
    d.evtchn = LVM_EVTCHN_NONE;
    memcpy(d.name, want->name, sizeof d.name);
    d.u.block.capacity = cap;
    d.u.block.block_size = DEV_BLOCK_SIZE;
    if (devpage_add(g->dev.dp, &d, err) < 0)
        return -1;
    struct policy_device *pd = &a->pol.dev[a->pol.ndevices++];
    pd->type = LVM_DEV_BLOCK;
    pd->fd = guest_fd;
    pd->readonly = ro;
    pd->capacity = cap;
    pd->block_size = DEV_BLOCK_SIZE;
    return attach_fd(a, fd, guest_fd, err) < 0 ? -1 : 0;
}

static int attach_console_control(struct guest *g,
                                  const struct guest_spec *spec,
                                  struct attach *a, struct lvm_err *err)
{
    struct lvm_device d;
    memset(&d, 0, sizeof d);
    d.type = LVM_DEV_CONSOLE;
    d.handle = 1;
    d.evtchn = LVM_EVTCHN_NONE;
    snprintf(d.name, sizeof d.name, "console");
    if (devpage_add(g->dev.dp, &d, err) < 0)
        return -1;
    int i = attach_fd(a, spec->console_fd, 1, err);
    if (i < 0)
        return -1;
    a->map[a->nmap++] = (struct lvm_plan_fd){i, 2}; /* stderr: same fd */

    memset(&d, 0, sizeof d);
    d.type = LVM_DEV_CONTROL;
    d.handle = DEV_CONTROL_FD;
    d.evtchn = DEV_CONTROL_EVTCHN;
    snprintf(d.name, sizeof d.name, "control");
    if (devpage_add(g->dev.dp, &d, err) < 0)
        return -1;
    a->pol.control_fd = DEV_CONTROL_FD;
    return attach_fd(a, g->control_fd, DEV_CONTROL_FD, err) < 0 ? -1 : 0;
}

int devices_attach(struct guest *g, const struct image *img,
                   const struct guest_spec *spec, struct attach *a,
                   struct lvm_err *err)
{
    memset(a, 0, sizeof *a);
    a->pol.control_fd = -1;
    if (attach_console_control(g, spec, a, err) < 0)
        return -1;
    for (unsigned i = 0; i < spec->nblocks; i++) {
        int found = 0;
        for (unsigned j = 0; j < img->info.ndevices; j++)
            found |= img->info.dev[j].type == LVM_DEV_BLOCK &&
                     strcmp(img->info.dev[j].name, spec->blocks[i].name) == 0;
        if (!found)
            return lvm_err_invalid(err,
                                   "the guest's manifest has no block device "
                                   "named %s",
                                   spec->blocks[i].name);
    }
    /* The same for NICs named on their own (--net=NAME=BRIDGE). */
    for (unsigned i = 0; spec->net.enabled && i < spec->net.nnics; i++) {
        int found = 0;
        for (unsigned j = 0; j < img->info.ndevices; j++)
            found |= img->info.dev[j].type == LVM_DEV_NET &&
                     strncmp(img->info.dev[j].name, spec->net.nics[i].dev,
                             LVM_DEVNAME_MAX) == 0;
        if (!found)
            return lvm_err_invalid(err,
                                   "the guest's manifest has no network device "
                                   "named %s",
                                   spec->net.nics[i].dev);
    }
    int next_fd = DEV_FIRST_FD;
    unsigned next_evtchn = DEV_CONTROL_EVTCHN + 1;
    for (unsigned j = 0; j < img->info.ndevices; j++) {
        const struct lvm_manifest_device *want = &img->info.dev[j];
        if (want->type == LVM_DEV_BLOCK) {
            const struct guest_block *b = NULL;
            for (unsigned i = 0; i < spec->nblocks; i++)
                if (strcmp(spec->blocks[i].name, want->name) == 0)
                    b = &spec->blocks[i];
            if (!b)
                return lvm_err_plain(err, ENODEV,
                                     "the guest needs block device %s: attach "
                                     "it with --block %s=FILE",
                                     want->name, want->name);
            if (attach_block(g, a, b, want, next_fd++, err) < 0)
                return -1;
        } else if (want->type == LVM_DEV_NET) {
            if (dev_net_attach(g, spec, want, next_fd++, next_evtchn++, a,
                               err) < 0)
                return -1;
        } else {
            return lvm_err_set(err, ENODEV,
                               "the guest needs %s device %s, which this "
                               "toolstack cannot attach",
                               image_device_type_name(want->type), want->name);
        }
    }
    return 0;
}

void devices_release(struct attach *a)
{
    for (int i = 0; i < a->nowned; i++)
        close(a->owned[i]);
    a->nowned = 0;
}
