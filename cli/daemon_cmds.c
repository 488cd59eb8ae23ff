/*
 * daemon_cmds.c: helpers for the commands that talk to lightvmd.
 */
#include "cli/daemon_cmds.h"
#include "cli/cli.h"

#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lightvm *cli_connect(void)
{
    struct lightvm_error e;
    struct lightvm *c = lightvm_connect(NULL, &e);
    if (!c && !strcmp(e.code, "denied"))
        cli_msg("%s (only root and members of lightvmd's API group, its "
                "--group, may use it)",
                e.message);
    else if (!c)
        cli_msg("%s (is lightvmd running? start it with 'lightvmd &')",
                e.message);
    return c;
}

const char *cli_owner_name(long uid, char *buf, size_t len)
{
    if (uid < 0)
        return "-";
    const struct passwd *pw = getpwuid((uid_t)uid);
    if (pw)
        snprintf(buf, len, "%s", pw->pw_name);
    else
        snprintf(buf, len, "%ld", uid);
    return buf;
}

const char *cli_guest_ref(const char *arg, char *buf, size_t len)
{
    const char *slash = strchr(arg, '/');
    if (!slash || slash == arg || (size_t)(slash - arg) >= 64)
        return arg;
    char user[64];
    snprintf(user, sizeof user, "%.*s", (int)(slash - arg), arg);
    if (strspn(user, "0123456789") == strlen(user))
        return arg; /* a uid already */
    const struct passwd *pw = getpwnam(user);
    if (!pw)
        return arg; /* the daemon says there is no such guest */
    snprintf(buf, len, "%u/%s", (unsigned)pw->pw_uid, slash + 1);
    return buf;
}

const char *cli_bytes(uint64_t v, char *buf, size_t len)
{
    if (v >= 1ull << 30)
        snprintf(buf, len, "%.1f GiB", v / (double)(1ull << 30));
    else if (v >= 1ull << 20)
        snprintf(buf, len, "%.1f MiB", v / (double)(1ull << 20));
    else
        snprintf(buf, len, "%.0f KiB", v / 1024.0);
    return buf;
}
