/*
 * clients.h: invocations in flight (running or queued) per client
 * address, for the gateway's per-client limit (--max-per-client): one
 * address may not hold every run slot and the whole queue, so others are
 * still served while it floods (429 past its share). A small chained hash
 * table; an address is in it only while it has invocations in flight, so
 * it holds at most --max-running + --queue entries.
 */
#ifndef LVM_FAAS_CLIENTS_H
#define LVM_FAAS_CLIENTS_H
#include <stdint.h>

#define FN_CLIENT_BUCKETS 256

struct fn_client {
    uint32_t addr; /* IPv4, network order */
    unsigned n;    /* invocations in flight */
    struct fn_client *next;
};

struct fn_clients {
    unsigned limit; /* per address; 0: none */
    unsigned count; /* addresses in the table */
    struct fn_client *b[FN_CLIENT_BUCKETS];
};

void fn_clients_init(struct fn_clients *t, unsigned limit);
/* One more invocation for (addr): 0, or -1 if it has (limit) already, or
 * no memory is left to count it. */
int fn_clients_take(struct fn_clients *t, uint32_t addr);
/* One fewer (the invocation ended or was dropped). */
void fn_clients_put(struct fn_clients *t, uint32_t addr);
/* The invocations (addr) has in flight. */
unsigned fn_clients_in_flight(const struct fn_clients *t, uint32_t addr);
void fn_clients_fini(struct fn_clients *t);

#endif
