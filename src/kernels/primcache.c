/* kernels/primcache.c — the bounded, thread-safe oneDNN primitive cache (see primcache.h). */
#include "kernels/primcache.h"
#include "core/error.h"
#include "kernels/kernels.h"
#include "core/log.h"
#include "core/threadpool.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- engine (one, shared: oneDNN engines are thread-safe) ---- */

static dnnl_engine_t g_engine;
static pthread_once_t g_engine_once = PTHREAD_ONCE_INIT;

static long cap_from_env(void);

static void engine_init(void) {
    am__isa_level(); /* AM_MAX_ISA caps oneDNN (dnnl_set_max_cpu_isa) before its first use */
    /* oneDNN keeps its own LRU of primitive implementations (1024 by default) behind
     * dnnl_primitive_create; bound it by our capacity too, so what stays alive is the documented
     * size (DNNL_PRIMITIVE_CACHE_CAPACITY, when set, still wins) */
    if (!getenv("DNNL_PRIMITIVE_CACHE_CAPACITY")) dnnl_set_primitive_cache_capacity((int)cap_from_env());
    if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) {
        g_engine = NULL;
        am__log(AM_LOG_WARNING, "oneDNN: no CPU engine; products run on the portable loops");
    }
}

/* ---- per-thread execution state: a stream and a scratchpad buffer ---- */

typedef struct tstate {
    dnnl_stream_t stream;
    void *scratch;
    size_t scratch_cap;
} tstate;

static pthread_key_t g_tkey;
static bool g_tkey_ok; /* without the key a thread's state is only freed at exit of the process */
static pthread_once_t g_tkey_once = PTHREAD_ONCE_INIT;
/* also kept in a _Thread_local so the state stays reachable (leak checkers) until the thread ends */
static _Thread_local tstate *t_state;

static void tstate_free(void *v) {
    tstate *t = v;
    if (!t) return;
    if (t->stream) dnnl_stream_destroy(t->stream);
    free(t->scratch);
    free(t);
}
static void tkey_init(void) { g_tkey_ok = pthread_key_create(&g_tkey, tstate_free) == 0; }

static tstate *thread_state(void) {
    if (t_state) return t_state;
    pthread_once(&g_tkey_once, tkey_init);
    tstate *t = calloc(1, sizeof *t);
    if (!t) {
        am__oom_note(); /* the product still runs on the portable loop; the entry point fails */
        return NULL;
    }
    if (dnnl_stream_create(&t->stream, g_engine, dnnl_stream_default_flags) != dnnl_success) {
        free(t);
        return NULL;
    }
    if (g_tkey_ok) pthread_setspecific(g_tkey, t);
    t_state = t;
    return t;
}

/* ---- the LRU ---- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static am__prim *g_head, *g_tail; /* most recently used first */
static size_t g_count;
static long g_cap = -1; /* -1: not read yet */
static uint64_t g_hits, g_misses, g_evictions, g_build_ns;

static long cap_from_env(void) {
    const char *s = getenv("AM_PRIMITIVE_CACHE_SIZE");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == '\0' && v >= 0) return v;
        am__log(AM_LOG_WARNING, "AM_PRIMITIVE_CACHE_SIZE=%s is not a count; using %d", s, AM__PRIM_CACHE_DEFAULT);
    }
    return AM__PRIM_CACHE_DEFAULT;
}

static void prim_destroy(am__prim *p) {
    if (!p) return;
    if (p->prim) dnnl_primitive_destroy(p->prim);
    free(p);
}

static void unlink_entry(am__prim *p) {
    if (p->prev) p->prev->next = p->next;
    else g_head = p->next;
    if (p->next) p->next->prev = p->prev;
    else g_tail = p->prev;
    p->prev = p->next = NULL;
}
static void push_front(am__prim *p) {
    p->prev = NULL;
    p->next = g_head;
    if (g_head) g_head->prev = p;
    g_head = p;
    if (!g_tail) g_tail = p;
}

/* Under g_mu: unlinks least recently used entries beyond the capacity; those nobody is executing
 * are chained through ->next into *dead for the caller to destroy after unlocking. */
static void evict_locked(am__prim **dead) {
    while (g_count > (size_t)g_cap && g_tail) {
        am__prim *v = g_tail;
        unlink_entry(v);
        v->cached = false;
        g_count--;
        g_evictions++;
        if (v->refs == 0) {
            v->next = *dead;
            *dead = v;
        }
    }
}
static void destroy_chain(am__prim *d) {
    while (d) {
        am__prim *n = d->next;
        prim_destroy(d);
        d = n;
    }
}

static uint64_t hash_key(const void *key, size_t len, am__prim_build_fn build, int nt) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    const unsigned char *k = key;
    for (size_t i = 0; i < len; i++) h = (h ^ k[i]) * 1099511628211ull;
    h ^= (uint64_t)(uintptr_t)build * 0x9e3779b97f4a7c15ull;
    return h ^ ((uint64_t)(unsigned)nt << 32);
}

static am__prim *find_locked(const void *key, size_t len, am__prim_build_fn build, int nt, uint64_t h) {
    for (am__prim *e = g_head; e; e = e->next)
        if (e->hash == h && e->build == build && e->nthreads == nt && e->key_len == len && !memcmp(e->key, key, len)) return e;
    return NULL;
}

bool am__prim_create(am__prim *p, const void *op_desc, dnnl_engine_t engine) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    bool ok = dnnl_primitive_attr_create(&attr) == dnnl_success &&
              dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success &&
              (!p->fpmath_bf16 || dnnl_primitive_attr_set_fpmath_mode(attr, dnnl_fpmath_mode_bf16) == dnnl_success) &&
              dnnl_primitive_desc_create(&pd, op_desc, attr, engine, NULL) == dnnl_success;
    if (ok) {
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        p->scratch_bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
        if (smd) p->scratch_md = *smd;
        ok = dnnl_primitive_create(&p->prim, pd) == dnnl_success;
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return ok;
}

am__prim *am__prim_get(const void *key, size_t len, am__prim_build_fn build) {
    pthread_once(&g_engine_once, engine_init);
    if (!g_engine) return NULL;
    int nt = am__num_threads();
    uint64_t h = hash_key(key, len, build, nt);
    pthread_mutex_lock(&g_mu);
    if (g_cap < 0) g_cap = cap_from_env();
    am__prim *e = find_locked(key, len, build, nt, h);
    if (e) {
        e->refs++;
        g_hits++;
        if (e != g_head) {
            unlink_entry(e);
            push_front(e);
        }
        pthread_mutex_unlock(&g_mu);
        return e;
    }
    g_misses++;
    pthread_mutex_unlock(&g_mu);

    /* compile outside the lock: other threads keep looking up and executing meanwhile */
    am__prim *n = calloc(1, sizeof *n + len);
    if (!n) {
        am__oom_note(); /* the product still runs on the portable loop; the entry point fails */
        return NULL;
    }
    memcpy(n->key, key, len);
    n->key_len = len;
    n->build = build;
    n->hash = h;
    n->nthreads = nt;
    n->refs = 1;
    struct timespec t0, t1; /* the compiling thread's CPU time: what a miss costs, whatever the load */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    if (!build(key, n, g_engine)) {
        prim_destroy(n);
        return NULL;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    am__prim *dead = NULL;
    pthread_mutex_lock(&g_mu);
    g_build_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec));
    e = find_locked(key, len, build, nt, h); /* another thread may have built it meanwhile */
    if (e) {
        e->refs++;
        dead = n;
        n->next = NULL;
        n = e;
    } else if (g_cap > 0) {
        n->cached = true;
        push_front(n);
        g_count++;
        evict_locked(&dead);
    }
    pthread_mutex_unlock(&g_mu);
    destroy_chain(dead);
    return n;
}

void am__prim_release(am__prim *p) {
    if (!p) return;
    pthread_mutex_lock(&g_mu);
    bool last = --p->refs == 0 && !p->cached;
    pthread_mutex_unlock(&g_mu);
    if (last) prim_destroy(p);
}

bool am__prim_exec(const am__prim *p, void *const *ptr) {
    tstate *t = thread_state();
    if (!t) return false;
    if (p->scratch_bytes > t->scratch_cap) {
        void *s = NULL;
        size_t cap = (p->scratch_bytes + 4095) & ~(size_t)4095;
        if (posix_memalign(&s, 64, cap) != 0) {
            am__oom_note();
            return false;
        }
        free(t->scratch);
        t->scratch = s;
        t->scratch_cap = cap;
    }
    dnnl_memory_t mem[AM__PRIM_MAX_ARGS + 1] = {0};
    dnnl_exec_arg_t args[AM__PRIM_MAX_ARGS + 1];
    int n = 0;
    bool ok = true;
    for (int i = 0; ok && i < p->nargs; i++) {
        ok = dnnl_memory_create(&mem[n], &p->md[i], g_engine, ptr[i]) == dnnl_success;
        if (ok) args[n] = (dnnl_exec_arg_t){p->arg[i], mem[n]}, n++;
    }
    if (ok && p->scratch_bytes) {
        ok = dnnl_memory_create(&mem[n], &p->scratch_md, g_engine, t->scratch) == dnnl_success;
        if (ok) args[n] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, mem[n]}, n++;
    }
    ok = ok && dnnl_primitive_execute(p->prim, t->stream, n, args) == dnnl_success && dnnl_stream_wait(t->stream) == dnnl_success;
    for (int i = 0; i < n; i++) dnnl_memory_destroy(mem[i]);
    return ok;
}

bool am__prim_run(const void *key, size_t key_len, am__prim_build_fn build, void *const *ptr) {
    am__omp_sync_threads(); /* before building too: oneDNN sizes its blocking by the thread count */
    am__prim *p = am__prim_get(key, key_len, build);
    if (!p) return false;
    bool ok = am__prim_exec(p, ptr);
    am__prim_release(p);
    return ok;
}

am__prim_stats am__prim_cache_stats(void) {
    pthread_mutex_lock(&g_mu);
    if (g_cap < 0) g_cap = cap_from_env();
    am__prim_stats s = {g_hits, g_misses, g_evictions, g_build_ns, g_count, (size_t)g_cap};
    pthread_mutex_unlock(&g_mu);
    return s;
}

void am__prim_cache_set_capacity(long n) {
    am__prim *dead = NULL;
    pthread_mutex_lock(&g_mu);
    g_cap = n < 0 ? cap_from_env() : n;
    evict_locked(&dead);
    pthread_mutex_unlock(&g_mu);
    destroy_chain(dead);
}
