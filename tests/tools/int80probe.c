/*
 * int80probe.c: does this host's kernel serve `int $0x80` (the i386
 * system call gate) to an ordinary process? Exits 0 if it does; dies of
 * SIGSEGV where the kernel refuses the gate itself (some paravirtualised
 * kernels do, before any seccomp filter sees the call). test_escape.sh
 * asks, to know which of the two ways a guest's `int $0x80` must end.
 */
int main(void)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory"); /* getpid */
    return r > 0 ? 0 : 1;
}
