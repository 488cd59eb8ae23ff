/*
 * fn_store.h: where deployed functions live: one file NAME.lua each in a
 * directory (/var/lib/lightvm/fn, $LIGHTVM_FN_DIR or --dir), written
 * whole and renamed into place so that an invocation never reads half a
 * deploy.
 */
#ifndef LVM_FAAS_FN_STORE_H
#define LVM_FAAS_FN_STORE_H
#include "toolstack/error.h"
#include <stddef.h>

#define FN_DIR_DEFAULT "/var/lib/lightvm/fn"
#define FN_NAME_MAX 63
#define FN_SOURCE_MAX (1024 * 1024) /* bytes of a function's source */

/* The store's directory: (opt) if given, else $LIGHTVM_FN_DIR, else the
 * default. */
const char *fn_store_dir(const char *opt);

/* 1 if (name, len) is a function name: [A-Za-z0-9][A-Za-z0-9_.-]*, at most
 * FN_NAME_MAX bytes, no "..". */
int fn_name_ok(const char *name, size_t len);

/* Copy (file) into the store as (name). */
int fn_deploy(const char *dir, const char *name, const char *file,
              struct lvm_err *err);

/* Remove (name); ENOENT if it is not deployed. */
int fn_remove(const char *dir, const char *name, struct lvm_err *err);

/* Read (name)'s source into a malloc'd buffer. Returns its length, or -1
 * with (err); errno ENOENT in (err) when it is not deployed. */
long fn_load(const char *dir, const char *name, char **src,
             struct lvm_err *err);

#endif
