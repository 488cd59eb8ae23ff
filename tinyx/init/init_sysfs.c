/*
 * init_sysfs.c: finding a device by what sysfs says of it (init.h).
 */
#include "init.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int init_sysfs_find(const char *cls, const char *attr, const char *want,
                    int nocase, char *entry, size_t len)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/sys/class/%s", cls);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int found = -1;
    while (found < 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[384], have[64] = "";
        snprintf(path, sizeof path, "%s/%s/%s", dir, e->d_name, attr);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, have, sizeof have - 1);
        close(fd);
        if (n <= 0)
            continue;
        have[strcspn(have, "\n")] = 0;
        if (nocase ? !strcasecmp(have, want) : !strcmp(have, want)) {
            snprintf(entry, len, "%s", e->d_name);
            found = 0;
        }
    }
    closedir(d);
    return found;
}
