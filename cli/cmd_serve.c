/*
 * cmd_serve.c: lightvm serve -- just-in-time service instantiation
 * (docs/serve.md). Listen on a TCP port; a client's first connection makes
 * a guest through lightvmd (from its pool of shells, or a clone of a state
 * file) and is spliced to the guest's address; a guest idle for the idle
 * timeout is destroyed. Everything goes through lightvmd's API, as the
 * caller: a tenant's quotas and network policy apply to every guest.
 */
#include "cli/cli.h"
#include "cli/guest_opts.h"
#include "cli/serve.h"
#include "toolstack/image.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
    "Usage: lightvm serve [OPTIONS] -l [ADDR:]PORT GUEST.elf [--] [ARGS...]\n"
    "       lightvm serve [OPTIONS] -l [ADDR:]PORT --from-snapshot FILE\n"
    "\n"
    "Just-in-time service instantiation: listen on a TCP port; a client's\n"
    "first connection creates a guest through lightvmd and is spliced to the\n"
    "guest's own address; a guest with no connection for the idle timeout\n"
    "is destroyed. Guests are shared by default (a new one when each has\n"
    "--conns-per-guest connections). SIGINT or SIGTERM destroy every guest\n"
    "made and exit.\n"
    "\n"
    "Options:\n"
    "  -l, --listen [ADDR:]PORT  where clients connect (default address: "
    "all)\n"
    "      --guest-port PORT   the guest's port (default: the listening "
    "one)\n"
    "      --per-client        a guest for each client address\n"
    "      --per-request       a guest for each connection, destroyed when it\n"
    "                          closes\n"
    "      --idle-timeout DURATION  destroy a guest with no connection this\n"
    "                          long (default 2s; 500ms, 1m also)\n"
    "      --max-guests N      guests at once, at most (default 64)\n"
    "      --when-full POLICY  at --max-guests: queue (default: hold the\n"
    "                          client until a guest goes), refuse (close it),\n"
    "                          reuse (hand it to the least busy guest)\n"
    "      --queue-max N       clients held at most (default 1024; more are\n"
    "                          refused)\n"
    "      --conns-per-guest N  shared: connections a guest takes before\n"
    "                          another is made (default 64)\n"
    "      --boot-timeout DURATION  a new guest must accept on its port\n"
    "                          within this (default 10s)\n"
    "      --from-snapshot FILE  clone this state file ('lightvm save') for\n"
    "                          each guest instead of booting an image\n"
    "      --spare N           keep N guests made ahead, not yet any client's\n"
    "                          (default 0: a guest boots when its client\n"
    "                          comes); they count in --max-guests\n"
    "      --workers N         concurrent requests to lightvmd (default 4)\n"
    "  -q, --quiet             no start-up and summary lines\n"
    "  -h, --help              this text\n"
    "\n"
    "Guest options, as 'lightvm create' takes them (each guest has a NIC:\n"
    "--net is implied):\n"
    "  -m, --mem SIZE, --mem-limit SIZE, --cpus CPUS, -e KEY=VALUE,\n"
    "  --monitor proc|kvm, --console-limit SIZE, --watchdog MS,\n"
    "  --net[=BRIDGE], --net-subnet CIDR, --net-nat, --net-no-filter\n";

enum {
    OPT_GUEST_PORT = GO_FIRST_FREE,
    OPT_PER_CLIENT,
    OPT_PER_REQUEST,
    OPT_IDLE,
    OPT_MAX_GUESTS,
    OPT_WHEN_FULL,
    OPT_QUEUE_MAX,
    OPT_CONNS,
    OPT_BOOT,
    OPT_SNAPSHOT,
    OPT_WORKERS,
    OPT_SPARE,
};

/* Guest options that make no sense for many guests at once, or for a
 * guest reached at its own address. */
static int refuse_guest_flag(int c)
{
    const char *why = NULL, *flag = NULL;
    switch (c) {
    case 'n': flag = "--name", why = "each guest gets its own"; break;
    case GO_NET_IP: flag = "--ip", why = "each guest gets its own"; break;
    case GO_NET_DHCP:
        flag = "--net-dhcp", why = "serve must know the guest's address";
        break;
    case GO_RESTART:
        flag = "--restart", why = "serve makes guests as clients come";
        break;
    case 'p': flag = "--publish", why = "clients come through serve"; break;
    case 'b': flag = "--block", why = "guests would share the file"; break;
    default: return 0;
    }
    cli_msg("serve: %s is not an option of serve (%s)", flag, why);
    return -1;
}

static int parse(int argc, char **argv, struct serve_cfg *cfg,
                 struct guest_opts *o, int *listen_given)
{
    static const struct option opts[] = {
        GUEST_LONG_OPTS,
        {"listen", required_argument, NULL, 'l'},
        {"guest-port", required_argument, NULL, OPT_GUEST_PORT},
        {"per-client", no_argument, NULL, OPT_PER_CLIENT},
        {"per-request", no_argument, NULL, OPT_PER_REQUEST},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"max-guests", required_argument, NULL, OPT_MAX_GUESTS},
        {"when-full", required_argument, NULL, OPT_WHEN_FULL},
        {"queue-max", required_argument, NULL, OPT_QUEUE_MAX},
        {"conns-per-guest", required_argument, NULL, OPT_CONNS},
        {"boot-timeout", required_argument, NULL, OPT_BOOT},
        {"from-snapshot", required_argument, NULL, OPT_SNAPSHOT},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"spare", required_argument, NULL, OPT_SPARE},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    int c, r = 0;
    while ((c = cli_getopt(argc, argv, "+" GUEST_SHORT_OPTS "l:qh", opts)) !=
           -1) {
        if (refuse_guest_flag(c) < 0)
            return -1;
        int g = guest_opt(c, optarg, o);
        if (g < 0)
            return -1;
        if (g > 0)
            continue;
        switch (c) {
        case 'l':
            r = serve_parse_listen(optarg, &cfg->listen);
            *listen_given = 1;
            break;
        case OPT_GUEST_PORT:
            r = serve_parse_port("--guest-port", optarg, &cfg->guest_port);
            break;
        case OPT_PER_CLIENT:
        case OPT_PER_REQUEST: {
            enum serve_mode m =
                c == OPT_PER_CLIENT ? SERVE_PER_CLIENT : SERVE_PER_REQUEST;
            if (cfg->mode != SERVE_SHARED && cfg->mode != m) {
                cli_msg("serve: --per-client and --per-request exclude each "
                        "other");
                return -1;
            }
            cfg->mode = m;
            break;
        }
        case OPT_IDLE:
            r = serve_parse_duration("--idle-timeout", optarg, 1,
                                     &cfg->idle_ns);
            break;
        case OPT_MAX_GUESTS:
            r = cli_parse_count("--max-guests", optarg, 1, 100000,
                                &cfg->max_guests);
            break;
        case OPT_WHEN_FULL:
            r = serve_parse_full(optarg, &cfg->when_full);
            break;
        case OPT_QUEUE_MAX:
            r = cli_parse_count("--queue-max", optarg, 0, 1000000,
                                &cfg->queue_max);
            break;
        case OPT_CONNS:
            r = cli_parse_count("--conns-per-guest", optarg, 1, 1000000,
                                &cfg->conns_per_guest);
            break;
        case OPT_BOOT:
            r = serve_parse_duration("--boot-timeout", optarg, 0,
                                     &cfg->boot_ns);
            break;
        case OPT_SNAPSHOT: cfg->snapshot = optarg; break;
        case OPT_WORKERS:
            r = cli_parse_count("--workers", optarg, 1, 16, &cfg->workers);
            break;
        case OPT_SPARE:
            r = cli_parse_count("--spare", optarg, 0, 100000, &cfg->spare);
            break;
        case 'q': cfg->quiet = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: return -1; /* cli_getopt said why */
        }
        if (r < 0)
            return -1;
    }
    return 0;
}

/* The listening socket, bound before the start-up line is printed: a
 * client (or a test) that read it can connect. */
static int listen_on(const struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)a, sizeof *a) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        int err = errno;
        char s[INET_ADDRSTRLEN];
        cli_msg("serve: listen on %s:%u: %s",
                inet_ntop(AF_INET, &a->sin_addr, s, sizeof s),
                ntohs(a->sin_port), strerror(err));
        close(fd);
        return -1;
    }
    return fd;
}

int cmd_serve(int argc, char **argv)
{
    struct serve_cfg cfg = {
        .mode = SERVE_SHARED,
        .when_full = SERVE_FULL_QUEUE,
        .max_guests = 64,
        .conns_per_guest = 64,
        .queue_max = 1024,
        .idle_ns = 2000000000ULL,
        .boot_ns = 10000000000ULL,
        .workers = 4,
    };
    struct guest_opts o;
    guest_opts_init(&o);
    int listen_given = 0;
    if (parse(argc, argv, &cfg, &o, &listen_given) < 0)
        return CLI_EXIT_USAGE;
    if (!listen_given) {
        cli_msg("serve: no --listen [ADDR:]PORT given (see 'lightvm serve "
                "--help')");
        return CLI_EXIT_USAGE;
    }
    if (!cfg.guest_port)
        cfg.guest_port = ntohs(cfg.listen.sin_port);
    int has_image = guest_opts_rest(argc, argv, &o) == 0;
    char image[PATH_MAX], snap[PATH_MAX];
    if (cfg.snapshot) {
        if (has_image || o.seen) {
            cli_msg("serve: --from-snapshot takes no image and no guest "
                    "options (the state file holds the guest)");
            return CLI_EXIT_USAGE;
        }
        if (!realpath(cfg.snapshot, snap)) {
            cli_msg("serve: --from-snapshot: %s: %s", cfg.snapshot,
                    strerror(errno));
            return CLI_EXIT_USAGE;
        }
        cfg.snapshot = snap;
    } else {
        if (!has_image) {
            cli_msg("serve: no guest image given (see 'lightvm serve "
                    "--help')");
            return CLI_EXIT_USAGE;
        }
        /* Asked for, it is said before the image is looked at as a Tinyx
         * directory; a Tinyx image also picks qemu on its own. */
        int qemu = o.monitor_given && !strcmp(o.monitor, "qemu");
        if (!qemu && (guest_opts_resolve(&o, "proc") < 0 ||
                      guest_opts_check(&o, 1, NULL) < 0))
            return CLI_EXIT_USAGE;
        if (qemu || !strcmp(o.monitor, "qemu")) {
            cli_msg("serve: a Tinyx image (qemu monitor) is not served yet: "
                    "proc and kvm guests only");
            return CLI_EXIT_USAGE;
        }
        if (!realpath(o.argv[0], image)) {
            cli_msg("serve: %s: %s", o.argv[0], strerror(errno));
            return CLI_EXIT_USAGE;
        }
        /* Checked now, not when the first client has come for it. */
        struct image *img;
        struct lvm_err err;
        char eb[512];
        if (image_load(image, &img, &err) < 0) {
            cli_msg("serve: %s", lvm_err_str(&err, eb, sizeof eb));
            return CLI_EXIT_USAGE;
        }
        image_free(img);
    }
    o.net.enabled = 1; /* clients reach each guest at its address */
    struct guest_paths gp;
    guest_opts_request(&o, image, &gp, &cfg.co);
    cfg.co.args = has_image ? (const char *const *)o.argv + 1 : NULL;
    cfg.co.nargs = has_image ? o.argc - 1 : 0;
    cfg.co.auto_remove = 0; /* serve destroys them: it knows when */
    /* Two fds a connection: as many as the hard limit allows (lightvmd
     * does the same). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int lfd = listen_on(&cfg.listen);
    if (lfd < 0)
        return CLI_EXIT_ERROR;
    return serve_run(&cfg, lfd) < 0 ? CLI_EXIT_ERROR : 0;
}
