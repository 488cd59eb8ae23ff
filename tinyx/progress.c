/*
 * progress.c: Tinyx's progress lines (progress.h).
 *
 * The kernel's make is quiet (kbuild prints "  CC      kernel/fork.o"
 * per file, nothing else): its output still goes whole to the build log,
 * and a reader thread counts those lines for the user. On a terminal the
 * count is redrawn on one line at most five times a second; elsewhere
 * (CI logs, a pipe) a plain line is printed now and then, so a log shows
 * the build moving without thousands of lines.
 */
#include "tinyx/progress.h"
#include "tinyx/kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds since the first call. */
static double elapsed(void)
{
    static double t0;
    double t = now_s();
    if (t0 == 0)
        t0 = t;
    return t - t0;
}

static const char *clock_str(double s, char *buf, size_t len)
{
    unsigned v = (unsigned)s;
    snprintf(buf, len, "%u:%02u", v / 60, v % 60);
    return buf;
}

void progress_say(FILE *f, const char *prefix, const char *fmt, ...)
{
    char when[16];
    double t = elapsed();
    if (!f)
        return;
    fprintf(f, "%s: [%5s] ", prefix, clock_str(t, when, sizeof when));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

struct watch {
    int fd, log_fd;
    FILE *f;
    int tty;
    const char *prefix;
    unsigned long files;
    char last[96];
    double shown, start;
};

/* A kbuild line: "  CC      kernel/fork.o" (two spaces, a tag, spaces,
 * the file). Counts it and keeps the file's name. */
static void line(struct watch *w, const char *s)
{
    if (s[0] != ' ' || s[1] != ' ' || s[2] < 'A' || s[2] > 'Z')
        return;
    const char *p = s + 2;
    while (*p && *p != ' ')
        p++;
    while (*p == ' ')
        p++;
    if (!*p)
        return;
    w->files++;
    snprintf(w->last, sizeof w->last, "%s", p);
}

static void show(struct watch *w, int final)
{
    double t = now_s();
    if (!w->f || (!final && t - w->shown < (w->tty ? 0.2 : PROGRESS_PLAIN_S)))
        return;
    w->shown = t;
    char when[16];
    clock_str(elapsed(), when, sizeof when);
    if (w->tty) /* redrawn in place; cut to a terminal's width */
        fprintf(w->f, "\r\033[K%s: [%5s] compiling: %lu files, %.40s%s",
                w->prefix, when, w->files, w->last, final ? "\n" : "");
    else if (!final)
        fprintf(w->f, "%s: [%5s] compiling: %lu files so far (%s)\n", w->prefix,
                when, w->files, w->last);
    fflush(w->f);
}

static void *reader(void *arg)
{
    struct watch *w = arg;
    char buf[8192], cur[512];
    size_t n = 0;
    ssize_t got;
    while ((got = read(w->fd, buf, sizeof buf)) != 0) {
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (w->log_fd >= 0 && write(w->log_fd, buf, (size_t)got) < 0)
            w->log_fd = -1; /* the log is best effort; the build goes on */
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] == '\n' || n == sizeof cur - 1) {
                cur[n] = 0;
                line(w, cur);
                n = 0;
            } else {
                cur[n++] = buf[i];
            }
        }
        show(w, 0);
    }
    return NULL;
}

int progress_run(char *const argv[], int log_fd, FILE *f, const char *prefix,
                 struct lvm_err *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return lvm_err_set(err, errno, "pipe");
    struct watch w = {.fd = p[0], .log_fd = log_fd, .f = f, .prefix = prefix};
    w.tty = f && isatty(fileno(f));
    w.start = w.shown = now_s();
    pthread_t th;
    if (pthread_create(&th, NULL, reader, &w) != 0) {
        close(p[0]);
        close(p[1]);
        return lvm_err_set(err, EAGAIN, "start the progress reader");
    }
    int r = kernel_run(argv, NULL, p[1], err);
    close(p[1]); /* the reader sees the end once make's jobs are gone */
    pthread_join(th, NULL);
    close(p[0]);
    if (w.tty)
        show(&w, 1);
    else
        progress_say(f, prefix, "compiled %lu files in %.0f s", w.files,
                     now_s() - w.start);
    return r;
}
