/*
 * test_tinyx_parsers.c: unit tests of Tinyx's pure parts: the dpkg status
 * parser and Depends closure, the blacklist, --cmd splitting, path
 * normalisation, Kconfig fragments and the image manifest.
 */
#include "tinyx/argsplit.h"
#include "tinyx/blacklist.h"
#include "tinyx/dpkg.h"
#include "tinyx/elfdeps.h"
#include "tinyx/fileset.h"
#include "tinyx/kernel.h"
#include "tinyx/tinyx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char status[] =
    "Package: app\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Version: 1.0\n"
    "Source: appsrc (1.0-1)\n"
    "Depends: libfoo (>= 1.2), virtual-thing | missing-alt, app-data (= 1.0)\n"
    "Pre-Depends: init-helpers\n"
    "Description: an app\n"
    " with a long description\n"
    "\n"
    "Package: libfoo\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Depends: libc6\n"
    "Installed-Size: 42\n"
    "\n"
    "Package: provider\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Provides: virtual-thing (= 2)\n"
    "\n"
    "Package: app-data\n"
    "Status: install ok installed\n"
    "Architecture: all\n"
    "Source: appsrc\n"
    "\n"
    "Package: init-helpers\n"
    "Status: install ok installed\n"
    "Architecture: all\n"
    "\n"
    "Package: libc6\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Essential: yes\n"
    "Priority: required\n"
    "\n"
    "Package: gone\n"
    "Status: deinstall ok config-files\n"
    "Architecture: amd64\n";

static void dpkg_parses_status(void **state)
{
    struct dpkg_db db;
    struct lvm_err err;
    memset(&db, 0, sizeof db);
    snprintf(db.native_arch, sizeof db.native_arch, "amd64");
    assert_int_equal(dpkg_status_parse(&db, status, strlen(status), &err), 0);
    assert_int_equal(db.n, 7);
    struct dpkg_pkg *app = dpkg_find(&db, "app");
    assert_non_null(app);
    assert_string_equal(app->source, "appsrc");
    assert_non_null(strstr(app->depends, "init-helpers"));
    assert_null(dpkg_find(&db, "gone")); /* config-files only */
    struct dpkg_pkg *libfoo = dpkg_find(&db, "libfoo:amd64");
    assert_non_null(libfoo);
    assert_int_equal(libfoo->installed_kib, 42);
    assert_true(dpkg_find(&db, "libc6")->essential);
    assert_true(dpkg_find(&db, "libc6")->required);
    assert_ptr_equal(dpkg_satisfy(&db, "virtual-thing"),
                     dpkg_find(&db, "provider"));
    dpkg_db_free(&db);
}

static void dpkg_closure_follows_depends(void **state)
{
    struct dpkg_db db;
    struct lvm_err err;
    memset(&db, 0, sizeof db);
    snprintf(db.native_arch, sizeof db.native_arch, "amd64");
    assert_int_equal(dpkg_status_parse(&db, status, strlen(status), &err), 0);
    dpkg_find(&db, "app")->mark = 1;
    /* app, libfoo, libc6, provider (for virtual-thing), app-data and
     * init-helpers (Pre-Depends) */
    assert_int_equal(dpkg_closure(&db), 6);
    assert_false(dpkg_find(&db, "libc6")->mark == 0);
    dpkg_db_free(&db);
}

static int count_cb(unsigned group, const char *name, void *ctx)
{
    char *out = ctx;
    char item[80];
    snprintf(item, sizeof item, "%u:%s ", group, name);
    strcat(out, item);
    return 0;
}

static void dpkg_depends_syntax(void **state)
{
    char out[512] = "";
    dpkg_depends_each("a (>= 1), b:any | c [amd64], d <!nocheck>,", count_cb,
                      out);
    assert_string_equal(out, "0:a 1:b 1:c 2:d ");
}

static void dpkg_rejects_garbage(void **state)
{
    struct dpkg_db db;
    struct lvm_err err;
    memset(&db, 0, sizeof db);
    const char bad[] = "Package: x\nno colon here\n";
    assert_int_equal(dpkg_status_parse(&db, bad, strlen(bad), &err), -1);
    assert_non_null(strstr(err.msg, "line 2"));
    dpkg_db_free(&db);
}

static void blacklist_rules(void **state)
{
    size_t n;
    const struct blacklist_cat *cats = blacklist_categories(&n);
    assert_true(n >= 8);
    int doc = blacklist_match("/usr/share/doc/redis/copyright");
    assert_true(doc >= 0);
    assert_string_equal(cats[doc].name, "docs");
    assert_string_equal(
        cats[blacklist_match("/usr/share/man/man1/x.1.gz")].name, "man");
    assert_string_equal(cats[blacklist_match("/usr/lib/libx.a")].name,
                        "static-libs");
    assert_string_equal(
        cats[blacklist_match("/usr/lib/systemd/system/redis.service")].name,
        "service-manager");
    assert_string_equal(cats[blacklist_match("/var/lib/dpkg/info/x.list")].name,
                        "package-manager");
    assert_string_equal(cats[blacklist_match("/usr/include/stdio.h")].name,
                        "headers");
    assert_string_equal(cats[blacklist_match("/usr/share/locale/de/x.mo")].name,
                        "locales");
    assert_int_equal(blacklist_match("/usr/bin/redis-server"), -1);
    assert_int_equal(blacklist_match("/etc/redis/redis.conf"), -1);
    assert_int_equal(blacklist_match("/usr/lib/x86_64-linux-gnu/libc.so.6"),
                     -1);
    assert_int_equal(blacklist_match("/usr/share/docs-not/x"), -1);
}

static void argsplit_quoting(void **state)
{
    struct argv_list a;
    struct lvm_err err;
    assert_int_equal(argsplit("sh -c 'echo a b; exit 7'", &a, &err), 0);
    assert_int_equal(a.n, 3);
    assert_string_equal(a.v[2], "echo a b; exit 7");
    assert_null(a.v[3]);
    argv_free(&a);
    assert_int_equal(argsplit("x --logfile '' \"q\\\"d\" a\\ b", &a, &err), 0);
    assert_int_equal(a.n, 5);
    assert_string_equal(a.v[2], "");
    assert_string_equal(a.v[3], "q\"d");
    assert_string_equal(a.v[4], "a b");
    argv_free(&a);
    assert_int_equal(argsplit("x 'open", &a, &err), -1);
    assert_non_null(strstr(err.msg, "unterminated"));
    assert_int_equal(argsplit("   ", &a, &err), -1);
    assert_int_equal(argsplit("x \\", &a, &err), -1);
}

static void normalize_paths(void **state)
{
    char out[64];
    assert_int_equal(fileset_normalize("/usr//lib/./x/../y", out, sizeof out),
                     0);
    assert_string_equal(out, "/usr/lib/y");
    assert_int_equal(fileset_normalize("/../..", out, sizeof out), 0);
    assert_string_equal(out, "/");
    assert_int_equal(fileset_normalize("relative", out, sizeof out), -1);
}

static void kconfig_fragments(void **state)
{
    struct kconfig *k = calloc(1, sizeof *k);
    struct lvm_err err;
    kconfig_platform(k);
    unsigned base = k->n;
    assert_true(base > 30);
    assert_non_null(kconfig_platform_why("CONFIG_PVH"));
    char key1[KERNEL_KEY_LEN + 1], key2[KERNEL_KEY_LEN + 1];
    kconfig_key(k, key1);
    assert_int_equal(strlen(key1), 64);
    const char frag[] = "# comment\nCONFIG_IPV6=y\n# CONFIG_PRINTK is not set\n"
                        "CONFIG_NR_CPUS=4\n";
    assert_int_equal(kconfig_parse(k, frag, strlen(frag), &err), 0);
    /* IPV6 and PRINTK were platform options already (off and on): only
     * NR_CPUS is new, and the fragment's values win */
    assert_int_equal(k->n, base + 1);
    int ipv6 = 0;
    for (unsigned i = 0; i < k->n; i++)
        if (!strcmp(k->opt[i].name, "CONFIG_IPV6"))
            ipv6 = !strcmp(k->opt[i].value, "y");
    assert_true(ipv6);
    kconfig_key(k, key2);
    assert_string_not_equal(key1, key2);
    char *text = kconfig_text(k);
    assert_non_null(strstr(text, "# CONFIG_PRINTK is not set\n"));
    assert_non_null(strstr(text, "CONFIG_IPV6=y\n"));
    free(text);
    const char bad[] = "CONFIG_X=y\nrm -rf /\n";
    assert_int_equal(kconfig_parse(k, bad, strlen(bad), &err), -1);
    assert_non_null(strstr(err.msg, "line 2"));
    free(k);
}

static const char manifest[] =
    "{\"format\": \"lightvm-tinyx-image/1\", \"name\": \"redis\","
    " \"initramfs\": \"initramfs.cpio.zst\","
    " \"kernel\": {\"kind\": \"tiny\", \"path\": \"/k/vmlinux\", \"acpi\": "
    "false},"
    " \"health\": {\"type\": \"tcp\", \"port\": 6379}, \"ports\": [6379],"
    " \"memory_bytes\": 134217728}";

static void manifest_parse(void **state)
{
    struct tinyx_manifest m;
    struct lvm_err err;
    assert_int_equal(
        tinyx_manifest_parse(manifest, strlen(manifest), "/img", &m, &err), 0);
    assert_string_equal(m.initramfs, "/img/initramfs.cpio.zst");
    assert_string_equal(m.kernel.kind, "tiny");
    assert_int_equal(m.health, TINYX_HEALTH_TCP);
    assert_int_equal(m.health_port, 6379);
    assert_int_equal(m.mem, 128u << 20);
    const char escape[] = "{\"format\": \"lightvm-tinyx-image/1\", \"name\": "
                          "\"x\", \"initramfs\": \"../../etc/shadow\", "
                          "\"kernel\": {\"kind\": \"tiny\", \"path\": \"/k\"}}";
    assert_int_equal(
        tinyx_manifest_parse(escape, strlen(escape), "/img", &m, &err), -1);
    assert_non_null(strstr(err.msg, "initramfs"));
    assert_int_equal(tinyx_manifest_parse("[1]", 3, "/img", &m, &err), -1);
}

static void elf_of_a_host_program(void **state)
{
    struct elf_info info;
    struct lvm_err err;
    assert_int_equal(elf_inspect("/bin/true", &info, &err), 0);
    assert_string_equal(info.interp, "/lib64/ld-linux-x86-64.so.2");
    int libc = 0;
    for (unsigned i = 0; i < info.nneeded; i++)
        libc |= !strcmp(info.needed[i], "libc.so.6");
    assert_true(libc);
    struct ld_path lp;
    assert_int_equal(ld_path_load(&lp, &err), 0);
    char path[4096];
    assert_int_equal(
        ld_resolve(&lp, "/bin/true", &info, "libc.so.6", path, sizeof path), 0);
    assert_non_null(strstr(path, "libc.so.6"));
    ld_path_free(&lp);
    elf_info_free(&info);
    assert_int_equal(elf_inspect("/etc/hostname", &info, &err), -1);
    assert_non_null(strstr(err.msg, "not an ELF"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dpkg_parses_status),
        cmocka_unit_test(dpkg_closure_follows_depends),
        cmocka_unit_test(dpkg_depends_syntax),
        cmocka_unit_test(dpkg_rejects_garbage),
        cmocka_unit_test(blacklist_rules),
        cmocka_unit_test(argsplit_quoting),
        cmocka_unit_test(normalize_paths),
        cmocka_unit_test(kconfig_fragments),
        cmocka_unit_test(manifest_parse),
        cmocka_unit_test(elf_of_a_host_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
