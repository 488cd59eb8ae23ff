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

/* Take the next job of a queue; NULL if there is none. */
static struct serve_job *pop(struct serve_job **head, struct serve_job **tail)
{
    struct serve_job *j = *head;
    if (j && !(*head = j->next))
        *tail = NULL;
    return j;
}

/* One thread: creates (a create worker) or, if (destroys), destroys,
 * until stopped with its queue empty. A destroy thread connects at its
 * first job: a serve whose guests never go needs no connection for it. */
static void work(struct serve_work *w, int destroys)
{
    struct lightvm_error e;
    struct lightvm *c = destroys ? NULL : lightvm_connect(NULL, &e);
    struct serve_job **head = destroys ? &w->dtodo : &w->todo;
    struct serve_job **tail = destroys ? &w->dtodo_tail : &w->todo_tail;
    pthread_cond_t *cv = destroys ? &w->dcv : &w->cv;
    unsigned *busy = destroys ? &w->destroying : &w->creating;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        /* A destroy goes alone while a create is in flight (serve.h). */
        while (!w->stop &&
               (!*head || (destroys && w->creating && w->destroying)))
            pthread_cond_wait(cv, &w->mu);
        struct serve_job *j = pop(head, tail);
        if (!j)
            break; /* stopping, and nothing left to do */
        ++*busy;
        pthread_mutex_unlock(&w->mu);
        run_job(&c, w->cfg, j);
        pthread_mutex_lock(&w->mu);
        --*busy;
        /* The last create done, or a destroy: a destroy may go now. */
        if (destroys || !w->creating)
            pthread_cond_broadcast(&w->dcv);
        j->next = w->done; /* reversed; serve_work_take turns it round */
        w->done = j;
        uint64_t one = 1;
        if (write(w->efd, &one, sizeof one) < 0) {
            /* the counter cannot overflow at one per job */
        }
    }
    pthread_mutex_unlock(&w->mu);
    lightvm_close(c);
}

static void *creator(void *arg)
{
    work(arg, 0);
    return NULL;
}

static void *destroyer(void *arg)
{
    work(arg, 1);
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
    pthread_cond_init(&w->dcv, NULL);
    unsigned n = cfg->workers;
    if (n > sizeof w->th / sizeof w->th[0])
        n = sizeof w->th / sizeof w->th[0];
    for (w->n = 0; w->n < n; w->n++)
        if (pthread_create(&w->th[w->n], NULL, creator, w) != 0)
            break;
    for (w->nd = 0; w->nd < SERVE_DESTROYERS; w->nd++)
        if (pthread_create(&w->dth[w->nd], NULL, destroyer, w) != 0)
            break;
    if (w->n && w->nd)
        return 0;
    serve_work_stop(w); /* the threads that did start */
    fprintf(stderr, "lightvm: serve: cannot start its threads\n");
    return -1;
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
    pthread_cond_signal(j->op == SERVE_OP_DESTROY ? &w->dcv : &w->cv);
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
    pthread_cond_broadcast(&w->dcv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->n; i++)
        pthread_join(w->th[i], NULL);
    for (unsigned i = 0; i < w->nd; i++)
        pthread_join(w->dth[i], NULL);
    for (struct serve_job *j = serve_work_take(w), *next; j; j = next) {
        next = j->next;
        free(j);
    }
    close(w->efd);
}
