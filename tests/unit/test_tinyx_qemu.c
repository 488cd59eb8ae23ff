/*
 * test_tinyx_qemu.c: unit tests of the qemu monitor's pure parts: the
 * QEMU command line, the control-channel messages and QMP parsing.
 */
#include "toolstack/qemu/qemu.h"
#include "toolstack/qemu/qemu_qmp.h"
#include "toolstack/qemu/qemu_qmpa.h"
#include "toolstack/qemu/qemu_volume.h"
#include "toolstack/qemu/qemu_xframe.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static int has(const struct qemu_argv *a, const char *s)
{
    for (int i = 0; i < a->argc; i++)
        if (!strcmp(a->argv[i], s))
            return 1;
    return 0;
}

static int index_of(const struct qemu_argv *a, const char *s)
{
    for (int i = 0; i < a->argc; i++)
        if (!strcmp(a->argv[i], s))
            return i;
    return -1;
}

static const char *after(const struct qemu_argv *a, const char *opt)
{
    for (int i = 0; i + 1 < a->argc; i++)
        if (!strcmp(a->argv[i], opt))
            return a->argv[i + 1];
    return NULL;
}

static void argv_tcg_user_net(void **state)
{
    struct qemu_vm_config c;
    memset(&c, 0, sizeof c);
    c.kernel = "/k/vmlinux";
    c.initrd = "/i/initramfs.cpio.zst";
    c.net = QEMU_NET_USER;
    c.nfwd = 1;
    c.fwd[0] = (struct qemu_fwd){"127.0.0.1", 16379, 6379};
    c.quiet = 1;
    struct qemu_fds fds = {.console = 3, .ctl = 4, .qmp = 5, .tap = -1};
    struct qemu_argv *a = malloc(sizeof *a);
    struct lvm_err err;
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 2300000, a, &err), 0);
    assert_string_equal(a->argv[0], "qemu-system-x86_64");
    assert_non_null(strstr(after(a, "-M"), "microvm"));
    assert_non_null(strstr(after(a, "-M"), "acpi=off"));
    assert_non_null(strstr(after(a, "-M"), "pit=on"));
    assert_string_equal(after(a, "-accel"), "tcg,tb-size=64");
    assert_string_equal(after(a, "-cpu"), "max");
    assert_string_equal(after(a, "-m"), "128M"); /* a tiny kernel's default */
    assert_true(has(a, "-no-reboot"));
    assert_true(has(a, "socket,id=con,fd=3"));
    assert_true(has(a, "socket,id=ctl,fd=4"));
    assert_true(has(a, "socket,id=qmp,fd=5"));
    assert_true(has(a, "isa-serial,chardev=ctl,iobase=0x2f8,irq=3"));
    const char *append = after(a, "-append");
    assert_non_null(strstr(append, "tsc_early_khz=2300000"));
    assert_non_null(strstr(append, "tinyx.ip=10.0.2.15/24"));
    assert_non_null(strstr(append, "tinyx.ctl=ttyS1"));
    assert_non_null(strstr(append, " quiet"));
    assert_string_equal(after(a, "-netdev"),
                        "user,id=n0,hostfwd=tcp:127.0.0.1:16379-:6379");
    assert_null(after(a, "-incoming"));
    free(a);
}

static void argv_kvm_tap_acpi(void **state)
{
    struct qemu_vm_config c;
    memset(&c, 0, sizeof c);
    c.kernel = "/boot/vmlinuz-6.1.0-cloud-amd64";
    c.initrd = "/i/x.cpio.gz";
    c.acpi = 1;
    c.net = QEMU_NET_TAP;
    c.tap_fd = 9;
    snprintf(c.guest_ip, sizeof c.guest_ip, "10.9.0.2/24");
    snprintf(c.mac, sizeof c.mac, "52:54:00:12:34:56");
    c.mem = 64ull << 20;
    c.incoming = "/tmp/state";
    c.disks[0] = (struct qemu_disk){.fd = 10, .readonly = 1, .serial = "root"};
    c.disks[1] = (struct qemu_disk){.fd = 11};
    c.ndisks = 2;
    struct qemu_fds fds = {.console = 3, .ctl = 4, .qmp = 5, .tap = 6};
    struct qemu_argv *a = malloc(sizeof *a);
    struct lvm_err err;
    assert_int_equal(qemu_build_argv(&c, &fds, 1, 0, a, &err), 0);
    assert_string_equal(after(a, "-accel"), "kvm");
    assert_string_equal(after(a, "-cpu"), "host");
    assert_non_null(strstr(after(a, "-M"), "acpi=on"));
    assert_string_equal(after(a, "-netdev"), "tap,id=n0,fd=6");
    assert_string_equal(after(a, "-device"),
                        "isa-serial,chardev=ctl,iobase=0x2f8,irq=3");
    assert_true(has(a, "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56"));
    assert_null(strstr(after(a, "-append"), "tsc_early_khz"));
    assert_null(strstr(after(a, "-append"), "tinyx.gw"));
    assert_string_equal(after(a, "-incoming"), "defer");
    assert_true(has(a, "fd=10,set=3"));
    assert_true(has(a, "fd=11,set=4"));
    assert_string_equal(after(a, "-drive"),
                        "file=/dev/fdset/3,if=none,id=disk0,format=raw,"
                        "readonly=on");
    assert_true(has(a, "file=/dev/fdset/4,if=none,id=disk1,format=raw,"
                       "readonly=off"));
    assert_true(has(a, "virtio-blk-device,drive=disk0,serial=root"));
    /* no serial given: disk<N> */
    assert_true(has(a, "virtio-blk-device,drive=disk1,serial=disk1"));
    assert_string_equal(after(a, "-m"), "64M");
    free(a);
}

/* NICs after the first: a tap fd, a virtio-net device with its MAC and
 * a tinyx.nic word each, and the first NIC's MAC for the init. */
static void argv_several_nics(void **state)
{
    (void)state;
    struct qemu_vm_config c;
    memset(&c, 0, sizeof c);
    c.kernel = "/k";
    c.initrd = "/i";
    c.net = QEMU_NET_TAP;
    c.tap_fd = 9;
    snprintf(c.guest_ip, sizeof c.guest_ip, "10.9.0.2/24");
    snprintf(c.gateway, sizeof c.gateway, "10.9.0.1");
    snprintf(c.mac, sizeof c.mac, "46:00:00:00:00:01");
    c.xnic[0] = (struct qemu_xnic){12, "46:00:00:00:00:02", "10.8.0.2/16"};
    c.xnic[1] = (struct qemu_xnic){13, "46:00:00:00:00:03", "10.7.0.2/24"};
    c.nxnics = 2;
    struct qemu_fds fds = {
        .console = 3, .ctl = 4, .qmp = 5, .tap = 6, .xtap = 20};
    struct qemu_argv *a = malloc(sizeof *a);
    struct lvm_err err;
    assert_int_equal(qemu_build_argv(&c, &fds, 1, 0, a, &err), 0);
    assert_true(has(a, "tap,id=n0,fd=6"));
    assert_true(has(a, "tap,id=n1,fd=20"));
    assert_true(has(a, "tap,id=n2,fd=21"));
    assert_true(has(a, "virtio-net-device,netdev=n0,mac=46:00:00:00:00:01"));
    assert_true(has(a, "virtio-net-device,netdev=n1,mac=46:00:00:00:00:02"));
    assert_true(has(a, "virtio-net-device,netdev=n2,mac=46:00:00:00:00:03"));
    const char *ap = after(a, "-append");
    assert_non_null(strstr(ap, "tinyx.ip=10.9.0.2/24 tinyx.gw=10.9.0.1"));
    assert_non_null(strstr(ap, "tinyx.mac=46:00:00:00:00:01"));
    assert_non_null(strstr(ap, "tinyx.nic=46:00:00:00:00:02,10.8.0.2/16 "
                               "tinyx.nic=46:00:00:00:00:03,10.7.0.2/24"));
    /* Refused in one line: no fds for them, user-mode networking, a MAC
     * that would smuggle an option in. */
    struct qemu_fds nox = fds;
    nox.xtap = 0;
    assert_int_equal(qemu_build_argv(&c, &nox, 1, 0, a, &err), -1);
    c.net = QEMU_NET_USER;
    assert_int_equal(qemu_build_argv(&c, &fds, 1, 0, a, &err), -1);
    c.net = QEMU_NET_TAP;
    snprintf(c.xnic[1].mac, sizeof c.xnic[1].mac, "46:00,script=x");
    assert_int_equal(qemu_build_argv(&c, &fds, 1, 0, a, &err), -1);
    assert_non_null(strstr(err.msg, "NIC 2"));
    free(a);
}

static void argv_rejects_bad_config(void **state)
{
    struct qemu_vm_config c;
    memset(&c, 0, sizeof c);
    struct qemu_fds fds = {.console = 3, .ctl = 4, .qmp = 5, .tap = -1};
    struct qemu_argv *a = malloc(sizeof *a);
    struct lvm_err err;
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), -1);
    c.kernel = "/k";
    c.initrd = "/i";
    c.mem = 1 << 20;
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), -1);
    assert_non_null(strstr(err.msg, "memory"));
    c.mem = 0;
    c.net = QEMU_NET_TAP;
    c.tap_fd = -1;
    c.tap_ifname = "tap0,script=/tmp/evil";
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), -1);
    c.net = QEMU_NET_NONE;
    /* a serial could smuggle options into -device */
    c.disks[0] = (struct qemu_disk){.fd = 10, .serial = "r,drive=x"};
    c.ndisks = 1;
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), -1);
    assert_non_null(strstr(err.msg, "serial"));
    c.disks[0].serial = "root";
    c.disks[1] = (struct qemu_disk){.fd = 11, .serial = "root"};
    c.ndisks = 2;
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), -1);
    assert_non_null(strstr(err.msg, "two disks"));
    c.disks[1].serial = "abcdefghijklmnopqrstu"; /* 21 bytes */
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), -1);
    c.ndisks = QEMU_MAX_DISKS + 1;
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), -1);
    assert_true(qemu_disk_serial_ok("rootfs.erofs-1"));
    assert_false(qemu_disk_serial_ok(""));
    assert_false(qemu_disk_serial_ok("a b"));
    free(a);
}

/* lightvmd's guests: QEMU serves its channels and writes its files. */
static void argv_detached(void **state)
{
    struct qemu_vm_config c;
    memset(&c, 0, sizeof c);
    c.kernel = "/k/vmlinux";
    c.initrd = "/i/initramfs.cpio.gz";
    c.net = QEMU_NET_USER;
    struct qemu_fds fds = {.console = 3,
                           .ctl = 4,
                           .qmp = 5,
                           .tap = -1,
                           .listen = 1,
                           .console_file = 1,
                           .ctl_log = 7};
    struct qemu_argv *a = malloc(sizeof *a);
    struct lvm_err err;
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), 0);
    /* Files go in open, as fd sets QEMU's opens take by name: it may not
     * open them itself (docs/security.md, "QEMU's sandbox"). */
    assert_true(has(a, "fd=3,set=1"));
    assert_true(has(a, "fd=7,set=2"));
    assert_true(has(a, "file,id=con,path=/dev/fdset/1,append=on"));
    assert_true(has(a, "socket,id=ctl,fd=4,server=on,wait=off,"
                       "logfile=/dev/fdset/2,logappend=on"));
    assert_true(has(a, "socket,id=qmp,fd=5,server=on,wait=off"));
    assert_string_equal(after(a, "-netdev"), "user,id=n0");
    /* the fd sets come before the chardevs that use them */
    assert_true(index_of(a, "fd=7,set=2") >= 0 &&
                index_of(a, "fd=7,set=2") <
                    index_of(a, "file,id=con,path=/dev/fdset/1,append=on"));
    free(a);
}

/* Every QEMU gets its own seccomp filter, whoever starts it. */
static void argv_sandbox(void **state)
{
    struct qemu_vm_config c;
    memset(&c, 0, sizeof c);
    c.kernel = "/kernel";
    c.initrd = "/initrd";
    struct qemu_fds fds = {.console = 3, .ctl = 4, .qmp = 5, .tap = -1};
    struct qemu_argv *a = malloc(sizeof *a);
    struct lvm_err err;
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), 0);
    assert_string_equal(after(a, "-sandbox"),
                        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
                        "resourcecontrol=deny");
    assert_null(after(a, "-add-fd")); /* a socket console, no ctl log */
    assert_true(has(a, "socket,id=ctl,fd=4"));
    free(a);
}

static void port_forwards(void **state)
{
    struct qemu_fwd f;
    assert_int_equal(qemu_fwd_parse("0:6379", &f), 0);
    assert_int_equal(f.host_port, 0);
    assert_int_equal(f.guest_port, 6379);
    assert_string_equal(f.host_addr, "");
    assert_int_equal(qemu_fwd_parse("127.0.0.2:8080:80", &f), 0);
    assert_string_equal(f.host_addr, "127.0.0.2");
    assert_int_equal(f.host_port, 8080);
    assert_int_equal(f.guest_port, 80);
    const char *bad[] = {
        "80",    ":80",      "80:",           "1:0",   "x:1",    "1:70000",
        "-1:80", "host:1:2", "1.2.3.4.5:1:2", "::1:2", "1:2:3:4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(qemu_fwd_parse(bad[i], &f), -1);
}

static void exit_descriptions(void **state)
{
    struct qemu_guest_state gs;
    memset(&gs, 0, sizeof gs);
    struct guest_exit ex;
    struct qemu_exit_facts f = {.gs = &gs, .have_status = 1};
    gs.have_exit = 1;
    gs.exit_status = 7;
    qemu_exit_describe(&f, &ex);
    assert_int_equal(ex.kind, GUEST_EXITED);
    assert_int_equal(ex.code, 7);
    gs.signaled = 1;
    gs.exit_status = 11;
    qemu_exit_describe(&f, &ex);
    assert_int_equal(ex.kind, GUEST_CRASHED);
    assert_int_equal(ex.code, 139);
    f.killed = 1; /* ours wins over what the guest said */
    qemu_exit_describe(&f, &ex);
    assert_int_equal(ex.kind, GUEST_KILLED);
    assert_int_equal(ex.code, 137);
    memset(&gs, 0, sizeof gs);
    f = (struct qemu_exit_facts){.gs = &gs, .oom_kills = 1};
    qemu_exit_describe(&f, &ex);
    assert_int_equal(ex.kind, GUEST_OOM);
    f.oom_kills = 0; /* adopted, no report, no status */
    qemu_exit_describe(&f, &ex);
    assert_int_equal(ex.kind, GUEST_UNKNOWN);
    f.have_status = 1;
    f.wait_code = 1; /* CLD_EXITED */
    f.wait_status = 1;
    f.log_line = "qemu: cannot set up guest memory";
    qemu_exit_describe(&f, &ex);
    assert_int_equal(ex.kind, GUEST_SETUP);
    assert_int_equal(ex.code, 125);
    assert_non_null(strstr(ex.detail, "cannot set up guest memory"));
}

static void control_messages(void **state)
{
    struct qemu_guest_state gs;
    memset(&gs, 0, sizeof gs);
    assert_int_equal(qemu_control_line(&gs, "tinyx boot 812", 1), 0);
    assert_true(gs.booted);
    assert_int_equal(gs.boot_ms, 812);
    assert_int_equal(qemu_control_line(&gs, "tinyx ready 1020", 99), 0);
    assert_true(gs.ready);
    assert_int_equal(gs.ready_ns, 99);
    assert_int_equal(qemu_control_line(&gs, "tinyx signal 11", 1), 0);
    assert_true(gs.have_exit && gs.signaled && gs.exit_status == 11);
    assert_int_equal(qemu_control_line(&gs, "tinyx exit 300", 1), 0);
    assert_int_equal(gs.exit_status, 300 & 0xff);
    assert_int_equal(qemu_control_line(&gs, "tinyx error exec /x: ENOENT", 1),
                     0);
    assert_string_equal(gs.error, "exec /x: ENOENT");
    assert_int_equal(qemu_control_line(&gs, "garbage", 1), -1);
    assert_int_equal(qemu_control_line(&gs, "tinyx nonsense", 1), -1);
}

static void qmp_messages(void **state)
{
    struct qmp_msg m;
    const char *greet = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}";
    assert_int_equal(qmp_parse(greet, strlen(greet), &m), 0);
    assert_int_equal(m.kind, QMP_GREETING);
    json_decref(m.root);
    const char *ret = "{\"return\": {\"running\": true}}\r\n";
    assert_int_equal(qmp_parse(ret, strlen(ret), &m), 0);
    assert_int_equal(m.kind, QMP_RETURN);
    assert_true(json_is_true(json_object_get(m.ret, "running")));
    json_decref(m.root);
    const char *e = "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                    "\"no\"}}";
    assert_int_equal(qmp_parse(e, strlen(e), &m), 0);
    assert_int_equal(m.kind, QMP_ERROR);
    assert_string_equal(m.desc, "no");
    json_decref(m.root);
    const char *ev = "{\"event\": \"MIGRATION\", \"data\": {\"status\": "
                     "\"completed\"}, \"timestamp\": {}}";
    assert_int_equal(qmp_parse(ev, strlen(ev), &m), 0);
    assert_int_equal(m.kind, QMP_EVENT);
    assert_string_equal(m.status, "completed");
    json_decref(m.root);
    assert_int_equal(qmp_parse("{\"x\": 1}", 8, &m), -1);
    assert_int_equal(qmp_parse("not json", 8, &m), -1);
    assert_int_equal(qmp_parse("{\"error\": 3}", 12, &m), -1);
}

/* Asynchronous QMP: replies found by id whatever their order, events
 * apart, the greeting skipped, a bounded number in flight, and a reply
 * nobody asked for ends the connection. */
static int replies, events, whats[4], kinds[4];

static void on_reply(void *arg, int what, const struct qmp_msg *m)
{
    (void)arg;
    if (replies < 4) {
        whats[replies] = what;
        kinds[replies] = (int)m->kind;
    }
    replies++;
}

static void on_event(void *arg, const struct qmp_msg *m)
{
    (void)arg;
    if (!strcmp(m->event, "MIGRATION") && !strcmp(m->status, "completed"))
        events++;
}

static void put(int fd, const char *s)
{
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void qmp_async(void **state)
{
    int sv[2];
    assert_int_equal(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
        0);
    struct qmpa *q = qmpa_new(sv[0], on_event, NULL);
    struct lvm_err err;
    assert_int_equal(qmpa_send(q, "stop", NULL, -1, on_reply, NULL, 7, &err),
                     0);
    assert_int_equal(qmpa_send(q, "getfd", json_pack("{s:s}", "fdname", "x"),
                               sv[1], on_reply, NULL, 8, &err),
                     0);
    assert_int_equal(qmpa_pending(q), 2);
    char buf[512];
    ssize_t n = read(sv[1], buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = 0;
    assert_non_null(strstr(buf, "\"execute\":\"stop\",\"id\":1}\n"));
    assert_non_null(strstr(buf, "\"fdname\":\"x\""));
    /* greeting, an event, then the answers in the other order */
    put(sv[1], "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
    put(sv[1], "{\"event\": \"MIGRATION\", \"data\": {\"status\": "
               "\"completed\"}}\r\n");
    put(sv[1], "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, "
               "\"id\": 2}\r\n{\"return\": {}, \"id\": 1}\r\n{\"ret");
    assert_int_equal(qmpa_input(q), 0);
    assert_int_equal(replies, 2);
    assert_int_equal(events, 1);
    assert_int_equal(whats[0], 8);
    assert_int_equal(kinds[0], QMP_ERROR);
    assert_int_equal(whats[1], 7);
    assert_int_equal(kinds[1], QMP_RETURN);
    assert_int_equal(qmpa_pending(q), 0);
    /* at most QMPA_MAX_PENDING unanswered */
    for (int i = 0; i < QMPA_MAX_PENDING; i++)
        assert_int_equal(
            qmpa_send(q, "cont", NULL, -1, on_reply, NULL, i, &err), 0);
    assert_int_equal(qmpa_send(q, "cont", NULL, -1, on_reply, NULL, 99, &err),
                     -1);
    /* the rest of a line split across reads, for nobody: the end */
    put(sv[1], "urn\": {}, \"id\": 999}\r\n");
    assert_int_equal(qmpa_input(q), -1);
    qmpa_free(q);
    close(sv[1]);
}

/* The exec channel and this run's settings on the command line. */
static void argv_exec_and_runtime_conf(void **state)
{
    struct qemu_vm_config c;
    memset(&c, 0, sizeof c);
    c.kernel = "/kernel";
    c.initrd = "/initrd";
    c.runtime_conf = "env A=1\n";
    c.exec = 1;
    struct qemu_fds fds = {
        .console = 3, .ctl = 4, .qmp = 5, .tap = -1, .listen = 1, .exec = 10};
    struct qemu_argv *a = malloc(sizeof *a);
    struct lvm_err err;
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), 0);
    assert_non_null(strstr(after(a, "-append"), " tinyx.cfg=1"));
    assert_non_null(strstr(after(a, "-append"), " tinyx.exec=1"));
    assert_true(has(a, "socket,id=exec,fd=10,server=on,wait=off"));
    assert_true(has(a, "virtserialport,chardev=exec,name=lightvm.exec"));
    /* neither unless asked for */
    c.runtime_conf = NULL;
    c.exec = 0;
    assert_int_equal(qemu_build_argv(&c, &fds, 0, 0, a, &err), 0);
    assert_null(strstr(after(a, "-append"), "tinyx.cfg"));
    assert_null(strstr(after(a, "-append"), "tinyx.exec"));
    assert_false(has(a, "virtserialport,chardev=exec,name=lightvm.exec"));
    free(a);
}

static void runtime_conf_lines(void **state)
{
    char *argv[] = {"/usr/bin/sh", "-c", "echo $A"};
    char *env[] = {"A=x y=z", "PATH=/bin"};
    char *out;
    struct lvm_err err;
    assert_int_equal(qemu_runtime_conf(argv, 3, env, 2, &out, &err), 0);
    assert_string_equal(out, "arg /usr/bin/sh\narg -c\narg echo $A\n"
                             "env A=x y=z\nenv PATH=/bin\n");
    free(out);
    /* nothing given: an empty string, still a settings message */
    assert_int_equal(qemu_runtime_conf(NULL, 0, env, 1, &out, &err), 0);
    assert_string_equal(out, "env A=x y=z\n");
    free(out);
    /* what the init could not take, refused with the reason */
    char *nl[] = {"a\nb"};
    assert_int_equal(qemu_runtime_conf(nl, 1, NULL, 0, &out, &err), -1);
    assert_non_null(strstr(err.msg, "newline"));
    char *bad[] = {"1X=2"};
    assert_int_equal(qemu_runtime_conf(NULL, 0, bad, 1, &out, &err), -1);
    assert_non_null(strstr(err.msg, "NAME=VALUE"));
    char *noeq[] = {"NOVALUE"};
    assert_int_equal(qemu_runtime_conf(NULL, 0, noeq, 1, &out, &err), -1);
    char *envnl[] = {"A=1\nenv B=2"};
    assert_int_equal(qemu_runtime_conf(NULL, 0, envnl, 1, &out, &err), -1);
    static char big[70000];
    memset(big, 'x', sizeof big - 1);
    char *bigv[] = {big};
    assert_int_equal(qemu_runtime_conf(bigv, 1, NULL, 0, &out, &err), -1);
    assert_non_null(strstr(err.msg, "KiB"));
}

static void volume_targets(void **state)
{
    struct lvm_err err;
    assert_int_equal(qemu_volume_target_ok("/data", &err), 0);
    assert_int_equal(qemu_volume_target_ok("/srv/vol/", &err), 0);
    assert_int_equal(qemu_volume_target_ok("/devices", &err), 0);
    /* the guest's own, however spelt */
    static const char *const bad[] = {"/",      "/dev",    "/proc/x", "//dev",
                                      "/./sys", "/a/../b", "/a b",    "a",
                                      "/a,ro",  "/a\tb"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (qemu_volume_target_ok(bad[i], &err) == 0)
            fail_msg("target '%s' accepted", bad[i]);
    struct qemu_volume v;
    assert_int_equal(qemu_volume_parse("/img:/data:ro", &v, &err), 0);
    assert_string_equal(v.path, "/img");
    assert_string_equal(v.target, "/data");
    assert_int_equal(v.readonly, 1);
    assert_int_equal(qemu_volume_parse("/img:/data:xx", &v, &err), -1);
    assert_int_equal(qemu_volume_parse(":/data", &v, &err), -1);
}

static void exec_frames(void **state)
{
    uint8_t buf[LVM_XF_HDR + LVM_XF_MAX];
    size_t len;
    struct lvm_err err;
    char *argv[] = {"ls", "-l"};
    char *env[] = {"X=1"};
    assert_int_equal(
        xframe_start(argv, 2, env, 1, "/tmp", "1:2", buf, &len, &err), 0);
    static const char items[] = "a:ls\0a:-l\0e:X=1\0w:/tmp\0u:1:2";
    assert_int_equal(len, LVM_XF_HDR + sizeof items);
    assert_int_equal(buf[0], LVM_XF_START);
    assert_int_equal(lvm_xf_len(buf), sizeof items);
    assert_memory_equal(buf + LVM_XF_HDR, items, sizeof items);
    /* no command; a bad variable; too much */
    assert_int_equal(
        xframe_start(argv, 0, NULL, 0, NULL, NULL, buf, &len, &err), -1);
    char *bad[] = {"=1"};
    assert_int_equal(xframe_start(argv, 1, bad, 1, NULL, NULL, buf, &len, &err),
                     -1);
    static char big[5000];
    memset(big, 'a', sizeof big - 1);
    char *bigv[] = {big};
    assert_int_equal(
        xframe_start(bigv, 1, NULL, 0, NULL, NULL, buf, &len, &err), -1);
    /* reading what a guest sends: whole frames only, lies refused */
    uint8_t in[64];
    lvm_xf_header(in, LVM_XF_STDOUT, 3);
    memcpy(in + 4, "abc", 3);
    lvm_xf_header(in + 7, LVM_XF_EXIT, 4);
    memcpy(in + 11, "\x00\x03\x00\x00", 4);
    struct xframe f;
    assert_int_equal(xframe_next(in, 3, &f, &err), 0);
    assert_int_equal(xframe_next(in, 6, &f, &err), 0);
    assert_int_equal(xframe_next(in, 15, &f, &err), 7);
    assert_int_equal(f.type, LVM_XF_STDOUT);
    assert_int_equal(f.len, 3);
    assert_int_equal(xframe_next(in + 7, 8, &f, &err), 8);
    assert_int_equal(xframe_u32(&f), 0x300);
    lvm_xf_header(in, LVM_XF_EXIT, 2);
    assert_int_equal(xframe_next(in, 6, &f, &err), -1);
    lvm_xf_header(in, 77, 0);
    assert_int_equal(xframe_next(in, 4, &f, &err), -1);
    lvm_xf_header(in, LVM_XF_STDERR, LVM_XF_MAX + 1);
    assert_int_equal(xframe_next(in, 4, &f, &err), -1);
    assert_non_null(strstr(err.msg, "exec channel"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(argv_tcg_user_net),
        cmocka_unit_test(argv_kvm_tap_acpi),
        cmocka_unit_test(argv_several_nics),
        cmocka_unit_test(argv_rejects_bad_config),
        cmocka_unit_test(argv_detached),
        cmocka_unit_test(argv_sandbox),
        cmocka_unit_test(port_forwards),
        cmocka_unit_test(exit_descriptions),
        cmocka_unit_test(control_messages),
        cmocka_unit_test(qmp_messages),
        cmocka_unit_test(qmp_async),
        cmocka_unit_test(argv_exec_and_runtime_conf),
        cmocka_unit_test(runtime_conf_lines),
        cmocka_unit_test(exec_frames),
        cmocka_unit_test(volume_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
