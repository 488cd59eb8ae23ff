/*
 * blacklist.c: the rules (see blacklist.h). A rule is a directory prefix
 * or a file-name suffix; paths are in merged-/usr spelling.
 */
#include "tinyx/blacklist.h"

#include <string.h>

enum {
    CAT_DOCS,
    CAT_MAN,
    CAT_LOCALE,
    CAT_HEADERS,
    CAT_STATIC,
    CAT_SERVICE,
    CAT_PKGSTATE,
    CAT_DESKTOP,
    CAT_MAINT,
    NCAT
};

static const struct blacklist_cat cats[NCAT] = {
    [CAT_DOCS] = {"docs", "documentation, changelogs, copyright files"},
    [CAT_MAN] = {"man", "manual pages"},
    [CAT_LOCALE] = {"locales", "translations and locale data"},
    [CAT_HEADERS] = {"headers", "C headers and build metadata (pkg-config, "
                                "cmake)"},
    [CAT_STATIC] = {"static-libs", "static and libtool libraries"},
    [CAT_SERVICE] = {"service-manager", "systemd units, init scripts and "
                                        "their defaults: the Tinyx init "
                                        "runs the app"},
    [CAT_PKGSTATE] = {"package-manager", "dpkg, apt and debconf state and "
                                         "maintainer metadata"},
    [CAT_DESKTOP] = {"desktop", "shell completions, menus, icons"},
    [CAT_MAINT] = {"host-maintenance", "logrotate, cron and firewall "
                                       "profiles for a host's admin"},
};

static const struct {
    const char *prefix;
    int cat;
} prefixes[] = {
    {"/usr/share/doc/", CAT_DOCS},
    {"/usr/share/doc-base/", CAT_DOCS},
    {"/usr/share/info/", CAT_DOCS},
    {"/usr/share/gtk-doc/", CAT_DOCS},
    {"/usr/share/man/", CAT_MAN},
    {"/usr/share/locale/", CAT_LOCALE},
    {"/usr/lib/locale/", CAT_LOCALE},
    {"/usr/share/i18n/", CAT_LOCALE},
    {"/usr/include/", CAT_HEADERS},
    {"/usr/lib/x86_64-linux-gnu/pkgconfig/", CAT_HEADERS},
    {"/usr/lib/pkgconfig/", CAT_HEADERS},
    {"/usr/share/pkgconfig/", CAT_HEADERS},
    {"/usr/lib/x86_64-linux-gnu/cmake/", CAT_HEADERS},
    {"/usr/lib/systemd/", CAT_SERVICE},
    {"/etc/systemd/", CAT_SERVICE},
    {"/etc/init.d/", CAT_SERVICE},
    {"/etc/init/", CAT_SERVICE},
    {"/etc/rc0.d/", CAT_SERVICE},
    {"/etc/rc1.d/", CAT_SERVICE},
    {"/etc/rc2.d/", CAT_SERVICE},
    {"/etc/rc3.d/", CAT_SERVICE},
    {"/etc/rc4.d/", CAT_SERVICE},
    {"/etc/rc5.d/", CAT_SERVICE},
    {"/etc/rc6.d/", CAT_SERVICE},
    {"/etc/rcS.d/", CAT_SERVICE},
    {"/etc/default/", CAT_SERVICE},
    {"/usr/lib/tmpfiles.d/", CAT_SERVICE},
    {"/usr/lib/sysusers.d/", CAT_SERVICE},
    {"/var/lib/dpkg/", CAT_PKGSTATE},
    {"/var/lib/apt/", CAT_PKGSTATE},
    {"/var/cache/apt/", CAT_PKGSTATE},
    {"/var/cache/debconf/", CAT_PKGSTATE},
    {"/usr/share/lintian/", CAT_PKGSTATE},
    {"/usr/share/bug/", CAT_PKGSTATE},
    {"/usr/share/debconf/", CAT_PKGSTATE},
    {"/etc/apt/", CAT_PKGSTATE},
    {"/usr/share/bash-completion/", CAT_DESKTOP},
    {"/usr/share/zsh/", CAT_DESKTOP},
    {"/usr/share/fish/", CAT_DESKTOP},
    {"/usr/share/menu/", CAT_DESKTOP},
    {"/usr/share/applications/", CAT_DESKTOP},
    {"/usr/share/pixmaps/", CAT_DESKTOP},
    {"/usr/share/icons/", CAT_DESKTOP},
    {"/etc/logrotate.d/", CAT_MAINT},
    {"/etc/cron.d/", CAT_MAINT},
    {"/etc/cron.daily/", CAT_MAINT},
    {"/etc/cron.hourly/", CAT_MAINT},
    {"/etc/cron.weekly/", CAT_MAINT},
    {"/etc/cron.monthly/", CAT_MAINT},
    {"/etc/ufw/", CAT_MAINT},
};

static const struct {
    const char *suffix;
    int cat;
} suffixes[] = {
    {".a", CAT_STATIC},
    {".la", CAT_STATIC},
};

const struct blacklist_cat *blacklist_categories(size_t *n)
{
    *n = NCAT;
    return cats;
}

int blacklist_match(const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t pl = strlen(prefixes[i].prefix);
        /* the prefix itself, as a directory, or anything under it */
        if (!strncmp(path, prefixes[i].prefix, pl) ||
            (len == pl - 1 && !strncmp(path, prefixes[i].prefix, len)))
            return prefixes[i].cat;
    }
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i].suffix);
        if (len > sl && !strcmp(path + len - sl, suffixes[i].suffix) &&
            path[len - sl - 1] != '/')
            return suffixes[i].cat;
    }
    return -1;
}
