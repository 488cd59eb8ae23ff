/*
 * invoke.c: one function invocation in a fresh guest: a tar with the
 * function and the body on a memfd for its "files" device, a memfd for
 * its "result" device, a shell from the pool, and the limits: RAM (-m,
 * and Lua's heap limit at half of it, so that running out is an error
 * with a line rather than a kill), CPU time (the guest process's CPU
 * clock, read when the timer fires) and wall-clock time.
 */
#include "faas/invoke.h"
#include "toolstack/fsutil.h"
#include "toolstack/guest.h"
#include "toolstack/image.h"
#include "toolstack/monitor.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TAR_BLOCK 512
#define CONSOLE_MAX (64 * 1024) /* print output kept per invocation */
#define RESULT_HEAD_MAX 64      /* "LVMFN1 KIND LENGTH\n" */

const char *fn_cause_name(enum fn_cause c)
{
    static const char *const names[] = {[FN_OK] = "ok",
                                        [FN_SYNTAX] = "syntax",
                                        [FN_RUNTIME] = "runtime",
                                        [FN_MEMORY] = "memory",
                                        [FN_STACK] = "stack-overflow",
                                        [FN_CPU] = "cpu-time",
                                        [FN_TIMEOUT] = "timeout",
                                        [FN_CRASH] = "crash",
                                        [FN_RESULT] = "result-too-large",
                                        [FN_INTERNAL] = "internal",
                                        [FN_ABANDONED] = "abandoned"};
    return (unsigned)c < sizeof names / sizeof *names ? names[c] : "internal";
}

int fn_find_guest(char *path, size_t len, struct lvm_err *err)
{
    return fs_find_installed("LIGHTVM_FN_GUEST", "lightvm-fn-guest.elf", R_OK,
                             path, len, err);
}

static int prepare(struct fn_runner *r, struct guest **g, struct lvm_err *err)
{
    struct guest_class cls = {
        .ram_size = r->lim.ram,
        .monitor = r->mon->kind,
        .lean = 1, /* runs to its end: no freezer, no CPU statistics */
    };
    return guest_prepare(&r->host, &cls, g, err);
}

int fn_runner_init(struct fn_runner *r, enum fn_runner_kind kind,
                   const char *guest_elf, const struct fn_limits *lim,
                   unsigned pool, struct lvm_err *err)
{
    memset(r, 0, sizeof *r);
    r->lim = *lim;
    r->kind = kind;
    if (kind != FN_RUN_GUEST)
        return fn_baseline_init(r, err);
    if (host_init(&r->host, err) < 0)
        return -1;
    r->mon = monitor_find("proc", &r->host);
    if (!r->mon) {
        host_fini(&r->host);
        return lvm_err_set(err, 0, "the proc monitor cannot run here");
    }
    if (image_load(guest_elf, &r->img, err) < 0) {
        host_fini(&r->host);
        return -1;
    }
    r->pool_target = pool;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->want, NULL);
    r->pool = pool ? calloc(pool, sizeof *r->pool) : NULL;
    if (pool && !r->pool) {
        fn_runner_fini(r);
        return lvm_err_set(err, ENOMEM, "the shell pool");
    }
    return 0;
}

/* The pool's thread: tops the pool up whenever a shell is taken. */
static void *pool_main(void *arg)
{
    struct fn_runner *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        if (r->npool >= r->pool_target) {
            pthread_cond_wait(&r->want, &r->lock);
            continue;
        }
        pthread_mutex_unlock(&r->lock);
        struct lvm_err err;
        char eb[512];
        struct guest *g;
        int rc = prepare(r, &g, &err);
        pthread_mutex_lock(&r->lock);
        if (rc < 0) {
            fprintf(stderr, "lightvm: fn: prepare a shell: %s\n",
                    lvm_err_str(&err, eb, sizeof eb));
            /* Invocations prepare their own until a later take wakes us. */
            pthread_cond_wait(&r->want, &r->lock);
            continue;
        }
        r->pool[r->npool++] = g;
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int fn_runner_start_pool(struct fn_runner *r, struct lvm_err *err)
{
    if (r->kind != FN_RUN_GUEST || !r->pool_target)
        return 0;
    while (r->npool < r->pool_target) {
        struct guest *g;
        if (prepare(r, &g, err) < 0)
            return lvm_err_wrap(err, "prepare the shell pool");
        r->pool[r->npool++] = g;
    }
    int e = pthread_create(&r->pool_thread, NULL, pool_main, r);
    if (e)
        return lvm_err_set(err, e, "start the pool's thread");
    r->have_thread = 1;
    return 0;
}

/* A prepared shell from the pool, or NULL if it is empty. */
static struct guest *take_shell(struct fn_runner *r)
{
    struct guest *g = NULL;
    pthread_mutex_lock(&r->lock);
    if (r->npool)
        g = r->pool[--r->npool];
    pthread_cond_signal(&r->want);
    pthread_mutex_unlock(&r->lock);
    return g;
}

void fn_runner_fini(struct fn_runner *r)
{
    if (r->kind != FN_RUN_GUEST) {
        fn_baseline_fini(r);
        return;
    }
    if (r->have_thread) {
        pthread_mutex_lock(&r->lock);
        r->stop = 1;
        pthread_cond_signal(&r->want);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->pool_thread, NULL);
        r->have_thread = 0;
    }
    /* Dead before freed: a cgroup with a task in it cannot be removed. */
    for (unsigned i = 0; i < r->npool; i++) {
        siginfo_t si;
        guest_kill(r->pool[i]);
        waitid(P_PIDFD, (id_t)r->pool[i]->sb.pidfd, &si, WEXITED);
        guest_free(r->pool[i]);
    }
    free(r->pool);
    r->pool = NULL;
    r->npool = 0;
    image_free(r->img);
    r->img = NULL;
    host_fini(&r->host);
}

/* A ustar header for a regular file (name) of (size) bytes. */
static void tar_header(char h[TAR_BLOCK], const char *name, uint64_t size)
{
    memset(h, 0, TAR_BLOCK);
    snprintf(h, 100, "%s", name);
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf(h + 124, 12, "%011llo", (unsigned long long)size);
    snprintf(h + 136, 12, "%011llo", (unsigned long long)time(NULL));
    memset(h + 148, ' ', 8);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    unsigned sum = 0;
    for (int i = 0; i < TAR_BLOCK; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int tar_member(int fd, const char *name, const char *data, size_t len)
{
    char h[TAR_BLOCK];
    static const char zero[TAR_BLOCK];
    tar_header(h, name, len);
    size_t pad = (TAR_BLOCK - len % TAR_BLOCK) % TAR_BLOCK;
    return write_all(fd, h, sizeof h) < 0 || write_all(fd, data, len) < 0 ||
                   write_all(fd, zero, pad) < 0
               ? -1
               : 0;
}

/* The guest's tree: /fn/handler.lua and /fn/body, then the end marker. */
static int make_files(const char *src, size_t srclen, const char *body,
                      size_t bodylen, struct lvm_err *err)
{
    int fd = memfd_create("fn-files", MFD_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "memfd for the function's files");
    static const char end[2 * TAR_BLOCK];
    if (tar_member(fd, "fn/handler.lua", src, srclen) < 0 ||
        tar_member(fd, "fn/body", body, bodylen) < 0 ||
        write_all(fd, end, sizeof end) < 0) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "write the function's files");
    }
    return fd;
}

static void arm(int tfd, uint64_t ms)
{
    struct itimerspec its = {
        {0, 0}, {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000}};
    if (!ms)
        its.it_value.tv_nsec = 1; /* 0 would disarm it */
    timerfd_settime(tfd, 0, &its, NULL);
}

static void release(struct fn_call *c)
{
    if (c->g)
        guest_free(c->g); /* closes its pidfd */
    else if (c->pidfd >= 0)
        close(c->pidfd);
    c->g = NULL;
    c->pidfd = -1;
    int *fds[] = {&c->files_fd, &c->result_fd, &c->console_fd, &c->timer_fd};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

/* The baselines get the source on fd 3, the body on stdin, and write the
 * answer, framed as the guest frames it, to stdout (the result memfd). */
static int start_baseline(struct fn_runner *r, struct fn_call *c,
                          const char *src, size_t srclen, const char *body,
                          size_t bodylen, struct lvm_err *err)
{
    int body_fd = memfd_create("fn-body", MFD_CLOEXEC);
    if (body_fd < 0)
        return lvm_err_set(err, errno, "memfd for the body");
    if (write_all(c->files_fd, src, srclen) < 0 ||
        write_all(body_fd, body, bodylen) < 0 ||
        lseek(c->files_fd, 0, SEEK_SET) < 0 ||
        lseek(body_fd, 0, SEEK_SET) < 0 || ftruncate(c->result_fd, 0) < 0) {
        close(body_fd);
        return lvm_err_set(err, errno, "write the function's files");
    }
    c->start_ns = host_now_ns();
    int rc = fn_baseline_spawn(r, c, c->files_fd, body_fd, err);
    close(body_fd);
    return rc;
}

int fn_call_start(struct fn_runner *r, struct fn_call *c, const char *name,
                  const char *src, size_t srclen, const char *body,
                  size_t bodylen, struct lvm_err *err)
{
    memset(c, 0, sizeof *c);
    c->files_fd = c->result_fd = c->console_fd = c->timer_fd = c->pidfd = -1;
    if (r->kind == FN_RUN_GUEST)
        c->files_fd = make_files(src, srclen, body, bodylen, err);
    else
        c->files_fd = memfd_create("fn-source", MFD_CLOEXEC);
    if (c->files_fd < 0) {
        if (r->kind != FN_RUN_GUEST)
            lvm_err_set(err, errno, "memfd for the function's source");
        goto fail;
    }
    c->result_fd = memfd_create("fn-result", MFD_CLOEXEC);
    c->console_fd = memfd_create("fn-console", MFD_CLOEXEC);
    c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    uint64_t cap = (r->lim.result_max + RESULT_HEAD_MAX + TAR_BLOCK - 1) /
                   TAR_BLOCK * TAR_BLOCK;
    if (c->result_fd < 0 || c->console_fd < 0 || c->timer_fd < 0 ||
        ftruncate(c->result_fd, (off_t)cap) < 0) {
        lvm_err_set(err, errno, "memfd and timer for an invocation");
        goto fail;
    }
    if (r->kind != FN_RUN_GUEST) {
        if (start_baseline(r, c, src, srclen, body, bodylen, err) < 0)
            goto fail;
        goto started;
    }
    if (!(c->g = take_shell(r)) && prepare(r, &c->g, err) < 0) {
        c->g = NULL;
        goto fail;
    }
    /* Lua's heap may hold half the RAM: the rest is the SDK's, the file
     * tree's and malloc's slack, so Lua reports running out first. */
    char heap[32], gname[64];
    snprintf(heap, sizeof heap, "%llu", (unsigned long long)(r->lim.ram / 2));
    snprintf(gname, sizeof gname, "fn-%.40s-%llu", name,
             (unsigned long long)++r->seq);
    char *argv[] = {"fn", heap, NULL};
    struct guest_spec spec = {
        .name = gname,
        .ram_size = r->lim.ram,
        .argc = 2,
        .argv = argv,
        .console_fd = c->console_fd,
        /* The limit is the guest's RLIMIT_FSIZE, which bounds every file
         * it writes: the result device's memfd too, so it is at least its
         * size (else answers over CONSOLE_MAX failed, as crashes). */
        .console_limit = cap > CONSOLE_MAX ? cap : CONSOLE_MAX,
        .nblocks = 2,
        .monitor = r->mon->kind,
        .lean = 1,
    };
    snprintf(spec.blocks[0].name, sizeof spec.blocks[0].name, "files");
    snprintf(spec.blocks[0].path, sizeof spec.blocks[0].path, "(memfd)");
    spec.blocks[0].readonly = 1;
    spec.blocks[0].fd = c->files_fd;
    snprintf(spec.blocks[1].name, sizeof spec.blocks[1].name, "result");
    snprintf(spec.blocks[1].path, sizeof spec.blocks[1].path, "(memfd)");
    spec.blocks[1].fd = c->result_fd;
    c->start_ns = host_now_ns();
    if (guest_launch(&r->host, c->g, r->img, &spec, err) < 0)
        goto fail;
    c->pidfd = c->g->sb.pidfd;
started:
    if (clock_getcpuclockid(c->g ? c->g->sb.pid : c->pid, &c->cpu_clock) != 0)
        c->cpu_clock = (clockid_t)-1;
    uint64_t first =
        r->lim.cpu_ms < r->lim.timeout_ms ? r->lim.cpu_ms : r->lim.timeout_ms;
    arm(c->timer_fd, first);
    return 0;
fail:
    release(c);
    return -1;
}

static void kill_call(struct fn_runner *r, struct fn_call *c)
{
    if (c->g)
        guest_kill(c->g);
    else
        fn_baseline_kill(r, c);
}

int fn_call_timer(struct fn_runner *r, struct fn_call *c)
{
    uint64_t ticks;
    if (read(c->timer_fd, &ticks, sizeof ticks) < 0 && errno == EAGAIN)
        return 0;
    if (c->killed)
        return 1;
    uint64_t wall_ms = (host_now_ns() - c->start_ns) / 1000000;
    if (wall_ms >= r->lim.timeout_ms) {
        c->killed = FN_TIMEOUT;
        kill_call(r, c);
        return 1;
    }
    /* CPU time is at most wall time, so the first look is at the CPU
     * limit's wall time, and each next one when the rest could be used. */
    uint64_t cpu_ms = wall_ms;
    struct timespec ts;
    if (c->cpu_clock != (clockid_t)-1 && clock_gettime(c->cpu_clock, &ts) == 0)
        cpu_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (cpu_ms >= r->lim.cpu_ms) {
        c->killed = FN_CPU;
        kill_call(r, c);
        return 1;
    }
    uint64_t next = r->lim.cpu_ms - cpu_ms;
    if (r->lim.timeout_ms - wall_ms < next)
        next = r->lim.timeout_ms - wall_ms;
    arm(c->timer_fd, next ? next : 1);
    return 0;
}

static void set_msg(struct fn_outcome *out, enum fn_cause cause,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(struct fn_outcome *out, enum fn_cause cause,
                    const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    out->cause = cause;
    out->data = strndup(buf, (size_t)n);
    out->len = out->data ? (size_t)n : 0;
}

/* The guest's answer from its result device: 0, or -1 if it left none. */
static int read_result(struct fn_runner *r, struct fn_call *c,
                       struct fn_outcome *out)
{
    char head[RESULT_HEAD_MAX + 1];
    ssize_t n = pread(c->result_fd, head, RESULT_HEAD_MAX, 0);
    if (n <= 0)
        return -1;
    head[n] = 0;
    char kind[20];
    unsigned long long len;
    int off = 0;
    if (sscanf(head, "LVMFN1 %19s %llu\n%n", kind, &len, &off) != 2 ||
        off <= 0 || head[off - 1] != '\n' ||
        len > r->lim.result_max + RESULT_HEAD_MAX)
        return -1;
    static const struct {
        const char *name;
        enum fn_cause cause;
    } kinds[] = {{"ok", FN_OK},           {"syntax", FN_SYNTAX},
                 {"runtime", FN_RUNTIME}, {"memory", FN_MEMORY},
                 {"stack", FN_STACK},     {"result", FN_RESULT}};
    enum fn_cause cause = FN_INTERNAL;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(kind, kinds[i].name))
            cause = kinds[i].cause;
    if (cause == FN_INTERNAL)
        return -1;
    char *data = malloc(len + 1);
    if (!data)
        return -1;
    if (len && pread(c->result_fd, data, len, off) != (ssize_t)len) {
        free(data);
        return -1;
    }
    data[len] = 0;
    if (cause == FN_OK && len > r->lim.result_max) {
        free(data);
        set_msg(out, FN_RESULT, "the result is bigger than %llu bytes",
                (unsigned long long)r->lim.result_max);
        return 0;
    }
    out->cause = cause;
    out->data = data;
    out->len = len;
    return 0;
}

void fn_call_finish(struct fn_runner *r, struct fn_call *c,
                    struct fn_outcome *out)
{
    memset(out, 0, sizeof *out);
    struct guest_exit ex;
    struct lvm_err err;
    int rc;
    if (!c->g) {
        char why[200];
        rc = fn_baseline_reap(r, c, why, sizeof why);
        if (c->killed == FN_ABANDONED)
            set_msg(out, FN_ABANDONED, "its client went away");
        else if (c->killed == FN_TIMEOUT)
            set_msg(out, FN_TIMEOUT,
                    "the function did not answer within %llu ms",
                    (unsigned long long)r->lim.timeout_ms);
        else if (c->killed == FN_CPU)
            set_msg(out, FN_CPU,
                    "the function used more than %llu ms of CPU "
                    "time and was stopped",
                    (unsigned long long)r->lim.cpu_ms);
        else if (rc < 0 || read_result(r, c, out) < 0)
            set_msg(out, FN_CRASH, "the process ended without an answer: %s",
                    rc < 0 ? why : "no result");
        release(c);
        return;
    }
    rc = guest_reap(c->g, -1,
                    c->killed == FN_TIMEOUT || c->killed == FN_ABANDONED, &ex,
                    &err);
    if (c->killed == FN_ABANDONED)
        set_msg(out, FN_ABANDONED, "its client went away");
    else if (c->killed == FN_TIMEOUT)
        set_msg(out, FN_TIMEOUT, "the function did not answer within %llu ms",
                (unsigned long long)r->lim.timeout_ms);
    else if (c->killed == FN_CPU)
        set_msg(out, FN_CPU,
                "the function used more than %llu ms of CPU time and was "
                "stopped",
                (unsigned long long)r->lim.cpu_ms);
    else if (rc < 0)
        set_msg(out, FN_INTERNAL, "reap the guest: %s", err.msg);
    else if (ex.kind == GUEST_OOM)
        set_msg(out, FN_MEMORY,
                "the guest ran out of memory (%llu MiB) and was stopped",
                (unsigned long long)(r->lim.ram >> 20));
    else if (ex.kind != GUEST_EXITED || ex.status != 0 ||
             read_result(r, c, out) < 0) {
        char buf[700];
        set_msg(out, FN_CRASH, "the guest ended without an answer: %s",
                guest_exit_str(&ex, buf, sizeof buf));
    }
    release(c);
}

void fn_call_kill(struct fn_runner *r, struct fn_call *c)
{
    if (c->killed)
        return; /* a limit killed it already */
    c->killed = FN_ABANDONED;
    kill_call(r, c);
}

void fn_call_abort(struct fn_runner *r, struct fn_call *c)
{
    if (c->g) {
        guest_kill(c->g);
        struct guest_exit ex;
        struct lvm_err err;
        guest_reap(c->g, -1, 0, &ex, &err);
    } else if (c->pidfd >= 0) {
        char why[200];
        fn_baseline_kill(r, c);
        fn_baseline_reap(r, c, why, sizeof why);
    }
    release(c);
}
