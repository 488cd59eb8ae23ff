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

#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* The guest's file tree (guest/fs_*.c): files in guest RAM, served by
 * the SDK. A path call always traps: the guest has no host files to name.
 * A call on a descriptor traps only for the tree's own descriptors
 * (LVM_FS_FD_BASE and up; every host fd of the guest's process is below),
 * so a file call never runs in the host kernel and a call on a host fd
 * other than a hypercall's is still killed. */
static int add_files(scmp_filter_ctx ctx, struct lvm_err *err)
{
    const uint32_t trap = SCMP_ACT_TRAP;
    static const char *const paths[] = {
        "open",       "creat",      "openat",    "stat",      "lstat",
        "newfstatat", "statx",      "access",    "faccessat", "faccessat2",
        "mkdir",      "mkdirat",    "unlink",    "rmdir",     "unlinkat",
        "rename",     "renameat",   "renameat2", "getcwd",    "chdir",
        "readlink",   "readlinkat", "truncate",  "chmod",     "fchmodat",
        "utimensat",
    };
    static const char *const onfd[] = {
        "close",     "read",      "write",     "readv",  "writev", "pread64",
        "pwrite64",  "preadv",    "pwritev",   "lseek",  "fstat",  "getdents64",
        "fcntl",     "ioctl",     "ftruncate", "fchmod", "fchdir", "fsync",
        "fdatasync", "fadvise64", "flock",     "dup",    "dup2",   "dup3",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        int rc = seccomp_rule_add(ctx, trap,
                                  seccomp_syscall_resolve_name(paths[i]), 0);
        if (rc < 0)
            return lvm_err_set(err, -rc, "seccomp rule for %s", paths[i]);
    }
    for (size_t i = 0; i < sizeof onfd / sizeof *onfd; i++) {
        int rc =
            seccomp_rule_add(ctx, trap, seccomp_syscall_resolve_name(onfd[i]),
                             1, A0(SCMP_CMP_GE, LVM_FS_FD_BASE));
        if (rc < 0)
            return lvm_err_set(err, -rc, "seccomp rule for %s", onfd[i]);
    }
    return 0;
}

/* musl's own system calls, answered by the SDK inside the guest. A trapped
 * call never runs in the host kernel. Calls that could be an escape
 * attempt (mmap of executable memory, kill of another process, writes to
 * a foreign fd) are deliberately not trapped: the default kills them. */
static int add_served(scmp_filter_ctx ctx, const struct policy_params *p,
                      struct lvm_err *err)
{
    const uint32_t trap = SCMP_ACT_TRAP;
    /* stdio: stdin reads as empty, the console is fds 1 and 2. */
    RULE_C(ctx, trap, read, 1, A0(SCMP_CMP_EQ, 0));
    RULE_C(ctx, trap, readv, 1, A0(SCMP_CMP_EQ, 0));
    for (int fd = 1; fd <= 2; fd++) {
        RULE_C(ctx, trap, writev, 1, A0(SCMP_CMP_EQ, fd));
        /* A console write over the hypercall's limit: the SDK splits it. */
        RULE_C(ctx, trap, write, 2, A0(SCMP_CMP_EQ, fd),
               A2(SCMP_CMP_GT, LVM_CONSOLE_WRITE_MAX));
    }
    RULE_C(ctx, trap, ioctl, 1, A0(SCMP_CMP_LE, 2));
    RULE_C(ctx, trap, fstat, 1, A0(SCMP_CMP_LE, 2));
    RULE_C(ctx, trap, lseek, 1, A0(SCMP_CMP_LE, 2));
    RULE_C(ctx, trap, fcntl, 1, A0(SCMP_CMP_LE, 2));
    RULE_C(ctx, trap, close, 1, A0(SCMP_CMP_LE, 2));
    /* Memory: brk and anonymous, non-executable mmap from guest RAM. */
    RULE(ctx, trap, brk, 0);
    RULE_C(ctx, trap, mmap, 1, A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    RULE(ctx, trap, munmap, 0);
    RULE(ctx, trap, mremap, 0);
    RULE(ctx, trap, madvise, 0);
    /* One thread, pid 1. */
    if (p->fsgsbase)
        RULE_C(ctx, trap, arch_prctl, 1, A0(SCMP_CMP_EQ, 0x1002));
    RULE(ctx, trap, set_tid_address, 0);
    RULE(ctx, trap, gettid, 0);
    RULE(ctx, trap, getpid, 0);
    RULE(ctx, trap, getppid, 0);
    RULE(ctx, trap, getuid, 0);
    RULE(ctx, trap, geteuid, 0);
    RULE(ctx, trap, getgid, 0);
    RULE(ctx, trap, getegid, 0);
    RULE(ctx, trap, futex, 0);
    RULE(ctx, trap, sched_yield, 0);
    RULE(ctx, trap, sched_getaffinity, 0);
    RULE(ctx, trap, membarrier, 0);
    /* Signals, from the guest to itself only. */
    RULE(ctx, trap, rt_sigaction, 0);
    RULE(ctx, trap, rt_sigprocmask, 0);
    RULE(ctx, trap, sigaltstack, 0);
    RULE_C(ctx, trap, tkill, 1, A0(SCMP_CMP_EQ, 1));
    RULE_C(ctx, trap, tgkill, 2, A0(SCMP_CMP_EQ, 1), A1(SCMP_CMP_EQ, 1));
    RULE_C(ctx, trap, kill, 1, A0(SCMP_CMP_EQ, 1));
    RULE_C(ctx, trap, kill, 1, A0(SCMP_CMP_EQ, 0));
    /* Time: other clocks, sleeping. */
    RULE_C(ctx, trap, clock_gettime, 1, A0(SCMP_CMP_GT, 1));
    RULE(ctx, trap, clock_getres, 0);
    RULE(ctx, trap, gettimeofday, 0);
    RULE(ctx, trap, time, 0);
    RULE(ctx, trap, nanosleep, 0);
    RULE(ctx, trap, clock_nanosleep, 0);
    /* Entropy and system information. */
    RULE(ctx, trap, getrandom, 0);
    RULE(ctx, trap, uname, 0);
    RULE(ctx, trap, sysinfo, 0);
    RULE(ctx, trap, prlimit64, 0);
    RULE(ctx, trap, getrlimit, 0);
    RULE(ctx, trap, exit, 0);
    return add_files(ctx, err);
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
    if (add_hypercalls(ctx, p, err) < 0 || add_served(ctx, p, err) < 0)
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
