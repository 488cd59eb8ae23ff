/*
 * pool.c: the prepare phase, ahead of time. A background thread keeps,
 * for each RAM size class, a stack of shells that are fully set up
 * (namespaces, uid map, cgroup with limits, empty root, no privileges,
 * device page and control channel made) and waiting at READY. Creating a
 * guest pops one (pool_take) and only runs the execute phase; the thread
 * refills the pool behind it, at most `rate` shells a second.
 *
 * Each pooled shell already has its id and run directory (with its device
 * page and a shell.pid file but no config.json): if the daemon dies, the
 * shells see their control socket close and exit, and the next daemon
 * removes what they left (rundir_recover).
 */
#include "daemon/vm_monitor.h"
#include "toolstack/guest_policy.h"
#include "toolstack/layout.h"
#include "toolstack/monitor.h"
#include "toolstack/netaddr.h"
#include "toolstack/netguard.h"

#include <errno.h>
#include <poll.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int pool_parse(struct pool *p, const char *spec, struct lvm_err *err)
{
    for (unsigned i = 0; i < p->nclasses; i++)
        free(p->cls[i].ready);
    p->nclasses = 0;
    if (!strcmp(spec, "0") || !strcmp(spec, "off"))
        return 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq)
            return lvm_err_invalid(err, "'%s' is not SIZE[+net|+kvm]=COUNT",
                                   item);
        *eq = 0;
        char *plus = strchr(item, '+');
        int net = 0;
        const struct monitor_ops *mon = monitor_find(VM_MONITOR_DEFAULT, NULL);
        if (plus) {
            /* +net: proc shells with a tap; +MONITOR: shells of another
             * unikernel monitor (kvm) */
            if (!strcmp(plus, "+net"))
                net = 1;
            else if (!strcmp(plus, "+auto") ||
                     !(mon = monitor_find(plus + 1, NULL)))
                return lvm_err_invalid(
                    err, "'%s=%s' is not SIZE[+net|+kvm]=COUNT", item, eq + 1);
            *plus = 0;
        }
        uint64_t ram;
        char *end;
        long n = strtol(eq + 1, &end, 10);
        struct guest_ram_range rr = guest_ram_range(mon->kind, 0);
        if (layout_parse_size(item, &ram) < 0 || ram < rr.min || ram > rr.max ||
            ram % 4096 || *end || n < 0 || n > 100000)
            return lvm_err_invalid(err, "'%s=%s' is not SIZE[+net|+kvm]=COUNT",
                                   item, eq + 1);
        if (p->nclasses == POOL_MAX_CLASSES)
            return lvm_err_invalid(err, "at most %d classes", POOL_MAX_CLASSES);
        struct pool_class *c = &p->cls[p->nclasses++];
        memset(c, 0, sizeof *c);
        c->ram = ram;
        c->net = net;
        c->monitor = mon->kind;
        c->target = (unsigned)n;
        c->ready = calloc(n ? (size_t)n : 1, sizeof *c->ready);
        if (!c->ready)
            return lvm_err_set(err, ENOMEM, "allocate the pool");
    }
    return 0;
}

/* A tap for pooled shell (g), on the default bridge (made sure of on
 * first use, with the guest filter, as `run --net` would). */
static int prepare_tap(struct daemon *d, const struct guest *g,
                       struct netdev_tap *tap, struct lvm_err *err)
{
    struct pool *p = &d->pool;
    if (!p->nd && netdev_open(&p->nd, err) < 0)
        return -1;
    if (!p->br.ifindex) {
        uint32_t addr;
        unsigned prefix;
        if (netaddr_parse_cidr(NETDEV_SUBNET_DEFAULT, &addr, &prefix, err) < 0)
            return -1;
        /* The operator's subnet if the config lists lvm0 (read-only once
         * the daemon runs): the pool must not give lvm0 an address that
         * the policy then refuses its guests. */
        for (unsigned i = 0; i < d->cfg.nnets; i++)
            if (!strcmp(d->cfg.nets[i].bridge, NETDEV_BRIDGE_DEFAULT)) {
                addr = d->cfg.nets[i].addr;
                prefix = d->cfg.nets[i].prefix;
            }
        if (netdev_bridge_ensure(p->nd, NETDEV_BRIDGE_DEFAULT, addr, prefix, 0,
                                 &p->br, err) < 0 ||
            netguard_ensure(p->nd, err) < 0) {
            p->br.ifindex = 0;
            return -1;
        }
    }
    char name[IF_NAMESIZE];
    netdev_tap_name(g->id, 0, name);
    if (netdev_tap_create(p->nd, name, tap, err) < 0)
        return -1;
    if (netdev_tap_attach(p->nd, tap, p->br.ifindex, err) < 0) {
        netdev_tap_destroy(p->nd, tap);
        p->br.ifindex = 0; /* removed behind our back? look again */
        return -1;
    }
    return 0;
}

/* Make one shell of (c)'s size; called without the lock. */
static struct guest *prepare_one(struct daemon *d, const struct pool_class *c,
                                 struct netdev_tap *tap, struct lvm_err *err)
{
    char id[GUEST_ID_LEN + 1], devpage[PATH_MAX];
    guest_new_id(id);
    if (rundir_make(d, id, err) < 0)
        return NULL;
    rundir_path(d, id, "devpage", devpage, sizeof devpage);
    /* The limit of the common case: a console log of the default size. */
    struct guest_mem_need need = {.mon = c->monitor,
                                  .ram = c->ram,
                                  .console_file = 1,
                                  .console_limit = GUEST_CONSOLE_LIMIT_LOG};
    struct guest_class gc = {.ram_size = c->ram,
                             .memory_limit = guest_memory_limit(&need),
                             .monitor = c->monitor,
                             .devpage_path = devpage,
                             .id = id};
    struct guest *g;
    if (guest_prepare(&d->host, &gc, &g, err) < 0) {
        rundir_remove(d, id);
        return NULL;
    }
    rundir_write_shell(d, g);
    tap->fd = -1;
    if (c->net && prepare_tap(d, g, tap, err) < 0) {
        lvm_err_wrap(err, "a tap for a pooled shell");
        guest_kill(g);
        siginfo_t si;
        waitid(P_PIDFD, (id_t)g->sb.pidfd, &si, WEXITED);
        guest_free(g);
        rundir_remove(d, id);
        return NULL;
    }
    return g;
}

/* Give up a tap that was never used: closing its only fd removes it. */
static void drop_tap(struct netdev_tap *tap)
{
    if (tap->fd >= 0)
        close(tap->fd);
    tap->fd = -1;
}

static void discard(struct daemon *d, struct pool_entry *e);

/* May this process raise a task's priority (nice 0 after POOL_NICE)? */
static int can_raise_priority(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct c[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &h, c) < 0)
        return 0;
    return (c[CAP_SYS_NICE / 32].effective >> (CAP_SYS_NICE % 32)) & 1;
}

static void *pool_thread(void *arg)
{
    struct daemon *d = arg;
    struct pool *p = &d->pool;
    /* Refilling yields to creating: this thread, and the shells it makes
     * (they inherit it), run as SCHED_BATCH at nice POOL_NICE; pool_take()
     * makes a shell an ordinary task again when it becomes a guest. At
     * nice 10 alone the thread, woken while the daemon created a guest,
     * preempted the creating thread (229 times in 250 creates, two creates
     * in three 1.2 ms slower); a SCHED_BATCH task never preempts on
     * wakeup. SCHED_IDLE measured faster still (median 0.59 ms against
     * 0.9 to 1.1), but an idle-class task gets next to no CPU on a busy
     * host while it holds what others wait for: the pool's lock and the
     * daemon's fd window, and in the kernel the RTNL while its network
     * namespace is made and, as the shell joins its cgroup, the lock every
     * fork on the host takes. Lowered only if pool_take() can raise the
     * shells again (CAP_SYS_NICE): see pool_start(). */
    if (p->lowered) {
        struct sched_param batch = {0};
        sched_setscheduler((pid_t)gettid(), SCHED_BATCH, &batch);
        setpriority(PRIO_PROCESS, (id_t)gettid(), POOL_NICE);
    } else {
        daemon_log("pool: no CAP_SYS_NICE: shells are prepared at the "
                   "normal priority");
    }
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        /* Refill the emptiest class first (by fraction of its target). */
        struct pool_class *c = NULL;
        double best = 1.0;
        for (unsigned i = 0; i < p->nclasses; i++) {
            struct pool_class *k = &p->cls[i];
            if (!k->target)
                continue;
            double fill = (double)(k->nready + k->preparing) / k->target;
            if (fill < best) {
                best = fill;
                c = k;
            }
        }
        if (!c) {
            pthread_cond_wait(&p->cond, &p->lock);
            continue;
        }
        c->preparing++;
        pthread_mutex_unlock(&p->lock);

        /* Pace the refill: at most `rate` shells a second. */
        long step = (long)(1e9 / p->rate);
        next.tv_nsec += step;
        while (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec + 1)
            next = now; /* do not build up a burst after idling */
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);

        struct lvm_err err;
        struct netdev_tap tap = {.fd = -1};
        struct guest *g = prepare_one(d, c, &tap, &err);
        pthread_mutex_lock(&p->lock);
        c->preparing--;
        if (!g) {
            p->failed++;
            snprintf(p->last_error, sizeof p->last_error, "%s", err.msg);
            /* Back off instead of spinning on a persistent failure. */
            pthread_mutex_unlock(&p->lock);
            daemon_log("pool: preparing a shell failed: %s", err.msg);
            struct timespec pause = {0, 200 * 1000 * 1000};
            nanosleep(&pause, NULL);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        if (p->stop || c->nready >= c->target) {
            pthread_mutex_unlock(&p->lock);
            /* Killed and reaped before its cgroup goes: a shell still
             * exiting keeps its cgroup busy, and the directories stay. */
            struct pool_entry e = {g, tap};
            discard(d, &e);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        c->ready[c->nready++] = (struct pool_entry){g, tap};
        p->made++;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int pool_start(struct daemon *d, struct lvm_err *err)
{
    struct pool *p = &d->pool;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    if (p->nclasses == 0)
        return 0;
    /* A kvm class on a host without KVM would only fail, forever. */
    for (unsigned i = 0; i < p->nclasses; i++) {
        const struct monitor_ops *m = monitor_of(p->cls[i].monitor);
        if (p->cls[i].target && (!m || m->available(&d->host, err) < 0))
            return lvm_err_wrap(err, "--pool %s class",
                                m ? m->name : "unknown");
    }
    p->lowered = can_raise_priority();
    int r = pthread_create(&p->thread, NULL, pool_thread, d);
    if (r)
        return lvm_err_set(err, r, "start the pool thread");
    p->started = 1;
    return 0;
}

static int alive(const struct guest *g)
{
    struct pollfd pfd = {g->sb.pidfd, POLLIN, 0};
    return poll(&pfd, 1, 0) == 0; /* a pidfd is readable once it exits */
}

static void discard(struct daemon *d, struct pool_entry *e)
{
    struct guest *g = e->g;
    drop_tap(&e->tap);
    char id[GUEST_ID_LEN + 1];
    memcpy(id, g->id, sizeof id);
    guest_kill(g);
    siginfo_t si;
    waitid(P_PIDFD, (id_t)g->sb.pidfd, &si, WEXITED);
    guest_free(g);
    rundir_remove(d, id);
}

struct guest *pool_take(struct daemon *d, uint64_t ram, int net,
                        unsigned monitor, struct netdev_tap *tap)
{
    struct pool *p = &d->pool;
    struct guest *g = NULL;
    struct pool_entry dead[8];
    int ndead = 0;
    tap->fd = -1;
    pthread_mutex_lock(&p->lock);
    for (unsigned i = 0; i < p->nclasses; i++) {
        struct pool_class *c = &p->cls[i];
        if (c->ram != ram || c->net != !!net || c->monitor != monitor)
            continue;
        /* A shell that died while waiting (killed from outside) is no
         * use: drop it and take the next. */
        while (c->nready && !g) {
            struct pool_entry e = c->ready[--c->nready];
            if (!alive(e.g) && ndead < 8) {
                dead[ndead++] = e;
                continue;
            }
            g = e.g;
            *tap = e.tap;
        }
        break;
    }
    if (g)
        p->taken++;
    else
        p->missed++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    /* The shell is ours now: back to an ordinary task, outside the lock
     * (p->lowered is set once, before the pool thread starts). */
    struct sched_param normal = {0};
    if (g && p->lowered &&
        (sched_setscheduler(g->sb.pid, SCHED_OTHER, &normal) < 0 ||
         setpriority(PRIO_PROCESS, (id_t)g->sb.pid, 0) < 0))
        daemon_log("pool: could not restore shell %d's priority: %s",
                   (int)g->sb.pid, strerror(errno));
    for (int i = 0; i < ndead; i++)
        discard(d, &dead[i]);
    return g;
}

void pool_check(struct daemon *d)
{
    struct pool *p = &d->pool;
    struct pool_entry dead[16];
    int ndead = 0;
    pthread_mutex_lock(&p->lock);
    for (unsigned i = 0; i < p->nclasses; i++) {
        struct pool_class *c = &p->cls[i];
        for (unsigned k = 0; k < c->nready && ndead < 16;) {
            if (alive(c->ready[k].g)) {
                k++;
                continue;
            }
            dead[ndead++] = c->ready[k];
            c->ready[k] = c->ready[--c->nready];
        }
    }
    if (ndead)
        pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < ndead; i++)
        discard(d, &dead[i]);
}

void pool_stop(struct daemon *d)
{
    struct pool *p = &d->pool;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (p->started)
        pthread_join(p->thread, NULL);
    for (unsigned i = 0; i < p->nclasses; i++) {
        struct pool_class *c = &p->cls[i];
        while (c->nready)
            discard(d, &c->ready[--c->nready]);
    }
    if (p->nd)
        netdev_close(p->nd);
    p->nd = NULL;
}
