/*
 * devpage.c: device and status pages (see devpage.h).
 */
#include "toolstack/devpage.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int map_pages(struct devpage *d, struct lvm_err *err)
{
    void *p = mmap(NULL, DEVPAGE_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                   d->fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(d->fd);
        d->fd = -1;
        return lvm_err_set(err, e, "map the device page");
    }
    d->dp = p;
    d->st = (volatile struct lvm_status *)((char *)p + DEVPAGE_STATUS_OFFSET);
    d->report = (volatile struct lvm_monitor_report *)((char *)p +
                                                       DEVPAGE_REPORT_OFFSET);
    return 0;
}

int devpage_create(struct devpage *d, const char *path, struct lvm_err *err)
{
    memset(d, 0, sizeof *d);
    d->fd = path ? open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                 : memfd_create("lightvm-devpage", MFD_CLOEXEC);
    if (d->fd < 0)
        return lvm_err_set(err, errno, "create the device page%s%s",
                           path ? " " : "", path ? path : "");
    if (ftruncate(d->fd, DEVPAGE_FILE_SIZE) < 0) {
        int e = errno;
        close(d->fd);
        d->fd = -1;
        return lvm_err_set(err, e, "size the device page");
    }
    if (map_pages(d, err) < 0)
        return -1;
    d->dp->magic = LVM_DEVPAGE_MAGIC;
    d->dp->abi_version = LVM_ABI_VERSION;
    return 0;
}

int devpage_open(struct devpage *d, const char *path, struct lvm_err *err)
{
    memset(d, 0, sizeof *d);
    d->fd = open(path, O_RDWR | O_CLOEXEC);
    if (d->fd < 0)
        return lvm_err_set(err, errno, "open the device page %s", path);
    struct stat st;
    if (fstat(d->fd, &st) < 0 || st.st_size != DEVPAGE_FILE_SIZE) {
        close(d->fd);
        d->fd = -1;
        return lvm_err_invalid(err, "%s is not a device page", path);
    }
    if (map_pages(d, err) < 0)
        return -1;
    if (d->dp->magic != LVM_DEVPAGE_MAGIC) {
        devpage_destroy(d);
        return lvm_err_invalid(err, "%s is not a device page", path);
    }
    return 0;
}

void devpage_destroy(struct devpage *d)
{
    if (d->dp)
        munmap(d->dp, DEVPAGE_FILE_SIZE);
    if (d->fd >= 0)
        close(d->fd);
    d->dp = NULL;
    d->st = NULL;
    d->report = NULL;
    d->fd = -1;
}

int devpage_add(struct lvm_devpage *dp, const struct lvm_device *dev,
                struct lvm_err *err)
{
    if (dp->ndevices >= LVM_MAX_DEVICES)
        return lvm_err_set(err, ENOSPC, "too many devices (at most %d)",
                           LVM_MAX_DEVICES);
    if (dev->type < LVM_DEV_CONSOLE || dev->type > LVM_DEV_BLOCK)
        return lvm_err_invalid(err, "unknown device type %u", dev->type);
    if (dev->evtchn != LVM_EVTCHN_NONE && dev->evtchn >= LVM_MAX_EVTCHN)
        return lvm_err_invalid(err, "event channel %u out of range",
                               dev->evtchn);
    if (memchr(dev->name, 0, sizeof dev->name) == NULL)
        return lvm_err_invalid(err, "device name not terminated");
    for (unsigned i = 0; i < dp->ndevices; i++) {
        if (dp->dev[i].type == dev->type &&
            strcmp(dp->dev[i].name, dev->name) == 0)
            return lvm_err_set(err, EEXIST, "device %s listed twice",
                               dev->name);
        if (dev->evtchn != LVM_EVTCHN_NONE && dp->dev[i].evtchn == dev->evtchn)
            return lvm_err_set(err, EEXIST, "event channel %u used twice",
                               dev->evtchn);
    }
    dp->dev[dp->ndevices++] = *dev;
    __atomic_add_fetch(&dp->generation, 1, __ATOMIC_RELEASE);
    return 0;
}

const struct lvm_device *devpage_find(const struct lvm_devpage *dp,
                                      unsigned type, const char *name)
{
    for (unsigned i = 0; i < dp->ndevices && i < LVM_MAX_DEVICES; i++)
        if (dp->dev[i].type == type &&
            (!name || strncmp(dp->dev[i].name, name, LVM_DEVNAME_MAX) == 0))
            return &dp->dev[i];
    return NULL;
}

void devpage_control(struct lvm_devpage *dp, uint32_t request)
{
    /* The guest reads seq, then request: publish in the other order. */
    __atomic_store_n(&dp->control_request, request, __ATOMIC_RELAXED);
    __atomic_add_fetch(&dp->control_seq, 1, __ATOMIC_RELEASE);
}
