/*
 * dpkg.c: read the dpkg database (see dpkg.h). The status file is parsed
 * here rather than through libdpkg, whose API Debian marks unstable and
 * ships only as a static library; the format is deb822 stanzas
 * (deb-status(5)).
 */
#include "tinyx/dpkg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DPKG_MAX_PKGS 200000
#define DPKG_MAX_FIELD (1u << 20)

/* ---- status file ------------------------------------------------------ */

struct stanza {
    char *package, *status, *arch, *version, *source, *depends, *predepends,
        *provides, *essential, *isize, *priority;
};

static void stanza_free(struct stanza *s)
{
    free(s->package);
    free(s->status);
    free(s->arch);
    free(s->version);
    free(s->source);
    free(s->depends);
    free(s->predepends);
    free(s->provides);
    free(s->essential);
    free(s->isize);
    free(s->priority);
    memset(s, 0, sizeof *s);
}

/* The field's slot in (s), or NULL if we do not keep it. */
static char **field_slot(struct stanza *s, const char *name, size_t len)
{
    static const struct {
        const char *name;
        size_t off;
    } f[] = {
        {"Package", offsetof(struct stanza, package)},
        {"Status", offsetof(struct stanza, status)},
        {"Architecture", offsetof(struct stanza, arch)},
        {"Version", offsetof(struct stanza, version)},
        {"Source", offsetof(struct stanza, source)},
        {"Depends", offsetof(struct stanza, depends)},
        {"Pre-Depends", offsetof(struct stanza, predepends)},
        {"Provides", offsetof(struct stanza, provides)},
        {"Essential", offsetof(struct stanza, essential)},
        {"Installed-Size", offsetof(struct stanza, isize)},
        {"Priority", offsetof(struct stanza, priority)},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (strlen(f[i].name) == len && !strncasecmp(f[i].name, name, len))
            return (char **)((char *)s + f[i].off);
    return NULL;
}

/* Append a value (or a continuation line) to *slot. */
static int append(char **slot, const char *v, size_t len)
{
    size_t old = *slot ? strlen(*slot) : 0;
    if (old + len + 2 > DPKG_MAX_FIELD)
        return -1;
    char *n = realloc(*slot, old + len + 2);
    if (!n)
        return -1;
    if (old)
        n[old++] = ' ';
    memcpy(n + old, v, len);
    n[old + len] = 0;
    *slot = n;
    return 0;
}

static char *dup_word(const char *s)
{
    if (!s)
        return NULL;
    s += strspn(s, " \t");
    return strndup(s, strcspn(s, " \t("));
}

static int stanza_commit(struct dpkg_db *db, struct stanza *s)
{
    if (!s->package)
        return 0;
    if (db->n == DPKG_MAX_PKGS)
        return -1;
    struct dpkg_pkg *n = realloc(db->pkgs, (db->n + 1) * sizeof *n);
    if (!n)
        return -1;
    db->pkgs = n;
    struct dpkg_pkg *p = &db->pkgs[db->n];
    memset(p, 0, sizeof *p);
    p->name = dup_word(s->package);
    p->arch = s->arch ? dup_word(s->arch) : strdup("");
    p->version = strdup(s->version ? s->version : "");
    p->source =
        s->source ? dup_word(s->source) : strdup(p->name ? p->name : "");
    size_t dl = (s->depends ? strlen(s->depends) : 0) +
                (s->predepends ? strlen(s->predepends) : 0) + 3;
    p->depends = malloc(dl);
    if (p->depends)
        snprintf(p->depends, dl, "%s%s%s", s->depends ? s->depends : "",
                 s->depends && s->predepends ? ", " : "",
                 s->predepends ? s->predepends : "");
    p->provides = strdup(s->provides ? s->provides : "");
    if (!p->name || !p->arch || !p->version || !p->source || !p->depends ||
        !p->provides) {
        free(p->name);
        free(p->arch);
        free(p->version);
        free(p->source);
        free(p->depends);
        free(p->provides);
        return -1;
    }
    /* "install ok installed": the last word is the state */
    const char *st = s->status ? s->status : "";
    size_t sl = strlen(st);
    p->installed = sl >= 10 && !strcmp(st + sl - 10, " installed");
    p->essential = s->essential && !strncasecmp(s->essential, "yes", 3);
    p->required = s->priority && !strncasecmp(s->priority, "required", 8);
    p->installed_kib = s->isize ? strtoul(s->isize, NULL, 10) : 0;
    db->n++;
    return 0;
}

int dpkg_status_parse(struct dpkg_db *db, const char *buf, size_t len,
                      struct lvm_err *err)
{
    struct stanza s = {0};
    char **last = NULL; /* the field a continuation line extends */
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        lineno++;
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (ll == 0) {
            if (stanza_commit(db, &s) < 0)
                goto nomem;
            stanza_free(&s);
            last = NULL;
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            if (last && append(last, line + 1, ll - 1) < 0)
                goto nomem;
            continue;
        }
        const char *colon = memchr(line, ':', ll);
        if (!colon || colon == line) {
            stanza_free(&s);
            return lvm_err_invalid(err, "status line %zu: no field name",
                                   lineno);
        }
        last = field_slot(&s, line, (size_t)(colon - line));
        if (!last)
            continue;
        const char *v = colon + 1;
        size_t vl = ll - (size_t)(v - line);
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        free(*last);
        *last = NULL;
        if (append(last, v, vl) < 0)
            goto nomem;
    }
    if (stanza_commit(db, &s) < 0)
        goto nomem;
    stanza_free(&s);
    return 0;
nomem:
    stanza_free(&s);
    return lvm_err_set(err, ENOMEM, "status: too large");
}

static char *slurp(const char *path, size_t *len, struct lvm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lvm_err_set(err, errno, "open %s", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        lvm_err_set(err, errno, "stat %s", path);
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf) {
        lvm_err_set(err, ENOMEM, "read %s", path);
        return NULL;
    }
    buf[got] = 0;
    *len = got;
    return buf;
}

static void find_merged(struct dpkg_db *db)
{
    static const char *tops[] = {"bin",   "sbin",  "lib",
                                 "lib32", "lib64", "libx32"};
    for (size_t i = 0; i < sizeof tops / sizeof *tops; i++) {
        char path[32], want[32], link[64];
        snprintf(path, sizeof path, "/%s", tops[i]);
        snprintf(want, sizeof want, "usr/%s", tops[i]);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n <= 0)
            continue;
        link[n] = 0;
        if (!strcmp(link, want) || !strncmp(link, "/usr/", 5))
            snprintf(db->merged[db->nmerged++], sizeof db->merged[0], "%s",
                     tops[i]);
    }
}

static void native_arch(struct dpkg_db *db)
{
    snprintf(db->native_arch, sizeof db->native_arch, "amd64");
    char path[300];
    snprintf(path, sizeof path, "%s/arch-native", db->admindir);
    FILE *f = fopen(path, "re");
    if (f) {
        if (fgets(db->native_arch, sizeof db->native_arch, f))
            db->native_arch[strcspn(db->native_arch, "\n")] = 0;
        fclose(f);
    }
}

int dpkg_db_load(struct dpkg_db *db, const char *admindir, struct lvm_err *err)
{
    memset(db, 0, sizeof *db);
    snprintf(db->admindir, sizeof db->admindir, "%s",
             admindir ? admindir : DPKG_ADMINDIR);
    char path[300];
    snprintf(path, sizeof path, "%s/status", db->admindir);
    size_t len;
    char *buf = slurp(path, &len, err);
    if (!buf)
        return lvm_err_wrap(err, "read the dpkg database");
    int r = dpkg_status_parse(db, buf, len, err);
    free(buf);
    if (r < 0) {
        dpkg_db_free(db);
        return lvm_err_wrap(err, "%s", path);
    }
    find_merged(db);
    native_arch(db);
    return 0;
}

void dpkg_db_free(struct dpkg_db *db)
{
    for (size_t i = 0; i < db->n; i++) {
        struct dpkg_pkg *p = &db->pkgs[i];
        free(p->name);
        free(p->arch);
        free(p->version);
        free(p->source);
        free(p->depends);
        free(p->provides);
        for (size_t j = 0; j < p->nfiles; j++)
            free(p->files[j]);
        free(p->files);
    }
    free(db->pkgs);
    free(db->owners);
    memset(db, 0, sizeof *db);
}

/* ---- lookups and closure ---------------------------------------------- */

struct dpkg_pkg *dpkg_find(const struct dpkg_db *db, const char *name)
{
    char want[256];
    snprintf(want, sizeof want, "%s", name);
    char *arch = strchr(want, ':');
    if (arch)
        *arch++ = 0;
    if (arch && !strcmp(arch, "any"))
        arch = NULL;
    struct dpkg_pkg *best = NULL;
    for (size_t i = 0; i < db->n; i++) {
        struct dpkg_pkg *p = &db->pkgs[i];
        if (!p->installed || strcmp(p->name, want))
            continue;
        if (arch && strcmp(p->arch, arch))
            continue;
        if (!best || !strcmp(p->arch, db->native_arch) ||
            !strcmp(p->arch, "all"))
            best = p;
    }
    return best;
}

struct provides_ctx {
    const char *name;
    int found;
};

static int provides_cb(unsigned group, const char *name, void *ctx)
{
    struct provides_ctx *c = ctx;
    if (!strcmp(name, c->name))
        c->found = 1;
    return c->found;
}

struct dpkg_pkg *dpkg_satisfy(const struct dpkg_db *db, const char *name)
{
    struct dpkg_pkg *p = dpkg_find(db, name);
    if (p)
        return p;
    char want[256];
    snprintf(want, sizeof want, "%s", name);
    want[strcspn(want, ":")] = 0;
    for (size_t i = 0; i < db->n; i++) {
        struct provides_ctx c = {want, 0};
        if (db->pkgs[i].installed && db->pkgs[i].provides[0]) {
            dpkg_depends_each(db->pkgs[i].provides, provides_cb, &c);
            if (c.found)
                return &db->pkgs[i];
        }
    }
    return NULL;
}

int dpkg_depends_each(const char *field,
                      int (*fn)(unsigned group, const char *name, void *ctx),
                      void *ctx)
{
    unsigned group = 0;
    const char *p = field;
    while (*p) {
        /* one alternative: up to the next '|' or ',' */
        size_t n = strcspn(p, "|,");
        char alt[256];
        const char *s = p;
        size_t sl = n;
        while (sl && (*s == ' ' || *s == '\t' || *s == '\n'))
            s++, sl--;
        size_t name_len = strcspn(s, " \t\n(:[<|,");
        if (name_len > sl)
            name_len = sl;
        if (name_len && name_len < sizeof alt) {
            memcpy(alt, s, name_len);
            alt[name_len] = 0;
            int r = fn(group, alt, ctx);
            if (r)
                return r;
        }
        p += n;
        if (*p == ',')
            group++;
        if (*p)
            p++;
    }
    return 0;
}

struct closure_ctx {
    struct dpkg_db *db;
    unsigned group; /* the group being satisfied */
    int done;       /* it has been */
    size_t added;
};

static int closure_cb(unsigned group, const char *name, void *ctx)
{
    struct closure_ctx *c = ctx;
    if (group != c->group) {
        c->group = group;
        c->done = 0;
    }
    if (c->done)
        return 0;
    struct dpkg_pkg *p = dpkg_satisfy(c->db, name);
    if (!p)
        return 0; /* try the next alternative */
    c->done = 1;
    if (!p->mark) {
        p->mark = 1;
        c->added++;
    }
    return 0;
}

size_t dpkg_closure(struct dpkg_db *db)
{
    size_t added;
    do {
        added = 0;
        for (size_t i = 0; i < db->n; i++) {
            if (db->pkgs[i].mark != 1)
                continue;
            db->pkgs[i].mark = 2; /* expanded */
            struct closure_ctx c = {db, 0, 0, 0};
            dpkg_depends_each(db->pkgs[i].depends, closure_cb, &c);
            added += c.added;
        }
    } while (added);
    size_t n = 0;
    for (size_t i = 0; i < db->n; i++)
        if (db->pkgs[i].mark) {
            db->pkgs[i].mark = 1;
            n++;
        }
    return n;
}

void dpkg_unmark(struct dpkg_db *db)
{
    for (size_t i = 0; i < db->n; i++)
        db->pkgs[i].mark = 0;
}

/* ---- file lists and owners -------------------------------------------- */

void dpkg_canonical(const struct dpkg_db *db, const char *path, char *out,
                    size_t len)
{
    for (int i = 0; i < db->nmerged; i++) {
        size_t l = strlen(db->merged[i]);
        if (path[0] == '/' && !strncmp(path + 1, db->merged[i], l) &&
            (path[l + 1] == '/' || path[l + 1] == 0)) {
            snprintf(out, len, "/usr%s", path);
            return;
        }
    }
    snprintf(out, len, "%s", path);
}

int dpkg_load_files(struct dpkg_db *db, struct dpkg_pkg *pkg,
                    struct lvm_err *err)
{
    if (pkg->files_loaded)
        return 0;
    char path[600];
    snprintf(path, sizeof path, "%s/info/%s:%s.list", db->admindir, pkg->name,
             pkg->arch);
    if (access(path, F_OK) < 0)
        snprintf(path, sizeof path, "%s/info/%s.list", db->admindir, pkg->name);
    size_t len;
    char *buf = slurp(path, &len, err);
    if (!buf)
        return lvm_err_wrap(err, "file list of package %s", pkg->name);
    size_t cap = 0;
    int r = 0;
    for (char *save, *l = strtok_r(buf, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (l[0] != '/' || !strcmp(l, "/."))
            continue;
        if (pkg->nfiles == cap) {
            cap = cap ? cap * 2 : 64;
            char **n = realloc(pkg->files, cap * sizeof *n);
            if (!n) {
                r = -1;
                break;
            }
            pkg->files = n;
        }
        if (!(pkg->files[pkg->nfiles] = strdup(l))) {
            r = -1;
            break;
        }
        pkg->nfiles++;
    }
    free(buf);
    if (r < 0)
        return lvm_err_set(err, ENOMEM, "file list of %s", pkg->name);
    pkg->files_loaded = 1;
    return 0;
}

static int owner_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dpkg_owner *)a)->path,
                  ((const struct dpkg_owner *)b)->path);
}

int dpkg_index_owners(struct dpkg_db *db, struct lvm_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < db->n; i++) {
        if (!db->pkgs[i].installed)
            continue;
        if (dpkg_load_files(db, &db->pkgs[i], err) < 0)
            return -1;
        total += db->pkgs[i].nfiles;
    }
    db->owners = calloc(total ? total : 1, sizeof *db->owners);
    if (!db->owners)
        return lvm_err_set(err, ENOMEM, "file owner index");
    for (size_t i = 0; i < db->n; i++) {
        struct dpkg_pkg *p = &db->pkgs[i];
        for (size_t j = 0; p->installed && j < p->nfiles; j++) {
            char c[4096];
            dpkg_canonical(db, p->files[j], c, sizeof c);
            if (strcmp(c, p->files[j])) {
                /* keep the canonical spelling in the list itself */
                char *n = strdup(c);
                if (!n)
                    return lvm_err_set(err, ENOMEM, "file owner index");
                free(p->files[j]);
                p->files[j] = n;
            }
            db->owners[db->nowners++] = (struct dpkg_owner){p->files[j], p};
        }
    }
    qsort(db->owners, db->nowners, sizeof *db->owners, owner_cmp);
    return 0;
}

struct dpkg_pkg *dpkg_owner(const struct dpkg_db *db, const char *path)
{
    char c[4096];
    dpkg_canonical(db, path, c, sizeof c);
    struct dpkg_owner key = {c, NULL};
    struct dpkg_owner *o =
        bsearch(&key, db->owners, db->nowners, sizeof key, owner_cmp);
    /* Directories are shared by many packages: any owner will do. */
    return o ? o->pkg : NULL;
}
