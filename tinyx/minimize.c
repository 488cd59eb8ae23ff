/*
 * minimize.c: the kernel option search (see minimize.h). Each trial is an
 * incremental rebuild in the shared build tree (seconds to a minute) and
 * one boot of the image under the qemu monitor.
 */
#include "tinyx/minimize.h"
#include "toolstack/qemu/qemu_image.h"
#include "tinyx/tinyx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Platform options worth trying to drop, dependants before what they
 * depend on. The rest (initramfs, console, virtio, PVH, IPv4) are what a
 * Tinyx guest is. */
static const char *const defaults[] = {
    "CONFIG_KVM_GUEST",
    "CONFIG_PARAVIRT",
    "CONFIG_MEMBARRIER",
    "CONFIG_RSEQ",
    "CONFIG_FHANDLE",
    "CONFIG_AIO",
    "CONFIG_ADVISE_SYSCALLS",
    "CONFIG_FILE_LOCKING",
    "CONFIG_PROC_SYSCTL",
    "CONFIG_SIGNALFD",
    "CONFIG_TIMERFD",
    "CONFIG_EVENTFD",
    "CONFIG_EPOLL",
    "CONFIG_SHMEM",
    "CONFIG_FUTEX",
    "CONFIG_POSIX_TIMERS",
    "CONFIG_BINFMT_SCRIPT",
    "CONFIG_UNIX",
    "CONFIG_MULTIUSER",
    "CONFIG_X86_MPPARSE",
    "CONFIG_BUG",
    "CONFIG_RD_GZIP",
    "CONFIG_PRINTK",
};

static void say(const struct minimize_opts *o, const char *fmt, const char *a,
                const char *b)
{
    if (!o->build.progress)
        return;
    fputs("tinyx minimize: ", o->build.progress);
    fprintf(o->build.progress, fmt, a, b);
    fputc('\n', o->build.progress);
    fflush(o->build.progress);
}

/* Boot (m) with kernel (k); 1 if it became ready and answered. */
static int boots(const struct minimize_opts *o, const struct tinyx_manifest *m,
                 const struct tinyx_kernel *k)
{
    struct qemu_vm_config cfg;
    qemu_config_from_image(m, &cfg);
    cfg.kernel = k->path;
    cfg.acpi = 0;
    cfg.quiet = 1;
    struct qemu_vm *vm;
    struct lvm_err err;
    if (qemu_vm_start(&cfg, -1, &vm, &err) < 0)
        return 0;
    int ok =
        qemu_vm_wait_answer(
            vm, m, o->boot_timeout_ms ? o->boot_timeout_ms : 120000, &err) == 0;
    qemu_vm_kill(vm, 0);
    qemu_vm_free(vm);
    return ok;
}

static long size_of(const char *p)
{
    struct stat st;
    return stat(p, &st) < 0 ? -1 : (long)st.st_size;
}

int tinyx_minimize(const struct minimize_opts *o, struct tinyx_kernel *out,
                   struct lvm_err *err)
{
    struct tinyx_manifest m;
    if (tinyx_manifest_load(o->image, &m, err) < 0)
        return -1;
    if (m.health == TINYX_HEALTH_NONE)
        return lvm_err_invalid(err,
                               "image %s has no health check to "
                               "test kernels with",
                               o->image);
    struct kconfig *cur = malloc(sizeof *cur), *trial = malloc(sizeof *trial);
    if (!cur || !trial) {
        free(cur);
        free(trial);
        return lvm_err_set(err, ENOMEM, "minimize");
    }
    *cur = *o->config;
    struct kernel_build_opts bo = o->build;
    bo.config = cur;
    int r = -1;
    struct tinyx_kernel k;
    if (kernel_build(&bo, &k, err) < 0)
        goto out;
    if (!boots(o, &m, &k)) {
        lvm_err_set(err, 0,
                    "image %s does not answer with the starting "
                    "kernel %s",
                    o->image, k.path);
        goto out;
    }
    long start_vm = size_of(k.path), start_bz = size_of(k.bzimage);
    char list[4096];
    if (o->candidates) {
        snprintf(list, sizeof list, "%s", o->candidates);
    } else {
        list[0] = 0;
        for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     i ? "," : "", defaults[i]);
    }
    for (char *save, *opt = strtok_r(list, ",", &save); opt;
         opt = strtok_r(NULL, ",", &save)) {
        *trial = *cur;
        if (kconfig_set(trial, opt, "n") < 0)
            continue;
        bo.config = trial;
        struct tinyx_kernel tk;
        struct lvm_err e2;
        say(o, "trying without %s%s", opt, "");
        if (kernel_build(&bo, &tk, &e2) < 0) {
            char buf[LVM_ERR_MSG_MAX + 64];
            say(o, "keep %s: %s", opt, lvm_err_str(&e2, buf, sizeof buf));
            continue;
        }
        if (boots(o, &m, &tk)) {
            say(o, "drop %s: the app still answers%s", opt, "");
            *cur = *trial;
            k = tk;
        } else {
            say(o, "keep %s: the app does not answer without it%s", opt, "");
        }
    }
    *out = k;
    if (o->build.progress)
        fprintf(o->build.progress,
                "tinyx minimize: vmlinux %ld -> %ld bytes, bzImage %ld -> %ld "
                "bytes\n",
                start_vm, size_of(k.path), start_bz, size_of(k.bzimage));
    r = 0;
out:
    free(cur);
    free(trial);
    return r;
}
