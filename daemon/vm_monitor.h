/*
 * vm_monitor.h: a guest's whole life in lightvmd, one implementation per
 * monitor. The daemon's core (vm.c, api.c, rundir.c, main.c) keeps one
 * record per guest (struct vm) and calls these; it never asks which
 * monitor a guest uses. proc and kvm guests run in a shell whose plan the
 * toolstack's monitor_ops builds (vm_shell.c); qemu guests run in QEMU
 * (vm_qemu*.c).
 *
 * The lifecycle, and who drives each step:
 *
 *   create / restore  api.c -> mon->create; ends through vm_op_done()
 *   events            main.c (epoll) -> vm_event() -> mon->event
 *   pause, unpause    api.c -> mon->pause; ends through vm_op_done()
 *   poweroff, suspend api.c -> mon->control (the guest's control device)
 *   save              api.c -> mon->save; ends through vm_op_done()
 *   clone             api.c -> mon->clone; ends through vm_op_done()
 *   migrate           designed in (NULL everywhere today)
 *   kill              vm.c (destroy) -> mon->kill; its exit event follows
 *   exit accounting   mon->event(EP_SLOT_PROCESS) fills v->exit, then
 *                     vm_ended(); vm_forget() for one never reported
 *   deadlines         vm.c (tick) -> mon->tick
 *   records           rundir.c: mon->record into config.json; after a
 *                     daemon restart, mon->recover adopts the guest
 *   describe          api.c: mon->describe adds its fields to replies
 *
 * Operations that finish later are handed the client's waiter (struct
 * waiter, vm.c) and finish through the one completion call, vm_op_done().
 * A monitor that cannot do an operation leaves its entry NULL, and the
 * core answers so in one line.
 */
#ifndef LVM_DAEMON_VM_MONITOR_H
#define LVM_DAEMON_VM_MONITOR_H

#include "daemon/daemon.h"

#include <jansson.h>

struct vm_monitor {
    const char *name;    /* as in --monitor NAME */
    unsigned state_kind; /* the kind of state file it saves and restores
                            (enum snap_kind) */
    /* Create the guest (r) asks for, or restore it (r->op == OP_RESTORE)
     * from r->path, as (w)'s client, and answer (w) with {"guest": ...}
     * or the error. (fd): what came with the request, or -1; consumed. */
    void (*create)(struct daemon *d, struct waiter *w, const struct request *r,
                   int fd);
    /* Whether its process (shell, QEMU) has not been reaped yet. */
    int (*live)(const struct vm *v);
    /* Its cgroup, for stats, or NULL. */
    const struct cgroup *(*cgroup)(const struct vm *v);
    /* Its fd (slot) is readable (EP_SLOT_PROCESS: its process exited). */
    void (*event)(struct daemon *d, struct vm *v, int slot);
    /* Stop or continue its CPUs; answer (w) with {"state": ...}. */
    void (*pause)(struct daemon *d, struct vm *v, struct waiter *w, int pause);
    /* Post (request) (LVM_CTRL_*) to the guest's control device. */
    int (*control)(struct daemon *d, struct vm *v, uint32_t request,
                   struct lvm_err *err);
    /* The signals besides SIGKILL that `kill` may send its process, as a
     * mask of (1u << signal): it is the init of its own PID namespace,
     * and the kernel drops every other signal such a process does not
     * catch. */
    uint32_t kill_signals;
    /* SIGKILL it; its exit event follows. -1 with errno on failure. */
    int (*kill)(struct daemon *d, struct vm *v);
    /* Save its whole state to r->path as (w)'s client; NULL: cannot. */
    void (*save)(struct daemon *d, struct vm *v, struct waiter *w,
                 const struct request *r);
    /* Start r->count guests from one snapshot, sharing its pages
     * copy-on-write, each with its own id, name, console and address,
     * and answer (w) with them: a snapshot of (src) taken now, or the
     * state file r->state (src NULL; read and merged by restore.c). */
    void (*clone)(struct daemon *d, struct vm *src, struct waiter *w,
                  const struct request *r);
    /* move (v) to another lightvmd over (fd) (a unix socket: pass the
     * memory's fd; TCP: pre-copy dirty pages, then stop and copy), and
     * answer (w) once the destination runs it. The source keeps running
     * if anything fails. */
    void (*migrate)(struct daemon *d, struct vm *v, struct waiter *w,
                    const struct request *r, int fd);
    /* Every tick (100 ms): deadlines, watchdogs. May forget (v). */
    void (*tick)(struct daemon *d, struct vm *v, uint64_t now);
    /* Add its own fields to the guest's JSON in replies. */
    void (*describe)(struct daemon *d, const struct vm *v, json_t *o,
                     int stats);
    /* Its own fields for config.json (an object merged in), or NULL. */
    json_t *(*record)(const struct vm *v);
    /* After a daemon restart: the guest recorded in (cfg), whose process
     * is still (alive), or ended (v->state VM_EXITED, exit read). */
    void (*recover)(struct daemon *d, struct vm *v, json_t *cfg, int alive);
    /* Release what the record holds (not the guest: it may still run,
     * as when the daemon stops). */
    void (*release)(struct daemon *d, struct vm *v);
};

/* The monitor of a create that names none (and of shells and records
 * that name none). A restore that names none uses the state file's. */
#define VM_MONITOR_DEFAULT "proc"

extern const struct vm_monitor vm_monitor_proc, vm_monitor_kvm, vm_monitor_qemu;

/* The monitor called (name) ("auto": the strongest this host runs), or
 * NULL with the reason in (err). */
const struct vm_monitor *vm_monitor_find(struct daemon *d, const char *name,
                                         struct lvm_err *err);

/* The one completion call: answer (w) with success and the fields of
 * (fields) (consumed, may be NULL) if (code) is NULL, else with the error
 * (code, msg); free (w). */
void vm_op_done(struct daemon *d, struct waiter *w, const char *code,
                const char *msg, json_t *fields);

/* Watch fd (fd) of guest (v) as its (slot) in the daemon's loop. */
int vm_watch(struct daemon *d, struct vm *v, int fd, struct ep_item *it,
             int slot, struct lvm_err *err);

/* A name for a new guest of image (image_name), unique enough: the
 * request's if it gave one. */
void vm_default_name(struct vm *v, const struct request *r,
                     const char *image_name);

/* 0 if (r) may take the name it asks for; else answers (w) "exists". */
int vm_name_free(struct daemon *d, struct waiter *w, const struct request *r);

#endif
