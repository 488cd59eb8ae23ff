/*
 * tarcheck.c: lightvm-tarcheck, the host side of the guest's file tree.
 * lightvm-cc runs it on the archive it is about to put in an image, with
 * the same reader the guest uses (fs_tar.c), so a tree the guest would
 * refuse fails the build with one line instead.
 *
 *   lightvm-tarcheck [--list] ARCHIVE
 */
#include "fs_tar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int list_member(void *ctx, const struct lvm_tar_entry *e)
{
    (void)ctx;
    printf("%s %04o %10llu /%s\n", e->type == LVM_TAR_DIR ? "d" : "f", e->mode,
           (unsigned long long)e->size, e->path);
    return 0;
}

int main(int argc, char **argv)
{
    int list = argc == 3 && !strcmp(argv[1], "--list");
    if (argc != 2 + list) {
        fprintf(stderr, "usage: lightvm-tarcheck [--list] ARCHIVE\n");
        return 2;
    }
    const char *path = argv[1 + list];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "lightvm-tarcheck: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "lightvm-tarcheck: %s: not a regular file\n", path);
        return 1;
    }
    const void *buf = "";
    if (st.st_size > 0) {
        buf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (buf == MAP_FAILED) {
            fprintf(stderr, "lightvm-tarcheck: %s: %s\n", path,
                    strerror(errno));
            return 1;
        }
    }
    close(fd);
    const char *why;
    long n = lvm_tar_walk(buf, (size_t)st.st_size, list ? list_member : NULL,
                          NULL, &why);
    if (n < 0) {
        fprintf(stderr, "lightvm-tarcheck: %s: %s\n", path, why);
        return 1;
    }
    return 0;
}
