/*
 * test_netpolicy.c: lightvmd's config file (daemon/config.c) and the
 * network policy it sets (daemon/netpolicy.c): parsing, one-line errors
 * with the line or field, and who may set which "net" field and publish
 * which port.
 */
#include "unit.h"

#include "unit_config.h"
#include "daemon/netpolicy.h"
#include "toolstack/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char good[] =
    "# lightvmd.conf for the tests\n"
    "{\n"
    "  \"admin_group\": \"root\",\n"
    "  # members' networks; the second is the default\n"
    "  \"networks\": [\n"
    "    {\"bridge\": \"lvmt1\", \"subnet\": \"10.231.0.1/24\"},\n"
    "    {\"bridge\": \"lvmt2\", \"subnet\": \"10.232.0.1/24\", \"nat\": "
    "true,\n"
    "     \"default\": true}\n"
    "  ],\n"
    "  \"ports\": {\"ranges\": [\"20000-20009\", 30000],\n"
    "            \"addresses\": [\"127.0.0.1\", \"10.0.0.5\"]}\n"
    "}\n";

static uint32_t ip(const char *s)
{
    uint32_t a = 0;
    assert_int_equal(netaddr_parse_ip4(s, &a), 0);
    return a;
}

static void config_good(void **state)
{
    struct daemon_config c;
    parse_ok(&c, good);
    assert_string_equal(c.admin_group, "root");
    assert_int_equal(c.nnets, 2);
    assert_int_equal(c.default_net, 1);
    assert_string_equal(c.nets[0].bridge, "lvmt1");
    assert_int_equal(c.nets[0].addr, ip("10.231.0.1"));
    assert_int_equal(c.nets[0].prefix, 24);
    assert_false(c.nets[0].nat);
    assert_true(c.nets[1].nat);
    assert_int_equal(c.nranges, 2);
    assert_int_equal(c.ranges[0].lo, 20000);
    assert_int_equal(c.ranges[0].hi, 20009);
    assert_int_equal(c.ranges[1].lo, 30000);
    assert_int_equal(c.ranges[1].hi, 30000);
    assert_int_equal(c.naddrs, 2);
    assert_int_equal(c.addrs[1], ip("10.0.0.5"));
}

static void config_defaults_apply(void **state)
{
    /* An empty object is the built-in policy; so is no file at all. */
    struct daemon_config c, d;
    parse_ok(&c, "{}");
    config_defaults(&d);
    assert_int_equal(c.nnets, 1);
    assert_string_equal(c.nets[0].bridge, "lvm0");
    assert_int_equal(c.nets[0].addr, ip("10.213.0.1"));
    assert_int_equal(c.nets[0].prefix, 16);
    assert_int_equal(c.nranges, 1);
    assert_int_equal(c.ranges[0].lo, 1024);
    assert_int_equal(c.ranges[0].hi, 65535);
    assert_int_equal(c.naddrs, 1);
    assert_int_equal(c.addrs[0], ip("127.0.0.1"));
    assert_int_equal(c.admin_gid, (gid_t)-1);
    assert_int_equal(d.nnets, 1);
    /* The first network is the default unless one says. */
    parse_ok(&c, "{\"networks\": [{\"bridge\": \"a\", \"subnet\": "
                 "\"10.1.0.1/16\"}, {\"bridge\": \"b\", \"subnet\": "
                 "\"10.2.0.1/16\"}]}");
    assert_int_equal(c.default_net, 0);
    /* No networks, no ranges: members get neither. */
    parse_ok(&c, "{\"networks\": [], \"ports\": {\"ranges\": []}}");
    assert_int_equal(c.nnets, 0);
    assert_int_equal(c.nranges, 0);
    /* Privileged ports only when the operator says so. */
    parse_ok(&c, "{\"ports\": {\"privileged\": true, \"ranges\": [\"80\"]}}");
    assert_int_equal(c.ranges[0].lo, 80);
}

static void config_errors(void **state)
{
    /* Bad JSON: line and column of the file (comments counted). */
    parse_bad("# a comment\n{\n  \"networks\": [,]\n}\n", "t.conf:3:");
    parse_bad("{\"ports\": {}} x", "t.conf:1:");
    parse_bad("", "t.conf:");
    parse_bad("[]", "must hold one JSON object");
    parse_bad("{\"a\": 1, \"a\": 2}", "t.conf:1:");
    /* Bad values: the field, by its path. */
    parse_bad("{\"netwroks\": []}", "field netwroks: unknown field");
    parse_bad("{\"ports\": {\"range\": []}}", "field ports.range: unknown");
    parse_bad("{\"networks\": [{\"bridge\": \"b\", \"subnet\": "
              "\"10.0.0.1/16\", \"mtu\": 9000}]}",
              "field networks[0].mtu: unknown field");
    parse_bad("{\"networks\": {}}", "field networks:");
    parse_bad("{\"networks\": [{\"subnet\": \"10.0.0.1/16\"}]}",
              "field networks[0].bridge: required");
    parse_bad("{\"networks\": [{\"bridge\": \"has space\", \"subnet\": "
              "\"10.0.0.1/16\"}]}",
              "field networks[0].bridge:");
    parse_bad("{\"networks\": [{\"bridge\": \"much-too-long-name\", "
              "\"subnet\": \"10.0.0.1/16\"}]}",
              "field networks[0].bridge:");
    parse_bad("{\"networks\": [{\"bridge\": \"b\"}]}",
              "field networks[0].subnet: required");
    parse_bad(
        "{\"networks\": [{\"bridge\": \"b\", \"subnet\": \"10.0.0.0/8\"}]}",
        "field networks[0].subnet: '10.0.0.0/8' is not");
    parse_bad("{\"networks\": [{\"bridge\": \"b\", \"subnet\": \"10.0.0.1\"}]}",
              "field networks[0].subnet:");
    parse_bad("{\"networks\": [{\"bridge\": \"b\", \"subnet\": "
              "\"10.0.0.1/16\", \"nat\": 1}]}",
              "field networks[0].nat: must be true or false");
    parse_bad("{\"networks\": [{\"bridge\": \"a\", \"subnet\": "
              "\"10.1.0.1/16\"}, {\"bridge\": \"a\", \"subnet\": "
              "\"10.2.0.1/16\"}]}",
              "field networks[1]: bridge a is also networks[0]");
    parse_bad("{\"networks\": [{\"bridge\": \"a\", \"subnet\": "
              "\"10.1.0.1/16\"}, {\"bridge\": \"b\", \"subnet\": "
              "\"10.1.7.1/24\"}]}",
              "field networks[1].subnet: 10.1.7.1/24 overlaps networks[0]");
    parse_bad("{\"networks\": [{\"bridge\": \"a\", \"subnet\": "
              "\"10.1.0.1/16\", \"default\": true}, {\"bridge\": \"b\", "
              "\"subnet\": \"10.2.0.1/16\", \"default\": true}]}",
              "field networks[1].default:");
    parse_bad("{\"ports\": {\"ranges\": [\"80-90\"]}}",
              "field ports.ranges[0]: 80-90 reaches below 1024");
    parse_bad("{\"ports\": {\"ranges\": [\"2000-1000\"]}}",
              "field ports.ranges[0]: ports are 1 to 65535");
    parse_bad("{\"ports\": {\"ranges\": [70000]}}", "field ports.ranges[0]:");
    parse_bad("{\"ports\": {\"ranges\": [-1]}}", "field ports.ranges[0]:");
    parse_bad("{\"ports\": {\"ranges\": [\"2000-\"]}}",
              "field ports.ranges[0]: '2000-' is not");
    parse_bad("{\"ports\": {\"ranges\": [\"+2000\"]}}",
              "field ports.ranges[0]:");
    parse_bad("{\"ports\": {\"ranges\": [\"2000-+3000\"]}}",
              "field ports.ranges[0]:");
    parse_bad("{\"ports\": {\"ranges\": [true]}}", "field ports.ranges[0]:");
    parse_bad("{\"ports\": {\"addresses\": [\"localhost\"]}}",
              "field ports.addresses[0]: 'localhost' is not an IPv4");
    parse_bad("{\"ports\": {\"privileged\": \"yes\"}}",
              "field ports.privileged:");
    parse_bad("{\"admin_group\": 0}", "field admin_group:");
    parse_bad("{\"admin_group\": \"\"}", "field admin_group:");
    /* What the file holds is shown printable, on one line. */
    parse_bad("{\"networks\": [{\"bridge\": \"a\\nb\", \"subnet\": "
              "\"10.0.0.1/16\"}]}",
              "'a?b'");
}

static void config_example(void **state)
{
    /* The documented example stays valid (run from the source tree). */
    FILE *f = fopen("etc/lightvmd.conf.example", "r");
    if (!f)
        skip();
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    struct daemon_config c;
    parse_ok(&c, buf);
    assert_string_equal(c.admin_group, "lightvm-admin");
    assert_int_equal(c.nnets, 2);
    assert_string_equal(c.nets[c.default_net].bridge, "lvm0");
    assert_int_equal(c.ranges[0].lo, 20000);
}

static void config_service(void **state)
{
    (void)state;
    /* lightvmd's own settings: kept as given, each marked as set. */
    struct daemon_config c;
    parse_ok(&c, "{\"api_group\": \"lightvm\", \"pool\": \"16M=4,64M+net=2\",\n"
                 " \"pool_rate\": 12.5, \"connections\": {\"max\": 100,\n"
                 " \"idle_timeout\": 0}}");
    assert_string_equal(c.svc.api_group, "lightvm");
    assert_string_equal(c.svc.pool, "16M=4,64M+net=2");
    assert_true(c.svc.pool_rate > 12.4 && c.svc.pool_rate < 12.6);
    assert_true(c.svc.conn_set[CONFIG_CONN_MAX]);
    assert_int_equal(c.svc.conn[CONFIG_CONN_MAX], 100);
    assert_true(c.svc.conn_set[CONFIG_CONN_IDLE]);
    assert_int_equal(c.svc.conn[CONFIG_CONN_IDLE], 0);
    assert_false(c.svc.conn_set[CONFIG_CONN_ROOT]);
    /* Not in the file: unset, the daemon's defaults (or options) hold. */
    parse_ok(&c, "{}");
    assert_string_equal(c.svc.pool, "");
    assert_true(c.svc.pool_rate == 0);
    parse_bad("{\"pool_rate\": 0}", "field pool_rate:");
    parse_bad("{\"pool_rate\": \"5\"}", "field pool_rate:");
    parse_bad("{\"pool\": 32}", "field pool:");
    parse_bad("{\"pool\": \"16M=1, 64M=2\"}", "field pool:");
    parse_bad("{\"api_group\": \"a:b\"}", "field api_group:");
    parse_bad("{\"connections\": {\"max\": 0}}", "field connections.max:");
    parse_bad("{\"connections\": {\"idle\": 5}}",
              "field connections.idle: unknown field");
    parse_bad("{\"connections\": []}", "field connections:");
}

static void config_shipped(void **state)
{
    /* The file `make install` puts in /etc is valid as shipped. */
    FILE *f = fopen("etc/lightvmd.conf", "r");
    if (!f)
        skip();
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    struct daemon_config c;
    parse_ok(&c, buf);
    assert_string_equal(c.svc.pool, "16M=32");
    assert_string_equal(c.nets[c.default_net].bridge, "lvm0");
}

/* A file in a temporary directory, mode (mode). */
static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void config_load_file(void **state)
{
    char dir[] = "/tmp/lvm-config-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/lightvmd.conf", dir);
    struct daemon_config c;
    struct lvm_err err;
    /* Named and missing: an error; the admin group is resolved. */
    assert_int_equal(config_load(path, &c, &err), -1);
    write_file(path, good, 0644);
    assert_int_equal(config_load(path, &c, &err), 0);
    assert_int_equal(c.admin_gid, 0);
    assert_string_equal(c.path, path);
    write_file(path, "{\"admin_group\": \"no-such-group-here\"}", 0644);
    assert_int_equal(config_load(path, &c, &err), -1);
    assert_non_null(strstr(err.msg, "field admin_group: no group"));
    /* A file others may write grants them anything: refused (as root). */
    write_file(path, "{}", 0666);
    if (geteuid() == 0) {
        assert_int_equal(config_load(path, &c, &err), -1);
        assert_non_null(strstr(err.msg, "writable by root alone"));
    }
    unlink(path);
    assert_int_equal(config_load(dir, &c, &err), -1); /* a directory */
    rmdir(dir);
}

/* ---- Policy ------------------------------------------------------------ */

static struct daemon_config cfg;

static int setup_cfg(void **state)
{
    parse_ok(&cfg, good);
    cfg.admin_gid = 4242; /* as config_load resolves it */
    return 0;
}

static struct creds member = {.uid = 1000, .gid = 1000};

static void admin_is_root_or_group(void **state)
{
    struct creds root = {0};
    assert_true(netpolicy_admin(&cfg, &root));
    assert_false(netpolicy_admin(&cfg, &member));
    struct creds prim = {.uid = 1001, .gid = 4242};
    assert_true(netpolicy_admin(&cfg, &prim));
    struct creds supp = {
        .uid = 1002, .gid = 100, .ngroups = 2, .groups = {100, 4242}};
    assert_true(netpolicy_admin(&cfg, &supp));
    struct daemon_config none;
    config_defaults(&none);
    assert_false(netpolicy_admin(&none, &prim));
    assert_true(netpolicy_admin(&none, &root));
}

/* Member request (ns) must be refused, naming (field). */
static void member_refused(struct guest_net_spec ns, const char *field)
{
    struct lvm_err err;
    ns.enabled = 1;
    assert_int_equal(netpolicy_net(&cfg, 0, &ns, &err), -1);
    assert_int_equal(err.code, EPERM);
    char want[64];
    snprintf(want, sizeof want, "field %s: ", field);
    if (strncmp(err.msg, want, strlen(want)))
        fail_msg("'%s' does not start with '%s'", err.msg, want);
    assert_null(strchr(err.msg, '\n'));
    /* The same request from an admin passes. */
    assert_int_equal(netpolicy_net(&cfg, 1, &ns, &err), 0);
}

static void member_net_fields(void **state)
{
    struct guest_net_spec ns = {0};
    snprintf(ns.bridge, sizeof ns.bridge, "lvm0");
    member_refused(ns, "net.bridge");
    snprintf(ns.bridge, sizeof ns.bridge, "br\x01x");
    member_refused(ns, "net.bridge");
    memset(&ns, 0, sizeof ns);
    netaddr_parse_cidr("192.168.1.1/24", &ns.bridge_addr, &ns.prefix, NULL);
    member_refused(ns, "net.subnet");
    memset(&ns, 0, sizeof ns);
    snprintf(ns.bridge, sizeof ns.bridge, "lvmt1");
    netaddr_parse_cidr("10.231.0.1/16", &ns.bridge_addr, &ns.prefix, NULL);
    member_refused(ns, "net.subnet"); /* the right address, another prefix */
    memset(&ns, 0, sizeof ns);
    ns.want_addr = ip("10.232.0.9");
    member_refused(ns, "net.ip");
    memset(&ns, 0, sizeof ns);
    snprintf(ns.bridge, sizeof ns.bridge, "lvmt1");
    ns.nat = 1;
    member_refused(ns, "net.nat");
    memset(&ns, 0, sizeof ns);
    ns.dhcp = 1;
    member_refused(ns, "net.dhcp");
    memset(&ns, 0, sizeof ns);
    ns.no_filter = 1;
    member_refused(ns, "net.filter");
    /* The message the issue asks for, word for word. */
    struct lvm_err err;
    memset(&ns, 0, sizeof ns);
    ns.enabled = 1;
    snprintf(ns.bridge, sizeof ns.bridge, "lvmt1");
    ns.nat = 1;
    netpolicy_net(&cfg, 0, &ns, &err);
    assert_string_equal(err.msg,
                        "field net.nat: only root or the admin group may "
                        "change NAT");
}

static void member_gets_operator_network(void **state)
{
    struct lvm_err err;
    /* No bridge: the default network, its subnet and its NAT. */
    struct guest_net_spec ns = {.enabled = 1};
    assert_int_equal(netpolicy_net(&cfg, 0, &ns, &err), 0);
    assert_string_equal(ns.bridge, "lvmt2");
    assert_int_equal(ns.bridge_addr, ip("10.232.0.1"));
    assert_int_equal(ns.prefix, 24);
    assert_true(ns.nat);
    assert_false(ns.no_filter);
    /* Another of the operator's networks, by name, without NAT. */
    memset(&ns, 0, sizeof ns);
    ns.enabled = 1;
    snprintf(ns.bridge, sizeof ns.bridge, "lvmt1");
    assert_int_equal(netpolicy_net(&cfg, 0, &ns, &err), 0);
    assert_int_equal(ns.bridge_addr, ip("10.231.0.1"));
    assert_false(ns.nat);
    /* Asking for what it gets anyway is no change: accepted. */
    memset(&ns, 0, sizeof ns);
    ns.enabled = 1;
    ns.nat = 1; /* the default network has NAT */
    netaddr_parse_cidr("10.232.0.1/24", &ns.bridge_addr, &ns.prefix, NULL);
    assert_int_equal(netpolicy_net(&cfg, 0, &ns, &err), 0);
    assert_string_equal(ns.bridge, "lvmt2");
    /* No NICs asked for: nothing to decide. */
    memset(&ns, 0, sizeof ns);
    assert_int_equal(netpolicy_net(&cfg, 0, &ns, &err), 0);
    assert_string_equal(ns.bridge, "");
    /* No networks for members at all. */
    struct daemon_config none;
    parse_ok(&none, "{\"networks\": []}");
    ns.enabled = 1;
    assert_int_equal(netpolicy_net(&none, 0, &ns, &err), -1);
    assert_non_null(strstr(err.msg, "field net: "));
}

static void admin_keeps_its_choices(void **state)
{
    struct lvm_err err;
    /* Nothing named: the default network, as for members. */
    struct guest_net_spec ns = {.enabled = 1};
    assert_int_equal(netpolicy_net(&cfg, 1, &ns, &err), 0);
    assert_string_equal(ns.bridge, "lvmt2");
    assert_int_equal(ns.bridge_addr, ip("10.232.0.1"));
    /* A bridge and subnet of its own, NAT and no filter: kept. */
    memset(&ns, 0, sizeof ns);
    ns.enabled = 1;
    snprintf(ns.bridge, sizeof ns.bridge, "br9");
    netaddr_parse_cidr("10.99.0.1/24", &ns.bridge_addr, &ns.prefix, NULL);
    ns.nat = ns.no_filter = 1;
    assert_int_equal(netpolicy_net(&cfg, 1, &ns, &err), 0);
    assert_string_equal(ns.bridge, "br9");
    assert_int_equal(ns.bridge_addr, ip("10.99.0.1"));
    assert_true(ns.nat && ns.no_filter);
    /* A subnet without a bridge is lvm0's, as ever (not the default
     * network's bridge with another subnet). */
    memset(&ns, 0, sizeof ns);
    ns.enabled = 1;
    netaddr_parse_cidr("10.98.0.1/24", &ns.bridge_addr, &ns.prefix, NULL);
    assert_int_equal(netpolicy_net(&cfg, 1, &ns, &err), 0);
    assert_string_equal(ns.bridge, "");
    assert_int_equal(ns.bridge_addr, ip("10.98.0.1"));
}

/* NICs named on their own: a member's go on the operator's networks with
 * their subnets, leased, never in forwarding mode. */
static void member_nics(void **state)
{
    struct guest_net_spec ns;
    struct lvm_err err;
    static const char *refused[] = {
        "up0=lvm0", "up0=lvmt1,forward", "up0=lvmt1,ip=10.231.0.9",
        "up0=lvmt1,subnet=10.9.0.1/24", "up0=lvmt1,nat"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        memset(&ns, 0, sizeof ns);
        assert_int_equal(nic_spec_parse(refused[i], &ns.nics[0], &err), 0);
        ns.nnics = 1;
        member_refused(ns, "net.nics");
    }
    memset(&ns, 0, sizeof ns);
    ns.enabled = 1;
    assert_int_equal(nic_spec_parse("up0=lvmt1", &ns.nics[0], &err), 0);
    assert_int_equal(nic_spec_parse("user0=lvmt2", &ns.nics[1], &err), 0);
    ns.nnics = 2;
    assert_int_equal(netpolicy_net(&cfg, 0, &ns, &err), 0);
    assert_int_equal(ns.nics[0].bridge_addr, ip("10.231.0.1"));
    assert_int_equal(ns.nics[0].prefix, 24);
    assert_int_equal(ns.nics[1].bridge_addr, ip("10.232.0.1"));
    /* Each NIC has its own network's NAT: lvmt2's, not lvmt1's. */
    assert_false(ns.nics[0].nat);
    assert_true(ns.nics[1].nat);
    /* The first NIC on a NAT network does not bring NAT to another NIC's
     * network (a member would masquerade everyone's guests there). */
    memset(&ns, 0, sizeof ns);
    ns.enabled = 1;
    snprintf(ns.bridge, sizeof ns.bridge, "lvmt2");
    assert_int_equal(nic_spec_parse("up0=lvmt1", &ns.nics[0], &err), 0);
    ns.nnics = 1;
    assert_int_equal(netpolicy_net(&cfg, 0, &ns, &err), 0);
    assert_true(ns.nat);
    assert_false(ns.nics[0].nat);
    /* An admin's forwarding NIC on an operator's network gets its subnet;
     * on another bridge, what it asked for. */
    memset(&ns, 0, sizeof ns);
    ns.enabled = 1;
    assert_int_equal(nic_spec_parse("up0=lvmt1,forward", &ns.nics[0], &err), 0);
    assert_int_equal(nic_spec_parse("user0=br9", &ns.nics[1], &err), 0);
    ns.nnics = 2;
    assert_int_equal(netpolicy_net(&cfg, 1, &ns, &err), 0);
    assert_int_equal(ns.nics[0].bridge_addr, ip("10.231.0.1"));
    assert_true(ns.nics[0].forward);
    assert_int_equal(ns.nics[1].bridge_addr, 0);
}

static void ports(void **state)
{
    struct lvm_err err;
    /* Members: inside the ranges, on the addresses. */
    assert_int_equal(netpolicy_port(&cfg, 0, "20000:22", "", 20000, &err), 0);
    assert_int_equal(
        netpolicy_port(&cfg, 0, "10.0.0.5:30000:22", "10.0.0.5", 30000, &err),
        0);
    assert_int_equal(netpolicy_port(&cfg, 0, "0:22", "", 0, &err), 0);
    assert_int_equal(
        netpolicy_port(&cfg, 0, "0.0.0.0:81:22", "0.0.0.0", 81, &err), -1);
    assert_int_equal(err.code, EPERM);
    assert_non_null(strstr(err.msg, "field ports: '0.0.0.0:81:22': "));
    assert_int_equal(netpolicy_port(&cfg, 0, "81:22", "", 81, &err), -1);
    assert_non_null(strstr(err.msg, "host port 81 is outside"));
    assert_non_null(strstr(err.msg, "20000-20009, 30000"));
    assert_int_equal(netpolicy_port(&cfg, 0, "20010:22", "", 20010, &err), -1);
    assert_int_equal(
        netpolicy_port(&cfg, 0, "0.0.0.0:20000:22", "0.0.0.0", 20000, &err),
        -1);
    assert_non_null(strstr(err.msg, "members may bind only 127.0.0.1"));
    /* Root and the admin group: anything. */
    assert_int_equal(
        netpolicy_port(&cfg, 1, "0.0.0.0:81:22", "0.0.0.0", 81, &err), 0);
    /* No ranges: no ports for members. */
    struct daemon_config none;
    parse_ok(&none, "{\"ports\": {\"ranges\": []}}");
    assert_int_equal(netpolicy_port(&none, 0, "0:22", "", 0, &err), -1);
    /* The built-in policy: unprivileged ports on 127.0.0.1. */
    config_defaults(&none);
    assert_int_equal(netpolicy_port(&none, 0, "8080:80", "", 8080, &err), 0);
    assert_int_equal(netpolicy_port(&none, 0, "1023:80", "", 1023, &err), -1);
}

static void pick_in_range(void **state)
{
    /* A range of two ports, one of them taken: the other is picked,
     * every time, although the kernel's own pick is elsewhere. */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
    unsigned taken = ntohs(sin.sin_port);
    struct daemon_config c;
    config_defaults(&c);
    c.ranges[0].lo = (uint16_t)(taken == 65535 ? taken - 1 : taken);
    c.ranges[0].hi = (uint16_t)(c.ranges[0].lo + 1);
    unsigned other = c.ranges[0].lo == taken ? taken + 1 : taken - 1;
    struct lvm_err err;
    for (int i = 0; i < 20; i++) {
        uint16_t p = 0;
        if (netpolicy_pick_port(&c, "", &p, &err) < 0)
            fail_msg("%s", err.msg);
        assert_int_equal(p, other);
    }
    /* Both taken: an error saying so. */
    int s2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sin.sin_port = htons((uint16_t)other);
    if (bind(s2, (struct sockaddr *)&sin, sizeof sin) == 0) {
        uint16_t p = 0;
        assert_int_equal(netpolicy_pick_port(&c, "127.0.0.1", &p, &err), -1);
        assert_non_null(strstr(err.msg, "no free host port"));
    }
    close(s2);
    close(s);
    /* The default range takes the kernel's pick. */
    config_defaults(&c);
    uint16_t p = 0;
    assert_int_equal(netpolicy_pick_port(&c, "", &p, &err), 0);
    assert_true(p >= 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_good),
        cmocka_unit_test(config_defaults_apply),
        cmocka_unit_test(config_errors),
        cmocka_unit_test(config_example),
        cmocka_unit_test(config_service),
        cmocka_unit_test(config_shipped),
        cmocka_unit_test(config_load_file),
        cmocka_unit_test_setup(admin_is_root_or_group, setup_cfg),
        cmocka_unit_test_setup(member_net_fields, setup_cfg),
        cmocka_unit_test_setup(member_gets_operator_network, setup_cfg),
        cmocka_unit_test_setup(admin_keeps_its_choices, setup_cfg),
        cmocka_unit_test_setup(member_nics, setup_cfg),
        cmocka_unit_test_setup(ports, setup_cfg),
        cmocka_unit_test(pick_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
