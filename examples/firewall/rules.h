/*
 * rules.h: the firewall's rule file, parsed and matched. Plain C with no
 * guest calls, so the same file builds into the guest, the host's
 * `firewall-check` and the unit tests and fuzzer (the file is untrusted
 * input: whoever writes a user's rules is not the operator).
 *
 * Syntax (README.md), one statement a line, '#' starts a comment:
 *
 *   default allow|deny
 *   limit RATE [burst SIZE]          e.g. limit 10mbit burst 64k
 *   allow|deny [in|out] PROTO [from ADDR[/P]|any [port P[-Q]]]
 *                            [to ADDR[/P]|any [port P[-Q]]]
 *
 * PROTO is ip (any IPv4), tcp, udp or icmp; ports only for tcp and udp.
 * out: from the user's NIC to the upstream one; in: the other way; no
 * direction: both. The first rule that matches decides; none: default.
 */
#ifndef LVM_FIREWALL_RULES_H
#define LVM_FIREWALL_RULES_H

#include <stddef.h>
#include <stdint.h>

#define FW_MAX_RULES 256
#define FW_MAX_LINE 512

enum fw_dir { FW_BOTH = 0, FW_OUT = 1, FW_IN = 2 };
enum fw_proto { FW_IP = 0, FW_ICMP = 1, FW_TCP = 6, FW_UDP = 17 };

struct fw_rule {
    uint8_t allow, dir, proto;
    uint32_t src, smask, dst, dmask;                 /* network order */
    uint16_t sport_lo, sport_hi, dport_lo, dport_hi; /* 0-65535: any */
    unsigned line;
};

struct fw_rules {
    unsigned n;
    int default_allow;    /* 0 unless the file says default allow */
    uint64_t limit_bytes; /* bytes per second each way; 0: no limit */
    uint64_t burst_bytes; /* bucket size */
    struct fw_rule r[FW_MAX_RULES];
};

/* Parse (len) bytes of (text). 0, or -1 with "rules:LINE: what is wrong"
 * in (err). A NUL ends the text (a block device's padding). */
int fw_rules_parse(const char *text, size_t len, struct fw_rules *out,
                   char *err, size_t errlen);

/* 1 if the IPv4 packet (ip, len bytes from its header) going (dir) (FW_OUT
 * or FW_IN) is allowed, 0 if not; a packet too short for the fields a rule
 * needs does not match that rule. */
int fw_rules_allow(const struct fw_rules *rs, int dir, const uint8_t *ip,
                   size_t len);

/* A token bucket, one per direction. */
struct fw_bucket {
    uint64_t tokens; /* bytes */
    uint64_t last_ns;
};

/* 1 if (bytes) may pass at (now_ns) under (rs)'s limit (and takes them). */
int fw_bucket_take(struct fw_bucket *b, const struct fw_rules *rs,
                   uint64_t now_ns, size_t bytes);

#endif
