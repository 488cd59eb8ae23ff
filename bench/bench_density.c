/*
 * bench_density.c: the LightVM density figure. Creates N instances that
 * stay running, one after another, and records for each the creation
 * time against the number already running; samples memory as they
 * accumulate and the CPU the idle instances use at the end.
 *
 *   bench_density lightvm SOCKET RUNDIR IMAGE N [RATE]   guests via lightvmd
 *   bench_density crun BUNDLE N [RATE]                   crun run -d
 *   bench_density bwrap ROOTFS N [RATE]                  bwrap --unshare-all
 *
 * RATE paces creations (per second; 0: back to back). Output on stdout:
 *   create,KIND,I,RUNNING,REPLY_MS,FIRST_MS,POOLED
 *   mem,KIND,RUNNING,AVAIL_KB,KERNEL_KB,PSS_KB_PER_INSTANCE
 *   cpu,KIND,RUNNING,IDLE_CPU_PERCENT
 * For guests, FIRST_MS is the time from the request to the guest's first
 * C instruction (the monotonic clock it writes into its status page), and
 * REPLY_MS to the daemon's reply. For peers, both are the time until the
 * instance runs (crun run -d returns; bwrap writes its info fd).
 * Everything it created is removed before it exits. Run as root.
 */
#include <lightvm/abi.h>
#include <lightvm/lightvm.h>

#include "bench/memstat.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Total CPU time of every process in (pids), from /proc (ns). */
static unsigned long long cpu_ns(const pid_t *pids, long n)
{
    unsigned long long total = 0;
    long tick = sysconf(_SC_CLK_TCK);
    for (long i = 0; i < n; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pids[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (r <= 0)
            continue;
        buf[r] = 0;
        char *p = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        int field = 2;
        for (p = p ? p + 1 : buf; *p && field < 14; p++)
            if (*p == ' ')
                field++;
        if (sscanf(p, "%llu %llu", &ut, &st) == 2)
            total += (ut + st) * 1000000000ull / (unsigned long long)tick;
    }
    return total;
}

static void pace(double start, long i, double rate)
{
    if (rate <= 0)
        return;
    double due = start + i * 1000.0 / rate, wait = due - now_ms();
    if (wait > 0)
        poll(NULL, 0, (int)wait);
}

struct inst {
    char id[32];
    pid_t pid;
};

static void sample_mem(const char *kind, long running, const struct inst *in,
                       long avail0, long kern0)
{
    /* PSS of up to 200 instances spread over all of them. */
    long step = running > 200 ? running / 200 : 1, n = 0, pss = 0;
    for (long i = 0; i < running; i += step, n++)
        pss += pss_kb(in[i].pid);
    printf("mem,%s,%ld,%ld,%ld,%.1f\n", kind, running,
           avail0 - meminfo("MemAvailable"), kernel_kb() - kern0,
           n ? (double)pss / n : 0);
    fflush(stdout);
}

static void idle_cpu(const char *kind, const struct inst *in, long n)
{
    pid_t *p = malloc(sizeof *p * (size_t)(n ? n : 1));
    for (long i = 0; i < n; i++)
        p[i] = in[i].pid;
    unsigned long long c0 = cpu_ns(p, n);
    double t0 = now_ms();
    poll(NULL, 0, 5000);
    unsigned long long c1 = cpu_ns(p, n);
    double dt = now_ms() - t0;
    printf("cpu,%s,%ld,%.4f\n", kind, n, 100.0 * (c1 - c0) / 1e6 / dt);
    fflush(stdout);
    free(p);
}

static int run_lightvm(const char *sock, const char *rundir, const char *image,
                       long n, double rate)
{
    struct lightvm_error e;
    struct lightvm *c = lightvm_connect(sock, &e);
    if (!c) {
        fprintf(stderr, "bench_density: %s\n", e.message);
        return 1;
    }
    struct inst *in = calloc((size_t)n, sizeof *in);
    struct lightvm_create_opts o = {
        .image = image, .console_fd = -1, .mem = 4 << 20};
    long avail0 = meminfo("MemAvailable"), kern0 = kernel_kb();
    double start = now_ms();
    long made = 0;
    for (long i = 0; i < n; i++) {
        pace(start, i, rate);
        struct lightvm_guest g;
        double t0 = now_ms();
        if (lightvm_create(c, &o, &g, &e) < 0) {
            fprintf(stderr, "bench_density: guest %ld: %s\n", i, e.message);
            break;
        }
        double t1 = now_ms();
        /* The guest's first instruction, from its status page. */
        char path[1024];
        snprintf(path, sizeof path, "%s/guests/%s/devpage", rundir, g.id);
        double first = -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            struct lvm_status *st =
                mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096);
            if (st != MAP_FAILED) {
                for (int k = 0; k < 2000000 && st->magic != LVM_STATUS_MAGIC;
                     k++)
                    sched_yield();
                if (st->magic == LVM_STATUS_MAGIC)
                    first = st->first_insn_ns / 1e6 - t0;
                munmap(st, 4096);
            }
            close(fd);
        }
        snprintf(in[i].id, sizeof in[i].id, "%s", g.id);
        in[i].pid = g.pid;
        made++;
        printf("create,lightvm,%ld,%ld,%.4f,%.4f,%d\n", i + 1, i, t1 - t0,
               first, g.pooled);
        if ((i + 1) % 500 == 0 || i + 1 == n)
            sample_mem("lightvm", i + 1, in, avail0, kern0);
    }
    idle_cpu("lightvm", in, made);
    double t0 = now_ms();
    for (long i = 0; i < made; i++)
        lightvm_destroy(c, in[i].id, NULL, &e);
    fprintf(stderr, "bench_density: destroyed %ld guests in %.0f ms\n", made,
            now_ms() - t0);
    lightvm_close(c);
    free(in);
    return 0;
}

static int spawn_wait(char *const argv[])
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r)
        return -1;
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int run_crun(const char *bundle, long n, double rate)
{
    struct inst *in = calloc((size_t)n, sizeof *in);
    long avail0 = meminfo("MemAvailable"), kern0 = kernel_kb(), made = 0;
    double start = now_ms();
    for (long i = 0; i < n; i++) {
        pace(start, i, rate);
        snprintf(in[i].id, sizeof in[i].id, "lvmdens%ld", i);
        char *argv[] = {"/usr/bin/crun", "run",    "-d", "-b",
                        (char *)bundle,  in[i].id, NULL};
        double t0 = now_ms();
        if (spawn_wait(argv) < 0) {
            fprintf(stderr, "bench_density: crun failed at %ld\n", i);
            break;
        }
        double dt = now_ms() - t0;
        /* Its pid, for PSS (outside the timed part). */
        char cmd[128], out[4096];
        snprintf(cmd, sizeof cmd, "/usr/bin/crun state %s", in[i].id);
        FILE *f = popen(cmd, "r");
        size_t got = f ? fread(out, 1, sizeof out - 1, f) : 0;
        if (f)
            pclose(f);
        out[got] = 0;
        char *pp = strstr(out, "\"pid\":");
        in[i].pid = pp ? atoi(pp + 6) : 0;
        made++;
        printf("create,crun,%ld,%ld,%.4f,%.4f,0\n", i + 1, i, dt, dt);
        if ((i + 1) % 500 == 0 || i + 1 == n)
            sample_mem("crun", i + 1, in, avail0, kern0);
    }
    idle_cpu("crun", in, made);
    for (long i = 0; i < made; i++) {
        char *k[] = {"/usr/bin/crun", "kill", in[i].id, "KILL", NULL};
        spawn_wait(k);
        char *d[] = {"/usr/bin/crun", "delete", "-f", in[i].id, NULL};
        spawn_wait(d);
    }
    free(in);
    return 0;
}

static int run_bwrap(const char *rootfs, long n, double rate)
{
    struct inst *in = calloc((size_t)n, sizeof *in);
    pid_t *bw = calloc((size_t)n, sizeof *bw);
    long avail0 = meminfo("MemAvailable"), kern0 = kernel_kb(), made = 0;
    double start = now_ms();
    for (long i = 0; i < n; i++) {
        pace(start, i, rate);
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            break;
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", 3);
        char *argv[] = {"/usr/bin/bwrap",
                        "--unshare-all",
                        "--ro-bind",
                        (char *)rootfs,
                        "/",
                        "--info-fd",
                        fdarg,
                        "/pause",
                        NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[1], 3);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        double t0 = now_ms();
        if (posix_spawn(&bw[i], argv[0], &fa, NULL, argv, environ) != 0)
            break;
        posix_spawn_file_actions_destroy(&fa);
        close(p[1]);
        char info[512];
        ssize_t r = read(p[0], info, sizeof info - 1);
        double dt = now_ms() - t0;
        close(p[0]);
        if (r <= 0) {
            fprintf(stderr, "bench_density: bwrap failed at %ld\n", i);
            break;
        }
        info[r] = 0;
        char *cp = strstr(info, "\"child-pid\":");
        in[i].pid = cp ? atoi(cp + 12) : bw[i];
        made++;
        printf("create,bwrap,%ld,%ld,%.4f,%.4f,0\n", i + 1, i, dt, dt);
        if ((i + 1) % 500 == 0 || i + 1 == n)
            sample_mem("bwrap", i + 1, in, avail0, kern0);
    }
    idle_cpu("bwrap", in, made);
    /* The sandbox's pid 1 (child-pid) takes its namespace with it; the
     * outer bwrap alone would leave it running. */
    for (long i = 0; i < made; i++) {
        kill(in[i].pid, SIGKILL);
        kill(bw[i], SIGKILL);
        waitpid(bw[i], NULL, 0);
    }
    free(in);
    free(bw);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 6 && !strcmp(argv[1], "lightvm"))
        return run_lightvm(argv[2], argv[3], argv[4], atol(argv[5]),
                           argc > 6 ? atof(argv[6]) : 0);
    if (argc >= 4 && !strcmp(argv[1], "crun"))
        return run_crun(argv[2], atol(argv[3]), argc > 4 ? atof(argv[4]) : 0);
    if (argc >= 4 && !strcmp(argv[1], "bwrap"))
        return run_bwrap(argv[2], atol(argv[3]), argc > 4 ? atof(argv[4]) : 0);
    fprintf(stderr,
            "usage: bench_density lightvm SOCKET RUNDIR IMAGE N [RATE]\n"
            "       bench_density crun BUNDLE N [RATE]\n"
            "       bench_density bwrap ROOTFS N [RATE]\n");
    return 2;
}
