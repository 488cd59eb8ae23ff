/*
 * guest_opts.h: the options that describe a guest, shared by `lightvm run`
 * and `lightvm create`.
 */
#ifndef LVM_CLI_GUEST_OPTS_H
#define LVM_CLI_GUEST_OPTS_H

#include "toolstack/guest.h"

#include <getopt.h>
#include <lightvm/lightvm.h>

#define GUEST_OPTS_MAX_ENV 256

enum {
    GO_MEM_LIMIT = 256,
    GO_CPU,
    GO_CONSOLE_LIMIT,
    GO_MONITOR,
    GO_WATCHDOG,
    GO_NET, /* the --net options, in this order */
    GO_NET_SUBNET,
    GO_NET_NAT,
    GO_NET_DHCP,
    GO_NET_IP,
    GO_NET_NO_FILTER,
    GO_FIRST_FREE, /* commands number their own long options from here */
};

#define GUEST_SHORT_OPTS "m:n:e:b:"

/* Entries for a command's getopt_long table. */
#define GUEST_LONG_OPTS                                                        \
    {"mem", required_argument, NULL, 'm'},                                     \
        {"memory", required_argument, NULL, 'm'},                              \
        {"mem-limit", required_argument, NULL, GO_MEM_LIMIT},                  \
        {"cpu-quota", required_argument, NULL, GO_CPU},                        \
        {"cpus", required_argument, NULL, GO_CPU},                             \
        {"console-limit", required_argument, NULL, GO_CONSOLE_LIMIT},          \
        {"name", required_argument, NULL, 'n'},                                \
        {"env", required_argument, NULL, 'e'},                                 \
        {"block", required_argument, NULL, 'b'},                               \
        {"monitor", required_argument, NULL, GO_MONITOR},                      \
        {"watchdog", required_argument, NULL, GO_WATCHDOG},                    \
        {"net", optional_argument, NULL, GO_NET},                              \
        {"net-subnet", required_argument, NULL, GO_NET_SUBNET},                \
        {"net-nat", no_argument, NULL, GO_NET_NAT},                            \
        {"net-dhcp", no_argument, NULL, GO_NET_DHCP},                          \
        {"ip", required_argument, NULL, GO_NET_IP},                            \
    {                                                                          \
        "net-no-filter", no_argument, NULL, GO_NET_NO_FILTER                   \
    }

#define GUEST_OPTS_HELP                                                        \
    "  -m, --mem SIZE          guest RAM, K, M, G suffixes (default 16M, 1M\n" \
    "                          to 2G; qemu: the image's, at least 32M, 128M\n" \
    "                          with Debian's kernel)\n"                        \
    "      --mem-limit SIZE    host memory limit (default RAM + 4M, plus "     \
    "the\n"                                                                    \
    "                          console limit for a console file; qemu: RAM "   \
    "+\n"                                                                      \
    "                          kernel + initramfs + 64M, 128M with Debian's\n" \
    "                          kernel, + the console limit)\n"                 \
    "      --cpu-quota CPUS    CPU time limit in CPUs, e.g. 0.5 (default "     \
    "none)\n"                                                                  \
    "      --console-limit SIZE  most a guest may write to a console file\n"   \
    "                          (default 16M; 1M for a daemon guest's log)\n"   \
    "  -n, --name NAME         guest name (default: from the image): up to\n"  \
    "                          63 letters, digits, '.', '_', '-', the first\n" \
    "                          a letter or digit\n"                            \
    "  -e, --env KEY=VALUE     set an environment variable in the guest\n"     \
    "  -b, --block NAME=FILE[:ro]  attach FILE as block device NAME\n"         \
    "      --monitor MONITOR   proc (default): a sandboxed process, on any\n"  \
    "                          Linux host; kvm: a hardware virtual machine\n"  \
    "                          (needs /dev/kvm); auto: kvm where /dev/kvm\n"   \
    "                          works, proc otherwise, and says which; qemu\n"  \
    "                          for a Tinyx image (create, restore)\n"          \
    "      --watchdog MS       kill the guest if it does not yield (ping) "    \
    "for\n"                                                                    \
    "                          MS milliseconds (daemon guests)\n"              \
    "      --net[=BRIDGE]      attach the guest's NICs to BRIDGE (default\n"   \
    "                          lvm0, created on first use); its address and\n" \
    "                          MAC are printed on stderr at start\n"           \
    "      --net-subnet CIDR   a new bridge's address and the guests' "        \
    "subnet\n"                                                                 \
    "                          (default 10.213.0.1/16)\n"                      \
    "      --net-nat           masquerade the subnet to the host's uplink\n"   \
    "      --net-dhcp          no static address: the guest uses DHCP\n"       \
    "      --ip ADDRESS        this address for the guest's first NIC\n"       \
    "      --net-no-filter     let the guest send from any MAC or address\n"

/* Options of `create` and `restore` for a qemu guest. */
#define CREATE_QEMU_LONG_OPTS                                                  \
    {                                                                          \
        "publish", required_argument, NULL, 'p'                                \
    }
#define CREATE_QEMU_OPTS_HELP                                                  \
    "  -p, --publish [ADDR:]HOST:GUEST  qemu: forward host TCP port HOST\n"    \
    "                          (on ADDR, default 127.0.0.1; 0 picks a free\n"  \
    "                          one, shown by 'list --json') to the guest's\n"  \
    "                          GUEST\n"
#define GUEST_OPTS_MAX_PORTS 16

struct guest_opts {
    const char *name;
    const char *monitor;
    uint64_t mem, mem_limit, console_limit;
    double cpus;
    uint32_t watchdog_ms;
    int nenv;
    char *env[GUEST_OPTS_MAX_ENV];
    unsigned nblocks;
    struct guest_block blocks[GUEST_MAX_BLOCKS];
    struct guest_net_spec net; /* --net and friends */
    int nports;
    const char *ports[GUEST_OPTS_MAX_PORTS];
    /* The image and the guest's argv: image, then its arguments. */
    int argc;
    char **argv;
};

/* What a request to lightvmd refers to: files by absolute path. */
/* The --net options for a lightvmd request; strings live in (buf). */
struct guest_opts_net_buf {
    char subnet[24], ip[16];
};
struct guest_paths {
    char blocks[GUEST_MAX_BLOCKS][PATH_MAX];
    struct lightvm_block list[GUEST_MAX_BLOCKS];
    struct guest_opts_net_buf net;
};

/* 1 if (c) was a guest option (applied to (o)), 0 if not, -1 on error. */
int guest_opt(int c, const char *arg, struct guest_opts *o);

struct lightvm_net;
void guest_opts_net(const struct guest_opts *o, struct lightvm_net *n,
                    struct guest_opts_net_buf *buf);

/* After getopt: the image and its arguments (a "--" after the image is
 * dropped). -1 if there is no image. */
int guest_opts_rest(int argc, char **argv, struct guest_opts *o);

/* -p/--publish: 1 if (c) was one (applied to (o)), 0 if not, -1 on error. */
int create_qemu_opt(int c, const char *arg, struct guest_opts *o);

/* The create (or restore) request for (o) with (image) (absolute); its
 * block paths are made absolute in (p). Arguments are left to the caller. */
void guest_opts_request(const struct guest_opts *o, const char *image,
                        struct guest_paths *p, struct lightvm_create_opts *co);

#endif
