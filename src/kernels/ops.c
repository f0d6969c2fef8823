/* kernels/ops.c — norms, activations, softmax and multi-head attention (float32). Attention runs
 * one (batch, head) pair per task on the thread pool. */
#include "core/error.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include <oneapi/dnnl/dnnl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    int64_t dim;
    const float *x, *w, *b;
    double eps;
    float *y;
    bool rms;
} norm_ctx;

static void norm_rows(void *vctx, int64_t r0, int64_t r1) {
    norm_ctx *c = vctx;
    int64_t d = c->dim;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = c->x + r * d;
        float *y = c->y + r * d;
        if (c->rms) { /* Llama/T5: x * rsqrt(mean(x^2) + eps) * w, computed in float32 */
            float ss = 0;
            for (int64_t i = 0; i < d; i++) ss += x[i] * x[i];
            float inv = 1.0f / sqrtf(ss / (float)d + (float)c->eps);
            for (int64_t i = 0; i < d; i++) y[i] = c->w[i] * (x[i] * inv);
        } else {
            double mean = 0;
            for (int64_t i = 0; i < d; i++) mean += x[i];
            mean /= (double)d;
            double var = 0;
            for (int64_t i = 0; i < d; i++) {
                double t = x[i] - mean;
                var += t * t;
            }
            var /= (double)d;
            float inv = (float)(1.0 / sqrt(var + c->eps));
            float m = (float)mean;
            for (int64_t i = 0; i < d; i++) y[i] = (x[i] - m) * inv * (c->w ? c->w[i] : 1.0f) + (c->b ? c->b[i] : 0.0f);
        }
    }
}

void am__layernorm_f32(int64_t rows, int64_t dim, const float *x, const float *w, const float *b, double eps, float *y) {
    norm_ctx c = {dim, x, w, b, eps, y, false};
    if (rows * dim < 65536) norm_rows(&c, 0, rows);
    else am__parallel_for(rows, norm_rows, &c);
}

void am__rmsnorm_f32(int64_t rows, int64_t dim, const float *x, const float *w, double eps, float *y) {
    norm_ctx c = {dim, x, w, NULL, eps, y, true};
    if (rows * dim < 65536) norm_rows(&c, 0, rows);
    else am__parallel_for(rows, norm_rows, &c);
}

bool am__act_parse(const char *name, am__act *out, const char **cls) {
    static const struct {
        const char *n, *cls;
        am__act a;
    } k[] = {{"gelu", "GELUActivation", AM_ACT_GELU},
             {"gelu_new", "NewGELUActivation", AM_ACT_GELU_NEW},
             {"gelu_pytorch_tanh", "PytorchGELUTanh", AM_ACT_GELU_NEW},
             {"gelu_fast", "FastGELUActivation", AM_ACT_GELU_NEW},
             {"relu", "ReLU", AM_ACT_RELU},
             {"silu", "SiLUActivation", AM_ACT_SILU},
             {"swish", "SiLUActivation", AM_ACT_SILU},
             {"tanh", "Tanh", AM_ACT_TANH},
             {"sigmoid", "Sigmoid", AM_ACT_SIGMOID},
             {"quick_gelu", "QuickGELUActivation", AM_ACT_QUICK_GELU},
             {"linear", "LinearActivation", AM_ACT_NONE}};
    for (size_t i = 0; name && i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(name, k[i].n)) {
            *out = k[i].a;
            if (cls) *cls = k[i].cls;
            return true;
        }
    return false;
}

typedef struct {
    am__act a;
    float *x;
} act_ctx;

static void act_range(void *vctx, int64_t b, int64_t e) {
    act_ctx *c = vctx;
    float *x = c->x;
    switch (c->a) {
    case AM_ACT_NONE: break;
    case AM_ACT_GELU:
        for (int64_t i = b; i < e; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        break;
    case AM_ACT_GELU_NEW:
        for (int64_t i = b; i < e; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        }
        break;
    case AM_ACT_RELU:
        for (int64_t i = b; i < e; i++) x[i] = x[i] > 0 ? x[i] : 0;
        break;
    case AM_ACT_SILU:
        for (int64_t i = b; i < e; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    case AM_ACT_TANH:
        for (int64_t i = b; i < e; i++) x[i] = tanhf(x[i]);
        break;
    case AM_ACT_SIGMOID:
        for (int64_t i = b; i < e; i++) x[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case AM_ACT_QUICK_GELU:
        for (int64_t i = b; i < e; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
        break;
    }
}

bool am__dnnl_eltwise_f32(int alg, float alpha, int64_t n, float *x);

void am__act_f32(am__act a, int64_t n, float *x) {
    /* large activations go through oneDNN's vectorised JIT (libm's scalar erff alone was ~20% of
     * a BERT forward); small ones, and anything oneDNN refuses, through the loops below */
    if (n >= 4096) {
        int alg = a == AM_ACT_GELU ? dnnl_eltwise_gelu_erf : a == AM_ACT_GELU_NEW ? dnnl_eltwise_gelu_tanh : a == AM_ACT_SILU ? dnnl_eltwise_swish
                  : a == AM_ACT_TANH ? dnnl_eltwise_tanh : a == AM_ACT_SIGMOID ? dnnl_eltwise_logistic : a == AM_ACT_RELU ? dnnl_eltwise_relu : 0;
        if (alg && am__dnnl_eltwise_f32(alg, a == AM_ACT_SILU ? 1.0f : 0.0f, n, x)) return;
    }
    act_ctx c = {a, x};
    if (n < 65536) act_range(&c, 0, n);
    else am__parallel_for(n, act_range, &c);
}

void am__dropout_f32(int64_t n, float *x, float p, uint64_t seed) {
    if (p <= 0) return;
    if (p >= 1) {
        memset(x, 0, (size_t)n * sizeof(float));
        return;
    }
    uint64_t thr = (uint64_t)(p * 18446744073709551616.0);
    float keep = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++) x[i] = mix64(seed * 0x9e3779b97f4a7c15ull + (uint64_t)i) < thr ? 0.0f : x[i] * keep;
}

void am__softmax_f32(int64_t rows, int64_t n, float *x) {
    for (int64_t r = 0; r < rows; r++) {
        float *p = x + r * n;
        float m = -INFINITY;
        for (int64_t i = 0; i < n; i++) m = p[i] > m ? p[i] : m;
        float s = 0;
        for (int64_t i = 0; i < n; i++) {
            p[i] = expf(p[i] - m);
            s += p[i];
        }
        float inv = 1.0f / s;
        for (int64_t i = 0; i < n; i++) p[i] *= inv;
    }
}

typedef struct {
    int64_t B, Tq, Tk, Hq, Hkv, D;
    const float *q, *k, *v, *mask, *bias;
    int64_t qs, ks, vs, os;
    bool causal;
    float scale;
    float *out;
    float dropout_p;
    uint64_t seed;
} attn_ctx;

static void attn_task(void *vctx, int64_t t0, int64_t t1) {
    attn_ctx *c = vctx;
    float *scores = malloc((size_t)c->Tk * sizeof(float));
    if (!scores) {
        am__oom_note(); /* the caller's entry point fails */
        return;
    }
    int64_t group = c->Hq / c->Hkv;
    for (int64_t t = t0; t < t1; t++) {
        int64_t b = t / c->Hq, h = t % c->Hq, hk = h / group;
        for (int64_t i = 0; i < c->Tq; i++) {
            const float *qi = c->q + (b * c->Tq + i) * c->qs + h * c->D;
            for (int64_t j = 0; j < c->Tk; j++) {
                const float *kj = c->k + (b * c->Tk + j) * c->ks + hk * c->D;
                float s = 0;
                for (int64_t d = 0; d < c->D; d++) s += qi[d] * kj[d];
                s *= c->scale;
                if (c->bias) s += c->bias[(h * c->Tq + i) * c->Tk + j];
                /* transformers adds finfo.min; adding two of them saturates at -inf-like finite min */
                if (c->mask) s += c->mask[b * c->Tk + j];
                if (c->causal && j > i + (c->Tk - c->Tq)) s += AM_FINFO_MIN_F32;
                if (s < AM_FINFO_MIN_F32) s = AM_FINFO_MIN_F32;
                scores[j] = s;
            }
            am__softmax_f32(1, c->Tk, scores);
            if (c->dropout_p > 0) am__dropout_f32(c->Tk, scores, c->dropout_p, mix64(c->seed + (uint64_t)((b * 1000003 + h) * 1000003 + i)));
            float *o = c->out + (b * c->Tq + i) * c->os + h * c->D;
            for (int64_t d = 0; d < c->D; d++) o[d] = 0;
            for (int64_t j = 0; j < c->Tk; j++) {
                float p = scores[j];
                if (p == 0.0f) continue;
                const float *vj = c->v + (b * c->Tk + j) * c->vs + hk * c->D;
                for (int64_t d = 0; d < c->D; d++) o[d] += p * vj[d];
            }
        }
    }
    free(scores);
}

typedef struct {
    int64_t Tq, tq, Tk, q0, b; /* full query length, rows per head in this chunk */
    float *S;
    const float *mask, *bias;
    bool causal;
    float scale;
    float dropout_p;
    uint64_t seed;
} sm_ctx;

/* scale, position bias, padding and causal masks, then softmax, on rows of S [Hq, tq, Tk] */
static void mask_softmax_rows(void *vctx, int64_t r0, int64_t r1) {
    sm_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        float *row = c->S + r * c->Tk;
        int64_t h = r / c->tq, i = c->q0 + r % c->tq;
        for (int64_t j = 0; j < c->Tk; j++) {
            float s = row[j] * c->scale;
            if (c->bias) s += c->bias[(h * c->Tq + i) * c->Tk + j];
            if (c->mask) s += c->mask[c->b * c->Tk + j];
            if (c->causal && j > i + (c->Tk - c->Tq)) s += AM_FINFO_MIN_F32;
            if (s < AM_FINFO_MIN_F32) s = AM_FINFO_MIN_F32; /* finfo.min twice saturates, never -inf */
            row[j] = s;
        }
        am__softmax_f32(1, c->Tk, row);
        if (c->dropout_p > 0) am__dropout_f32(c->Tk, row, c->dropout_p, mix64(c->seed + (uint64_t)((c->b * 1000003 + h) * 1000003 + i)));
    }
}

void am__attention_f32(int64_t B, int64_t Tq, int64_t Tk, int64_t Hq, int64_t Hkv, int64_t D, const float *q, int64_t q_stride, const float *k,
                       int64_t k_stride, const float *v, int64_t v_stride, const float *mask_add, bool causal, const float *bias, float scale,
                       float *out, int64_t out_stride) {
    am__attention_dropout_f32(B, Tq, Tk, Hq, Hkv, D, q, q_stride, k, k_stride, v, v_stride, mask_add, causal, bias, scale, 0.0f, 0, out, out_stride);
}

void am__attention_dropout_f32(int64_t B, int64_t Tq, int64_t Tk, int64_t Hq, int64_t Hkv, int64_t D, const float *q, int64_t q_stride,
                               const float *k, int64_t k_stride, const float *v, int64_t v_stride, const float *mask_add, bool causal,
                               const float *bias, float scale, float dropout_p, uint64_t seed, float *out, int64_t out_stride) {
    /* Per batch row and query chunk: S = Q·Kᵀ and O = P·V as oneDNN batched matmuls over
     * [Hkv, group] (K/V broadcast over the query heads of a group), softmax in between. The
     * chunk bounds S to about 16 MB. */
    int64_t G = Hq / Hkv;
    int64_t chunk = Tq;
    while (chunk > 1 && Hq * chunk * Tk > (int64_t)4 << 20) chunk = (chunk + 1) / 2;
    float *S = malloc((size_t)(Hq * chunk * Tk) * sizeof(float));
    if (!S) { /* out of memory: the entry point fails (the loop fallback below is for oneDNN refusals) */
        am__oom_note();
        return;
    }
    bool ok = true;
    for (int64_t b = 0; ok && b < B; b++)
        for (int64_t q0 = 0; ok && q0 < Tq; q0 += chunk) {
            int64_t tq = Tq - q0 < chunk ? Tq - q0 : chunk;
            const float *qb = q + (b * Tq + q0) * q_stride, *kb = k + b * Tk * k_stride, *vb = v + b * Tk * v_stride;
            int64_t ad[4] = {Hkv, G, tq, D}, as[4] = {G * D, D, q_stride, 1};
            int64_t bd[4] = {Hkv, 1, D, Tk}, bs[4] = {D, 1, 1, k_stride};
            int64_t cd[4] = {Hkv, G, tq, Tk}, cs[4] = {G * tq * Tk, tq * Tk, Tk, 1};
            ok = am__matmul_nd_f32(4, ad, as, qb, bd, bs, kb, cd, cs, S);
            if (!ok) break;
            sm_ctx sc = {Tq, tq, Tk, q0, b, S, mask_add, bias, causal, scale, dropout_p, seed};
            am__parallel_for(Hq * tq, mask_softmax_rows, &sc);
            int64_t pd[4] = {Hkv, G, tq, Tk}, ps[4] = {G * tq * Tk, tq * Tk, Tk, 1};
            int64_t vd[4] = {Hkv, 1, Tk, D}, vs[4] = {D, 1, v_stride, 1};
            int64_t od[4] = {Hkv, G, tq, D}, os[4] = {G * D, D, out_stride, 1};
            ok = am__matmul_nd_f32(4, pd, ps, S, vd, vs, vb, od, os, out + (b * Tq + q0) * out_stride);
        }
    free(S);
    if (ok) return;
    attn_ctx c = {B, Tq, Tk, Hq, Hkv, D, q, k, v, mask_add, bias, q_stride, k_stride, v_stride, out_stride, causal, scale, out, dropout_p, seed};
    am__parallel_for(B * Hq, attn_task, &c);
}
