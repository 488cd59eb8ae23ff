/*
 * dpkg.h: the parts of the dpkg database Tinyx needs: installed packages
 * (/var/lib/dpkg/status), the files each one owns (info/PKG.list), who
 * owns a path, and the Depends + Pre-Depends closure of a set of packages.
 */
#ifndef TINYX_DPKG_H
#define TINYX_DPKG_H

#include "toolstack/error.h"

#include <stddef.h>

#define DPKG_ADMINDIR "/var/lib/dpkg"

struct dpkg_pkg {
    char *name;
    char *arch;
    char *version;
    char *source;  /* Source: without version, or the package's name */
    char *depends; /* Depends and Pre-Depends, joined with ", " */
    char *provides;
    int installed; /* Status: ... installed */
    int essential;
    int required; /* Priority: required (a debootstrap minbase) */
    unsigned long installed_kib;
    char **files; /* from its .list, loaded by dpkg_load_files */
    size_t nfiles;
    int files_loaded;
    int mark; /* scratch for closures */
};

struct dpkg_owner {
    const char *path; /* canonical (merged-/usr) path */
    struct dpkg_pkg *pkg;
};

struct dpkg_db {
    struct dpkg_pkg *pkgs;
    size_t n;
    char admindir[256];
    char native_arch[32];
    struct dpkg_owner *owners; /* sorted by path, after dpkg_index_owners */
    size_t nowners;
    char merged[8][16]; /* top-level dirs that are symlinks into /usr */
    int nmerged;
};

/* Parse a status file held in (buf, len) into (db), which must be zeroed
 * (or freshly freed). Safe on hostile input (fuzzed). */
int dpkg_status_parse(struct dpkg_db *db, const char *buf, size_t len,
                      struct lvm_err *err);

/* Load (admindir)/status; NULL for /var/lib/dpkg. */
int dpkg_db_load(struct dpkg_db *db, const char *admindir, struct lvm_err *err);
void dpkg_db_free(struct dpkg_db *db);

/* The installed package called (name) ("pkg" or "pkg:arch"), preferring
 * the native architecture; NULL if none. */
struct dpkg_pkg *dpkg_find(const struct dpkg_db *db, const char *name);

/* Like dpkg_find, but also any installed package that Provides (name). */
struct dpkg_pkg *dpkg_satisfy(const struct dpkg_db *db, const char *name);

/* Call (fn) for every alternative of a Depends-style field: (group) counts
 * the comma-separated groups, (name) is the package name without version,
 * architecture qualifier or restrictions. Stops when fn returns non-zero
 * and returns that. Safe on hostile input (fuzzed). */
int dpkg_depends_each(const char *field,
                      int (*fn)(unsigned group, const char *name, void *ctx),
                      void *ctx);

/* Mark (pkg->mark = 1) the installed Depends + Pre-Depends closure of the
 * already-marked packages; the first installed alternative of each group
 * is taken. Returns how many are marked. */
size_t dpkg_closure(struct dpkg_db *db);

/* Clear every mark. */
void dpkg_unmark(struct dpkg_db *db);

/* Read (pkg)'s file list. */
int dpkg_load_files(struct dpkg_db *db, struct dpkg_pkg *pkg,
                    struct lvm_err *err);

/* Load every installed package's file list and index owners by path. */
int dpkg_index_owners(struct dpkg_db *db, struct lvm_err *err);

/* The package owning (path) (any spelling through merged /usr), or NULL. */
struct dpkg_pkg *dpkg_owner(const struct dpkg_db *db, const char *path);

/* (path) with a merged top-level directory spelt under /usr: "/lib/x" is
 * "/usr/lib/x" when /lib -> usr/lib. */
void dpkg_canonical(const struct dpkg_db *db, const char *path, char *out,
                    size_t len);

#endif
