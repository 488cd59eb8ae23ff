/*
 * bench_migrate.c: the migration benchmark's driver (bench/migrate.sh).
 * Two lightvmds on one host, A and B. Each round, one after another: a
 * bare posix_spawn of a static no-op; the daytime guest migrated from A
 * to B over B's API socket (its memory passed as a memfd), then back from
 * B to A over TCP (pre-copy); and, for comparison, the same move by file
 * (save to a tmpfs on A, restore on B, as `xl save` + `xl restore` would).
 *
 *   bench_migrate [-r ROUNDS] [-g N] [-s NOOP] [-T TOKEN_FILE] SOCK_A
 *                 SOCK_B TCP_A DAYTIME.elf TMPDIR
 *
 * TCP_A is A's --migrate-listen address (tcp:HOST:PORT). Prints
 * "WHAT,RUNNING,ROUND,MS" lines: for each way (unix, tcp) the client's
 * request to reply (`_reply`), the daemon's whole migration (`_ms`), its
 * downtime as the source sees it (from the guest's stop to the
 * destination's RUNNING: `_down`), and the downtime as the guest sees it
 * (from its stop on the source to its first instruction at the
 * destination, both on this host's monotonic clock: `_gap`); and for the
 * file `file_save`, `file_restore_first` (to its first instruction) and
 * `file_gap` (stop to first instruction). Run as root.
 */
#include <lightvm/lightvm.h>

#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static struct lightvm *ca, *cb; /* A and B */
static const char *sock_a, *sock_b;
static char token[258]; /* A's --migrate-token (-T FILE) */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_migrate: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static json_t *call(struct lightvm *c, const char *fmt, ...)
{
    char req[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req, sizeof req, fmt, ap);
    va_end(ap);
    struct lightvm_error e;
    char *text = NULL;
    if (lightvm_call(c, req, -1, &text, &e) < 0)
        die("%s: %s", req, e.message);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (!o || !json_is_true(json_object_get(o, "ok")))
        die("%s: %s", req, text);
    free(text);
    return o;
}

/* Guest (id)'s first instruction after its resume, waited for. */
static uint64_t first_insn(struct lightvm *c, const char *id)
{
    uint64_t deadline = now_ns() + 5000000000ull;
    for (;;) {
        json_t *o = call(c, "{\"op\":\"info\",\"id\":\"%s\"}", id);
        uint64_t f = (uint64_t)json_integer_value(
            json_object_get(json_object_get(o, "guest"), "first_insn_ns"));
        json_decref(o);
        if (f)
            return f;
        if (now_ns() > deadline)
            die("guest %s did not run within 5 s", id);
        nanosleep(&(struct timespec){0, 50000}, NULL);
    }
}

static double ms(uint64_t a, uint64_t b)
{
    return b >= a ? (double)(b - a) / 1e6 : -(double)(a - b) / 1e6;
}

static void out(const char *what, int running, int round, double v)
{
    printf("%s,%d,%d,%.4f\n", what, running, round, v);
}

/* The guest (id) on (from) to (dest); its new id into (id). */
static void migrate(struct lightvm *from, struct lightvm *to, char *id,
                    size_t idlen, const char *dest, const char *way,
                    int running, int round)
{
    struct lightvm_migrated m;
    struct lightvm_error e;
    uint64_t t0 = now_ns();
    if (lightvm_migrate(from, id, dest, token, &m, &e) < 0)
        die("migrate %s to %s: %s", id, dest, e.message);
    uint64_t t1 = now_ns();
    snprintf(id, idlen, "%s", m.id);
    uint64_t first = first_insn(to, id);
    char k[64];
    snprintf(k, sizeof k, "%s_reply", way);
    out(k, running, round, ms(t0, t1));
    snprintf(k, sizeof k, "%s_ms", way);
    out(k, running, round, m.ms);
    snprintf(k, sizeof k, "%s_down", way);
    out(k, running, round, m.downtime_ms);
    snprintf(k, sizeof k, "%s_gap", way);
    out(k, running, round, ms(m.parked_ns, first));
    snprintf(k, sizeof k, "%s_final_pages", way);
    out(k, running, round, (double)m.final_pages);
}

/* The same move by file: saved on A to (dir) (a tmpfs), restored on B. */
static void by_file(char *id, size_t idlen, const char *dir, int running,
                    int round)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/mig.state", dir);
    unlink(path);
    uint64_t t0 = now_ns();
    json_decref(
        call(ca, "{\"op\":\"save\",\"id\":\"%s\",\"path\":\"%s\"}", id, path));
    uint64_t t1 = now_ns();
    json_t *o = call(cb, "{\"op\":\"restore\",\"path\":\"%s\"}", path);
    snprintf(
        id, idlen, "%s",
        json_string_value(json_object_get(json_object_get(o, "guest"), "id")));
    json_decref(o);
    uint64_t first = first_insn(cb, id);
    out("file_save", running, round, ms(t0, t1));
    out("file_restore_first", running, round, ms(t1, first));
    out("file_gap", running, round, ms(t0, first));
    unlink(path);
}

static double spawn_once(const char *bin)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    char *a[] = {(char *)bin, NULL};
    pid_t p;
    uint64_t t0 = now_ns();
    if (posix_spawn(&p, bin, &fa, NULL, a, environ))
        die("spawn %s", bin);
    int st;
    waitpid(p, &st, 0);
    posix_spawn_file_actions_destroy(&fa);
    return ms(t0, now_ns());
}

int main(int argc, char **argv)
{
    int rounds = 30, running = 0, c;
    const char *noop = NULL;
    while ((c = getopt(argc, argv, "r:g:s:T:")) != -1) {
        switch (c) {
        case 'T': {
            FILE *f = fopen(optarg, "re");
            size_t n = f ? fread(token, 1, sizeof token - 1, f) : 0;
            if (f)
                fclose(f);
            while (n && (token[n - 1] == '\n' || token[n - 1] == ' '))
                n--;
            token[n] = 0;
            break;
        }
        case 'r': rounds = atoi(optarg); break;
        case 'g': running = atoi(optarg); break;
        case 's': noop = optarg; break;
        default: return 2;
        }
    }
    if (argc - optind != 5) {
        fprintf(stderr, "usage: bench_migrate [-r ROUNDS] [-g N] [-s NOOP] "
                        "[-T TOKEN_FILE] SOCK_A SOCK_B TCP_A DAYTIME.elf "
                        "TMPDIR\n");
        return 2;
    }
    sock_a = argv[optind];
    sock_b = argv[optind + 1];
    const char *tcp_a = argv[optind + 2], *image = argv[optind + 3],
               *dir = argv[optind + 4];
    struct lightvm_error e;
    if (!(ca = lightvm_connect(sock_a, &e)) ||
        !(cb = lightvm_connect(sock_b, &e)))
        die("%s", e.message);
    json_t *o = call(ca,
                     "{\"op\":\"create\",\"image\":\"%s\",\"name\":"
                     "\"migday\",\"net\":true}",
                     image);
    char id[64];
    snprintf(
        id, sizeof id, "%s",
        json_string_value(json_object_get(json_object_get(o, "guest"), "id")));
    json_decref(o);
    first_insn(ca, id);
    for (int i = 0; i < rounds; i++) {
        if (noop)
            out("spawn_noop-glibc", running, i, spawn_once(noop));
        migrate(ca, cb, id, sizeof id, sock_b, "unix", running, i);
        migrate(cb, ca, id, sizeof id, tcp_a, "tcp", running, i);
        by_file(id, sizeof id, dir, running, i);
        /* Back on A for the next round, by the fastest way. */
        migrate(cb, ca, id, sizeof id, tcp_a, "tcp2", running, i);
        fflush(stdout);
    }
    json_decref(call(ca, "{\"op\":\"destroy\",\"id\":\"%s\"}", id));
    lightvm_close(ca);
    lightvm_close(cb);
    return 0;
}
