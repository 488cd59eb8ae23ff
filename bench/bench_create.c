/*
 * bench_create.c: time "create, run and exit" of several ways to start a
 * trivial program, interleaved: every round runs each command once, in a
 * fresh random order, so drift and noise hit them all alike. Each command
 * is started with posix_spawn (no shell) and timed from spawn to waitpid
 * on CLOCK_MONOTONIC; a non-zero exit aborts the benchmark.
 *
 *   bench_create [-r ROUNDS] [-c CSV] [--private-cgroup2] NAME=CMD...
 *
 * CMD is split on spaces; "{i}" in it becomes a unique number (crun needs
 * a new container id each time). The first command is the baseline for
 * the ratios. --private-cgroup2 first enters a private mount namespace
 * and unmounts /sys/fs/cgroup/unified there, which crun 1.8 needs on
 * hybrid-cgroup hosts (the host itself is left untouched).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CMDS 16
#define MAX_ARGS 64

struct cmd {
    char *name;
    char *words[MAX_ARGS];
    int nwords;
    double *ms;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double run_once(struct cmd *c, long counter)
{
    char *argv[MAX_ARGS + 1], bufs[MAX_ARGS][256];
    for (int i = 0; i < c->nwords; i++) {
        char *w = c->words[i], *at = strstr(w, "{i}");
        if (at) {
            snprintf(bufs[i], sizeof bufs[i], "%.*s%ld%s", (int)(at - w), w,
                     counter, at + 3);
            argv[i] = bufs[i];
        } else {
            argv[i] = w;
        }
    }
    argv[c->nwords] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = now_ms();
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    if (r != 0) {
        fprintf(stderr, "bench_create: spawn %s: %s\n", argv[0], strerror(r));
        exit(1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    double t1 = now_ms();
    posix_spawn_file_actions_destroy(&fa);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_create: %s failed (status %#x)\n", c->name,
                status);
        exit(1);
    }
    return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *sorted, int n, double p)
{
    double pos = p * (n - 1);
    int lo = (int)pos;
    double frac = pos - lo;
    return lo + 1 < n ? sorted[lo] * (1 - frac) + sorted[lo + 1] * frac
                      : sorted[lo];
}

static void private_cgroup2(void)
{
    if (unshare(CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        perror("bench_create: private mount namespace");
        exit(1);
    }
    if (umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0 && errno != EINVAL &&
        errno != ENOENT)
        perror("bench_create: unmount /sys/fs/cgroup/unified");
}

int main(int argc, char **argv)
{
    int rounds = 200;
    const char *csv = NULL;
    struct cmd cmds[MAX_CMDS];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
            csv = argv[++i];
        } else if (!strcmp(argv[i], "--private-cgroup2")) {
            private_cgroup2();
        } else if (strchr(argv[i], '=') && n < MAX_CMDS) {
            struct cmd *c = &cmds[n++];
            c->name = strdup(argv[i]);
            char *eq = strchr(c->name, '=');
            *eq = 0;
            c->nwords = 0;
            for (char *w = strtok(eq + 1, " "); w && c->nwords < MAX_ARGS;
                 w = strtok(NULL, " "))
                c->words[c->nwords++] = w;
            c->ms = calloc((size_t)rounds, sizeof(double));
        } else {
            fprintf(stderr, "usage: bench_create [-r ROUNDS] [-c CSV] "
                            "[--private-cgroup2] NAME=CMD...\n");
            return 2;
        }
    }
    if (n == 0 || rounds < 2)
        return 2;
    srand((unsigned)time(NULL));
    /* One warm-up run each: page cache, dentries, lazily-created cgroups. */
    for (int k = 0; k < n; k++)
        run_once(&cmds[k], 1000000 + k);
    FILE *out = csv ? fopen(csv, "w") : NULL;
    if (out)
        fprintf(out, "round,command,ms\n");
    long counter = 0;
    for (int r = 0; r < rounds; r++) {
        int order[MAX_CMDS];
        for (int k = 0; k < n; k++)
            order[k] = k;
        for (int k = n - 1; k > 0; k--) {
            int j = rand() % (k + 1), t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
        for (int k = 0; k < n; k++) {
            struct cmd *c = &cmds[order[k]];
            c->ms[r] = run_once(c, ++counter);
            if (out)
                fprintf(out, "%d,%s,%.4f\n", r, c->name, c->ms[r]);
        }
    }
    if (out)
        fclose(out);
    printf("| command | median ms | p90 ms | mean ms | x %s (median) |\n",
           cmds[0].name);
    printf("|---|---:|---:|---:|---:|\n");
    double base = 0;
    for (int k = 0; k < n; k++) {
        double *s = cmds[k].ms, sum = 0;
        qsort(s, (size_t)rounds, sizeof *s, cmp_double);
        for (int r = 0; r < rounds; r++)
            sum += s[r];
        double med = pct(s, rounds, 0.5);
        if (k == 0)
            base = med;
        printf("| %s | %.3f | %.3f | %.3f | %.2f |\n", cmds[k].name, med,
               pct(s, rounds, 0.9), sum / rounds, med / base);
    }
    return 0;
}
