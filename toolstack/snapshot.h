/*
 * snapshot.h: a proc or kvm guest's state, taken and given back.
 *
 * Taking: the guest has parked for a snapshot (LVM_CTRL_SNAPSHOT: its
 * CPU context is in its RAM, status.suspended == LVM_SUSPENDED_SNAPSHOT).
 * Its RAM is read from its shell's address space, where both monitors map
 * it at the guest's own addresses: only the memory a guest can write
 * (writable segments, heap, stack), only pages that exist (the shell's
 * pagemap: present or swapped; or in the snapshot it was itself restored
 * from), and never a page of zeros. Read-only segments are the image's,
 * which the state file names by its hash.
 *
 * Giving back: guest_spec.resume (guest.h) with the saved RAM as a memfd
 * that the new guest maps copy-on-write; snapshot_resume_status() puts
 * its status page back before it runs.
 */
#ifndef LVM_TS_SNAPSHOT_H
#define LVM_TS_SNAPSHOT_H

#include "toolstack/error.h"
#include "toolstack/image.h"

#include <lightvm/abi.h>
#include <stdint.h>

struct guest;
struct guest_resume;

/* Called with each run of saved pages, in increasing order: guest pages
 * [first, first + count) (index = (address - LVM_RAM_BASE) / 4096) and
 * their bytes. 0 to go on, -1 (with err set) to stop. */
typedef int (*snapshot_sink)(void *arg, uint64_t first, uint64_t count,
                             const void *data, struct lvm_err *err);

/* Whether (g) has parked for a snapshot since request (seq). */
int snapshot_parked(const struct guest *g);

/* Read the RAM of parked guest (g) of image (img) into (sink). (base_fd):
 * the saved RAM it was restored from (its untouched pages are still
 * those), or -1. Counts pages read into (*npages). */
int snapshot_capture(const struct guest *g, const struct image *img,
                     int base_fd, snapshot_sink sink, void *arg,
                     uint64_t *npages, struct lvm_err *err);

/* Live migration: bring (shadow_fd) (a memfd of the guest's RAM size: what
 * the other side has) up to date with running or parked guest (g)'s RAM.
 * Each page that differs is written into it and handed to (sink), in
 * runs (data NULL: those pages are zero now). Dirty pages are found by
 * comparison, which is exact on every kernel and for both monitors (the
 * soft-dirty bit is missing from many kernels, and a kvm guest's dirty
 * log lives in its shell). (*changed): pages that differed. */
int snapshot_sync(const struct guest *g, const struct image *img, int base_fd,
                  int shadow_fd, snapshot_sink sink, void *arg,
                  uint64_t *changed, struct lvm_err *err);

/* A sink that writes into a memfd (arg: int *), at the pages' offsets. */
int snapshot_sink_memfd(void *arg, uint64_t first, uint64_t count,
                        const void *data, struct lvm_err *err);

/* An empty memfd for (ram_size) bytes of saved RAM. */
int snapshot_memfd(uint64_t ram_size, struct lvm_err *err);

/* Before a restored guest (g) runs: its status page as saved (r->status),
 * marked resumed (r->flags), with a fresh seed, its control device in
 * step with it. */
int snapshot_resume_status(struct guest *g, const struct guest_resume *r,
                           struct lvm_err *err);

#endif
