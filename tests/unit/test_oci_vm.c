/*
 * test_oci_vm.c: a VM container's pure parts: config.json to the Tinyx
 * init's configuration (oci/vm_conf.c) and the root image cache's key
 * over a tree (oci/vm_image.c).
 */
#include "unit.h"

#include "oci/vm_conf.h"
#include "oci/vm_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* What podman 4.3 writes, trimmed: its mounts, a user, rlimits. */
static const char podman_config[] =
    "{\"ociVersion\": \"1.0.0\","
    " \"process\": {\"terminal\": false,"
    "   \"user\": {\"uid\": 999, \"gid\": 998, \"additionalGids\": [998, 5]},"
    "   \"args\": [\"redis-server\", \"--save\", \"\"],"
    "   \"env\": [\"PATH=/usr/bin:/bin\", \"HOME=/data\", \"A=b c\"],"
    "   \"cwd\": \"/data\","
    "   \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1048576,"
    "                 \"soft\": 1048576}]},"
    " \"root\": {\"path\": \"/var/lib/x/merged\"},"
    " \"hostname\": \"abc123\","
    " \"mounts\": ["
    "  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
    "  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
    "   \"options\": [\"nosuid\", \"strictatime\", \"mode=755\"]},"
    "  {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\"},"
    "  {\"destination\": \"/dev/pts\", \"type\": \"devpts\","
    "   \"source\": \"devpts\", \"options\": [\"nosuid\", \"newinstance\","
    "   \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]},"
    "  {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\","
    "   \"source\": \"mqueue\"},"
    "  {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\","
    "   \"source\": \"cgroup\"},"
    "  {\"destination\": \"/dev/shm\", \"type\": \"bind\","
    "   \"source\": \"/var/lib/x/shm\", \"options\": [\"bind\", \"private\"]},"
    "  {\"destination\": \"/etc/hosts\", \"type\": \"bind\","
    "   \"source\": \"/run/x/hosts\", \"options\": [\"bind\", \"rprivate\"]},"
    "  {\"destination\": \"/run/.containerenv\", \"type\": \"bind\","
    "   \"source\": \"/run/x/.containerenv\", \"options\": [\"bind\"]},"
    "  {\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
    "   \"options\": [\"rw\", \"size=64m\"]}],"
    " \"linux\": {}}";

static const char expected[] =
    "# written by lightvm-runtime: the container's root\n"
    "mount serial:lvm-root /lvm/lower erofs ro\n"
    "mount tmpfs /lvm/rw tmpfs mode=0755\n"
    "mount overlay /lvm/root overlay "
    "lowerdir=/lvm/lower,upperdir=/lvm/rw/upper,workdir=/lvm/rw/work\n"
    "root /lvm/root\n"
    "mount devpts /dev/pts devpts "
    "nosuid,newinstance,ptmxmode=0666,mode=0620,gid=5\n"
    "mount tmpfs /dev/shm tmpfs nosuid,nodev,mode=1777\n"
    "copy /files/0 /etc/hosts\n"
    "copy /files/1 /run/.containerenv\n"
    "mount tmpfs /tmp tmpfs rw,size=64m\n"
    "arg redis-server\n"
    "arg --save\n"
    "arg \n"
    "env PATH=/usr/bin:/bin\n"
    "env HOME=/data\n"
    "env A=b c\n"
    "cwd /data\n"
    "uid 999\n"
    "gid 998\n"
    "groups 998,5\n"
    "rlimit RLIMIT_NOFILE 1048576 1048576\n"
    "hostname abc123\n";

static void conf_of_podman_config(void **state)
{
    (void)state;
    struct oci_vm_conf vc;
    char err[256];
    assert_int_equal(oci_vm_conf_build(podman_config, strlen(podman_config),
                                       &vc, err, sizeof err),
                     0);
    assert_string_equal(vc.init_conf, expected);
    assert_int_equal(vc.nfiles, 2);
    assert_string_equal(vc.files[0].source, "/run/x/hosts");
    assert_string_equal(vc.files[1].destination, "/run/.containerenv");
    oci_vm_conf_free(&vc);
}

/* Each bad config: refused in one line naming what is wrong. */
static void conf_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"process\": {\"args\": [\"a\\nb\"]}}",
         "process.args[0] holds a newline"},
        {"{\"process\": {\"args\": [\"a\"], \"env\": [\"X=1\\n\"]}}",
         "process.env[0] holds a newline"},
        {"{\"process\": {\"args\": [\"a\"], \"user\": {\"uid\": \"root\"}}}",
         "uid and gid must be numbers"},
        {"{\"process\": {\"args\": [\"a\"], \"user\": {\"uid\": -1}}}",
         "uid and gid must be numbers"},
        {"{\"mounts\": [{\"destination\": \"/n\", \"type\": \"nfs\"}]}",
         "mount /n: type \"nfs\" is not supported"},
        {"{\"mounts\": [{\"destination\": \"rel\", \"type\": \"tmpfs\"}]}",
         "mounts[0].destination must be an absolute path"},
        {"{\"mounts\": [{\"destination\": \"/a b\", \"type\": \"tmpfs\"}]}",
         "mounts[0].destination must be an absolute path"},
        {"{\"mounts\": [{\"destination\": \"/t\", \"type\": \"tmpfs\","
         " \"options\": [\"a,b\"]}]}",
         "mounts[0] (/t): bad options"},
        {"{\"mounts\": [{\"destination\": \"/f\", \"type\": \"bind\"}]}",
         "bind mount without a usable source"},
        {"{\"mounts\": {}}", "mounts must be an array"},
        {"{\"hostname\": \"a b\"}", "hostname holds a space"},
        {"{\"process\": {\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\"}]}}",
         "process.rlimits[0] needs type, soft and hard"},
        {"not json", "config.json: line 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct oci_vm_conf vc;
        char err[256] = "";
        assert_int_equal(oci_vm_conf_build(bad[i].json, strlen(bad[i].json),
                                           &vc, err, sizeof err),
                         -1);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].want);
        assert_null(strchr(err, '\n'));
        assert_null(vc.init_conf);
    }
    /* More file binds than the initramfs takes. */
    char big[8192] = "{\"mounts\": [";
    for (int i = 0; i <= OCI_VM_MAX_FILES; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big),
                 "%s{\"destination\": \"/f%d\", \"type\": \"bind\", "
                 "\"source\": \"/s\"}",
                 i ? "," : "", i);
    strcat(big, "]}");
    struct oci_vm_conf vc;
    char err[256];
    assert_int_equal(oci_vm_conf_build(big, strlen(big), &vc, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "file bind mounts"));
}

/* readonly: all of / read-only after the copies and mounts. */
static void conf_readonly_root(void **state)
{
    (void)state;
    const char *j = "{\"root\": {\"path\": \"r\", \"readonly\": true},"
                    " \"process\": {\"args\": [\"x\"]}}";
    struct oci_vm_conf vc;
    char err[256];
    assert_int_equal(oci_vm_conf_build(j, strlen(j), &vc, err, sizeof err), 0);
    assert_non_null(strstr(vc.init_conf, "root /lvm/root\n"
                                         "mount none / none remount,ro\n"));
    oci_vm_conf_free(&vc);
}

static char tree[64];

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tree, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void key(char out[65], const char *const *skip, int nskip)
{
    char err[256];
    int fd = open(tree, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    if (oci_vm_tree_key(fd, skip, nskip, out, err, sizeof err) < 0)
        fail_msg("%s", err);
    close(fd);
    assert_int_equal(strlen(out), 64);
}

static void tree_key(void **state)
{
    (void)state;
    snprintf(tree, sizeof tree, "/tmp/test_oci_vm.XXXXXX");
    assert_non_null(mkdtemp(tree));
    char p[256];
    snprintf(p, sizeof p, "%s/etc", tree);
    assert_int_equal(mkdir(p, 0755), 0);
    put("etc/hosts", "127.0.0.1 localhost\n");
    put("bin", "program");
    snprintf(p, sizeof p, "%s/etc/link", tree);
    assert_int_equal(symlink("hosts", p), 0);
    /* Fixed times: the key must not depend on when the test runs. */
    struct timeval tv[2] = {{1000000, 0}, {1000000, 0}};
    snprintf(p, sizeof p, "%s/bin", tree);
    assert_int_equal(utimes(p, tv), 0);
    snprintf(p, sizeof p, "%s/etc/hosts", tree);
    assert_int_equal(utimes(p, tv), 0);
    char k1[65], k2[65];
    key(k1, NULL, 0);
    key(k2, NULL, 0);
    assert_string_equal(k1, k2);
    /* A directory's times are not the content (podman's fresh upper). */
    snprintf(p, sizeof p, "%s/etc", tree);
    struct timeval later[2] = {{2000000, 0}, {2000000, 0}};
    assert_int_equal(utimes(p, later), 0);
    key(k2, NULL, 0);
    assert_string_equal(k1, k2);
    /* A file's size or time is. */
    put("bin", "program2");
    snprintf(p, sizeof p, "%s/bin", tree);
    assert_int_equal(utimes(p, tv), 0);
    key(k2, NULL, 0);
    assert_string_not_equal(k1, k2);
    put("bin", "program");
    assert_int_equal(utimes(p, later), 0);
    key(k2, NULL, 0);
    assert_string_not_equal(k1, k2);
    assert_int_equal(utimes(p, tv), 0);
    key(k2, NULL, 0);
    assert_string_equal(k1, k2);
    /* Its contents, whatever the metadata says: same size, same time,
     * other bytes (an image's author sets every metadata field). */
    put("bin", "prograM");
    assert_int_equal(utimes(p, tv), 0);
    key(k2, NULL, 0);
    assert_string_not_equal(k1, k2);
    put("bin", "program");
    assert_int_equal(utimes(p, tv), 0);
    key(k2, NULL, 0);
    assert_string_equal(k1, k2);
    /* A mode, a link's target. */
    assert_int_equal(chmod(p, 0700), 0);
    key(k2, NULL, 0);
    assert_string_not_equal(k1, k2);
    assert_int_equal(chmod(p, 0644), 0);
    snprintf(p, sizeof p, "%s/etc/link", tree);
    unlink(p);
    assert_int_equal(symlink("other", p), 0);
    key(k2, NULL, 0);
    assert_string_not_equal(k1, k2);
    unlink(p);
    assert_int_equal(symlink("hosts", p), 0);
    key(k2, NULL, 0);
    assert_string_equal(k1, k2);
    /* A skipped path (a file bind's place) changes nothing. */
    const char *skip[] = {"/etc/hosts"};
    char k3[65], k4[65];
    key(k3, skip, 1);
    assert_string_not_equal(k1, k3);
    put("etc/hosts", "changed by podman\n");
    key(k4, skip, 1);
    assert_string_equal(k3, k4);
    /* A new file is new content. */
    put("etc/new", "");
    key(k4, skip, 1);
    assert_string_not_equal(k3, k4);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tree);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conf_of_podman_config),
        cmocka_unit_test(conf_refusals),
        cmocka_unit_test(conf_readonly_root),
        cmocka_unit_test(tree_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
