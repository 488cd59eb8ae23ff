/*
 * unserved.c: what the SDK answers for a Linux system call it does not
 * serve. include/lightvm/syscalls.h classes every call: a fatal one ends
 * the guest with its name; any other (the file tree, guest/fs*.c, had it
 * first: linux.c) is answered with its errno and a one-time console
 * warning, so that a program can handle it (fopen failing, a fallback
 * taken) instead of dying. Strict mode (lightvm-cc --strict-syscalls)
 * makes every unserved call fatal.
 *
 * Runs in the SIGSYS handler under proc: no libc, no %fs.
 */
#include "sdk.h"

#include <errno.h>
#include <fcntl.h>
#include <lightvm/syscalls.h>

#define NAME(nr, name, cls, err) [nr] = name,
#define CLASS(nr, name, cls, err) [nr] = (cls) + 1,
#define ERRNO(nr, name, cls, err) [nr] = (err),

static const char *const sc_name[LVM_SYSCALL_MAX + 1] = {
    LVM_SYSCALL_TABLE(NAME)};
/* The class plus one: 0 marks a number missing from the table. */
static const unsigned char sc_class[LVM_SYSCALL_MAX + 1] = {
    LVM_SYSCALL_TABLE(CLASS)};
static const unsigned char sc_errno[LVM_SYSCALL_MAX + 1] = {
    LVM_SYSCALL_TABLE(ERRNO)};

/* Defined (to 1, an absolute symbol) by lightvm-cc --strict-syscalls. */
extern const char __lvm_strict_syscalls[] __attribute__((weak));

/* One warning per call number. */
static uint64_t warned[(LVM_SYSCALL_MAX + 64) / 64];

int lvm__strict_syscalls(void)
{
    return __lvm_strict_syscalls != 0;
}

const char *lvm__syscall_name(long nr)
{
    return nr >= 0 && nr <= LVM_SYSCALL_MAX ? sc_name[nr] : 0;
}

static int syscall_class(long nr)
{
    if (nr < 0 || nr > LVM_SYSCALL_MAX || !sc_class[nr])
        return LVM_SC_FATAL;
    return sc_class[nr] - 1;
}

static const char *errno_name(int e)
{
    switch (e) {
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case ECHILD: return "ECHILD";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EINVAL: return "EINVAL";
    default: return "ENOSYS";
    }
}

static void warn_once(long nr, int err)
{
    uint64_t bit = 1ull << (nr % 64);
    if (warned[nr / 64] & bit)
        return;
    warned[nr / 64] |= bit;
    char msg[96] = "lightvm: ";
    size_t l = lvm__strlen(msg);
    const char *parts[] = {sc_name[nr], ": not served, returned ",
                           errno_name(err), "\n"};
    for (unsigned i = 0; i < sizeof parts / sizeof *parts; i++)
        for (const char *p = parts[i]; *p && l + 1 < sizeof msg; p++)
            msg[l++] = *p;
    lvm__hc->console_write(msg, l);
}

/* The errno for (nr), where its arguments change it. */
static int refusal(long nr, long a0, long a1, long a2)
{
    long flags = nr == 2 /* open */ ? a1 : nr == 257 /* openat */ ? a2 : 0;
    (void)a0;
    if ((nr == 2 || nr == 257) && (flags & (O_WRONLY | O_RDWR | O_CREAT)))
        return EROFS; /* nothing to write to: the tree is read-only */
    return sc_errno[nr];
}

static void forbidden_msg(char msg[64], long nr)
{
    char num[24];
    char *n = lvm__utoa(num + sizeof num, (unsigned long)nr);
    lvm__strlcpy(msg, "forbidden system call ", 64);
    size_t l = lvm__strlen(msg);
    while (*n && l + 1 < 64)
        msg[l++] = *n++;
    msg[l] = 0;
}

/*
 * An attack (or what looks like one) ends the guest at once, as the proc
 * filter's kernel kill does: no more of the guest's code runs, not even
 * libc's flush of stdout, so both monitors show the same.
 */
_Noreturn void lvm__forbidden(long nr)
{
    char msg[64];
    forbidden_msg(msg, nr);
    lvm__strlcpy(LVM_ST->message, msg, sizeof LVM_ST->message);
    LVM_ST->exit_reason = LVM_EXIT_ABORT;
    LVM_ST->exit_status = 134;
    lvm__dying = 1;
    lvm__hc->abort();
    __builtin_unreachable();
}

/* Strict mode's end: a program that cannot go on, not an attack, so what
 * it printed is flushed first. */
static _Noreturn void strict_end(long nr)
{
    char msg[64];
    forbidden_msg(msg, nr);
    lvm__panic(msg);
}

long lvm__unserved(long nr, long a0, long a1, long a2, long a3, long a4,
                   long a5)
{
    if (syscall_class(nr) == LVM_SC_FATAL)
        lvm__forbidden(nr);
    if (lvm__strict_syscalls())
        strict_end(nr);
    int err = refusal(nr, a0, a1, a2);
    warn_once(nr, err);
    return -err;
}
