/* kernels/linear.c — the one linear entry every model calls, for weights stored as float32,
 * bfloat16 or float16: it picks the GEMV (few rows), oneDNN's f32 or bf16 matmul, or a float32
 * copy of the weights made once, by dtype, row count and the ISA in force (kernels/isa.c). What a
 * weight needs beyond its stored bytes lives in the tensor's kernel cache (am_tensor.packed). */
#include "core/error.h"
#include "core/log.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool am__matmul_prec_parse(const char *s, am__matmul_prec *out) {
    static const struct {
        const char *name;
        am__matmul_prec p;
    } k[] = {{"highest", AM__PREC_HIGHEST}, {"high", AM__PREC_HIGH}, {"medium", AM__PREC_MEDIUM}};
    for (size_t i = 0; s && i < sizeof k / sizeof k[0]; i++)
        if (!strcasecmp(s, k[i].name)) {
            *out = k[i].p;
            return true;
        }
    return false;
}

static am__matmul_prec g_env_prec;
static pthread_once_t g_env_once = PTHREAD_ONCE_INIT;
static void read_env(void) {
    const char *e = getenv("AM_FLOAT32_MATMUL_PRECISION");
    g_env_prec = AM__PREC_HIGHEST;
    if (e && *e && !am__matmul_prec_parse(e, &g_env_prec)) {
        am__log(AM_LOG_WARNING, "AM_FLOAT32_MATMUL_PRECISION=%s is not one of highest, high, medium; using highest", e);
        g_env_prec = AM__PREC_HIGHEST;
    }
}
am__matmul_prec am__matmul_prec_env(void) {
    pthread_once(&g_env_once, read_env);
    return g_env_prec;
}

/* ---- per-weight cache, owned by the tensor (so by the model that holds it) ---- */

typedef struct wcache {
    am__matmul_prec prec; /* DEFAULT: the environment's */
    float *f32;           /* float32 copy (bf16 without bf16 units, f16); NULL until needed */
    bool f32_failed;      /* allocation failed once: stay on the GEMV, which reads W as stored */
    am__gemm_packed *packed; /* bf16 W in oneDNN's blocked layout (bf16 units only) */
    bool pack_failed;
} wcache;

static pthread_mutex_t g_wmu = PTHREAD_MUTEX_INITIALIZER;

static void wcache_free(void *p) {
    wcache *c = p;
    if (!c) return;
    free(c->f32);
    am__gemm_pack_free(c->packed);
    free(c);
}

/* the tensor's cache, created on first use; NULL when out of memory */
static wcache *cache_of(am_tensor *t, bool create) {
    wcache *c = __atomic_load_n((wcache **)&t->packed, __ATOMIC_ACQUIRE);
    if (c || !create) return c;
    pthread_mutex_lock(&g_wmu);
    c = t->packed;
    if (!c && (c = calloc(1, sizeof *c))) {
        t->packed_free = wcache_free;
        __atomic_store_n((wcache **)&t->packed, c, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&g_wmu);
    return c;
}

bool am__linear_set_precision(am_tensor *w, am__matmul_prec prec) {
    wcache *c = cache_of(w, true);
    if (!c) return false;
    c->prec = prec;
    return true;
}

/* the float32 copy of W, made once (under the lock: concurrent first calls convert once) */
static const float *f32_copy(am_tensor *t) {
    wcache *c = cache_of(t, true);
    if (!c) return NULL;
    float *f = __atomic_load_n(&c->f32, __ATOMIC_ACQUIRE);
    if (f || c->f32_failed) return f;
    pthread_mutex_lock(&g_wmu);
    if (!(f = c->f32) && !c->f32_failed) {
        int64_t n = am_tensor_numel(t);
        f = am__aligned_alloc((size_t)(n ? n : 1) * sizeof(float));
        if (f) {
            am__to_f32(t->data, t->dtype, n, f);
            __atomic_store_n(&c->f32, f, __ATOMIC_RELEASE);
        } else {
            c->f32_failed = true;
            am__log(AM_LOG_WARNING, "linear: no memory for a float32 copy of a %s weight (%lld elements); using the GEMV on the stored weights",
                    am_dtype_name(t->dtype), (long long)n);
        }
    }
    pthread_mutex_unlock(&g_wmu);
    return f;
}

static void to_bf16(const float *s, uint16_t *d, int64_t n);

/* bf16 W packed once for oneDNN (under the lock); NULL when refused or AM_NO_PACK is set */
static const am__gemm_packed *bf16_packed(am_tensor *t, int64_t M, int64_t N, int64_t K, bool kn) {
    wcache *c = cache_of(t, true);
    if (!c) return NULL;
    am__gemm_packed *p = __atomic_load_n(&c->packed, __ATOMIC_ACQUIRE);
    if (p || c->pack_failed) return p;
    pthread_mutex_lock(&g_wmu);
    if (!(p = c->packed) && !c->pack_failed) {
        if (t->dtype == AM_BF16) p = am__gemm_pack_bf16(M, N, K, t->data, kn);
        else { /* float32 weights at "medium" precision: rounded to bf16 once, then packed */
            int64_t n = N * K;
            uint16_t *tmp = malloc((size_t)n * sizeof(uint16_t));
            if (tmp) {
                to_bf16(t->data, tmp, n);
                p = am__gemm_pack_bf16(M, N, K, tmp, kn);
                free(tmp);
            }
        }
        if (p) __atomic_store_n(&c->packed, p, __ATOMIC_RELEASE);
        else c->pack_failed = true;
    }
    pthread_mutex_unlock(&g_wmu);
    return p;
}

/* An offloaded weight (device_map "disk", core/tensor.h) gets no permanent copy here: the bf16
 * packing (and the float32 copy below) are made per call and freed, so the weight is resident only
 * while its layer runs, and the product is the one the cached path computes. am__f32_cached (norm
 * weights, biases, position tables read outside the linear path) still keeps its float32 copy of a
 * non-float32 tensor: for float32 models that is the mapped weight itself, no copy. */
static am__gemm_packed *offload_pack(const am_tensor *t, int64_t M, int64_t N, int64_t K, bool kn) {
    if (t->dtype == AM_BF16) return am__gemm_pack_bf16(M, N, K, t->data, kn);
    uint16_t *tmp = malloc((size_t)(N * K) * sizeof(uint16_t));
    am__gemm_packed *p = NULL;
    if (tmp) {
        to_bf16(t->data, tmp, N * K);
        p = am__gemm_pack_bf16(M, N, K, tmp, kn);
        free(tmp);
    }
    return p;
}

const float *am__f32_cached(am_tensor *t) {
    if (!t) return NULL;
    return t->dtype == AM_F32 ? (const float *)t->data : f32_copy(t);
}

/* ---- activations to bf16 (round to nearest even, as torch's .to(bfloat16)) ---- */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void to_bf16_avx512(const float *s, uint16_t *d, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + i + 16), _mm512_loadu_ps(s + i));
        _mm512_storeu_si512((void *)(d + i), (__m512i)v);
    }
    for (; i < n; i++) d[i] = am__f32_to_bf16(s[i]);
}
#endif

typedef struct {
    const float *s;
    uint16_t *d;
} bf16_ctx;
static void to_bf16_range(void *v, int64_t b, int64_t e) {
    bf16_ctx *c = v;
#if defined(__x86_64__) && defined(__GNUC__)
    if (am__isa_level() >= AM__ISA_AVX512_BF16) {
        to_bf16_avx512(c->s + b, c->d + b, e - b);
        return;
    }
#endif
    for (int64_t i = b; i < e; i++) c->d[i] = am__f32_to_bf16(c->s[i]);
}
static void to_bf16(const float *s, uint16_t *d, int64_t n) {
    bf16_ctx c = {s, d};
    if (n < (1 << 16)) to_bf16_range(&c, 0, n);
    else am__parallel_for(n, to_bf16_range, &c);
}

/* ---- dispatch ---- */

/* decode-sized products (a few rows) read the weights once through the GEMV; AM_NO_GEMV=1 (or
 * am__gemv_disabled = 1, for benchmarks) sends them to the GEMM instead */
int am__gemv_disabled = -1;
static bool use_gemv(int64_t M) {
    int d = __atomic_load_n(&am__gemv_disabled, __ATOMIC_RELAXED);
    if (d < 0) { /* first call, any thread: every thread computes the same value */
        d = getenv("AM_NO_GEMV") && atoi(getenv("AM_NO_GEMV")) > 0;
        __atomic_store_n(&am__gemv_disabled, d, __ATOMIC_RELAXED);
    }
    return M <= 8 && !d;
}

static am__matmul_prec effective_prec(const am_tensor *w, am__matmul_prec prec) {
    if (prec == AM__PREC_DEFAULT) {
        wcache *c = cache_of((am_tensor *)w, false);
        prec = c && c->prec != AM__PREC_DEFAULT ? c->prec : am__matmul_prec_env();
    }
    return prec;
}

const char *am__linear_path(int dtype, int64_t M, am__matmul_prec prec) {
    if (use_gemv(M)) return "gemv";
    switch ((am_dtype)dtype) {
    case AM_BF16: return am__bf16_matmul_native() ? "onednn_bf16" : "f32_copy";
    case AM_F16: return "f32_copy";
    default:
        if (prec == AM__PREC_DEFAULT) prec = am__matmul_prec_env();
        return prec == AM__PREC_MEDIUM && am__bf16_matmul_native() ? "onednn_bf16" : "onednn_f32";
    }
}

static bool wtype_of(am_dtype dt, am__wtype *out) {
    switch (dt) {
    case AM_F32: *out = AM__W_F32; return true;
    case AM_BF16: *out = AM__W_BF16; return true;
    case AM_F16: *out = AM__W_F16; return true;
    default: return false;
    }
}

static void gemm_f32(int64_t M, int64_t N, int64_t K, const float *x, const float *w, bool kn, const float *bias, float *y, bool fpmath) {
    if (fpmath && am__gemm_dnnl(M, N, K, x, w, false, kn, bias, y, true)) return;
    if (kn) am__linear_kn_f32(M, N, K, x, w, bias, y);
    else am__linear_f32(M, N, K, x, w, bias, y);
}

void am__linear_w(int64_t M, const float *x, am_tensor *w, bool kn, const float *bias, float *y, am__matmul_prec prec) {
    if (am__qweight_of(w)) { /* 8-bit / 4-bit (kernels/quant.c): always [N,K] */
        am__qlinear(M, x, w, bias, y);
        return;
    }
    int64_t N = kn ? w->shape[1] : w->shape[0], K = kn ? w->shape[0] : w->shape[1];
    if (M <= 0 || N <= 0) return;
    am__wtype wty = AM__W_F32;
    /* linear weights are built 2-D and loaded/converted only as float32/bfloat16/float16 */
    bool known = w->ndim == 2 && wtype_of(w->dtype, &wty);
    AM_ASSERT(known);
    if (use_gemv(M)) {
        am__gemv(M, N, K, x, w->data, wty, kn, bias, y);
        return;
    }
    bool medium = w->dtype == AM_F32 && effective_prec(w, prec) == AM__PREC_MEDIUM && am__bf16_matmul_native();
    if ((w->dtype == AM_BF16 || medium) && am__bf16_matmul_native() && K > 0) {
        uint16_t *xb = malloc((size_t)(M * K) * sizeof(uint16_t));
        if (xb && w->offloaded) { /* the same packed product, its packing made for this call only */
            to_bf16(x, xb, M * K);
            am__gemm_packed *p = offload_pack(w, M, N, K, kn);
            bool ok = p && am__gemm_dnnl_packed(M, N, K, xb, p, bias, y);
            am__gemm_pack_free(p);
            if (!ok && w->dtype == AM_BF16) ok = am__gemm_dnnl(M, N, K, xb, w->data, true, kn, bias, y, false);
            free(xb);
            if (ok) return;
            xb = NULL;
        }
        if (xb) {
            to_bf16(x, xb, M * K);
            const am__gemm_packed *p = bf16_packed(w, M, N, K, kn);
            bool ok = (p && am__gemm_dnnl_packed(M, N, K, xb, p, bias, y)) ||
                      (w->dtype == AM_BF16 && am__gemm_dnnl(M, N, K, xb, w->data, true, kn, bias, y, false));
            free(xb);
            if (ok) return;
        }
    }
    if (w->dtype == AM_F32) { /* at "medium" without a packed copy: oneDNN's fpmath mode (AMX) */
        gemm_f32(M, N, K, x, w->data, kn, bias, y, medium);
        return;
    }
    /* no bf16 units (or oneDNN refused): float32 weights made once; without memory for them, the
     * GEMV on the stored weights (slower for many rows, but never a copy per call) */
    if (w->offloaded) { /* the float32 copy for this call only */
        int64_t n = am_tensor_numel(w);
        float *tmp = am__aligned_alloc((size_t)(n ? n : 1) * sizeof(float));
        if (tmp) {
            am__to_f32(w->data, w->dtype, n, tmp);
            gemm_f32(M, N, K, x, tmp, kn, bias, y, false);
            free(tmp);
        } else am__gemv(M, N, K, x, w->data, wty, kn, bias, y);
        return;
    }
    const float *wf = f32_copy(w);
    if (wf) gemm_f32(M, N, K, x, wf, kn, bias, y, false);
    else am__gemv(M, N, K, x, w->data, wty, kn, bias, y);
}
