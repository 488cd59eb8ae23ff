/* daemon_cmds.h: helpers shared by the commands that talk to lightvmd. */
#ifndef LVM_CLI_DAEMON_CMDS_H
#define LVM_CLI_DAEMON_CMDS_H

#include <jansson.h>
#include <lightvm/lightvm.h>

/* Connect to lightvmd, or say why not (and that it must be started). */
struct lightvm *cli_connect(void);

/* --json (cli/json_out.c). Print (o) (consumed) as one line of compact
 * JSON, every real rounded to 3 decimals. */
void cli_print_json(json_t *o);
/* Round every real in (v) to 3 decimals, as cli_print_json does. */
void cli_json_round(json_t *v);
/* Send (req) (consumed) to lightvmd: its reply if ok, else NULL and (e). */
json_t *cli_api(struct lightvm *cl, json_t *req, struct lightvm_error *e);
/* One guest (ref), or all, as the API describes them, with owner_name. */
json_t *cli_api_guest(struct lightvm *cl, const char *ref,
                      struct lightvm_error *e);
json_t *cli_api_guests(struct lightvm *cl, int stats, struct lightvm_error *e);
/* Print guest (id) as the API describes it; -1 (said why) if it failed. */
int cli_print_guest(struct lightvm *cl, const char *id);
/* Add owner_name (the user name of its owner uid) to a guest object. */
void cli_guest_decorate(json_t *g);
/* (n) bytes of console output as a JSON string (bad UTF-8: U+FFFD). */
json_t *cli_json_text(const char *buf, size_t n);

/* The user name of (uid) ("1001" if it has none, "-" if unknown). */
const char *cli_owner_name(long uid, char *buf, size_t len);

/* A guest as the daemon takes it: USER/NAME with USER a user name
 * becomes UID/NAME; anything else is (arg) as it is. */
const char *cli_guest_ref(const char *arg, char *buf, size_t len);

/* "12.3 MiB" */
const char *cli_bytes(uint64_t v, char *buf, size_t len);

#endif
