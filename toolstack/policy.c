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
 * Everything a guest may ask for beyond the hypercalls is trapped (SIGSYS,
 * the filter's default action) to the SDK, which serves it or answers an
 * errno inside the guest (include/lightvm/syscalls.h, guest/unserved.c):
 * a trapped call never runs in the host kernel. What signals an attack is
 * killed here instead, so that the kernel's audit record, not the guest,
 * names it: the table's fatal calls, and the calls the SDK itself makes
 * as hypercalls (read, write, pread64, pwrite64, ppoll, arch_prctl) on the
 * host's fds or with arguments the hypercalls never use: the SDK must
 * never be the one tricked into making them. The host's fds are 0-63
 * (LVM_SDK_FD_MIN): the SDK's own (a file tree's) start at 64 and are
 * trapped.
 */
#define KILL_IF(name, ...) RULE_C(ctx, kill, name, __VA_ARGS__)

/* Kill (name) on host fds first..63 (first is 0, 1 or 3): one rule per
 * low bit, each "bits above 5 clear and this bit set", since a rule can
 * test an argument once. */
static int kill_host_fds(scmp_filter_ctx ctx, int nr, int first,
                         struct lvm_err *err)
{
    const uint32_t kill = SCMP_ACT_KILL_PROCESS;
    const scmp_datum_t high = ~(scmp_datum_t)(LVM_SDK_FD_MIN - 1);
    int rc = 0;
    if (first == 0)
        rc =
            seccomp_rule_add(ctx, kill, nr, 1, A0(SCMP_CMP_MASKED_EQ, high, 0));
    for (int b = first == 1 ? 0 : 2; !rc && first && b < 6; b++)
        rc =
            seccomp_rule_add(ctx, kill, nr, 1,
                             A0(SCMP_CMP_MASKED_EQ, high | (1u << b), 1u << b));
    if (!rc && first == 3) /* 3 itself: bits 0 and 1 */
        rc = seccomp_rule_add(ctx, kill, nr, 1, A0(SCMP_CMP_EQ, 3));
    if (rc < 0)
        return lvm_err_set(err, -rc, "seccomp rule for system call %d", nr);
    return 0;
}

static int add_killed(scmp_filter_ctx ctx, const struct policy_params *p,
                      struct lvm_err *err)
{
    const uint32_t kill = SCMP_ACT_KILL_PROCESS;
    /* The hypercalls' system calls on the host's fds, beyond the rules
     * above that allow them: stdin reads (as empty) and console writes
     * over the hypercall's limit (split) are the SDK's. */
    if (kill_host_fds(ctx, SCMP_SYS(read), 1, err) < 0 ||
        kill_host_fds(ctx, SCMP_SYS(write), 3, err) < 0 ||
        kill_host_fds(ctx, SCMP_SYS(pread64), 0, err) < 0 ||
        kill_host_fds(ctx, SCMP_SYS(pwrite64), 0, err) < 0)
        return -1;
    KILL_IF(write, 1, A0(SCMP_CMP_EQ, 0));
    /* The yield hypercall's ppoll, with a signal mask or too many fds. */
    KILL_IF(ppoll, 1, A3(SCMP_CMP_NE, 0));
    KILL_IF(ppoll, 1, A1(SCMP_CMP_GT, LVM_MAX_EVTCHN));
    /* arch_prctl: only ARCH_SET_FS, the TLS set-up. */
    KILL_IF(arch_prctl, 1, A0(SCMP_CMP_NE, 0x1002));
    /* Executable memory. */
    KILL_IF(mmap, 1, A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
    KILL_IF(mprotect, 1, A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
    KILL_IF(pkey_mprotect, 1, A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
    /* Signals to anything but the guest (pid 1, or 0: its group) and its
     * own threads (ids below LVM_TID_LIMIT). */
    KILL_IF(kill, 1, A0(SCMP_CMP_GT, 1));
    KILL_IF(tkill, 1, A0(SCMP_CMP_GE, LVM_TID_LIMIT));
    KILL_IF(tgkill, 1, A0(SCMP_CMP_NE, 1));
    KILL_IF(tgkill, 1, A1(SCMP_CMP_GE, LVM_TID_LIMIT));
    /* Raw and packet sockets (other odd kinds: the SDK ends the guest). */
    KILL_IF(socket, 1, A0(SCMP_CMP_EQ, AF_PACKET));
    KILL_IF(socket, 1, A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW));
    KILL_IF(socket, 1, A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_PACKET));
    KILL_IF(socketpair, 1, A0(SCMP_CMP_EQ, AF_PACKET));
    KILL_IF(socketpair, 1, A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW));
    KILL_IF(socketpair, 1, A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_PACKET));
    /* The table's fatal calls, whatever their arguments. */
    static const struct {
        int nr, cls;
        const char *name;
    } table[] = {
#define ROW(nr, name, cls, errno_) {nr, cls, name},
        LVM_SYSCALL_TABLE(ROW)
#undef ROW
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (table[i].cls != LVM_SC_FATAL)
            continue;
        int rc = seccomp_rule_add(ctx, kill, table[i].nr, 0);
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
        return lvm_err_invalid(err, "exported filter has a bad size");
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
        return lvm_err_invalid(err, "too many devices for the policy");
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
    /* Trap by default: see add_killed. Other architectures (i386 through
     * int 0x80, x32) are killed. */
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx)
        return lvm_err_set(err, ENOMEM, "seccomp_init");
    int r = -1;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) <
            0 ||
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0) {
        lvm_err_invalid(err, "seccomp attributes");
        goto out;
    }
    if (add_hypercalls(ctx, p, err) < 0 || add_killed(ctx, p, err) < 0)
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
