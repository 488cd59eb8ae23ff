/*
 * vm_create.c: `create` of a VM container (vm_create.h): the root image
 * (vm_image.c), the kernel (the tiny one if built for the platform
 * options, else Debian's stock kernel with its modules), the initramfs
 * (vm_initrd.c), the NIC from the bundle's namespace (net.c), the
 * cgroup, and the supervisor (vm_super.c) forked and waiting at the gate.
 */
#include "oci/errf.h"
#include "oci/vm_create.h"
#include "oci/net.h"
#include "oci/oci.h"
#include "oci/vm_conf.h"
#include "oci/vm_image.h"
#include "oci/vm_initrd.h"
#include "oci/vm_super.h"
#include "tinyx/kernel.h"
#include "toolstack/cgroup.h"
#include "toolstack/guest_policy.h"
#include "toolstack/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* What QEMU itself takes beside guest RAM under a memory limit: its own
 * heap, and under TCG its translation cache (docs/notes: 35-57 MB). */
#define QEMU_OVERHEAD (96ull << 20)

const char *const oci_vm_state_files[] = {"vm.initrd", OCI_VM_EXEC_SOCK, NULL};

/* Modules a stock kernel needs for a VM container, by name. */
static const char *const stock_mods[] = {
    "virtio_mmio", "virtio_net", "virtio_blk",
    "erofs",       "overlay",    "virtio_console"}; /* the exec channel */

int oci_vm_wanted(const struct oci_config *c, int exe)
{
    if (c->monitor && !strcmp(c->monitor, "qemu"))
        return 1;
    if (c->monitor_given) /* proc or kvm, asked for: a unikernel or nothing */
        return 0;
    struct image *img = NULL;
    struct lvm_err e;
    if (image_load_fd(exe, "process.args[0]", &img, &e) < 0)
        return 1;
    image_free(img);
    return 0;
}

/* The Tinyx init: $LIGHTVM_TINYX_INIT or next to this binary. */
static int find_init(char *path, size_t len, char *err, size_t errlen)
{
    const char *env = getenv("LIGHTVM_TINYX_INIT");
    if (env && *env) {
        snprintf(path, len, "%s", env);
        return access(path, R_OK) == 0
                   ? 0
                   : oci_errf(err, errlen, "LIGHTVM_TINYX_INIT=%s: %s", env,
                              strerror(errno));
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        return oci_errf(err, errlen, "/proc/self/exe: %s", strerror(errno));
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    /* Beside this binary (the build tree), or where `make install`
     * puts it (LIBEXECDIR), as `lightvm tinyx build` looks. */
    static const char *const cand[] = {"%s/lightvm-tinyx-init",
                                       "%s/../lib/lightvm/lightvm-tinyx-init"};
    for (size_t i = 0; i < sizeof cand / sizeof *cand; i++) {
        snprintf(path, len, cand[i], self);
        if (access(path, R_OK) == 0)
            return 0;
    }
    return oci_errf(err, errlen,
                    "lightvm-tinyx-init not found next to %s or in "
                    "%s/../lib/lightvm (install it, or set LIGHTVM_TINYX_INIT)",
                    self, self);
}

/* The tiny kernel if one was built with the platform options (which
 * include disks, erofs and overlay), else the stock one and its
 * modules. */
static int pick_kernel(struct tinyx_kernel *k, char ***mods, size_t *nmods,
                       char *err, size_t errlen)
{
    *mods = NULL;
    *nmods = 0;
    struct kconfig *kc = calloc(1, sizeof *kc);
    if (!kc)
        return oci_errf(err, errlen, "out of memory");
    kconfig_platform(kc);
    int tiny = kernel_cached(kc, k) == 0;
    free(kc);
    if (tiny)
        return 0;
    struct lvm_err e;
    if (kernel_stock(k, &e) < 0 ||
        kernel_stock_module_list(k, stock_mods,
                                 sizeof stock_mods / sizeof *stock_mods, mods,
                                 nmods, &e) < 0)
        return oci_errf(err, errlen, "no kernel for a VM container: %s", e.msg);
    return 0;
}

static void free_mods(char **mods, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(mods[i]);
    free(mods);
}

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            char *nb =
                cap < (16u << 20) ? realloc(buf, cap = cap * 2 + 65536) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t n = fread(buf + *len, 1, cap - *len, f);
        if (n == 0)
            break;
        *len += n;
    }
    fclose(f);
    return buf;
}

/* The guest's RAM under (limit): what QEMU leaves of it. */
static int pick_ram(const struct tinyx_kernel *k, uint64_t limit, uint64_t *ram,
                    char *err, size_t errlen)
{
    struct guest_ram_range r = guest_ram_range(
        GUEST_MON_QEMU,
        strcmp(k->kind, "tiny") ? GUEST_KERNEL_STOCK : GUEST_KERNEL_TINY);
    *ram = r.def;
    if (!limit)
        return 0;
    if (limit < r.min + QEMU_OVERHEAD)
        return oci_errf(
            err, errlen,
            "memory limit %llu MiB is too small for a VM container: "
            "at least %llu MiB (the guest's %llu and QEMU's %llu)",
            (unsigned long long)(limit >> 20),
            (unsigned long long)((r.min + QEMU_OVERHEAD) >> 20),
            (unsigned long long)(r.min >> 20),
            (unsigned long long)(QEMU_OVERHEAD >> 20));
    *ram = limit - QEMU_OVERHEAD;
    if (*ram > r.max)
        *ram = r.max;
    *ram &= ~((1ull << 20) - 1);
    return 0;
}

/* A unix socket path in (st)'s state directory, however long the
 * directory's name: through /proc/self/fd of an open (dirfd). */
int oci_vm_exec_addr(const struct oci_state *st, int *dirfd,
                     struct sockaddr_un *a, struct lvm_err *e)
{
    *dirfd = open(st->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0)
        return lvm_err_set(e, errno, "state directory %s", st->dir);
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof a->sun_path, "/proc/self/fd/%d/%s", *dirfd,
             OCI_VM_EXEC_SOCK);
    return 0;
}

int oci_vm_exec_listen(const struct oci_state *st, struct lvm_err *e)
{
    struct sockaddr_un a;
    int dirfd;
    if (oci_vm_exec_addr(st, &dirfd, &a, e) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(a.sun_path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        fchmodat(dirfd, OCI_VM_EXEC_SOCK, 0600, 0) < 0 || listen(fd, 4) < 0) {
        lvm_err_set(e, errno, "exec channel %s/%s", st->dir, OCI_VM_EXEC_SOCK);
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    close(dirfd);
    return fd;
}

/* In the supervisor: close what the runtime had open that the container
 * does not need (the rootfs and program fds, the --log file), so that a
 * long-lived container holds nothing of them. */
static void keep_only(const struct oci_vm_super *sv, int ready)
{
    int keep[] = {0,
                  1,
                  2,
                  sv->gate_fd,
                  sv->console,
                  ready,
                  sv->cfg.tap_fd,
                  sv->cfg.disks[0].fd,
                  sv->cfg.exec_fd};
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == self)
            continue;
        int kept = 0;
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
            kept |= keep[i] == fd;
        if (!kept)
            close(fd);
    }
    closedir(d);
}

/* Fork the supervisor; wait until it is in its cgroup. */
static int fork_super(struct oci_vm_super *sv, const struct cgroup *cg,
                      pid_t *pid, char *err, size_t errlen)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return oci_errf(err, errlen, "pipe: %s", strerror(errno));
    pid_t child = fork();
    if (child < 0) {
        close(p[0]);
        close(p[1]);
        return oci_errf(err, errlen, "fork: %s", strerror(errno));
    }
    if (child == 0) {
        close(p[0]);
        keep_only(sv, p[1]);
        struct lvm_err e;
        /* Into the cgroup before QEMU exists: all it allocates is
         * charged there. */
        if (cgroup_attach(cg, getpid(), &e) < 0)
            _exit(125);
        sv->ready_fd = p[1];
        oci_vm_supervise(sv);
    }
    close(p[1]);
    char b;
    ssize_t n;
    do
        n = read(p[0], &b, 1);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n != 1) {
        waitpid(child, NULL, 0);
        return oci_errf(err, errlen,
                        "the supervisor could not join the cgroup %s/%s",
                        cg->parent, cg->name);
    }
    *pid = child;
    return 0;
}

int oci_vm_create(struct oci_state *st, const struct oci_config *c,
                  const char *cfg_path, const char *rootfs, int gate_fd,
                  int console, char *err, size_t errlen)
{
    struct oci_vm_conf vc = {0};
    struct tinyx_kernel k;
    char **mods = NULL;
    size_t nmods = 0, len = 0;
    int r = -1, image_fd = -1, rootfd = -1;
    struct oci_net_lease net = {.tap_fd = -1};
    int have_cg = 0;
    struct cgroup cg;
    char *text = read_text(cfg_path, &len);
    if (!text)
        return oci_errf(err, errlen, "read %s: %s", cfg_path, strerror(errno));
    if (oci_vm_conf_build(text, len, &vc, err, errlen) < 0)
        goto out;
    /* File binds are copied; a directory is refused, naming it. */
    for (int i = 0; i < vc.nfiles; i++) {
        struct stat fst;
        if (stat(vc.files[i].source, &fst) == 0 && S_ISDIR(fst.st_mode)) {
            oci_errf(
                err, errlen,
                "mount %s: %s is a directory: directory bind mounts are not "
                "supported in a VM container (file binds are copied)",
                vc.files[i].destination, vc.files[i].source);
            goto out;
        }
    }
    char init[PATH_MAX];
    if (find_init(init, sizeof init, err, errlen) < 0 ||
        pick_kernel(&k, &mods, &nmods, err, errlen) < 0)
        goto out;
    uint64_t ram;
    if (pick_ram(&k, c->memory_limit, &ram, err, errlen) < 0)
        goto out;
    /* The root image, by the tree's key; the file binds' places are
     * not part of it (they are copies). */
    const char *skip[OCI_VM_MAX_FILES];
    for (int i = 0; i < vc.nfiles; i++)
        skip[i] = vc.files[i].destination;
    char key[65], image[PATH_MAX];
    rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        oci_errf(err, errlen, "rootfs (%s) does not exist: %s", rootfs,
                 strerror(errno));
        goto out;
    }
    if (oci_vm_tree_key(rootfd, skip, vc.nfiles, key, err, errlen) < 0 ||
        oci_vm_image(rootfs, key, image, sizeof image, err, errlen) < 0)
        goto out;
    /* Held open: a cache entry removed before `start` still boots. */
    image_fd = open(image, O_RDONLY | O_CLOEXEC);
    if (image_fd < 0) {
        oci_errf(err, errlen, "%s: %s", image, strerror(errno));
        goto out;
    }
    char initrd[PATH_MAX + 16];
    oci_state_file(st, "vm.initrd", initrd, sizeof initrd);
    if (oci_vm_initrd_write(initrd, init, mods, nmods, &vc, err, errlen) < 0)
        goto out;
    struct lvm_err e = {0};
    int have_net = oci_net_take(c->netns_path, &net, &e);
    if (have_net < 0) {
        oci_errf(err, errlen, "%s", e.msg);
        goto out;
    }
    /* No pids limit: QEMU has threads. */
    struct cgroup_limits lim = {
        .memory_max = c->memory_limit,
        .cpu_quota_us = c->cpus > 0 ? (uint64_t)(c->cpus * 100000) : 0,
        .cpu_period_us = c->cpus > 0 ? 100000 : 0,
    };
    if (cgroup_create_at(&cg, st->cg_parent, st->cg_name, &lim, &e) < 0) {
        oci_errf(err, errlen, "cgroup: %s", e.msg);
        goto out;
    }
    have_cg = 1;
    struct oci_vm_super sv = {.gate_fd = gate_fd, .console = console};
    struct qemu_vm_config *q = &sv.cfg;
    q->name = st->id;
    q->kernel = k.path;
    q->initrd = initrd;
    q->acpi = k.acpi;
    q->mem = ram;
    q->cpus = c->cpus > 1 ? (unsigned)c->cpus : 1;
    q->quiet = 1;
    /* The console is the container's output: the kernel's own lines
     * ("reboot: Restarting system") only with --debug. */
    q->append = oci_g.debug ? NULL : "loglevel=0";
    q->die_with_parent = 1;
    q->tap_fd = -1;
    q->disks[0] = (struct qemu_disk){.path = image,
                                     .fd = image_fd,
                                     .readonly = 1,
                                     .serial = OCI_VM_ROOT_SERIAL};
    q->ndisks = 1;
    if (have_net) {
        q->net = QEMU_NET_TAP;
        q->tap_fd = net.tap_fd;
        snprintf(q->guest_ip, sizeof q->guest_ip, "%s", net.ip);
        snprintf(q->gateway, sizeof q->gateway, "%s", net.gateway);
        snprintf(q->mac, sizeof q->mac, "%s", net.mac);
    }
    /* The exec channel: QEMU serves it on a socket in the state
     * directory, where `exec` connects (oci/cmd_exec.c). */
    q->exec = 1;
    q->exec_fd = oci_vm_exec_listen(st, &e);
    if (q->exec_fd < 0) {
        oci_errf(err, errlen, "%s", e.msg);
        goto out;
    }
    int forked = fork_super(&sv, &cg, &st->pid, err, errlen);
    close(q->exec_fd); /* the supervisor's now */
    if (forked < 0)
        goto out;
    st->pid_start = oci_pid_start(st->pid, NULL);
    snprintf(st->monitor, sizeof st->monitor, "qemu");
    st->ram_size = ram;
    oci_debug("VM container %s: image %s, kernel %s (%s), %zu modules", st->id,
              image, k.path, k.kind, nmods);
    have_cg = 0; /* the supervisor's now */
    r = 0;
out:
    if (have_cg) {
        struct lvm_err ignore;
        cgroup_destroy(&cg, &ignore);
    }
    if (r < 0) {
        char path[PATH_MAX + 16];
        oci_state_file(st, "vm.initrd", path, sizeof path);
        unlink(path);
    }
    if (net.tap_fd >= 0)
        close(net.tap_fd);
    if (image_fd >= 0)
        close(image_fd);
    if (rootfd >= 0)
        close(rootfd);
    free_mods(mods, nmods);
    oci_vm_conf_free(&vc);
    free(text);
    return r;
}
