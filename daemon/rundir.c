/*
 * rundir.c: a guest's state lives with it, in RUN_DIR/guests/ID/:
 *
 *   devpage      its device and status pages (mapped by guest and daemon)
 *   shell.pid    pid and start time of its shell (written at prepare)
 *   config.json  what it is (written once it has started)
 *   console.log  its console, unless a client took it
 *   exit.json    how it ended
 *
 * The daemon reads these only when it starts (rundir_recover), never on
 * the creation path.
 */
#include "daemon/vm_monitor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void rundir_path(const struct daemon *d, const char *id, const char *file,
                 char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s%s%s", d->guests_dir, id, file ? "/" : "",
             file ? file : "");
}

int rundir_make(const struct daemon *d, const char *id, struct lvm_err *err)
{
    char path[PATH_MAX];
    rundir_path(d, id, NULL, path, sizeof path);
    if (mkdir(path, 0750) < 0)
        return lvm_err_set(err, errno, "create %s", path);
    /* Members of the API group may read the console log in it. */
    if (d->api_gid != (gid_t)-1 && chown(path, 0, d->api_gid) < 0) {
        int e = errno;
        rmdir(path);
        return lvm_err_set(err, e, "give %s to the API group", path);
    }
    return 0;
}

void rundir_remove(const struct daemon *d, const char *id)
{
    /* Whatever its monitor put there: the directory is flat and ours. */
    char path[PATH_MAX];
    rundir_path(d, id, NULL, path, sizeof path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir && fd >= 0)
        close(fd);
    struct dirent *e;
    while (dir && (e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(dir), e->d_name, 0);
    if (dir)
        closedir(dir);
    rmdir(path);
}

/* Write (o) to FILE atomically (a temporary, then rename). */
static int write_json(const struct daemon *d, const char *id, const char *file,
                      json_t *o, struct lvm_err *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    rundir_path(d, id, file, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int r = json_dump_file(o, tmp, JSON_COMPACT);
    json_decref(o);
    if (r < 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return lvm_err_set(err, errno ? errno : EIO, "write %s", path);
    }
    return 0;
}

unsigned long long proc_start_time(pid_t pid)
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
    /* Field 22, counted after the ')' that ends the command name. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    return strtoull(p, NULL, 10);
}

int rundir_write_shell(const struct daemon *d, const struct guest *g)
{
    char path[PATH_MAX];
    rundir_path(d, g->id, "shell.pid", path, sizeof path);
    FILE *f = fopen(path, "we");
    if (!f)
        return -1;
    fprintf(f, "%d %llu\n", (int)g->sb.pid, proc_start_time(g->sb.pid));
    return fclose(f);
}

/*
 * On the creation path: built in memory and written with one write() into
 * a new file (no temporary and rename needed: it is written once, and a
 * process killed during a tmpfs write either wrote it all or nothing; a
 * file the recovery cannot parse is treated as a half-made guest).
 */
int rundir_write_config(const struct daemon *d, const struct vm *v,
                        struct lvm_err *err)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:f, s:f, s:f, s:b, "
        "s:i}",
        "id", v->id, "name", v->name, "image", v->image, "monitor", v->monitor,
        "pid", (int)v->pid, "owner", (int)v->owner, "pid_start",
        (json_int_t)proc_start_time(v->pid), "mem", (json_int_t)v->mem,
        "mem_limit", (json_int_t)v->mem_limit, "cpus", v->cpus, "created",
        v->created, "create_ms", v->create_ms, "pooled", v->pooled,
        "watchdog_ms", (int)v->watchdog_ms);
    json_t *own = o ? v->mon->record(v) : NULL;
    if (own) /* what a restarted daemon needs of it: its monitor's part */
        json_object_update(o, own);
    json_decref(own);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return lvm_err_set(err, ENOMEM, "build config.json");
    char path[PATH_MAX];
    rundir_path(d, v->id, "config.json", path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    size_t n = strlen(s);
    ssize_t w = fd >= 0 ? write(fd, s, n) : -1;
    int e = errno;
    free(s);
    if (fd >= 0)
        close(fd);
    if (w != (ssize_t)n) {
        unlink(path);
        return lvm_err_set(err, w < 0 ? e : EIO, "write %s", path);
    }
    return 0;
}

int rundir_write_exit(const struct daemon *d, const struct vm *v)
{
    json_t *o = api_exit_json(&v->exit);
    json_object_set_new(o, "syscall", json_integer(v->exit.syscall));
    json_object_set_new(o, "detail", json_string(v->exit.detail));
    struct lvm_err err;
    return write_json(d, v->id, "exit.json", o, &err);
}

static enum guest_exit_kind kind_of(const char *s)
{
    static const char *const names[] = {"exited",  "aborted", "policy",
                                        "crashed", "oom",     "timeout",
                                        "killed",  "setup",   "watchdog"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i]))
            return (enum guest_exit_kind)i;
    return GUEST_UNKNOWN;
}

static void kill_leftover_shell(const struct daemon *d, const char *id)
{
    char path[PATH_MAX];
    rundir_path(d, id, "shell.pid", path, sizeof path);
    FILE *f = fopen(path, "re");
    int pid = 0;
    unsigned long long start = 0;
    if (f && fscanf(f, "%d %llu", &pid, &start) == 2 && pid > 0 && start &&
        proc_start_time(pid) == start) {
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pfd >= 0) {
            syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
            siginfo_t si;
            waitid(P_PIDFD, (id_t)pfd, &si, WEXITED | __WALL);
            close(pfd);
        }
    }
    if (f)
        fclose(f);
    /* Whatever still runs in its cgroup is the shell, or a guest started
     * but never recorded: nobody knows of it, so it goes. */
    struct cgroup cg;
    cgroup_open(&cg, id);
    struct lvm_err err;
    if (cgroup_exists(&cg)) {
        if (cgroup_kill_all(&cg, &err) < 0)
            daemon_log("%s", err.msg);
        for (int i = 0; i < 100 && cgroup_exists(&cg); i++) {
            if (cgroup_destroy(&cg, &err) == 0)
                break;
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

/* One directory: adopt its running guest, record its exit, or clean up
 * what a dead daemon left half made. */
static void recover_one(struct daemon *d, const char *id)
{
    char path[PATH_MAX];
    rundir_path(d, id, "config.json", path, sizeof path);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg && access(path, F_OK) == 0) {
        /* Cut short by a crash: never reported, like a half-made shell. */
        unlink(path);
    }
    if (!cfg) {
        /* A pooled or half-made shell: never reported to anyone. */
        kill_leftover_shell(d, id);
        rundir_remove(d, id);
        daemon_log("removed the half-made shell %s", id);
        return;
    }
    struct vm *v = calloc(1, sizeof *v);
    const char *name = json_string_value(json_object_get(cfg, "name"));
    const char *image = json_string_value(json_object_get(cfg, "image"));
    const char *mon = json_string_value(json_object_get(cfg, "monitor"));
    if (!v || !name || strlen(id) != GUEST_ID_LEN) {
        free(v);
        json_decref(cfg);
        daemon_log("ignoring %s: unreadable config.json", id);
        return;
    }
    memcpy(v->id, id, GUEST_ID_LEN + 1);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->image = strdup(image ? image : "");
    snprintf(v->monitor, sizeof v->monitor, "%s", mon ? mon : "proc");
    v->pid = (pid_t)json_integer_value(json_object_get(cfg, "pid"));
    v->owner = (uid_t)json_integer_value(json_object_get(cfg, "owner"));
    unsigned long long start = (unsigned long long)json_integer_value(
        json_object_get(cfg, "pid_start"));
    v->mem = (uint64_t)json_integer_value(json_object_get(cfg, "mem"));
    v->mem_limit =
        (uint64_t)json_integer_value(json_object_get(cfg, "mem_limit"));
    v->cpus = json_number_value(json_object_get(cfg, "cpus"));
    v->created = json_number_value(json_object_get(cfg, "created"));
    v->create_ms = json_number_value(json_object_get(cfg, "create_ms"));
    v->pooled = json_is_true(json_object_get(cfg, "pooled"));
    v->watchdog_ms =
        (uint32_t)json_integer_value(json_object_get(cfg, "watchdog_ms"));

    rundir_path(d, id, "exit.json", path, sizeof path);
    json_t *ex = json_load_file(path, 0, &je);
    int alive = v->pid > 0 && start && proc_start_time(v->pid) == start;
    if (ex) {
        v->state = VM_EXITED;
        const char *k = json_string_value(json_object_get(ex, "kind"));
        v->exit.kind = kind_of(k ? k : "");
        v->exit.status = (int)json_integer_value(json_object_get(ex, "status"));
        v->exit.code = (int)json_integer_value(json_object_get(ex, "code"));
        v->exit.syscall = json_integer_value(json_object_get(ex, "syscall"));
        const char *det = json_string_value(json_object_get(ex, "detail"));
        snprintf(v->exit.detail, sizeof v->exit.detail, "%s", det ? det : "");
        json_decref(ex);
    }
    vm_recover(d, v, cfg, alive); /* its monitor adopts it */
    json_decref(cfg);
}

void rundir_recover(struct daemon *d)
{
    DIR *dir = opendir(d->guests_dir);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir)))
        if (e->d_name[0] != '.')
            recover_one(d, e->d_name);
    closedir(dir);
}
