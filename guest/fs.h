/*
 * fs.h: the guest's file tree, internal interfaces (guest/fs_*.c).
 *
 * One namespace in guest RAM: at the first file call it is filled from
 * the ustar archive carried in the image (lightvm-cc --files), whose
 * file contents are served in place; every write lands in guest RAM
 * (copy on first write), bounded by fs_limit(). Nothing here reaches the
 * host. Everything runs in the system-call path: no libc, no %fs.
 */
#ifndef LVM_GUEST_FS_H
#define LVM_GUEST_FS_H

#include <stddef.h>
#include <stdint.h>

#define FS_NONE 0xffffffffu
#define FS_ROOT 0u
#define FS_MAX_FDS 64 /* open files at once: EMFILE beyond */

/* node flags */
#define FS_USED 1u   /* slot in use */
#define FS_DIR 2u    /* a directory */
#define FS_IMAGE 4u  /* data is the archive's, read-only: copy before write */
#define FS_LINKED 8u /* in the namespace (clear: unlinked, still open) */

struct fs_node {
    uint32_t parent; /* FS_NONE for the root or an unlinked node */
    uint32_t flags;
    uint32_t mode;  /* permission bits */
    uint32_t opens; /* open file descriptions on it */
    const char *name;
    size_t namelen;
    char *data; /* contents; owned (cap bytes, zero past size) unless
                   FS_IMAGE */
    uint64_t size, cap;
    uint64_t mtime_ns;
    uint32_t dev; /* FS_DEV_*: a character device the SDK serves */
};

/* Character devices in /dev, served by the SDK. */
#define FS_DEV_NULL 1
#define FS_DEV_ZERO 2
#define FS_DEV_RANDOM 3 /* random and urandom: the SDK's ChaCha20 stream */

/* fs_tree.c: the node table and the archive it starts from. */
int fs_ready(void);                  /* build the tree once; 0 or -errno */
struct fs_node *fs_node(uint32_t i); /* NULL if (i) is no live node */
uint32_t fs_node_count(void);        /* slots, live or not */
uint32_t fs_child(uint32_t dir, const char *name, size_t len);
/* A new node (name) in (dir); -errno or its index. */
long fs_create(uint32_t dir, const char *name, size_t len, int is_dir,
               unsigned mode);
/* Drop (i) from the namespace; freed now or at its last close. */
void fs_unlink_node(uint32_t i);
void fs_release(uint32_t i); /* an open file description on (i) closed */
long fs_rename_node(uint32_t i, uint32_t dir, const char *name, size_t len);
/* Contents: make (i) writable with room for (need) bytes; 0 or -errno. */
long fs_reserve(uint32_t i, uint64_t need);
long fs_truncate(uint32_t i, uint64_t size);
void fs_touch(uint32_t i);
uint64_t fs_limit(void); /* bytes the writable area may hold */
uint64_t fs_used(void);

/* fs_path.c: resolve paths against the cwd or a directory fd. */
extern uint32_t fs_cwd;
/* Resolve all of (path) from (dir); -errno or the node. */
long fs_lookup(uint32_t dir, const char *path);
/* Resolve all but the last component: the parent in (*parent), the last
 * component in (*name, *len) (empty for "/"). 0 or -errno. */
long fs_lookup_parent(uint32_t dir, const char *path, uint32_t *parent,
                      const char **name, size_t *len);
/* The absolute path of directory (i) into (buf, size); length or -errno. */
long fs_path_of(uint32_t i, char *buf, size_t size);

/* fs_fd.c: descriptors (fd >= LVM_FS_FD_BASE) and what they share. */
struct fs_file {
    uint32_t node;
    uint32_t refs;  /* descriptors on this open file description */
    uint32_t flags; /* open flags (access mode, O_APPEND, ...) */
    uint64_t pos;
};
long fs_fd_open(uint32_t node, int flags); /* the new fd or -errno */
struct fs_file *fs_fd_get(long fd);        /* NULL: not an open fs fd */
long fs_fd_close(long fd);
long fs_fd_dup(long fd, long min, int cloexec);
long fs_fd_dup2(long fd, long newfd, int cloexec);
int fs_fd_cloexec(long fd);
void fs_fd_set_cloexec(long fd, int on);

/* Freestanding helpers (fs_tree.c). */
void fs_copy(void *dst, const void *src, size_t n);
int fs_nameeq(const struct fs_node *n, const char *name, size_t len);

#endif
