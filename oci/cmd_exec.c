/*
 * cmd_exec.c: exec -- run another process in a VM container (a Tinyx
 * guest), as runc's callers use it: `exec --process F --detach
 * --pid-file P ID` (containerd's shim, conmon), or `exec ID CMD...`.
 * The process runs in the guest, started by its init over the exec
 * channel (include/lightvm/tinyx_exec.h), which QEMU serves on a socket
 * in the container's state directory. Here a small relay stands for it:
 * this process (or with --detach its child, named in the pid file, which
 * the caller reaps) carries its stdio and signals and exits with its
 * status. A unikernel is one process: exec is refused for it.
 */
#include "oci/args.h"
#include "oci/delegate.h"
#include "oci/oci.h"
#include "oci/state.h"
#include "oci/vm_create.h"
#include "toolstack/qemu/qemu_xframe.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXEC_MAX_ITEMS 256

/* What the process is: --process's JSON, or the command line. */
struct xproc {
    json_t *json; /* --process, owns the strings below */
    char *argv[EXEC_MAX_ITEMS];
    int argc;
    char *env[EXEC_MAX_ITEMS];
    int envc;
    const char *cwd;
    char user[48];
    int terminal;
};

static int strings(json_t *a, char **out, int *n, const char *what)
{
    size_t i;
    json_t *v;
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > EXEC_MAX_ITEMS) {
        oci_error("exec: process.%s must be an array of at most %d strings",
                  what, EXEC_MAX_ITEMS);
        return -1;
    }
    json_array_foreach (a, i, v) {
        if (!json_is_string(v)) {
            oci_error("exec: process.%s must hold strings", what);
            return -1;
        }
        out[(*n)++] = (char *)json_string_value(v);
    }
    return 0;
}

static int read_process(const char *file, struct xproc *p)
{
    json_error_t je;
    p->json = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!p->json || !json_is_object(p->json)) {
        oci_error("exec: --process %s: %s", file,
                  p->json ? "not a JSON object" : je.text);
        return -1;
    }
    if (strings(json_object_get(p->json, "args"), p->argv, &p->argc, "args") <
            0 ||
        strings(json_object_get(p->json, "env"), p->env, &p->envc, "env") < 0)
        return -1;
    p->cwd = json_string_value(json_object_get(p->json, "cwd"));
    p->terminal = json_is_true(json_object_get(p->json, "terminal"));
    json_t *u = json_object_get(p->json, "user");
    json_t *uid = json_object_get(u, "uid"), *gid = json_object_get(u, "gid");
    if (json_is_integer(uid))
        snprintf(p->user, sizeof p->user, "%lld:%lld",
                 (long long)json_integer_value(uid),
                 json_is_integer(gid) ? (long long)json_integer_value(gid)
                                      : (long long)json_integer_value(uid));
    return 0;
}

/* Connect to the container's exec channel. */
static int connect_channel(const struct oci_state *st)
{
    struct sockaddr_un a;
    struct lvm_err e;
    int dirfd;
    if (oci_vm_exec_addr(st, &dirfd, &a, &e) < 0) {
        oci_error("exec: %s", e.msg);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        oci_error("exec: container %s has no exec channel (%s)", st->id,
                  strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    close(dirfd);
    return fd;
}

/* --detach: tell the parent how the start went (one byte: 0 started). */
static void started(void *arg, const struct xsession_result *res)
{
    int *fd = arg;
    if (*fd < 0)
        return;
    /* One write: the byte and the reason arrive together. */
    char msg[sizeof res->error + 1];
    msg[0] = res->error[0] ? 1 : 0;
    size_t len = 1;
    if (msg[0]) {
        len += strlen(res->error);
        memcpy(msg + 1, res->error, len - 1);
    }
    if (write(*fd, msg, len) < 0)
        msg[0] = 1;
    close(*fd);
    *fd = -1;
}

/* The relay: one session, its status as this process's. */
static int relay(int fd, const uint8_t *start, size_t len, int report_fd)
{
    int detached = report_fd >= 0; /* the parent reports a failed start */
    sigset_t mask;
    sigemptyset(&mask);
    static const int relayed[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,
                                  SIGUSR1, SIGUSR2, SIGWINCH};
    for (size_t i = 0; i < sizeof relayed / sizeof *relayed; i++)
        sigaddset(&mask, relayed[i]);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct xsession_io io = {.in_fd = STDIN_FILENO,
                             .out_fd = STDOUT_FILENO,
                             .err_fd = STDERR_FILENO,
                             .sig_fd = signalfd(-1, &mask, SFD_CLOEXEC),
                             .on_start = started,
                             .arg = &report_fd};
    struct xsession_result res;
    int r = qemu_xsession_run(fd, start, len, &io, &res);
    if (report_fd >= 0) { /* it never started */
        if (!res.error[0])
            snprintf(res.error, sizeof res.error, "no answer");
        started(&report_fd, &res);
    }
    if (r < 0 && res.code < 0) {
        oci_error("exec: %s", res.error);
        return 255;
    }
    if (res.error[0] && !(detached && res.pid == 0))
        oci_error("exec failed: %s", res.error);
    return res.code;
}

int oci_cmd_exec(int argc, char **argv)
{
    const char *process = NULL, *pid_file = NULL, *console_socket = NULL,
               *cwd = NULL, *user = NULL, *env1 = NULL, *ignored = NULL;
    int detach = 0, tty = 0, flag_ignored = 0;
    const struct oci_opt opts[] = {
        {"process", 'p', 1, &process, NULL},
        {"detach", 'd', 0, NULL, &detach},
        {"pid-file", 0, 1, &pid_file, NULL},
        {"console-socket", 0, 1, &console_socket, NULL},
        {"tty", 't', 0, NULL, &tty},
        {"cwd", 0, 1, &cwd, NULL},
        {"user", 'u', 1, &user, NULL},
        {"env", 'e', 1, &env1, NULL},
        /* accepted, and meaningless for a process in a VM */
        {"additional-gids", 'g', 1, &ignored, NULL},
        {"preserve-fds", 0, 1, &ignored, NULL},
        {"process-label", 0, 1, &ignored, NULL},
        {"apparmor", 0, 1, &ignored, NULL},
        {"cap", 'c', 1, &ignored, NULL},
        {"cgroup", 0, 1, &ignored, NULL},
        {"no-new-privs", 0, 0, NULL, &flag_ignored},
        {"ignore-paused", 0, 0, NULL, &flag_ignored},
        {NULL, 0, 0, NULL, NULL},
    };
    static const char use[] =
        "exec [--process FILE] [--detach] [--pid-file FILE] ID [COMMAND...]";
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: lightvm-runtime %s\n", use);
            return 0;
        }
    /* Flags stop at the id: what follows is the command's. */
    char *pos[1];
    int next = 0;
    char err[256];
    int n = oci_args_parse(argc - 1, argv + 1, opts, 1, pos, 1, &next, err,
                           sizeof err);
    if (n < 0 || next >= argc - 1) {
        oci_error("exec: %s (usage: %s)", n < 0 ? err : "no container id", use);
        return 1;
    }
    const char *id = argv[1 + next];
    oci_delegate_if_ours(id);
    struct xproc p = {0};
    int code = 1, fd = -1;
    struct oci_state st;
    char serr[512];
    if (oci_state_load(&st, oci_g.root, id, serr, sizeof serr) < 0) {
        oci_error("%s", serr);
        oci_state_free(&st);
        return 1;
    }
    if (strcmp(st.monitor, "qemu")) {
        oci_error("exec: a unikernel guest is one process: nothing else can "
                  "run in container %s",
                  id);
        goto out;
    }
    if (process && read_process(process, &p) < 0)
        goto out;
    if (!process)
        for (int i = 2 + next; i < argc && p.argc < EXEC_MAX_ITEMS; i++)
            p.argv[p.argc++] = argv[i];
    if (env1 && p.envc < EXEC_MAX_ITEMS)
        p.env[p.envc++] = (char *)env1;
    if (cwd)
        p.cwd = cwd;
    if (user)
        snprintf(p.user, sizeof p.user, "%s", user);
    if (!p.argc) {
        oci_error("exec: args must not be empty");
        goto out;
    }
    if (tty || p.terminal || console_socket) {
        oci_error("exec: a terminal is not supported in a VM container: "
                  "run without -t");
        goto out;
    }
    enum oci_status s = oci_state_status(&st);
    if (s == OCI_PAUSED) {
        oci_error("cannot exec in a paused container");
        goto out;
    }
    if (s != OCI_RUNNING) {
        oci_error("cannot exec in a stopped container");
        goto out;
    }
    uint8_t start[LVM_XF_HDR + LVM_XF_MAX];
    size_t len;
    struct lvm_err e;
    if (xframe_start(p.argv, p.argc, p.env, p.envc, p.cwd,
                     p.user[0] ? p.user : NULL, start, &len, &e) < 0) {
        oci_error("%s", e.msg);
        goto out;
    }
    if ((fd = connect_channel(&st)) < 0)
        goto out;
    if (!detach) {
        code = relay(fd, start, len, -1);
        goto out;
    }
    /* --detach: the relay is a child, the process the caller reaps; this
     * one returns once the command has started (or says why not). */
    int rp[2];
    if (pipe2(rp, O_CLOEXEC) < 0) {
        oci_error("exec: pipe: %s", strerror(errno));
        goto out;
    }
    pid_t child = fork();
    if (child == 0) {
        close(rp[0]);
        _exit(relay(fd, start, len, rp[1]));
    }
    close(rp[1]);
    if (child < 0) {
        close(rp[0]);
        oci_error("exec: fork: %s", strerror(errno));
        goto out;
    }
    char buf[600];
    ssize_t got = 0, rn;
    while (got < (ssize_t)sizeof buf - 1 &&
           ((rn = read(rp[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0 ||
            (rn < 0 && errno == EINTR)))
        got += rn > 0 ? rn : 0;
    close(rp[0]);
    if (got < 1 || buf[0] != 0) {
        buf[got > 1 ? got : 1] = 0;
        oci_error("exec failed: %s",
                  got > 1 ? buf + 1 : "the relay ended before the start");
        waitpid(child, NULL, 0);
        goto out;
    }
    char perr[256];
    if (pid_file &&
        oci_write_pid_file(pid_file, child, perr, sizeof perr) < 0) {
        oci_error("exec: %s", perr);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        goto out;
    }
    code = 0;
out:
    if (fd >= 0)
        close(fd);
    json_decref(p.json);
    oci_state_free(&st);
    return code;
}
