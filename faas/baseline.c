/*
 * baseline.c: what bench/faas.sh compares the service with, behind the
 * same gateway (same HTTP, queue and limits): each invocation a plain
 * `lua5.4` process (fn serve --runner process), or `lua5.4` in a fresh
 * crun container (--runner crun). The process has no isolation at all;
 * the container has its own namespaces and a read-only /usr, as a
 * container image with Lua would. Neither is the service: they exist to
 * be measured against it.
 *
 * Both run the same wrapper, which keeps the guest's contract: the
 * source on fd 3, the body on stdin, the answer on stdout framed as
 * "LVMFN1 KIND LENGTH\n" + bytes (faas/guest/fn_guest.c).
 */
#include "faas/invoke.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char wrapper[] =
    "print = function(...)\n"
    "  local t = table.pack(...)\n"
    "  for i = 1, t.n do t[i] = tostring(t[i]) end\n"
    "  io.stderr:write(table.concat(t, '\\t', 1, t.n), '\\n')\n"
    "end\n"
    "local f = assert(io.open('/dev/fd/3', 'rb'))\n"
    "local src = f:read('a') f:close()\n"
    "local body = io.read('a') or ''\n"
    "local function out(kind, s)\n"
    "  s = tostring(s)\n"
    "  io.write(string.format('LVMFN1 %s %d\\n', kind, #s), s)\n"
    "end\n"
    "local chunk, e = load(src, '@handler.lua', 't')\n"
    "if not chunk then return out('syntax', e) end\n"
    "local ok, e2 = pcall(chunk)\n"
    "if not ok then return out('runtime', e2) end\n"
    "if type(handler) ~= 'function' then\n"
    "  return out('runtime', 'handler.lua defines no global function "
    "handler(body)')\n"
    "end\n"
    "local ok2, r = pcall(handler, body)\n"
    "if not ok2 then\n"
    "  return out(tostring(r):find('not enough memory') and 'memory' or "
    "'runtime', r)\n"
    "end\n"
    "if r == nil then r = '' end\n"
    "out('ok', r)\n";

static const char lua_path[] = "/usr/bin/lua5.4";

/* The crun bundle: a root of empty mount points and /usr (with Debian's
 * merged-/usr links), lua5.4 as its process, /proc and /dev as usual. */
static int write_bundle(struct fn_runner *r, struct lvm_err *err)
{
    snprintf(r->bundle, sizeof r->bundle, "/run/lightvm-fn-crun-%ld",
             (long)getpid());
    char p[512];
    mkdir(r->bundle, 0700);
    snprintf(p, sizeof p, "%s/rootfs", r->bundle);
    mkdir(p, 0755);
    static const char *const dirs[] = {"usr", "proc", "dev", "tmp", "etc"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(p, sizeof p, "%s/rootfs/%s", r->bundle, dirs[i]);
        mkdir(p, 0755);
    }
    static const char *const links[][2] = {
        {"usr/bin", "bin"}, {"usr/lib", "lib"}, {"usr/lib64", "lib64"}};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        snprintf(p, sizeof p, "%s/rootfs/%s", r->bundle, links[i][1]);
        if (symlink(links[i][0], p) < 0 && errno != EEXIST)
            return lvm_err_set(err, errno, "%s", p);
    }
    snprintf(p, sizeof p, "%s/config.json", r->bundle);
    FILE *f = fopen(p, "w");
    if (!f)
        return lvm_err_set(err, errno, "%s", p);
    /* The wrapper as a JSON string. */
    fprintf(f,
            "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,"
            "\"user\":{\"uid\":65534,\"gid\":65534},\"args\":[\"%s\","
            "\"-e\",\"",
            lua_path);
    for (const char *s = wrapper; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fprintf(f,
            "\"],\"env\":[\"PATH=/usr/bin\"],\"cwd\":\"/\","
            "\"noNewPrivileges\":true},"
            "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
            "\"hostname\":\"fn\","
            "\"mounts\":["
            "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
            "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
            "\"options\":[\"nosuid\",\"mode=755\",\"size=64k\"]},"
            "{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
            "\"options\":[\"nosuid\",\"nodev\",\"size=1m\"]},"
            "{\"destination\":\"/usr\",\"type\":\"bind\",\"source\":\"/usr\","
            "\"options\":[\"rbind\",\"ro\"]}],"
            "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":"
            "\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":"
            "\"mount\"}],\"resources\":{\"memory\":{\"limit\":%llu}}}}\n",
            (unsigned long long)r->lim.ram);
    if (fclose(f) != 0)
        return lvm_err_set(err, errno, "%s", p);
    return 0;
}

int fn_baseline_init(struct fn_runner *r, struct lvm_err *err)
{
    if (access(lua_path, X_OK) < 0)
        return lvm_err_set(err, errno,
                           "%s is needed by --runner process and crun "
                           "(apt-get install lua5.4)",
                           lua_path);
    if (r->kind == FN_RUN_CRUN) {
        if (access("/usr/bin/crun", X_OK) < 0)
            return lvm_err_set(err, errno,
                               "/usr/bin/crun is needed by --runner crun");
        return write_bundle(r, err);
    }
    return 0;
}

void fn_baseline_fini(struct fn_runner *r)
{
    if (r->kind != FN_RUN_CRUN || !r->bundle[0])
        return;
    char p[512];
    static const char *const parts[] = {
        "rootfs/usr", "rootfs/proc", "rootfs/dev",   "rootfs/tmp", "rootfs/etc",
        "rootfs/bin", "rootfs/lib",  "rootfs/lib64", "config.json"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        snprintf(p, sizeof p, "%s/%s", r->bundle, parts[i]);
        if (unlink(p) < 0)
            rmdir(p);
    }
    snprintf(p, sizeof p, "%s/rootfs", r->bundle);
    rmdir(p);
    rmdir(r->bundle);
}

int fn_baseline_spawn(struct fn_runner *r, struct fn_call *c, int src_fd,
                      int body_fd, struct lvm_err *err)
{
    static unsigned long long seq;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, body_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, c->result_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, c->console_fd, 2);
    posix_spawn_file_actions_adddup2(&fa, src_fd, 3);
    pid_t pid;
    int rc;
    if (r->kind == FN_RUN_PROCESS) {
        char *argv[] = {"lua5.4", "-e", (char *)wrapper, NULL};
        rc = posix_spawn(&pid, lua_path, &fa, NULL, argv, environ);
    } else {
        snprintf(c->cid, sizeof c->cid, "lightvm-fn-%ld-%llu", (long)getpid(),
                 ++seq);
        char *argv[] = {
            "crun", "run", "--bundle", r->bundle, "--preserve-fds=1",
            c->cid, NULL};
        rc = posix_spawn(&pid, "/usr/bin/crun", &fa, NULL, argv, environ);
    }
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return lvm_err_set(err, rc, "spawn the function's process");
    c->pid = pid;
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (c->pidfd < 0) {
        int e = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return lvm_err_set(err, e, "pidfd_open");
    }
    return 0;
}

void fn_baseline_kill(struct fn_runner *r, struct fn_call *c)
{
    if (r->kind == FN_RUN_CRUN && c->cid[0]) {
        /* crun run waits for its container; killing crun alone would
         * leave the container running. */
        pid_t pid;
        char *argv[] = {"crun", "kill", c->cid, "KILL", NULL};
        if (posix_spawn(&pid, "/usr/bin/crun", NULL, NULL, argv, environ) == 0)
            waitpid(pid, NULL, 0);
    }
    kill(c->pid, SIGKILL);
}

int fn_baseline_reap(struct fn_runner *r, struct fn_call *c, char *why,
                     size_t len)
{
    (void)r;
    int st;
    if (waitpid(c->pid, &st, 0) < 0) {
        snprintf(why, len, "waitpid: %s", strerror(errno));
        return -1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st))
        snprintf(why, len, "exited with status %d", WEXITSTATUS(st));
    else
        snprintf(why, len, "killed by signal %d", WTERMSIG(st));
    return -1;
}
