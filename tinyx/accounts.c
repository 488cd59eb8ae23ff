/*
 * accounts.c: host users and groups from the files (see accounts.h).
 */
#include "tinyx/accounts.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

int accounts_user(const char *name, struct tinyx_user *u)
{
    FILE *f = fopen("/etc/passwd", "re");
    if (!f)
        return -1;
    struct passwd *pw;
    int found = -1;
    memset(u, 0, sizeof *u);
    while ((pw = fgetpwent(f)))
        if (!strcmp(pw->pw_name, name)) {
            snprintf(u->name, sizeof u->name, "%s", pw->pw_name);
            snprintf(u->home, sizeof u->home, "%s", pw->pw_dir);
            u->uid = pw->pw_uid;
            u->gid = pw->pw_gid;
            found = 0;
            break;
        }
    fclose(f);
    if (found < 0)
        return -1;
    u->groups[u->ngroups++] = u->gid;
    f = fopen("/etc/group", "re");
    if (!f)
        return 0;
    struct group *gr;
    while ((gr = fgetgrent(f)) && u->ngroups < ACCOUNTS_MAX_GROUPS) {
        if (gr->gr_gid == u->gid)
            continue;
        for (char **m = gr->gr_mem; *m; m++)
            if (!strcmp(*m, name)) {
                u->groups[u->ngroups++] = gr->gr_gid;
                break;
            }
    }
    fclose(f);
    return 0;
}

int accounts_group(const char *name, gid_t *gid)
{
    FILE *f = fopen("/etc/group", "re");
    if (!f)
        return -1;
    struct group *gr;
    int found = -1;
    while ((gr = fgetgrent(f)))
        if (!strcmp(gr->gr_name, name)) {
            *gid = gr->gr_gid;
            found = 0;
            break;
        }
    fclose(f);
    return found;
}
