/* core/threadpool.c — parallel_for on OpenMP's worker threads. oneDNN (our GEMM) runs on OpenMP
 * too; a second, pthread-based pool made the two sets of workers spin against each other on 2
 * cores (libgomp's waiting threads took 45% of the cycles), so there is one pool: OpenMP's. */
#include "core/threadpool.h"
#include "automodel.h"
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define AM_MAX_THREADS 256

/* The process-wide setting (am_set_num_threads); 0 = not read from the environment yet. */
static atomic_int g_nthreads;
/* What this thread last gave OpenMP: nthreads-var is per thread (per implicit task), so every
 * application thread that enters oneDNN sets its own; 0 = never. */
static _Thread_local int t_omp_set;

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
    int n = atomic_load_explicit(&g_nthreads, memory_order_relaxed);
    if (n > 0) return n;
    int want = env_threads(), expected = 0;
    /* first reader wins; a concurrent am_set_num_threads is kept */
    atomic_compare_exchange_strong_explicit(&g_nthreads, &expected, want, memory_order_relaxed, memory_order_relaxed);
    return atomic_load_explicit(&g_nthreads, memory_order_relaxed);
}
void am_set_num_threads(int n) {
    atomic_store_explicit(&g_nthreads, n <= 0 ? env_threads() : (n > AM_MAX_THREADS ? AM_MAX_THREADS : n), memory_order_relaxed);
}
int am_get_num_threads(void) { return am__num_threads(); }

void am__omp_sync_threads(void) {
    int nt = am__num_threads();
    if (nt != t_omp_set) {
        omp_set_num_threads(nt);
        t_omp_set = nt;
    }
}

void am__parallel_for(int64_t n, am__range_fn fn, void *ctx) {
    if (n <= 0) return;
    int nt = am__num_threads();
    if (nt <= 1 || n == 1 || omp_in_parallel()) {
        fn(ctx, 0, n);
        return;
    }
    if ((int64_t)nt > n) nt = (int)n;
#pragma omp parallel num_threads(nt)
    {
        int64_t id = omp_get_thread_num(), parts = omp_get_num_threads();
        int64_t b = n * id / parts, e = n * (id + 1) / parts;
        if (e > b) fn(ctx, b, e);
    }
}
