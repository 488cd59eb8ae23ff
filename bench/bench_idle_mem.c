/*
 * bench_idle_mem.c: memory cost of N idle guests against N idle crun
 * containers, measured in the same run.
 *
 *   bench_idle_mem [-n N] [--crun BUNDLE] GUEST.elf
 *
 * For each kind it records, before and after starting N instances:
 * MemAvailable, kernel memory (Slab + KernelStack + PageTables) and the
 * summed PSS of the instances' processes, and prints the cost per
 * instance. Guests are started through the toolstack library (as the
 * daemon does: one supervisor, no per-guest CLI process); containers with
 * `crun run -d` of a static pause program. Run as root.
 */
#include "toolstack/guest.h"
#include "toolstack/host.h"
#include "toolstack/image.h"

#include "bench/memstat.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct mem {
    long avail_kb, kernel_kb;
};

static struct mem sample(void)
{
    /* Let deferred frees (RCU, netns teardown) settle a little first. */
    sync();
    struct mem m;
    m.avail_kb = meminfo("MemAvailable");
    m.kernel_kb = kernel_kb();
    return m;
}

static void report(const char *what, int n, struct mem a, struct mem b,
                   long pss)
{
    double avail = (double)(a.avail_kb - b.avail_kb) / n;
    double kern = (double)(b.kernel_kb - a.kernel_kb) / n;
    double p = (double)pss / n;
    printf("| %s | %d | %.0f | %.0f | %.0f | %.0f |\n", what, n, p, kern,
           p + kern, avail);
}

static int run_cmd(char *const argv[])
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        return -1;
    posix_spawn_file_actions_destroy(&fa);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int bench_guests(const char *elf, int n)
{
    struct lvm_err err;
    struct lvm_host h;
    struct image *img;
    if (host_init(&h, &err) < 0 || image_load(elf, &img, &err) < 0) {
        fprintf(stderr, "bench_idle_mem: %s\n", err.msg);
        return -1;
    }
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct guest **g = calloc((size_t)n, sizeof *g);
    char *argv[] = {"idle", NULL};
    struct guest_spec spec = {.ram_size = 4 << 20,
                              .argc = 1,
                              .argv = argv,
                              .console_fd = devnull,
                              .monitor = LVM_MONITOR_PROC};
    struct mem before = sample();
    for (int i = 0; i < n; i++)
        if (guest_start(&h, img, &spec, &g[i], &err) < 0) {
            fprintf(stderr, "bench_idle_mem: guest %d: %s\n", i, err.msg);
            return -1;
        }
    /* Each guest has run its first instruction and is idle in ppoll. */
    for (int i = 0; i < n; i++)
        while (g[i]->dev.st->magic != LVM_STATUS_MAGIC)
            sched_yield();
    struct mem after = sample();
    long pss = 0;
    for (int i = 0; i < n; i++)
        pss += pss_kb(g[i]->sb.pid);
    report("lightvm idle guest (proc)", n, before, after, pss);
    for (int i = 0; i < n; i++) {
        guest_control(g[i], LVM_CTRL_POWEROFF, &err);
        struct pollfd p = {g[i]->sb.pidfd, POLLIN, 0};
        poll(&p, 1, -1);
        struct guest_exit ex;
        guest_reap(g[i], -1, 0, &ex, &err);
        guest_free(g[i]);
    }
    free(g);
    image_free(img);
    close(devnull);
    return 0;
}

static int bench_crun(const char *bundle, int n)
{
    char id[64];
    struct mem before = sample();
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "lvmbench%d", i);
        char *argv[] = {"/usr/bin/crun", "run", "-d", "-b",
                        (char *)bundle,  id,    NULL};
        if (run_cmd(argv) < 0) {
            fprintf(stderr, "bench_idle_mem: crun run -d %s failed\n", id);
            return -1;
        }
    }
    struct mem after = sample();
    long pss = 0;
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "/run/crun/lvmbench%d/status", i);
        char path[128];
        snprintf(path, sizeof path, "/run/crun/lvmbench%d/pidfile", i);
        FILE *f = fopen(path, "r");
        int pid = 0;
        if (f && fscanf(f, "%d", &pid) == 1)
            pss += pss_kb(pid);
        if (f)
            fclose(f);
    }
    report("crun idle container", n, before, after, pss);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "lvmbench%d", i);
        char *kill_argv[] = {"/usr/bin/crun", "kill", id, "KILL", NULL};
        run_cmd(kill_argv);
        char *del_argv[] = {"/usr/bin/crun", "delete", "-f", id, NULL};
        run_cmd(del_argv);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int n = 200;
    const char *bundle = NULL, *elf = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--crun") && i + 1 < argc)
            bundle = argv[++i];
        else
            elf = argv[i];
    }
    if (!elf || n < 1) {
        fprintf(stderr, "usage: bench_idle_mem [-n N] [--crun BUNDLE] "
                        "GUEST.elf\n");
        return 2;
    }
    /* crun 1.8 refuses hybrid cgroups: hide cgroup2 in a private mount
     * namespace (the host is untouched). */
    if (bundle) {
        if (unshare(CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            perror("bench_idle_mem: private mount namespace");
        umount2("/sys/fs/cgroup/unified", MNT_DETACH);
    }
    printf("| instance | N | PSS KiB | kernel KiB | PSS + kernel KiB | "
           "MemAvailable drop KiB |\n|---|---:|---:|---:|---:|---:|\n");
    if (bench_guests(elf, n) < 0)
        return 1;
    if (bundle && bench_crun(bundle, n) < 0)
        return 1;
    return 0;
}
