/*
 * cmd_life.c: the commands that move a container through its life:
 * start, kill, delete, pause and resume, with runc's rules for which
 * state each is allowed in and runc's words when it is not.
 */
#include "oci/args.h"
#include "oci/delegate.h"
#include "oci/hooks.h"
#include "oci/oci.h"
#include "oci/state.h"
#include "oci/vm_create.h"
#include "toolstack/cgroup.h"
#include "toolstack/guest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int oci_run_hooks(const struct oci_state *st, const char *kind, int status,
                  int warn_only)
{
    if (!st->hooks)
        return 0;
    char *state = oci_state_json(st, (enum oci_status)status);
    char err[512];
    int r = state ? oci_hooks_run(st->hooks, kind, state, err, sizeof err) : -1;
    if (!state)
        snprintf(err, sizeof err, "out of memory");
    free(state);
    if (r < 0) {
        if (warn_only)
            oci_warn("%s: %s", kind, err);
        else
            oci_error("%s: %s", kind, err);
    }
    return warn_only ? 0 : r;
}

/* Load (id)'s state or say it does not exist. */
static int load(struct oci_state *st, const char *id)
{
    char err[512];
    oci_delegate_if_ours(id);
    if (oci_state_load(st, oci_g.root, id, err, sizeof err) < 0) {
        oci_error("%s", err);
        oci_state_free(st);
        return -1;
    }
    return 0;
}

/* A pidfd for the container's process, if it is still the one we made. */
static int open_pidfd(const struct oci_state *st)
{
    int fd = (int)syscall(SYS_pidfd_open, st->pid, 0);
    if (fd < 0)
        return -1;
    int zombie = 0;
    if (oci_pid_start(st->pid, &zombie) != st->pid_start) {
        close(fd);
        errno = ESRCH;
        return -1;
    }
    return fd;
}

static int send_signal(const struct oci_state *st, int sig)
{
    int fd = open_pidfd(st);
    if (fd < 0)
        return -1;
    int r = (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

static void state_cgroup(const struct oci_state *st, struct cgroup *cg)
{
    cgroup_open_at(cg, st->cg_parent, st->cg_name);
}

int oci_cmd_start(int argc, char **argv)
{
    const struct oci_opt opts[] = {{NULL, 0, 0, NULL, NULL}};
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 1, 1, "start ID") < 0)
        return 1;
    struct oci_state st;
    if (load(&st, pos[0]) < 0)
        return 1;
    int code = 1;
    enum oci_status s = oci_state_status(&st);
    if (s == OCI_STOPPED) {
        oci_error("cannot start a container that has stopped");
        goto out;
    }
    if (s != OCI_CREATED) {
        oci_error("cannot start an already running container");
        goto out;
    }
    char fifo[PATH_MAX + 16];
    oci_state_file(&st, "exec.fifo", fifo, sizeof fifo);
    /* Non-blocking: with no reader left (the guest died at its gate) the
     * open fails instead of waiting. */
    int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENXIO)
            oci_error("cannot start a container that has stopped");
        else
            oci_error("open %s: %s", fifo, strerror(errno));
        goto out;
    }
    ssize_t n = write(fd, "0", 1);
    int e = errno;
    close(fd);
    if (n != 1) {
        oci_error("start the container: %s", strerror(e));
        goto out;
    }
    unlink(fifo);
    oci_run_hooks(&st, "poststart", OCI_RUNNING, 1);
    code = 0;
out:
    oci_state_free(&st);
    return code;
}

/* SIGTERM and SIGINT ask the guest to power off through its control
 * device, as Ctrl-C does under `lightvm run`: a guest is PID 1 of its PID
 * namespace and has no handler for them, so the kernel would drop them. */
static int poweroff(const struct oci_state *st)
{
    struct guest g;
    memset(&g, 0, sizeof g);
    g.control_fd = -1;
    g.dev.fd = -1;
    char path[PATH_MAX + 16];
    oci_state_file(st, "devpage", path, sizeof path);
    struct lvm_err e;
    if (devpage_open(&g.dev, path, &e) < 0)
        return -1;
    g.sb.pidfd = open_pidfd(st);
    int r = g.sb.pidfd >= 0 ? guest_control(&g, LVM_CTRL_POWEROFF, &e) : -1;
    if (g.sb.pidfd >= 0)
        close(g.sb.pidfd);
    devpage_destroy(&g.dev);
    return r;
}

int oci_cmd_kill(int argc, char **argv)
{
    int all = 0;
    const struct oci_opt opts[] = {{"all", 'a', 0, NULL, &all},
                                   {NULL, 0, 0, NULL, NULL}};
    char *pos[2] = {NULL, NULL};
    int n =
        oci_cmd_args(argc, argv, opts, pos, 1, 2, "kill [--all] ID [SIGNAL]");
    if (n < 0)
        return 1;
    int sig = n > 1 ? oci_parse_signal(pos[1]) : SIGTERM;
    if (sig < 0) {
        oci_error("unknown signal \"%s\"", pos[1]);
        return 1;
    }
    struct oci_state st;
    if (load(&st, pos[0]) < 0)
        return 1;
    int code = 1;
    enum oci_status s = oci_state_status(&st);
    if (s == OCI_STOPPED) {
        /* --all (obsolete in runc) only quiets this. */
        if (all)
            code = 0;
        else
            oci_error("container not running");
        goto out;
    }
    /* A VM container's supervisor relays signals to the app itself. */
    if ((sig == SIGTERM || sig == SIGINT) && s == OCI_RUNNING &&
        strcmp(st.monitor, "qemu") && poweroff(&st) == 0) {
        code = 0;
        goto out;
    }
    /* A guest at its gate has run nothing: any ending signal ends it. */
    if (s == OCI_CREATED && sig != SIGSTOP && sig != SIGCONT)
        sig = SIGKILL;
    if (send_signal(&st, sig) < 0) {
        oci_error(errno == ESRCH ? "container not running" : "kill: %s",
                  strerror(errno));
        goto out;
    }
    if (s == OCI_PAUSED && sig == SIGKILL) {
        /* A frozen v1 task dies only once thawed. */
        struct cgroup cg;
        struct lvm_err e;
        state_cgroup(&st, &cg);
        cgroup_freeze(&cg, 0, &e);
    }
    code = 0;
out:
    oci_state_free(&st);
    return code;
}

/* SIGKILL the container's process and wait (bounded) until it is gone. */
static void kill_and_wait(const struct oci_state *st)
{
    struct cgroup cg;
    struct lvm_err e;
    state_cgroup(st, &cg);
    int fd = open_pidfd(st);
    if (fd >= 0) {
        syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
        cgroup_freeze(&cg, 0, &e);
        struct pollfd p = {fd, POLLIN, 0};
        while (poll(&p, 1, 10000) < 0 && errno == EINTR)
            ;
        close(fd);
    }
    if (st->cg_name[0] && cgroup_exists(&cg))
        cgroup_kill_all(&cg, &e);
}

static void remove_container(const struct oci_state *st)
{
    struct cgroup cg;
    struct lvm_err e;
    state_cgroup(st, &cg);
    if (st->cg_name[0] && cgroup_exists(&cg) && cgroup_destroy(&cg, &e) < 0)
        oci_debug("remove the cgroup of %s: %s", st->id, e.msg);
    static const char *const files[] = {"exec.fifo", "devpage", "state.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[PATH_MAX + 16];
        oci_state_file(st, files[i], path, sizeof path);
        unlink(path);
    }
    for (const char *const *f = oci_vm_state_files; *f; f++) {
        char path[PATH_MAX + 16];
        oci_state_file(st, *f, path, sizeof path);
        unlink(path);
    }
    rmdir(st->dir);
}

int oci_cmd_delete(int argc, char **argv)
{
    int force = 0;
    const struct oci_opt opts[] = {{"force", 'f', 0, NULL, &force},
                                   {NULL, 0, 0, NULL, NULL}};
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 1, 1, "delete [--force] ID") < 0)
        return 1;
    struct oci_state st;
    char err[512];
    oci_delegate_if_ours(pos[0]);
    if (oci_state_load(&st, oci_g.root, pos[0], err, sizeof err) < 0) {
        /* A create that died half-way leaves a directory without
         * state.json: remove it, as runc does. */
        if (oci_id_valid(pos[0]))
            remove_container(&st);
        oci_state_free(&st);
        if (force)
            return 0;
        oci_error("%s", err);
        return 1;
    }
    enum oci_status s = oci_state_status(&st);
    if ((s == OCI_RUNNING || s == OCI_PAUSED) && !force) {
        oci_error("cannot delete container %s that is not stopped: %s", st.id,
                  oci_status_name(s));
        oci_state_free(&st);
        return 1;
    }
    if (s != OCI_STOPPED)
        kill_and_wait(&st);
    remove_container(&st);
    oci_run_hooks(&st, "poststop", OCI_STOPPED, 1);
    oci_state_free(&st);
    return 0;
}

int oci_cmd_pause(int argc, char **argv)
{
    int pause = strcmp(argv[0], "pause") == 0;
    const struct oci_opt opts[] = {{NULL, 0, 0, NULL, NULL}};
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 1, 1,
                     pause ? "pause ID" : "resume ID") < 0)
        return 1;
    struct oci_state st;
    if (load(&st, pos[0]) < 0)
        return 1;
    int code = 1;
    enum oci_status s = oci_state_status(&st);
    if (pause && s != OCI_RUNNING) {
        oci_error("container not running");
        goto out;
    }
    if (!pause && s != OCI_PAUSED) {
        oci_error("container not paused");
        goto out;
    }
    struct cgroup cg;
    struct lvm_err e;
    state_cgroup(&st, &cg);
    if (cgroup_freeze(&cg, pause, &e) < 0) {
        oci_error("%s: %s", pause ? "pause" : "resume", e.msg);
        goto out;
    }
    code = 0;
out:
    oci_state_free(&st);
    return code;
}
