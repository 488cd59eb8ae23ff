/*
 * run.h: `lightvm run`'s engines. cmd_run.c parses the one option table
 * (guest_opts.h), settles the monitor and picks an engine: through
 * lightvmd for every monitor when it runs (run_daemon.c), else in this
 * process: a shell for proc and kvm (run_cold.c), QEMU for qemu
 * (run_qemu.c). Each shows the console, turns Ctrl-C into a poweroff (a
 * second into a kill) and returns the exit status docs/cli.md lists.
 */
#ifndef LVM_CLI_RUN_H
#define LVM_CLI_RUN_H

#include "cli/guest_opts.h"
#include "toolstack/error.h"

#include <lightvm/lightvm.h>
#include <poll.h>

struct run_opts {
    struct guest_opts g;
    const char *console_path;
    double timeout;
    int quiet, no_daemon;
    int detach, rm; /* -d: create it and print its id; --rm: remove it
                       once it exits */
};

/* Signals (Ctrl-C, SIGTERM, SIGHUP) and the timeout, as fds for poll. */
struct waitset {
    int sigfd, timerfd;
    int interrupts, timed_out;
};

/* Block the signals and arm the timeout (seconds; 0: none). */
int waitset_open(struct waitset *w, double timeout, struct lvm_err *err);
void waitset_close(struct waitset *w);

/* After poll on {sigfd, timerfd} as (p)[0..1]: 1 an interrupt, 2 a second
 * one, 3 the timeout, 0 nothing. */
int waitset_event(struct waitset *w, const struct pollfd *p);

/* Open (path) as the console file (created or truncated). */
int run_open_console(const char *path, struct lvm_err *err);

/* Have lightvmd create the guest (o) describes, in the background, and
 * print its id (or with (json) the guest, with (quiet) nothing): create,
 * and run -d. Returns the exit status. */
int cli_create(struct lightvm *cl, struct guest_opts *o, int auto_remove,
               int json, int quiet);

/* The engines; each returns the exit status. */
int run_daemon(struct lightvm *c, struct run_opts *o);
int run_cold(struct run_opts *o);
int run_qemu_cold(struct run_opts *o);

/* run_qemu_net.c (lightvm-net; cli/static_net.c in the static CLI, which
 * hands every cold --net run to lightvm-net first): a cold qemu guest's
 * NIC on a lightvm bridge, made by toolstack/nic.c as proc guests' are. */
struct run_qemu_nic {
    struct guest_net gn;
    char id[GUEST_ID_LEN + 1]; /* names its tap and lease */
    char run_dir[PATH_MAX];
    int tap_fd; /* QEMU's copy is made at start: close ours then */
};
struct qemu_vm_config;
/* Attach a NIC as (ns) says and set (cfg) up to use it; says where. */
int run_qemu_nic(const struct guest_net_spec *ns, struct qemu_vm_config *cfg,
                 struct run_qemu_nic *n, struct lvm_err *err);
/* Undo run_qemu_nic (nothing if none was made). */
void run_qemu_nic_release(struct run_qemu_nic *n);

#endif
