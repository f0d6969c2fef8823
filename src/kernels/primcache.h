/* kernels/primcache.h — oneDNN primitives shared by every application thread: one CPU engine, a
 * bounded LRU cache of compiled primitives, and per-thread execution state.
 *
 * A primitive is found by (builder, key bytes, OpenMP thread count): the key is any byte blob the
 * caller defines (zero its padding), so a new primitive kind plugs in with its own key struct
 * (shapes, strides, dtypes, ...) and builder, and never collides with another kind. The cache lock
 * is held only to look up, insert or evict; primitives are compiled and executed outside it. Entries
 * are reference-counted, so evicting one that another thread is executing only unlinks it: the
 * last am__prim_release frees it.
 *
 * Primitives are created with a user-managed scratchpad: each execution gets its scratchpad from the
 * calling thread's own buffer, which makes one primitive safe to execute from several threads at
 * once (oneDNN's default library scratchpad is per creating thread and must not migrate). Each
 * thread has its own stream. The capacity is AM__PRIM_CACHE_DEFAULT entries, or
 * AM_PRIMITIVE_CACHE_SIZE (0 = no caching: every call compiles); oneDNN's own implementation cache
 * behind dnnl_primitive_create gets the same capacity unless DNNL_PRIMITIVE_CACHE_CAPACITY is set. */
#ifndef AM_KERNELS_PRIMCACHE_H
#define AM_KERNELS_PRIMCACHE_H
#include <oneapi/dnnl/dnnl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AM__PRIM_CACHE_DEFAULT 64
#define AM__PRIM_MAX_ARGS 6

typedef struct am__prim am__prim;

/* Fills p->prim, p->nargs, p->arg[] (DNNL_ARG_*) and p->md[] from the key; creates the primitive
 * with am__prim_create. Runs without the cache lock (it compiles). */
typedef bool (*am__prim_build_fn)(const void *key, am__prim *p, dnnl_engine_t engine);

struct am__prim {
    /* set by the builder */
    dnnl_primitive_t prim;
    int nargs;
    int arg[AM__PRIM_MAX_ARGS];
    dnnl_memory_desc_t md[AM__PRIM_MAX_ARGS];
    bool fpmath_bf16; /* set by the builder before am__prim_create: f32 may compute in bf16 */
    /* set by am__prim_create */
    dnnl_memory_desc_t scratch_md;
    size_t scratch_bytes;
    /* cache bookkeeping (primcache.c only) */
    am__prim_build_fn build;
    uint64_t hash;
    int nthreads;
    int refs;
    bool cached;
    struct am__prim *prev, *next;
    size_t key_len;
    unsigned char key[];
};

/* Creates p->prim from an op descriptor (dnnl_*_desc_t), with a user scratchpad. */
bool am__prim_create(am__prim *p, const void *op_desc, dnnl_engine_t engine);

/* Finds or builds the primitive for (build, key) at the current thread count; holds a reference
 * (am__prim_release). NULL when oneDNN is unavailable or refuses the shape (callers fall back to
 * portable loops), or when memory runs out (also noted with am__oom_note, so the entry point fails). */
am__prim *am__prim_get(const void *key, size_t key_len, am__prim_build_fn build);
void am__prim_release(am__prim *p);
/* Executes on the calling thread's stream; ptr[i] is the data of p->arg[i]. */
bool am__prim_exec(const am__prim *p, void *const *ptr);
/* get + exec + release, after giving the calling thread's OpenMP team the configured size
 * (am__omp_sync_threads). */
bool am__prim_run(const void *key, size_t key_len, am__prim_build_fn build, void *const *ptr);

typedef struct am__prim_stats {
    uint64_t hits, misses, evictions;
    uint64_t build_ns; /* CPU time the compiling threads spent building primitives (the misses' cost) */
    size_t size, capacity;
} am__prim_stats;
am__prim_stats am__prim_cache_stats(void);
/* Sets the capacity (tests, benchmarks), evicting down to it; < 0 restores the default. */
void am__prim_cache_set_capacity(long n);
#endif
