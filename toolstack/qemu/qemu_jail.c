/*
 * qemu_jail.c: QEMU's sandbox (see qemu_jail.h and docs/security.md).
 * The parent resolves everything that needs the C library (the binary,
 * the host's / entries, the id base); the child only makes system calls.
 */
#include "toolstack/qemu/qemu_jail.h"
#include "toolstack/host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The binary as a real path, which must lie under /usr: that is all of
 * the host's tree QEMU's root holds (its libraries, modules, firmware). */
static int find_exe(const char *name, char *out, struct lvm_err *err)
{
    char cand[PATH_MAX];
    int found = 0;
    if (strchr(name, '/')) {
        found = realpath(name, out) != NULL;
    } else {
        const char *path = getenv("PATH");
        if (!path || !*path)
            path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *p = path; !found && *p;) {
            size_t n = strcspn(p, ":");
            snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, name);
            found = n && access(cand, X_OK) == 0 && realpath(cand, out);
            p += n + (p[n] == ':');
        }
    }
    if (!found)
        return lvm_err_set(err, ENOENT,
                           "run %s (is qemu-system-x86 installed?)", name);
    if (strncmp(out, "/usr/", 5))
        return lvm_err_invalid(err,
                               "QEMU at %s: its sandbox holds only /usr (read-"
                               "only), so QEMU must be installed there",
                               out);
    return 0;
}

/* The loader's directories at the top of the host's tree. */
static void find_tops(struct qemu_jail *j)
{
    static const char *const names[QEMU_JAIL_TOP_MAX] = {"lib", "lib64",
                                                         "lib32", "libx32"};
    j->ntop = 0;
    for (int i = 0; i < QEMU_JAIL_TOP_MAX; i++) {
        char path[16];
        snprintf(path, sizeof path, "/%s", names[i]);
        struct stat st;
        if (lstat(path, &st) < 0)
            continue;
        struct qemu_jail_top *t = &j->top[j->ntop];
        snprintf(t->name, sizeof t->name, "%s", names[i]);
        t->target[0] = 0;
        if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(path, t->target, sizeof t->target - 1);
            if (n <= 0)
                continue;
            t->target[n] = 0;
        } else if (!S_ISDIR(st.st_mode)) {
            continue;
        }
        j->ntop++;
    }
}

int qemu_jail_prepare(struct qemu_jail *j, const char *qemu, int kvm, int netns,
                      const int boot_fd[2], struct lvm_err *err)
{
    static const char *const what[2] = {"kernel", "initramfs"};
    memset(j, 0, sizeof *j);
    j->boot_tree[0] = j->boot_tree[1] = -1;
    if (geteuid() != 0)
        return 0; /* unprivileged already; nothing to become */
    j->on = 1;
    j->kvm = kvm;
    j->ns_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
                  (netns ? CLONE_NEWNET : 0);
    char run[PATH_MAX];
    if (find_exe(qemu, j->exe, err) < 0 ||
        host_root_dir(run, sizeof run, j->root, sizeof j->root, err) < 0 ||
        host_uid_base(&j->uid_base, err) < 0)
        return -1;
    j->cap_last = CAP_LAST_CAP;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f) {
        if (fscanf(f, "%d", &j->cap_last) != 1 || j->cap_last < 0)
            j->cap_last = CAP_LAST_CAP;
        fclose(f);
    }
    find_tops(j);
    /* A boot file QEMU's uid may read goes in as it is: a read-only
     * mount of the very file opened, made here (a mount of our namespace
     * cannot be bound into another by path) and attached by the child.
     * One only its owner may read (a private image) is copied into
     * QEMU's root, where it costs its size in the guest's memory. */
    unsigned long long size = 64 << 10;
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (fstat(boot_fd[i], &st) < 0)
            return lvm_err_set(err, errno, "stat the %s", what[i]);
        if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IROTH)) {
            size += (unsigned long long)st.st_size + 4096;
            continue;
        }
        struct mount_attr ro = {.attr_set =
                                    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                    MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
        j->boot_tree[i] =
            open_tree(boot_fd[i], "",
                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (j->boot_tree[i] < 0 ||
            mount_setattr(j->boot_tree[i], "", AT_EMPTY_PATH, &ro, sizeof ro) <
                0)
            return lvm_err_set(err, errno, "mount the %s for QEMU", what[i]);
    }
    snprintf(j->tmpfs_opts, sizeof j->tmpfs_opts,
             "size=%llu,nr_inodes=64,mode=0755", size);
    return 0;
}

void qemu_jail_release(struct qemu_jail *j)
{
    for (int i = 0; i < 2; i++)
        if (j->boot_tree[i] >= 0)
            close(j->boot_tree[i]);
    j->boot_tree[0] = j->boot_tree[1] = -1;
}

/* ---- the child ------------------------------------------------------- */

enum {
    STEP_CGROUPNS,
    STEP_PID,
    STEP_PRIVATE,
    STEP_ROOT,
    STEP_USR,
    STEP_LIB,
    STEP_DEV,
    STEP_BOOT,
    STEP_RDONLY,
    STEP_PIVOT,
    STEP_CAPS,
    STEP_IDS,
    STEP_COUNT
};

static const char *const step_names[STEP_COUNT] = {
    [STEP_CGROUPNS] = "create its cgroup namespace",
    [STEP_PID] = "find its pid",
    [STEP_PRIVATE] = "make its mounts private",
    [STEP_ROOT] = "mount its root",
    [STEP_USR] = "bind /usr into its root",
    [STEP_LIB] = "repeat the host's library directories",
    [STEP_DEV] = "bind its devices",
    [STEP_BOOT] = "put the kernel and initramfs in its root",
    [STEP_RDONLY] = "make its root read-only",
    [STEP_PIVOT] = "enter its root",
    [STEP_CAPS] = "drop its capabilities",
    [STEP_IDS] = "become its own user",
};

const char *qemu_jail_step_name(int step)
{
    return step >= 0 && step < STEP_COUNT ? step_names[step] : "set up";
}

/* Our pid in the host's pid namespace: /proc is still the host's. */
static long host_pid(void)
{
    char buf[24];
    ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
    if (n <= 0)
        return -1;
    long pid = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] < '0' || buf[i] > '9') {
            errno = EINVAL;
            return -1;
        }
        pid = pid * 10 + (buf[i] - '0');
    }
    return pid;
}

/* An empty file or directory to mount on. */
static int mount_point(const char *name, int dir)
{
    if (dir)
        return mkdir(name, 0755) < 0 && errno != EEXIST ? -1 : 0;
    int fd = open(name, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* Bind (src) on (name), read-only and without set-uid if (ro). */
static int bind(const char *src, const char *name, int dir, int ro)
{
    if (mount_point(name, dir) < 0 || mount(src, name, NULL, MS_BIND, NULL) < 0)
        return -1;
    if (ro && mount(NULL, name, NULL,
                    MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                    NULL) < 0)
        return -1;
    return 0;
}

/* A private copy of (from) as (name), readable by QEMU's uid. */
static int copy_in(int from, const char *name)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return -1;
    off_t off = 0;
    ssize_t n;
    do
        n = sendfile(fd, from, &off, 1 << 30);
    while (n > 0 || (n < 0 && errno == EINTR));
    int e = errno;
    close(fd);
    errno = e;
    return n < 0 ? -1 : 0;
}

#define FAIL(s)                                                                \
    do {                                                                       \
        *step = (s);                                                           \
        return -1;                                                             \
    } while (0)

/* Its root: a small tmpfs with /usr, the loader's directories, three
 * devices and the boot files, then read-only and pivoted into. */
static int enter_root(const struct qemu_jail *j, const int boot_fd[2],
                      int *step)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        FAIL(STEP_PRIVATE);
    if (mount("lightvm-qemu", j->root, "tmpfs", MS_NOSUID | MS_NODEV,
              j->tmpfs_opts) < 0 ||
        chdir(j->root) < 0)
        FAIL(STEP_ROOT);
    if (bind("/usr", "usr", 1, 1) < 0)
        FAIL(STEP_USR);
    for (int i = 0; i < j->ntop; i++) {
        const struct qemu_jail_top *t = &j->top[i];
        char src[16] = "/";
        memcpy(src + 1, t->name, sizeof t->name);
        if (t->target[0] ? symlink(t->target, t->name) < 0
                         : bind(src, t->name, 1, 1) < 0)
            FAIL(STEP_LIB);
    }
    /* Devices keep their own mount's flags (devtmpfs allows devices). */
    if (mkdir("dev", 0755) < 0 || bind("/dev/null", "dev/null", 0, 0) < 0 ||
        bind("/dev/urandom", "dev/urandom", 0, 0) < 0 ||
        (j->kvm && bind("/dev/kvm", "dev/kvm", 0, 0) < 0))
        FAIL(STEP_DEV);
    static const char *const boot[2] = {QEMU_JAIL_KERNEL + 1,
                                        QEMU_JAIL_INITRD + 1};
    for (int i = 0; i < 2; i++)
        if (j->boot_tree[i] < 0
                ? copy_in(boot_fd[i], boot[i]) < 0
                : mount_point(boot[i], 0) < 0 ||
                      move_mount(j->boot_tree[i], "", AT_FDCWD, boot[i],
                                 MOVE_MOUNT_F_EMPTY_PATH) < 0)
            FAIL(STEP_BOOT);
    if (mount(NULL, j->root, NULL,
              MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        FAIL(STEP_RDONLY);
    /* The host's tree goes: stacked under the new root, then detached. */
    if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
        chdir("/") < 0)
        FAIL(STEP_PIVOT);
    return 0;
}

int qemu_jail_enter(const struct qemu_jail *j, const int boot_fd[2], int *step)
{
    /* Joined its cgroup already (by the caller): that is its root. */
    if (unshare(CLONE_NEWCGROUP) < 0)
        FAIL(STEP_CGROUPNS);
    long pid = host_pid();
    if (pid <= 0)
        FAIL(STEP_PID);
    /* Unique among running processes, like a shell's (base + its pid). */
    uid_t id = j->uid_base + (uid_t)pid;
    if (enter_root(j, boot_fd, step) < 0)
        return -1;
    /* The bounding set goes while we may (CAP_SETPCAP); changing the
     * uid from 0 then empties the effective, permitted and ambient sets,
     * and capset the inheritable one. Raw calls: glibc's setuid family
     * would signal the parent's threads, which this copy does not have. */
    for (int c = 0; c <= j->cap_last; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            FAIL(STEP_CAPS);
    if (syscall(SYS_setgroups, 0, NULL) < 0 ||
        syscall(SYS_setresgid, id, id, id) < 0 ||
        syscall(SYS_setresuid, id, id, id) < 0)
        FAIL(STEP_IDS);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[2];
    memset(none, 0, sizeof none);
    if (syscall(SYS_capset, &hdr, none) < 0)
        FAIL(STEP_CAPS);
    return 0;
}
