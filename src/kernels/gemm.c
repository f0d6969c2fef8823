/* kernels/gemm.c — GEMM dispatch: oneDNN's matmul (measured fastest here) through the shared,
 * bounded primitive cache (kernels/primcache.h: keyed by shape, layout and dtypes; no lock held
 * while a product runs); a portable blocked loop when oneDNN refuses a shape. */
#include "core/tensor.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include "kernels/primcache.h"
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

/* The key of a 2-D or batched matmul primitive. Zero-initialised (padding included): the cache
 * compares keys as bytes. Data types are part of it so other precisions plug in as new keys. */
typedef struct mm_key {
    int32_t kind; /* 0: w[N,K] (nt), 1: w[K,N] (nn), 2/3: batched nt/nn */
    int32_t bias;
    int32_t src_dt, wei_dt, dst_dt, bia_dt;
    int64_t batch, M, N, K;
    int64_t lda, ldb, ldc, ba, bb, bc;
    int32_t fpmath_bf16; /* f32 inputs may be computed in bf16 (oneDNN's fpmath mode: AMX only in 2.6) */
    int32_t packed;      /* weights in the layout wei_md (am__gemm_pack_bf16), not strided */
    dnnl_memory_desc_t wei_md;
} mm_key;

static bool build_mm(const void *key, am__prim *p, dnnl_engine_t engine) {
    const mm_key *k = key;
    int kind = k->kind;
    dnnl_memory_desc_t *src = &p->md[0], *wei = &p->md[1], *dst = &p->md[2], *bia = &p->md[3];
    bool ok;
    if (kind < 2) {
        dnnl_dims_t sd = {k->M, k->K}, ss = {k->lda, 1};
        dnnl_dims_t wd = {k->K, k->N};
        dnnl_dims_t ws_nt = {1, k->ldb}, ws_nn = {k->ldb, 1};
        dnnl_dims_t dd = {k->M, k->N}, ds = {k->ldc, 1};
        dnnl_dims_t bd = {1, k->N};
        ok = dnnl_memory_desc_init_by_strides(src, 2, sd, (dnnl_data_type_t)k->src_dt, ss) == dnnl_success &&
             (k->packed ? (*wei = k->wei_md, true)
                        : dnnl_memory_desc_init_by_strides(wei, 2, wd, (dnnl_data_type_t)k->wei_dt, kind == 0 ? ws_nt : ws_nn) == dnnl_success) &&
             dnnl_memory_desc_init_by_strides(dst, 2, dd, (dnnl_data_type_t)k->dst_dt, ds) == dnnl_success &&
             (!k->bias || dnnl_memory_desc_init_by_tag(bia, 2, bd, (dnnl_data_type_t)k->bia_dt, dnnl_ab) == dnnl_success);
    } else {
        dnnl_dims_t sd = {k->batch, k->M, k->K}, ss = {k->ba, k->lda, 1};
        dnnl_dims_t wd = {k->batch, k->K, k->N};
        dnnl_dims_t ws_nt = {k->bb, 1, k->ldb}, ws_nn = {k->bb, k->ldb, 1};
        dnnl_dims_t dd = {k->batch, k->M, k->N}, ds = {k->bc, k->ldc, 1};
        ok = dnnl_memory_desc_init_by_strides(src, 3, sd, (dnnl_data_type_t)k->src_dt, ss) == dnnl_success &&
             dnnl_memory_desc_init_by_strides(wei, 3, wd, (dnnl_data_type_t)k->wei_dt, kind == 2 ? ws_nt : ws_nn) == dnnl_success &&
             dnnl_memory_desc_init_by_strides(dst, 3, dd, (dnnl_data_type_t)k->dst_dt, ds) == dnnl_success;
    }
    dnnl_matmul_desc_t md;
    ok = ok && dnnl_matmul_desc_init(&md, src, wei, k->bias ? bia : NULL, dst) == dnnl_success;
    p->fpmath_bf16 = k->fpmath_bf16 != 0;
    ok = ok && am__prim_create(p, &md, engine);
    p->nargs = k->bias ? 4 : 3;
    p->arg[0] = DNNL_ARG_SRC, p->arg[1] = DNNL_ARG_WEIGHTS, p->arg[2] = DNNL_ARG_DST, p->arg[3] = DNNL_ARG_BIAS;
    return ok;
}

/* src and weights of type dt (f32 or bf16), dst and bias f32 */
static bool dnnl_call_dt(int kind, int64_t batch, int64_t M, int64_t N, int64_t K, const void *A, int64_t lda, int64_t ba, const void *B,
                         int64_t ldb, int64_t bb, const float *bias, float *C, int64_t ldc, int64_t bc, dnnl_data_type_t dt, bool fpmath_bf16,
                         const dnnl_memory_desc_t *packed) {
    if (getenv("AM_NO_DNNL")) return false;
    mm_key k;
    memset(&k, 0, sizeof k);
    k.kind = kind, k.bias = bias != NULL;
    k.src_dt = k.wei_dt = dt;
    k.dst_dt = k.bia_dt = dnnl_f32;
    k.batch = batch, k.M = M, k.N = N, k.K = K, k.lda = lda, k.ldb = ldb, k.ldc = ldc, k.ba = ba, k.bb = bb, k.bc = bc;
    k.fpmath_bf16 = fpmath_bf16;
    if (packed) k.packed = 1, k.wei_md = *packed;
    void *const ptr[4] = {(void *)A, (void *)B, C, (void *)bias};
    return am__prim_run(&k, sizeof k, build_mm, ptr);
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

/* ---- packed bf16 weights ----
 * oneDNN's bf16 matmul reads its own blocked weight layout several times faster than [N,K] rows at
 * M = 1..128 (bench_gemm pack). The layout depends on N and K, not on M, so one reorder at first use
 * serves every row count; a row count whose primitive refuses it falls back to the plain weights. */
struct am__gemm_packed {
    dnnl_memory_desc_t md;
    void *buf;
};

typedef struct pack_key {
    int32_t kn;
    int64_t M, N, K;
} pack_key;

/* a reorder from the stored bf16 weights to the layout the bf16 matmul picks for (M, N, K) */
static bool build_pack(const void *key, am__prim *p, dnnl_engine_t engine) {
    const pack_key *k = key;
    dnnl_memory_desc_t src, wany, dst, bia;
    dnnl_dims_t sd = {k->M, k->K}, wd = {k->K, k->N}, dd = {k->M, k->N}, bd = {1, k->N}, ws_nt = {1, k->K}, ws_nn = {k->N, 1};
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    bool ok = dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_bf16, dnnl_ab) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&wany, 2, wd, dnnl_bf16, dnnl_format_tag_any) == dnnl_success &&
              dnnl_memory_desc_init_by_strides(&p->md[0], 2, wd, dnnl_bf16, k->kn ? ws_nn : ws_nt) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&bia, 2, bd, dnnl_f32, dnnl_ab) == dnnl_success &&
              dnnl_matmul_desc_init(&md, &src, &wany, &bia, &dst) == dnnl_success &&
              dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL) == dnnl_success;
    if (ok) p->md[1] = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    ok = ok && dnnl_reorder_primitive_desc_create(&rpd, &p->md[0], engine, &p->md[1], engine, NULL) == dnnl_success &&
         dnnl_primitive_create(&p->prim, rpd) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    p->nargs = 2;
    p->arg[0] = DNNL_ARG_FROM, p->arg[1] = DNNL_ARG_TO;
    return ok;
}

am__gemm_packed *am__gemm_pack_bf16(int64_t M, int64_t N, int64_t K, const void *w, bool kn) {
    if (getenv("AM_NO_DNNL") || getenv("AM_NO_PACK") || M <= 0 || N <= 0 || K <= 0) return NULL;
    pack_key k;
    memset(&k, 0, sizeof k);
    k.kn = kn, k.M = M, k.N = N, k.K = K;
    am__omp_sync_threads();
    am__prim *r = am__prim_get(&k, sizeof k, build_pack);
    if (!r) return NULL;
    am__gemm_packed *p = calloc(1, sizeof *p);
    size_t sz = dnnl_memory_desc_get_size(&r->md[1]);
    bool ok = p && sz > 0 && (p->buf = am__aligned_alloc(sz)) != NULL;
    if (ok) {
        p->md = r->md[1];
        void *const ptr[2] = {(void *)w, p->buf};
        ok = am__prim_exec(r, ptr);
    }
    am__prim_release(r);
    if (!ok) {
        am__gemm_pack_free(p);
        return NULL;
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

/* int8 x int8 -> int32 (LLM.int8's products): W [N,K] row-major read as [K,N] through strides */
bool am__gemm_dnnl_s8(int64_t M, int64_t N, int64_t K, const int8_t *x, const int8_t *w, int32_t *y) {
    if (getenv("AM_NO_DNNL") || M <= 0 || N <= 0 || K <= 0) return false;
    mm_key k;
    memset(&k, 0, sizeof k);
    k.kind = 0;
    k.src_dt = k.wei_dt = dnnl_s8;
    k.dst_dt = dnnl_s32;
    k.batch = 1, k.M = M, k.N = N, k.K = K, k.lda = K, k.ldb = K, k.ldc = N;
    void *const ptr[4] = {(void *)x, (void *)w, y, NULL};
    return am__prim_run(&k, sizeof k, build_mm, ptr);
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

static bool build_nd(const void *key, am__prim *p, dnnl_engine_t engine) {
    const nd_key *k = key;
    dnnl_matmul_desc_t md;
    bool ok = dnnl_memory_desc_init_by_strides(&p->md[0], k->nd, k->ad, dnnl_f32, k->as) == dnnl_success &&
              dnnl_memory_desc_init_by_strides(&p->md[1], k->nd, k->bd, dnnl_f32, k->bs) == dnnl_success &&
              dnnl_memory_desc_init_by_strides(&p->md[2], k->nd, k->cd, dnnl_f32, k->cs) == dnnl_success &&
              dnnl_matmul_desc_init(&md, &p->md[0], &p->md[1], NULL, &p->md[2]) == dnnl_success && am__prim_create(p, &md, engine);
    p->nargs = 3;
    p->arg[0] = DNNL_ARG_SRC, p->arg[1] = DNNL_ARG_WEIGHTS, p->arg[2] = DNNL_ARG_DST;
    return ok;
}

bool am__matmul_nd_f32(int nd, const int64_t *ad, const int64_t *as, const float *A, const int64_t *bd, const int64_t *bs, const float *B,
                       const int64_t *cd, const int64_t *cs, float *C) {
    if (nd < 2 || nd > 5 || getenv("AM_NO_DNNL")) return false;
    nd_key k;
    memset(&k, 0, sizeof k);
    k.nd = nd;
    for (int i = 0; i < nd; i++) {
        k.ad[i] = ad[i], k.as[i] = as[i], k.bd[i] = bd[i], k.bs[i] = bs[i], k.cd[i] = cd[i], k.cs[i] = cs[i];
    }
    void *const ptr[3] = {(void *)A, (void *)B, C};
    return am__prim_run(&k, sizeof k, build_nd, ptr);
}

/* ---- elementwise activations through oneDNN's JIT eltwise (vectorised erf/tanh/exp) ---- */

typedef struct elt_key {
    int32_t alg;
    float alpha;
    int64_t n;
} elt_key;

static bool build_elt(const void *key, am__prim *p, dnnl_engine_t engine) {
    const elt_key *k = key;
    dnnl_dims_t d = {k->n};
    dnnl_eltwise_desc_t ed;
    bool ok = dnnl_memory_desc_init_by_tag(&p->md[0], 1, d, dnnl_f32, dnnl_a) == dnnl_success &&
              dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, (dnnl_alg_kind_t)k->alg, &p->md[0], k->alpha, 0.0f) == dnnl_success &&
              am__prim_create(p, &ed, engine);
    p->md[1] = p->md[0];
    p->nargs = 2;
    p->arg[0] = DNNL_ARG_SRC, p->arg[1] = DNNL_ARG_DST;
    return ok;
}

bool am__dnnl_eltwise_f32(int alg, float alpha, int64_t n, float *x) {
    if (n <= 0 || getenv("AM_NO_DNNL")) return false;
    elt_key k;
    memset(&k, 0, sizeof k);
    k.alg = alg, k.alpha = alpha, k.n = n;
    void *const ptr[2] = {x, x};
    return am__prim_run(&k, sizeof k, build_elt, ptr);
}
