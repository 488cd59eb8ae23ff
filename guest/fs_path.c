/*
 * fs_path.c: path resolution in the guest's file tree, the way Linux
 * resolves them (".", "..", repeated and trailing slashes, ENOTDIR for a
 * file used as a directory, ENAMETOOLONG), with no symbolic links.
 */
#include "fs.h"

#include <errno.h>
#include <limits.h>

uint32_t fs_cwd = FS_ROOT;

/* Bounded strlen of a path from the program: -ENAMETOOLONG past
 * PATH_MAX, -ENOENT for "". */
static long path_len(const char *p)
{
    long n = 0;
    while (p[n]) {
        if (++n >= PATH_MAX)
            return -ENAMETOOLONG;
    }
    return n ? n : -ENOENT;
}

/* Walk (len) bytes of (p) from (dir); the node reached or -errno. */
static long walk(uint32_t dir, const char *p, size_t len)
{
    uint32_t cur = (len && p[0] == '/') ? FS_ROOT : dir;
    size_t i = 0;
    while (i < len) {
        while (i < len && p[i] == '/')
            i++;
        if (i == len)
            break;
        size_t s = i;
        while (i < len && p[i] != '/')
            i++;
        size_t c = i - s;
        if (c > NAME_MAX)
            return -ENAMETOOLONG;
        const struct fs_node *n = fs_node(cur);
        if (!n || !(n->flags & FS_DIR))
            return -ENOTDIR;
        if (c == 1 && p[s] == '.')
            continue;
        if (c == 2 && p[s] == '.' && p[s + 1] == '.') {
            if (n->parent != FS_NONE)
                cur = n->parent;
            continue;
        }
        uint32_t next = fs_child(cur, p + s, c);
        if (next == FS_NONE)
            return -ENOENT;
        cur = next;
    }
    return cur;
}

long fs_lookup(uint32_t dir, const char *path)
{
    long len = path_len(path);
    if (len < 0)
        return len;
    long r = walk(dir, path, (size_t)len);
    if (r >= 0 && path[len - 1] == '/' &&
        !(fs_node((uint32_t)r)->flags & FS_DIR))
        return -ENOTDIR;
    return r;
}

long fs_lookup_parent(uint32_t dir, const char *path, uint32_t *parent,
                      const char **name, size_t *len)
{
    long l = path_len(path);
    if (l < 0)
        return l;
    size_t end = (size_t)l;
    while (end > 1 && path[end - 1] == '/')
        end--;
    size_t s = end;
    while (s > 0 && path[s - 1] != '/')
        s--;
    if (end - s > NAME_MAX)
        return -ENAMETOOLONG;
    long p = walk(dir, path, s);
    if (p < 0)
        return p;
    const struct fs_node *pn = fs_node((uint32_t)p);
    if (!(pn->flags & FS_DIR))
        return -ENOTDIR;
    *parent = (uint32_t)p;
    *name = path + s;
    *len = (end == 1 && path[0] == '/') ? 0 : end - s;
    return 0;
}

long fs_path_of(uint32_t i, char *buf, size_t size)
{
    /* Collect the names from (i) up, then write them root first. */
    size_t total = 0;
    for (uint32_t d = i; d != FS_ROOT; d = fs_node(d)->parent) {
        const struct fs_node *n = fs_node(d);
        if (!n || n->parent == FS_NONE)
            return -ENOENT; /* removed */
        total += 1 + n->namelen;
    }
    if (total == 0)
        total = 1;
    if (total + 1 > size)
        return -ERANGE;
    buf[total] = 0;
    buf[0] = '/';
    size_t end = total;
    for (uint32_t d = i; d != FS_ROOT; d = fs_node(d)->parent) {
        const struct fs_node *n = fs_node(d);
        end -= n->namelen;
        fs_copy(buf + end, n->name, n->namelen);
        buf[--end] = '/';
    }
    return (long)total + 1;
}
