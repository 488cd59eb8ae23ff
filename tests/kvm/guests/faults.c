/*
 * faults: misbehaves as argv[1] says, to show that both monitors stop and
 * report a guest that executes a privileged or invalid instruction,
 * touches memory it does not have, writes its read-only pages, makes a
 * forbidden system call or pokes at I/O ports. Each action prints what it
 * is about to do, then does it; reaching "survived" is a failure.
 */
#include <lightvm/guest.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int sink;

static long raw3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return r;
}

/* Until the stack runs into the guard page below it. */
static int recurse(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    if (sink == -1) /* never: but the compiler cannot know */
        return n;
    return recurse(n + 1) + pad[0];
}

/* A hypercall by hand: `outl` of (block offset) to LVM_HC_PORT_BASE + nr. */
static void outl(unsigned port, unsigned value)
{
    __asm__ volatile("outl %0, %w1" ::"a"(value), "Nd"(port) : "memory");
}

static void act(const char *a)
{
    const struct lvm_bootinfo *bi = lvm_bootinfo();
    uint64_t ram_end = bi->ram_base + bi->ram_size;
    if (!strcmp(a, "hlt"))
        __asm__ volatile("hlt");
    else if (!strcmp(a, "cli"))
        __asm__ volatile("cli");
    else if (!strcmp(a, "rdmsr"))
        __asm__ volatile("rdmsr" ::"c"(0x10) : "rax", "rdx");
    else if (!strcmp(a, "lidt")) {
        struct __attribute__((packed)) {
            uint16_t lim;
            uint64_t base;
        } d = {0, 0};
        __asm__ volatile("lidt %0" ::"m"(d));
    } else if (!strcmp(a, "cr3")) {
        long v;
        __asm__ volatile("mov %%cr3, %0" : "=r"(v));
        sink = (int)v;
    } else if (!strcmp(a, "ud2"))
        __asm__ volatile("ud2");
    else if (!strcmp(a, "int3"))
        __asm__ volatile("int3");
    else if (!strcmp(a, "div0"))
        __asm__ volatile("xor %%ecx, %%ecx\n\tdiv %%ecx" ::"a"(1), "d"(0)
                         : "rcx");
    else if (!strcmp(a, "int80"))
        __asm__ volatile("int $0x80" ::"a"(5) : "memory"); /* i386 open */
    else if (!strcmp(a, "int41"))
        __asm__ volatile("int $0x41");
    else if (!strcmp(a, "port80"))
        __asm__ volatile("outb %%al, $0x80" ::"a"(0));
    else if (!strcmp(a, "port_in"))
        __asm__ volatile("inb $0x60, %%al" ::: "rax");
    else if (!strcmp(a, "hc_in")) {
        unsigned v;
        __asm__ volatile("inl %w1, %0" : "=a"(v) : "Nd"(LVM_HC_PORT_BASE + 1));
        sink = (int)v;
    } else if (!strcmp(a, "hc_badblock"))
        outl(LVM_HC_PORT_BASE + LVM_HC_CLOCK_MONOTONIC, 0x7ffff000);
    else if (!strcmp(a, "hc_badnr"))
        __asm__ volatile("outb %%al, %w1" ::"a"(0),
                         "Nd"(LVM_HC_PORT_BASE + 12));
    else if (!strcmp(a, "past_ram"))
        sink = *(volatile int *)(uintptr_t)ram_end;
    else if (!strcmp(a, "high"))
        sink = *(volatile int *)(uintptr_t)0xc0000000ull;
    else if (!strcmp(a, "null"))
        sink = *(volatile int *)(uintptr_t)sink;
    else if (!strcmp(a, "devpage_write"))
        *(volatile uint32_t *)(uintptr_t)LVM_DEVPAGE_ADDR = 0;
    else if (!strcmp(a, "bootinfo_write"))
        *(volatile uint32_t *)(uintptr_t)LVM_BOOTINFO_ADDR = 0;
    else if (!strcmp(a, "monitor_read"))
        sink = *(volatile int *)(uintptr_t)(LVM_MON_PRIVATE_ADDR + 0x1000);
    else if (!strcmp(a, "text_write"))
        *(volatile unsigned char *)(uintptr_t)lvm_bootinfo = 0xc3;
    else if (!strcmp(a, "stack_exec")) {
        unsigned char code[16] = {0xc3}; /* ret */
        ((void (*)(void))(uintptr_t)code)();
    } else if (!strcmp(a, "overflow"))
        sink = recurse(0);
    else if (!strcmp(a, "pipe")) { /* (open is served: the file tree) */
        int p[2];
        sink = pipe(p);
    } else if (!strcmp(a, "socket"))
        sink = socket(AF_INET, SOCK_STREAM, 0);
    else if (!strcmp(a, "read_fd5"))
        raw3(SYS_read, 5, (long)&sink, 4);
    else if (!strcmp(a, "write_fd3"))
        raw3(SYS_write, 3, (long)"x", 1);
    else if (!strcmp(a, "mmap_exec"))
        sink = mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0) != MAP_FAILED;
    else if (!strcmp(a, "fork"))
        sink = fork();
    else if (!strcmp(a, "abort"))
        abort();
    else if (!strcmp(a, "exit7"))
        exit(7);
    else if (!strcmp(a, "badbuf")) {
        /* Pointers the guest does not own: an error, not a crash. */
        printf("low: %ld\n", lvm_console_write((void *)0x1000, 16));
        printf("past RAM: %ld\n",
               lvm_console_write((void *)(uintptr_t)(ram_end + 4096), 16));
        printf("guard: %ld\n",
               lvm_console_write((void *)(uintptr_t)(bi->heap_end), 16));
        exit(0);
    } else {
        printf("unknown action %s\n", a);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        printf("usage: faults ACTION\n");
        return 2;
    }
    printf("faults: %s\n", argv[1]);
    fflush(stdout);
    act(argv[1]);
    printf("survived %s\n", argv[1]);
    return 1;
}
