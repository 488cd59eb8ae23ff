/*
 * clients.c: invocations in flight per client address (clients.h).
 */
#include "faas/clients.h"

#include <stdlib.h>
#include <string.h>

static unsigned bucket(uint32_t addr)
{
    /* Fibonacci hashing: the addresses of one subnet spread out. */
    return (unsigned)((addr * 2654435769u) >> 24) % FN_CLIENT_BUCKETS;
}

void fn_clients_init(struct fn_clients *t, unsigned limit)
{
    memset(t, 0, sizeof *t);
    t->limit = limit;
}

static struct fn_client **find(struct fn_clients *t, uint32_t addr)
{
    struct fn_client **p = &t->b[bucket(addr)];
    while (*p && (*p)->addr != addr)
        p = &(*p)->next;
    return p;
}

int fn_clients_take(struct fn_clients *t, uint32_t addr)
{
    struct fn_client **p = find(t, addr);
    if (*p) {
        if (t->limit && (*p)->n >= t->limit)
            return -1;
        (*p)->n++;
        return 0;
    }
    struct fn_client *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->addr = addr;
    c->n = 1;
    *p = c;
    t->count++;
    return 0;
}

void fn_clients_put(struct fn_clients *t, uint32_t addr)
{
    struct fn_client **p = find(t, addr);
    if (!*p)
        return;
    if (--(*p)->n == 0) {
        struct fn_client *c = *p;
        *p = c->next;
        free(c);
        t->count--;
    }
}

unsigned fn_clients_in_flight(const struct fn_clients *t, uint32_t addr)
{
    const struct fn_client *c = t->b[bucket(addr)];
    while (c && c->addr != addr)
        c = c->next;
    return c ? c->n : 0;
}

void fn_clients_fini(struct fn_clients *t)
{
    for (unsigned i = 0; i < FN_CLIENT_BUCKETS; i++)
        while (t->b[i]) {
            struct fn_client *c = t->b[i];
            t->b[i] = c->next;
            free(c);
        }
    t->count = 0;
}
