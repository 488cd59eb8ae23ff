/*
 * state.h: a container's state directory, (root)/(id)/, as runc keeps
 * one: state.json (written whole to a temporary file and renamed, so a
 * reader never sees half of it), exec.fifo while the container is
 * created and not started (its gate: docs/oci.md), and the guest's device
 * pages (devpage), through which `kill` asks the guest to power off.
 */
#ifndef LVM_OCI_STATE_H
#define LVM_OCI_STATE_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

enum oci_status {
    OCI_CREATED,
    OCI_RUNNING,
    OCI_PAUSED,
    OCI_STOPPED,
};

struct oci_state {
    char id[256];
    char dir[PATH_MAX];
    pid_t pid;
    uint64_t pid_start; /* the process's start time (/proc/PID/stat 22):
                           a reused pid is not ours */
    char bundle[PATH_MAX];
    char rootfs[PATH_MAX];
    char created[64];    /* RFC 3339 */
    char monitor[16];    /* proc or kvm */
    char cg_parent[256]; /* the cgroup (toolstack/cgroup.h) */
    char cg_name[128];
    char program[PATH_MAX]; /* process.args[0] as found in the rootfs */
    uint64_t ram_size;      /* the guest's RAM (for checkpoint) */
    char *annotations;      /* compact JSON object */
    char *hooks;            /* the bundle's hooks (compact JSON), or NULL */
};

/* runc's rule for ids: letters, digits, '_', '+', '-', '.', not "." or
 * "..". */
int oci_id_valid(const char *id);

/* (root)/(id) into (st->dir) and st->id. */
void oci_state_init(struct oci_state *st, const char *root, const char *id);

/* Load state.json; -1 with (err) saying "container does not exist" when
 * there is none. */
int oci_state_load(struct oci_state *st, const char *root, const char *id,
                   char *err, size_t errlen);

/* Write state.json atomically. */
int oci_state_save(const struct oci_state *st, char *err, size_t errlen);

void oci_state_free(struct oci_state *st);

/* Where the container is now: its process's liveness, the gate, the
 * freezer. */
enum oci_status oci_state_status(const struct oci_state *st);
const char *oci_status_name(enum oci_status s);

/* runc's state JSON of (st) in status (s) (what `state` prints and hooks
 * read on stdin); malloc'd, NULL if out of memory. */
char *oci_state_json(const struct oci_state *st, enum oci_status s);

/* The start time of (pid) (/proc/PID/stat field 22), 0 if gone; sets
 * *zombie when it has exited but is not reaped yet. */
uint64_t oci_pid_start(pid_t pid, int *zombie);

/* A file (path) in the state directory. */
void oci_state_file(const struct oci_state *st, const char *name, char *path,
                    size_t len);

/* Write (text) to (path) through a temporary file and rename. */
int oci_write_atomic(const char *path, const char *text, char *err,
                     size_t errlen);

/* mkdir -p (the --root directory). */
int oci_mkdir_p(const char *dir, mode_t mode);

#endif
