/* kernels/gemm.c — GEMM dispatch: oneDNN's matmul (measured fastest here) with a primitive cache
 * keyed by shape and layout; a portable blocked loop when oneDNN refuses a shape. */
#include "core/tensor.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct prim_entry {
    int64_t M, N, K;
    int64_t lda, ldb, ldc, ba, bb, bc, batch;
    int kind; /* 0: w[N,K] (nt), 1: w[K,N] (nn), 2/3: batched nt/nn */
    bool bias;
    dnnl_data_type_t dt; /* src and weights: f32 or bf16 (dst and bias stay f32) */
    bool fpmath_bf16;    /* f32 inputs may be computed in bf16 (float32_matmul_precision medium) */
    bool packed;         /* weights in the layout `wei` (made by am__gemm_pack), not strided */
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src, wei, bia, dst;
    struct prim_entry *next;
} prim_entry;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static prim_entry *g_cache;
static int g_threads_set = -1;
static bool g_dnnl_broken;

extern void omp_set_num_threads(int);

static bool ensure_engine(void) {
    if (g_engine) return true;
    if (g_dnnl_broken) return false;
    am__isa_level(); /* AM_MAX_ISA caps oneDNN before its first primitive */
    if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success || dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags) != dnnl_success) {
        g_dnnl_broken = true;
        return false;
    }
    return true;
}

static prim_entry *get_prim(int kind, int64_t batch, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc, int64_t ba,
                            int64_t bb, int64_t bc, bool bias, dnnl_data_type_t dt, bool fpmath_bf16, const dnnl_memory_desc_t *packed) {
    for (prim_entry *e = g_cache; e; e = e->next)
        if (e->kind == kind && e->M == M && e->N == N && e->K == K && e->bias == bias && e->lda == lda && e->ldb == ldb && e->ldc == ldc &&
            e->ba == ba && e->bb == bb && e->bc == bc && e->batch == batch && e->dt == dt && e->fpmath_bf16 == fpmath_bf16 &&
            e->packed == (packed != NULL) && (!packed || dnnl_memory_desc_equal(&e->wei, packed)))
            return e;
    if (!ensure_engine()) return NULL;
    prim_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    *e = (prim_entry){.M = M, .N = N, .K = K, .lda = lda, .ldb = ldb, .ldc = ldc, .ba = ba, .bb = bb, .bc = bc, .batch = batch, .kind = kind, .bias = bias,
                      .dt = dt, .fpmath_bf16 = fpmath_bf16, .packed = packed != NULL};
    bool ok;
    if (kind < 2) {
        dnnl_dims_t sd = {M, K}, ss = {lda, 1};
        dnnl_dims_t wd = {K, N};
        dnnl_dims_t ws_nt = {1, ldb}, ws_nn = {ldb, 1};
        dnnl_dims_t dd = {M, N}, ds = {ldc, 1};
        dnnl_dims_t bd = {1, N};
        ok = dnnl_memory_desc_init_by_strides(&e->src, 2, sd, dt, ss) == dnnl_success &&
             (packed ? (e->wei = *packed, true) : dnnl_memory_desc_init_by_strides(&e->wei, 2, wd, dt, kind == 0 ? ws_nt : ws_nn) == dnnl_success) &&
             dnnl_memory_desc_init_by_strides(&e->dst, 2, dd, dnnl_f32, ds) == dnnl_success &&
             (!bias || dnnl_memory_desc_init_by_tag(&e->bia, 2, bd, dnnl_f32, dnnl_ab) == dnnl_success);
    } else {
        dnnl_dims_t sd = {batch, M, K}, ss = {ba, lda, 1};
        dnnl_dims_t wd = {batch, K, N};
        dnnl_dims_t ws_nt = {bb, 1, ldb}, ws_nn = {bb, ldb, 1};
        dnnl_dims_t dd = {batch, M, N}, ds = {bc, ldc, 1};
        ok = dnnl_memory_desc_init_by_strides(&e->src, 3, sd, dt, ss) == dnnl_success &&
             dnnl_memory_desc_init_by_strides(&e->wei, 3, wd, dt, kind == 2 ? ws_nt : ws_nn) == dnnl_success &&
             dnnl_memory_desc_init_by_strides(&e->dst, 3, dd, dnnl_f32, ds) == dnnl_success;
    }
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    if (ok && fpmath_bf16)
        ok = dnnl_primitive_attr_create(&attr) == dnnl_success && dnnl_primitive_attr_set_fpmath_mode(attr, dnnl_fpmath_mode_bf16) == dnnl_success;
    ok = ok && dnnl_matmul_desc_init(&md, &e->src, &e->wei, bias ? &e->bia : NULL, &e->dst) == dnnl_success;
    ok = ok && dnnl_primitive_desc_create(&pd, &md, attr, g_engine, NULL) == dnnl_success;
    ok = ok && dnnl_primitive_create(&e->prim, pd) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        free(e);
        return NULL;
    }
    e->next = g_cache;
    g_cache = e;
    return e;
}

static bool run_prim(prim_entry *e, const void *a, const void *b, const float *bias, float *c) {
    dnnl_memory_t ms = NULL, mw = NULL, mb = NULL, md = NULL;
    bool ok = dnnl_memory_create(&ms, &e->src, g_engine, (void *)a) == dnnl_success &&
              dnnl_memory_create(&mw, &e->wei, g_engine, (void *)b) == dnnl_success &&
              dnnl_memory_create(&md, &e->dst, g_engine, c) == dnnl_success &&
              (!e->bias || dnnl_memory_create(&mb, &e->bia, g_engine, (void *)bias) == dnnl_success);
    if (ok) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}, {DNNL_ARG_BIAS, mb}};
        ok = dnnl_primitive_execute(e->prim, g_stream, e->bias ? 4 : 3, args) == dnnl_success && dnnl_stream_wait(g_stream) == dnnl_success;
    }
    if (ms) dnnl_memory_destroy(ms);
    if (mw) dnnl_memory_destroy(mw);
    if (mb) dnnl_memory_destroy(mb);
    if (md) dnnl_memory_destroy(md);
    return ok;
}

static bool dnnl_call_dt(int kind, int64_t batch, int64_t M, int64_t N, int64_t K, const void *A, int64_t lda, int64_t ba, const void *B,
                         int64_t ldb, int64_t bb, const float *bias, float *C, int64_t ldc, int64_t bc, dnnl_data_type_t dt, bool fpmath_bf16,
                         const dnnl_memory_desc_t *packed) {
    if (getenv("AM_NO_DNNL")) return false;
    pthread_mutex_lock(&g_mu);
    int nt = am__num_threads();
    if (nt != g_threads_set) {
        omp_set_num_threads(nt);
        g_threads_set = nt;
    }
    prim_entry *e = get_prim(kind, batch, M, N, K, lda, ldb, ldc, ba, bb, bc, bias != NULL, dt, fpmath_bf16, packed);
    bool ok = e && run_prim(e, A, B, bias, C);
    pthread_mutex_unlock(&g_mu);
    return ok;
}

static bool dnnl_call(int kind, int64_t batch, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, int64_t ba, const float *B,
                      int64_t ldb, int64_t bb, const float *bias, float *C, int64_t ldc, int64_t bc) {
    return dnnl_call_dt(kind, batch, M, N, K, A, lda, ba, B, ldb, bb, bias, C, ldc, bc, dnnl_f32, false, NULL);
}

bool am__gemm_dnnl(int64_t M, int64_t N, int64_t K, const void *x, const void *w, bool bf16, bool kn, const float *bias, float *y,
                   bool fpmath_bf16) {
    if (M <= 0 || N <= 0 || K <= 0) return false;
    return dnnl_call_dt(kn ? 1 : 0, 1, M, N, K, x, K, 0, w, kn ? N : K, 0, bias, y, N, 0, bf16 ? dnnl_bf16 : dnnl_f32, fpmath_bf16 && !bf16, NULL);
}

/* Packed weights: oneDNN's bf16 matmul reads its own blocked layout several times faster than
 * [N,K] rows at M = 1..128 (bench_gemm pack). The layout depends on N and K, not on M, so one
 * reorder at first use serves every row count; a row count whose primitive refuses it falls back
 * to the plain weights. */
struct am__gemm_packed {
    dnnl_memory_desc_t md;
    void *buf;
};

am__gemm_packed *am__gemm_pack_bf16(int64_t M, int64_t N, int64_t K, const void *w, bool kn) {
    if (getenv("AM_NO_DNNL") || getenv("AM_NO_PACK")) return NULL;
    pthread_mutex_lock(&g_mu);
    am__gemm_packed *p = NULL;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t mfrom = NULL, mto = NULL;
    dnnl_memory_desc_t src, wany, wplain, dst, bia;
    dnnl_dims_t sd = {M, K}, wd = {K, N}, dd = {M, N}, bd = {1, N}, ws_nt = {1, K}, ws_nn = {N, 1};
    dnnl_matmul_desc_t md;
    bool ok = ensure_engine() && (p = calloc(1, sizeof *p)) && dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_bf16, dnnl_ab) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&wany, 2, wd, dnnl_bf16, dnnl_format_tag_any) == dnnl_success &&
              dnnl_memory_desc_init_by_strides(&wplain, 2, wd, dnnl_bf16, kn ? ws_nn : ws_nt) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&bia, 2, bd, dnnl_f32, dnnl_ab) == dnnl_success &&
              dnnl_matmul_desc_init(&md, &src, &wany, &bia, &dst) == dnnl_success &&
              dnnl_primitive_desc_create(&pd, &md, NULL, g_engine, NULL) == dnnl_success;
    if (ok) {
        p->md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        size_t sz = dnnl_memory_desc_get_size(&p->md);
        ok = sz > 0 && (p->buf = am__aligned_alloc(sz)) != NULL;
    }
    ok = ok && dnnl_memory_create(&mfrom, &wplain, g_engine, (void *)w) == dnnl_success &&
         dnnl_memory_create(&mto, &p->md, g_engine, p->buf) == dnnl_success &&
         dnnl_reorder_primitive_desc_create(&rpd, &wplain, g_engine, &p->md, g_engine, NULL) == dnnl_success &&
         dnnl_primitive_create(&r, rpd) == dnnl_success;
    if (ok) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, mfrom}, {DNNL_ARG_TO, mto}};
        ok = dnnl_primitive_execute(r, g_stream, 2, a) == dnnl_success && dnnl_stream_wait(g_stream) == dnnl_success;
    }
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (mfrom) dnnl_memory_destroy(mfrom);
    if (mto) dnnl_memory_destroy(mto);
    pthread_mutex_unlock(&g_mu);
    if (!ok && p) {
        am__gemm_pack_free(p);
        p = NULL;
    }
    return p;
}

void am__gemm_pack_free(am__gemm_packed *p) {
    if (!p) return;
    free(p->buf);
    free(p);
}

bool am__gemm_dnnl_packed(int64_t M, int64_t N, int64_t K, const void *x, const am__gemm_packed *w, const float *bias, float *y) {
    if (M <= 0 || N <= 0 || K <= 0 || !w) return false;
    return dnnl_call_dt(0, 1, M, N, K, x, K, 0, w->buf, 0, 0, bias, y, N, 0, dnnl_bf16, false, &w->md);
}

/* ---- portable fallback ---- */

static void ref_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, bool trans_b, float alpha,
                     const float *bias, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        for (int64_t j = 0; j < N; j++) c[j] = 0;
        const float *a = A + i * lda;
        if (trans_b) {
            for (int64_t j = 0; j < N; j++) {
                const float *bj = B + j * ldb;
                float s = 0;
                for (int64_t k = 0; k < K; k++) s += a[k] * bj[k];
                c[j] = s;
            }
        } else {
            for (int64_t k = 0; k < K; k++) {
                float av = a[k];
                const float *bk = B + k * ldb;
                for (int64_t j = 0; j < N; j++) c[j] += av * bk[j];
            }
        }
        for (int64_t j = 0; j < N; j++) c[j] = c[j] * alpha + (bias ? bias[j] : 0.0f);
    }
}

void am__linear_f32(int64_t M, int64_t N, int64_t K, const float *x, const float *w, const float *bias, float *y) {
    if (M <= 0 || N <= 0) return;
    if (K > 0 && dnnl_call(0, 1, M, N, K, x, K, 0, w, K, 0, bias, y, N, 0)) return;
    ref_gemm(M, N, K, x, K, w, K, true, 1.0f, bias, y, N);
}

void am__linear_kn_f32(int64_t M, int64_t N, int64_t K, const float *x, const float *w, const float *bias, float *y) {
    if (M <= 0 || N <= 0) return;
    if (K > 0 && dnnl_call(1, 1, M, N, K, x, K, 0, w, N, 0, bias, y, N, 0)) return;
    ref_gemm(M, N, K, x, K, w, N, false, 1.0f, bias, y, N);
}

void am__bmm_f32(int64_t batch, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, int64_t batch_a, const float *B, int64_t ldb,
                 int64_t batch_b, bool trans_b, float alpha, float *C, int64_t ldc, int64_t batch_c) {
    if (batch <= 0 || M <= 0 || N <= 0) return;
    if (alpha == 1.0f && K > 0 && dnnl_call(trans_b ? 2 : 3, batch, M, N, K, A, lda, batch_a, B, ldb, batch_b, NULL, C, ldc, batch_c)) return;
    for (int64_t b = 0; b < batch; b++)
        ref_gemm(M, N, K, A + b * batch_a, lda, B + b * batch_b, ldb, trans_b, alpha, NULL, C + b * batch_c, ldc);
}

/* ---- general strided batched matmul (attention): C = A · B over up to 5 dims ---- */

typedef struct nd_key {
    int nd;
    dnnl_dims_t ad, as, bd, bs, cd, cs;
} nd_key;

typedef struct nd_entry {
    nd_key k;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a, b, c;
    struct nd_entry *next;
} nd_entry;
static nd_entry *g_nd_cache;

bool am__matmul_nd_f32(int nd, const int64_t *ad, const int64_t *as, const float *A, const int64_t *bd, const int64_t *bs, const float *B,
                       const int64_t *cd, const int64_t *cs, float *C) {
    if (nd < 2 || nd > 5 || getenv("AM_NO_DNNL")) return false;
    nd_key k;
    memset(&k, 0, sizeof k);
    k.nd = nd;
    for (int i = 0; i < nd; i++) {
        k.ad[i] = ad[i], k.as[i] = as[i], k.bd[i] = bd[i], k.bs[i] = bs[i], k.cd[i] = cd[i], k.cs[i] = cs[i];
    }
    pthread_mutex_lock(&g_mu);
    int nt = am__num_threads();
    if (nt != g_threads_set) {
        omp_set_num_threads(nt);
        g_threads_set = nt;
    }
    nd_entry *e;
    for (e = g_nd_cache; e; e = e->next)
        if (!memcmp(&e->k, &k, sizeof k)) break;
    if (!e && ensure_engine()) {
        e = calloc(1, sizeof *e);
        bool ok = e != NULL;
        if (ok) {
            e->k = k;
            ok = dnnl_memory_desc_init_by_strides(&e->a, nd, k.ad, dnnl_f32, k.as) == dnnl_success &&
                 dnnl_memory_desc_init_by_strides(&e->b, nd, k.bd, dnnl_f32, k.bs) == dnnl_success &&
                 dnnl_memory_desc_init_by_strides(&e->c, nd, k.cd, dnnl_f32, k.cs) == dnnl_success;
        }
        dnnl_matmul_desc_t md;
        dnnl_primitive_desc_t pd = NULL;
        ok = ok && dnnl_matmul_desc_init(&md, &e->a, &e->b, NULL, &e->c) == dnnl_success;
        ok = ok && dnnl_primitive_desc_create(&pd, &md, NULL, g_engine, NULL) == dnnl_success;
        ok = ok && dnnl_primitive_create(&e->prim, pd) == dnnl_success;
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (!ok) {
            free(e);
            e = NULL;
        } else {
            e->next = g_nd_cache;
            g_nd_cache = e;
        }
    }
    bool ok = false;
    if (e) {
        dnnl_memory_t ma = NULL, mb = NULL, mc = NULL;
        ok = dnnl_memory_create(&ma, &e->a, g_engine, (void *)A) == dnnl_success &&
             dnnl_memory_create(&mb, &e->b, g_engine, (void *)B) == dnnl_success && dnnl_memory_create(&mc, &e->c, g_engine, C) == dnnl_success;
        if (ok) {
            dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
            ok = dnnl_primitive_execute(e->prim, g_stream, 3, args) == dnnl_success && dnnl_stream_wait(g_stream) == dnnl_success;
        }
        if (ma) dnnl_memory_destroy(ma);
        if (mb) dnnl_memory_destroy(mb);
        if (mc) dnnl_memory_destroy(mc);
    }
    pthread_mutex_unlock(&g_mu);
    return ok;
}

/* ---- elementwise activations through oneDNN's JIT eltwise (vectorised erf/tanh/exp) ---- */

typedef struct elt_entry {
    int alg;
    int64_t n;
    float alpha;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t md;
    struct elt_entry *next;
} elt_entry;
static elt_entry *g_elt_cache;

bool am__dnnl_eltwise_f32(int alg, float alpha, int64_t n, float *x) {
    if (n <= 0 || getenv("AM_NO_DNNL")) return false;
    pthread_mutex_lock(&g_mu);
    int nt = am__num_threads();
    if (nt != g_threads_set) {
        omp_set_num_threads(nt);
        g_threads_set = nt;
    }
    elt_entry *e;
    for (e = g_elt_cache; e; e = e->next)
        if (e->alg == alg && e->n == n && e->alpha == alpha) break;
    if (!e && ensure_engine()) {
        e = calloc(1, sizeof *e);
        dnnl_dims_t d = {n};
        dnnl_eltwise_desc_t ed;
        dnnl_primitive_desc_t pd = NULL;
        bool ok = e && dnnl_memory_desc_init_by_tag(&e->md, 1, d, dnnl_f32, dnnl_a) == dnnl_success &&
                  dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, (dnnl_alg_kind_t)alg, &e->md, alpha, 0.0f) == dnnl_success &&
                  dnnl_primitive_desc_create(&pd, &ed, NULL, g_engine, NULL) == dnnl_success && dnnl_primitive_create(&e->prim, pd) == dnnl_success;
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (!ok) {
            free(e);
            e = NULL;
        } else {
            e->alg = alg, e->n = n, e->alpha = alpha;
            e->next = g_elt_cache;
            g_elt_cache = e;
        }
    }
    bool ok = false;
    if (e) {
        dnnl_memory_t m = NULL;
        ok = dnnl_memory_create(&m, &e->md, g_engine, x) == dnnl_success;
        if (ok) {
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, m}, {DNNL_ARG_DST, m}};
            ok = dnnl_primitive_execute(e->prim, g_stream, 2, args) == dnnl_success && dnnl_stream_wait(g_stream) == dnnl_success;
        }
        if (m) dnnl_memory_destroy(m);
    }
    pthread_mutex_unlock(&g_mu);
    return ok;
}
