/*
 * sweep.c: every system call number, made raw (not through libc).
 *
 *   sweep.elf            every call include/lightvm/syscalls.h traps to
 *                        the SDK, with zero arguments: each is served or
 *                        refused with its errno; prints one line per call
 *                        ("NNN name: refused E" or "NNN name: served"),
 *                        then "sweep: done"
 *   sweep.elf fatal      the numbers that must end the guest, one a line
 *   sweep.elf call NR    call NR with zero arguments, after leaving text
 *                        in stdout's buffer: a fatal call must end the
 *                        guest, and the text must still reach the console
 *   sweep.elf abort      the same for abort()
 *
 * Built twice: sweep.elf and sweep_strict.elf (lightvm-cc
 * --strict-syscalls), where every unserved call is fatal.
 */
#include <lightvm/syscalls.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct row {
    int nr, cls, err;
    const char *name;
};

#define ROW(nr, name, cls, err) {nr, cls, err, name},
static const struct row table[] = {LVM_SYSCALL_TABLE(ROW)};
#define NROWS (sizeof table / sizeof *table)

static long raw(long n)
{
    long r;
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    register long r9 __asm__("r9") = 0;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(0L), "S"(0L), "d"(0L), "r"(r10), "r"(r8),
                       "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}

static const struct row *find(long nr)
{
    for (size_t i = 0; i < NROWS; i++)
        if (table[i].nr == nr)
            return &table[i];
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "fatal")) {
        for (size_t i = 0; i < NROWS; i++)
            if (table[i].cls == LVM_SC_FATAL)
                printf("%d %s\n", table[i].nr, table[i].name);
        /* Numbers outside the table: a gap, the first after it, x32. */
        printf("400 syscall-400\n%d syscall-%d\n", LVM_SYSCALL_MAX + 1,
               LVM_SYSCALL_MAX + 1);
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "call")) {
        long nr = strtol(argv[2], 0, 0);
        printf("sweep: buffered before the call");
        long r = raw(nr);
        printf("\nsweep: call %ld returned %ld\n", nr, r);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "abort")) {
        printf("sweep: buffered before abort");
        abort();
    }
    int served = 0, refused = 0;
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *t = &table[i];
        /* exit would end the sweep; the others are hypercalls whose
         * arguments decide (the escape battery tries them). */
        if (t->cls != LVM_SC_TRAP || t->nr == 60 /* exit */)
            continue;
        long r = raw(t->nr);
        if (r == -t->err) {
            printf("%d %s: refused %d\n", t->nr, t->name, t->err);
            refused++;
        } else {
            printf("%d %s: served\n", t->nr, t->name);
            served++;
        }
    }
    printf("sweep: %d served, %d refused\n", served, refused);
    printf("sweep: done\n");
    (void)find;
    return 0;
}
