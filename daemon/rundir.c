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
 *
 * Who may read what: the directory is root's, group the creator's gid,
 * mode 0710 (root's alone, 0700, while a shell waits in the pool); the
 * console and logs are the creator's, 0600; the rest is root's, 0600.
 * Never the creator's to write into: the daemon (root) writes there by
 * path, and reads config.json back to decide which process to adopt.
 */
#include "daemon/quota.h"
#include "daemon/vm_monitor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
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
    if (mkdir(path, 0700) < 0)
        return lvm_err_set(err, errno, "create %s", path);
    return 0;
}

/* Let (uid) (not root) have (perms) ("r--" on a file, "--x" on a
 * directory) on the root-owned (fd) through a POSIX ACL, and nobody else
 * anything: the creator reads its guest's logs but cannot write,
 * truncate or replace them (the daemon reads them, and /run is RAM). */
static int grant(int fd, uid_t uid, const char *owner, const char *perms)
{
    char text[96];
    snprintf(text, sizeof text, "u::%s,u:%u:%s,g::---,m::%s,o::---", owner,
             (unsigned)uid, perms, perms);
    acl_t acl = acl_from_text(text);
    if (!acl)
        return -1;
    int r = acl_set_fd(fd, acl);
    int e = errno;
    acl_free(acl);
    errno = e;
    return r;
}

int rundir_give(const struct daemon *d, const char *id, const struct creds *cr,
                struct lvm_err *err)
{
    if (cr->uid == 0)
        return 0; /* root's own: stays 0700 */
    char path[PATH_MAX];
    rundir_path(d, id, NULL, path, sizeof path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || grant(fd, cr->uid, "rwx", "--x") < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return lvm_err_set(err, e, "let uid %u into %s", (unsigned)cr->uid,
                           path);
    }
    close(fd);
    return 0;
}

int rundir_create_owned(const struct daemon *d, const char *id,
                        const char *file, const struct creds *cr,
                        struct lvm_err *err)
{
    char path[PATH_MAX];
    rundir_path(d, id, file, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    if (fd < 0)
        return lvm_err_set(err, errno, "create %s", path);
    if (fchmod(fd, 0600) < 0 ||
        (cr->uid != 0 && grant(fd, cr->uid, "rw-", "r--") < 0)) {
        int e = errno;
        close(fd);
        return lvm_err_set(err, e, "let uid %u read %s", (unsigned)cr->uid,
                           path);
    }
    return fd;
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
    /* root's alone, like every file the daemon reads back */
    int fd =
        open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    /* In one write: json_dumpfd writes token by token, some fifty system
     * calls for an exit record, on the daemon's loop. */
    char *s = fd < 0 ? NULL : json_dumps(o, JSON_COMPACT);
    size_t len = s ? strlen(s) : 0;
    int r = s && write(fd, s, len) == (ssize_t)len ? 0 : -1;
    free(s);
    if (fd >= 0 && close(fd) < 0)
        r = -1;
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
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char line[64];
    int n = snprintf(line, sizeof line, "%d %llu\n", (int)g->sb.pid,
                     proc_start_time(g->sb.pid));
    ssize_t w = write(fd, line, (size_t)n);
    return close(fd) < 0 || w != n ? -1 : 0;
}

/*
 * On the creation path: built in memory and written with one write() into
 * a new file (no temporary and rename needed: it is written once, and a
 * process killed during a tmpfs write either wrote it all or nothing; a
 * file the recovery cannot parse is treated as a half-made guest).
 */
/* What config.json says of (v). */
static json_t *config_json(const struct vm *v)
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
    if (o) /* so a restarted daemon can set its files' ownership again */
        json_object_set_new(o, "owner_gid", json_integer(v->owner_gid));
    if (o && v->auto_remove) /* and remove it when it exits */
        json_object_set_new(o, "auto_remove", json_true());
    if (o) /* and charge its owner's quotas again */
        json_object_set_new(o, "quota", quota_record(v));
    if (o) /* and restart it by its policy */
        vm_restart_record(v, o);
    json_t *own = o ? v->mon->record(v) : NULL;
    if (own) /* what a restarted daemon needs of it: its monitor's part */
        json_object_update(o, own);
    json_decref(own);
    return o;
}

int rundir_write_config(const struct daemon *d, const struct vm *v,
                        struct lvm_err *err)
{
    json_t *o = config_json(v);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return lvm_err_set(err, ENOMEM, "build config.json");
    char path[PATH_MAX];
    rundir_path(d, v->id, "config.json", path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t n = strlen(s);
    ssize_t w = fd >= 0 ? write(fd, s, n) : -1;
    int e = errno;
    free(s);
    if (fd >= 0)
        close(fd);
    if (w != (ssize_t)n) {
        if (fd >= 0) /* ours, half-written; never another's */
            unlink(path);
        return lvm_err_set(err, w < 0 ? e : EIO, "write %s", path);
    }
    return 0;
}

int rundir_update_config(const struct daemon *d, const struct vm *v,
                         struct lvm_err *err)
{
    json_t *o = config_json(v);
    if (!o)
        return lvm_err_set(err, ENOMEM, "build config.json");
    return write_json(d, v->id, "config.json", o, err); /* consumes o */
}

int rundir_write_exit(const struct daemon *d, const struct vm *v)
{
    json_t *o = api_exit_json(&v->exit);
    json_object_set_new(o, "syscall", json_integer(v->exit.syscall));
    json_object_set_new(o, "detail", json_string(v->exit.detail));
    /* A client stopped it: its restart policy does not apply. */
    json_object_set_new(o, "stopped", json_boolean(v->stopped));
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

/* Set a recorded guest's files to what rundir_give() and
 * rundir_create_owned() make: root's, the logs readable by their guest's
 * owner through an ACL. A guest made by an older daemon (its logs its
 * owner's, or the whole API group's) is confined again. */
static void set_file(const char *path, uid_t reader)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    /* Closed first, then opened to its reader alone. */
    if (fchmod(fd, 0600) == 0 && fchown(fd, 0, 0) == 0 && reader)
        grant(fd, reader, "rw-", "r--");
    close(fd);
}

static void reown(const struct daemon *d, const struct vm *v)
{
    static const char *const logs[] = {"console.log", "qemu.log", "ctl.log"};
    static const char *const roots[] = {"config.json", "exit.json", "shell.pid",
                                        "devpage", "ready"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        rundir_path(d, v->id, logs[i], path, sizeof path);
        set_file(path, v->owner);
    }
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
        rundir_path(d, v->id, roots[i], path, sizeof path);
        set_file(path, 0);
    }
    rundir_path(d, v->id, NULL, path, sizeof path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fchmod(fd, 0700) == 0 && fchown(fd, 0, 0) == 0 && v->owner)
        grant(fd, v->owner, "rwx", "--x");
    close(fd);
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
    snprintf(v->monitor, sizeof v->monitor, "%s",
             mon ? mon : VM_MONITOR_DEFAULT);
    v->pid = (pid_t)json_integer_value(json_object_get(cfg, "pid"));
    v->owner = (uid_t)json_integer_value(json_object_get(cfg, "owner"));
    json_t *gid = json_object_get(cfg, "owner_gid");
    struct passwd *pw = gid ? NULL : getpwuid(v->owner); /* older records */
    v->owner_gid = gid ? (gid_t)json_integer_value(gid) : pw ? pw->pw_gid : 0;
    reown(d, v);
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
    v->auto_remove = json_is_true(json_object_get(cfg, "auto_remove"));

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
        v->stopped = json_is_true(json_object_get(ex, "stopped"));
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
