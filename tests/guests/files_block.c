/*
 * files_block.c: a guest whose file tree comes from a tar on its "files"
 * block device (docs/sdk.md, "A tree on a block device"). cat PATH...
 * prints files; write PATH TEXT writes one (into guest RAM) and reads it
 * back; ls DIR lists a directory.
 */
#include <lightvm/guest.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

LVM_MANIFEST(LVM_FILES_BLOCK);

static int cat(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stdout);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "cat")) {
        int rc = 0;
        for (int i = 2; i < argc; i++)
            rc |= cat(argv[i]);
        return rc;
    }
    if (argc == 4 && !strcmp(argv[1], "write")) {
        FILE *f = fopen(argv[2], "w");
        if (!f || fputs(argv[3], f) < 0 || fclose(f) != 0) {
            perror(argv[2]);
            return 1;
        }
        return cat(argv[2]);
    }
    if (argc == 3 && !strcmp(argv[1], "ls")) {
        DIR *d = opendir(argv[2]);
        if (!d) {
            perror(argv[2]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                printf("%s\n", e->d_name);
        closedir(d);
        return 0;
    }
    fprintf(stderr,
            "usage: files_block cat PATH... | write PATH TEXT | ls DIR\n");
    return 2;
}
