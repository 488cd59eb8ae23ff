/*
 * shell.h: lightvm-shell internals. The shell is a small static program
 * (musl, no other libraries) that becomes one guest; see common/plan.h.
 */
#ifndef LVM_SHELL_H
#define LVM_SHELL_H

#include "shell/plan.h"

#include <stddef.h>
#include <stdint.h>

/* The control socket, moved out of the guest's fd range. */
extern int shell_sock;

/* Report (err, fmt...) to the toolstack and exit with status 125. */
_Noreturn void shell_fail(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Send a message header of (type) with (len) bytes in total. */
void shell_send(const void *msg, size_t len);

/* Received fds wait at SHELL_HIGH_FD and up; the guest's are below. */
#define SHELL_HIGH_FD 512

/* Put the plan's fds in place as the guest's, closing whatever else is
 * below them; returns the highest guest fd. */
int shell_install_fds(const struct lvm_msg_plan *p, const int *fds, int nfds);

/* The plan's gate fd (an OCI runtime's create/start split), moved up
 * among the received fds so that installing the guest's fds cannot
 * clobber it; -1 if the plan has none. */
int shell_take_gate(const struct lvm_msg_plan *p, const int *fds, int nfds);

/* After STARTED: block until one byte arrives on (gate), then close it;
 * exit (the guest never runs) if it is closed first. No-op for -1. */
void shell_wait_gate(int gate);

/* rlimits for the guest (RLIMIT_NOFILE from its highest fd) and its name
 * as the process's. */
void shell_set_limits(const struct lvm_msg_plan *p, int max_fd);

/* Carry out a proc plan; (fds) were received with it. Does not return. */
_Noreturn void proc_exec(const struct lvm_msg_plan *plan, const int *fds,
                         int nfds);

/* Create the VM, its memory slots (RAM too if (ram_size) is not 0) and
 * its vCPU on /dev/kvm (kvm_fd), at PREPARE. */
void kvm_prepare(int kvm_fd, uint64_t ram_size);

/* Carry out a kvm plan in a shell kvm_prepare made ready. Does not
 * return. */
_Noreturn void kvm_exec(const struct lvm_msg_plan *plan, const int *fds,
                        int nfds);

#endif
