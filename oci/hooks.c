/*
 * hooks.c: run a bundle's hooks (hooks.h).
 */
#include "oci/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const kinds[] = {"prestart", "createRuntime", "poststart",
                                    "poststop"};

static int strings_ok(json_t *a)
{
    size_t i;
    json_t *v;
    if (!a)
        return 1;
    if (!json_is_array(a))
        return 0;
    json_array_foreach (a, i, v)
        if (!json_is_string(v))
            return 0;
    return 1;
}

int oci_hooks_check(const char *hooks, char *err, size_t errlen)
{
    if (!hooks)
        return 0;
    json_t *o = json_loads(hooks, 0, NULL);
    int r = -1;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "config.json: hooks must be an object");
        goto out;
    }
    const char *kind;
    json_t *list;
    json_object_foreach (o, kind, list) {
        int known = 0;
        for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
            known |= strcmp(kind, kinds[i]) == 0;
        if (!strcmp(kind, "createContainer") ||
            !strcmp(kind, "startContainer")) {
            if (json_array_size(list) == 0)
                continue;
            snprintf(err, errlen,
                     "config.json: hooks.%s run in the container's "
                     "namespaces, which a lightvm guest does not have",
                     kind);
            goto out;
        }
        if (!known || !json_is_array(list)) {
            snprintf(err, errlen, "config.json: hooks.%s: unknown hook kind",
                     kind);
            goto out;
        }
        size_t i;
        json_t *h;
        json_array_foreach (list, i, h) {
            const char *path = json_string_value(json_object_get(h, "path"));
            json_t *t = json_object_get(h, "timeout");
            if (!path || path[0] != '/' ||
                !strings_ok(json_object_get(h, "args")) ||
                !strings_ok(json_object_get(h, "env")) ||
                (t && (!json_is_integer(t) || json_integer_value(t) <= 0))) {
                snprintf(err, errlen,
                         "config.json: hooks.%s[%zu] needs an absolute path, "
                         "string args and env, a positive timeout",
                         kind, i);
                goto out;
            }
        }
    }
    r = 0;
out:
    json_decref(o);
    return r;
}

/* A NULL-terminated copy of an array of strings (or of {fallback}). */
static char **vec(json_t *a, const char *fallback)
{
    size_t n = json_array_size(a);
    char **v = calloc(n + 2, sizeof *v);
    if (!v)
        return NULL;
    if (!n && fallback)
        v[0] = (char *)fallback;
    for (size_t i = 0; i < n; i++)
        v[i] = (char *)json_string_value(json_array_get(a, i));
    return v;
}

static int run_one(json_t *h, const char *state, char *err, size_t errlen)
{
    const char *path = json_string_value(json_object_get(h, "path"));
    json_t *t = json_object_get(h, "timeout");
    int timeout_ms = t ? (int)json_integer_value(t) * 1000 : -1;
    char **argv = vec(json_object_get(h, "args"), path);
    char **envp = vec(json_object_get(h, "env"), NULL);
    int in[2] = {-1, -1}, r = -1;
    if (!argv || !envp || pipe2(in, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "hook %s: %s", path, strerror(errno));
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "hook %s: fork: %s", path, strerror(errno));
        goto out;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        execve(path, argv, envp);
        _exit(127);
    }
    close(in[0]);
    in[0] = -1;
    /* The state on its stdin; a hook that does not read it is fine. */
    signal(SIGPIPE, SIG_IGN);
    (void)!write(in[1], state, strlen(state));
    close(in[1]);
    in[1] = -1;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct pollfd p = {pfd, POLLIN, 0};
    int ready;
    while ((ready = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (ready == 0) {
        kill(pid, SIGKILL);
        snprintf(err, errlen, "hook %s: timed out after %d s", path,
                 timeout_ms / 1000);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (pfd >= 0)
        close(pfd);
    if (ready == 0)
        goto out;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "hook %s failed: %s %d", path,
                 WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        goto out;
    }
    r = 0;
out:
    if (in[0] >= 0)
        close(in[0]);
    if (in[1] >= 0)
        close(in[1]);
    free(argv);
    free(envp);
    return r;
}

int oci_hooks_run(const char *hooks, const char *kind, const char *state,
                  char *err, size_t errlen)
{
    if (!hooks)
        return 0;
    json_t *o = json_loads(hooks, 0, NULL);
    json_t *list = json_object_get(o, kind);
    size_t i;
    json_t *h;
    int r = 0;
    json_array_foreach (list, i, h) {
        if (run_one(h, state, err, errlen) < 0) {
            r = -1;
            break;
        }
    }
    json_decref(o);
    return r;
}
