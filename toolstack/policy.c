/*
 * policy.c: build a proc guest's seccomp filter with libseccomp.
 *
 * The filter is generated here, in the toolstack, and exported as plain
 * BPF; the shell loads it with one seccomp() call just before the guest's
 * first instruction, so no library runs in the guest's process. libseccomp
 * handles what is easy to get wrong by hand: the architecture check (i386
 * `int 0x80` and x32 calls are killed), 64-bit argument comparisons and a
 * balanced decision tree.
 */
#include "toolstack/policy.h"

#include <lightvm/abi.h>
#include <lightvm/syscalls.h>

#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define A0 SCMP_A0
#define A1 SCMP_A1
#define A2 SCMP_A2
#define A3 SCMP_A3

#define RULE(ctx, act, name, ...)                                              \
    do {                                                                       \
        int rc_ = seccomp_rule_add(ctx, act, SCMP_SYS(name), __VA_ARGS__ + 0); \
        if (rc_ < 0)                                                           \
            return lvm_err_set(err, -rc_, "seccomp rule for %s", #name);       \
    } while (0)

/* Rules with argument conditions: count, then the conditions. */
#define RULE_C(ctx, act, name, n, ...)                                         \
    do {                                                                       \
        int rc_ = seccomp_rule_add(ctx, act, SCMP_SYS(name), n, __VA_ARGS__);  \
        if (rc_ < 0)                                                           \
            return lvm_err_set(err, -rc_, "seccomp rule for %s", #name);       \
    } while (0)

/* The hypercalls: real system calls on the guest's own fds. */
static int add_hypercalls(scmp_filter_ctx ctx, const struct policy_params *p,
                          struct lvm_err *err)
{
    const uint32_t allow = SCMP_ACT_ALLOW;
    /* Console write: fds 1 and 2 are the console, one bounded write. */
    for (int fd = 1; fd <= 2; fd++)
        RULE_C(ctx, allow, write, 2, A0(SCMP_CMP_EQ, fd),
               A2(SCMP_CMP_LE, LVM_CONSOLE_WRITE_MAX));
    /* Clocks: monotonic and wall clock only. */
    RULE_C(ctx, allow, clock_gettime, 1, A0(SCMP_CMP_EQ, 0));
    RULE_C(ctx, allow, clock_gettime, 1, A0(SCMP_CMP_EQ, 1));
    /* Yield: wait on the guest's own event fds (it has no others), with no
     * change to the signal mask. */
    RULE_C(ctx, allow, ppoll, 2, A1(SCMP_CMP_LE, LVM_MAX_EVTCHN),
           A3(SCMP_CMP_EQ, 0));
    /* Exit and abort. */
    RULE(ctx, allow, exit_group, 0);
    /* Return from the SDK's SIGSYS handler. */
    RULE(ctx, allow, rt_sigreturn, 0);
    /* TLS set-up, where the CPU cannot let the SDK do it itself. */
    if (!p->fsgsbase)
        RULE_C(ctx, allow, arch_prctl, 1, A0(SCMP_CMP_EQ, 0x1002));
    /* Control device: consume its eventfd, 8 bytes at a time. */
    if (p->control_fd >= 0)
        RULE_C(ctx, allow, read, 2, A0(SCMP_CMP_EQ, (unsigned)p->control_fd),
               A2(SCMP_CMP_EQ, 8));
    for (unsigned i = 0; i < p->ndevices; i++) {
        const struct policy_device *d = &p->dev[i];
        unsigned fd = (unsigned)d->fd;
        if (d->type == LVM_DEV_NET) {
            /* One Ethernet frame per call on its own tap. */
            RULE_C(ctx, allow, read, 2, A0(SCMP_CMP_EQ, fd),
                   A2(SCMP_CMP_LE, LVM_NET_FRAME_MAX));
            RULE_C(ctx, allow, write, 2, A0(SCMP_CMP_EQ, fd),
                   A2(SCMP_CMP_LE, LVM_NET_FRAME_MAX));
        } else if (d->type == LVM_DEV_BLOCK) {
            /* One whole block inside the device per call. */
            if (d->capacity < d->block_size)
                continue;
            uint64_t last = d->capacity - d->block_size;
            RULE_C(ctx, allow, pread64, 3, A0(SCMP_CMP_EQ, fd),
                   A2(SCMP_CMP_EQ, d->block_size), A3(SCMP_CMP_LE, last));
            if (!d->readonly)
                RULE_C(ctx, allow, pwrite64, 3, A0(SCMP_CMP_EQ, fd),
                       A2(SCMP_CMP_EQ, d->block_size), A3(SCMP_CMP_LE, last));
        }
    }
    return 0;
}

/*
 * Everything else a guest may ask for is trapped (SIGSYS) to the SDK,
 * which serves it or answers an errno inside the guest
 * (include/lightvm/syscalls.h, guest/unserved.c): a trapped call never
 * runs in the host kernel. What signals an attack (execve, ptrace, mount,
 * bpf, ...) is not trapped: the default action kills the guest, and the
 * kernel's audit record names the call. So is any use of the calls the
 * SDK itself makes as hypercalls (read, write, pread64, pwrite64, ppoll,
 * clock_gettime, arch_prctl) outside the arguments allowed above or
 * trapped below: the SDK must never be the one tricked into making them.
 */
#define TRAP_IF(name, ...) RULE_C(ctx, trap, name, __VA_ARGS__)

static int add_trapped_args(scmp_filter_ctx ctx, const struct policy_params *p,
                            struct lvm_err *err)
{
    const uint32_t trap = SCMP_ACT_TRAP;
    const scmp_datum_t sdk_fd = LVM_SDK_FD_MIN;
    /* stdio: stdin reads as empty; a console write over the hypercall's
     * limit is split by the SDK. */
    TRAP_IF(read, 1, A0(SCMP_CMP_EQ, 0));
    for (int fd = 1; fd <= 2; fd++)
        TRAP_IF(write, 2, A0(SCMP_CMP_EQ, fd),
                A2(SCMP_CMP_GT, LVM_CONSOLE_WRITE_MAX));
    /* The SDK's own fds (its file tree): never the host's. */
    TRAP_IF(read, 1, A0(SCMP_CMP_GE, sdk_fd));
    TRAP_IF(write, 1, A0(SCMP_CMP_GE, sdk_fd));
    TRAP_IF(pread64, 1, A0(SCMP_CMP_GE, sdk_fd));
    TRAP_IF(pwrite64, 1, A0(SCMP_CMP_GE, sdk_fd));
    /* Memory from guest RAM, never executable. */
    TRAP_IF(mmap, 1, A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    TRAP_IF(mprotect, 1, A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    TRAP_IF(pkey_mprotect, 1, A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* TLS, where the SDK sets it with wrfsbase. */
    if (p->fsgsbase)
        TRAP_IF(arch_prctl, 1, A0(SCMP_CMP_EQ, 0x1002));
    /* Other clocks (the CPU-time ones are the SDK's). */
    TRAP_IF(clock_gettime, 1, A0(SCMP_CMP_GT, 1));
    /* Signals, from the guest to itself and its own threads only. */
    const scmp_datum_t not_tid = ~(scmp_datum_t)(LVM_TID_LIMIT - 1);
    TRAP_IF(kill, 1, A0(SCMP_CMP_EQ, 1));
    TRAP_IF(kill, 1, A0(SCMP_CMP_EQ, 0));
    TRAP_IF(tkill, 1, A0(SCMP_CMP_MASKED_EQ, not_tid, 0));
    TRAP_IF(tgkill, 2, A0(SCMP_CMP_EQ, 1), A1(SCMP_CMP_MASKED_EQ, not_tid, 0));
    /* Sockets the SDK refuses; raw and packet ones are fatal. */
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RDM,
                                SOCK_SEQPACKET, SOCK_DCCP};
    for (unsigned i = 0; i < sizeof types / sizeof *types; i++) {
        TRAP_IF(socket, 2, A0(SCMP_CMP_NE, AF_PACKET),
                A1(SCMP_CMP_MASKED_EQ, 0xf, types[i]));
        TRAP_IF(socketpair, 2, A0(SCMP_CMP_NE, AF_PACKET),
                A1(SCMP_CMP_MASKED_EQ, 0xf, types[i]));
    }
    return 0;
}

/* Every LVM_SC_TRAP call of the table, whatever its arguments. */
static int add_trapped(scmp_filter_ctx ctx, struct lvm_err *err)
{
    static const struct {
        int nr, cls;
        const char *name;
    } table[] = {
#define ROW(nr, name, cls, errno_) {nr, cls, name},
        LVM_SYSCALL_TABLE(ROW)
#undef ROW
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (table[i].cls != LVM_SC_TRAP)
            continue;
        int rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, table[i].nr, 0);
        if (rc < 0)
            return lvm_err_set(err, -rc, "seccomp rule for %s", table[i].name);
    }
    return 0;
}

int policy_export_bpf(void *ctx, struct sock_filter **prog, size_t *len,
                      struct lvm_err *err)
{
    /* libseccomp 2.5 exports to an fd only. */
    int fd = memfd_create("lightvm-bpf", MFD_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "memfd for the seccomp filter");
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) {
        close(fd);
        return lvm_err_set(err, -rc, "export the seccomp filter");
    }
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % (off_t)sizeof(struct sock_filter)) {
        close(fd);
        return lvm_err_set(err, EINVAL, "exported filter has a bad size");
    }
    struct sock_filter *buf = malloc((size_t)size);
    if (!buf || pread(fd, buf, (size_t)size, 0) != size) {
        free(buf);
        close(fd);
        return lvm_err_set(err, errno ? errno : EIO, "read the filter back");
    }
    close(fd);
    *prog = buf;
    *len = (size_t)size / sizeof(struct sock_filter);
    return 0;
}

/*
 * Filters depend only on the device set, so a daemon creating thousands of
 * guests compiles each one once. A small most-recently-used cache; callers
 * must zero their params before filling them (they are compared whole).
 */
#define CACHE_SLOTS 8
static struct {
    struct policy_params key;
    struct sock_filter *prog;
    size_t len;
    unsigned long used;
} cache[CACHE_SLOTS];
static unsigned long cache_clock;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int cache_get(const struct policy_params *p, struct sock_filter **prog,
                     size_t *len)
{
    int hit = 0;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS && !hit; i++) {
        if (!cache[i].prog || memcmp(&cache[i].key, p, sizeof *p))
            continue;
        *prog = malloc(cache[i].len * sizeof **prog);
        if (*prog) {
            memcpy(*prog, cache[i].prog, cache[i].len * sizeof **prog);
            *len = cache[i].len;
            cache[i].used = ++cache_clock;
            hit = 1;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const struct policy_params *p,
                      const struct sock_filter *prog, size_t len)
{
    struct sock_filter *copy = malloc(len * sizeof *copy);
    if (!copy)
        return;
    memcpy(copy, prog, len * sizeof *copy);
    pthread_mutex_lock(&cache_lock);
    int victim = 0;
    for (int i = 1; i < CACHE_SLOTS; i++)
        if (cache[i].used < cache[victim].used)
            victim = i;
    free(cache[victim].prog);
    cache[victim].key = *p;
    cache[victim].prog = copy;
    cache[victim].len = len;
    cache[victim].used = ++cache_clock;
    pthread_mutex_unlock(&cache_lock);
}

static int build(const struct policy_params *p, struct sock_filter **prog,
                 size_t *len, struct lvm_err *err);

int policy_proc_build(const struct policy_params *p, struct sock_filter **prog,
                      size_t *len, struct lvm_err *err)
{
    if (p->ndevices > POLICY_MAX_DEVICES)
        return lvm_err_set(err, EINVAL, "too many devices for the policy");
    if (cache_get(p, prog, len))
        return 0;
    if (build(p, prog, len, err) < 0)
        return -1;
    cache_put(p, *prog, *len);
    return 0;
}

static int build(const struct policy_params *p, struct sock_filter **prog,
                 size_t *len, struct lvm_err *err)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx)
        return lvm_err_set(err, ENOMEM, "seccomp_init");
    int r = -1;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) <
            0 ||
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0) {
        lvm_err_set(err, EINVAL, "seccomp attributes");
        goto out;
    }
    if (add_hypercalls(ctx, p, err) < 0 || add_trapped_args(ctx, p, err) < 0 ||
        add_trapped(ctx, err) < 0)
        goto out;
    r = policy_export_bpf(ctx, prog, len, err);
out:
    seccomp_release(ctx);
    return r;
}

const char *policy_syscall_name(long nr, char *buf, size_t len)
{
    char *name =
        nr >= 0 && nr < 1024
            ? seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, (int)nr)
            : NULL;
    if (name)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "syscall-%ld", nr);
    free(name);
    return buf;
}
