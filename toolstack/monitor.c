/*
 * monitor.c: the registry of unikernel monitors. One line per monitor.
 */
#include "toolstack/monitor.h"

#include <string.h>

static const struct monitor_ops *const monitors[] = {
    &monitor_proc,
    &monitor_kvm,
};

#define NMONITORS (sizeof monitors / sizeof monitors[0])

const struct monitor_ops *monitor_find(const char *name,
                                       const struct lvm_host *h)
{
    if (strcmp(name, "auto") == 0) {
        /* The strongest isolation this host offers: the last available. */
        for (size_t i = NMONITORS; i-- > 0;) {
            struct lvm_err ignore;
            if (monitors[i]->available(h, &ignore) == 0)
                return monitors[i];
        }
        return NULL;
    }
    for (size_t i = 0; i < NMONITORS; i++)
        if (strcmp(monitors[i]->name, name) == 0)
            return monitors[i];
    return NULL;
}

const struct monitor_ops *monitor_of(unsigned kind)
{
    for (size_t i = 0; i < NMONITORS; i++)
        if (monitors[i]->kind == kind)
            return monitors[i];
    return NULL;
}

const char *monitor_names(void)
{
    static char buf[128];
    if (!buf[0]) {
        for (size_t i = 0; i < NMONITORS; i++) {
            strcat(buf, monitors[i]->name);
            strcat(buf, ", ");
        }
        /* Tinyx images' monitor builds no plan, so it is no monitor_ops
         * (toolstack/qemu/qemu.h); --monitor takes it all the same. */
        strcat(buf, "qemu");
    }
    return buf;
}
