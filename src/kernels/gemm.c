/* kernels/gemm.c — GEMM dispatch: oneDNN's matmul (measured fastest here) through the shared,
 * bounded primitive cache (kernels/primcache.h: keyed by shape, layout and dtypes; no lock held
 * while a product runs); a portable blocked loop when oneDNN refuses a shape. */
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
             dnnl_memory_desc_init_by_strides(wei, 2, wd, (dnnl_data_type_t)k->wei_dt, kind == 0 ? ws_nt : ws_nn) == dnnl_success &&
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
    ok = ok && am__prim_create(p, &md, engine);
    p->nargs = k->bias ? 4 : 3;
    p->arg[0] = DNNL_ARG_SRC, p->arg[1] = DNNL_ARG_WEIGHTS, p->arg[2] = DNNL_ARG_DST, p->arg[3] = DNNL_ARG_BIAS;
    return ok;
}

static bool dnnl_call(int kind, int64_t batch, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, int64_t ba, const float *B,
                      int64_t ldb, int64_t bb, const float *bias, float *C, int64_t ldc, int64_t bc) {
    if (getenv("AM_NO_DNNL")) return false;
    mm_key k;
    memset(&k, 0, sizeof k);
    k.kind = kind, k.bias = bias != NULL;
    k.src_dt = k.wei_dt = k.dst_dt = k.bia_dt = dnnl_f32;
    k.batch = batch, k.M = M, k.N = N, k.K = K, k.lda = lda, k.ldb = ldb, k.ldc = ldc, k.ba = ba, k.bb = bb, k.bc = bc;
    void *const ptr[4] = {(void *)A, (void *)B, C, (void *)bias};
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
