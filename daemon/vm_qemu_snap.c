/*
 * vm_qemu_snap.c: state files (docs/snapshot-format.md) for qemu guests
 * in lightvmd. A qemu guest's state file is of kind SNAP_KIND_QEMU: the
 * same header as a unikernel's (the image's identity, the guest's RAM
 * size, its name and id), its recipe (the create request's fields) as
 * the config, and QEMU's migration stream as the blob.
 *
 *   save     the state file's temporary is made as the client
 *            (snap_write_begin) before the guest is touched; QEMU writes
 *            its stream straight into it, where the blob goes (vm_qemu_
 *            ops.c drives the migration); then the blob is hashed, the
 *            header and config written and the file renamed into place,
 *            as the client again (snap_write_commit).
 *   restore  restore.c has read and checked the file; here it is checked
 *            against the image the request names and its mem, before
 *            QEMU starts, and QEMU reads the blob from the file.
 *
 * The image's identity (tinyx_image_identity) is taken from the very
 * files QEMU booted, which the guest holds from its create; a guest
 * adopted after a daemon restart holds none, and its image is read by its
 * path, as the client that saves it.
 */
#include "daemon/restore.h"
#include "daemon/vm_qemu.h"
#include "toolstack/qemu/qemu_image.h"
#include "toolstack/text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void qvm_keep_image(struct vm *v, const struct request *r, struct qvm_image *im)
{
    struct qvm *q = qvm_of(v);
    q->recipe = json_incref(r->json);
    q->manifest = im->text;
    q->manifest_len = im->len;
    snprintf(q->image_name, sizeof q->image_name, "%s", im->m.name);
    q->kernel_fd = im->kernel_fd;
    q->initrd_fd = im->initrd_fd;
    im->text = NULL;
    im->kernel_fd = im->initrd_fd = -1;
}

/* ---- save ---------------------------------------------------------------- */

/* The identity of the image (v) booted, and its name. */
static int identity(struct vm *v, const struct creds *cr,
                    uint8_t hash[SNAP_HASH_LEN], uint64_t *size, char name[64],
                    struct lvm_err *err)
{
    struct qvm *q = qvm_of(v);
    if (q->manifest && q->kernel_fd >= 0 && q->initrd_fd >= 0) {
        snprintf(name, 64, "%s", q->image_name);
        return tinyx_image_identity(q->manifest, q->manifest_len, q->kernel_fd,
                                    q->initrd_fd, hash, size, err);
    }
    struct qvm_image im;
    if (qvm_image_open(v->image, cr, &im, err) < 0)
        return -1;
    snprintf(name, 64, "%s", im.m.name);
    int rc = tinyx_image_identity(im.text, im.len, im.kernel_fd, im.initrd_fd,
                                  hash, size, err);
    qvm_image_close(&im);
    return rc;
}

int qvm_save_begin(struct vm *v, const struct request *r,
                   const struct creds *cr, struct lvm_err *err)
{
    struct qop *op = &qvm_of(v)->op;
    op->cr = *cr;
    op->leave_running = r->leave_running;
    snprintf(op->path, sizeof op->path, "%s", r->path);
    /* The image first: one that cannot be read is refused before the
     * guest is touched. */
    if (identity(v, cr, op->image_hash, &op->image_size, op->image_name, err) <
        0)
        return lvm_err_wrap(err, "save guest %s", v->id);
    if (state_write_begin(cr, &op->wr, r->path, r->force, err) < 0)
        return err->code == EEXIST
                   ? -1 /* names it */
                   : lvm_err_wrap(err, "state file %s", r->path);
    /* QEMU writes its stream where the writer puts the blob: right after
     * the header (a qemu state is laid out header | blob | config). Its
     * fd shares this file position with ours. */
    if (op->wr.off != SNAP_HEADER_LEN ||
        lseek(op->wr.fd, (off_t)SNAP_HEADER_LEN, SEEK_SET) < 0) {
        int e = op->wr.off != SNAP_HEADER_LEN ? EINVAL : errno;
        snap_write_abort(&op->wr);
        return lvm_err_set(err, e, "state file %s", r->path);
    }
    return 0;
}

int qvm_save_commit(struct vm *v, struct lvm_err *err)
{
    struct qop *op = &qvm_of(v)->op;
    struct stat st;
    if (fstat(op->wr.fd, &st) < 0)
        return lvm_err_set(err, errno, "state file %s", op->path);
    if (st.st_size <= (off_t)SNAP_HEADER_LEN)
        return lvm_err_set(err, EIO, "QEMU wrote no state into %s", op->path);
    /* Hashed where QEMU wrote it: snap_write_blob reads each chunk and
     * writes it back in place (the blob's offset is where it reads). */
    uint64_t len = (uint64_t)st.st_size - SNAP_HEADER_LEN;
    if (lseek(op->wr.fd, (off_t)SNAP_HEADER_LEN, SEEK_SET) < 0)
        return lvm_err_set(err, errno, "state file %s", op->path);
    if (snap_write_blob(&op->wr, op->wr.fd, len, err) < 0)
        return lvm_err_wrap(err, "state file %s", op->path);
    struct snap_info info;
    memset(&info, 0, sizeof info);
    info.version = SNAP_VERSION;
    info.kind = SNAP_KIND_QEMU;
    snprintf(info.monitor, sizeof info.monitor, "qemu");
    info.ram_size = v->mem;
    memcpy(info.image_hash, op->image_hash, SNAP_HASH_LEN);
    info.image_size = op->image_size;
    snprintf(info.image_name, sizeof info.image_name, "%s", op->image_name);
    snprintf(info.guest_name, sizeof info.guest_name, "%s", v->name);
    snprintf(info.guest_id, sizeof info.guest_id, "%s", v->id);
    info.saved_unix_ms = (uint64_t)(daemon_unix_time() * 1000);
    /* qemu restores a guest with the RAM it has, whatever was asked. */
    info.config = state_recipe_text(
        v, qvm_of(v)->recipe,
        json_pack("{s:s, s:I}", "monitor", "qemu", "mem", (json_int_t)v->mem));
    if (!info.config)
        return lvm_err_set(err, ENOMEM, "the guest's recipe");
    info.config_len = strlen(info.config);
    int rc = state_write_commit(&op->cr, &op->wr, &info, err);
    free(info.config);
    if (rc < 0)
        return -1;
    /* What was written, never a stat of the path: a member may have
     * swapped a directory on it for a link meanwhile. */
    json_int_t bytes = (json_int_t)op->wr.committed_len;
    op->saved = json_pack("{s:s, s:I, s:f}", "path", op->path, "bytes", bytes,
                          "ms", (double)(host_now_ns() - op->t0) / 1e6);
    return 0;
}

/* ---- restore --------------------------------------------------------------- */

/* The image path the state's recipe names, for messages ("" if none). */
static void recipe_image(const struct snap_info *in, char *out, size_t len)
{
    json_error_t je;
    json_t *o =
        in->config_len ? json_loadb(in->config, in->config_len, 0, &je) : NULL;
    const char *s = json_string_value(json_object_get(o, "image"));
    snprintf(out, len, "%s", s ? s : "");
    json_decref(o);
}

int qvm_restore_check(const struct request *r, const struct qvm_image *im,
                      struct lvm_err *err)
{
    const struct snap_info *in = r->state;
    if (!in || in->kind != SNAP_KIND_QEMU)
        return lvm_err_set(err, 0, "%s does not hold a qemu guest", r->path);
    if (in->ram_size && r->mem && r->mem != in->ram_size)
        return lvm_err_set(err, 0,
                           "a restored guest keeps its %llu MiB of memory "
                           "(the state file's), not %llu MiB",
                           (unsigned long long)(in->ram_size >> 20),
                           (unsigned long long)(r->mem >> 20));
    uint8_t hash[SNAP_HASH_LEN];
    uint64_t size;
    if (tinyx_image_identity(im->text, im->len, im->kernel_fd, im->initrd_fd,
                             hash, &size, err) < 0)
        return lvm_err_wrap(err, "image %s", r->image);
    if (!memcmp(hash, in->image_hash, SNAP_HASH_LEN) && size == in->image_size)
        return 0;
    /* Names from the state file and the manifest: printable. */
    char want[65], have[65], from[256], was[TEXT_ESCAPED_MAX(64)],
        is[TEXT_ESCAPED_MAX(64)], at[TEXT_ESCAPED_MAX(256)];
    snap_hash_hex(in->image_hash, want);
    snap_hash_hex(hash, have);
    recipe_image(in, from, sizeof from);
    text_escape(in->image_name, was, sizeof was);
    text_escape(from, at, sizeof at);
    text_escape(im->m.name, is, sizeof is);
    return lvm_err_set(err, 0,
                       "the state was saved from another image: %s%s%s "
                       "(sha256 %.16s...), not %s at %s (sha256 %.16s...)",
                       was, at[0] ? " at " : "", at, want, is, r->image, have);
}
