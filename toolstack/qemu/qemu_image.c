/*
 * qemu_image.c: boot settings and the identity of a Tinyx image (see
 * qemu_image.h).
 */
#include "toolstack/qemu/qemu_image.h"

#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <string.h>
#include <time.h>

void qemu_config_from_image(const struct tinyx_manifest *m,
                            struct qemu_vm_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->name = m->name;
    cfg->kernel = m->kernel.path;
    cfg->initrd = m->initramfs;
    cfg->acpi = m->kernel.acpi;
    cfg->mem = m->mem;
    cfg->net = QEMU_NET_USER;
    cfg->tap_fd = -1;
    cfg->die_with_parent = 1;
    if (m->health == TINYX_HEALTH_TCP) {
        cfg->fwd[0].guest_port = (uint16_t)m->health_port;
        cfg->nfwd = 1;
    }
}

uint16_t qemu_vm_host_port(const struct qemu_vm *vm, uint16_t guest_port)
{
    for (unsigned i = 0; i < vm->nfwd; i++)
        if (vm->fwd[i].guest_port == guest_port)
            return vm->fwd[i].host_port;
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int qemu_vm_wait_answer(struct qemu_vm *vm, const struct tinyx_manifest *m,
                        int timeout_ms, struct lvm_err *err)
{
    long deadline = now_ms() + timeout_ms;
    if (qemu_vm_wait_ready(vm, timeout_ms, err) < 0)
        return -1;
    uint16_t port = m->health == TINYX_HEALTH_TCP
                        ? qemu_vm_host_port(vm, (uint16_t)m->health_port)
                        : 0;
    if (!port)
        return 0;
    const char *addr = "127.0.0.1";
    for (unsigned i = 0; i < vm->nfwd; i++)
        if (vm->fwd[i].host_port == port && vm->fwd[i].host_addr[0] &&
            strcmp(vm->fwd[i].host_addr, "0.0.0.0"))
            addr = vm->fwd[i].host_addr;
    /* Bounded: one connection attempt per round, each held 100 ms, and
     * at most one round per 10 ms while serving the guest's channels. */
    while (now_ms() < deadline && !vm->exited) {
        if (qemu_tcp_probe(addr, port, 100))
            return 0;
        struct pollfd p[3];
        int n = qemu_vm_pollfds(vm, p);
        if (poll(p, (nfds_t)n, 10) > 0)
            qemu_vm_service(vm, p, n);
    }
    return lvm_err_set(err, ETIMEDOUT,
                       "guest %s: port %u does not answer "
                       "on %s:%u",
                       vm->name, m->health_port, addr, port);
}

int tinyx_image_identity(const void *manifest, size_t len, int kernel_fd,
                         int initrd_fd, uint8_t hash[SNAP_HASH_LEN],
                         uint64_t *size, struct lvm_err *err)
{
    uint8_t parts[3][SNAP_HASH_LEN];
    uint64_t kernel_size, initrd_size;
    if (!EVP_Digest(manifest, len, parts[0], NULL, EVP_sha256(), NULL))
        return lvm_err_set(err, EIO, "SHA-256 of the image's manifest");
    if (snap_hash_file(kernel_fd, parts[1], &kernel_size, err) < 0)
        return lvm_err_wrap(err, "the image's kernel");
    if (snap_hash_file(initrd_fd, parts[2], &initrd_size, err) < 0)
        return lvm_err_wrap(err, "the image's initramfs");
    if (!EVP_Digest(parts, sizeof parts, hash, NULL, EVP_sha256(), NULL))
        return lvm_err_set(err, EIO, "SHA-256 of the image's identity");
    *size = (uint64_t)len + kernel_size + initrd_size;
    return 0;
}
