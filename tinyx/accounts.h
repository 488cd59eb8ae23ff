/*
 * accounts.h: users and groups of the host, read from /etc/passwd and
 * /etc/group themselves. Not through NSS: the image gets the host's
 * files, and a statically linked lightvm must not load the host's NSS
 * modules (libnss_systemd crashes in a static binary).
 */
#ifndef TINYX_ACCOUNTS_H
#define TINYX_ACCOUNTS_H

#include <sys/types.h>

#define ACCOUNTS_MAX_GROUPS 32

struct tinyx_user {
    char name[64];
    uid_t uid;
    gid_t gid;
    char home[256];
    gid_t groups[ACCOUNTS_MAX_GROUPS]; /* primary first, then supplementary */
    int ngroups;
};

/* The user called (name) with its groups; 0, or -1 if there is none. */
int accounts_user(const char *name, struct tinyx_user *u);

/* The gid of group (name); 0, or -1 if there is none. */
int accounts_group(const char *name, gid_t *gid);

#endif
