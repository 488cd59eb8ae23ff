/*
 * subreaper.c: `subreaper CMD...`: run CMD as a child subreaper, as
 * conmon and containerd's shim do, and report every process it reaps
 * (CMD and any orphan of its that reparents to us) as "reaped PID exited
 * N" or "reaped PID killed SIG", one line each, once nothing is left.
 * Exits with CMD's status. Used by tests/oci to check that an OCI
 * runtime's pid-file process is our descendant and carries the guest's
 * exit status.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: subreaper CMD [ARGS...]\n");
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
        perror("subreaper: PR_SET_CHILD_SUBREAPER");
        return 2;
    }
    pid_t child = fork();
    if (child < 0) {
        perror("subreaper: fork");
        return 2;
    }
    if (child == 0) {
        execvp(argv[1], argv + 1);
        perror("subreaper: exec");
        _exit(127);
    }
    int code = 2, status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, 0)) > 0 || errno == EINTR) {
        if (pid < 0)
            continue;
        if (WIFEXITED(status))
            printf("reaped %d exited %d\n", (int)pid, WEXITSTATUS(status));
        else
            printf("reaped %d killed %d\n", (int)pid, WTERMSIG(status));
        fflush(stdout);
        if (pid == child)
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    }
    return code;
}
