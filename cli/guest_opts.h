/*
 * guest_opts.h: the one option table of `lightvm run`, `create` and
 * `restore`: the options that describe a guest, for every monitor, and
 * which monitor (and which engine: the lightvm process alone, or lightvmd)
 * each applies to. A flag that does not apply is refused in one line
 * naming the flag and the monitor, the same whichever engine would run it.
 */
#ifndef LVM_CLI_GUEST_OPTS_H
#define LVM_CLI_GUEST_OPTS_H

#include "toolstack/qemu/qemu_volume.h"
#include "toolstack/guest.h"

#include <getopt.h>
#include <lightvm/lightvm.h>

#define GUEST_OPTS_MAX_ENV 256
#define GUEST_OPTS_MAX_PORTS 16

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
    GO_ACCEL, /* qemu, in the lightvm process only */
    GO_KERNEL,
    GO_TAP,
    GO_TAP_FD,
    GO_NO_NET,
    GO_GATEWAY,
    GO_DNS,
    GO_MAC,
    GO_CPUS, /* --cpus: GO_CPU, named as the user typed it */
    GO_RESTART,
    GO_FIRST_FREE, /* commands number their own long options from here */
};

#define GUEST_SHORT_OPTS "m:n:e:b:v:p:w::"

/* Entries for a command's getopt_long table. */
#define GUEST_LONG_OPTS                                                        \
    {"mem", required_argument, NULL, 'm'},                                     \
        {"memory", required_argument, NULL, 'm'},                              \
        {"mem-limit", required_argument, NULL, GO_MEM_LIMIT},                  \
        {"cpu-quota", required_argument, NULL, GO_CPU},                        \
        {"cpus", required_argument, NULL, GO_CPUS},                            \
        {"console-limit", required_argument, NULL, GO_CONSOLE_LIMIT},          \
        {"name", required_argument, NULL, 'n'},                                \
        {"env", required_argument, NULL, 'e'},                                 \
        {"block", required_argument, NULL, 'b'},                               \
        {"volume", required_argument, NULL, 'v'},                              \
        {"monitor", required_argument, NULL, GO_MONITOR},                      \
        {"watchdog", required_argument, NULL, GO_WATCHDOG},                    \
        {"net", optional_argument, NULL, GO_NET},                              \
        {"net-subnet", required_argument, NULL, GO_NET_SUBNET},                \
        {"net-nat", no_argument, NULL, GO_NET_NAT},                            \
        {"net-dhcp", no_argument, NULL, GO_NET_DHCP},                          \
        {"ip", required_argument, NULL, GO_NET_IP},                            \
        {"net-no-filter", no_argument, NULL, GO_NET_NO_FILTER},                \
        {"publish", required_argument, NULL, 'p'},                             \
        {"wait-ready", optional_argument, NULL, 'w'},                          \
        {"accel", required_argument, NULL, GO_ACCEL},                          \
        {"kernel", required_argument, NULL, GO_KERNEL},                        \
        {"tap", required_argument, NULL, GO_TAP},                              \
        {"tap-fd", required_argument, NULL, GO_TAP_FD},                        \
        {"no-net", no_argument, NULL, GO_NO_NET},                              \
        {"gateway", required_argument, NULL, GO_GATEWAY},                      \
        {"dns", required_argument, NULL, GO_DNS},                              \
        {"restart", required_argument, NULL, GO_RESTART},                      \
    {                                                                          \
        "mac", required_argument, NULL, GO_MAC                                 \
    }

/* The options for every monitor; the table in docs/cli.md says which
 * applies where. */
#define GUEST_OPTS_HELP                                                        \
    "  -m, --mem SIZE          guest RAM (default 16M; qemu: the image's;\n"   \
    "                          K, M, G suffixes)\n"                            \
    "      --mem-limit SIZE    host memory limit (default RAM + 4M)\n"         \
    "      --cpu-quota CPUS    CPU time limit in CPUs, e.g. 0.5 (default\n"    \
    "                          none); qemu: also its vCPUs, rounded up\n"      \
    "      --console-limit SIZE  most a guest may write to a console file\n"   \
    "                          (default 16M)\n"                                \
    "  -n, --name NAME         guest name (default: from the image)\n"         \
    "  -e, --env KEY=VALUE     set an environment variable in the guest\n"     \
    "  -b, --block NAME=FILE[:ro]  attach FILE as block device NAME\n"         \
    "  -v, --volume FILE:PATH[:ro]  qemu: mount FILE (an ext4 or erofs\n"      \
    "                          image) at PATH in the guest\n"                  \
    "      --monitor MONITOR   proc (default for an ELF): a sandboxed\n"       \
    "                          process; kvm: a hardware virtual machine\n"     \
    "                          (needs /dev/kvm); qemu (default for a Tinyx\n"  \
    "                          image directory): Linux under QEMU; auto: "     \
    "qemu\n"                                                                   \
    "                          for a Tinyx image, else kvm where /dev/kvm\n"   \
    "                          works, proc otherwise\n"                        \
    "      --watchdog MS       kill the guest if it does not yield (ping) "    \
    "for\n"                                                                    \
    "                          MS milliseconds (lightvmd)\n"                   \
    "      --restart POLICY    no (default), on-failure[:N] or always:\n"      \
    "                          lightvmd starts the guest again when it\n"      \
    "                          exits, with a backoff (lightvmd)\n"             \
    "      --net[=BRIDGE]      attach the guest's NICs to BRIDGE (default\n"   \
    "                          lvm0, created on first use); its address and\n" \
    "                          MAC are printed on stderr at start\n"           \
    "      --net=NAME=BRIDGE[,forward][,nat][,subnet=CIDR][,ip=ADDRESS]\n"     \
    "                          NIC NAME on BRIDGE of its own; forward: it\n"   \
    "                          may send from any IPv4 source (repeatable)\n"   \
    "      --net-subnet CIDR   a new bridge's address and the guests' "        \
    "subnet\n"                                                                 \
    "                          (default 10.213.0.1/16)\n"                      \
    "      --net-nat           masquerade the subnet to the host's uplink\n"   \
    "      --net-dhcp          no static address: the guest uses DHCP\n"       \
    "      --ip ADDRESS        this address for the guest's first NIC\n"       \
    "                          (with --tap: ADDRESS[/PREFIX])\n"               \
    "      --net-no-filter     let the guest send from any MAC or address\n"   \
    "  -p, --publish [ADDR:]HOST:GUEST  qemu: forward host TCP port HOST\n"    \
    "                          (on ADDR, default 127.0.0.1; 0 picks a free\n"  \
    "                          one) to the guest's GUEST (user-mode "          \
    "networking)\n"

/* The options of `run` alone: what only the lightvm process does. */
#define GUEST_OPTS_HELP_RUN                                                    \
    "  -w, --wait-ready[=SECONDS]  qemu: fail (exit 125) unless the image's\n" \
    "                          health check passes in time (default 120 s)\n"  \
    "      --accel ACCEL       qemu, without lightvmd: auto, kvm or tcg\n"     \
    "      --kernel PATH       qemu, without lightvmd: another kernel\n"       \
    "      --tap IFNAME        qemu, without lightvmd: the NIC is this tap\n"  \
    "                          (--ip, --gateway, --dns, --mac set the "        \
    "guest's\n"                                                                \
    "                          side); --tap-fd FD: an open tap\n"              \
    "      --no-net            qemu, without lightvmd: no NIC at all\n"

struct guest_opts {
    const char *name;
    const char *monitor; /* as given; guest_opts_resolve settles it */
    int monitor_given;   /* --monitor was on the command line */
    int asked_auto;      /* it said auto */
    int run;             /* for `lightvm run` (the run-only options) */
    uint64_t mem, mem_limit, console_limit;
    double cpus;
    uint32_t watchdog_ms;
    const char *restart; /* --restart, checked; NULL: not given */
    int nenv;
    char *env[GUEST_OPTS_MAX_ENV];
    unsigned nblocks;
    struct guest_block blocks[GUEST_MAX_BLOCKS];
    unsigned nvolumes;
    struct qemu_volume volumes[QEMU_MAX_VOLUMES];
    struct guest_net_spec net;            /* --net and friends */
    const char *nic_args[GUEST_MAX_NICS]; /* --net=NAME=BRIDGE,... as given */
    unsigned ip_prefix;                   /* --ip ADDR/PREFIX (for --tap) */
    const char *ip_arg;
    int nports;
    const char *ports[GUEST_OPTS_MAX_PORTS];
    /* qemu */
    int wait_ready;
    double ready_timeout;
    int accel; /* enum qemu_accel */
    const char *kernel, *tap, *gateway, *dns, *mac;
    int tap_fd, no_net;
    /* Which flags were given (bits of the rules in guest_opts.c). */
    uint64_t seen;
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
    char volumes[QEMU_MAX_VOLUMES][PATH_MAX];
    struct lightvm_volume vlist[QEMU_MAX_VOLUMES];
    struct guest_opts_net_buf net;
};

/* Empty options (no tap fd). */
void guest_opts_init(struct guest_opts *o);

/* 1 if (c) was a guest option (applied to (o)), 0 if not, -1 on error. */
int guest_opt(int c, const char *arg, struct guest_opts *o);

/*
 * The value of option (c) just returned by getopt in "+" mode: optarg, or,
 * for the two options whose value is optional (--net, -w), the next word
 * when it can only be that value: `--net user0=br-users` (NAME=BRIDGE, not
 * a file) and `-w 15 IMAGE` (a number, not a file, with an image after
 * it). getopt would take it for the image. Advances optind past it.
 */
const char *guest_opt_value(int c, int argc, char **argv);

struct lightvm_net;
void guest_opts_net(const struct guest_opts *o, struct lightvm_net *n,
                    struct guest_opts_net_buf *buf);

/* After getopt: the image and its arguments (a "--" after the image is
 * dropped). -1 if there is no image. */
int guest_opts_rest(int argc, char **argv, struct guest_opts *o);

/* Settle o->monitor for the image (o->argv[0]): a Tinyx image directory
 * runs under qemu by default and with auto, anything else under
 * (fallback) by default (an ELF's auto stays for the toolstack or
 * lightvmd to pick). An unknown monitor, or an image of the wrong kind
 * for the one asked for: one line, -1. */
int guest_opts_resolve(struct guest_opts *o, const char *fallback);

/* Refuse, in one line, the first flag given that does not apply to
 * o->monitor through lightvmd (daemon 1) or in the lightvm process alone
 * (daemon 0); (hint) ends the line of a flag only the lightvm process
 * honours (NULL: none). 0 if every flag applies, else -1. */
int guest_opts_check(struct guest_opts *o, int daemon, const char *hint);

/* The create (or restore) request for (o) with (image) (absolute); its
 * block paths are made absolute in (p). Arguments are left to the caller. */
void guest_opts_request(const struct guest_opts *o, const char *image,
                        struct guest_paths *p, struct lightvm_create_opts *co);

/* 1 if (path) is a Tinyx image directory (it holds a manifest.json). */
int guest_opts_is_tinyx(const char *path);

#endif
