/*
 * delegate.c: hand containers to another OCI runtime (delegate.h).
 */
#include "oci/delegate.h"
#include "oci/oci.h"
#include "oci/state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Whether (name) is an executable on $PATH. */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const char *p = path;; p++) {
        char file[PATH_MAX];
        size_t n = strcspn(p, ":");
        snprintf(file, sizeof file, "%.*s/%s", (int)n, p, name);
        if (n && access(file, X_OK) == 0)
            return 1;
        p += n;
        if (!*p)
            return 0;
    }
}

const char *oci_delegate_for(const struct oci_config *c)
{
    static char name[PATH_MAX];
    json_t *a = json_loads(c->annotations ? c->annotations : "{}", 0, NULL);
    const char *d =
        json_string_value(json_object_get(a, OCI_DELEGATE_ANNOTATION));
    const char *type = json_string_value(
        json_object_get(a, "io.kubernetes.cri.container-type"));
    const char *r = NULL;
    if (d && *d)
        r = d;
    else if (type && strcmp(type, "sandbox") == 0)
        /* The pod's pause container: runc where installed (crun 1.8
         * refuses hybrid cgroup hosts), else crun. */
        r = on_path("runc") || !on_path("crun") ? "runc" : "crun";
    if (r)
        snprintf(name, sizeof name, "%s", r);
    json_decref(a);
    return r ? name : NULL;
}

static void marker(const char *id, char *path, size_t len)
{
    snprintf(path, len, "%s/delegate/%s", oci_g.root, id);
}

/* Exec (runtime) with our global flags, its own root, and the command. */
static void exec_runtime(const char *runtime, int argc, char **argv)
{
    char root[PATH_MAX + 16];
    snprintf(root, sizeof root, "%s/delegated", oci_g.root);
    char **nv = calloc((size_t)argc + 12, sizeof *nv);
    if (!nv)
        return;
    int n = 0;
    nv[n++] = (char *)runtime;
    nv[n++] = "--root";
    nv[n++] = root;
    if (oci_g.log) {
        nv[n++] = "--log";
        nv[n++] = (char *)oci_g.log;
        nv[n++] = "--log-format";
        nv[n++] = (char *)oci_g.log_format;
    }
    if (oci_g.systemd_cgroup)
        nv[n++] = "--systemd-cgroup";
    if (oci_g.debug)
        nv[n++] = "--debug";
    for (int i = 0; i < argc; i++)
        nv[n++] = argv[i];
    nv[n] = NULL;
    oci_debug("handing %s to %s", argv[0], runtime);
    execvp(runtime, nv);
    oci_error("hand the container to %s: %s", runtime, strerror(errno));
    free(nv);
}

int oci_delegate_create(const char *runtime, const char *id, int argc,
                        char **argv)
{
    if (strchr(runtime, '\n') || !*runtime) {
        oci_error("annotation " OCI_DELEGATE_ANNOTATION ": bad runtime name");
        return 1;
    }
    char dir[PATH_MAX + 16], path[PATH_MAX + 300], err[512];
    snprintf(dir, sizeof dir, "%s/delegate", oci_g.root);
    if (oci_mkdir_p(dir, 0700) < 0) {
        oci_error("create %s: %s", dir, strerror(errno));
        return 1;
    }
    marker(id, path, sizeof path);
    struct oci_state ours;
    oci_state_init(&ours, oci_g.root, id);
    if (access(path, F_OK) == 0 || access(ours.dir, F_OK) == 0) {
        oci_error("container with id exists: %s", id);
        return 1;
    }
    if (oci_write_atomic(path, runtime, err, sizeof err) < 0) {
        oci_error("%s", err);
        return 1;
    }
    exec_runtime(runtime, argc, argv);
    unlink(path);
    return 1;
}

int oci_delegate_exists(const char *id)
{
    char path[PATH_MAX + 300];
    marker(id, path, sizeof path);
    return oci_id_valid(id) && access(path, F_OK) == 0;
}

void oci_delegate_if_ours(const char *id)
{
    int argc = oci_g.cmd_argc;
    char **argv = oci_g.cmd_argv;
    if (!oci_id_valid(id))
        return;
    char path[PATH_MAX + 300], runtime[PATH_MAX];
    marker(id, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, runtime, sizeof runtime - 1);
    close(fd);
    if (n <= 0)
        return;
    runtime[n] = 0;
    if (strcmp(argv[0], "delete") != 0) {
        exec_runtime(runtime, argc, argv);
        exit(1);
    }
    /* delete: the marker goes once the other runtime has let go. */
    pid_t pid = fork();
    if (pid == 0) {
        exec_runtime(runtime, argc, argv);
        _exit(1);
    }
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int code = pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (code == 0)
        unlink(path);
    exit(code);
}
