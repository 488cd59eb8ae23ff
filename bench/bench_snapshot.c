/*
 * bench_snapshot.c: the snapshot benchmark's driver (bench/snapshot.sh).
 * Each round, one after another on the same host: a bare posix_spawn of
 * static no-ops, lightvmd's save, restore and clone of a daytime guest
 * (and of an idle guest without a NIC, with -i), through the API from a
 * kept connection and as `lightvm` commands, and CRIU dumping and
 * restoring a static process that pauses.
 *
 *   bench_snapshot lat [OPTIONS] SOCKET DAYTIME.elf DIR
 *     -r ROUNDS  (default 30)     -g N  running guests, for the output
 *     -s SPAWN   a static no-op to posix_spawn (repeatable)
 *     -l LIGHTVM the CLI, timed from a shell's point of view
 *     -c CRIU    the criu binary, with -p PAUSE: the process it dumps
 *     -i IDLE    a guest image without NICs, timed too (4 MiB)
 *     -t TMPDIR  also save (left running) to a state file there (a tmpfs)
 *   bench_snapshot mem SOCKET PREFIX
 *
 * lat prints "WHAT,RUNNING,ROUND,MS" lines (WHAT prefixed "idle_" for
 * the idle guest). Each guest (snapday, snapidle) is saved left running,
 * cloned as it runs, saved (and so destroyed) and restored, and cloned
 * from its state file, every round, and a fresh guest of its image is
 * created for comparison; each clone is destroyed before the next step. A restored or cloned guest's first instruction is its
 * status page's clock (first_insn_ns in the API), set when it runs
 * again. lightvmd's pool is let fill up before each round. mem prints
 * "GUESTS,PSS_KIB,CGROUP_KIB" for the guests whose names start with
 * PREFIX: the sum of their processes' Pss (smaps_rollup) and of their
 * cgroups' memory (memory.current, or memory.usage_in_bytes under cgroup
 * v1). Everything lat made is removed before it exits. Run as root.
 */
#include "bench/memstat.h"
#include <lightvm/lightvm.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_SPAWN 4

static struct lightvm *conn;
static char clone_id[32]; /* a clone not yet destroyed */
static pid_t paused_pid = -1;

/* The guests whose snapshots are timed, one after the other each round. */
struct bguest {
    const char *name;   /* its name, fixed across its saves and restores */
    const char *prefix; /* of its output lines: "" or "idle_" */
    const char *image;
    int net;          /* created with its NICs */
    unsigned mem_mib; /* 0: the default */
    char st[4096];    /* its state file */
    char keep[4096];  /* of the save that leaves it running */
    char cst[4096];   /* of `lightvm save` */
    char tkeep[4096]; /* of the save left running, on a tmpfs ("": none) */
    int made;
};

static struct bguest guests[2];
static int nguests;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double ms_since(uint64_t t0, uint64_t t1)
{
    return (double)(t1 - t0) / 1e6;
}

static void cleanup(void)
{
    struct lightvm_error e;
    if (conn && clone_id[0])
        lightvm_destroy(conn, clone_id, NULL, &e);
    for (int k = 0; conn && k < nguests; k++)
        if (guests[k].made)
            lightvm_destroy(conn, guests[k].name, NULL, &e);
    if (paused_pid > 0) {
        kill(paused_pid, SIGKILL);
        waitpid(paused_pid, NULL, 0);
    }
}

/* Stopped from outside: the paused process goes too (its guests are
 * the script's to destroy, with everything else lightvmd has). */
static void on_signal(int sig)
{
    (void)sig;
    if (paused_pid > 0)
        kill(paused_pid, SIGKILL);
    _exit(1);
}

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_snapshot: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cleanup();
    exit(1);
}

/* One request; its reply, which must be ok (else the run ends). */
static json_t *call(const char *fmt, ...)
{
    char req[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req, sizeof req, fmt, ap);
    va_end(ap);
    struct lightvm_error e;
    char *text = NULL;
    if (lightvm_call(conn, req, -1, &text, &e) < 0)
        die("%s: %s", req, e.message);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (!o || !json_is_true(json_object_get(o, "ok")))
        die("%s: %s", req, text);
    free(text);
    return o;
}

static uint64_t first_insn(const char *id)
{
    json_t *o = call("{\"op\":\"info\",\"id\":\"%s\"}", id);
    json_t *f = json_object_get(json_object_get(o, "guest"), "first_insn_ns");
    if (!f)
        die("lightvmd reports no first_insn_ns (an older daemon?)");
    uint64_t v = (uint64_t)json_integer_value(f);
    json_decref(o);
    return v;
}

/* The time from (t0) to guest (id)'s first instruction, in ms. */
static double wait_first(const char *id, uint64_t t0)
{
    uint64_t deadline = now_ns() + 5000000000ull;
    for (;;) {
        uint64_t f = first_insn(id);
        if (f)
            return f >= t0 ? ms_since(t0, f) : -ms_since(f, t0);
        if (now_ns() > deadline)
            die("guest %s did not run within 5 s", id);
        nanosleep(&(struct timespec){0, 50000}, NULL);
    }
}

/* Until every class of lightvmd's pool is full. */
static void pool_full(void)
{
    for (int i = 0;; i++) {
        json_t *o = call("{\"op\":\"pool\"}"), *k;
        size_t j;
        int full = 1;
        json_array_foreach (json_object_get(o, "classes"), j, k) {
            json_int_t t = json_integer_value(json_object_get(k, "target"));
            if (json_integer_value(json_object_get(k, "ready")) < t ||
                json_integer_value(json_object_get(k, "preparing")))
                full = 0;
        }
        json_decref(o);
        if (full || i > 20000) /* 20 s: measured as it is */
            return;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}

/* Spawn (argv), wait for it; its exit status, or -1. With (setsid) it
 * gets a session of its own and is not waited for (its pid in *pid). */
static int run(char *const argv[], int setsid, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (!getenv("BENCH_SNAPSHOT_VERBOSE"))
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (setsid)
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
    pid_t p;
    int r = posix_spawn(&p, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (r)
        return -1;
    if (setsid) {
        *pid = p;
        return 0;
    }
    int st;
    if (waitpid(p, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void out(const struct bguest *g, const char *what, int running,
                int round, double ms)
{
    printf("%s%s,%d,%d,%.4f\n", g ? g->prefix : "", what, running, round, ms);
}

/* Clone (from) (guest g, or its state file when (path)) once; its reply
 * and first instruction timed; then destroyed. */
static void clone_once(const struct bguest *g, int path, int running, int round)
{
    const char *what = path ? "clone_file" : "clone_guest";
    uint64_t t0 = now_ns();
    json_t *o = call("{\"op\":\"clone\",\"%s\":\"%s\",\"count\":1,"
                     "\"name\":\"snapclone\"}",
                     path ? "path" : "id", path ? g->st : g->name);
    uint64_t t1 = now_ns();
    json_t *c = json_array_get(json_object_get(o, "guests"), 0);
    snprintf(clone_id, sizeof clone_id, "%s",
             json_string_value(json_object_get(c, "id")));
    json_decref(o);
    if (!clone_id[0])
        die("a clone reply without a guest");
    double first = wait_first(clone_id, t0);
    char k[64];
    snprintf(k, sizeof k, "%s_reply", what);
    out(g, k, running, round, ms_since(t0, t1));
    snprintf(k, sizeof k, "%s_first", what);
    out(g, k, running, round, first);
    json_decref(call("{\"op\":\"destroy\",\"id\":\"%s\"}", clone_id));
    clone_id[0] = 0;
}

/* A fresh guest of (g)'s image, for comparison: its reply and first
 * instruction timed; then destroyed. */
static void create_once(const struct bguest *g, int running, int round)
{
    char mem[64] = "";
    if (g->mem_mib)
        snprintf(mem, sizeof mem, ",\"mem\":%llu",
                 (unsigned long long)g->mem_mib << 20);
    uint64_t t0 = now_ns();
    json_t *o = call("{\"op\":\"create\",\"image\":\"%s\",\"name\":"
                     "\"snapfresh\"%s%s}",
                     g->image, g->net ? ",\"net\":true" : "", mem);
    uint64_t t1 = now_ns();
    snprintf(
        clone_id, sizeof clone_id, "%s",
        json_string_value(json_object_get(json_object_get(o, "guest"), "id")));
    json_decref(o);
    out(g, "create_reply", running, round, ms_since(t0, t1));
    out(g, "create_first", running, round, wait_first(clone_id, t0));
    json_decref(call("{\"op\":\"destroy\",\"id\":\"%s\"}", clone_id));
    clone_id[0] = 0;
}

/* One round of guest (g): save left running, clone of it, save and
 * restore, clone of the file, and as commands (cli) save and restore. */
static void guest_round(const struct bguest *g, const char *cli, int running,
                        int i)
{
    for (int t = 0; t < 2; t++) {
        const char *path = t ? g->tkeep : g->keep;
        if (!path[0])
            continue;
        uint64_t a0 = now_ns();
        json_t *o = call("{\"op\":\"save\",\"id\":\"%s\",\"path\":\"%s\","
                         "\"force\":true,\"leave_running\":true}",
                         g->name, path);
        out(g, t ? "save_keep_tmpfs_api" : "save_keep_api", running, i,
            ms_since(a0, now_ns()));
        out(g, t ? "save_keep_tmpfs_daemon" : "save_keep_daemon", running, i,
            json_number_value(
                json_object_get(json_object_get(o, "saved"), "ms")));
        json_decref(o);
    }

    clone_once(g, 0, running, i);

    uint64_t a0 = now_ns();
    json_t *o = call("{\"op\":\"save\",\"id\":\"%s\",\"path\":\"%s\","
                     "\"force\":true}",
                     g->name, g->st);
    uint64_t a1 = now_ns();
    json_t *sv = json_object_get(o, "saved");
    out(g, "save_api", running, i, ms_since(a0, a1));
    out(g, "save_daemon", running, i,
        json_number_value(json_object_get(sv, "ms")));
    if (json_object_get(sv, "park_ms"))
        out(g, "save_park", running, i,
            json_number_value(json_object_get(sv, "park_ms")));
    out(g, "save_capture", running, i,
        json_number_value(json_object_get(sv, "capture_ms")));
    json_decref(o);
    a0 = now_ns();
    json_decref(call("{\"op\":\"restore\",\"path\":\"%s\"}", g->st));
    a1 = now_ns();
    out(g, "restore_reply", running, i, ms_since(a0, a1));
    out(g, "restore_first", running, i, wait_first(g->name, a0));

    clone_once(g, 1, running, i);

    create_once(g, running, i);

    if (!cli)
        return;
    char *sa[] = {(char *)cli,     "save",         "-f",
                  (char *)g->name, (char *)g->cst, NULL};
    a0 = now_ns();
    if (run(sa, 0, NULL) != 0)
        die("lightvm save %s failed", g->name);
    out(g, "save_cli", running, i, ms_since(a0, now_ns()));
    char *ra[] = {(char *)cli, "restore", "-q", (char *)g->cst, NULL};
    a0 = now_ns();
    if (run(ra, 0, NULL) != 0)
        die("lightvm restore %s failed", g->cst);
    out(g, "restore_cli", running, i, ms_since(a0, now_ns()));
    wait_first(g->name, a0);
}

/* CRIU: dump (the process ends) and restore (it runs again). */
static void criu_round(const char *criu, const char *cdir, int running, int i)
{
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)paused_pid);
    char *da[] = {(char *)criu, "dump", "-t",       pid, "-D",
                  (char *)cdir, "-o",   "dump.log", NULL};
    char *ra[] = {(char *)criu, "restore", "-d",          "-D",
                  (char *)cdir, "-o",      "restore.log", NULL};
    uint64_t a0 = now_ns();
    if (run(da, 0, NULL) != 0)
        die("criu dump failed (%s/dump.log)", cdir);
    out(NULL, "criu_dump", running, i, ms_since(a0, now_ns()));
    waitpid(paused_pid, NULL, 0); /* killed by the dump */
    a0 = now_ns();
    if (run(ra, 0, NULL) != 0)
        die("criu restore failed (%s/restore.log)", cdir);
    out(NULL, "criu_restore", running, i, ms_since(a0, now_ns()));
    if (kill(paused_pid, 0) < 0)
        die("criu restored no process %d", (int)paused_pid);
}

static void add_guest(const char *name, const char *prefix, const char *image,
                      int net, unsigned mem_mib, const char *dir,
                      const char *tmpdir)
{
    struct bguest *g = &guests[nguests++];
    g->name = name;
    g->prefix = prefix;
    g->image = image;
    g->net = net;
    g->mem_mib = mem_mib;
    snprintf(g->st, sizeof g->st, "%s/%s.lvms", dir, name);
    snprintf(g->keep, sizeof g->keep, "%s/%s-keep.lvms", dir, name);
    snprintf(g->cst, sizeof g->cst, "%s/%s-cli.lvms", dir, name);
    if (tmpdir)
        snprintf(g->tkeep, sizeof g->tkeep, "%s/%s-keep.lvms", tmpdir, name);
}

static int lat(int argc, char **argv)
{
    int rounds = 30, running = 0, nspawn = 0, c;
    const char *spawns[MAX_SPAWN], *cli = NULL, *criu = NULL, *pausebin = NULL,
                                   *idle = NULL, *tmpdir = NULL;
    while ((c = getopt(argc, argv, "r:g:s:l:c:p:i:t:")) != -1) {
        switch (c) {
        case 'r': rounds = atoi(optarg); break;
        case 'g': running = atoi(optarg); break;
        case 's':
            if (nspawn < MAX_SPAWN)
                spawns[nspawn++] = optarg;
            break;
        case 'l': cli = optarg; break;
        case 'c': criu = optarg; break;
        case 'p': pausebin = optarg; break;
        case 'i': idle = optarg; break;
        case 't': tmpdir = optarg; break;
        default: return 2;
        }
    }
    if (argc - optind != 3 || rounds < 1 || (criu && !pausebin)) {
        fprintf(stderr, "usage: bench_snapshot lat [-r ROUNDS] [-g N] "
                        "[-s NOOP]... [-l LIGHTVM] [-c CRIU -p PAUSE] "
                        "[-i IDLE.elf] [-t TMPDIR] SOCKET DAYTIME.elf DIR\n");
        return 2;
    }
    const char *sock = argv[optind], *dir = argv[optind + 2];
    struct lightvm_error e;
    conn = lightvm_connect(sock, &e);
    if (!conn)
        die("%s", e.message);
    /* CRIU's restored process is its child, and becomes ours when it
     * exits: reaped here, its pid free again for the next restore. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    char cdir[4096];
    snprintf(cdir, sizeof cdir, "%s/criu", dir);
    add_guest("snapday", "", argv[optind + 1], 1, 0, dir, tmpdir);
    if (idle)
        add_guest("snapidle", "idle_", idle, 0, 4, dir, tmpdir);

    pool_full();
    for (int k = 0; k < nguests; k++) {
        struct bguest *g = &guests[k];
        char mem[64] = "";
        if (g->mem_mib)
            snprintf(mem, sizeof mem, ",\"mem\":%llu",
                     (unsigned long long)g->mem_mib << 20);
        uint64_t t0 = now_ns();
        json_decref(call("{\"op\":\"create\",\"image\":\"%s\",\"name\":\"%s\""
                         "%s%s}",
                         g->image, g->name, g->net ? ",\"net\":true" : "",
                         mem));
        g->made = 1;
        wait_first(g->name, t0);
    }
    if (criu) {
        char *pa[] = {(char *)pausebin, NULL};
        if (run(pa, 1, &paused_pid) < 0)
            die("cannot start %s", pausebin);
    }

    for (int i = 0; i < rounds; i++) {
        pool_full();
        for (int s = 0; s < nspawn; s++) {
            char *a[] = {(char *)spawns[s], NULL}, k[64];
            uint64_t a0 = now_ns();
            if (run(a, 0, NULL) != 0)
                die("%s failed", spawns[s]);
            const char *b = strrchr(spawns[s], '/');
            snprintf(k, sizeof k, "spawn_%s", b ? b + 1 : spawns[s]);
            out(NULL, k, running, i, ms_since(a0, now_ns()));
        }
        for (int k = 0; k < nguests; k++)
            guest_round(&guests[k], cli, running, i);
        if (criu)
            criu_round(criu, cdir, running, i);
        fflush(stdout);
    }
    cleanup();
    lightvm_close(conn);
    return 0;
}

struct mem_sum {
    const char *prefix;
    long n, pss_kb, cg_kb;
};

static int add_mem(const struct lightvm_guest *g, void *arg)
{
    struct mem_sum *m = arg;
    if (strncmp(g->name, m->prefix, strlen(m->prefix)))
        return 0;
    m->n++;
    m->pss_kb += pss_kb(g->pid);
    m->cg_kb += (long)(g->memory_bytes >> 10);
    return 0;
}

static int mem(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_snapshot mem SOCKET PREFIX\n");
        return 2;
    }
    struct lightvm_error e;
    conn = lightvm_connect(argv[1], &e);
    if (!conn)
        die("%s", e.message);
    struct mem_sum m = {argv[2], 0, 0, 0};
    if (lightvm_list(conn, 1, add_mem, &m, &e) < 0)
        die("%s", e.message);
    printf("%ld,%ld,%ld\n", m.n, m.pss_kb, m.cg_kb);
    lightvm_close(conn);
    conn = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "lat"))
        return lat(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "mem"))
        return mem(argc - 1, argv + 1);
    fprintf(stderr, "usage: bench_snapshot lat|mem ...\n");
    return 2;
}
