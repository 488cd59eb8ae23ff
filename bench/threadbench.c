/*
 * threadbench.c: thread ping-pong and mutex contention, one source for a
 * guest (lightvm-cc, the SDK's green threads) and for the host (musl,
 * static, the kernel's threads): bench/threads.sh runs both.
 *
 *   threadbench pingpong ROUNDS     two threads hand a token back and
 *                                   forth with a mutex and a condition
 *                                   variable: ns per round trip
 *   threadbench mutex THREADS OPS   THREADS threads each lock, increment
 *                                   and unlock one mutex OPS times: ns
 *                                   per lock/unlock
 *
 * Prints one line: "NAME ns VALUE" (and exits 1 if a count is wrong).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long turn, rounds, ops, counter;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *pong(void *arg)
{
    long me = (long)arg;
    for (long r = 0; r < rounds; r++) {
        pthread_mutex_lock(&lock);
        while ((turn & 1) != me)
            pthread_cond_wait(&cv, &lock);
        turn++;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&lock);
    }
    return 0;
}

static void *hammer(void *arg)
{
    (void)arg;
    for (long i = 0; i < ops; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    return 0;
}

int main(int argc, char **argv)
{
    pthread_t t[64];
    if (argc == 3 && !strcmp(argv[1], "pingpong")) {
        rounds = atol(argv[2]);
        double t0 = now_ns();
        for (long i = 0; i < 2; i++)
            pthread_create(&t[i], 0, pong, (void *)i);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], 0);
        double ns = (now_ns() - t0) / (double)rounds;
        printf("pingpong ns %.1f\n", ns);
        return turn == 2 * rounds ? 0 : 1;
    }
    if (argc == 4 && !strcmp(argv[1], "mutex")) {
        long n = atol(argv[2]);
        ops = atol(argv[3]);
        if (n < 1 || n > 64)
            return 2;
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            pthread_create(&t[i], 0, hammer, 0);
        for (long i = 0; i < n; i++)
            pthread_join(t[i], 0);
        double ns = (now_ns() - t0) / (double)(n * ops);
        printf("mutex ns %.1f\n", ns);
        return counter == n * ops ? 0 : 1;
    }
    fprintf(stderr, "usage: threadbench pingpong ROUNDS | mutex THREADS OPS\n");
    return 2;
}
