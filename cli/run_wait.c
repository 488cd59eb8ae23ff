/*
 * run_wait.c: what every `lightvm run` engine waits on besides its guest:
 * Ctrl-C (and SIGTERM, SIGHUP) and the --timeout, as pollable fds.
 */
#include "cli/run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

int waitset_open(struct waitset *w, double timeout, struct lvm_err *err)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed console pipe must not kill us */
    w->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    w->timerfd = -1;
    if (w->sigfd < 0)
        return lvm_err_set(err, errno, "set up signals");
    if (timeout > 0) {
        w->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        struct itimerspec its = {
            {0, 0}, {(time_t)timeout, (long)(fmod(timeout, 1.0) * 1e9)}};
        if (w->timerfd < 0 || timerfd_settime(w->timerfd, 0, &its, NULL) < 0)
            return lvm_err_set(err, errno, "set up the timeout");
    }
    return 0;
}

void waitset_close(struct waitset *w)
{
    if (w->sigfd >= 0)
        close(w->sigfd);
    if (w->timerfd >= 0)
        close(w->timerfd);
}

int waitset_event(struct waitset *w, const struct pollfd *p)
{
    int what = 0;
    if (p[0].revents & POLLIN) {
        struct signalfd_siginfo si;
        while (read(w->sigfd, &si, sizeof si) == sizeof si)
            what = ++w->interrupts == 1 ? 1 : 2;
    }
    if (w->timerfd >= 0 && (p[1].revents & POLLIN)) {
        uint64_t n;
        if (read(w->timerfd, &n, sizeof n) == sizeof n) {
            w->timed_out = 1;
            what = 3;
        }
    }
    return what;
}

int run_open_console(const char *path, struct lvm_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return lvm_err_set(err, errno, "open console file %s", path);
    return fd;
}
