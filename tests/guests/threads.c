/*
 * threads.c: pthreads in a guest, unmodified. `threads.elf [N [ROUNDS]]`
 * starts N threads that pass a token round a ring with a mutex and a
 * condition variable (ping-pong), each counting in its own thread-local
 * variable; the main thread joins them and checks every result. Also
 * checks detached threads, pthread_exit, distinct thread ids, a timed
 * wait that times out, sleeping threads that overlap, and CPU-time
 * clocks that count from the guest's start. Prints "threads: ok" last.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static int turn, nthreads, rounds;
static _Thread_local long mine = 1000; /* TLS, with an initial value */
static _Thread_local int tls_zero;     /* TLS in .tbss */
static pid_t tids[64];

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            printf("threads: FAILED %s (line %d)\n", #cond, __LINE__);         \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static void *ring(void *arg)
{
    int me = (int)(long)arg;
    CHECK(mine == 1000 && tls_zero == 0);
    tids[me] = (pid_t)syscall(SYS_gettid);
    for (int r = 0; r < rounds; r++) {
        pthread_mutex_lock(&lock);
        while (turn != me)
            pthread_cond_wait(&turn_cv, &lock);
        mine++;
        tls_zero += 2;
        turn = (turn + 1) % nthreads;
        pthread_cond_broadcast(&turn_cv);
        pthread_mutex_unlock(&lock);
    }
    CHECK(mine == 1000 + rounds && tls_zero == 2 * rounds);
    return (void *)(long)(me * 1000 + rounds);
}

static void *exits_early(void *arg)
{
    (void)arg;
    pthread_exit((void *)42L);
}

static volatile int detached_done;
static void *detached(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    detached_done = 1;
    pthread_cond_broadcast(&turn_cv);
    pthread_mutex_unlock(&lock);
    return 0;
}

static void *sleeper(void *arg)
{
    struct timespec ts = {0, 50 * 1000000L};
    (void)arg;
    nanosleep(&ts, 0);
    return 0;
}

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    nthreads = argc > 1 ? atoi(argv[1]) : 8;
    rounds = argc > 2 ? atoi(argv[2]) : 100;
    CHECK(nthreads >= 1 && nthreads <= 64 && rounds >= 0);

    /* CPU time counts from the guest's start, not the host's. */
    CHECK(clock() >= 0 && clock() < 10 * CLOCKS_PER_SEC);
    CHECK(now_s(CLOCK_PROCESS_CPUTIME_ID) < 10.0);
    /* Sleeping is not CPU time, with one thread as with several. */
    double cpu0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    struct timespec nap = {0, 300 * 1000 * 1000};
    nanosleep(&nap, 0);
    CHECK(now_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0 < 0.2);

    pthread_t t[64];
    for (int i = 0; i < nthreads; i++)
        CHECK(pthread_create(&t[i], 0, ring, (void *)(long)i) == 0);
    for (int i = 0; i < nthreads; i++) {
        void *res;
        CHECK(pthread_join(t[i], &res) == 0);
        CHECK((long)res == i * 1000L + rounds);
    }
    for (int i = 0; i < nthreads; i++)
        for (int j = 0; j < i; j++)
            CHECK(tids[i] != tids[j] && tids[i] > 1);
    CHECK(mine == 1000); /* the main thread's own copy is untouched */
    printf("threads: ring of %d threads, %d rounds: ok\n", nthreads, rounds);

    pthread_t e;
    void *res;
    CHECK(pthread_create(&e, 0, exits_early, 0) == 0);
    CHECK(pthread_join(e, &res) == 0 && (long)res == 42);

    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    CHECK(pthread_create(&e, &a, detached, 0) == 0);
    pthread_mutex_lock(&lock);
    while (!detached_done)
        pthread_cond_wait(&turn_cv, &lock);
    pthread_mutex_unlock(&lock);
    printf("threads: pthread_exit and detached: ok\n");

    /* A timed wait nobody signals times out. */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += 20 * 1000000L;
    if (dl.tv_nsec >= 1000000000L)
        dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&lock);
    int rc = pthread_cond_timedwait(&turn_cv, &lock, &dl);
    pthread_mutex_unlock(&lock);
    CHECK(rc == ETIMEDOUT);

    /* Four threads sleeping 50 ms each overlap: well under 200 ms. */
    double t0 = now_s(CLOCK_MONOTONIC);
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], 0, sleeper, 0) == 0);
    for (int i = 0; i < 4; i++)
        CHECK(pthread_join(t[i], 0) == 0);
    double took = now_s(CLOCK_MONOTONIC) - t0;
    CHECK(took >= 0.05 && took < 0.19);
    /* Sleeping is not CPU time. */
    CHECK(now_s(CLOCK_THREAD_CPUTIME_ID) <= now_s(CLOCK_PROCESS_CPUTIME_ID));
    printf("threads: timed wait and overlapping sleeps: ok\n");
    printf("threads: ok\n");
    return 0;
}
