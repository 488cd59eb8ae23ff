/*
 * escape.c: the escape battery. `escape.elf ATTEMPT [ARG]` makes one raw
 * system call (not through the SDK) or memory access a guest must never
 * get away with. If the attempt returns, the guest prints ESCAPED and what
 * it returned, and exits 0: for an attack a test sees the failure (a
 * correct sandbox kills it first); for a harmless call the SDK refuses,
 * the test checks the errno.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <lightvm/guest.h>

static long raw6(long n, long a, long b, long c, long d, long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
                       "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}

#define RAW(n, ...) raw6_(n, __VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define raw6_(n, a, b, c, d, e, f, ...)                                        \
    raw6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static volatile long sink;

int main(int argc, char **argv);

static long attempt(const char *what, const char *arg)
{
    if (!strcmp(what, "open"))
        return RAW(SYS_openat, AT_FDCWD, arg ? arg : "/etc/passwd", O_RDONLY);
    if (!strcmp(what, "creat"))
        return RAW(SYS_openat, AT_FDCWD, arg, O_CREAT | O_WRONLY, 0644);
    if (!strcmp(what, "fork"))
        return RAW(SYS_fork, 0);
    if (!strcmp(what, "clone"))
        return RAW(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (!strcmp(what, "clone3")) {
        uint64_t args[11] = {0};
        args[4] = SIGCHLD; /* exit_signal */
        return RAW(SYS_clone3, args, sizeof args);
    }
    if (!strcmp(what, "vfork"))
        return RAW(SYS_vfork, 0);
    if (!strcmp(what, "execve")) {
        char *argv[] = {"/bin/sh", "-c", (char *)arg, NULL};
        return RAW(SYS_execve, "/bin/sh", argv, NULL);
    }
    if (!strcmp(what, "socket"))
        return RAW(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (!strcmp(what, "socket-raw"))
        return RAW(SYS_socket, AF_INET, SOCK_RAW, 1 /* ICMP */);
    if (!strcmp(what, "socket-packet"))
        return RAW(SYS_socket, 17 /* AF_PACKET */, SOCK_DGRAM, 0);
    if (!strcmp(what, "clone-newns"))
        return RAW(SYS_clone, 0x10000000 /* CLONE_NEWUSER */ | SIGCHLD, 0, 0, 0,
                   0);
    if (!strcmp(what, "mmap-exec"))
        return RAW(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!strcmp(what, "mprotect")) {
        /* Make its own stack executable. */
        uintptr_t page = (uintptr_t)&what & ~(uintptr_t)4095;
        return RAW(SYS_mprotect, page, 4096,
                   PROT_READ | PROT_WRITE | PROT_EXEC);
    }
    if (!strcmp(what, "ptrace"))
        return RAW(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
    if (!strcmp(what, "kill"))
        return RAW(SYS_kill, arg ? atol(arg) : -1, SIGKILL);
    if (!strcmp(what, "write-fd"))
        return RAW(SYS_write, arg ? atoi(arg) : 7, "x", 1);
    if (!strcmp(what, "write-stdin"))
        return RAW(SYS_write, 0, "x", 1);
    if (!strcmp(what, "mount"))
        return RAW(SYS_mount, "none", "/", "tmpfs", 0, 0);
    if (!strcmp(what, "unshare"))
        return RAW(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */);
    if (!strcmp(what, "setns"))
        return RAW(SYS_setns, 3, 0);
    if (!strcmp(what, "chroot"))
        return RAW(SYS_chroot, "/");
    if (!strcmp(what, "bpf"))
        return RAW(SYS_bpf, 0, 0, 0);
    if (!strcmp(what, "io_uring"))
        return RAW(SYS_io_uring_setup, 8, 0);
    if (!strcmp(what, "userfaultfd"))
        return RAW(SYS_userfaultfd, 0);
    if (!strcmp(what, "process_vm_readv"))
        return RAW(SYS_process_vm_readv, 1, 0, 0, 0, 0, 0);
    if (!strcmp(what, "perf_event_open"))
        return RAW(SYS_perf_event_open, 0, 0, -1, -1, 0);
    if (!strcmp(what, "init_module"))
        return RAW(SYS_init_module, 0, 0, "");
    if (!strcmp(what, "keyctl"))
        return RAW(SYS_keyctl, 0, 0);
    if (!strcmp(what, "ppoll-sigmask")) {
        uint64_t mask = ~0ull;
        return RAW(SYS_ppoll, 0, 0, 0, &mask, 8);
    }
    if (!strcmp(what, "clock-bad")) /* a clock the policy does not allow */
        return RAW(SYS_clock_settime, 0, 0);
    if (!strcmp(what, "int80")) { /* i386 open() through int 0x80 */
        long r;
        __asm__ volatile("int $0x80"
                         : "=a"(r)
                         : "a"(5), "b"(0), "c"(0)
                         : "memory");
        return r;
    }
    if (!strcmp(what, "x32")) /* x32 openat */
        return RAW(0x40000000 | SYS_openat, AT_FDCWD, "/etc/passwd", 0);
    if (!strcmp(what, "read-low")) /* below the guest's region */
        return sink = *(volatile long *)0x10000;
    if (!strcmp(what, "read-high")) /* just past the end of RAM */
        return sink = *(volatile long *)(uintptr_t)(lvm_bootinfo()->ram_base +
                                                    lvm_bootinfo()->ram_size);
    if (!strcmp(what, "read-stack")) /* where the shell's stack was */
        return sink = *(volatile long *)0x7ffffffde000;
    if (!strcmp(what, "read-vsyscall"))
        return sink = *(volatile long *)0xffffffffff600000;
    if (!strcmp(what, "write-devpage")) {
        *(volatile uint32_t *)LVM_DEVPAGE_ADDR = 0;
        return 0;
    }
    if (!strcmp(what, "write-text")) {
        *(volatile char *)(uintptr_t)&main = 0;
        return 0;
    }
    /* Linux 6.11+ lets these two through any seccomp filter: the kernel
     * itself checks they come from its uprobe trampoline (none here). */
    if (!strcmp(what, "uretprobe"))
        return RAW(335, 0);
    if (!strcmp(what, "uprobe"))
        return RAW(336, 0);
    if (!strcmp(what, "exec-heap")) {
        unsigned char *p = malloc(64);
        p[0] = 0xc3; /* ret */
        ((void (*)(void))p)();
        return 0;
    }
    fprintf(stderr, "escape: unknown attempt %s\n", what);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: escape ATTEMPT [ARG]\n");
        return 2;
    }
    printf("attempting %s\n", argv[1]);
    fflush(stdout);
    long r = attempt(argv[1], argc > 2 ? argv[2] : NULL);
    /* File calls are the SDK's: answered from the guest's own file tree
     * in guest RAM, never the host's files (test_escape.sh checks). */
    if (!strcmp(argv[1], "open") || !strcmp(argv[1], "creat")) {
        printf("contained: %s returned %ld\n", argv[1], r);
        return 0;
    }
    printf("ESCAPED: %s returned %ld\n", argv[1], r);
    fflush(stdout);
    return 0;
}
