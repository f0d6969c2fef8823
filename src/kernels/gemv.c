/* kernels/gemv.c — decode-time kernels: a GEMV for few rows (M <= 8) that streams the weights once,
 * in either layout (nn.Linear [N,K] or GPT-2's Conv1D [K,N]) and f32/bf16/f16 storage, with
 * AVX-512 and AVX2 versions picked at run time and a portable C fallback; and attention of new
 * queries over a preallocated KV cache. */
#include "core/error.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- scalar helpers ---- */

static inline float ld_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline float ld_f16(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (!man) u = sign;
        else { /* subnormal */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            u = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
    else u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline float ld_w(const void *w, am__wtype t, int64_t i) {
    switch (t) {
    case AM__W_BF16: return ld_bf16(((const uint16_t *)w)[i]);
    case AM__W_F16: return ld_f16(((const uint16_t *)w)[i]);
    default: return ((const float *)w)[i];
    }
}
static inline size_t wsize(am__wtype t) { return t == AM__W_F32 ? 4 : 2; }

typedef struct {
    int64_t M, N, K;
    const float *x;
    const void *w;
    am__wtype wt;
    const float *bias;
    float *y;
    int64_t block; /* columns (kn) or rows (nk) per work item */
} gemv_ctx;

/* portable: [N,K] rows n in [n0, n1) */
static void nk_ref(const gemv_ctx *c, int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; n++) {
        const char *wr = (const char *)c->w + (size_t)(n * c->K) * wsize(c->wt);
        for (int64_t m = 0; m < c->M; m++) {
            const float *x = c->x + m * c->K;
            float s = 0;
            for (int64_t k = 0; k < c->K; k++) s += x[k] * ld_w(wr, c->wt, k);
            c->y[m * c->N + n] = s + (c->bias ? c->bias[n] : 0.0f);
        }
    }
}

/* portable: [K,N] columns [n0, n1) */
static void kn_ref(const gemv_ctx *c, int64_t n0, int64_t n1) {
    for (int64_t m = 0; m < c->M; m++) {
        float *y = c->y + m * c->N;
        for (int64_t n = n0; n < n1; n++) y[n] = c->bias ? c->bias[n] : 0.0f;
    }
    for (int64_t k = 0; k < c->K; k++) {
        const char *wr = (const char *)c->w + (size_t)(k * c->N) * wsize(c->wt);
        for (int64_t m = 0; m < c->M; m++) {
            float xv = c->x[m * c->K + k];
            float *y = c->y + m * c->N;
            for (int64_t n = n0; n < n1; n++) y[n] += xv * ld_w(wr, c->wt, n);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AM_HAVE_X86 1

/* ---- AVX2 + FMA ---- */

__attribute__((target("avx2,fma,f16c"))) static inline __m256 ld8(const void *w, am__wtype t, int64_t i) {
    if (t == AM__W_F32) return _mm256_loadu_ps((const float *)w + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    if (t == AM__W_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx2,fma,f16c"))) static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* [N,K]: four weight rows at a time against up to two input rows (8 accumulators) */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void nk_avx2_body(const gemv_ctx *c, int64_t n0, int64_t n1, const am__wtype wt) {
    const int64_t K = c->K, K8 = K & ~(int64_t)7;
    const size_t ws = wsize(wt);
    int64_t n = n0;
    if (c->M == 1) /* decode: one row at a time, weights in address order (see nk_avx512_body); two
                    * FMA chains, as one (96 FMAs of latency 4 for a 768-wide row) capped float16
                    * at ~80% of the read bandwidth */
        for (; n < n1; n++) {
            const char *wr = (const char *)c->w + (size_t)(n * K) * ws;
            __m256 a = _mm256_setzero_ps(), b = a;
            int64_t k = 0;
            for (; k + 16 <= K8; k += 16) {
                a = _mm256_fmadd_ps(_mm256_loadu_ps(c->x + k), ld8(wr, wt, k), a);
                b = _mm256_fmadd_ps(_mm256_loadu_ps(c->x + k + 8), ld8(wr, wt, k + 8), b);
            }
            if (k < K8) a = _mm256_fmadd_ps(_mm256_loadu_ps(c->x + k), ld8(wr, wt, k), a);
            float r = hsum8(_mm256_add_ps(a, b));
            for (int64_t k = K8; k < K; k++) r += c->x[k] * ld_w(wr, wt, k);
            c->y[n] = r + (c->bias ? c->bias[n] : 0.0f);
        }
    for (; n + 4 <= n1; n += 4) {
        const char *w0 = (const char *)c->w + (size_t)(n * K) * ws;
        const char *w1 = w0 + (size_t)K * ws, *w2 = w1 + (size_t)K * ws, *w3 = w2 + (size_t)K * ws;
        for (int64_t m = 0; m < c->M; m += 2) {
            bool two = m + 1 < c->M;
            const float *xa = c->x + m * K, *xb = two ? xa + K : xa;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            if (!two) { /* one input row: half the FMAs, same stream */
                for (int64_t k = 0; k < K8; k += 8) {
                    __m256 va = _mm256_loadu_ps(xa + k);
                    a0 = _mm256_fmadd_ps(va, ld8(w0, wt, k), a0);
                    a1 = _mm256_fmadd_ps(va, ld8(w1, wt, k), a1);
                    a2 = _mm256_fmadd_ps(va, ld8(w2, wt, k), a2);
                    a3 = _mm256_fmadd_ps(va, ld8(w3, wt, k), a3);
                }
            } else
            for (int64_t k = 0; k < K8; k += 8) {
                __m256 va = _mm256_loadu_ps(xa + k), vb = _mm256_loadu_ps(xb + k);
                __m256 v0 = ld8(w0, wt, k), v1 = ld8(w1, wt, k), v2 = ld8(w2, wt, k), v3 = ld8(w3, wt, k);
                a0 = _mm256_fmadd_ps(va, v0, a0);
                a1 = _mm256_fmadd_ps(va, v1, a1);
                a2 = _mm256_fmadd_ps(va, v2, a2);
                a3 = _mm256_fmadd_ps(va, v3, a3);
                b0 = _mm256_fmadd_ps(vb, v0, b0);
                b1 = _mm256_fmadd_ps(vb, v1, b1);
                b2 = _mm256_fmadd_ps(vb, v2, b2);
                b3 = _mm256_fmadd_ps(vb, v3, b3);
            }
            float ra[4] = {hsum8(a0), hsum8(a1), hsum8(a2), hsum8(a3)}, rb[4] = {hsum8(b0), hsum8(b1), hsum8(b2), hsum8(b3)};
            for (int64_t k = K8; k < K; k++)
                for (int r = 0; r < 4; r++) {
                    float wv = ld_w(r == 0 ? w0 : r == 1 ? w1 : r == 2 ? w2 : w3, wt, k);
                    ra[r] += xa[k] * wv;
                    rb[r] += xb[k] * wv;
                }
            for (int r = 0; r < 4; r++) {
                float bb = c->bias ? c->bias[n + r] : 0.0f;
                c->y[m * c->N + n + r] = ra[r] + bb;
                if (two) c->y[(m + 1) * c->N + n + r] = rb[r] + bb;
            }
        }
    }
    if (n < n1) nk_ref(c, n, n1);
}
__attribute__((target("avx2,fma,f16c"))) static void nk_avx2(const gemv_ctx *c, int64_t n0, int64_t n1) {
    /* one copy per storage type, so the loads carry no run-time dtype test */
    switch (c->wt) {
    case AM__W_BF16: nk_avx2_body(c, n0, n1, AM__W_BF16); break;
    case AM__W_F16: nk_avx2_body(c, n0, n1, AM__W_F16); break;
    default: nk_avx2_body(c, n0, n1, AM__W_F32); break;
    }
}

/* [K,N]: the output columns stay in L1 while eight weight rows stream past at a time (the y
 * loads and stores are then amortised over eight FMAs) */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline void kn_avx2_body(const gemv_ctx *c, int64_t n0, int64_t n1, const am__wtype wt) {
    const int64_t K = c->K, N = c->N;
    const size_t ws = wsize(wt);
    int64_t w8 = n0 + ((n1 - n0) & ~(int64_t)7);
    for (int64_t m = 0; m < c->M; m++) {
        float *y = c->y + m * N;
        for (int64_t n = n0; n < n1; n++) y[n] = c->bias ? c->bias[n] : 0.0f;
    }
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        const char *r[8];
        for (int j = 0; j < 8; j++) r[j] = (const char *)c->w + (size_t)((k + j) * N) * ws;
        for (int64_t m = 0; m < c->M; m++) {
            const float *x = c->x + m * K + k;
            __m256 xv[8];
            for (int j = 0; j < 8; j++) xv[j] = _mm256_set1_ps(x[j]);
            float *y = c->y + m * N;
            for (int64_t n = n0; n < w8; n += 8) {
                __m256 acc = _mm256_loadu_ps(y + n);
                __m256 acc2 = _mm256_mul_ps(xv[4], ld8(r[4], wt, n));
                acc = _mm256_fmadd_ps(xv[0], ld8(r[0], wt, n), acc);
                acc2 = _mm256_fmadd_ps(xv[5], ld8(r[5], wt, n), acc2);
                acc = _mm256_fmadd_ps(xv[1], ld8(r[1], wt, n), acc);
                acc2 = _mm256_fmadd_ps(xv[6], ld8(r[6], wt, n), acc2);
                acc = _mm256_fmadd_ps(xv[2], ld8(r[2], wt, n), acc);
                acc2 = _mm256_fmadd_ps(xv[7], ld8(r[7], wt, n), acc2);
                acc = _mm256_fmadd_ps(xv[3], ld8(r[3], wt, n), acc);
                _mm256_storeu_ps(y + n, _mm256_add_ps(acc, acc2));
            }
            for (int64_t n = w8; n < n1; n++) {
                float t = 0;
                for (int j = 0; j < 8; j++) t += x[j] * ld_w(r[j], wt, n);
                y[n] += t;
            }
        }
    }
    for (; k < K; k++) {
        const char *r0 = (const char *)c->w + (size_t)(k * N) * ws;
        for (int64_t m = 0; m < c->M; m++) {
            float xv = c->x[m * K + k];
            float *y = c->y + m * N;
            for (int64_t n = n0; n < n1; n++) y[n] += xv * ld_w(r0, wt, n);
        }
    }
}
__attribute__((target("avx2,fma,f16c"))) static void kn_avx2(const gemv_ctx *c, int64_t n0, int64_t n1) {
    /* one copy per storage type, so the loads carry no run-time dtype test */
    switch (c->wt) {
    case AM__W_BF16: kn_avx2_body(c, n0, n1, AM__W_BF16); break;
    case AM__W_F16: kn_avx2_body(c, n0, n1, AM__W_F16); break;
    default: kn_avx2_body(c, n0, n1, AM__W_F32); break;
    }
}

/* ---- AVX-512 ---- */

__attribute__((target("avx512f,avx512bw,fma,f16c"))) static inline __m512 ld16(const void *w, am__wtype t, int64_t i) {
    if (t == AM__W_F32) return _mm512_loadu_ps((const float *)w + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i));
    if (t == AM__W_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx512f,avx512bw,fma,f16c"), always_inline)) static inline void nk_avx512_body(const gemv_ctx *c, int64_t n0, int64_t n1, const am__wtype wt) {
    const int64_t K = c->K, K16 = K & ~(int64_t)15;
    const size_t ws = wsize(wt);
    int64_t n = n0;
    if (c->M == 1) { /* decode: one row at a time, so the weights stream strictly in address order
                       * (interleaving rows, 2 to 8 at a time, ran at half the read bandwidth on Zen 4:
                       * bench_quant lm_head f16 and f32); one FMA chain per row, summed in the same order as below, and
                       * the next row's loads overlap this row's chain out of order */
        for (; n < n1; n++) {
            const char *wr = (const char *)c->w + (size_t)(n * K) * ws;
            __m512 a = _mm512_setzero_ps();
            for (int64_t k = 0; k < K16; k += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(c->x + k), ld16(wr, wt, k), a);
            float r = _mm512_reduce_add_ps(a);
            for (int64_t k = K16; k < K; k++) r += c->x[k] * ld_w(wr, wt, k);
            c->y[n] = r + (c->bias ? c->bias[n] : 0.0f);
        }
    }
    for (; n + 4 <= n1; n += 4) {
        const char *w0 = (const char *)c->w + (size_t)(n * K) * ws;
        const char *w1 = w0 + (size_t)K * ws, *w2 = w1 + (size_t)K * ws, *w3 = w2 + (size_t)K * ws;
        for (int64_t m = 0; m < c->M; m += 2) {
            bool two = m + 1 < c->M;
            const float *xa = c->x + m * K, *xb = two ? xa + K : xa;
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            if (!two) /* one input row (decode): half the FMAs, same stream, same sums */
                for (int64_t k = 0; k < K16; k += 16) {
                    __m512 va = _mm512_loadu_ps(xa + k);
                    a0 = _mm512_fmadd_ps(va, ld16(w0, wt, k), a0);
                    a1 = _mm512_fmadd_ps(va, ld16(w1, wt, k), a1);
                    a2 = _mm512_fmadd_ps(va, ld16(w2, wt, k), a2);
                    a3 = _mm512_fmadd_ps(va, ld16(w3, wt, k), a3);
                }
            else
            for (int64_t k = 0; k < K16; k += 16) {
                __m512 va = _mm512_loadu_ps(xa + k), vb = _mm512_loadu_ps(xb + k);
                __m512 v0 = ld16(w0, wt, k), v1 = ld16(w1, wt, k), v2 = ld16(w2, wt, k), v3 = ld16(w3, wt, k);
                a0 = _mm512_fmadd_ps(va, v0, a0);
                a1 = _mm512_fmadd_ps(va, v1, a1);
                a2 = _mm512_fmadd_ps(va, v2, a2);
                a3 = _mm512_fmadd_ps(va, v3, a3);
                b0 = _mm512_fmadd_ps(vb, v0, b0);
                b1 = _mm512_fmadd_ps(vb, v1, b1);
                b2 = _mm512_fmadd_ps(vb, v2, b2);
                b3 = _mm512_fmadd_ps(vb, v3, b3);
            }
            float ra[4] = {_mm512_reduce_add_ps(a0), _mm512_reduce_add_ps(a1), _mm512_reduce_add_ps(a2), _mm512_reduce_add_ps(a3)};
            float rb[4] = {_mm512_reduce_add_ps(b0), _mm512_reduce_add_ps(b1), _mm512_reduce_add_ps(b2), _mm512_reduce_add_ps(b3)};
            for (int64_t k = K16; k < K; k++)
                for (int r = 0; r < 4; r++) {
                    float wv = ld_w(r == 0 ? w0 : r == 1 ? w1 : r == 2 ? w2 : w3, wt, k);
                    ra[r] += xa[k] * wv;
                    rb[r] += xb[k] * wv;
                }
            for (int r = 0; r < 4; r++) {
                float bb = c->bias ? c->bias[n + r] : 0.0f;
                c->y[m * c->N + n + r] = ra[r] + bb;
                if (two) c->y[(m + 1) * c->N + n + r] = rb[r] + bb;
            }
        }
    }
    if (n < n1) nk_ref(c, n, n1);
}
__attribute__((target("avx512f,avx512bw,fma,f16c"))) static void nk_avx512(const gemv_ctx *c, int64_t n0, int64_t n1) {
    /* one copy per storage type, so the loads carry no run-time dtype test */
    switch (c->wt) {
    case AM__W_BF16: nk_avx512_body(c, n0, n1, AM__W_BF16); break;
    case AM__W_F16: nk_avx512_body(c, n0, n1, AM__W_F16); break;
    default: nk_avx512_body(c, n0, n1, AM__W_F32); break;
    }
}

__attribute__((target("avx512f,avx512bw,fma,f16c"), always_inline)) static inline void kn_avx512_body(const gemv_ctx *c, int64_t n0, int64_t n1, const am__wtype wt) {
    const int64_t K = c->K, N = c->N;
    const size_t ws = wsize(wt);
    int64_t w16 = n0 + ((n1 - n0) & ~(int64_t)15);
    for (int64_t m = 0; m < c->M; m++) {
        float *y = c->y + m * N;
        for (int64_t n = n0; n < n1; n++) y[n] = c->bias ? c->bias[n] : 0.0f;
    }
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
        const char *r0 = (const char *)c->w + (size_t)(k * N) * ws;
        const char *r1 = r0 + (size_t)N * ws, *r2 = r1 + (size_t)N * ws, *r3 = r2 + (size_t)N * ws;
        for (int64_t m = 0; m < c->M; m++) {
            const float *x = c->x + m * K + k;
            __m512 x0 = _mm512_set1_ps(x[0]), x1 = _mm512_set1_ps(x[1]), x2 = _mm512_set1_ps(x[2]), x3 = _mm512_set1_ps(x[3]);
            float *y = c->y + m * N;
            for (int64_t n = n0; n < w16; n += 16) {
                __m512 acc = _mm512_loadu_ps(y + n);
                acc = _mm512_fmadd_ps(x0, ld16(r0, wt, n), acc);
                acc = _mm512_fmadd_ps(x1, ld16(r1, wt, n), acc);
                acc = _mm512_fmadd_ps(x2, ld16(r2, wt, n), acc);
                acc = _mm512_fmadd_ps(x3, ld16(r3, wt, n), acc);
                _mm512_storeu_ps(y + n, acc);
            }
            for (int64_t n = w16; n < n1; n++)
                y[n] += x[0] * ld_w(r0, wt, n) + x[1] * ld_w(r1, wt, n) + x[2] * ld_w(r2, wt, n) + x[3] * ld_w(r3, wt, n);
        }
    }
    for (; k < K; k++) {
        const char *r0 = (const char *)c->w + (size_t)(k * N) * ws;
        for (int64_t m = 0; m < c->M; m++) {
            float xv = c->x[m * K + k];
            float *y = c->y + m * N;
            for (int64_t n = n0; n < n1; n++) y[n] += xv * ld_w(r0, wt, n);
        }
    }
}
__attribute__((target("avx512f,avx512bw,fma,f16c"))) static void kn_avx512(const gemv_ctx *c, int64_t n0, int64_t n1) {
    /* one copy per storage type, so the loads carry no run-time dtype test */
    switch (c->wt) {
    case AM__W_BF16: kn_avx512_body(c, n0, n1, AM__W_BF16); break;
    case AM__W_F16: kn_avx512_body(c, n0, n1, AM__W_F16); break;
    default: kn_avx512_body(c, n0, n1, AM__W_F32); break;
    }
}
#endif

typedef void (*gemv_impl)(const gemv_ctx *c, int64_t n0, int64_t n1);
static gemv_impl g_nk, g_kn;
static int g_level = -1; /* 0 portable, 2 avx2, 3 avx512 */

static pthread_once_t g_pick_once = PTHREAD_ONCE_INIT;
static void pick_once(void);
/* once per process, whichever thread comes first (the choice is written before anyone reads it) */
static void pick(void) { pthread_once(&g_pick_once, pick_once); }
static void pick_once(void) {
    g_nk = nk_ref;
    g_kn = kn_ref;
    int lvl = 0;
#ifdef AM_HAVE_X86
    const char *force = getenv("AM_GEMV_ISA"); /* "c", "avx2", "avx512": for tests and benchmarks */
    bool want512 = !force || !strcmp(force, "avx512"), want2 = !force || !strcmp(force, "avx2") || want512;
    /* the level in force (AM_MAX_ISA / ONEDNN_MAX_CPU_ISA caps it) */
    am__isa isa = am__isa_level();
    bool has2 = isa >= AM__ISA_AVX2;
    if (want512 && isa >= AM__ISA_AVX512) {
        g_nk = nk_avx512;
        g_kn = kn_avx512;
        lvl = 3;
    } else if (want2 && has2) {
        g_nk = nk_avx2;
        g_kn = kn_avx2;
        lvl = 2;
    }
#endif
    g_level = lvl;
}

const char *am__gemv_isa(void) {
    pick();
    return g_level == 3 ? "avx512" : g_level == 2 ? "avx2" : "c";
}

static void nk_range(void *v, int64_t b, int64_t e) {
    gemv_ctx *c = v;
    g_nk(c, b * c->block, e * c->block < c->N ? e * c->block : c->N);
}
static void kn_range(void *v, int64_t b, int64_t e) {
    gemv_ctx *c = v;
    g_kn(c, b * c->block, e * c->block < c->N ? e * c->block : c->N);
}

/* [K,N] with one input row: split the K rows between threads, each summing into its own copy of
 * y. Every thread then streams one contiguous block of weights; splitting the columns instead
 * gave each thread short strided half-rows, which starved the prefetchers (bf16 decode sat at
 * half its bandwidth bound). */
typedef struct {
    const gemv_ctx *c;
    int64_t parts;
    float *partial; /* parts x N */
} ksplit_ctx;

static void kn_krange(void *v, int64_t p0, int64_t p1) {
    ksplit_ctx *k = v;
    const gemv_ctx *c = k->c;
    for (int64_t p = p0; p < p1; p++) {
        int64_t k0 = c->K * p / k->parts, k1 = c->K * (p + 1) / k->parts;
        gemv_ctx sub = *c;
        sub.K = k1 - k0;
        sub.x = c->x + k0;
        sub.w = (const char *)c->w + (size_t)(k0 * c->N) * wsize(c->wt);
        sub.bias = p == 0 ? c->bias : NULL;
        sub.y = k->partial + p * c->N;
        g_kn(&sub, 0, c->N);
    }
}

static void kn_split_k(const gemv_ctx *c) {
    int64_t parts = am__num_threads();
    float *partial = malloc((size_t)(parts * c->N) * sizeof(float));
    if (!partial) {
        int64_t items = (c->N + c->block - 1) / c->block;
        am__parallel_for(items, kn_range, (void *)c);
        return;
    }
    ksplit_ctx k = {c, parts, partial};
    am__parallel_for(parts, kn_krange, &k);
    for (int64_t n = 0; n < c->N; n++) {
        float s = partial[n];
        for (int64_t p = 1; p < parts; p++) s += partial[p * c->N + n];
        c->y[n] = s;
    }
    free(partial);
}

void am__gemv(int64_t M, int64_t N, int64_t K, const float *x, const void *w, am__wtype wt, bool kn, const float *bias, float *y) {
    if (M <= 0 || N <= 0) return;
    pick();
    gemv_ctx c = {M, N, K, x, w, wt, bias, y, kn ? 64 : 16};
    if (K <= 0) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) y[m * N + n] = bias ? bias[n] : 0.0f;
        return;
    }
    int64_t items = (N + c.block - 1) / c.block;
    /* small products are not worth waking the pool */
    if (N * K < (1 << 15) || items < 2) (kn ? kn_range : nk_range)(&c, 0, items);
    else if (kn && M == 1 && K >= 64 && am__num_threads() > 1) kn_split_k(&c);
    else am__parallel_for(items, kn ? kn_range : nk_range, &c);
}
