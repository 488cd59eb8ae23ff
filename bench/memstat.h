/* memstat.h: memory figures the benchmark drivers sample (header only). */
#ifndef LVM_BENCH_MEMSTAT_H
#define LVM_BENCH_MEMSTAT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* A field of /proc/meminfo in KiB, or -1. */
static inline long meminfo(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':')
            v = strtol(line + kl + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* Kernel memory that grows with processes and namespaces, in KiB. */
static inline long kernel_kb(void)
{
    return meminfo("Slab") + meminfo("KernelStack") + meminfo("PageTables");
}

/* Proportional set size of (pid), in KiB (0 if it is gone). */
static inline long pss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    long v = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Pss:", 4))
            v = strtol(line + 4, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

#endif
