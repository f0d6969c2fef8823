/* kernels/kernels.h — the math, in one place: GEMM dispatch (oneDNN), norms, activations,
 * softmax and attention. All float32 row-major unless named otherwise. */
#ifndef AM_KERNELS_H
#define AM_KERNELS_H
#include "automodel.h"
#include <stdbool.h>
#include <stdint.h>

/* y[M,N] = x[M,K] · w[N,K]ᵀ (+ bias[N]) — nn.Linear. `w_packed_slot` (may be NULL) caches a
 * kernel-specific packed copy of w across calls. */
void am__linear_f32(int64_t M, int64_t N, int64_t K, const float *x, const float *w, const float *bias, float *y);
/* y[M,N] = x[M,K] · w[K,N] (+ bias) — GPT-2's Conv1D layout. */
void am__linear_kn_f32(int64_t M, int64_t N, int64_t K, const float *x, const float *w, const float *bias, float *y);
/* nn.Conv2d in float32 (kernels/conv.c: oneDNN's convolution, portable loops as the fallback): x is
 * [B, C, H, W] (src_nchw) or [B, H, W, C]; w [O, C/groups, KH, KW]; bias [O] or NULL; zero padding
 * PH/PW on both sides. y is written [B, OH, OW, O] (token rows), OH = (H + 2 PH - KH) / SH + 1. */
void am__conv2d_f32(int64_t B, int64_t C, int64_t H, int64_t W, const float *x, bool src_nchw, int64_t O, int64_t groups, int64_t KH, int64_t KW, int64_t SH,
                    int64_t SW, int64_t PH, int64_t PW, const float *w, const float *bias, float *y, int64_t *OH, int64_t *OW);
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

/* Multi-head attention (kernels/attention.c), the one implementation for every architecture.
 * q element (b, i, h, d) at q[b*q_batch + i*q_row + h*D + d] (out likewise); k/v element
 * (b, j, hk, d) at k[b*kv_batch + j*kv_row + hk*kv_head + d] (packed projections: kv_head = D;
 * a KV cache: kv_row = D, kv_head = the cache's head stride). Query head h reads K/V head
 * h / (Hq / Hkv) (GQA). Scores: q·k·scale + bias[h, i, j] (T5's position bias, shared by the batch)
 * + the key's additive mask (mask_add [B, mask_stride] of 0 / finfo.min, or key_mask bytes
 * [B, mask_stride] with 1 = attend) + finfo.min above the causal diagonal (query i sees keys
 * <= i + Tk - Tq), clamped at finfo.min: a fully masked row is uniform, finite, as transformers'.
 * impl: AM_ATTN_EAGER materialises the probabilities (into `probs` [B, Hq, Tq, Tk] when set, after
 * dropout, as output_attentions returns them); SDPA/FLASH/DEFAULT run the fused kernel (online
 * softmax over key blocks, O(T) memory), except with probs or dropout, which take the eager path. */
typedef struct am__attn_args {
    int64_t B, Tq, Tk, Hq, Hkv, D;
    const float *q;
    int64_t q_row, q_batch;
    const float *k, *v;
    int64_t kv_row, kv_head, kv_batch;
    float *out;
    int64_t out_row, out_batch;
    const float *mask_add;
    const uint8_t *key_mask;
    int64_t mask_stride;
    bool causal;
    const float *bias;
    float scale;
    float dropout_p;
    uint64_t seed;
    float *probs;
    am_attn_impl impl;
} am__attn_args;
/* Arguments for packed rows: q [B, Tq, q_row], k/v [B, Tk, kv_row] (heads of D side by side),
 * out [B, Tq, out_row]; no mask, no bias, not causal, scale 1, impl DEFAULT. */
am__attn_args am__attn_packed(int64_t B, int64_t Tq, int64_t Tk, int64_t Hq, int64_t Hkv, int64_t D, const float *q, int64_t q_row, const float *k,
                              const float *v, int64_t kv_row, float *out, int64_t out_row);
/* AM_OK, or AM_ERR_NO_MEMORY / AM_ERR_INVALID_ARGUMENT with the message set. */
am_status am__attention(const am__attn_args *a);
/* "eager", "sdpa", "flash_attention_2" (DEFAULT: "sdpa"). */
const char *am__attn_impl_name(am_attn_impl impl);

/* Decode-time GEMV (kernels/gemv.c): y[M,N] = x[M,K]·W (+ bias) for a few rows, streaming the weights
 * once. W is [N,K] (nn.Linear) or, with kn, [K,N] (GPT-2's Conv1D), stored as f32, bf16 or f16. */
typedef enum am__wtype { AM__W_F32 = 0, AM__W_BF16, AM__W_F16 } am__wtype;
void am__gemv(int64_t M, int64_t N, int64_t K, const float *x, const void *w, am__wtype wt, bool kn, const float *bias, float *y);
/* The instruction set the GEMV dispatched to ("avx512", "avx2", "c"); AM_GEMV_ISA=c|avx2|avx512 caps it. */
const char *am__gemv_isa(void);
/* ---- ISA (kernels/isa.c): decided once per process ---- */
enum {
    AM__CPU_AVX2 = 1u << 0, AM__CPU_FMA = 1u << 1, AM__CPU_F16C = 1u << 2, AM__CPU_AVX512F = 1u << 3, AM__CPU_AVX512BW = 1u << 4,
    AM__CPU_AVX512VL = 1u << 5, AM__CPU_AVX512VNNI = 1u << 6, AM__CPU_AVX512BF16 = 1u << 7, AM__CPU_AVX512FP16 = 1u << 8,
    AM__CPU_AMX_BF16 = 1u << 9, AM__CPU_AMX_INT8 = 1u << 10, AM__CPU_AMX_FP16 = 1u << 11,
};
/* Ordered levels: a kernel needing level L runs when am__isa_level() >= L. */
typedef enum am__isa { AM__ISA_PORTABLE = 0, AM__ISA_AVX2, AM__ISA_AVX512, AM__ISA_AVX512_BF16, AM__ISA_AMX } am__isa;
/* AM__CPU_* bits the CPU and the OS support (CPUID + XGETBV), whatever the caps. */
unsigned am__cpu_features(void);
/* The level in force: the CPU's, capped by AM_MAX_ISA=c|avx2|avx512|avx512_bf16|amx|native (which
 * also caps oneDNN through dnnl_set_max_cpu_isa) and by oneDNN's own ONEDNN_MAX_CPU_ISA. */
am__isa am__isa_level(void);
const char *am__isa_name(am__isa l);
/* bf16 matmul on bf16 units (AVX512_BF16 or AMX) is allowed. */
bool am__bf16_matmul_native(void);

/* ---- one linear entry for every float weight dtype (kernels/linear.c) ---- */
struct am_tensor;
/* float32 matmul precision, as torch.set_float32_matmul_precision: HIGHEST (and "high": no TF32
 * on CPUs) computes float32 weights in float32; MEDIUM computes them as bf16 where the CPU has bf16
 * units (W rounded to bf16 and packed once, x rounded per call, f32 accumulation; oneDNN's bf16
 * fpmath mode when packing is refused, which oneDNN 2.6 honours on AMX only). */
typedef enum am__matmul_prec { AM__PREC_DEFAULT = 0, AM__PREC_HIGHEST, AM__PREC_HIGH, AM__PREC_MEDIUM } am__matmul_prec;
/* "highest"/"high"/"medium" -> value; false when unknown. */
bool am__matmul_prec_parse(const char *s, am__matmul_prec *out);
/* AM_FLOAT32_MATMUL_PRECISION, read once (HIGHEST when unset or invalid, with a warning). */
am__matmul_prec am__matmul_prec_env(void);
/* y[M,N] = x[M,K]·W (+ bias) for W a 2-D float32/bfloat16/float16 tensor [N,K] (nn.Linear) or,
 * with kn, [K,N] (GPT-2's Conv1D). A few rows go to the GEMV reading W as stored; more rows: f32 W
 * through oneDNN's f32 matmul (bf16 fpmath at MEDIUM precision); bf16 W through oneDNN's bf16
 * matmul (x rounded to bf16 per call, f32 accumulation and output) on bf16 units, else through a
 * float32 copy of W made once; f16 W through a float32 copy made once. The copies live in the
 * tensor's kernel cache (t->packed), created under a lock on first use and freed with the tensor,
 * so the model that owns the weights owns them. `prec` DEFAULT means the tensor's own setting
 * (am__linear_set_precision), else the environment's. */
extern int am__gemv_disabled; /* -1: from AM_NO_GEMV; 1: products go to the GEMM (benchmarks) */
void am__linear_w(int64_t M, const float *x, struct am_tensor *w, bool kn, const float *bias, float *y, am__matmul_prec prec);
/* A float tensor's data as float32: itself when float32, else its float32 copy made once and kept
 * in the tensor's cache (biases, norm weights); NULL when out of memory. */
const float *am__f32_cached(struct am_tensor *t);
/* Fix the float32 matmul precision of one weight (a load option); false when out of memory. */
bool am__linear_set_precision(struct am_tensor *w, am__matmul_prec prec);
/* Which path am__linear_w takes for this weight dtype and row count (for reports and tests):
 * "gemv", "onednn_f32", "onednn_bf16" (bf16 weights, or float32 ones at MEDIUM), "f32_copy". */
const char *am__linear_path(int dtype, int64_t M, am__matmul_prec prec);
/* oneDNN matmul y[M,N] = x·W (+ f32 bias) with x/W in f32 or bf16 (both the same), y f32. W [N,K]
 * (kn false) or [K,N], contiguous. fpmath_bf16: f32 inputs may be computed in bf16. False when
 * oneDNN refuses (callers fall back). */
bool am__gemm_dnnl(int64_t M, int64_t N, int64_t K, const void *x, const void *w, bool bf16, bool kn, const float *bias, float *y,
                   bool fpmath_bf16);
/* bf16 weights reordered once into the layout oneDNN's bf16 matmul prefers (chosen for M rows;
 * it depends on N and K only, so it serves other row counts too); NULL when oneDNN refuses. */
typedef struct am__gemm_packed am__gemm_packed;
am__gemm_packed *am__gemm_pack_bf16(int64_t M, int64_t N, int64_t K, const void *w, bool kn);
void am__gemm_pack_free(am__gemm_packed *p);
/* y[M,N] = x_bf16[M,K] · packed W (+ f32 bias), f32 out; false when oneDNN refuses this M. */
bool am__gemm_dnnl_packed(int64_t M, int64_t N, int64_t K, const void *x, const am__gemm_packed *w, const float *bias, float *y);

/* ---- quantized linear weights (kernels/quant.c), bitsandbytes' formats ----
 * A quantized weight is a 2-D tensor of dtype int8 (8-bit: CB [N,K]) or uint8 (4-bit: the packed
 * codes [(N·K+1)/2, 1], the first value of a byte in its high nibble) whose kernel cache (t->packed)
 * holds the rest of the state below; am__linear_w dispatches on it. The logical weight is [N,K]
 * (nn.Linear's layout; GPT-2's Conv1D weights are transposed when quantized, as transformers does). */
typedef enum am__qtype { AM__Q_INT8 = 1, AM__Q_NF4, AM__Q_FP4 } am__qtype;
typedef struct am__qweight {
    am__qtype type;
    int64_t N, K;
    /* 8-bit */
    float threshold; /* llm_int8_threshold: 0 = pure int8 */
    float *scb;      /* [N] row absmax */
    int32_t *wsum;   /* [N] row sums over K rounded down to 64 (the VNNI kernel's u8 offset) */
    /* 4-bit */
    int64_t blocksize, n_blocks; /* 64 */
    float code[16];              /* quant_map */
    float *absmax;               /* [n_blocks], dequantized from the nested form when double-quantized */
    bool nested;
    uint8_t *absmax_q;           /* [n_blocks] codes of nested_code */
    float *nested_absmax;        /* [ceil(n_blocks / 256)] */
    float nested_code[256];      /* bitsandbytes' signed dynamic map */
    float offset;                /* mean of the absmaxes, added back */
    int64_t nested_blocksize;    /* 256 */
    am_dtype compute;            /* bnb_4bit_compute_dtype */
} am__qweight;
/* The quant state of a quantized weight, NULL for any other tensor. */
const am__qweight *am__qweight_of(const struct am_tensor *t);
/* Quantize float32 W ([N,K], or [K,N] with kn) into a new tensor, its codes carved from arena
 * when one is given and has room (core/tensor.h); NULL with the error set. */
struct am__arena;
struct am_tensor *am__quantize_int8(const float *w, bool kn, int64_t N, int64_t K, float threshold, struct am__arena *arena);
struct am_tensor *am__quantize_4bit(const float *w, bool kn, int64_t N, int64_t K, am__qtype type, bool double_quant, am_dtype compute, struct am__arena *arena);
/* Attach a stored state to an owned int8 [N,K] / uint8 packed tensor (checkpoints); returns it, or
 * NULL (out of memory) leaving it untouched. absmax_q non-NULL: the nested form. code NULL: the table. */
struct am_tensor *am__qweight_int8_from(struct am_tensor *cb, const float *scb, float threshold);
struct am_tensor *am__qweight_4bit_from(struct am_tensor *packed, am__qtype type, int64_t N, int64_t K, const float *absmax, const uint8_t *absmax_q,
                                        const float *nested_absmax, const float *nested_code, float offset, const float *code, am_dtype compute);
/* y[M,N] = x[M,K]·Wᵀ (+ bias) for a quantized W. */
void am__qlinear(int64_t M, const float *x, const struct am_tensor *w, const float *bias, float *y);
/* W as float32 [N,K] (what the kernels multiply by). */
void am__qdequantize(const struct am_tensor *w, float *out);
/* The NF4/FP4 table and bitsandbytes' signed 8-bit dynamic map. */
void am__q4_table(am__qtype t, float out[16]);
void am__q_dynamic_map(float out[256]);
/* The int8 GEMV's instruction set: "avx512_vnni", "avx2" or "c" (kernels/isa.c's level). */
const char *am__qgemv_isa(void);
/* oneDNN int8 matmul y_s32[M,N] = x_s8[M,K] · w_s8[N,K]ᵀ; false when oneDNN refuses. */
bool am__gemm_dnnl_s8(int64_t M, int64_t N, int64_t K, const int8_t *x, const int8_t *w, int32_t *y);

#define AM_FINFO_MIN_F32 (-3.4028234663852886e+38f)
#endif
