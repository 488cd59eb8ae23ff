/*
 * kernel.c: find or build the kernel an image boots (see kernel.h). Tiny
 * kernels are built once per machine and configuration, in a shared build
 * tree so that a changed configuration rebuilds in seconds, not minutes.
 */
#include "tinyx/kernel.h"
#include "tinyx/progress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Platform modules of a stock kernel, by name. */
static const char *stock_modules[] = {"virtio_mmio", "virtio_net",
                                      "virtio_console", "virtio_blk", "erofs"};

const char *kernel_cache_dir(char *buf, size_t len)
{
    const char *env = getenv("LIGHTVM_KERNEL_CACHE");
    snprintf(buf, len, "%s", env && *env ? env : KERNEL_CACHE_DEFAULT);
    return buf;
}

static int read_meta(const char *dir, struct tinyx_kernel *out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    if (!m)
        return -1;
    const char *ver = json_string_value(json_object_get(m, "version"));
    const char *key = json_string_value(json_object_get(m, "key"));
    snprintf(out->version, sizeof out->version, "%s", ver ? ver : "");
    snprintf(out->key, sizeof out->key, "%s", key ? key : "");
    json_decref(m);
    return 0;
}

int kernel_cached(const struct kconfig *k, struct tinyx_kernel *out)
{
    memset(out, 0, sizeof *out);
    char cache[PATH_MAX], key[KERNEL_KEY_LEN + 1], dir[PATH_MAX + 80];
    kernel_cache_dir(cache, sizeof cache);
    kconfig_key(k, key);
    snprintf(dir, sizeof dir, "%s/%s", cache, key);
    snprintf(out->path, sizeof out->path, "%s/vmlinux", dir);
    snprintf(out->bzimage, sizeof out->bzimage, "%s/bzImage", dir);
    if (access(out->path, R_OK) < 0 || read_meta(dir, out) < 0)
        return -1;
    snprintf(out->kind, sizeof out->kind, "tiny");
    snprintf(out->key, sizeof out->key, "%s", key);
    out->acpi = 0;
    return 0;
}

static int modules_dir_ok(const char *version)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "/lib/modules/%s/modules.dep", version);
    return access(p, R_OK) == 0;
}

static int stock_from(const char *path, struct tinyx_kernel *out,
                      struct lvm_err *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "vmlinuz-", 8) || !base[8])
        return lvm_err_invalid(err, "%s: not named vmlinuz-VERSION", path);
    if (access(path, R_OK) < 0)
        return lvm_err_set(err, errno, "kernel %s", path);
    memset(out, 0, sizeof *out);
    snprintf(out->kind, sizeof out->kind, "stock");
    snprintf(out->path, sizeof out->path, "%s", path);
    snprintf(out->version, sizeof out->version, "%s", base + 8);
    out->acpi = 1;
    if (!modules_dir_ok(out->version))
        return lvm_err_set(err, ENOENT,
                           "kernel %s: no modules in "
                           "/lib/modules/%s",
                           path, out->version);
    return 0;
}

int kernel_stock(struct tinyx_kernel *out, struct lvm_err *err)
{
    const char *env = getenv("LIGHTVM_STOCK_KERNEL");
    if (env && *env)
        return stock_from(env, out, err);
    DIR *d = opendir("/boot");
    char best[256] = "";
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (strncmp(e->d_name, "vmlinuz-", 8) || l < 20 ||
                strcmp(e->d_name + l - 12, "-cloud-amd64"))
                continue;
            if (!modules_dir_ok(e->d_name + 8))
                continue;
            if (!best[0] || strverscmp(e->d_name, best) > 0)
                snprintf(best, sizeof best, "%s", e->d_name);
        }
        closedir(d);
    }
    if (!best[0])
        return lvm_err_set(err, ENOENT,
                           "no Debian cloud kernel in /boot (apt-get install "
                           "linux-image-cloud-amd64)");
    char path[300];
    snprintf(path, sizeof path, "/boot/%s", best);
    return stock_from(path, out, err);
}

int kernel_from_path(const char *path, struct tinyx_kernel *out,
                     struct lvm_err *err)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return lvm_err_set(err, errno, "kernel %s", path);
    const char *base = strrchr(real, '/') + 1;
    if (!strncmp(base, "vmlinuz-", 8))
        return stock_from(real, out, err);
    memset(out, 0, sizeof *out);
    snprintf(out->kind, sizeof out->kind, "tiny");
    snprintf(out->path, sizeof out->path, "%s", real);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", real);
    *strrchr(dir, '/') = 0;
    /* one of ours if its cache directory describes it */
    if (read_meta(dir, out) == 0)
        snprintf(out->bzimage, sizeof out->bzimage, "%s/bzImage", dir);
    out->acpi = 0;
    return 0;
}

/* ---- stock kernel modules --------------------------------------------- */

struct moddep {
    char **line; /* "path: dep dep" lines of modules.dep */
    size_t n;
};

/* The modules.dep line of module (name) ("virtio_net"), or NULL. */
static const char *dep_line(const struct moddep *md, const char *name)
{
    for (size_t i = 0; i < md->n; i++) {
        const char *colon = strchr(md->line[i], ':');
        if (!colon)
            continue;
        const char *slash = colon;
        while (slash > md->line[i] && slash[-1] != '/')
            slash--;
        size_t nl = (size_t)(colon - slash);
        if (nl < 4 || strncmp(colon - 3, ".ko", 3))
            continue;
        nl -= 3;
        if (nl != strlen(name))
            continue;
        int same = 1;
        for (size_t j = 0; j < nl && same; j++) {
            char a = slash[j] == '-' ? '_' : slash[j];
            char b = name[j] == '-' ? '_' : name[j];
            same = a == b;
        }
        if (same)
            return md->line[i];
    }
    return NULL;
}

static int add_mod(char ***mods, size_t *n, const char *path)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*mods)[i], path))
            return 0;
    char **m = realloc(*mods, (*n + 1) * sizeof *m);
    if (!m)
        return -1;
    *mods = m;
    if (!(m[*n] = strdup(path)))
        return -1;
    (*n)++;
    return 0;
}

/* Dependencies first, depth-first, as modprobe does. */
static int load_order(const struct moddep *md, const char *ver,
                      const char *line, char ***mods, size_t *n, int depth,
                      struct lvm_err *err)
{
    if (depth > 16)
        return lvm_err_set(err, ELOOP, "modules.dep: dependency loop");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", line);
    char *colon = strchr(buf, ':');
    *colon = 0;
    char *deps[64];
    int nd = 0;
    for (char *save, *t = strtok_r(colon + 1, " \t", &save); t && nd < 64;
         t = strtok_r(NULL, " \t", &save))
        deps[nd++] = t;
    for (int i = nd - 1; i >= 0; i--) {
        char name[256];
        const char *b = strrchr(deps[i], '/');
        snprintf(name, sizeof name, "%s", b ? b + 1 : deps[i]);
        char *dot = strstr(name, ".ko");
        if (dot)
            *dot = 0;
        const char *dl = dep_line(md, name);
        if (!dl)
            return lvm_err_set(err, ENOENT, "modules.dep: no entry for %s",
                               name);
        if (load_order(md, ver, dl, mods, n, depth + 1, err) < 0)
            return -1;
    }
    if (strcmp(buf + strlen(buf) - 3, ".ko"))
        return lvm_err_set(err, ENOTSUP,
                           "%s: compressed modules are not supported", buf);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/lib/modules/%s/%s", ver, buf);
    if (add_mod(mods, n, path) < 0)
        return lvm_err_set(err, ENOMEM, "module list");
    return 0;
}

int kernel_stock_modules(const struct tinyx_kernel *k, char ***mods, size_t *n,
                         struct lvm_err *err)
{
    return kernel_stock_module_list(
        k, stock_modules, sizeof stock_modules / sizeof *stock_modules, mods, n,
        err);
}

int kernel_stock_module_list(const struct tinyx_kernel *k,
                             const char *const *names, size_t nnames,
                             char ***mods, size_t *n, struct lvm_err *err)
{
    *mods = NULL;
    *n = 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/lib/modules/%s/modules.dep", k->version);
    FILE *f = fopen(path, "re");
    if (!f)
        return lvm_err_set(err, errno, "read %s", path);
    struct moddep md = {0};
    char line[4096];
    int r = 0;
    while (r == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char **nl = realloc(md.line, (md.n + 1) * sizeof *nl);
        if (!nl || !(nl[md.n] = strdup(line))) {
            free(nl);
            md.line = NULL;
            r = lvm_err_set(err, ENOMEM, "modules.dep");
            break;
        }
        md.line = nl;
        md.n++;
    }
    fclose(f);
    for (size_t i = 0; r == 0 && i < nnames; i++) {
        const char *dl = dep_line(&md, names[i]);
        if (!dl)
            r = lvm_err_set(err, ENOENT, "kernel %s has no module %s",
                            k->version, names[i]);
        else
            r = load_order(&md, k->version, dl, mods, n, 0, err);
    }
    for (size_t i = 0; i < md.n; i++)
        free(md.line[i]);
    free(md.line);
    if (r < 0) {
        for (size_t i = 0; i < *n; i++)
            free((*mods)[i]);
        free(*mods);
        *mods = NULL;
        *n = 0;
    }
    return r;
}

/* ---- building ---------------------------------------------------------- */

int kernel_run(char *const argv[], const char *dir, int log_fd,
               struct lvm_err *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return lvm_err_set(err, errno, "fork");
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* an outer make's job server and flags are not ours */
        unsetenv("MAKEFLAGS");
        unsetenv("MFLAGS");
        unsetenv("MAKELEVEL");
        if (dir && chdir(dir) < 0)
            _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return lvm_err_set(err, errno, "wait for %s", argv[0]);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return lvm_err_set(
            err, 0, "%s %s failed (status %d)", argv[0], argv[1] ? argv[1] : "",
            WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}

static int mkdir_p(const char *path, struct lvm_err *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return lvm_err_set(err, errno, "create %s", buf);
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return lvm_err_set(err, errno, "create %s", buf);
    return 0;
}

/* The newest /usr/src/linux-source-*.tar.xz. */
static int find_source(char *tarball, size_t len, struct lvm_err *err)
{
    DIR *d = opendir("/usr/src");
    char best[256] = "";
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (!strncmp(e->d_name, "linux-source-", 13) && l > 20 &&
                !strcmp(e->d_name + l - 7, ".tar.xz") &&
                (!best[0] || strverscmp(e->d_name, best) > 0))
                snprintf(best, sizeof best, "%s", e->d_name);
        }
        closedir(d);
    }
    if (!best[0])
        return lvm_err_set(err, ENOENT,
                           "no kernel source: apt-get install linux-source "
                           "flex bison bc libelf-dev");
    snprintf(tarball, len, "/usr/src/%s", best);
    return 0;
}

static void stamp_of(const char *path, char *buf, size_t len)
{
    struct stat st;
    if (stat(path, &st) < 0)
        snprintf(buf, len, "?");
    else
        snprintf(buf, len, "%s %lld %lld\n", path, (long long)st.st_size,
                 (long long)st.st_mtime);
}

static int stamp_matches(const char *file, const char *want)
{
    char got[PATH_MAX + 64] = "";
    FILE *f = fopen(file, "re");
    if (!f)
        return 0;
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = 0;
    fclose(f);
    return !strcmp(got, want);
}

static int write_text(const char *path, const char *text, struct lvm_err *err)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return lvm_err_set(err, errno, "write %s", path);
    int ok = fputs(text, f) >= 0;
    if (fclose(f) != 0 || !ok)
        return lvm_err_set(err, errno, "write %s", path);
    return 0;
}

static void progress(FILE *f, const char *fmt, const char *arg)
{
    char text[PATH_MAX + 128];
    snprintf(text, sizeof text, fmt, arg);
    progress_say(f, "tinyx kernel", "%s", text);
}

/* Unpack the source once, under cache/src; returns its directory. */
static int unpack_source(const char *cache, const char *tarball, char *src,
                         size_t len, int log_fd, FILE *prog,
                         struct lvm_err *err)
{
    const char *base = strrchr(tarball, '/') + 1;
    char name[256], stamp[PATH_MAX + 64], sfile[PATH_MAX];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(base) - 7), base);
    snprintf(src, len, "%s/src/%s", cache, name);
    snprintf(sfile, sizeof sfile, "%s/src/%s.stamp", cache, name);
    stamp_of(tarball, stamp, sizeof stamp);
    if (stamp_matches(sfile, stamp))
        return 0;
    progress(prog, "unpacking %s", tarball);
    char tmp[PATH_MAX], cmd[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/src/.tmp-%d", cache, (int)getpid());
    if (mkdir_p(tmp, err) < 0)
        return -1;
    char *const tar[] = {"tar", "-C", tmp, "-xf", (char *)tarball, NULL};
    if (kernel_run(tar, NULL, log_fd, err) < 0)
        return lvm_err_wrap(err, "unpack %s", tarball);
    snprintf(cmd, sizeof cmd, "%s/%s", tmp, name);
    char *const rm[] = {"rm", "-rf", src, NULL};
    if (kernel_run(rm, NULL, log_fd, err) < 0)
        return -1;
    if (rename(cmd, src) < 0)
        return lvm_err_set(err, errno, "rename %s", cmd);
    rmdir(tmp);
    return write_text(sfile, stamp, err);
}

/* Every requested option ended up as requested (Kconfig drops options
 * whose dependencies are missing without a word). */
static int verify_config(const char *build, const struct kconfig *k,
                         struct lvm_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/.config", build);
    FILE *f = fopen(path, "re");
    if (!f)
        return lvm_err_set(err, errno, "read %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    size_t got = text ? fread(text, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!text)
        return lvm_err_set(err, ENOMEM, "read .config");
    text[got] = 0;
    int r = 0;
    /* .config has more options than KCONFIG_MAX: look each one up */
    for (unsigned i = 0; i < k->n && r == 0; i++) {
        const struct kconfig_opt *o = &k->opt[i];
        char line[200];
        snprintf(line, sizeof line, "\n%s=%s\n", o->name, o->value);
        int set = strstr(text, line) != NULL;
        if (!strcmp(o->value, "n")) {
            snprintf(line, sizeof line, "\n%s=", o->name);
            if (strstr(text, line))
                r = lvm_err_invalid(err,
                                    "%s could not be turned off "
                                    "(something selects it)",
                                    o->name);
        } else if (!set) {
            r = lvm_err_invalid(err,
                                "%s=%s was not applied (unmet "
                                "dependency or unknown option)",
                                o->name, o->value);
        }
    }
    free(text);
    return r;
}

static int copy_file(const char *from, const char *to, struct lvm_err *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return lvm_err_set(err, errno, "read %s", from);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return lvm_err_set(err, errno, "create %s", to);
    }
    int r = 0;
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            r = lvm_err_set(err, errno, "write %s", to);
            break;
        }
    if (n < 0)
        r = lvm_err_set(err, errno, "read %s", from);
    close(in);
    if (close(out) < 0 && r == 0)
        r = lvm_err_set(err, errno, "write %s", to);
    return r;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) < 0 ? -1 : (long)st.st_size;
}

/* Copy the results into cache/<key>, complete or not at all. */
static int store(const char *cache, const char *build, const char *tarball,
                 const struct kconfig *k, const char *key, double secs,
                 struct tinyx_kernel *out, struct lvm_err *err)
{
    char tmp[PATH_MAX], dir[PATH_MAX], p[PATH_MAX + 64], q[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%d", cache, key, (int)getpid());
    snprintf(dir, sizeof dir, "%s/%s", cache, key);
    if (mkdir_p(tmp, err) < 0)
        return -1;
    static const char *files[][2] = {{"vmlinux", "vmlinux"},
                                     {"arch/x86/boot/bzImage", "bzImage"},
                                     {".config", "config"}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", build, files[i][0]);
        snprintf(q, sizeof q, "%s/%s", tmp, files[i][1]);
        if (copy_file(p, q, err) < 0)
            return -1;
    }
    char release[96] = "";
    snprintf(p, sizeof p, "%s/include/config/kernel.release", build);
    FILE *f = fopen(p, "re");
    if (f) {
        if (fgets(release, sizeof release, f))
            release[strcspn(release, "\n")] = 0;
        fclose(f);
    }
    char *text = kconfig_text(k);
    snprintf(q, sizeof q, "%s/fragment.config", tmp);
    if (!text || write_text(q, text, err) < 0) {
        free(text);
        return text ? -1 : lvm_err_set(err, ENOMEM, "fragment");
    }
    snprintf(p, sizeof p, "%s/vmlinux", tmp);
    snprintf(q, sizeof q, "%s/bzImage", tmp);
    json_t *meta =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:I}", "kind",
                  "tiny", "key", key, "version", release, "source", tarball,
                  "fragment", text, "vmlinux_bytes", (json_int_t)file_size(p),
                  "bzimage_bytes", (json_int_t)file_size(q), "build_seconds",
                  secs, "built_at", (json_int_t)time(NULL));
    free(text);
    snprintf(p, sizeof p, "%s/meta.json", tmp);
    if (!meta || json_dump_file(meta, p, JSON_INDENT(2)) < 0) {
        json_decref(meta);
        return lvm_err_set(err, EIO, "write %s", p);
    }
    json_decref(meta);
    /* a forced rebuild replaces the old entry */
    snprintf(p, sizeof p, "%s.old-%d", dir, (int)getpid());
    if (rename(dir, p) == 0) {
        char *const rm[] = {"rm", "-rf", p, NULL};
        kernel_run(rm, NULL, 2, err);
    }
    if (rename(tmp, dir) < 0)
        return lvm_err_set(err, errno, "rename %s", tmp);
    return kernel_cached(k, out) < 0
               ? lvm_err_set(err, EIO, "kernel cache %s is unreadable", dir)
               : 0;
}

int kernel_build(const struct kernel_build_opts *o, struct tinyx_kernel *out,
                 struct lvm_err *err)
{
    const struct kconfig *k = o->config;
    if (!o->force && kernel_cached(k, out) == 0) {
        progress(o->progress, "cached: %s", out->path);
        return 0;
    }
    char cache[PATH_MAX], tarball[PATH_MAX], src[PATH_MAX], build[PATH_MAX];
    char key[KERNEL_KEY_LEN + 1], logp[PATH_MAX], lockp[PATH_MAX];
    kernel_cache_dir(cache, sizeof cache);
    kconfig_key(k, key);
    if (find_source(tarball, sizeof tarball, err) < 0 ||
        mkdir_p(cache, err) < 0)
        return -1;
    snprintf(lockp, sizeof lockp, "%s/lock", cache);
    int lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0)
        return lvm_err_set(err, errno, "open %s", lockp);
    progress(o->progress, "waiting for the build lock %s", lockp);
    if (flock(lock, LOCK_EX) < 0) {
        close(lock);
        return lvm_err_set(err, errno, "lock %s", lockp);
    }
    int r = -1, log_fd = -1;
    snprintf(logp, sizeof logp, "%s/build-%s.log", cache, key);
    log_fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        lvm_err_set(err, errno, "create %s", logp);
        goto out;
    }
    /* another process may have built it while we waited */
    if (!o->force && kernel_cached(k, out) == 0) {
        r = 0;
        goto out;
    }
    if (unpack_source(cache, tarball, src, sizeof src, log_fd, o->progress,
                      err) < 0)
        goto out;
    /* One build tree per source: configurations share object files. */
    char stamp[PATH_MAX + 64], sfile[PATH_MAX];
    snprintf(build, sizeof build, "%s/build", cache);
    snprintf(sfile, sizeof sfile, "%s/build.stamp", cache);
    snprintf(stamp, sizeof stamp, "%s\n", src);
    if (!stamp_matches(sfile, stamp)) {
        char *const rm[] = {"rm", "-rf", build, NULL};
        if (kernel_run(rm, NULL, log_fd, err) < 0)
            goto out;
    }
    if (mkdir_p(build, err) < 0 || write_text(sfile, stamp, err) < 0)
        goto out;
    char obj[PATH_MAX + 8], jobs[32];
    snprintf(obj, sizeof obj, "O=%s", build);
    snprintf(jobs, sizeof jobs, "-j%u", o->jobs ? o->jobs : 2);
    progress(o->progress, "configuring (log: %s)", logp);
    char *const tiny[] = {"make", "-C", src, obj, "tinyconfig", NULL};
    if (kernel_run(tiny, NULL, log_fd, err) < 0)
        goto fail;
    char cfgp[PATH_MAX + 16];
    snprintf(cfgp, sizeof cfgp, "%s/.config", build);
    char *text = kconfig_text(k);
    FILE *cf = fopen(cfgp, "ae");
    int ok = text && cf && fputs(text, cf) >= 0;
    if (cf && fclose(cf) != 0)
        ok = 0;
    free(text);
    if (!ok) {
        lvm_err_set(err, errno, "append the fragment to %s", cfgp);
        goto out;
    }
    char *const olddef[] = {"make", "-C", src, obj, "olddefconfig", NULL};
    if (kernel_run(olddef, NULL, log_fd, err) < 0)
        goto fail;
    if (verify_config(build, k, err) < 0)
        goto out;
    progress(o->progress,
             "building with make %s (takes minutes the first "
             "time)",
             jobs);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *const make[] = {"make", "-C",      src,       obj,
                          jobs,   "vmlinux", "bzImage", NULL};
    /* Minutes: the user sees the files go by (progress.c). */
    if (progress_run(make, log_fd, o->progress, "tinyx kernel", err) < 0)
        goto fail;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (store(cache, build, tarball, k, key, secs, out, err) < 0)
        goto out;
    progress(o->progress, "built %s", out->path);
    r = 0;
    goto out;
fail:
    lvm_err_wrap(err, "kernel build (log: %s)", logp);
out:
    if (log_fd >= 0)
        close(log_fd);
    flock(lock, LOCK_UN);
    close(lock);
    return r;
}
