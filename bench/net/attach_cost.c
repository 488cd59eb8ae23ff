/*
 * attach_cost.c: what attaching a guest NIC costs the toolstack, step by
 * step, in a network namespace of its own: the bridge lookup every
 * `lightvm run` does, the tap (TUNSETIFF), making it a bridge port, the
 * address lease, the filter entries; then the teardown. A daemon's pool
 * makes the tap and port ahead of time; the rest stays on the create
 * path.
 *
 *   attach_cost [-n GUESTS] [-k]    -k: keep every tap until the end, so
 *                                   the costs are seen as guests pile up
 */
#include "toolstack/dev_net.h"
#include "toolstack/netaddr.h"
#include "toolstack/netdev.h"
#include "toolstack/netguard.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

enum { BRIDGE, TAP, PORT, LEASE, FILTER, TOTAL, TEARDOWN, NSTEPS };
static const char *names[NSTEPS] = {"bridge lookup (per guest)",
                                    "tap (TUNSETIFF + index)",
                                    "bridge port + up (2 requests)",
                                    "address lease (file)",
                                    "filter entries (1 batch)",
                                    "attach total",
                                    "teardown total"};

static void die(const struct lvm_err *err)
{
    fprintf(stderr, "attach_cost: %s: %s\n", err->msg, strerror(err->code));
    exit(1);
}

int main(int argc, char **argv)
{
    int n = 200, keep = 0, c;
    while ((c = getopt(argc, argv, "n:k")) != -1)
        n = c == 'n' ? atoi(optarg) : n, keep |= c == 'k';
    if (unshare(CLONE_NEWNET) < 0) {
        perror("unshare (run as root)");
        return 1;
    }
    struct lvm_err err;
    struct netdev *nd;
    if (netdev_open(&nd, &err) < 0)
        die(&err);
    uint32_t baddr;
    unsigned prefix;
    netaddr_parse_cidr(NETDEV_SUBNET_DEFAULT, &baddr, &prefix, &err);
    struct netdev_bridge br;
    if (netdev_bridge_ensure(nd, "lvm0", baddr, prefix, 0, &br, &err) < 0 ||
        netguard_ensure(nd, &err) < 0)
        die(&err);
    /* /run is tmpfs, as the toolstack's run directory is. */
    char run[] = "/run/lvm-attach-cost.XXXXXX";
    if (!mkdtemp(run))
        return 1;
    char dir[PATH_MAX];
    struct lease_dir ld;
    if (dev_net_lease_dir(run, "lvm0", dir, sizeof dir, &err) < 0 ||
        lease_dir_open(&ld, dir, &err) < 0)
        die(&err);
    struct lease_subnet sn = {baddr & netaddr_mask(prefix), prefix, baddr};
    uint64_t *t[NSTEPS];
    for (int s = 0; s < NSTEPS; s++)
        t[s] = calloc((size_t)n, sizeof **t);
    struct netdev_tap *taps = calloc((size_t)n, sizeof *taps);
    uint32_t *addrs = calloc((size_t)n, sizeof *addrs);
    uint8_t(*macs)[6] = calloc((size_t)n, 6);
    char id[32];
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%016llx",
                 (unsigned long long)(now_ns() * 2654435761ull + (unsigned)i));
        uint64_t t0 = now_ns();
        struct netdev_bridge b2;
        if (netdev_bridge_ensure(nd, "lvm0", baddr, prefix, 0, &b2, &err) < 0)
            die(&err);
        uint64_t t1 = now_ns();
        char name[IF_NAMESIZE];
        netdev_tap_name(id, 0, name);
        if (netdev_tap_create(nd, name, &taps[i], &err) < 0)
            die(&err);
        uint64_t t2 = now_ns();
        if (netdev_tap_attach(nd, &taps[i], b2.ifindex, &err) < 0)
            die(&err);
        uint64_t t3 = now_ns();
        struct lease_owner o;
        memset(&o, 0, sizeof o);
        snprintf(o.guest_id, sizeof o.guest_id, "%s", id);
        snprintf(o.tap, sizeof o.tap, "%s", name);
        o.ifindex = taps[i].ifindex;
        if (lease_acquire(&ld, &sn, 0, &o, NULL, NULL, &addrs[i], &err) < 0)
            die(&err);
        uint64_t t4 = now_ns();
        netaddr_guest_mac(id, 0, macs[i]);
        if (netguard_allow(nd, taps[i].ifindex, macs[i], addrs[i], &err) < 0)
            die(&err);
        uint64_t t5 = now_ns();
        t[BRIDGE][i] = t1 - t0;
        t[TAP][i] = t2 - t1;
        t[PORT][i] = t3 - t2;
        t[LEASE][i] = t4 - t3;
        t[FILTER][i] = t5 - t4;
        t[TOTAL][i] = t5 - t0;
        if (!keep) {
            uint64_t d0 = now_ns();
            netguard_revoke(nd, taps[i].ifindex, macs[i], addrs[i], &err);
            lease_release(&ld, addrs[i], id, &err);
            netdev_tap_destroy(nd, &taps[i]);
            t[TEARDOWN][i] = now_ns() - d0;
        }
    }
    if (keep) {
        for (int i = 0; i < n; i++) {
            uint64_t d0 = now_ns();
            netguard_revoke(nd, taps[i].ifindex, macs[i], addrs[i], &err);
            netdev_tap_destroy(nd, &taps[i]);
            t[TEARDOWN][i] = now_ns() - d0;
        }
    }
    printf("%d guests%s; microseconds: median  p90  (first 10%% / last 10%% "
           "medians)\n",
           n, keep ? ", all kept until the end" : "");
    for (int s = 0; s < NSTEPS; s++) {
        int tenth = n / 10 ? n / 10 : 1;
        uint64_t *first = malloc((size_t)tenth * sizeof *first);
        uint64_t *last = malloc((size_t)tenth * sizeof *last);
        memcpy(first, t[s], (size_t)tenth * sizeof *first);
        memcpy(last, t[s] + n - tenth, (size_t)tenth * sizeof *last);
        qsort(first, (size_t)tenth, sizeof *first, cmp);
        qsort(last, (size_t)tenth, sizeof *last, cmp);
        qsort(t[s], (size_t)n, sizeof **t, cmp);
        printf("  %-30s %8.1f %8.1f   (%.1f / %.1f)\n", names[s],
               t[s][n / 2] / 1e3, t[s][(n * 9) / 10] / 1e3,
               first[tenth / 2] / 1e3, last[tenth / 2] / 1e3);
        free(first);
        free(last);
    }
    lease_dir_close(&ld);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", run);
    if (system(cmd) != 0)
        return 1;
    netdev_close(nd);
    return 0;
}
