/*
 * loopdev.c: a loop device over an open file (loopdev.h).
 */
#include "toolstack/loopdev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int loopdev_attach(int file_fd, int readonly, struct lvm_err *err)
{
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0)
        return lvm_err_set(err, errno,
                           "a writable volume needs a loop device: "
                           "/dev/loop-control");
    /* Another process may take the free device first: try again. */
    for (int tries = 0; tries < 16; tries++) {
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0) {
            int e = errno;
            close(ctl);
            return lvm_err_set(err, e, "no free loop device");
        }
        char path[32];
        snprintf(path, sizeof path, "/dev/loop%d", n);
        int lfd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (lfd < 0) {
            int e = errno;
            close(ctl);
            return lvm_err_set(err, e, "%s", path);
        }
        struct loop_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.fd = (unsigned)file_fd;
        cfg.info.lo_flags =
            LO_FLAGS_AUTOCLEAR | (readonly ? LO_FLAGS_READ_ONLY : 0);
        if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
            close(ctl);
            return lfd;
        }
        int e = errno;
        close(lfd);
        if (e != EBUSY) {
            close(ctl);
            return lvm_err_set(err, e, "set up %s", path);
        }
    }
    close(ctl);
    return lvm_err_set(err, EBUSY, "no free loop device (all taken)");
}
