/*
 * qemu_runconf.c: a run's settings for the Tinyx init (a command and
 * environment given at create time), sent on the control channel before
 * anything else. The init reads "key value" lines up to "end" (see
 * tinyx/init/init_conf.c), so a value may hold anything but a newline.
 */
#include "toolstack/qemu/qemu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* What the init takes at most (its buffer), and the most variables and
 * arguments it keeps (tinyx/init/init.h). */
#define RUNCONF_MAX_BYTES (60 * 1024)
#define RUNCONF_MAX_ITEMS 64

static int valid_name(const char *s, size_t len)
{
    if (!len || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

static int append(char **buf, size_t *len, const char *key, const char *val)
{
    size_t kl = strlen(key), vl = strlen(val);
    if (*len + kl + vl + 2 > RUNCONF_MAX_BYTES)
        return -1;
    char *n = realloc(*buf, *len + kl + vl + 3);
    if (!n)
        return -1;
    *buf = n;
    memcpy(n + *len, key, kl);
    n[*len + kl] = ' ';
    memcpy(n + *len + kl + 1, val, vl);
    *len += kl + vl + 2;
    n[*len - 1] = '\n';
    n[*len] = 0;
    return 0;
}

int qemu_runtime_conf(char *const *argv, int argc, char *const *env, int envc,
                      char **out, struct lvm_err *err)
{
    *out = NULL;
    if (argc > RUNCONF_MAX_ITEMS)
        return lvm_err_set(err, E2BIG, "at most %d arguments for a qemu guest",
                           RUNCONF_MAX_ITEMS);
    if (envc > RUNCONF_MAX_ITEMS)
        return lvm_err_set(err, E2BIG,
                           "at most %d environment variables for a qemu guest",
                           RUNCONF_MAX_ITEMS);
    for (int i = 0; i < argc; i++)
        if (strchr(argv[i], '\n'))
            return lvm_err_invalid(
                err,
                "argument %d has a newline, which a qemu guest "
                "cannot be given",
                i + 1);
    if (argc && !argv[0][0])
        return lvm_err_invalid(err, "the command is empty");
    for (int i = 0; i < envc; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq || !valid_name(env[i], (size_t)(eq - env[i])))
            return lvm_err_invalid(
                err,
                "env '%.64s': expected NAME=VALUE, NAME made of "
                "letters, digits and _",
                env[i]);
        if (strchr(eq, '\n'))
            return lvm_err_invalid(err,
                                   "env %.*s: a value with a newline cannot be "
                                   "given to a qemu guest",
                                   (int)(eq - env[i]), env[i]);
    }
    char *buf = calloc(1, 1);
    size_t len = 0;
    int bad = !buf;
    for (int i = 0; !bad && i < argc; i++)
        bad = append(&buf, &len, "arg", argv[i]) < 0;
    for (int i = 0; !bad && i < envc; i++)
        bad = append(&buf, &len, "env", env[i]) < 0;
    if (bad) {
        free(buf);
        return lvm_err_set(err, E2BIG,
                           "command and environment over %d KiB in all",
                           RUNCONF_MAX_BYTES / 1024);
    }
    *out = buf;
    return 0;
}

int qemu_send_runtime_conf(int fd, const char *conf, struct lvm_err *err)
{
    /* Far below a socket's buffer: it waits there until the init reads
     * it, so a blocked write would mean something is wrong. */
    size_t len = strlen(conf);
    const char *parts[2] = {conf, "end\n"};
    size_t lens[2] = {len, 4};
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        while (off < lens[i]) {
            ssize_t n = send(fd, parts[i] + off, lens[i] - off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return lvm_err_set(err, n < 0 ? errno : EIO,
                                   "send the guest its settings");
            off += (size_t)n;
        }
    }
    return 0;
}
