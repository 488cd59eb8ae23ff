/*
 * test_oci.c: lightvm-runtime's pure parts: runc's argument forms
 * (oci/args.c), config.json to a bundle (oci/config.c) and cgroupsPath to
 * a cgroup, in both of its forms.
 */
#include "unit.h"

#include "oci/args.h"
#include "oci/config.h"

static const char *bundle, *pid_file, *root;
static int force, all;
static const struct oci_opt opts[] = {
    {"bundle", 'b', 1, &bundle, NULL},  {"pid-file", 0, 1, &pid_file, NULL},
    {"force", 'f', 0, NULL, &force},    {"all", 'a', 0, NULL, &all},
    {"no-subreaper", 0, 0, NULL, NULL}, {"root", 0, 1, &root, NULL},
    {NULL, 0, 0, NULL, NULL},
};

static int parse(int argc, char **argv, char **pos, int maxpos, char *err)
{
    bundle = pid_file = root = NULL;
    force = all = 0;
    return oci_args_parse(argc, argv, opts, 0, pos, maxpos, NULL, err, 256);
}

static void test_args_forms(void **state)
{
    (void)state;
    char err[256], *pos[2];
    char *a1[] = {"--bundle", "/b", "--pid-file=/p", "-no-subreaper", "id"};
    assert_int_equal(parse(5, a1, pos, 2, err), 1);
    assert_string_equal(bundle, "/b");
    assert_string_equal(pid_file, "/p");
    assert_string_equal(pos[0], "id");
    char *a2[] = {"id", "-b", "/x", "-f", "9"}; /* flags after positionals */
    assert_int_equal(parse(5, a2, pos, 2, err), 2);
    assert_string_equal(bundle, "/x");
    assert_int_equal(force, 1);
    assert_string_equal(pos[1], "9");
    char *a3[] = {"--force=false", "-a=true", "-bundle=/y", "--", "-id"};
    assert_int_equal(parse(5, a3, pos, 2, err), 1);
    assert_int_equal(force, 0);
    assert_int_equal(all, 1);
    assert_string_equal(bundle, "/y");
    assert_string_equal(pos[0], "-id");
}

static void test_args_errors(void **state)
{
    (void)state;
    char err[256], *pos[1];
    char *a1[] = {"--nope", "id"};
    assert_int_equal(parse(2, a1, pos, 1, err), -1);
    assert_string_equal(err, "flag provided but not defined: -nope");
    char *a2[] = {"id", "--bundle"};
    assert_int_equal(parse(2, a2, pos, 1, err), -1);
    assert_string_equal(err, "flag needs an argument: -bundle");
    char *a3[] = {"--force=maybe"};
    assert_int_equal(parse(1, a3, pos, 1, err), -1);
    assert_non_null(strstr(err, "invalid boolean value"));
    char *a4[] = {"a", "b"};
    assert_int_equal(parse(2, a4, pos, 1, err), -1);
    assert_string_equal(err, "unexpected argument: b");
}

static void test_args_stop_at_command(void **state)
{
    (void)state;
    char err[256];
    int next;
    char *a[] = {"--root=/r", "--debug", "create", "--bundle", "b", "id"};
    const struct oci_opt g[] = {{"root", 0, 1, &root, NULL},
                                {"debug", 0, 0, NULL, NULL},
                                {NULL, 0, 0, NULL, NULL}};
    assert_int_equal(
        oci_args_parse(6, a, g, 1, NULL, 0, &next, err, sizeof err), 0);
    assert_int_equal(next, 2);
    assert_string_equal(root, "/r");
}

#define GOOD                                                                   \
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"                \
    "\"process\":{\"args\":[\"/bin/hello\",\"x\"],\"env\":[\"A=1\"],"          \
    "\"cwd\":\"/\",\"terminal\":true},"                                        \
    "\"linux\":{\"cgroupsPath\":\"/p/c\",\"resources\":{\"memory\":{"          \
    "\"limit\":67108864},\"cpu\":{\"quota\":50000,\"period\":100000}},"        \
    "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":"       \
    "\"/run/netns/x\"}]},"                                                     \
    "\"annotations\":{\"org.lightvm.monitor\":\"kvm\",\"k\":\"v\"}}"

static void test_config_good(void **state)
{
    (void)state;
    struct oci_config c;
    char err[256];
    assert_int_equal(oci_config_parse(GOOD, strlen(GOOD), &c, err, 256), 0);
    assert_string_equal(c.root_path, "rootfs");
    assert_int_equal(c.argc, 2);
    assert_string_equal(c.argv[1], "x");
    assert_null(c.argv[2]);
    assert_int_equal(c.envc, 1);
    assert_int_equal(c.terminal, 1);
    assert_int_equal(c.memory_limit, 64 << 20);
    assert_true(c.cpus > 0.49 && c.cpus < 0.51);
    assert_string_equal(c.cgroups_path, "/p/c");
    assert_string_equal(c.netns_path, "/run/netns/x");
    assert_string_equal(c.monitor, "kvm");
    assert_non_null(strstr(c.annotations, "\"k\":\"v\""));
    oci_config_free(&c);
}

/* Each bad document is refused with a message naming what is wrong. */
static void test_config_bad(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{", "config.json: line 1"},
        {"[]", "not a JSON object"},
        {"{\"root\":{\"path\":\"r\"}}", "ociVersion is missing"},
        {"{\"ociVersion\":\"1\"}", "root is missing"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"\"}}",
         "root.path is empty"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"}}",
         "process is missing"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{}}",
         "process.args must not be empty"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{"
         "\"args\":[1]}}",
         "process.args[0] must be a string"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{"
         "\"args\":[\"a\"],\"env\":[\"NOEQUALS\"]}}",
         "is not KEY=VALUE"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{"
         "\"args\":[\"a\"],\"cwd\":\"rel\"}}",
         "not an absolute path"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{"
         "\"args\":[\"a\"]},\"linux\":{\"resources\":{\"memory\":{\"limit\":"
         "0}}}}",
         "memory.limit 0"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{"
         "\"args\":[\"a\"]},\"annotations\":{\"a\":1}}",
         "annotation \"a\" must be a string"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{"
         "\"args\":[\"a\"]},\"annotations\":{\"org.lightvm.monitor\":\"xen\"}"
         "}",
         "runs proc or kvm guests, or qemu VMs"},
        {"{\"ociVersion\":\"1\",\"ociVersion\":\"2\"}", "duplicate"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{"
         "\"args\":[\"a\"]},\"hooks\":{\"createContainer\":[{\"path\":"
         "\"/x\"}]}}",
         "which a lightvm guest does not have"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{"
         "\"args\":[\"a\"]},\"hooks\":{\"poststart\":[{\"path\":\"rel\"}]}}",
         "hooks.poststart[0] needs an absolute path"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{"
         "\"args\":[\"a\"]},\"hooks\":{\"later\":[]}}",
         "hooks.later: unknown hook kind"},
        {"{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"},\"process\":{"
         "\"args\":[\"a\"]},\"hooks\":[]}",
         "hooks must be an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct oci_config c;
        char err[256] = "";
        int r = oci_config_parse(bad[i].json, strlen(bad[i].json), &c, err,
                                 sizeof err);
        if (r == 0 || !strstr(err, bad[i].want))
            fail_msg("%s: got \"%s\", want \"%s\"", bad[i].json, err,
                     bad[i].want);
        oci_config_free(&c);
    }
}

static void cg(const char *path, int systemd, const char *want_parent,
               const char *want_name)
{
    char parent[256], name[128], err[256];
    assert_int_equal(oci_cgroup_path(path, systemd, "ID", parent, sizeof parent,
                                     name, sizeof name, err, sizeof err),
                     0);
    assert_string_equal(parent, want_parent);
    assert_string_equal(name, want_name);
}

static void test_cgroup_path(void **state)
{
    (void)state;
    cg(NULL, 0, "", "ID");
    cg("/libpod_parent/libpod-abc", 0, "libpod_parent", "libpod-abc");
    cg("/k8s.io/abc", 0, "k8s.io", "abc");
    cg("/a/b/c", 0, "a/b", "c");
    cg("top", 0, ".", "top");
    cg("machine.slice:libpod:abc", 1, "machine.slice", "libpod-abc.scope");
    cg("kubepods-besteffort-pod1.slice:cri-containerd:abc", 1,
       "kubepods.slice/kubepods-besteffort.slice/"
       "kubepods-besteffort-pod1.slice",
       "cri-containerd-abc.scope");
    cg(":x:abc", 1, "system.slice", "x-abc.scope");
    cg(NULL, 1, "system.slice", "lightvm-ID.scope");
    char p[256], n[128], err[256];
    assert_int_equal(oci_cgroup_path("only-a-name", 1, "ID", p, sizeof p, n,
                                     sizeof n, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "slice:prefix:name"));
    assert_int_equal(oci_cgroup_path("/a/../b", 0, "ID", p, sizeof p, n,
                                     sizeof n, err, sizeof err),
                     -1);
    assert_int_equal(oci_cgroup_path("/a/", 0, "ID", p, sizeof p, n, sizeof n,
                                     err, sizeof err),
                     -1);
    assert_int_equal(oci_cgroup_path("a.slice:x/y:z", 1, "ID", p, sizeof p, n,
                                     sizeof n, err, sizeof err),
                     -1);
    assert_int_equal(oci_cgroup_path("a.slice:x:../z", 1, "ID", p, sizeof p, n,
                                     sizeof n, err, sizeof err),
                     -1);
    assert_int_equal(oci_cgroup_path("bad.name:x:y", 1, "ID", p, sizeof p, n,
                                     sizeof n, err, sizeof err),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_forms),
        cmocka_unit_test(test_args_errors),
        cmocka_unit_test(test_args_stop_at_command),
        cmocka_unit_test(test_config_good),
        cmocka_unit_test(test_config_bad),
        cmocka_unit_test(test_cgroup_path),
    };
    return cmocka_run_group_tests_name("oci", tests, NULL, NULL);
}
