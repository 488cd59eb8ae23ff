/*
 * test_request.c: lightvmd's request parser: what each operation accepts,
 * and a clear refusal for everything else.
 */
#include "unit.h"

#include "daemon/request.h"

static const char *code;
static struct lvm_err err;

static int parse(const char *s, struct request *r)
{
    return request_parse(s, strlen(s), r, &code, &err);
}

static void refused(const char *s, const char *want_code, const char *want)
{
    struct request r;
    if (parse(s, &r) == 0)
        fail_msg("accepted: %s", s);
    assert_string_equal(code, want_code);
    if (!strstr(err.msg, want))
        fail_msg("'%s' gave '%s', not '%s'", s, err.msg, want);
}

static void test_create_full(void **state)
{
    (void)state;
    struct request r;
    assert_int_equal(
        parse("{\"op\":\"create\",\"tag\":7,\"image\":\"/g.elf\",\"name\":"
              "\"web\",\"mem\":67108864,\"mem_limit\":100000000,\"cpus\":1.5,"
              "\"args\":[\"-p\",\"80\"],\"env\":[\"A=1\",\"B=\"],\"block\":[{"
              "\"name\":\"disk0\",\"path\":\"/d.img\",\"readonly\":true}],"
              "\"console\":\"fd\",\"console_limit\":4096,\"watchdog_ms\":500,"
              "\"monitor\":\"proc\"}",
              &r),
        0);
    assert_int_equal(r.op, OP_CREATE);
    assert_true(r.has_tag);
    assert_int_equal(r.tag, 7);
    assert_string_equal(r.image, "/g.elf");
    assert_string_equal(r.name, "web");
    assert_int_equal(r.mem, 64 << 20);
    assert_int_equal(r.mem_limit, 100000000);
    assert_true(r.cpus > 1.49 && r.cpus < 1.51);
    assert_int_equal(r.argc, 2);
    assert_string_equal(r.argv[1], "80");
    assert_int_equal(r.envc, 2);
    assert_int_equal(r.nblocks, 1);
    assert_string_equal(r.blocks[0].path, "/d.img");
    assert_true(r.blocks[0].readonly);
    assert_true(r.console_fd);
    assert_int_equal(r.console_limit, 4096);
    assert_int_equal(r.watchdog_ms, 500);
    assert_string_equal(r.monitor, "proc");
    request_free(&r);
}

static void test_simple_ops(void **state)
{
    (void)state;
    struct request r;
    assert_int_equal(parse("{\"op\":\"destroy\",\"id\":\"abc\"}", &r), 0);
    assert_int_equal(r.op, OP_DESTROY);
    assert_string_equal(r.target, "abc");
    assert_false(r.has_tag);
    assert_int_equal(parse("{\"op\":\"list\"}", &r), 0);
    assert_int_equal(r.limit, LIST_PAGE_MAX);
    assert_int_equal(parse("{\"op\":\"list\",\"offset\":5,\"limit\":3,"
                           "\"stats\":true}",
                           &r),
                     0);
    assert_int_equal(r.offset, 5);
    assert_int_equal(r.limit, 3);
    assert_true(r.stats);
    assert_int_equal(parse("{\"op\":\"version\"}", &r), 0);
    assert_int_equal(parse("{\"op\":\"pool\",\"tag\":-5}", &r), 0);
    assert_int_equal(r.tag, -5);
}

/* Snapshots: save a guest, restore one, clone one. */
static void test_save_restore(void **state)
{
    (void)state;
    struct request r;
    assert_int_equal(
        parse("{\"op\":\"save\",\"id\":\"web\",\"path\":\"/s/web.state\"}", &r),
        0);
    assert_int_equal(r.op, OP_SAVE);
    assert_string_equal(r.target, "web");
    assert_string_equal(r.path, "/s/web.state");
    assert_int_equal(r.force, 0);
    assert_int_equal(r.leave_running, 0);
    assert_int_equal(parse("{\"op\":\"save\",\"id\":\"w\",\"path\":\"/s\","
                           "\"force\":true,\"leave_running\":true}",
                           &r),
                     0);
    assert_int_equal(r.force, 1);
    assert_int_equal(r.leave_running, 1);
    /* A restore may name no image: the state file's recipe does. */
    assert_int_equal(parse("{\"op\":\"restore\",\"path\":\"/s\"}", &r), 0);
    assert_string_equal(r.image, "");
    assert_non_null(r.json); /* kept, to merge with the recipe */
    request_free(&r);
    assert_null(r.json);
    assert_int_equal(parse("{\"op\":\"clone\",\"id\":\"web\",\"count\":"
                           "100,\"name\":\"fn\"}",
                           &r),
                     0);
    assert_int_equal(r.op, OP_CLONE);
    assert_int_equal(r.count, 100);
    assert_string_equal(r.name, "fn");
    assert_int_equal(parse("{\"op\":\"clone\",\"path\":\"/s/x\"}", &r), 0);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.path, "/s/x");
    assert_int_equal(
        parse("{\"op\":\"restore\",\"path\":\"/s/web.state\",\"image\":"
              "\"/img/redis\",\"monitor\":\"qemu\",\"mem\":134217728,"
              "\"ports\":[\"0:6379\",\"127.0.0.1:8080:80\"]}",
              &r),
        0);
    assert_int_equal(r.op, OP_RESTORE);
    assert_string_equal(r.path, "/s/web.state");
    assert_string_equal(r.image, "/img/redis");
    assert_int_equal(r.nports, 2);
    assert_string_equal(r.ports[1], "127.0.0.1:8080:80");
    request_free(&r);
    assert_int_equal(parse("{\"op\":\"create\",\"image\":\"/img/redis\","
                           "\"ports\":[]}",
                           &r),
                     0);
    assert_int_equal(r.nports, 0);
    request_free(&r);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("", "bad_request", "malformed JSON");
    refused("{\"op\":\"list\"} trailing", "bad_request", "malformed JSON");
    /* jansson's quotes around the bad input come through as they are. */
    refused("{\"op\":\"list\", \"x\": \"a}", "bad_request",
            "premature end of input near '\"a}'");
    refused("[]", "bad_request", "a request is a JSON object");
    refused("{}", "bad_request", "missing field 'op'");
    refused("{\"op\":1}", "bad_request", "missing field 'op'");
    refused("{\"op\":\"reboot\"}", "unknown_op", "unknown operation 'reboot'");
    refused("{\"op\":\"list\",\"op\":\"pool\"}", "bad_request", "malformed");
    refused("{\"op\":\"list\",\"x\":1}", "unknown_field", "unknown field 'x'");
    refused("{\"op\":\"list\",\"tag\":\"a\"}", "bad_request", "'tag'");
    refused("{\"op\":\"list\",\"limit\":201}", "bad_request", "'limit'");
    refused("{\"op\":\"list\",\"stats\":1}", "bad_request", "'stats'");
    refused("{\"op\":\"info\"}", "bad_request", "missing field 'id'");
    refused("{\"op\":\"info\",\"id\":\"\"}", "bad_request", "'id'");
    refused("{\"op\":\"create\"}", "bad_request", "missing field 'image'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"mem\":1.5}", "bad_request",
            "'mem'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"mem\":137438953472}",
            "bad_request", "'mem'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"cpus\":-1}", "bad_request",
            "'cpus'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"args\":\"a\"}",
            "bad_request", "'args'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"env\":[\"=v\"]}",
            "bad_request", "KEY=VALUE");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"console\":\"tty\"}",
            "bad_request", "'console'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"block\":[{\"name\":"
            "\"a\"}]}",
            "bad_request", "missing field 'path'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"block\":[{\"name\":\"a\","
            "\"path\":\"/p\",\"size\":1}]}",
            "unknown_field", "'size'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"block\":[{\"name\":\"a\","
            "\"path\":\"/p\"},{\"name\":\"a\",\"path\":\"/q\"}]}",
            "bad_request", "given twice");
    refused("{\"op\":\"create\",\"image\":\"a\\u0000b\"}", "bad_request",
            "NUL");
    refused("{\"op\":\"save\",\"id\":\"a\"}", "bad_request",
            "missing field 'path'");
    refused("{\"op\":\"save\",\"id\":\"a\",\"path\":\"rel/x\"}", "bad_request",
            "absolute");
    refused("{\"op\":\"save\",\"id\":\"a\",\"path\":\"/x\",\"mem\":1}",
            "unknown_field", "'mem'");
    refused("{\"op\":\"restore\",\"image\":\"/x\"}", "bad_request",
            "missing field 'path'");
    refused("{\"op\":\"save\",\"id\":\"a\",\"path\":\"/x\",\"force\":1}",
            "bad_request", "'force' must be true or false");
    refused("{\"op\":\"clone\",\"count\":2}", "bad_request",
            "a guest ('id') or a state file ('path')");
    refused("{\"op\":\"clone\",\"id\":\"a\",\"path\":\"/x\"}", "bad_request",
            "one of them");
    refused("{\"op\":\"clone\",\"id\":\"a\",\"count\":0}", "bad_request",
            "'count' must be 1..1000");
    refused("{\"op\":\"clone\",\"id\":\"a\",\"count\":1001}", "bad_request",
            "'count'");
    refused("{\"op\":\"clone\",\"id\":\"a\",\"image\":\"/x\"}", "unknown_field",
            "'image'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"ports\":\"0:80\"}",
            "bad_request", "'ports'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"ports\":[80]}",
            "bad_request", "'ports'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"ports\":[\"\"]}",
            "bad_request", "'ports'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"ports\":[\"1:1\",\"1:2\","
            "\"1:3\",\"1:4\",\"1:5\",\"1:6\",\"1:7\",\"1:8\",\"1:9\",\"1:10\","
            "\"1:11\",\"1:12\",\"1:13\",\"1:14\",\"1:15\",\"1:16\",\"1:17\"]}",
            "bad_request", "at most 16");
    /* Client strings echoed in messages stay on one line. */
    refused("{\"op\":\"list\",\"\\nx\":1}", "unknown_field", "'?x'");
    refused("{\"op\":\"re\\r\\nboot\"}", "unknown_op", "'re??boot'");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"env\":[\"\\u001b[2J\"]}",
            "bad_request", "'?[2J'");
    assert_null(strchr(err.msg, '\n'));
}

static void test_limits(void **state)
{
    (void)state;
    /* Oversized: refused before parsing. */
    size_t n = REQUEST_MAX_BYTES + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    struct request r;
    assert_int_equal(request_parse(big, n, &r, &code, &err), -1);
    assert_string_equal(code, "too_large");
    free(big);
    /* A name longer than the field. */
    char msg[256];
    snprintf(msg, sizeof msg,
             "{\"op\":\"create\",\"image\":\"/x\",\"name\":\"%070d\"}", 1);
    refused(msg, "bad_request", "'name'");
    /* Too many arguments: everything allocated so far is freed (ASan). */
    size_t cap = 16 + REQUEST_MAX_ARGS * 5;
    char *many = malloc(cap);
    size_t at = (size_t)snprintf(
        many, cap, "{\"op\":\"create\",\"image\":\"/x\",\"args\":[");
    for (int i = 0; i < REQUEST_MAX_ARGS; i++)
        at += (size_t)snprintf(many + at, cap - at, "%s\"a\"", i ? "," : "");
    snprintf(many + at, cap - at, "]}");
    refused(many, "bad_request", "more than");
    free(many);
}

static void test_restart(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum restart_policy p;
        unsigned max;
    } ok[] = {{"no", RESTART_NO, 0},
              {"always", RESTART_ALWAYS, 0},
              {"on-failure", RESTART_ON_FAILURE, 0},
              {"on-failure:3", RESTART_ON_FAILURE, 3},
              {"on-failure:1000000", RESTART_ON_FAILURE, 1000000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char req[128], back[32];
        struct request r;
        snprintf(req, sizeof req,
                 "{\"op\":\"create\",\"image\":\"/g\",\"restart\":\"%s\"}",
                 ok[i].text);
        assert_int_equal(parse(req, &r), 0);
        assert_int_equal(r.restart, ok[i].p);
        assert_int_equal(r.restart_max, ok[i].max);
        /* Only the daemon sets the counts. */
        assert_int_equal(r.restart_count, 0);
        assert_string_equal(
            request_restart_str(r.restart, r.restart_max, back, sizeof back),
            ok[i].text);
        request_free(&r);
    }
    static const char *const bad[] = {"\"sometimes\"",
                                      "\"on-failure:\"",
                                      "\"on-failure:0\"",
                                      "\"on-failure:-1\"",
                                      "\"on-failure:1000001\"",
                                      "\"on-failure:3x\"",
                                      "\"Always\"",
                                      "1",
                                      "true"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char req[128];
        snprintf(req, sizeof req,
                 "{\"op\":\"create\",\"image\":\"/g\",\"restart\":%s}", bad[i]);
        refused(req, "bad_request", "field 'restart'");
    }
}

static void test_names(void **state)
{
    (void)state;
    struct request r;
    assert_int_equal(
        parse("{\"op\":\"create\",\"image\":\"/x\",\"name\":\"a.b_c-9\"}", &r),
        0);
    assert_string_equal(r.name, "a.b_c-9");
    request_free(&r);
    /* One rule, one line, whatever is wrong with the name. */
    static const char *const bad[] = {
        "\"web\\u001b[31m\"",
        "\"web\\r\"",
        "\"web\\n\"",
        "\"alice/web\"",
        "\"-web\"",
        "\"\"",
        "\"w eb\"",

        "7",
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char req[256];
        snprintf(req, sizeof req,
                 "{\"op\":\"create\",\"image\":\"/x\",\"name\":%s}", bad[i]);
        refused(req, "bad_request", "field 'name' must be 1 to 63 characters");
        assert_null(strchr(err.msg, '\n'));
    }
    /* restore takes the same field. */
    refused("{\"op\":\"restore\",\"image\":\"/x\",\"path\":\"/s\",\"name\":"
            "\"a/b\"}",
            "bad_request", "A-Z a-z 0-9 . _ -");
    /* A target may be UID/NAME with the longest name. */
    char req[256];
    snprintf(req, sizeof req, "{\"op\":\"info\",\"id\":\"4294967295/%s\"}",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(parse(req, &r), 0);
    request_free(&r);
}

/* net.nics: NICs named on their own, in the CLI's syntax. */
static void test_net_nics(void **state)
{
    (void)state;
    struct request r;
    assert_int_equal(
        parse("{\"op\":\"create\",\"image\":\"/x\",\"net\":{\"nics\":"
              "[\"user0=br-users,forward,ip=10.77.0.2\",\"up0=lvm0\"]}}",
              &r),
        0);
    assert_true(r.net.enabled);
    assert_int_equal(r.net.nnics, 2);
    assert_string_equal(r.net.nics[0].dev, "user0");
    assert_string_equal(r.net.nics[0].bridge, "br-users");
    assert_true(r.net.nics[0].forward);
    assert_string_equal(r.net.nics[1].bridge, "lvm0");
    assert_false(r.net.nics[1].forward);
    request_free(&r);
    refused("{\"op\":\"create\",\"image\":\"/x\",\"net\":{\"nics\":7}}",
            "bad_request", "field 'net.nics' must be an array");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"net\":{\"nics\":[7]}}",
            "bad_request", "field 'net.nics[0]' is not NAME=BRIDGE");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"net\":{\"nics\":"
            "[\"a=b\",\"c=d,x\\u0001\"]}}",
            "bad_request", "field 'net.nics[1]' is not NAME=BRIDGE");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"net\":{\"nics\":"
            "[\"a=b,bogus\"]}}",
            "bad_request", "net.nics[0]: NIC a: 'bogus' is not forward");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"net\":{\"nics\":"
            "[\"a=b\",\"a=c\"]}}",
            "bad_request", "net.nics[1]: NIC a named twice");
    refused("{\"op\":\"create\",\"image\":\"/x\",\"net\":{\"nics\":"
            "[\"a=b\",\"c=d\",\"e=f\",\"g=h\",\"i=j\"]}}",
            "bad_request", "at most 4 strings");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_full),  cmocka_unit_test(test_simple_ops),
        cmocka_unit_test(test_save_restore), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits),       cmocka_unit_test(test_names),
        cmocka_unit_test(test_restart),      cmocka_unit_test(test_net_nics),
    };
    return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
