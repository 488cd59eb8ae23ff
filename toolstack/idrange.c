/*
 * idrange.c: is the guests' host id range free? (see idrange.h)
 *
 * The files are parsed directly rather than through getpwent(): the CLI
 * is statically linked, where NSS is unavailable, and the ids that matter
 * are the local ones that files and processes on this host carry.
 */
#include "toolstack/idrange.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct idrange_files idrange_host_files = {"/etc/passwd", "/etc/group",
                                                 "/etc/subuid", "/etc/subgid"};

/* Field (n) (from 0) of a colon-separated line, as a number; -1 if absent
 * or not a number. */
static long long field_num(const char *line, int n)
{
    const char *p = line;
    for (int i = 0; i < n; i++) {
        p = strchr(p, ':');
        if (!p)
            return -1;
        p++;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || errno || (*end && *end != ':' && *end != '\n'))
        return -1;
    return v > 0xffffffffull ? -1 : (long long)v;
}

/* Scan (path): each line's id is field (id_field); if (count_field) >= 0,
 * a range of that many ids starts there. */
static int scan(const char *path, const char *what, int id_field,
                int count_field, uint64_t base, uint64_t count,
                struct lvm_err *err)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char line[1024];
    int r = 0;
    while (r == 0 && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || !strchr(line, ':'))
            continue;
        long long id = field_num(line, id_field);
        long long n = count_field >= 0 ? field_num(line, count_field) : 1;
        if (id < 0 || n <= 0)
            continue;
        if ((uint64_t)id < base + count && (uint64_t)id + (uint64_t)n > base) {
            char ids[48];
            if (n == 1)
                snprintf(ids, sizeof ids, "id %lld", id);
            else
                snprintf(ids, sizeof ids, "ids %lld-%lld", id, id + n - 1);
            line[strcspn(line, ":")] = 0;
            r = lvm_err_set(err, 0,
                            "%s: %s '%s' has %s, inside the guests' host ids "
                            "%llu-%llu; set LIGHTVM_UID_BASE to a free range",
                            path, what, line, ids, (unsigned long long)base,
                            (unsigned long long)(base + count - 1));
        }
    }
    fclose(f);
    return r;
}

int idrange_check(const struct idrange_files *f, uint64_t base, uint64_t count,
                  struct lvm_err *err)
{
    /* 2^32 - 1 is (uid_t)-1, "no id", in every interface. */
    if (base < 1 || base + count > 0xffffffffull)
        return lvm_err_set(err, 0,
                           "guests' host ids %llu-%llu are not valid ids: "
                           "set LIGHTVM_UID_BASE below %llu",
                           (unsigned long long)base,
                           (unsigned long long)(base + count - 1),
                           0xffffffffull - count);
    if (scan(f->passwd, "user", 2, -1, base, count, err) < 0 ||
        scan(f->group, "group", 2, -1, base, count, err) < 0 ||
        scan(f->subuid, "user", 1, 2, base, count, err) < 0 ||
        scan(f->subgid, "user", 1, 2, base, count, err) < 0)
        return -1;
    return 0;
}
