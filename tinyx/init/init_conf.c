/*
 * init_conf.c: read the init's configuration. The image carries
 * /etc/tinyx/init.conf, one "key value" per line (see docs/tinyx.md); the
 * monitor adds per-run settings (network, control channel) as tinyx.* words
 * on the kernel command line.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

static char *read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (len + 1 >= cap) {
            char *n = realloc(buf, cap *= 2);
            if (!n) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = n;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (buf)
        buf[len] = 0;
    return buf;
}

static int add(char **v, int *n, int max, char *s)
{
    if (*n >= max)
        return -1;
    v[(*n)++] = s;
    v[*n] = NULL;
    return 0;
}

static int parse_groups(struct init_conf *c, char *s)
{
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (c->ngroups >= INIT_MAX_GROUPS)
            return -1;
        c->groups[c->ngroups++] = (gid_t)strtoul(tok, NULL, 10);
    }
    return 0;
}

static int parse_dir(struct init_conf *c, char *s)
{
    if (c->ndirs >= INIT_MAX_DIRS)
        return -1;
    struct init_dir *d = &c->dirs[c->ndirs];
    char *mode = strchr(s, ' ');
    if (!mode)
        return -1;
    *mode++ = 0;
    unsigned long m, u, g;
    if (sscanf(mode, "%lo %lu %lu", &m, &u, &g) != 3)
        return -1;
    d->path = s;
    d->mode = (mode_t)m;
    d->uid = (uid_t)u;
    d->gid = (gid_t)g;
    c->ndirs++;
    return 0;
}

/* Split (s) in place at spaces into at most (max) words; the count. */
static int words(char *s, char **w, int max)
{
    int n = 0;
    for (char *p = s; *p && n < max;) {
        while (*p == ' ')
            *p++ = 0;
        if (!*p)
            break;
        w[n++] = p;
        p += strcspn(p, " ");
    }
    return n;
}

/* "mount SOURCE TARGET FSTYPE [OPTIONS]": absolute target, one line per
 * mount, in order; after a "root" line, inside the new root. */
static int parse_mount(struct init_conf *c, char *s)
{
    if (c->nmounts >= INIT_MAX_MOUNTS)
        return -1;
    char *w[5];
    int n = words(s, w, 5);
    /* a fifth word: options hold no spaces */
    if (n < 3 || n > 4 || w[1][0] != '/')
        return -1;
    c->mounts[c->nmounts++] = (struct init_mount){
        .source = w[0],
        .target = w[1],
        .fstype = w[2],
        .options = n == 4 ? w[3] : "",
        .in_root = c->root != NULL,
    };
    return 0;
}

static int parse_copy(struct init_conf *c, char *s)
{
    char *w[3];
    if (c->ncopies >= INIT_MAX_COPIES || words(s, w, 3) != 2 ||
        w[0][0] != '/' || w[1][0] != '/')
        return -1;
    c->copies[c->ncopies++] = (struct init_copy){w[0], w[1]};
    return 0;
}

static int parse_limit(const char *s, unsigned long long *v)
{
    if (!strcmp(s, "unlimited") || !strcmp(s, "-1")) {
        *v = ~0ull;
        return 0;
    }
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno || end == s || *end || *s == '-' ? -1 : 0;
}

/* "rlimit NAME SOFT HARD", NAME as in prlimit(1) ("nofile"), or as the
 * runtime-spec writes it ("RLIMIT_NOFILE"). */
static int parse_rlimit(struct init_conf *c, char *s)
{
    static const struct {
        const char *name;
        int res;
    } names[] = {
        {"as", RLIMIT_AS},
        {"core", RLIMIT_CORE},
        {"cpu", RLIMIT_CPU},
        {"data", RLIMIT_DATA},
        {"fsize", RLIMIT_FSIZE},
        {"locks", RLIMIT_LOCKS},
        {"memlock", RLIMIT_MEMLOCK},
        {"msgqueue", RLIMIT_MSGQUEUE},
        {"nice", RLIMIT_NICE},
        {"nofile", RLIMIT_NOFILE},
        {"nproc", RLIMIT_NPROC},
        {"rss", RLIMIT_RSS},
        {"rtprio", RLIMIT_RTPRIO},
        {"rttime", RLIMIT_RTTIME},
        {"sigpending", RLIMIT_SIGPENDING},
        {"stack", RLIMIT_STACK},
    };
    char *w[4];
    if (c->nrlimits >= INIT_MAX_RLIMITS || words(s, w, 4) != 3)
        return -1;
    const char *name = w[0];
    if (!strncasecmp(name, "RLIMIT_", 7))
        name += 7;
    struct init_rlimit *r = &c->rlimits[c->nrlimits];
    r->resource = -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(name, names[i].name))
            r->resource = names[i].res;
    if (r->resource < 0 || parse_limit(w[1], &r->soft) < 0 ||
        parse_limit(w[2], &r->hard) < 0 || r->soft > r->hard)
        return -1;
    c->nrlimits++;
    return 0;
}

/* One "key value" line; 0, or -1 if it is malformed or over a limit. */
static int parse_line(struct init_conf *c, char *line)
{
    char *val = strchr(line, ' ');
    if (!val)
        return -1;
    *val++ = 0;
    if (!strcmp(line, "arg"))
        return add(c->argv, &c->argc, INIT_MAX_ARGS, val);
    if (!strcmp(line, "env"))
        return add(c->env, &c->envc, INIT_MAX_ENV, val);
    if (!strcmp(line, "module")) {
        if (c->nmodules >= INIT_MAX_MODULES)
            return -1;
        c->modules[c->nmodules++] = val;
        return 0;
    }
    if (!strcmp(line, "mount"))
        return parse_mount(c, val);
    if (!strcmp(line, "copy"))
        return parse_copy(c, val);
    if (!strcmp(line, "rlimit"))
        return parse_rlimit(c, val);
    if (!strcmp(line, "root")) {
        if (c->root || val[0] != '/' || strchr(val, ' '))
            return -1;
        c->root = val;
        return 0;
    }
    if (!strcmp(line, "health-arg"))
        return add(c->health_argv, &c->health_argc, INIT_MAX_ARGS, val);
    if (!strcmp(line, "health-tcp")) {
        c->health_port = atoi(val);
        return c->health_port > 0 && c->health_port < 65536 ? 0 : -1;
    }
    if (!strcmp(line, "uid"))
        c->uid = (uid_t)strtoul(val, NULL, 10);
    else if (!strcmp(line, "gid"))
        c->gid = (gid_t)strtoul(val, NULL, 10);
    else if (!strcmp(line, "groups"))
        return parse_groups(c, val);
    else if (!strcmp(line, "dir"))
        return parse_dir(c, val);
    else if (!strcmp(line, "user"))
        c->user = val;
    else if (!strcmp(line, "home"))
        c->home = val;
    else if (!strcmp(line, "cwd"))
        c->cwd = val;
    else if (!strcmp(line, "hostname"))
        c->hostname = val;
    /* Unknown keys are ignored: a newer builder may add some. */
    return 0;
}

static void copy_word(char *dst, size_t len, const char *src)
{
    size_t n = strcspn(src, " \t\n");
    if (n >= len)
        n = len - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

void init_conf_cmdline(struct init_conf *c, const char *cmdline)
{
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"tinyx.ip=", offsetof(struct init_conf, ip)},
        {"tinyx.gw=", offsetof(struct init_conf, gw)},
        {"tinyx.dns=", offsetof(struct init_conf, dns)},
        {"tinyx.ctl=", offsetof(struct init_conf, ctl)},
        {"tinyx.mac=", offsetof(struct init_conf, mac)},
    };
    for (const char *p = cmdline; *p;) {
        p += strspn(p, " \t\n");
        if (!*p)
            break;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t kl = strlen(keys[i].key);
            if (!strncmp(p, keys[i].key, kl))
                copy_word((char *)c + keys[i].off, 32, p + kl);
        }
        if (!strncmp(p, "tinyx.nic=", 10) && c->nnics < INIT_MAX_NICS)
            copy_word(c->nics[c->nnics++], sizeof c->nics[0], p + 10);
        if (!strncmp(p, "quiet", 5) && (p[5] == 0 || p[5] == ' '))
            c->quiet = 1;
        if (!strncmp(p, "tinyx.cfg=1", 11) &&
            (p[11] == 0 || p[11] == ' ' || p[11] == '\n'))
            c->runtime = 1;
        if (!strncmp(p, "tinyx.exec=1", 12) &&
            (p[12] == 0 || p[12] == ' ' || p[12] == '\n'))
            c->exec = 1;
        p += strcspn(p, " \t\n");
    }
}

int init_conf_parse(struct init_conf *c, char *text, char *why, size_t len)
{
    int lineno = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        if (!*line || *line == '#')
            continue;
        if (parse_line(c, line) < 0) {
            snprintf(why, len, "%d: bad line", lineno);
            return -1;
        }
    }
    return 0;
}

int init_conf_load(struct init_conf *c)
{
    memset(c, 0, sizeof *c);
    char *text = read_file(INIT_CONF);
    if (!text) {
        init_log("cannot read %s: %s", INIT_CONF, strerror(errno));
        return -1;
    }
    char why[64];
    if (init_conf_parse(c, text, why, sizeof why) < 0) {
        init_log("%s:%s", INIT_CONF, why);
        return -1;
    }
    if (c->argc == 0) {
        init_log("%s: no command (arg lines)", INIT_CONF);
        return -1;
    }
    char *cmdline = read_file("/proc/cmdline");
    if (cmdline)
        init_conf_cmdline(c, cmdline);
    return 0;
}

/* An "env NAME=VALUE" from the host: replaces the image's NAME. */
static int runtime_env(struct init_conf *c, char *val)
{
    size_t klen = strcspn(val, "=");
    if (!val[klen] || klen == 0)
        return -1;
    for (int i = 0; i < c->envc; i++)
        if (!strncmp(c->env[i], val, klen + 1)) {
            c->env[i] = val;
            return 0;
        }
    return add(c->env, &c->envc, INIT_MAX_ENV, val);
}

static int runtime_line(struct init_conf *c, char *line)
{
    char *val = strchr(line, ' ');
    if (!val)
        return -1;
    if (!strncmp(line, "arg ", 4)) {
        if (!c->runtime_args) {
            c->runtime_args = 1;
            c->argc = 0;
            c->argv[0] = NULL;
        }
        return add(c->argv, &c->argc, INIT_MAX_ARGS, val + 1);
    }
    if (!strncmp(line, "env ", 4))
        return runtime_env(c, val + 1);
    return parse_line(c, line);
}

int init_conf_runtime(struct init_conf *c, int fd, int timeout_ms, char *rest,
                      size_t *restlen, size_t restcap)
{
    /* Lines are kept: the configuration points into them. */
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    int lineno = 0;
    size_t start = 0;
    for (;;) {
        char *nl = memchr(buf + start, '\n', len - start);
        if (nl) {
            *nl = 0;
            char *line = buf + start;
            start = (size_t)(nl + 1 - buf);
            lineno++;
            if (!strcmp(line, "end")) {
                /* What the host sent after: the control loop's. */
                size_t n = len - start < restcap ? len - start : restcap;
                memcpy(rest, buf + start, n);
                *restlen = n;
                return 0; /* (buf) stays: c points into it */
            }
            if (!*line || *line == '#')
                continue;
            if (runtime_line(c, line) < 0) {
                for (char *q = line; *q; q++)
                    if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
                        *q = '?';
                init_log("host settings, line %d: bad line '%.60s'", lineno,
                         line);
                return -1;
            }
            continue;
        }
        if (len == cap) {
            init_log("host settings: more than %zu bytes", cap);
            return -1;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            init_log("host settings: none came within %d ms", timeout_ms);
            return -1;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            init_log("host settings: control channel closed");
            return -1;
        }
        len += (size_t)n;
    }
}
