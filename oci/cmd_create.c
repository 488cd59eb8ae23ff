/*
 * cmd_create.c: `create`: a unikernel bundle's guest, started by this
 * process as the toolstack's cold path does (cli/run_cold.c), stopped at
 * its gate before its first instruction. The guest's own process is the
 * container's process: our child, so the caller's subreaper (conmon,
 * containerd's shim) inherits it when we exit and reaps its exit status;
 * in the bundle's cgroup. docs/oci.md explains the design.
 */
#include "oci/args.h"
#include "oci/bundle.h"
#include "oci/config.h"
#include "oci/delegate.h"
#include "oci/net.h"
#include "oci/oci.h"
#include "oci/state.h"
#include "oci/vm_create.h"
#include "toolstack/guest.h"
#include "toolstack/host.h"
#include "toolstack/monitor.h"
#include "toolstack/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PATH                                                           \
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void now_rfc3339(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

/* A checkpoint to restore: its state file read and checked against the
 * bundle's guest, its RAM as a memfd. */
struct restore_from {
    struct snap_info info;
    struct guest_resume resume;
    int have_info;
};

static int read_checkpoint(const char *dir, int exe_fd, struct restore_from *rf,
                           struct lvm_err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/" OCI_CHECKPOINT_FILE, dir);
    /* O_NONBLOCK and a regular file only: a FIFO put there must not hang
     * the runtime. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    struct stat cst;
    if (fd < 0)
        return lvm_err_set(e, errno, "checkpoint %s", path);
    if (fstat(fd, &cst) < 0 || !S_ISREG(cst.st_mode)) {
        close(fd);
        return lvm_err_set(e, 0, "checkpoint %s is not a regular file", path);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int r = -1;
    uint8_t hash[SNAP_HASH_LEN];
    uint64_t size;
    if (snap_read_info(fd, &rf->info, e) < 0) {
        lvm_err_wrap(e, "%s", path);
        goto out;
    }
    rf->have_info = 1;
    if (rf->info.kind != SNAP_KIND_UNIKERNEL) {
        lvm_err_invalid(e, "%s holds no unikernel guest", path);
        goto out;
    }
    if (snap_hash_file(exe_fd, hash, &size, e) < 0)
        goto out;
    if (memcmp(hash, rf->info.image_hash, SNAP_HASH_LEN) != 0) {
        lvm_err_invalid(e,
                        "%s was taken of another guest image than the "
                        "bundle's process.args[0] (%s)",
                        path, rf->info.image_name);
        goto out;
    }
    int ram = snap_read_ram(fd, &rf->info, e);
    if (ram < 0)
        goto out;
    rf->resume =
        (struct guest_resume){ram, &rf->info.status, LVM_RESUME_RESTORED};
    r = 0;
out:
    close(fd);
    return r;
}

/* Start the guest: gated (create), or restored from (restore_dir) and
 * running at once (restore); fills st->pid. */
static int start_guest(struct oci_state *st, const struct oci_config *c,
                       int exe_fd, const char *exe, int gate_fd, int console,
                       const char *restore_dir, char *err, size_t errlen)
{
    struct lvm_err e = {0};
    struct lvm_host host;
    struct image *img = NULL;
    struct guest *g = NULL;
    struct restore_from rf;
    memset(&rf, 0, sizeof rf);
    rf.resume.ram_fd = -1;
    int r = -1;
    if (restore_dir && read_checkpoint(restore_dir, exe_fd, &rf, &e) < 0)
        goto out;
    if (host_init(&host, &e) < 0)
        goto out;
    const struct monitor_ops *mon = monitor_find(c->monitor, &host);
    if (!mon) {
        lvm_err_set(&e, 0, "monitor %s is not available on this host",
                    c->monitor);
        goto out_host;
    }
    if (image_load_fd(exe_fd, exe, &img, &e) < 0) {
        lvm_err_wrap(&e,
                     "process.args[0] %s in the rootfs is not a lightvm "
                     "guest (lightvm-runtime runs unikernel bundles)",
                     exe);
        goto out_host;
    }
    uint64_t ram;
    if (oci_pick_ram(mon->kind, c->memory_limit, guest_console_is_file(console),
                     &ram, err, errlen) < 0)
        goto out_img;
    if (restore_dir)
        ram = rf.info.ram_size; /* a restored guest keeps its RAM */
    char devpage[PATH_MAX + 16];
    oci_state_file(st, "devpage", devpage, sizeof devpage);
    struct guest_mem_need need = {
        .mon = mon->kind,
        .ram = ram ? ram : guest_ram_range(mon->kind, GUEST_KERNEL_TINY).def,
        .console_file = guest_console_is_file(console)};
    struct guest_class cl = {
        .ram_size = ram,
        .memory_limit =
            c->memory_limit ? c->memory_limit : guest_memory_limit(&need),
        .cpus = c->cpus,
        .monitor = mon->kind,
        .devpage_path = devpage,
        .cgroup_parent = st->cg_parent,
        .cgroup_name = st->cg_name,
    };
    if (guest_prepare(&host, &cl, &g, &e) < 0)
        goto out_img;
    struct guest_spec spec = {
        .ram_size = ram,
        .memory_limit = cl.memory_limit,
        .cpus = c->cpus,
        .argc = c->argc,
        .argv = c->argv,
        .envc = c->envc,
        .envp = c->env,
        .console_fd = console,
        .monitor = mon->kind,
        .gate_fd = gate_fd,
        .resume = restore_dir ? &rf.resume : NULL,
    };
    if (guest_launch(&host, g, img, &spec, &e) < 0)
        goto out_guest;
    oci_debug(
        "create phases (us): cgroup %.0f, shell %.0f, devices %.0f, "
        "plan %.0f, launch %.0f",
        (g->t_cgroup - g->create_ns) / 1e3, (g->t_spawn - g->t_cgroup) / 1e3,
        (g->t_devices - g->t_spawn) / 1e3, (g->t_plan - g->t_devices) / 1e3,
        (g->t_launch - g->t_plan) / 1e3);
    st->pid = g->sb.pid;
    st->pid_start = oci_pid_start(st->pid, NULL);
    st->ram_size = g->ram_size;
    snprintf(st->monitor, sizeof st->monitor, "%s", mon->name);
    /* The guest outlives us: keep its cgroup, let go of the rest. */
    g->have_cg = 0;
    r = 0;
out_guest:
    guest_free(g);
out_img:
    image_free(img);
out_host:
    host_fini(&host);
out:
    if (rf.resume.ram_fd >= 0)
        close(rf.resume.ram_fd);
    if (rf.have_info)
        snap_info_free(&rf.info);
    if (r < 0 && e.msg[0]) {
        char buf[LVM_ERR_MSG_MAX + 64];
        snprintf(err, errlen, "%s", lvm_err_str(&e, buf, sizeof buf));
    }
    return r;
}

int oci_write_pid_file(const char *path, pid_t pid, char *err, size_t errlen)
{
    char text[32], abs[PATH_MAX];
    snprintf(text, sizeof text, "%d", (int)pid);
    if (path[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            cwd[0] = 0;
        snprintf(abs, sizeof abs, "%s/%s", cwd, path);
        path = abs;
    }
    return oci_write_atomic(path, text, err, errlen);
}

/* Remove what create made in the state directory. */
static void remove_state(const struct oci_state *st)
{
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

/* Without --detach, runc's restore waits for the container: so do we
 * (the guest is our child) and exit with its status. */
static int wait_guest(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* create, and restore (restore_dir: the checkpoint). */
static int create_container(int argc, char **argv, const char *bundle,
                            const char *pid_file, const char *console_socket,
                            const char *config, const char *id,
                            const char *restore_dir, int detach)
{
    struct timespec t0; /* for --debug: the runtime's own share */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!oci_id_valid(id)) {
        oci_error("invalid id format: %s", id);
        return 1;
    }
    char err[1024];
    struct oci_config c;
    struct oci_state st;
    char bundle_abs[PATH_MAX], cfg_path[PATH_MAX * 2];
    if (!realpath(bundle, bundle_abs)) {
        oci_error("bundle %s: %s", bundle, strerror(errno));
        return 1;
    }
    if (config && config[0] == '/')
        snprintf(cfg_path, sizeof cfg_path, "%s", config);
    else
        snprintf(cfg_path, sizeof cfg_path, "%s/%s", bundle_abs,
                 config ? config : "config.json");
    if (oci_config_load(cfg_path, &c, err, sizeof err) < 0) {
        oci_error("%s", err);
        oci_config_free(&c);
        return 1;
    }
    const char *delegate = oci_delegate_for(&c);
    if (delegate) {
        int r = oci_delegate_create(delegate, id, argc, argv);
        oci_config_free(&c);
        return r;
    }
    if (c.terminal && !console_socket) {
        oci_error("cannot allocate tty if runc will detach without setting "
                  "console socket");
        oci_config_free(&c);
        return 1;
    }
    oci_state_init(&st, oci_g.root, id);
    if (oci_mkdir_p(oci_g.root, 0700) < 0) {
        oci_error("--root %s: %s", oci_g.root, strerror(errno));
        oci_config_free(&c);
        return 1;
    }
    if (oci_delegate_exists(id) || mkdir(st.dir, 0711) < 0) {
        if (errno == EEXIST || oci_delegate_exists(id))
            oci_error("container with id exists: %s", id);
        else
            oci_error("create %s: %s", st.dir, strerror(errno));
        oci_config_free(&c);
        return 1;
    }
    int code = 1, rootfd = -1, exe = -1, gate = -1, console = -1;
    char rootfs[PATH_MAX * 2], shown[PATH_MAX];
    if (c.root_path[0] == '/')
        snprintf(rootfs, sizeof rootfs, "%s", c.root_path);
    else
        snprintf(rootfs, sizeof rootfs, "%s/%s", bundle_abs, c.root_path);
    rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        oci_error("rootfs (%s) does not exist: %s", rootfs, strerror(errno));
        goto out;
    }
    if ((exe = oci_find_program(rootfd, &c, shown, sizeof shown)) < 0) {
        oci_error("exec: \"%s\": %s in the rootfs %s", shown,
                  errno == ENOENT ? "executable file not found"
                                  : strerror(errno),
                  rootfs);
        goto out;
    }
    /* Not a unikernel: the rootfs boots as a VM (vm_create.c). */
    int vm = oci_vm_wanted(&c, exe);
    if (vm && restore_dir) {
        oci_error("restore: a VM container (%s is no lightvm guest) has no "
                  "checkpoints",
                  shown);
        goto out;
    }
    snprintf(st.bundle, sizeof st.bundle, "%s", bundle_abs);
    snprintf(st.rootfs, sizeof st.rootfs, "%s", rootfs);
    now_rfc3339(st.created, sizeof st.created);
    st.annotations = strdup(c.annotations);
    st.hooks = c.hooks ? strdup(c.hooks) : NULL;
    if (oci_cgroup_path(c.cgroups_path, oci_g.systemd_cgroup, id, st.cg_parent,
                        sizeof st.cg_parent, st.cg_name, sizeof st.cg_name, err,
                        sizeof err) < 0) {
        oci_error("%s", err);
        goto out;
    }
    char fifo[PATH_MAX + 16];
    oci_state_file(&st, "exec.fifo", fifo, sizeof fifo);
    /* Opened for reading and writing: the open does not block, and the
     * shell that holds it keeps `start`'s open for writing from failing
     * until the guest has gone. */
    if (mkfifo(fifo, 0600) < 0 || (gate = open(fifo, O_RDWR | O_CLOEXEC)) < 0) {
        oci_error("create %s: %s", fifo, strerror(errno));
        goto out;
    }
    if (c.terminal) {
        console = oci_console_pty(console_socket, err, sizeof err);
        if (console < 0) {
            oci_error("%s", err);
            goto out;
        }
    }
    err[0] = 0;
    oci_net_set_namespace(c.netns_path);
    snprintf(st.program, sizeof st.program, "%s", shown);
    int started = vm ? oci_vm_create(&st, &c, cfg_path, rootfs, gate,
                                     console >= 0 ? console : STDOUT_FILENO,
                                     err, sizeof err)
                     : start_guest(&st, &c, exe, shown, restore_dir ? 0 : gate,
                                   console >= 0 ? console : STDOUT_FILENO,
                                   restore_dir, err, sizeof err);
    if (started < 0) {
        oci_error("%s", err);
        goto out;
    }
    if (oci_state_save(&st, err, sizeof err) < 0 ||
        (pid_file &&
         oci_write_pid_file(pid_file, st.pid, err, sizeof err) < 0)) {
        oci_error("%s", err);
        kill(st.pid, SIGKILL);
        goto out;
    }
    /* The guest waits at its gate: the runtime's hooks run now. */
    if (!restore_dir &&
        (oci_run_hooks(&st, "createRuntime", OCI_CREATED, 0) < 0 ||
         oci_run_hooks(&st, "prestart", OCI_CREATED, 0) < 0)) {
        kill(st.pid, SIGKILL);
        struct cgroup cg;
        struct lvm_err ignore;
        cgroup_open_at(&cg, st.cg_parent, st.cg_name);
        cgroup_kill_all(&cg, &ignore);
        cgroup_destroy(&cg, &ignore);
        goto out;
    }
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    oci_debug("created %s: pid %d, in %.2f ms", id, (int)st.pid,
              (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    if (restore_dir)
        unlink(fifo); /* it runs already */
    code = 0;
    if (restore_dir && !detach)
        code = wait_guest(st.pid);
out:
    if (code != 0)
        remove_state(&st);
    if (rootfd >= 0)
        close(rootfd);
    if (exe >= 0)
        close(exe);
    if (gate >= 0)
        close(gate);
    if (console >= 0)
        close(console);
    oci_state_free(&st);
    oci_config_free(&c);
    return code;
}

int oci_cmd_create(int argc, char **argv)
{
    const char *bundle = ".", *pid_file = NULL, *console_socket = NULL,
               *config = NULL;
    const struct oci_opt opts[] = {
        {"bundle", 'b', 1, &bundle, NULL},
        {"pid-file", 0, 1, &pid_file, NULL},
        {"console-socket", 0, 1, &console_socket, NULL},
        {"config", 0, 1, &config, NULL},
        {"no-pivot", 0, 0, NULL, NULL},
        {"no-new-keyring", 0, 0, NULL, NULL},
        {"no-subreaper", 0, 0, NULL, NULL},
        {"detach", 'd', 0, NULL, NULL},
        {"preserve-fds", 0, 1, NULL, NULL},
        {"pidfd-socket", 0, 1, NULL, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 1, 1,
                     "create [--bundle DIR] [--pid-file FILE] "
                     "[--console-socket SOCKET] ID") < 0)
        return 1;
    return create_container(argc, argv, bundle, pid_file, console_socket,
                            config, pos[0], NULL, 1);
}

int oci_cmd_restore(int argc, char **argv)
{
    const char *bundle = ".", *pid_file = NULL, *console_socket = NULL,
               *image = NULL;
    int detach = 0;
    /* runc's restore flags; CRIU's own are accepted and mean nothing to
     * a guest's snapshot. */
    const struct oci_opt opts[] = {
        {"image-path", 0, 1, &image, NULL},
        {"bundle", 'b', 1, &bundle, NULL},
        {"pid-file", 0, 1, &pid_file, NULL},
        {"console-socket", 0, 1, &console_socket, NULL},
        {"detach", 'd', 0, NULL, &detach},
        {"work-path", 0, 1, NULL, NULL},
        {"no-subreaper", 0, 0, NULL, NULL},
        {"no-pivot", 0, 0, NULL, NULL},
        {"tcp-established", 0, 0, NULL, NULL},
        {"ext-unix-sk", 0, 0, NULL, NULL},
        {"shell-job", 0, 0, NULL, NULL},
        {"file-locks", 0, 0, NULL, NULL},
        {"manage-cgroups-mode", 0, 1, NULL, NULL},
        {"empty-ns", 0, 1, NULL, NULL},
        {"auto-dedup", 0, 0, NULL, NULL},
        {"lazy-pages", 0, 0, NULL, NULL},
        {"lsm-profile", 0, 1, NULL, NULL},
        {"lsm-mount-context", 0, 1, NULL, NULL},
        {"pidfd-socket", 0, 1, NULL, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 1, 1,
                     "restore --image-path DIR [--bundle DIR] [--pid-file "
                     "FILE] [--detach] ID") < 0)
        return 1;
    if (!image) {
        oci_error("restore: --image-path is needed");
        return 1;
    }
    return create_container(argc, argv, bundle, pid_file, console_socket, NULL,
                            pos[0], image, detach);
}

/* run: create and start in one, and (without --detach) wait for the
 * guest, whose parent this process still is, and exit with its status. */
int oci_cmd_run(int argc, char **argv)
{
    const char *bundle = ".", *pid_file = NULL, *console_socket = NULL,
               *config = NULL;
    int detach = 0;
    const struct oci_opt opts[] = {
        {"bundle", 'b', 1, &bundle, NULL},
        {"pid-file", 0, 1, &pid_file, NULL},
        {"console-socket", 0, 1, &console_socket, NULL},
        {"config", 0, 1, &config, NULL},
        {"detach", 'd', 0, NULL, &detach},
        {"no-pivot", 0, 0, NULL, NULL},
        {"no-new-keyring", 0, 0, NULL, NULL},
        {"no-subreaper", 0, 0, NULL, NULL},
        {"keep", 0, 0, NULL, NULL},
        {"preserve-fds", 0, 1, NULL, NULL},
        {"pidfd-socket", 0, 1, NULL, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    char *pos[1];
    if (oci_cmd_args(argc, argv, opts, pos, 1, 1,
                     "run [--bundle DIR] [--pid-file FILE] [--detach] ID") < 0)
        return 1;
    if (create_container(argc, argv, bundle, pid_file, console_socket, config,
                         pos[0], NULL, 1) != 0)
        return 1;
    struct oci_state st;
    char err[512], fifo[PATH_MAX + 16];
    if (oci_state_load(&st, oci_g.root, pos[0], err, sizeof err) < 0) {
        oci_error("%s", err);
        oci_state_free(&st);
        return 1;
    }
    oci_state_file(&st, "exec.fifo", fifo, sizeof fifo);
    int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    int code = 1;
    if (fd < 0 || write(fd, "0", 1) != 1) {
        oci_error("start the container: %s", strerror(errno));
    } else {
        unlink(fifo);
        code = detach ? 0 : wait_guest(st.pid);
    }
    if (fd >= 0)
        close(fd);
    oci_state_free(&st);
    return code;
}
