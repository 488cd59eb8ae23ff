/*
 * fuzz_fw_rules.c: the firewall's rule files (examples/firewall/rules.c),
 * untrusted text from whoever writes a user's rules; a parsed set is then
 * matched against a packet made of the same bytes.
 */
#include "examples/firewall/rules.h"

#include <stdint.h>
#include <string.h>

static struct fw_rules rules;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[160];
    if (fw_rules_parse((const char *)data, size, &rules, err, sizeof err) < 0)
        return strncmp(err, "rules:", 6) != 0; /* always "rules:LINE: ..." */
    uint8_t ip[64];
    memset(ip, 0, sizeof ip);
    memcpy(ip, data, size < sizeof ip ? size : sizeof ip);
    ip[0] = (uint8_t)(0x40 | (ip[0] & 15));
    fw_rules_allow(&rules, FW_OUT, ip, size < sizeof ip ? size : sizeof ip);
    fw_rules_allow(&rules, FW_IN, ip, sizeof ip);
    struct fw_bucket b = {0, 0};
    fw_bucket_take(&b, &rules, 1, 1514);
    fw_bucket_take(&b, &rules, UINT64_MAX / 2, 1514);
    return 0;
}
