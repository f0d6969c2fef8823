/* kernels/attention.c — multi-head attention, the one implementation every architecture calls:
 * eager (materialised probabilities softmax(Q·Kᵀ·scale + bias + mask), optionally returned, as
 * transformers' eager attention) and a fused kernel (sdpa, and flash_attention_2 on CPU): query
 * blocks stream over key blocks with an online softmax, so memory is O(T), never Tq x Tk.
 *
 * Masking, both paths: score = q·k·scale + bias + mask (+ finfo.min above the causal diagonal),
 * clamped at finfo.min, as transformers adds finfo.min (twice saturates, never -inf). A row whose
 * keys are all masked is therefore uniform over every key and stays finite. */
#include "core/error.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

am__attn_args am__attn_packed(int64_t B, int64_t Tq, int64_t Tk, int64_t Hq, int64_t Hkv, int64_t D, const float *q, int64_t q_row, const float *k,
                              const float *v, int64_t kv_row, float *out, int64_t out_row) {
    am__attn_args a;
    memset(&a, 0, sizeof a);
    a.B = B, a.Tq = Tq, a.Tk = Tk, a.Hq = Hq, a.Hkv = Hkv, a.D = D;
    a.q = q, a.q_row = q_row, a.q_batch = Tq * q_row;
    a.k = k, a.v = v, a.kv_row = kv_row, a.kv_head = D, a.kv_batch = Tk * kv_row;
    a.out = out, a.out_row = out_row, a.out_batch = Tq * out_row;
    a.mask_stride = Tk;
    a.scale = 1.0f;
    return a;
}

const char *am__attn_impl_name(am_attn_impl impl) {
    return impl == AM_ATTN_EAGER ? "eager" : impl == AM_ATTN_FLASH ? "flash_attention_2" : "sdpa";
}

/* additive mask of key j for batch row b (0 or finfo.min) */
static inline float key_add(const am__attn_args *a, int64_t b, int64_t j) {
    if (a->mask_add) return a->mask_add[b * a->mask_stride + j];
    if (a->key_mask) return a->key_mask[b * a->mask_stride + j] ? 0.0f : AM_FINFO_MIN_F32;
    return 0.0f;
}

/* the masked score of one (b, h, i, j) from its raw q·k */
static inline float masked(const am__attn_args *a, int64_t b, int64_t h, int64_t i, int64_t j, float qk) {
    float s = qk * a->scale;
    if (a->bias) s += a->bias[(h * a->Tq + i) * a->Tk + j];
    s += key_add(a, b, j);
    if (a->causal && j > i + (a->Tk - a->Tq)) s += AM_FINFO_MIN_F32;
    return s < AM_FINFO_MIN_F32 ? AM_FINFO_MIN_F32 : s;
}

/* ---- eager ---- */

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* softmax (and dropout) of one row of scores in place; the seed of a row's dropout mask depends
 * on (b, h, i) only, so both eager paths drop the same elements */
static void softmax_row(const am__attn_args *a, int64_t b, int64_t h, int64_t i, float *row) {
    am__softmax_f32(1, a->Tk, row);
    if (a->dropout_p > 0) am__dropout_f32(a->Tk, row, a->dropout_p, mix64(a->seed + (uint64_t)((b * 1000003 + h) * 1000003 + i)));
}

/* one (batch, head) pair per task, one query row at a time: scores, softmax, P·V as plain loops.
 * Decode steps (a few queries, shapes changing every step) and the fallback when oneDNN refuses. */
static void eager_rows(const void *vctx, int64_t t0, int64_t t1, float *tmp) {
    const am__attn_args *a = vctx;
    int64_t group = a->Hq / a->Hkv;
    for (int64_t t = t0; t < t1; t++) {
        int64_t b = t / a->Hq, h = t % a->Hq, hk = h / group;
        const float *kb = a->k + b * a->kv_batch + hk * a->kv_head, *vb = a->v + b * a->kv_batch + hk * a->kv_head;
        for (int64_t i = 0; i < a->Tq; i++) {
            const float *qi = a->q + b * a->q_batch + i * a->q_row + h * a->D;
            float *p = a->probs ? a->probs + ((b * a->Hq + h) * a->Tq + i) * a->Tk : tmp;
            for (int64_t j = 0; j < a->Tk; j++) {
                const float *kj = kb + j * a->kv_row;
                float s = 0;
                for (int64_t d = 0; d < a->D; d++) s += qi[d] * kj[d];
                p[j] = masked(a, b, h, i, j, s);
            }
            softmax_row(a, b, h, i, p);
            float *o = a->out + b * a->out_batch + i * a->out_row + h * a->D;
            for (int64_t d = 0; d < a->D; d++) o[d] = 0;
            for (int64_t j = 0; j < a->Tk; j++) {
                float w = p[j];
                if (w == 0.0f) continue;
                const float *vj = vb + j * a->kv_row;
                for (int64_t d = 0; d < a->D; d++) o[d] += w * vj[d];
            }
        }
    }
}

typedef struct {
    const am__attn_args *a;
    int64_t b, q0, tq, hs; /* batch row, first query, queries in this chunk, rows per head in S */
    float *S;
} sm_ctx;

/* scale, bias, masks and softmax on rows of S [Hq, hs, Tk] (the chunk's tq rows of each head) */
static void mask_softmax_rows(void *vctx, int64_t r0, int64_t r1) {
    const sm_ctx *c = vctx;
    const am__attn_args *a = c->a;
    for (int64_t r = r0; r < r1; r++) {
        int64_t h = r / c->tq, i = c->q0 + r % c->tq;
        float *row = c->S + (h * c->hs + r % c->tq) * a->Tk;
        for (int64_t j = 0; j < a->Tk; j++) row[j] = masked(a, c->b, h, i, j, row[j]);
        softmax_row(a, c->b, h, i, row);
    }
}

/* Per batch row and query chunk: S = Q·Kᵀ and O = P·V as oneDNN batched matmuls over [Hkv, group]
 * (K/V broadcast over the query heads of a group), masked softmax in between. S is the returned
 * probabilities when asked for, else a chunk bounded to about 16 MB. False when oneDNN refuses. */
static bool eager_matmul(const am__attn_args *a) {
    int64_t Hq = a->Hq, Hkv = a->Hkv, G = Hq / Hkv, Tq = a->Tq, Tk = a->Tk, D = a->D;
    int64_t chunk = Tq;
    if (!a->probs)
        while (chunk > 1 && Hq * chunk * Tk > (int64_t)4 << 20) chunk = (chunk + 1) / 2;
    float *S = a->probs ? NULL : malloc((size_t)(Hq * chunk * Tk) * sizeof(float));
    bool ok = a->probs || S;
    for (int64_t b = 0; ok && b < a->B; b++)
        for (int64_t q0 = 0; ok && q0 < Tq; q0 += chunk) {
            int64_t tq = Tq - q0 < chunk ? Tq - q0 : chunk, hs = a->probs ? Tq : tq;
            float *Sb = a->probs ? a->probs + (b * Hq * Tq + q0) * Tk : S;
            const float *qb = a->q + b * a->q_batch + q0 * a->q_row, *kb = a->k + b * a->kv_batch, *vb = a->v + b * a->kv_batch;
            int64_t ad[4] = {Hkv, G, tq, D}, as[4] = {G * D, D, a->q_row, 1};
            int64_t bd[4] = {Hkv, 1, D, Tk}, bs[4] = {a->kv_head, 1, 1, a->kv_row};
            int64_t cd[4] = {Hkv, G, tq, Tk}, cs[4] = {G * hs * Tk, hs * Tk, Tk, 1};
            ok = am__matmul_nd_f32(4, ad, as, qb, bd, bs, kb, cd, cs, Sb);
            if (!ok) break;
            sm_ctx sc = {a, b, q0, tq, hs, Sb};
            am__parallel_for(Hq * tq, mask_softmax_rows, &sc);
            int64_t vd[4] = {Hkv, 1, Tk, D}, vs[4] = {a->kv_head, 1, a->kv_row, 1};
            int64_t od[4] = {Hkv, G, tq, D}, os[4] = {G * D, D, a->out_row, 1};
            ok = am__matmul_nd_f32(4, cd, cs, Sb, vd, vs, vb, od, os, a->out + b * a->out_batch + q0 * a->out_row);
        }
    free(S);
    return ok;
}

/* ---- fused: online softmax over key blocks ---- */

#define BQ 64 /* query rows per task */
#define BK 64 /* keys per block */

/* e^x for x <= 0, vectorisable (no libm call): 2^n · p(r), r = x - n·ln2, a degree-6 polynomial;
 * relative error ~2 ulp; exactly 0 below -87.3 (where expf is at most a subnormal). */
static inline __attribute__((always_inline)) float exp_neg(float x) {
    float xc = x < -87.3f ? -87.3f : x;
    float t = xc * 1.44269504088896341f + 12582912.0f; /* round to nearest via 1.5·2^23 */
    float n = t - 12582912.0f;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &e, sizeof two_n);
    return x < -87.3f ? 0.0f : p * two_n;
}

typedef struct {
    const am__attn_args *a;
    int64_t nqb; /* query blocks per (b, h) */
} fused_ctx;

/* Scratch of one task range: K block transposed [D][BK], scores [BQ][BK], accumulators [BQ][D],
 * per-row running max and sum, and the key block's additive mask. */
typedef struct {
    float *kt, *s, *acc, *m, *l, *kadd;
} fused_scratch;

typedef float v4 __attribute__((vector_size(16), aligned(4)));
typedef float v8 __attribute__((vector_size(32), aligned(4)));
typedef float v16 __attribute__((vector_size(64), aligned(4)));
#define FUSED_NAME fused_block_v4
#define VEC v4
#define VW 4
#include "kernels/attention_fused.inc"
#define FUSED_NAME fused_block_v8
#define VEC v8
#define VW 8
#include "kernels/attention_fused.inc"
#define FUSED_NAME fused_block_v16
#define VEC v16
#define VW 16
#include "kernels/attention_fused.inc"

static void fused_block_c(const am__attn_args *a, int64_t b, int64_t h, int64_t i0, int64_t nq, const fused_scratch *w) {
    fused_block_v4(a, b, h, i0, nq, w);
}
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) static void fused_block_avx2(const am__attn_args *a, int64_t b, int64_t h, int64_t i0, int64_t nq,
                                                                 const fused_scratch *w) {
    fused_block_v8(a, b, h, i0, nq, w);
}
__attribute__((target("avx512f,avx2,fma"))) static void fused_block_avx512(const am__attn_args *a, int64_t b, int64_t h, int64_t i0, int64_t nq,
                                                                           const fused_scratch *w) {
    fused_block_v8(a, b, h, i0, nq, w);
}
#endif
typedef void (*fused_fn)(const am__attn_args *, int64_t, int64_t, int64_t, int64_t, const fused_scratch *);

/* the ISA level the GEMV picked (CPUID, capped by AM_GEMV_ISA): one run-time choice for both */
static fused_fn fused_pick(void) {
#if defined(__x86_64__) || defined(__i386__)
    const char *isa = am__gemv_isa();
    if (!strcmp(isa, "avx512")) return fused_block_avx512;
    if (!strcmp(isa, "avx2")) return fused_block_avx2;
#endif
    return fused_block_c;
}

static size_t fused_scratch_floats(int64_t D) { return (size_t)(D * BK + BQ * BK + BQ * D + 2 * BQ + BK); }

static void fused_task(const void *vctx, int64_t t0, int64_t t1, float *buf) {
    const fused_ctx *c = vctx;
    const am__attn_args *a = c->a;
    int64_t D = a->D;
    fused_scratch w;
    w.kt = buf, w.s = w.kt + D * BK, w.acc = w.s + BQ * BK, w.m = w.acc + BQ * D, w.l = w.m + BQ, w.kadd = w.l + BQ;
    fused_fn fn = fused_pick();
    for (int64_t t = t0; t < t1; t++) {
        int64_t qb = t % c->nqb, bh = t / c->nqb, i0 = qb * BQ;
        fn(a, bh / a->Hq, bh % a->Hq, i0, a->Tq - i0 < BQ ? a->Tq - i0 : BQ, &w);
    }
}

/* ---- running on the pool with scratch allocated up front (an allocation failure is an error
 * returned to the caller, never a silently skipped task) ---- */

typedef void (*item_fn)(const void *ctx, int64_t i0, int64_t i1, float *scratch);
typedef struct {
    item_fn fn;
    const void *ctx;
    int64_t items, nw;
    size_t per;
    float *buf;
} split_ctx;

static void split_task(void *v, int64_t w0, int64_t w1) {
    const split_ctx *s = v;
    for (int64_t w = w0; w < w1; w++) s->fn(s->ctx, w * s->items / s->nw, (w + 1) * s->items / s->nw, s->buf + (size_t)w * s->per);
}

static am_status run_items(item_fn fn, const void *ctx, int64_t items, size_t per, bool serial) {
    int64_t nw = serial ? 1 : am__num_threads();
    nw = nw > items ? items : nw < 1 ? 1 : nw;
    float *buf = malloc((size_t)nw * per * sizeof(float));
    if (!buf) return am__error(AM_ERR_NO_MEMORY, "attention: out of memory (%zu bytes of scratch)", (size_t)nw * per * sizeof(float));
    split_ctx s = {fn, ctx, items, nw, per, buf};
    if (nw == 1) split_task(&s, 0, 1);
    else am__parallel_for(nw, split_task, &s);
    free(buf);
    return AM_OK;
}

am_status am__attention(const am__attn_args *a) {
    if (a->B <= 0 || a->Tq <= 0 || a->Hq <= 0 || a->D <= 0) return AM_OK;
    if (a->Hkv <= 0 || a->Hq % a->Hkv) return am__error(AM_ERR_INVALID_ARGUMENT, "attention: %lld query heads are not a multiple of %lld key/value heads",
                                                        (long long)a->Hq, (long long)a->Hkv);
    if (a->Tk <= 0) { /* no keys: nothing to attend to */
        for (int64_t b = 0; b < a->B; b++)
            for (int64_t i = 0; i < a->Tq; i++) memset(a->out + b * a->out_batch + i * a->out_row, 0, (size_t)(a->Hq * a->D) * sizeof(float));
        return AM_OK;
    }
    int64_t work = a->B * a->Hq * a->Tq * a->Tk * a->D;
    /* dropout (training) and returned probabilities need the materialised path */
    bool eager = a->impl == AM_ATTN_EAGER || a->probs || a->dropout_p > 0;
    if (!eager) {
        fused_ctx c = {a, (a->Tq + BQ - 1) / BQ};
        return run_items(fused_task, &c, a->B * a->Hq * c.nqb, fused_scratch_floats(a->D), work < (1 << 14));
    }
    /* decode steps (a few queries, shapes changing every step) are too small for a GEMM library */
    if (a->Tq > 4 && eager_matmul(a)) return AM_OK;
    return run_items(eager_rows, a, a->B * a->Hq, a->probs ? 1 : (size_t)a->Tk, work < (1 << 14));
}
