/*
 * profile.c: the application profiles (see profile.h). Everything here
 * can be given on the command line instead; a profile only makes
 * `lightvm tinyx build redis-server` work with nothing else.
 */
#include "tinyx/profile.h"

#include <string.h>

static const struct tinyx_profile profiles[] = {
    {
        .name = "redis-server",
        .program = "/usr/bin/redis-server",
        /* Debian's redis.conf binds 127.0.0.1 and logs to a file; a VM's
         * redis must answer on its network interface and log to the
         * console. No pid file: nothing reads it. */
        .cmd = "/usr/bin/redis-server /etc/redis/redis.conf --daemonize no "
               "--supervised no --bind 0.0.0.0 --protected-mode no "
               "--logfile '' --pidfile ''",
        .port = 6379,
        .dirs = {{"/var/lib/redis", 0750, "redis", "redis"}},
        .mem = "128M",
    },
    {
        .name = "nginx",
        .program = "/usr/sbin/nginx",
        .cmd = "/usr/sbin/nginx -g 'daemon off;'",
        /* the master binds port 80 as root and runs its workers as
         * www-data (nginx.conf's "user") */
        .user = "root",
        .port = 80,
        /* the default site also listens on [::]:80 */
        .kconfig = "CONFIG_IPV6=y\n",
        /* the default page, copied there by nginx-common's postinst */
        .paths = {"/var/www/html"},
        .dirs = {{"/var/log/nginx", 0755, "root", "adm"},
                 {"/var/lib/nginx", 0755, "root", "root"}},
        .mem = "128M",
    },
};

const struct tinyx_profile *tinyx_profile_find(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
        if (!strcmp(profiles[i].name, base) ||
            !strcmp(profiles[i].program, name))
            return &profiles[i];
    return NULL;
}
