/* core/threadpool.c — parallel_for on OpenMP's worker threads. oneDNN (our GEMM) runs on OpenMP
 * too; a second, pthread-based pool made the two sets of workers spin against each other on 2
 * cores (libgomp's waiting threads took 45% of the cycles), so there is one pool: OpenMP's. */
#include "core/threadpool.h"
#include "automodel.h"
#include <omp.h>
#include <stdlib.h>
#include <unistd.h>

#define AM_MAX_THREADS 256

static int g_nthreads = 0;

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
void am_set_num_threads(int n) { g_nthreads = n <= 0 ? env_threads() : (n > AM_MAX_THREADS ? AM_MAX_THREADS : n); }
int am_get_num_threads(void) { return am__num_threads(); }

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
