/* daemon_cmds.h: helpers shared by the commands that talk to lightvmd. */
#ifndef LVM_CLI_DAEMON_CMDS_H
#define LVM_CLI_DAEMON_CMDS_H

#include <jansson.h>
#include <lightvm/lightvm.h>

/* Connect to lightvmd, or say why not (and that it must be started). */
struct lightvm *cli_connect(void);

/* Print a guest (or an exit) as one JSON object on stdout. */
void cli_print_guest_json(const struct lightvm_guest *g);
void cli_print_exit_json(const char *id, const struct lightvm_exit *x);
/* The object cli_print_guest_json prints. */
json_t *cli_guest_json(const struct lightvm_guest *g);
/* Print (o) (consumed) as one line of compact JSON. */
void cli_print_json(json_t *o);

/* The user name of (uid) ("1001" if it has none, "-" if unknown). */
const char *cli_owner_name(long uid, char *buf, size_t len);

/* A guest as the daemon takes it: USER/NAME with USER a user name
 * becomes UID/NAME; anything else is (arg) as it is. */
const char *cli_guest_ref(const char *arg, char *buf, size_t len);

/* "12.3 MiB" */
const char *cli_bytes(uint64_t v, char *buf, size_t len);

#endif
