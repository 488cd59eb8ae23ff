/*
 * serve_work.c: the worker threads of `lightvm serve`. lightvmd's calls
 * block for as long as a create takes; the loop hands them here as jobs,
 * and an eventfd tells it when results are back. Each thread has its own
 * connection (a connection is not thread-safe), made again if lightvmd
 * closed it.
 */
#include "cli/serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void run_create(struct lightvm *c, const struct serve_cfg *cfg,
                       struct serve_job *j, struct lightvm_error *ep)
{
    struct lightvm_guest g;
    struct lightvm_error e = {"", ""};
    int rc;
    if (cfg->snapshot) {
        unsigned n = 0;
        rc = lightvm_clone(c, NULL, cfg->snapshot, 1, NULL, &g, 1, &n, &e);
        if (rc == 0 && n == 0)
            rc = -1; /* (e) says why the one clone did not start */
    } else {
        rc = lightvm_create(c, &cfg->co, &g, &e);
    }
    if (rc < 0) {
        snprintf(j->err, sizeof j->err, "%s", e.message);
        *ep = e;
        return;
    }
    snprintf(j->id, sizeof j->id, "%s", g.id);
    if (!g.ip[0]) { /* DHCP or no NIC: there is no address to splice to */
        snprintf(j->err, sizeof j->err,
                 "guest %s has no address (the image must declare a NIC; "
                 "no --net-dhcp)",
                 g.id);
        lightvm_destroy(c, g.id, NULL, &e);
        return;
    }
    snprintf(j->ip, sizeof j->ip, "%s", g.ip);
    j->ok = 1;
}

static void run_job(struct lightvm **c, const struct serve_cfg *cfg,
                    struct serve_job *j)
{
    struct lightvm_error e = {"", ""};
    j->ok = 0;
    j->err[0] = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!*c && !(*c = lightvm_connect(NULL, &e))) {
            snprintf(j->err, sizeof j->err, "%s", e.message);
            return;
        }
        if (j->op == SERVE_OP_CREATE) {
            run_create(*c, cfg, j, &e);
        } else if (lightvm_destroy(*c, j->id, NULL, &e) == 0 ||
                   !strcmp(e.code, "not_found")) {
            j->ok = 1; /* gone either way */
        } else {
            snprintf(j->err, sizeof j->err, "%s", e.message);
        }
        if (j->ok || strcmp(e.code, "unavailable")) /* lightvmd is there */
            return;
        lightvm_close(*c); /* lightvmd went away: once more, anew */
        *c = NULL;
    }
}

static void *worker(void *arg)
{
    struct serve_work *w = arg;
    struct lightvm_error e;
    struct lightvm *c = lightvm_connect(NULL, &e);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->todo && (!w->dtodo || w->destroying) && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        struct serve_job *j = NULL;
        if (w->todo) {
            j = w->todo;
            w->todo = j->next;
            if (!w->todo)
                w->todo_tail = NULL;
        } else if (w->dtodo && !w->destroying) {
            j = w->dtodo;
            w->dtodo = j->next;
            if (!w->dtodo)
                w->dtodo_tail = NULL;
            w->destroying++;
        } else {
            break; /* stopping, and nothing left to do */
        }
        pthread_mutex_unlock(&w->mu);
        run_job(&c, w->cfg, j);
        pthread_mutex_lock(&w->mu);
        if (j->op == SERVE_OP_DESTROY) {
            w->destroying--;
            pthread_cond_broadcast(&w->cv); /* the next destroy may go */
        }
        j->next = w->done; /* reversed; serve_work_take turns it round */
        w->done = j;
        uint64_t one = 1;
        if (write(w->efd, &one, sizeof one) < 0) {
            /* the counter cannot overflow at one per job */
        }
    }
    pthread_mutex_unlock(&w->mu);
    lightvm_close(c);
    return NULL;
}

int serve_work_start(struct serve_work *w, const struct serve_cfg *cfg)
{
    struct lightvm_error e;
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    /* Said here, in one line, rather than by every create later. */
    struct lightvm *probe = lightvm_connect(NULL, &e);
    if (!probe) {
        fprintf(stderr, "lightvm: serve: %s\n", e.message);
        return -1;
    }
    lightvm_close(probe);
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->efd < 0)
        return -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    unsigned n = cfg->workers;
    if (n > sizeof w->th / sizeof w->th[0])
        n = sizeof w->th / sizeof w->th[0];
    for (w->n = 0; w->n < n; w->n++)
        if (pthread_create(&w->th[w->n], NULL, worker, w) != 0)
            break;
    return w->n ? 0 : -1;
}

void serve_work_push(struct serve_work *w, struct serve_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&w->mu);
    struct serve_job **head = &w->todo, **tail = &w->todo_tail;
    if (j->op == SERVE_OP_DESTROY) {
        head = &w->dtodo;
        tail = &w->dtodo_tail;
    }
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

struct serve_job *serve_work_take(struct serve_work *w)
{
    uint64_t n;
    if (read(w->efd, &n, sizeof n) < 0 && errno != EAGAIN) {
        /* nothing to clear */
    }
    pthread_mutex_lock(&w->mu);
    struct serve_job *rev = w->done, *out = NULL;
    w->done = NULL;
    pthread_mutex_unlock(&w->mu);
    while (rev) {
        struct serve_job *next = rev->next;
        rev->next = out;
        out = rev;
        rev = next;
    }
    return out;
}

void serve_work_stop(struct serve_work *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->n; i++)
        pthread_join(w->th[i], NULL);
    for (struct serve_job *j = serve_work_take(w), *next; j; j = next) {
        next = j->next;
        free(j);
    }
    close(w->efd);
}
