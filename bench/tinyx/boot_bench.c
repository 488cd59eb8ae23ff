/*
 * boot_bench.c: boot-to-answer time and QEMU RSS of one guest
 * configuration, through the qemu monitor library: the clock starts just
 * before QEMU is spawned and stops when the host gets a correct answer
 * (redis PONG or HTTP 200) on a fresh connection through the forwarded
 * port. Also: how many guests run at once, and save/restore times.
 *
 * boot_bench boot  --kernel K --initrd I [--acpi] [--disk D --append A]
 *                  --port P --proto redis|http [--runs N] [--mem MB]
 * boot_bench many  (same) --max N      start guests until one fails
 * boot_bench state (same)              save and restore timings
 * Prints one JSON object per line.
 */
#include "toolstack/qemu/qemu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_TIMEOUT_MS 180000

struct bench {
    struct qemu_vm_config cfg;
    uint16_t port;
    int http;
    int runs, max;
    const char *state;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One fresh connection: 1 if the app answered correctly. */
static int answers(uint16_t port, int http, int timeout_ms)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = 0;
    if (s < 0 || connect(s, (struct sockaddr *)&sin, sizeof sin) < 0)
        goto out;
    const char *req = http ? "GET / HTTP/1.0\r\n\r\n" : "PING\r\n";
    if (write(s, req, strlen(req)) != (ssize_t)strlen(req))
        goto out;
    struct pollfd p = {s, POLLIN, 0};
    char buf[64] = "";
    if (poll(&p, 1, timeout_ms) == 1 && read(s, buf, sizeof buf - 1) > 0)
        ok = http ? !strncmp(buf, "HTTP/1.1 200", 12)
                  : !strncmp(buf, "+PONG", 5);
out:
    if (s >= 0)
        close(s);
    return ok;
}

/* Serve the VM's channels while polling the port; ms to the answer. */
static double wait_answer(struct qemu_vm *vm, uint16_t port, int http,
                          double t0)
{
    while (now_ms() - t0 < ANSWER_TIMEOUT_MS && !vm->exited) {
        if (answers(port, http, 200))
            return now_ms() - t0;
        struct pollfd p[3];
        int n = qemu_vm_pollfds(vm, p);
        if (poll(p, (nfds_t)n, 5) > 0)
            qemu_vm_service(vm, p, n);
    }
    return -1;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static struct qemu_vm *start(struct bench *b, uint16_t *port,
                             struct lvm_err *err)
{
    struct qemu_vm *vm;
    if (qemu_vm_start(&b->cfg, -1, &vm, err) < 0)
        return NULL;
    *port = vm->fwd[0].host_port;
    return vm;
}

static int boot(struct bench *b)
{
    for (int i = 0; i < b->runs; i++) {
        struct lvm_err err;
        char e[LVM_ERR_MSG_MAX + 64];
        uint16_t port;
        double t0 = now_ms();
        struct qemu_vm *vm = start(b, &port, &err);
        if (!vm) {
            fprintf(stderr, "%s\n", lvm_err_str(&err, e, sizeof e));
            return 1;
        }
        double ms = wait_answer(vm, port, b->http, t0);
        long rss = rss_kib(vm->pid);
        printf("{\"run\": %d, \"answer_ms\": %.1f, \"guest_ready_ms\": %ld, "
               "\"guest_boot_ms\": %ld, \"qemu_rss_kib\": %ld, \"kvm\": %d}\n",
               i, ms, vm->gs.ready ? vm->gs.ready_ms : -1L,
               vm->gs.booted ? vm->gs.boot_ms : -1L, rss, vm->accel_kvm);
        fflush(stdout);
        qemu_vm_kill(vm, 0);
        qemu_vm_wait(vm, 10000, &err);
        qemu_vm_free(vm);
        if (ms < 0)
            return 1;
    }
    return 0;
}

static long mem_available_kib(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "MemAvailable:", 13))
            kib = strtol(line + 13, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* Start guests one by one, each must answer, until (max) or a failure;
 * then check that every one still answers. */
static int many(struct bench *b)
{
    struct qemu_vm **vms = calloc((size_t)b->max, sizeof *vms);
    uint16_t *ports = calloc((size_t)b->max, sizeof *ports);
    int n = 0;
    long avail0 = mem_available_kib();
    while (vms && ports && n < b->max) {
        struct lvm_err err;
        double t0 = now_ms();
        vms[n] = start(b, &ports[n], &err);
        if (!vms[n])
            break;
        double ms = wait_answer(vms[n], ports[n], b->http, t0);
        long total = 0;
        for (int i = 0; i <= n; i++)
            total += rss_kib(vms[i]->pid);
        printf("{\"guests\": %d, \"answer_ms\": %.1f, \"rss_total_kib\": %ld, "
               "\"memavailable_drop_kib\": %ld}\n",
               n + 1, ms, total, avail0 - mem_available_kib());
        fflush(stdout);
        n++;
        if (ms < 0 || mem_available_kib() < (2L << 20))
            break;
        /* keep the earlier guests' channels drained */
        for (int i = 0; i < n; i++) {
            struct pollfd p[3];
            int k = qemu_vm_pollfds(vms[i], p);
            if (poll(p, (nfds_t)k, 0) > 0)
                qemu_vm_service(vms[i], p, k);
        }
    }
    int alive = 0;
    for (int i = 0; i < n; i++)
        alive += answers(ports[i], b->http, 5000);
    printf("{\"started\": %d, \"all_answering\": %d}\n", n, alive);
    for (int i = 0; i < n; i++) {
        qemu_vm_kill(vms[i], 0);
        struct lvm_err err;
        qemu_vm_wait(vms[i], 10000, &err);
        qemu_vm_free(vms[i]);
    }
    free(vms);
    free(ports);
    return 0;
}

static int state(struct bench *b)
{
    for (int i = 0; i < b->runs; i++) {
        struct lvm_err err;
        char e[LVM_ERR_MSG_MAX + 64];
        uint16_t port;
        struct qemu_vm *vm = start(b, &port, &err), *vm2 = NULL;
        if (!vm || wait_answer(vm, port, b->http, now_ms()) < 0)
            goto fail;
        double t0 = now_ms();
        if (qemu_vm_save(vm, b->state, &err) < 0)
            goto fail;
        double save_ms = now_ms() - t0;
        struct stat st;
        stat(b->state, &st);
        qemu_vm_kill(vm, 0);
        qemu_vm_wait(vm, 10000, &err);
        t0 = now_ms();
        if (qemu_vm_restore(&b->cfg, b->state, -1, &vm2, &err) < 0)
            goto fail;
        double restore_ms = now_ms() - t0;
        double answer_ms = wait_answer(vm2, vm2->fwd[0].host_port, b->http, t0);
        printf("{\"run\": %d, \"save_ms\": %.1f, \"restore_ms\": %.1f, "
               "\"restore_to_answer_ms\": %.1f, \"state_bytes\": %lld}\n",
               i, save_ms, restore_ms, answer_ms, (long long)st.st_size);
        fflush(stdout);
        qemu_vm_free(vm);
        qemu_vm_kill(vm2, 0);
        qemu_vm_wait(vm2, 10000, &err);
        qemu_vm_free(vm2);
        unlink(b->state);
        continue;
    fail:
        fprintf(stderr, "%s\n", lvm_err_str(&err, e, sizeof e));
        qemu_vm_free(vm);
        qemu_vm_free(vm2);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"kernel", required_argument, NULL, 'k'},
        {"initrd", required_argument, NULL, 'i'},
        {"disk", required_argument, NULL, 'd'},
        {"append", required_argument, NULL, 'a'},
        {"acpi", no_argument, NULL, 'A'},
        {"port", required_argument, NULL, 'p'},
        {"proto", required_argument, NULL, 'P'},
        {"runs", required_argument, NULL, 'n'},
        {"max", required_argument, NULL, 'x'},
        {"mem", required_argument, NULL, 'm'},
        {"state", required_argument, NULL, 's'},
        {0, 0, 0, 0}};
    if (argc < 2) {
        fprintf(stderr, "usage: boot_bench boot|many|state OPTIONS\n");
        return 2;
    }
    struct bench b = {.runs = 7, .max = 16, .state = "/tmp/tinyx-bench.state"};
    b.cfg.net = QEMU_NET_USER;
    b.cfg.tap_fd = -1;
    b.cfg.quiet = 1;
    b.cfg.die_with_parent = 1;
    b.cfg.nfwd = 1;
    b.cfg.name = "bench";
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': b.cfg.kernel = optarg; break;
        case 'i': b.cfg.initrd = optarg; break;
        case 'd': b.cfg.disk = optarg; break;
        case 'a': b.cfg.append = optarg; break;
        case 'A': b.cfg.acpi = 1; break;
        case 'p': b.port = (uint16_t)atoi(optarg); break;
        case 'P': b.http = !strcmp(optarg, "http"); break;
        case 'n': b.runs = atoi(optarg); break;
        case 'x': b.max = atoi(optarg); break;
        case 'm': b.cfg.mem = strtoull(optarg, NULL, 10) << 20; break;
        case 's': b.state = optarg; break;
        default: return 2;
        }
    }
    b.cfg.fwd[0].guest_port = b.port;
    if (!strcmp(argv[1], "boot"))
        return boot(&b);
    if (!strcmp(argv[1], "many"))
        return many(&b);
    if (!strcmp(argv[1], "state"))
        return state(&b);
    fprintf(stderr, "boot_bench: unknown mode %s\n", argv[1]);
    return 2;
}
