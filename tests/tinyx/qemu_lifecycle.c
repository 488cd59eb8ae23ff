/*
 * qemu_lifecycle.c: drive a redis Tinyx image through the qemu monitor
 * library as lightvmd would: start, wait until it answers, pause (it must
 * stop answering), resume, save, destroy, restore (the data written before
 * the save must still be there), power off. Prints one line per step.
 *
 * Usage: qemu_lifecycle IMAGE_DIR STATE_FILE
 */
#include "toolstack/qemu/qemu.h"
#include "toolstack/qemu/qemu_image.h"
#include "toolstack/qemu/tinyx_manifest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BOOT_MS 180000

static int failures;

static void step(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    fflush(stdout);
    if (!ok)
        failures++;
}

/* Send one inline redis command to 127.0.0.1:(port) and read the reply
 * into (buf) within (timeout_ms). Returns the reply length or -1. */
static int redis(uint16_t port, const char *cmd, char *buf, size_t len,
                 int timeout_ms)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int n = -1;
    if (s < 0 || connect(s, (struct sockaddr *)&sin, sizeof sin) < 0)
        goto out;
    if (write(s, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
        goto out;
    struct pollfd p = {s, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1)
        goto out;
    n = (int)read(s, buf, len - 1);
    if (n >= 0)
        buf[n] = 0;
out:
    if (s >= 0)
        close(s);
    return n;
}

static uint16_t port_of(const struct qemu_vm *vm)
{
    return qemu_vm_host_port(vm, 6379);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s IMAGE_DIR STATE_FILE\n", argv[0]);
        return 2;
    }
    struct lvm_err err;
    char ebuf[LVM_ERR_MSG_MAX + 64], reply[256];
    struct tinyx_manifest m;
    if (tinyx_manifest_load(argv[1], &m, &err) < 0) {
        fprintf(stderr, "%s\n", lvm_err_str(&err, ebuf, sizeof ebuf));
        return 1;
    }
    struct qemu_vm_config cfg;
    qemu_config_from_image(&m, &cfg);
    cfg.quiet = 1;
    struct qemu_vm *vm = NULL, *vm2 = NULL;
    if (qemu_vm_start(&cfg, -1, &vm, &err) < 0) {
        fprintf(stderr, "%s\n", lvm_err_str(&err, ebuf, sizeof ebuf));
        return 1;
    }
    int up = qemu_vm_wait_answer(vm, &m, BOOT_MS, &err) == 0;
    step(up, "start: the guest answers through its forwarded port");
    if (!up) {
        fprintf(stderr, "%s\n", lvm_err_str(&err, ebuf, sizeof ebuf));
        goto out;
    }
    step(vm->pid > 0 && vm->console_fd >= 0, "the VM exposes QEMU's pid "
                                             "and the console fd");
    uint16_t port = port_of(vm);
    step(redis(port, "SET lightvm saved\r\n", reply, sizeof reply, 10000) > 0 &&
             !strncmp(reply, "+OK", 3),
         "SET before the save");

    step(qemu_vm_pause(vm, &err) == 0, "pause (QMP stop)");
    step(redis(port, "PING\r\n", reply, sizeof reply, 500) <= 0 ||
             strncmp(reply, "+PONG", 5),
         "a paused guest does not answer");
    step(qemu_vm_resume(vm, &err) == 0, "resume (QMP cont)");
    step(redis(port, "PING\r\n", reply, sizeof reply, 10000) > 0 &&
             !strncmp(reply, "+PONG", 5),
         "a resumed guest answers PING with PONG");

    step(qemu_vm_save(vm, argv[2], &err) == 0, "save to a state file");
    step(access(argv[2], R_OK) == 0, "the state file exists");
    qemu_vm_kill(vm, 0);
    qemu_vm_wait(vm, 10000, &err);
    qemu_vm_free(vm);
    vm = NULL;

    /* The same forwards: the restored guest's network state expects the
     * same guest port; the host port is picked afresh. */
    if (qemu_vm_restore(&cfg, argv[2], -1, &vm2, &err) < 0) {
        step(0, "restore from the state file");
        fprintf(stderr, "%s\n", lvm_err_str(&err, ebuf, sizeof ebuf));
        goto out;
    }
    step(1, "restore from the state file");
    port = port_of(vm2);
    int got = 0;
    /* Bounded attempts: slirp in the new QEMU may need a moment for the
     * first connection; each attempt waits for an answer. */
    for (int i = 0; i < 20 && !got; i++)
        got = redis(port, "GET lightvm\r\n", reply, sizeof reply, 3000) > 0 &&
              strstr(reply, "saved") != NULL;
    step(got, "the restored guest still has the value SET before the save");

    step(qemu_vm_stop(vm2, 20000, &err) == 0, "power off");
    struct guest_exit ex;
    step(qemu_vm_reap(vm2, &ex, &err) == 0 && ex.kind == GUEST_EXITED &&
             ex.code == 0,
         "redis exited 0 after the power-off request");
out:
    qemu_vm_free(vm);
    qemu_vm_free(vm2);
    unlink(argv[2]);
    printf("%s\n", failures ? "lifecycle FAILED" : "lifecycle passed");
    return failures ? 1 : 0;
}
