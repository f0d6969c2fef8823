/* kernels/ops.c — norms, activations, dropout and softmax (float32). Attention is
 * kernels/attention.c. */
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
     * a BERT forward; scalar tanhf was ~6% of an 8-bit GPT-2 decode step, whose MLP activation is
     * 3,072 wide); small ones, and anything oneDNN refuses, through the loops below */
    if (n >= 1024) {
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
