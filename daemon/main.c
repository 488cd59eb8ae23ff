/*
 * main.c: lightvmd, the lightvm toolstack daemon.
 *
 * Creates guests in a pool of prepared shells (the LightVM split
 * toolstack), keeps no central store (each guest's state is in its own
 * run directory) and serves a JSON API on a unix socket (docs/api.md).
 * Guests do not depend on the daemon: they keep running if it dies, and a
 * restarted daemon finds and manages them again.
 */
#include "daemon/daemon.h"
#include "daemon/server_guard.h"
#include "daemon/quota.h"
#include "toolstack/audit.h"
#include "toolstack/netsubnet.h"
#include "toolstack/sandbox.h"
#include "toolstack/text.h"

#include <lightvm/abi.h>
#include <lvm_version.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "Usage: lightvmd [OPTIONS]\n"
    "\n"
    "The lightvm toolstack daemon: keeps a pool of prepared shells and\n"
    "creates, manages and destroys guests for `lightvm` and other clients.\n"
    "\n"
    "Options:\n"
    "  --run-dir DIR      state directory (default /run/lightvm)\n"
    "  --socket PATH      API socket (default RUN_DIR/lightvmd.sock)\n"
    "  --group GROUP      members of GROUP may use the API (default: root\n"
    "                     only)\n"
    "  --pool SPEC        prepared shells per RAM size, e.g. 16M=64,64M=8;\n"
    "                     SIZE+net=N: shells with a tap on lvm0 ready;\n"
    "                     SIZE+kvm=N: kvm shells (VM and vCPU made)\n"
    "                     (default 16M=32; 0 disables the pool)\n"
    "  --pool-rate N      prepare at most N shells per second (default 500)\n"
    "  --config FILE      the operator's policy (default\n"
    "                     /etc/lightvm/lightvmd.conf, if it exists)\n"
    "  --max-connections N           connections of all API group members\n"
    "                     together (default: the fd limit / 8, at most 1024)\n"
    "  --max-connections-per-user N  of one member (default: half the\n"
    "                     above, at most 64)\n"
    "  --max-connections-root N      root's, apart from members' (default:\n"
    "                     the fd limit / 16, at most 256)\n"
    "  --migrate-listen ADDR:PORT  take guests migrated over TCP here (they\n"
    "                     become root's), from peers that hold the secret of\n"
    "  --migrate-token FILE  (root's, mode 0600, at least 16 characters)\n"
    "  --idle-timeout S   close a connection silent for S seconds, unless\n"
    "                     it waits for a reply (default 60; 0: never)\n"
    "  --quiet            log nothing\n"
    "  --version          print the version and exit\n"
    "  -h, --help         this text\n"
    "\n"
    "--group, --pool, --pool-rate and the connection options can be set\n"
    "in the config file too (api_group, pool, pool_rate, connections); an\n"
    "option wins. See lightvmd(8).\n";

static volatile int quiet;
static char migrate_listen[160]; /* --migrate-listen, or "" */

/* --migrate-token FILE: the TCP port's secret, root's alone to read
 * (every local user can reach the port, loopback included). */
static int read_token(struct daemon *d, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "lightvmd: --migrate-token %s: %s\n", path,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    ssize_t n = read(fd, d->mig_token, sizeof d->mig_token - 1);
    close(fd);
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077)) {
        fprintf(stderr,
                "lightvmd: --migrate-token %s: must be a regular file of "
                "root's that only root may read (chmod 600)\n",
                path);
        return -1;
    }
    while (n > 0 && (d->mig_token[n - 1] == '\n' || d->mig_token[n - 1] == ' '))
        n--;
    d->mig_token[n > 0 ? n : 0] = 0;
    for (ssize_t i = 0; i < n; i++)
        if ((unsigned char)d->mig_token[i] < 0x21 ||
            (unsigned char)d->mig_token[i] > 0x7e)
            n = -1;
    if (n < 16) {
        fprintf(stderr,
                "lightvmd: --migrate-token %s: the secret must be 16 to 256 "
                "printable characters, without spaces (e.g. openssl rand "
                "-hex 32)\n",
                path);
        return -1;
    }
    return 0;
}
/* stderr is the journal's (systemd's JOURNAL_STREAM names it): lines go
 * without our timestamp, which the journal records itself. */
static int to_journal;

static void detect_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0)
        to_journal = (unsigned long long)st.st_dev == dev &&
                     (unsigned long long)st.st_ino == ino;
}

void daemon_log(const char *fmt, ...)
{
    if (quiet)
        return;
    char text[1024], safe[TEXT_ESCAPED_MAX(sizeof text)];
    va_list ap;
    if (to_journal) {
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        /* <6>: info, read by journald (SyslogLevelPrefix). */
        fprintf(stderr, "<6>%s\n", text_escape(text, safe, sizeof safe));
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char buf[64];
    int n = (int)strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(buf + n, sizeof buf - (size_t)n,
                  ".%03ld lightvmd: ", ts.tv_nsec / 1000000);
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* Names, paths and messages from members and guests: one line each,
     * nothing a terminal or a log reader would act on. */
    fprintf(stderr, "%s%s\n", buf, text_escape(text, safe, sizeof safe));
}

double daemon_unix_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int ep_add(struct daemon *d, int fd, struct ep_item *it)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = it};
    return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* One daemon per run directory. */
static int take_lock(struct daemon *d, struct lvm_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lightvmd.lock", d->run_dir);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0)
        return lvm_err_set(err, errno, "open %s", path);
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0)
        return lvm_err_set(err, errno == EWOULDBLOCK ? EBUSY : errno,
                           "another lightvmd is running on %s", d->run_dir);
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(d->lock_fd, 0) < 0 || write(d->lock_fd, pid, (size_t)n) < 0)
        return lvm_err_set(err, errno, "write %s", path);
    return 0;
}

static int setup(struct daemon *d, struct lvm_err *err)
{
    /* Guests cost one fd each (their pidfd): use all we may. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    if (sandbox_reserve_fds(err) < 0) /* only slower without it */
        daemon_log("new shells will copy the fd table: %s", err->msg);
    setenv("LIGHTVM_RUN_DIR", d->run_dir, 1);
    if (host_init(&d->host, err) < 0)
        return -1;
    /* Before any thread: shells are cloned from a mount namespace whose
     * root is the empty one already (only slower without it). */
    if (host_use_template_mntns(&d->host, err) < 0)
        daemon_log("shells will make their empty root themselves: %s",
                   err->msg);
    snprintf(d->guests_dir, sizeof d->guests_dir, "%s/guests", d->run_dir);
    if (mkdir(d->guests_dir, 0711) < 0 && errno != EEXIST)
        return lvm_err_set(err, errno, "create %s", d->guests_dir);
    if (take_lock(d, err) < 0)
        return -1;
    if (vms_init(d, err) < 0)
        return -1;
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epfd < 0)
        return lvm_err_set(err, errno, "epoll_create1");

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    d->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    d->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec its = {{0, 100 * 1000 * 1000}, {0, 100 * 1000 * 1000}};
    if (d->sig_fd < 0 || d->tick_fd < 0 ||
        timerfd_settime(d->tick_fd, 0, &its, NULL) < 0)
        return lvm_err_set(err, errno, "signalfd/timerfd");
    d->ep_sig = (struct ep_item){.type = EP_SIGNAL, .ptr = NULL};
    d->ep_tick = (struct ep_item){.type = EP_TICK, .ptr = NULL};
    d->ep_audit = (struct ep_item){.type = EP_AUDIT, .ptr = NULL};
    ep_add(d, d->sig_fd, &d->ep_sig);
    ep_add(d, d->tick_fd, &d->ep_tick);
    d->audit_fd = audit_open();
    if (d->audit_fd >= 0)
        ep_add(d, d->audit_fd, &d->ep_audit);
    else
        daemon_log("kernel audit records unavailable: policy kills will be "
                   "reported without the system call's name");

    rundir_recover(d);
    vm_net_sweep(d);
    if (guard_init(d, err) < 0 || server_open(d, err) < 0)
        return -1;
    d->ep_listen = (struct ep_item){.type = EP_LISTEN, .ptr = NULL};
    ep_add(d, d->listen_fd, &d->ep_listen);
    if (migrate_listen[0] && migrate_in_listen(d, migrate_listen, err) < 0)
        return -1;
    return pool_start(d, err);
}

static void record_kill(pid_t pid, long nr, void *arg)
{
    vm_audit_record(arg, pid, nr);
}

/* Drain the audit socket; every seccomp kill is recorded by pid. */
static void audit_event(struct daemon *d)
{
    audit_wait_seccomp(d->audit_fd, 0, 0, record_kill, d);
}

static void run(struct daemon *d)
{
    struct epoll_event evs[64];
    while (!d->stop) {
        int n = epoll_wait(d->epfd, evs, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            daemon_log("epoll_wait: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            struct ep_item *it = evs[i].data.ptr;
            switch (it->type) {
            case EP_LISTEN: server_accept(d); break;
            case EP_CLIENT:
                server_client_event(d, it->ptr, evs[i].events);
                break;
            case EP_GUEST: vm_event(d, it->ptr, it->slot); break;
            case EP_SIGNAL: {
                struct signalfd_siginfo si;
                while (read(d->sig_fd, &si, sizeof si) == sizeof si)
                    if (si.ssi_signo != SIGHUP)
                        d->stop = 1;
                break;
            }
            case EP_TICK: {
                uint64_t x;
                while (read(d->tick_fd, &x, sizeof x) == sizeof x)
                    ;
                vm_tick(d);
                guard_tick(d);
                migrate_in_tick(d);
                break;
            }
            case EP_AUDIT: audit_event(d); break;
            case EP_MIGRATE_LISTEN: migrate_in_accept(d); break;
            case EP_MIGRATE: migrate_in_event(d, it->ptr); break;
            }
        }
        vm_bury(d);
        server_bury(d);
        guard_batch_done(d);
    }
}

static int parse_args(struct daemon *d, int argc, char **argv)
{
    enum {
        O_RUN = 256,
        O_SOCK,
        O_GROUP,
        O_POOL,
        O_RATE,
        O_QUIET,
        O_CONFIG,
        O_MIGRATE,
        O_MIGRATE_TOKEN,
        O_CONN
    };
    static const struct option opts[] = {
        {"run-dir", required_argument, NULL, O_RUN},
        {"socket", required_argument, NULL, O_SOCK},
        {"group", required_argument, NULL, O_GROUP},
        {"pool", required_argument, NULL, O_POOL},
        {"pool-rate", required_argument, NULL, O_RATE},
        {"quiet", no_argument, NULL, O_QUIET},
        {"config", required_argument, NULL, O_CONFIG},
        {"migrate-listen", required_argument, NULL, O_MIGRATE},
        {"migrate-token", required_argument, NULL, O_MIGRATE_TOKEN},
        {"max-connections", required_argument, NULL, O_CONN},
        {"max-connections-per-user", required_argument, NULL, O_CONN + 1},
        {"max-connections-root", required_argument, NULL, O_CONN + 2},
        {"idle-timeout", required_argument, NULL, O_CONN + 3},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    const char *run = getenv("LIGHTVM_RUN_DIR");
    snprintf(d->run_dir, sizeof d->run_dir, "%s",
             run && *run ? run : HOST_RUN_DIR_DEFAULT);
    d->api_gid = (gid_t)-1;
    d->pool.rate = 500;
    d->guard.idle_s = 60;
    /* The connection options, in O_CONN order; 0 caps are derived later. */
    unsigned *conn_opt[] = {&d->guard.max_members, &d->guard.max_per_user,
                            &d->guard.max_root, &d->guard.idle_s};
    struct lvm_err err;
    if (pool_parse(&d->pool, "16M=32", &err) < 0)
        return -1;
    int c;
    char *end;
    const char *config = NULL;
    /* What the command line set: the file's settings fill in the rest. */
    int set_group = 0, set_pool = 0, set_rate = 0;
    int set_conn[CONFIG_CONN_KINDS] = {0};
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_RUN:
            snprintf(d->run_dir, sizeof d->run_dir, "%s", optarg);
            break;
        case O_SOCK:
            snprintf(d->sock_path, sizeof d->sock_path, "%s", optarg);
            break;
        case O_GROUP: {
            struct group *gr = getgrnam(optarg);
            if (!gr) {
                fprintf(stderr, "lightvmd: --group: no group '%s'\n", optarg);
                return -1;
            }
            d->api_gid = gr->gr_gid;
            set_group = 1;
            break;
        }
        case O_POOL:
            set_pool = 1;
            if (pool_parse(&d->pool, optarg, &err) < 0) {
                fprintf(stderr, "lightvmd: --pool: %s\n", err.msg);
                return -1;
            }
            break;
        case O_RATE:
            set_rate = 1;
            d->pool.rate = strtod(optarg, &end);
            if (*end || !(d->pool.rate > 0)) {
                fprintf(stderr,
                        "lightvmd: --pool-rate: '%s' is not a positive "
                        "number\n",
                        optarg);
                return -1;
            }
            break;
        case O_QUIET: quiet = 1; break;
        case O_CONFIG: config = optarg; break;
        case O_MIGRATE_TOKEN:
            if (read_token(d, optarg) < 0)
                return -1;
            break;
        case O_MIGRATE:
            snprintf(migrate_listen, sizeof migrate_listen, "%s", optarg);
            break;
        case O_CONN:
        case O_CONN + 1:
        case O_CONN + 2:
        case O_CONN + 3: {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || !*optarg || *optarg == '-' || v > 1000000 ||
                (v == 0 && c != O_CONN + 3)) {
                const struct option *o = opts;
                while (o->val != c)
                    o++;
                fprintf(stderr, "lightvmd: --%s: '%s' is not a %s number\n",
                        o->name, optarg,
                        c == O_CONN + 3 ? "non-negative" : "positive");
                return -1;
            }
            *conn_opt[c - O_CONN] = (unsigned)v;
            set_conn[c - O_CONN] = 1;
            break;
        }
        case 'h': fputs(usage, stdout); exit(0);
        case 'V':
            printf("lightvmd %s (guest ABI %d)\n", LVM_VERSION,
                   LVM_ABI_VERSION);
            exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return -1;
    }
    if (config_load(config, &d->cfg, &err) < 0) {
        char buf[LVM_ERR_MSG_MAX + 128];
        fprintf(stderr, "lightvmd: %s\n", lvm_err_str(&err, buf, sizeof buf));
        return -1;
    }
    /* Operator networks are bridges only once used: until then a bridge
     * given no subnet must not take one of theirs. */
    for (unsigned i = 0; i < d->cfg.nnets; i++)
        if (d->cfg.nets[i].addr)
            netsubnet_reserve(d->cfg.nets[i].addr, d->cfg.nets[i].prefix);
    const struct config_service *svc = &d->cfg.svc;
    if (!set_group && svc->api_group[0]) {
        struct group *gr = getgrnam(svc->api_group);
        if (!gr) {
            fprintf(stderr, "lightvmd: %s: field api_group: no group '%s'\n",
                    d->cfg.path, svc->api_group);
            return -1;
        }
        d->api_gid = gr->gr_gid;
    }
    if (!set_pool && svc->pool[0] &&
        pool_parse(&d->pool, svc->pool, &err) < 0) {
        fprintf(stderr, "lightvmd: %s: field pool: %s\n", d->cfg.path, err.msg);
        return -1;
    }
    if (!set_rate && svc->pool_rate > 0)
        d->pool.rate = svc->pool_rate;
    for (int i = 0; i < CONFIG_CONN_KINDS; i++)
        if (!set_conn[i] && svc->conn_set[i])
            *conn_opt[i] = svc->conn[i];
    if (migrate_listen[0] && !d->mig_token[0]) {
        fprintf(stderr, "lightvmd: --migrate-listen needs --migrate-token "
                        "FILE: every local user can reach the port\n");
        return -1;
    }
    if (!d->sock_path[0])
        snprintf(d->sock_path, sizeof d->sock_path, "%s/lightvmd.sock",
                 d->run_dir);
    return 0;
}

int main(int argc, char **argv)
{
    static struct daemon d;
    detect_journal();
    d.listen_fd = d.sig_fd = d.tick_fd = d.audit_fd = d.lock_fd = d.epfd = -1;
    d.mig_listen_fd = -1;
    if (parse_args(&d, argc, argv) < 0)
        return 2;
    struct lvm_err err;
    if (mkdir(d.run_dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "lightvmd: create %s: %s\n", d.run_dir,
                strerror(errno));
        return 1;
    }
    if (setup(&d, &err) < 0) {
        char buf[LVM_ERR_MSG_MAX + 128];
        fprintf(stderr, "lightvmd: %s\n", lvm_err_str(&err, buf, sizeof buf));
        return 1;
    }
    daemon_log("ready on %s (%zu guests found, pool %s)", d.sock_path, d.nvms,
               d.pool.nclasses ? "on" : "off");
    /* Under systemd (Type=notify): the socket accepts from here on. A
     * no-op without $NOTIFY_SOCKET. */
    sd_notifyf(0, "READY=1\nSTATUS=%zu guests, pool %s\nMAINPID=%d", d.nvms,
               d.pool.nclasses ? "on" : "off", (int)getpid());
    run(&d);
    sd_notify(0, "STOPPING=1");
    daemon_log("stopping; running guests are left running");
    pool_stop(&d);
    server_close_all(&d);
    migrate_in_close_all(&d);
    images_free_all(&d);
    quota_free_all(&d);
    vm_net_close(&d);
    return 0;
}
