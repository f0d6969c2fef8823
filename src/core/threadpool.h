/* core/threadpool.h — a persistent worker pool; parallel_for splits [0, n) into one contiguous
 * chunk per thread. Nested calls run serially. */
#ifndef AM_CORE_THREADPOOL_H
#define AM_CORE_THREADPOOL_H
#include <stdint.h>
typedef void (*am__range_fn)(void *ctx, int64_t begin, int64_t end);
void am__parallel_for(int64_t n, am__range_fn fn, void *ctx);
int am__num_threads(void);
#endif
