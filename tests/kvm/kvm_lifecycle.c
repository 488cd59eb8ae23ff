/*
 * kvm_lifecycle.c: a running guest under a given monitor (argv[1]: proc or
 * kvm), driven through the toolstack library as the daemon will: it
 * ticks; its monitor is locked down (seccomp filter, no_new_privs, no
 * capabilities, only the guest's fds and, for kvm, the vCPU's); pausing
 * (the cgroup freezer) stops its ticks and unpausing resumes them; a
 * poweroff through the control device ends it cleanly. Prints one
 * PASS/FAIL line per check and "N passed, N failed".
 *
 *   kvm_lifecycle MONITOR TICKER.elf
 */
#include "toolstack/guest.h"
#include "toolstack/host.h"
#include "toolstack/monitor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed, failed;

static void check(const char *name, int ok, const char *why)
{
    printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name, ok ? "" : ": ",
           ok ? "" : why);
    if (ok)
        passed++;
    else
        failed++;
}

/* Read what the guest printed within (ms); returns bytes read, -1 if
 * the console closed. */
static long drain(int fd, int ms, char *out, size_t cap)
{
    long total = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, ms);
        if (r <= 0)
            return total;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return total ? total : -1;
        if (out && (size_t)total < cap) {
            size_t k = (size_t)n < cap - (size_t)total ? (size_t)n
                                                       : cap - (size_t)total;
            memcpy(out + total, buf, k);
        }
        total += n;
        ms = 0; /* then only what is already there */
    }
}

/* Wait up to (ms) for the guest to print anything. */
static int wait_output(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1 && drain(fd, 0, NULL, 0) > 0;
}

static int status_field(pid_t pid, const char *key, char *val, size_t len)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int found = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0) {
            snprintf(val, len, "%s", line + strlen(key));
            val[strcspn(val, "\n")] = 0;
            found = 0;
        }
    fclose(f);
    return found;
}

/* Every fd of (pid), as "fd=target" words; (bad) set if it holds KVM's
 * system or VM fd. */
static void list_fds(pid_t pid, char *out, size_t len, int *bad, int *vcpu)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    out[0] = 0;
    *bad = *vcpu = 0;
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[128], t[128];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(p, t, sizeof t - 1);
        t[n > 0 ? n : 0] = 0;
        size_t used = strlen(out);
        snprintf(out + used, len - used, " %s=%s", e->d_name, t);
        if (strstr(t, "/dev/kvm") || strstr(t, "kvm-vm"))
            *bad = 1;
        if (strstr(t, "kvm-vcpu") && atoi(e->d_name) == LVM_KVM_VCPU_FD)
            *vcpu = 1;
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: kvm_lifecycle proc|kvm TICKER.elf\n");
        return 2;
    }
    const char *monitor = argv[1];
    struct lvm_err err;
    struct lvm_host h;
    struct image *img = NULL;
    struct guest *g = NULL;
    if (host_init(&h, &err) < 0 || image_load(argv[2], &img, &err) < 0) {
        fprintf(stderr, "set-up: %s\n", err.msg);
        return 1;
    }
    const struct monitor_ops *mon = monitor_find(monitor, &h);
    int cons[2];
    if (!mon || pipe2(cons, O_CLOEXEC) < 0) {
        fprintf(stderr, "no monitor %s\n", monitor);
        return 1;
    }
    char *gargv[] = {"ticker", NULL};
    struct guest_spec spec = {
        .argc = 1, .argv = gargv, .console_fd = cons[1], .monitor = mon->kind};
    int ok = guest_start(&h, img, &spec, &g, &err) == 0;
    close(cons[1]);
    check("start", ok, err.msg);
    if (!ok)
        goto out;
    check("ticks", wait_output(cons[0], 20000), "no output within 20 s");

    /* Locked down: the kernel's view of the process the guest runs in. */
    char v[256], fds[1024];
    pid_t pid = g->sb.pid;
    int bad, vcpu;
    check("seccomp filter loaded",
          status_field(pid, "Seccomp:", v, sizeof v) == 0 && atoi(v) == 2, v);
    check("no_new_privs",
          status_field(pid, "NoNewPrivs:", v, sizeof v) == 0 && atoi(v) == 1,
          v);
    check("no capabilities",
          status_field(pid, "CapEff:", v, sizeof v) == 0 &&
              strtoull(v, NULL, 16) == 0,
          v);
    list_fds(pid, fds, sizeof fds, &bad, &vcpu);
    check("no /dev/kvm or VM fd left", !bad, fds);
    if (mon->kind == LVM_MONITOR_KVM)
        check("vCPU fd at its fixed number", vcpu, fds);

    /* Pause: nothing more may come out; unpause: it goes on. */
    ok = cgroup_freeze(&g->cg, 1, &err) == 0;
    check("pause", ok, err.msg);
    struct cgroup_stats cs;
    check("frozen", ok && cgroup_stats(&g->cg, &cs, &err) == 0 && cs.frozen,
          "cgroup not frozen");
    drain(cons[0], 0, NULL, 0); /* what was written before the freeze */
    check("no ticks while paused", drain(cons[0], 300, NULL, 0) == 0,
          "output while frozen");
    check("unpause", cgroup_freeze(&g->cg, 0, &err) == 0, err.msg);
    check("ticks again", wait_output(cons[0], 20000), "no output after thaw");

    /* Poweroff through the control device, then how it ended. */
    check("poweroff request", guest_control(g, LVM_CTRL_POWEROFF, &err) == 0,
          err.msg);
    char tail[65536];
    long n = 0, r;
    while ((r = drain(cons[0], 20000, tail + n, sizeof tail - 1 - (size_t)n)) >
           0)
        n += r < (long)(sizeof tail - 1 - (size_t)n)
                 ? r
                 : (long)(sizeof tail - 1 - (size_t)n);
    tail[n] = 0;
    struct guest_exit ex;
    ok = guest_reap(g, -1, 0, &ex, &err) == 0;
    char why[1024];
    guest_exit_str(&ex, why, sizeof why);
    check("exits 0 after poweroff",
          ok && ex.kind == GUEST_EXITED && ex.status == 0, why);
    check("ran its poweroff handler", strstr(tail, "ticker: poweroff") != NULL,
          "no 'ticker: poweroff' on the console");
out:
    if (g)
        guest_free(g);
    image_free(img);
    host_fini(&h);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
