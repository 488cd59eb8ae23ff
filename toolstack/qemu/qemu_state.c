/*
 * qemu_state.c: pause, resume, save and restore a guest through QMP. Save
 * is QEMU's migration into a file we open and hand over (getfd, fd: URI),
 * restore is an incoming migration from it into a new QEMU.
 */
#include "toolstack/qemu/qemu.h"
#include "toolstack/qemu/qemu_qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIGRATION_TIMEOUT_MS 120000

static int need_qmp(struct qemu_vm *vm, struct lvm_err *err)
{
    if (!vm->qmp || vm->exited)
        return lvm_err_set(err, ESRCH, "guest %s is not running", vm->name);
    return 0;
}

int qemu_vm_pause(struct qemu_vm *vm, struct lvm_err *err)
{
    if (need_qmp(vm, err) < 0 ||
        qmp_exec(vm->qmp, "stop", NULL, -1, NULL, err) < 0)
        return lvm_err_wrap(err, "pause guest %s", vm->name);
    vm->paused = 1;
    return 0;
}

int qemu_vm_resume(struct qemu_vm *vm, struct lvm_err *err)
{
    if (need_qmp(vm, err) < 0 ||
        qmp_exec(vm->qmp, "cont", NULL, -1, NULL, err) < 0)
        return lvm_err_wrap(err, "resume guest %s", vm->name);
    vm->paused = 0;
    return 0;
}

static int migration_events(struct qemu_vm *vm, struct lvm_err *err)
{
    json_t *args = json_pack("{s:[{s:s,s:b}]}", "capabilities", "capability",
                             "events", "state", 1);
    vm->qmp->migration[0] = 0;
    return qmp_exec(vm->qmp, "migrate-set-capabilities", args, -1, NULL, err);
}

/* Hand (fd) to QEMU under (name) for an fd: migration URI. */
static int give_fd(struct qemu_vm *vm, int fd, const char *name,
                   struct lvm_err *err)
{
    return qmp_exec(vm->qmp, "getfd", json_pack("{s:s}", "fdname", name), fd,
                    NULL, err);
}

int qemu_vm_save(struct qemu_vm *vm, const char *path, struct lvm_err *err)
{
    if (need_qmp(vm, err) < 0)
        return lvm_err_wrap(err, "save guest");
    if (!vm->paused && qemu_vm_pause(vm, err) < 0)
        return -1;
    /* Written under a temporary name, renamed when complete: a failed
     * save never leaves a file that looks restorable. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return lvm_err_set(err, errno, "save guest %s: create %s", vm->name,
                           tmp);
    int r = -1;
    if (migration_events(vm, err) < 0 || give_fd(vm, fd, "lvm-save", err) < 0)
        goto out;
    close(fd);
    fd = -1;
    if (qmp_exec(vm->qmp, "migrate", json_pack("{s:s}", "uri", "fd:lvm-save"),
                 -1, NULL, err) < 0 ||
        qmp_wait_migration(vm->qmp, MIGRATION_TIMEOUT_MS, err) < 0)
        goto out;
    fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
        lvm_err_set(err, errno, "write %s", path);
        goto out;
    }
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    if (r < 0) {
        unlink(tmp);
        lvm_err_wrap(err, "save guest %s to %s", vm->name, path);
    }
    return r;
}

int qemu_vm_restore(const struct qemu_vm_config *cfg, const char *path,
                    int console_out, struct qemu_vm **out, struct lvm_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lvm_err_set(err, errno, "restore from %s", path);
    struct qemu_vm_config c = *cfg;
    c.incoming = path;
    struct qemu_vm *vm;
    if (qemu_vm_start(&c, console_out, &vm, err) < 0) {
        close(fd);
        return -1;
    }
    json_t *st = NULL;
    int r = migration_events(vm, err);
    if (r == 0)
        r = give_fd(vm, fd, "lvm-restore", err);
    close(fd);
    if (r == 0)
        r = qmp_exec(vm->qmp, "migrate-incoming",
                     json_pack("{s:s}", "uri", "fd:lvm-restore"), -1, NULL,
                     err);
    if (r == 0)
        r = qmp_wait_migration(vm->qmp, MIGRATION_TIMEOUT_MS, err);
    /* A saved guest was paused; QEMU resumes it after the migration only
     * if it had not been started with -S, so ask when it is not running. */
    if (r == 0)
        r = qmp_exec(vm->qmp, "query-status", NULL, -1, &st, err);
    if (r == 0) {
        json_t *running = json_object_get(st, "running");
        if (!json_is_true(running))
            r = qemu_vm_resume(vm, err);
    }
    json_decref(st);
    if (r < 0) {
        qemu_vm_free(vm);
        return lvm_err_wrap(err, "restore guest from %s", path);
    }
    /* The init reported boot and start before the save. */
    vm->gs.booted = vm->gs.started = 1;
    *out = vm;
    return 0;
}
