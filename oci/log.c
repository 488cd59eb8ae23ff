/*
 * log.c: runc's logging as its callers read it (oci.h). containerd's shim
 * passes `--log <bundle>/log.json --log-format json` and reports the last
 * line whose level is "error"; podman and CRI-O read stderr.
 */
#include "oci/oci.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1, log_json;

void oci_log_open(const char *path, const char *format)
{
    log_json = format && strcmp(format, "json") == 0;
    if (path && *path)
        log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static void put(const char *level, const char *fmt, va_list ap, int to_stderr)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (to_stderr)
        fprintf(stderr, "%s\n", msg);
    if (log_fd < 0)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
    char *line = NULL;
    if (log_json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg,
                              "time", when);
        line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
    }
    char text[1200];
    if (!line) {
        snprintf(text, sizeof text, "time=\"%s\" level=%s msg=\"%s\"", when,
                 level, msg);
    }
    const char *out = line ? line : text;
    /* One write per line: concurrent runtimes share the file. */
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "%s\n", out);
    if (n > 0)
        (void)!write(log_fd, buf,
                     (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    free(line);
}

void oci_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put("error", fmt, ap, 1);
    va_end(ap);
}

void oci_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put("warning", fmt, ap, 1);
    va_end(ap);
}

void oci_debug(const char *fmt, ...)
{
    if (!oci_g.debug)
        return;
    va_list ap;
    va_start(ap, fmt);
    put("debug", fmt, ap, log_fd < 0);
    va_end(ap);
}
