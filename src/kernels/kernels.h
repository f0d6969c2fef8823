/* kernels/kernels.h — the math, in one place: GEMM dispatch (oneDNN), norms, activations,
 * softmax and attention. All float32 row-major unless named otherwise. */
#ifndef AM_KERNELS_H
#define AM_KERNELS_H
#include <stdbool.h>
#include <stdint.h>

/* y[M,N] = x[M,K] · w[N,K]ᵀ (+ bias[N]) — nn.Linear. `w_packed_slot` (may be NULL) caches a
 * kernel-specific packed copy of w across calls. */
void am__linear_f32(int64_t M, int64_t N, int64_t K, const float *x, const float *w, const float *bias, float *y);
/* y[M,N] = x[M,K] · w[K,N] (+ bias) — GPT-2's Conv1D layout. */
void am__linear_kn_f32(int64_t M, int64_t N, int64_t K, const float *x, const float *w, const float *bias, float *y);
/* Batched C[b] = alpha · A[b] · B[b]ᵀ with arbitrary leading strides (attention scores), or
 * A[b] · B[b] when trans_b is false (attention context). Row strides in elements. */
void am__bmm_f32(int64_t batch, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, int64_t batch_a, const float *B,
                 int64_t ldb, int64_t batch_b, bool trans_b, float alpha, float *C, int64_t ldc, int64_t batch_c);

/* C = A · B batched over the leading nd-2 dims (size-1 dims broadcast), arbitrary strides, via
 * oneDNN; false when unavailable (callers fall back). */
bool am__matmul_nd_f32(int nd, const int64_t *ad, const int64_t *as, const float *A, const int64_t *bd, const int64_t *bs, const float *B,
                       const int64_t *cd, const int64_t *cs, float *C);

void am__layernorm_f32(int64_t rows, int64_t dim, const float *x, const float *w, const float *b, double eps, float *y);
void am__rmsnorm_f32(int64_t rows, int64_t dim, const float *x, const float *w, double eps, float *y);

typedef enum am__act {
    AM_ACT_NONE = 0,
    AM_ACT_GELU,      /* exact erf GELU ("gelu") */
    AM_ACT_GELU_NEW,  /* tanh approximation ("gelu_new", "gelu_pytorch_tanh", "gelu_fast") */
    AM_ACT_RELU,
    AM_ACT_SILU,
    AM_ACT_TANH,
    AM_ACT_SIGMOID,
    AM_ACT_QUICK_GELU,
} am__act;
/* transformers' ACT2FN names -> kind; false when unknown. `cls` gets the repr class name. */
bool am__act_parse(const char *name, am__act *out, const char **cls);
void am__act_f32(am__act a, int64_t n, float *x);

/* Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p). The mask is
 * a pure function of (seed, index), so it does not depend on the thread count. */
void am__dropout_f32(int64_t n, float *x, float p, uint64_t seed);

/* Row softmax in place over `n` columns. */
void am__softmax_f32(int64_t rows, int64_t n, float *x);

/* Multi-head attention over packed projections.
 * q: [B, Tq, Hq*D] rows with stride q_stride; k, v: [B, Tk, Hkv*D] with strides; out: [B, Tq, Hq*D].
 * mask_add: optional additive mask [B, Tk] (0 or finfo.min) broadcast over queries, and causal
 * adds -inf-like finfo.min above the diagonal offset (query i sees keys <= i + (Tk - Tq)).
 * scale multiplies the scores. Rows whose keys are all masked stay finite (uniform over the
 * masked scores, as transformers' finfo.min masking gives). */
void am__attention_f32(int64_t B, int64_t Tq, int64_t Tk, int64_t Hq, int64_t Hkv, int64_t D, const float *q, int64_t q_stride,
                       const float *k, int64_t k_stride, const float *v, int64_t v_stride, const float *mask_add, bool causal,
                       const float *bias /* [Hq, Tq, Tk] or NULL (T5 position bias) */, float scale, float *out, int64_t out_stride);

/* am__attention_f32 with dropout on the attention probabilities (training mode). */
void am__attention_dropout_f32(int64_t B, int64_t Tq, int64_t Tk, int64_t Hq, int64_t Hkv, int64_t D, const float *q, int64_t q_stride,
                               const float *k, int64_t k_stride, const float *v, int64_t v_stride, const float *mask_add, bool causal,
                               const float *bias, float scale, float dropout_p, uint64_t seed, float *out, int64_t out_stride);

/* Decode-time GEMV (kernels/gemv.c): y[M,N] = x[M,K]·W (+ bias) for a few rows, streaming the weights
 * once. W is [N,K] (nn.Linear) or, with kn, [K,N] (GPT-2's Conv1D), stored as f32, bf16 or f16. */
typedef enum am__wtype { AM__W_F32 = 0, AM__W_BF16, AM__W_F16 } am__wtype;
void am__gemv(int64_t M, int64_t N, int64_t K, const float *x, const void *w, am__wtype wt, bool kn, const float *bias, float *y);
/* The instruction set the GEMV dispatched to ("avx512", "avx2", "c"); AM_GEMV_ISA=c|avx2|avx512 caps it. */
const char *am__gemv_isa(void);
/* Attention of Tq queries per row over Tk cached keys (decode steps, cross-attention): k/v element
 * (b, head, j, d) at b*kv_row_stride + head*kv_head_stride + j*kv_pos_stride + d. causal: query i
 * sees keys 0..Tk-Tq+i. key_mask (optional, [B, mask_stride], 1 = attend) masks padding with
 * finfo.min as transformers does, so fully masked rows stay finite; bias (optional, [Hq, Tq, Tk]) is
 * added to the scaled scores (T5). q/out: [B, Tq, Hq*D]. */
void am__attention_cached_f32(int64_t B, int64_t Tq, int64_t Tk, int64_t Hq, int64_t Hkv, int64_t D, const float *q, const float *kcache,
                              const float *vcache, int64_t kv_row_stride, int64_t kv_head_stride, int64_t kv_pos_stride, bool causal,
                              const uint8_t *key_mask, int64_t mask_stride, const float *bias, float scale, float *out);

#define AM_FINFO_MIN_F32 (-3.4028234663852886e+38f)
#endif
