/*
 * state.c: the state directory (state.h).
 */
#include "oci/state.h"
#include "toolstack/cgroup.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <unistd.h>

int oci_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= 256 || !strcmp(id, ".") || !strcmp(id, ".."))
        return 0;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789_+-.") == n;
}

void oci_state_init(struct oci_state *st, const char *root, const char *id)
{
    memset(st, 0, sizeof *st);
    snprintf(st->id, sizeof st->id, "%s", id);
    snprintf(st->dir, sizeof st->dir, "%s/%s", root, id);
}

void oci_state_file(const struct oci_state *st, const char *name, char *path,
                    size_t len)
{
    snprintf(path, len, "%s/%s", st->dir, name);
}

static void copy(char *dst, size_t len, json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(dst, len, "%s", s ? s : "");
}

int oci_state_load(struct oci_state *st, const char *root, const char *id,
                   char *err, size_t errlen)
{
    oci_state_init(st, root, id);
    if (!oci_id_valid(id)) {
        snprintf(err, errlen, "container %s does not exist (invalid id)", id);
        return -1;
    }
    char path[PATH_MAX + 16];
    oci_state_file(st, "state.json", path, sizeof path);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) {
        if (access(path, F_OK) < 0)
            snprintf(err, errlen, "container %s does not exist", id);
        else
            snprintf(err, errlen, "container %s: state.json: %s", id, je.text);
        return -1;
    }
    st->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
    st->pid_start =
        (uint64_t)json_integer_value(json_object_get(o, "pid_start"));
    copy(st->bundle, sizeof st->bundle, o, "bundle");
    copy(st->rootfs, sizeof st->rootfs, o, "rootfs");
    copy(st->created, sizeof st->created, o, "created");
    copy(st->monitor, sizeof st->monitor, o, "monitor");
    copy(st->cg_parent, sizeof st->cg_parent, o, "cgroup_parent");
    copy(st->cg_name, sizeof st->cg_name, o, "cgroup_name");
    copy(st->program, sizeof st->program, o, "program");
    st->ram_size = (uint64_t)json_integer_value(json_object_get(o, "ram_size"));
    json_t *hk = json_object_get(o, "hooks");
    st->hooks = hk ? json_dumps(hk, JSON_COMPACT) : NULL;
    json_t *a = json_object_get(o, "annotations");
    st->annotations = json_dumps(a ? a : json_object(), JSON_COMPACT);
    json_decref(o);
    return 0;
}

int oci_write_atomic(const char *path, const char *text, char *err,
                     size_t errlen)
{
    /* A fresh, unguessable name, never an existing file or a link: the
     * pid file's directory may be writable by others (runc: O_EXCL). */
    char tmp[PATH_MAX + 48];
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 8; tries++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint64_t)getpid() * 2654435761u + (uint64_t)tries;
        snprintf(tmp, sizeof tmp, "%s.tmp%016llx", path, (unsigned long long)r);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int e = errno;
    if (close(fd) < 0 && n == (ssize_t)len) {
        n = -1;
        e = errno;
    }
    if (n != (ssize_t)len || rename(tmp, path) < 0) {
        if (n == (ssize_t)len)
            e = errno;
        unlink(tmp);
        snprintf(err, errlen, "write %s: %s", path, strerror(e));
        return -1;
    }
    return 0;
}

int oci_state_save(const struct oci_state *st, char *err, size_t errlen)
{
    json_t *a = json_loads(st->annotations ? st->annotations : "{}", 0, NULL);
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o}",
        "ociVersion", "1.0.2", "id", st->id, "pid", (json_int_t)st->pid,
        "pid_start", (json_int_t)st->pid_start, "bundle", st->bundle, "rootfs",
        st->rootfs, "created", st->created, "monitor", st->monitor,
        "cgroup_parent", st->cg_parent, "cgroup_name", st->cg_name, "program",
        st->program, "ram_size", (json_int_t)st->ram_size, "annotations",
        a ? a : json_object());
    if (o && st->hooks)
        json_object_set_new(o, "hooks", json_loads(st->hooks, 0, NULL));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char path[PATH_MAX + 16];
    oci_state_file(st, "state.json", path, sizeof path);
    int r = oci_write_atomic(path, text, err, errlen);
    free(text);
    return r;
}

void oci_state_free(struct oci_state *st)
{
    free(st->annotations);
    st->annotations = NULL;
    free(st->hooks);
    st->hooks = NULL;
}

char *oci_state_json(const struct oci_state *st, enum oci_status s)
{
    json_t *a = json_loads(st->annotations ? st->annotations : "{}", 0, NULL);
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:s}",
                          "ociVersion", "1.0.2", "id", st->id, "pid",
                          (json_int_t)(s == OCI_STOPPED ? 0 : st->pid),
                          "status", oci_status_name(s), "bundle", st->bundle,
                          "rootfs", st->rootfs, "created", st->created,
                          "annotations", a ? a : json_object(), "owner", "");
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    return text;
}

uint64_t oci_pid_start(pid_t pid, int *zombie)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the name may hold anything */
    char state;
    unsigned long long start;
    /* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime cutime cstime priority nice threads itreal
     * starttime" */
    if (!p || sscanf(p + 1,
                     " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d "
                     "%*d %*d %*d %*d %*d %llu",
                     &state, &start) != 2)
        return 0;
    if (zombie)
        *zombie = state == 'Z' || state == 'X';
    return start;
}

enum oci_status oci_state_status(const struct oci_state *st)
{
    int zombie = 0;
    if (st->pid <= 0 || oci_pid_start(st->pid, &zombie) != st->pid_start ||
        zombie)
        return OCI_STOPPED;
    char path[PATH_MAX + 16];
    oci_state_file(st, "exec.fifo", path, sizeof path);
    if (access(path, F_OK) == 0)
        return OCI_CREATED;
    struct cgroup cg;
    cgroup_open_at(&cg, st->cg_parent, st->cg_name);
    struct cgroup_stats cs;
    struct lvm_err e;
    if (cgroup_stats(&cg, &cs, &e) == 0 && cs.frozen)
        return OCI_PAUSED;
    return OCI_RUNNING;
}

const char *oci_status_name(enum oci_status s)
{
    switch (s) {
    case OCI_CREATED: return "created";
    case OCI_RUNNING: return "running";
    case OCI_PAUSED: return "paused";
    case OCI_STOPPED: return "stopped";
    }
    return "unknown";
}

int oci_mkdir_p(const char *dir, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}
