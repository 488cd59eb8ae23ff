/*
 * bench_kvm.c: create-to-exit of a guest under proc and under kvm, runs
 * interleaved (proc, kvm, kvm, proc, ...) so drift on a shared machine
 * hits both alike, through the toolstack library as the daemon would use
 * it (no CLI process per run). For kvm runs it also reads the set-up
 * timings the monitor puts in its report: VM creation, memory slots, vCPU
 * (with CPUID and the first, immediate-exit KVM_RUN), long-mode state,
 * the plan's memory and page tables, and the first entry into the guest.
 *
 *   bench_kvm [-n RUNS] GUEST.elf
 */
#include "toolstack/guest.h"
#include "toolstack/host.h"
#include "toolstack/monitor.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

enum {
    T_TOTAL,
    T_STARTED,
    T_VM,
    T_SLOTS,
    T_VCPU,
    T_WORKER,
    T_CPU,
    T_PLAN,
    T_ENTRY,
    T_EXITS,
    NT
};
static const char *const tname[NT] = {"create-to-exit",
                                      "create-to-STARTED",
                                      "  VM (KVM_CREATE_VM)",
                                      "  memory slots (2)",
                                      "  vCPU, kvm_run, CPUID",
                                      "  KVM worker (1st KVM_RUN)",
                                      "  long-mode state",
                                      "  plan: memory, page tables",
                                      "  first entry (to first exit)",
                                      "exits per run"};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void stats(const char *mon, int t, uint64_t *v, int n)
{
    if (n == 0)
        return;
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    double div = t == T_EXITS ? 1.0 : 1e3; /* ns -> us */
    printf("| %-5s | %-30s | %10.1f | %10.1f | %10.1f | %10.1f |\n", mon,
           tname[t], v[n / 2] / div, v[(n * 9) / 10] / div, v[0] / div,
           v[n - 1] / div);
}

int main(int argc, char **argv)
{
    int runs = 200, opt;
    while ((opt = getopt(argc, argv, "n:")) != -1)
        if (opt == 'n')
            runs = atoi(optarg);
    if (optind != argc - 1 || runs < 1) {
        fprintf(stderr, "usage: bench_kvm [-n RUNS] GUEST.elf\n");
        return 2;
    }
    struct lvm_err err;
    struct lvm_host h;
    struct image *img;
    if (host_init(&h, &err) < 0 || image_load(argv[optind], &img, &err) < 0) {
        fprintf(stderr, "bench_kvm: %s\n", err.msg);
        return 1;
    }
    const struct monitor_ops *mons[2] = {monitor_find("proc", &h),
                                         monitor_find("kvm", &h)};
    if (mons[1]->available(&h, &err) < 0) {
        fprintf(stderr, "bench_kvm: %s\n", err.msg);
        return 1;
    }
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    uint64_t *v[2][NT];
    for (int m = 0; m < 2; m++)
        for (int t = 0; t < NT; t++)
            v[m][t] = calloc((size_t)runs, sizeof(uint64_t));
    char *gargv[] = {"bench", NULL};
    for (int i = 0; i < runs; i++) {
        for (int k = 0; k < 2; k++) {
            int m = (i & 1) ? 1 - k : k; /* proc kvm, kvm proc, ... */
            struct guest_spec spec = {.argc = 1,
                                      .argv = gargv,
                                      .console_fd = null,
                                      .monitor = mons[m]->kind};
            struct guest *g;
            uint64_t t0 = host_now_ns();
            struct guest_exit ex;
            if (guest_start(&h, img, &spec, &g, &err) < 0 ||
                guest_reap(g, -1, 0, &ex, &err) < 0) {
                fprintf(stderr, "bench_kvm: %s: %s\n", mons[m]->name, err.msg);
                return 1;
            }
            uint64_t t1 = host_now_ns();
            if (ex.kind != GUEST_EXITED || ex.status != 0) {
                char buf[1024];
                fprintf(stderr, "bench_kvm: %s guest %s\n", mons[m]->name,
                        guest_exit_str(&ex, buf, sizeof buf));
                return 1;
            }
            v[m][T_TOTAL][i] = t1 - t0;
            v[m][T_STARTED][i] = g->started_ns - t0;
            if (m == 1) {
                const volatile struct lvm_report_times *rt =
                    &g->dev.report->times;
                v[m][T_VM][i] = rt->vm;
                v[m][T_SLOTS][i] = rt->slots;
                v[m][T_VCPU][i] = rt->vcpu;
                v[m][T_WORKER][i] = rt->worker;
                v[m][T_CPU][i] = rt->cpu_state;
                v[m][T_PLAN][i] = rt->plan;
                v[m][T_ENTRY][i] = rt->first_entry;
                v[m][T_EXITS][i] = rt->exits;
            }
            guest_free(g);
        }
    }
    struct utsname u;
    uname(&u);
    printf("%d runs of %s per monitor, interleaved; %s %s\n\n", runs, img->name,
           u.sysname, u.release);
    printf("| mon   | microseconds (exits: count)    |     median |        "
           "p90 |        min |        max |\n");
    printf("|-------|--------------------------------|------------|-------"
           "-----|------------|------------|\n");
    for (int m = 0; m < 2; m++)
        for (int t = 0; t < NT; t++)
            if (m == 1 || t < T_VM)
                stats(mons[m]->name, t, v[m][t], runs);
    image_free(img);
    host_fini(&h);
    return 0;
}
