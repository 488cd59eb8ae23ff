/* daemon_cmds.h: helpers shared by the commands that talk to lightvmd. */
#ifndef LVM_CLI_DAEMON_CMDS_H
#define LVM_CLI_DAEMON_CMDS_H

#include <lightvm/lightvm.h>

/* Connect to lightvmd, or say why not (and that it must be started). */
struct lightvm *cli_connect(void);

/* Print a guest (or an exit) as one JSON object on stdout. */
void cli_print_guest_json(const struct lightvm_guest *g);
void cli_print_exit_json(const char *id, const struct lightvm_exit *x);

/* "12.3 MiB" */
const char *cli_bytes(uint64_t v, char *buf, size_t len);

#endif
