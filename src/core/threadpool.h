/* core/threadpool.h — parallel_for on OpenMP's workers; splits [0, n) into one contiguous chunk
 * per thread. Nested calls run serially. Safe to call from several application threads at once:
 * each gets its own OpenMP team. */
#ifndef AM_CORE_THREADPOOL_H
#define AM_CORE_THREADPOOL_H
#include <stdint.h>
typedef void (*am__range_fn)(void *ctx, int64_t begin, int64_t end);
void am__parallel_for(int64_t n, am__range_fn fn, void *ctx);
/* The configured thread count (am_set_num_threads, else AM_NUM_THREADS / OMP_NUM_THREADS / CPUs). */
int am__num_threads(void);
/* Gives the calling thread's OpenMP nthreads-var that count (OpenMP keeps it per thread; oneDNN
 * sizes its parallel regions by it). Cheap when already in sync. */
void am__omp_sync_threads(void);
#endif
