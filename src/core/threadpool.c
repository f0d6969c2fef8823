/* core/threadpool.c — persistent pthread workers driven by a generation counter. */
#include "core/threadpool.h"
#include "automodel.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define AM_MAX_THREADS 256

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_done = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t g_call_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_nthreads = 0;  /* configured */
static int g_nworkers = 0;  /* started (excluding caller) */
static uint64_t g_gen = 0;
static int g_pending = 0;
static am__range_fn g_fn;
static void *g_ctx;
static int64_t g_n;
static int g_parts;
static _Thread_local bool t_in_pool = false;

static int env_threads(void) {
    const char *s = getenv("AM_NUM_THREADS");
    if (!s || !*s) s = getenv("OMP_NUM_THREADS");
    if (s && *s) {
        int n = atoi(s);
        if (n > 0) return n > AM_MAX_THREADS ? AM_MAX_THREADS : n;
    }
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)(c > AM_MAX_THREADS ? AM_MAX_THREADS : c) : 1;
}

int am__num_threads(void) {
    if (g_nthreads <= 0) g_nthreads = env_threads();
    return g_nthreads;
}
void am_set_num_threads(int n) {
    g_nthreads = n <= 0 ? env_threads() : (n > AM_MAX_THREADS ? AM_MAX_THREADS : n);
}
int am_get_num_threads(void) { return am__num_threads(); }

static void run_part(int part) {
    int64_t b = g_n * part / g_parts, e = g_n * (part + 1) / g_parts;
    if (e > b) g_fn(g_ctx, b, e);
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg; /* 1..g_nworkers */
    t_in_pool = true;
    uint64_t seen = 0;
    pthread_mutex_lock(&g_mu);
    for (;;) {
        while (g_gen == seen) pthread_cond_wait(&g_work, &g_mu);
        seen = g_gen;
        int parts = g_parts;
        pthread_mutex_unlock(&g_mu);
        if (id < parts) run_part(id);
        pthread_mutex_lock(&g_mu);
        if (--g_pending == 0) pthread_cond_signal(&g_done);
    }
    return NULL;
}

void am__parallel_for(int64_t n, am__range_fn fn, void *ctx) {
    if (n <= 0) return;
    int nt = am__num_threads();
    if (nt <= 1 || n == 1 || t_in_pool) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&g_call_mu);
    pthread_mutex_lock(&g_mu);
    while (g_nworkers < nt - 1) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, worker, (void *)(intptr_t)(g_nworkers + 1)) != 0) {
            pthread_attr_destroy(&at);
            break;
        }
        pthread_attr_destroy(&at);
        g_nworkers++;
    }
    int parts = nt < g_nworkers + 1 ? nt : g_nworkers + 1;
    if ((int64_t)parts > n) parts = (int)n;
    g_fn = fn;
    g_ctx = ctx;
    g_n = n;
    g_parts = parts;
    g_pending = g_nworkers;
    g_gen++;
    pthread_cond_broadcast(&g_work);
    pthread_mutex_unlock(&g_mu);
    t_in_pool = true;
    run_part(0);
    t_in_pool = false;
    pthread_mutex_lock(&g_mu);
    while (g_pending > 0) pthread_cond_wait(&g_done, &g_mu);
    pthread_mutex_unlock(&g_mu);
    pthread_mutex_unlock(&g_call_mu);
}
