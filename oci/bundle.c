/*
 * bundle.c: a unikernel bundle's parts (bundle.h).
 */
#include "oci/bundle.h"
#include "toolstack/fdpass.h"
#include "toolstack/guest_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_PATH                                                           \
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Open (path) inside the rootfs (rootfd) as if it were "/": symlinks and
 * ".." cannot leave it. */
int oci_open_in_root(int rootfd, const char *path)
{
    /* O_NONBLOCK: a FIFO an image put there must not hang the open; a
     * regular file is all that is taken, and reads of one never block. */
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
                           .resolve = RESOLVE_IN_ROOT};
    int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EACCES;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

/* process.args[0] in the rootfs: a path, relative to process.cwd, or a
 * name looked up in the process's PATH, as execvp would. */
int oci_find_program(int rootfd, const struct oci_config *c, char *shown,
                     size_t len)
{
    const char *arg = c->argv[0];
    if (strchr(arg, '/')) {
        if (arg[0] == '/')
            snprintf(shown, len, "%s", arg);
        else
            snprintf(shown, len, "%s/%s", c->cwd ? c->cwd : "", arg);
        return oci_open_in_root(rootfd, shown);
    }
    const char *path = DEFAULT_PATH;
    for (int i = 0; i < c->envc; i++)
        if (strncmp(c->env[i], "PATH=", 5) == 0)
            path = c->env[i] + 5;
    for (const char *p = path;; p++) {
        size_t n = strcspn(p, ":");
        snprintf(shown, len, "%.*s/%s", (int)n, n ? p : ".", arg);
        int fd = oci_open_in_root(rootfd, shown);
        if (fd >= 0)
            return fd;
        p += n;
        if (!*p)
            break;
    }
    snprintf(shown, len, "%s", arg);
    errno = ENOENT;
    return -1;
}

/* process.terminal: a pty whose master goes to the caller over
 * --console-socket (runc's plain SCM_RIGHTS, the pty's name as the
 * message), whose slave is the guest's console. */
int oci_console_pty(const char *socket_path, char *err, size_t errlen)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    char name[64];
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
        ptsname_r(master, name, sizeof name) != 0) {
        snprintf(err, errlen, "allocate a pty: %s", strerror(errno));
        if (master >= 0)
            close(master);
        return -1;
    }
    int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
    int r = -1;
    if (slave < 0)
        snprintf(err, errlen, "open %s: %s", name, strerror(errno));
    else if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof sa) < 0)
        snprintf(err, errlen, "console socket %s: %s", socket_path,
                 strerror(errno));
    else if (fdpass_send(sock, name, strlen(name), &master, 1, 0) < 0)
        snprintf(err, errlen, "send the pty over %s: %s", socket_path,
                 strerror(errno));
    else
        r = slave;
    if (sock >= 0)
        close(sock);
    close(master);
    if (r < 0 && slave >= 0)
        close(slave);
    return r;
}

/* Guest RAM for a memory limit: what the limit leaves after the
 * monitor's overhead, within the monitor's range. */
int oci_pick_ram(unsigned kind, uint64_t limit, int console_file, uint64_t *ram,
                 char *err, size_t errlen)
{
    struct guest_ram_range rr = guest_ram_range(kind, GUEST_KERNEL_TINY);
    *ram = 0; /* the default */
    if (!limit)
        return 0;
    struct guest_mem_need need = {
        .mon = kind, .ram = 0, .console_file = console_file};
    uint64_t overhead = guest_memory_limit(&need);
    uint64_t r =
        limit > overhead ? (limit - overhead) & ~((1ull << 20) - 1) : 0;
    if (r < rr.min) {
        snprintf(err, errlen,
                 "memory limit %llu bytes is below the guest's minimum "
                 "(%llu KiB of RAM plus %llu KiB)",
                 (unsigned long long)limit, (unsigned long long)(rr.min >> 10),
                 (unsigned long long)(overhead >> 10));
        return -1;
    }
    if (r < rr.def)
        *ram = r;
    return 0;
}
