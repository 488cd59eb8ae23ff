/*
 * test_tinyx_progress.c: Tinyx's progress lines (tinyx/progress.c): the
 * stage lines with their clock, and a make's output counted for the user
 * while all of it goes to the build log, as plain lines when the output
 * is not a terminal and one line redrawn in place when it is.
 */
#include "unit.h"

#include "tinyx/progress.h"

#include <fcntl.h>
#include <pty.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fake make: kbuild's quiet lines, a warning, then (status). */
static char *const fake_make[] = {
    "sh", "-c",
    "printf '  CC      kernel/fork.o\\n  AS      arch/x86/entry.o\\n"
    "warning: something\\n  LD      vmlinux\\n'; exit ${STATUS:-0}",
    NULL};

static char *read_all(FILE *f)
{
    static char buf[8192];
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    return buf;
}

static void stage_lines(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    progress_say(f, "tinyx", "resolving %s", "redis-server");
    const char *out = read_all(f);
    /* "tinyx: [m:ss] text", the clock right-aligned in five columns */
    assert_non_null(strstr(out, "tinyx: [ 0:00] resolving redis-server\n"));
    fclose(f);
    progress_say(NULL, "tinyx", "%s", "quiet: nothing, no crash");
}

static void plain_counts_and_logs(void **state)
{
    (void)state;
    FILE *f = tmpfile(), *log = tmpfile();
    assert_non_null(f);
    assert_non_null(log);
    struct lvm_err err;
    assert_int_equal(
        progress_run(fake_make, fileno(log), f, "tinyx kernel", &err), 0);
    char *out = strdup(read_all(f));
    /* Not a terminal: no escape sequences; the summary counts 3 files. */
    assert_null(strchr(out, '\r'));
    assert_null(strchr(out, '\033'));
    if (!strstr(out, "tinyx kernel: [") || !strstr(out, "compiled 3 files"))
        fail_msg("progress output: %s", out);
    free(out);
    /* The log has make's output whole. */
    const char *l = read_all(log);
    assert_non_null(strstr(l, "  CC      kernel/fork.o\n"));
    assert_non_null(strstr(l, "warning: something\n"));
    fclose(f);
    fclose(log);
}

static void failure_and_quiet(void **state)
{
    (void)state;
    FILE *log = tmpfile();
    struct lvm_err err;
    setenv("STATUS", "2", 1);
    /* --quiet (NULL): nothing shown, the log still written, the
     * failure still reported. */
    assert_int_equal(progress_run(fake_make, fileno(log), NULL, "t", &err), -1);
    unsetenv("STATUS");
    assert_non_null(strstr(err.msg, "status 2"));
    assert_non_null(strstr(read_all(log), "  LD      vmlinux"));
    fclose(log);
}

static void terminal_redraws(void **state)
{
    (void)state;
    int m, s;
    if (openpty(&m, &s, NULL, NULL, NULL) < 0)
        skip();
    FILE *f = fdopen(s, "w");
    struct lvm_err err;
    assert_int_equal(progress_run(fake_make, -1, f, "tinyx kernel", &err), 0);
    fclose(f);
    char buf[4096];
    ssize_t n = read(m, buf, sizeof buf - 1);
    close(m);
    assert_true(n > 0);
    buf[n] = 0;
    /* One line redrawn in place (\r and erase), ended by a newline, with
     * the count and the last file. */
    assert_non_null(strstr(buf, "\r\033[K"));
    if (!strstr(buf, "compiling: 3 files, vmlinux"))
        fail_msg("terminal output: %s", buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stage_lines),
        cmocka_unit_test(plain_counts_and_logs),
        cmocka_unit_test(failure_and_quiet),
        cmocka_unit_test(terminal_redraws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
