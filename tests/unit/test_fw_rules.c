/*
 * test_fw_rules.c: the firewall's rule files (examples/firewall/rules.c):
 * each statement, errors with their line, matching both ways, the token
 * bucket; and a NIC's --net=NAME=BRIDGE[,OPTIONS] (toolstack/nic_spec.c).
 */
#include "examples/firewall/rules.h"
#include "toolstack/netaddr.h"
#include "toolstack/nic.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static struct fw_rules rs;
static char err[160];

static int parse(const char *text)
{
    return fw_rules_parse(text, strlen(text), &rs, err, sizeof err);
}

/* An IPv4 header (+ 4 bytes of ports) for matching. */
static size_t packet(uint8_t *p, int proto, const char *src, const char *dst,
                     unsigned sport, unsigned dport)
{
    memset(p, 0, 24);
    p[0] = 0x45;
    p[9] = (uint8_t)proto;
    uint32_t a;
    assert_int_equal(netaddr_parse_ip4(src, &a), 0);
    memcpy(p + 12, &a, 4);
    assert_int_equal(netaddr_parse_ip4(dst, &a), 0);
    memcpy(p + 16, &a, 4);
    p[20] = (uint8_t)(sport >> 8), p[21] = (uint8_t)sport;
    p[22] = (uint8_t)(dport >> 8), p[23] = (uint8_t)dport;
    return 24;
}

static void parses_every_statement(void **state)
{
    (void)state;
    assert_int_equal(parse("# a user\n"
                           "default allow\n"
                           "limit 10mbit burst 64k\n"
                           "allow out tcp from 10.0.0.0/24 to any port 80\n"
                           "deny in udp from any port 1-1023\n"
                           "  allow\ticmp   # ping\r\n"),
                     0);
    assert_int_equal(rs.n, 3);
    assert_int_equal(rs.default_allow, 1);
    assert_int_equal(rs.limit_bytes, 1250000);
    assert_int_equal(rs.burst_bytes, 65536);
    assert_int_equal(rs.r[0].dir, FW_OUT);
    assert_int_equal(rs.r[0].proto, FW_TCP);
    assert_int_equal(rs.r[0].dport_lo, 80);
    assert_int_equal(rs.r[0].line, 4);
    assert_int_equal(rs.r[1].sport_hi, 1023);
    assert_int_equal(rs.r[2].proto, FW_ICMP);
    /* Empty, and a NUL (a block device's padding) ends the text. */
    assert_int_equal(
        fw_rules_parse("default allow\n\0junk", 19, &rs, err, sizeof err), 0);
    assert_int_equal(parse(""), 0);
    assert_int_equal(rs.default_allow, 0);
}

static void errors_name_their_line(void **state)
{
    (void)state;
    static const struct {
        const char *text, *err;
    } cases[] = {
        {"allow tcp from 10.0.0.0/33", "rules:1: '10.0.0.0/33' is not an"},
        {"default deny\n\nallow tcp to any port 65536",
         "rules:3: '65536' is not a port"},
        {"allow udp to any port 9-8", "rules:1: '9-8' is not a port"},
        {"allow ip to any port 80", "rules:1: ports are for tcp and udp"},
        {"allow sctp", "rules:1: 'sctp' is not a protocol"},
        {"allow", "rules:1: allow needs a protocol"},
        {"allow tcp to", "rules:1: to needs an address"},
        {"allow tcp to any from any", "rules:1: from must come before to"},
        {"allow tcp from any from any", "rules:1: 'from' given twice"},
        {"allow tcp to any port", "rules:1: port needs"},
        {"allow tcp at 1.2.3.4", "rules:1: 'at' where from or to"},
        {"default maybe", "rules:1: default takes allow or deny"},
        {"default deny\ndefault allow", "rules:2: default given twice"},
        {"limit 10mbit\nlimit 1mbit", "rules:2: limit given twice"},
        {"limit fast", "rules:1: 'fast' is not a rate"},
        {"limit 0mbit", "rules:1: '0mbit' is zero"},
        {"limit 10mbit burst 1k", "rules:1: burst 1k is smaller"},
        {"limit 99999999999999gbit", "rules:1: '99999999999999gbit' is too"},
        {"permit tcp", "rules:1: 'permit' is not allow, deny"},
        {"allow tcp from 1.2.3", "rules:1: '1.2.3' is not an address"},
        {"allow tcp from 1.2.3.256", "rules:1: '1.2.3.256' is not an"},
        {"allow tcp\x01", "rules:1: a control or non-ASCII byte"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse(cases[i].text), -1);
        if (strncmp(err, cases[i].err, strlen(cases[i].err))) {
            print_error("'%s': got '%s'\n", cases[i].text, err);
            fail();
        }
    }
    /* Too many rules, a line too long. */
    static char many[FW_MAX_RULES * 8 + 16];
    many[0] = 0;
    for (int i = 0; i <= FW_MAX_RULES; i++)
        strcat(many, "deny ip\n");
    assert_int_equal(parse(many), -1);
    assert_string_equal(err, "rules:257: more than 256 rules");
    static char longline[FW_MAX_LINE + 8];
    memset(longline, ' ', sizeof longline - 1);
    longline[sizeof longline - 1] = 0;
    assert_int_equal(parse(longline), -1);
    assert_string_equal(err, "rules:1: line longer than 511 bytes");
}

static void first_match_decides_both_ways(void **state)
{
    (void)state;
    uint8_t p[24];
    assert_int_equal(parse("default deny\n"
                           "deny out tcp to 10.9.0.0/16 port 80\n"
                           "allow out tcp to any port 80\n"
                           "allow in tcp from any port 80\n"
                           "allow udp from 10.1.0.5 port 6000 to any\n"),
                     0);
    size_t n = packet(p, 6, "10.1.0.5", "93.184.216.34", 40000, 80);
    assert_int_equal(fw_rules_allow(&rs, FW_OUT, p, n), 1);
    assert_int_equal(fw_rules_allow(&rs, FW_IN, p, n), 0); /* out only */
    n = packet(p, 6, "10.1.0.5", "10.9.3.4", 40000, 80);
    assert_int_equal(fw_rules_allow(&rs, FW_OUT, p, n), 0); /* first rule */
    n = packet(p, 6, "93.184.216.34", "10.1.0.5", 80, 40000);
    assert_int_equal(fw_rules_allow(&rs, FW_IN, p, n), 1);
    n = packet(p, 6, "10.1.0.5", "93.184.216.34", 40000, 81);
    assert_int_equal(fw_rules_allow(&rs, FW_OUT, p, n), 0); /* default */
    n = packet(p, 17, "10.1.0.5", "1.1.1.1", 6000, 53);
    assert_int_equal(fw_rules_allow(&rs, FW_OUT, p, n), 1);
    assert_int_equal(fw_rules_allow(&rs, FW_IN, p, n), 1); /* both ways */
    n = packet(p, 17, "10.1.0.6", "1.1.1.1", 6000, 53);
    assert_int_equal(fw_rules_allow(&rs, FW_OUT, p, n), 0);
    /* Too short for its ports, or a later fragment: no port rule matches. */
    n = packet(p, 6, "10.1.0.5", "93.184.216.34", 40000, 80);
    assert_int_equal(fw_rules_allow(&rs, FW_OUT, p, 21), 0);
    p[7] = 1;
    assert_int_equal(fw_rules_allow(&rs, FW_OUT, p, n), 0);
    assert_int_equal(fw_rules_allow(&rs, FW_OUT, p, 19), 0);
    assert_int_equal(parse("default allow\n"), 0);
    assert_int_equal(fw_rules_allow(&rs, FW_OUT, p, n), 1);
}

static void bucket_limits_bytes(void **state)
{
    (void)state;
    assert_int_equal(parse("limit 8mbit burst 10k\n"), 0); /* 1 MB/s */
    struct fw_bucket b = {0, 0};
    uint64_t t = 1000000000;
    unsigned passed = 0;
    for (int i = 0; i < 100; i++) /* 100 frames at once: the burst only */
        passed += (unsigned)fw_bucket_take(&b, &rs, t, 1000);
    assert_int_equal(passed, 10);
    /* 10 ms later: 10,000 bytes more. */
    passed = 0;
    for (int i = 0; i < 100; i++)
        passed += (unsigned)fw_bucket_take(&b, &rs, t + 10000000, 1000);
    assert_int_equal(passed, 10);
    /* Never more than the bucket, however long it was idle. */
    passed = 0;
    for (int i = 0; i < 100; i++)
        passed += (unsigned)fw_bucket_take(&b, &rs, t + 3600000000000ull, 1000);
    assert_int_equal(passed, 10);
    /* No limit: everything. */
    assert_int_equal(parse("default allow\n"), 0);
    assert_int_equal(fw_bucket_take(&b, &rs, t, 1 << 30), 1);
}

static void nic_spec(void **state)
{
    (void)state;
    struct guest_nic_spec s;
    struct lvm_err e;
    assert_int_equal(nic_spec_parse("up0=lvm0", &s, &e), 0);
    assert_string_equal(s.dev, "up0");
    assert_string_equal(s.bridge, "lvm0");
    assert_int_equal(s.forward, 0);
    assert_int_equal(s.nat, 0);
    assert_int_equal(nic_spec_parse("user0=br-users,forward,ip=10.1.0.2,"
                                    "subnet=10.1.0.1/24,nat",
                                    &s, &e),
                     0);
    assert_int_equal(s.forward, 1);
    assert_int_equal(s.nat, 1);
    assert_int_equal(s.prefix, 24);
    assert_int_equal(s.want_addr, htonl(0x0a010002));
    assert_int_equal(s.bridge_addr, htonl(0x0a010001));
    static const char *bad[] = {"=lvm0",
                                "up0=",
                                "up0",
                                "a/b=lvm0",
                                "up0=lvm0,bogus",
                                "up0=lvm0,ip=1.2.3",
                                "up0=a/b",
                                "up0=lvm0,subnet=1.2.3.4/33",
                                "up0=abcdefghijklmnop",
                                "abcdefghijklmnopq=lvm0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(nic_spec_parse(bad[i], &s, &e), -1);
    struct guest_net_spec ns;
    memset(&ns, 0, sizeof ns);
    assert_int_equal(nic_spec_parse("up0=lvm0", &ns.nics[0], &e), 0);
    ns.nnics = 1;
    assert_non_null(nic_spec_find(&ns, "up0"));
    assert_null(nic_spec_find(&ns, "user0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_every_statement),
        cmocka_unit_test(errors_name_their_line),
        cmocka_unit_test(first_match_decides_both_ways),
        cmocka_unit_test(bucket_limits_bytes),
        cmocka_unit_test(nic_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
