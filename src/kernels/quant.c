/* kernels/quant.c — quantized linear weights as bitsandbytes defines them, and their products.
 *
 * 8-bit (LLM.int8, bitsandbytes' Linear8bitLt with has_fp16_weights=False): W [N,K] as int8 with
 * one absmax per output row (SCB): CB = round(W·127/SCB). A product quantizes each activation row
 * by its absmax over the values below the threshold; input columns holding a value whose magnitude
 * reaches the threshold in any row (outliers) are zeroed in the int8 operand and computed in float
 * against the dequantized weights (mixed decomposition). threshold 0: pure int8. int8 x int8 -> int32
 * through oneDNN's matmul for many rows, through our own GEMV for a few (AVX-512 VNNI, AVX2,
 * portable; chosen by kernels/isa.c's level, so AM_MAX_ISA caps it).
 *
 * 4-bit (Linear4bit): the flattened W in blocks of 64 with a float absmax per block; each value the
 * index of the nearest entry of the NF4 or FP4 table (values / absmax), two per byte, the first in
 * the high nibble. Double quantization stores the absmaxes minus their mean (the offset) as 8-bit
 * codes of bitsandbytes' signed dynamic map, blockwise (256) with a float absmax each. Products
 * dequantize on the fly: the GEMV reads codes and scales as stored; many rows dequantize W to float
 * once per call and run the float GEMM. The compute dtype (bnb_4bit_compute_dtype) rounds the
 * activations and the outputs as the product in that dtype would. */
#include "core/error.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* bitsandbytes' tables (functional.py get_4bit_type) */
static const float k_nf4[16] = {-1.0f,
                                -0.6961928009986877f,
                                -0.5250730514526367f,
                                -0.39491748809814453f,
                                -0.28444138169288635f,
                                -0.18477343022823334f,
                                -0.09105003625154495f,
                                0.0f,
                                0.07958029955625534f,
                                0.16093020141124725f,
                                0.24611230194568634f,
                                0.33791524171829224f,
                                0.44070982933044434f,
                                0.5626170039176941f,
                                0.7229568362236023f,
                                1.0f};
/* FP4 (1 sign, 2 exponent, 1 mantissa bits, bias 3), normalised by 12 */
static const float k_fp4_raw[16] = {0, 0.0625f, 8, 12, 4, 6, 2, 3, -0.0f, -0.0625f, -8, -12, -4, -6, -2, -3};

void am__q4_table(am__qtype t, float out[16]) {
    for (int i = 0; i < 16; i++) out[i] = t == AM__Q_NF4 ? k_nf4[i] : k_fp4_raw[i] / 12.0f;
}

/* bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 sorted values */
void am__q_dynamic_map(float out[256]) {
    int n = 0;
    const int max_e = 7, non_sign = 7;
    int additional = (1 << (non_sign - max_e)) - 1; /* 0 */
    for (int i = 0; i < max_e; i++) {
        int items = (1 << (i + non_sign - max_e)) + 1;
        float scale = powf(10.0f, (float)(-(max_e - 1) + i));
        for (int j = 0; j + 1 < items; j++) {
            /* torch.linspace(0.1, 1, items): midpoints of consecutive boundaries */
            float step = (1.0f - 0.1f) / (float)(items - 1);
            float b0 = 0.1f + step * (float)j, b1 = j + 1 == items - 1 ? 1.0f : 0.1f + step * (float)(j + 1);
            float mean = (b0 + b1) / 2.0f;
            out[n++] = scale * mean;
            out[n++] = -scale * mean;
        }
    }
    (void)additional;
    out[n++] = 0.0f;
    out[n++] = 1.0f;
    while (n < 256) out[n++] = 0.0f;
    /* sort ascending */
    for (int i = 1; i < 256; i++) {
        float v = out[i];
        int j = i - 1;
        while (j >= 0 && out[j] > v) {
            out[j + 1] = out[j];
            j--;
        }
        out[j + 1] = v;
    }
}

static uint8_t nearest(const float *code, int n, float v) {
    int best = 0;
    float bd = INFINITY;
    for (int i = 0; i < n; i++) {
        float d = fabsf(code[i] - v);
        if (d < bd) bd = d, best = i;
    }
    return (uint8_t)best;
}

static void qweight_free(void *p) {
    am__qweight *q = p;
    if (!q) return;
    free(q->scb);
    free(q->wsum);
    free(q->absmax);
    free(q->absmax_q);
    free(q->nested_absmax);
    free(q);
}

const am__qweight *am__qweight_of(const am_tensor *t) {
    return t && (t->dtype == AM_I8 || t->dtype == AM_U8) && t->packed && t->packed_free == qweight_free ? t->packed : NULL;
}

/* row sums of the VNNI main loop (k < K rounded down to 64): the unsigned-offset correction */
static bool int8_wsum(am__qweight *q, const int8_t *cb) {
    q->wsum = malloc((size_t)q->N * sizeof(int32_t));
    if (!q->wsum) return false;
    int64_t K64 = q->K & ~(int64_t)63;
    for (int64_t n = 0; n < q->N; n++) {
        int32_t s = 0;
        for (int64_t k = 0; k < K64; k++) s += cb[n * q->K + k];
        q->wsum[n] = s;
    }
    return true;
}

am_tensor *am__qweight_int8_from(am_tensor *cb, const float *scb, float threshold) {
    am__qweight *q = calloc(1, sizeof *q);
    if (!q || !(q->scb = malloc((size_t)cb->shape[0] * sizeof(float)))) {
        free(q);
        am__error(AM_ERR_NO_MEMORY, "out of memory for an 8-bit weight");
        return NULL;
    }
    q->type = AM__Q_INT8;
    q->N = cb->shape[0], q->K = cb->shape[1];
    q->threshold = threshold;
    memcpy(q->scb, scb, (size_t)q->N * sizeof(float));
    if (!int8_wsum(q, cb->data)) {
        qweight_free(q);
        am__error(AM_ERR_NO_MEMORY, "out of memory for an 8-bit weight");
        return NULL;
    }
    cb->packed = q;
    cb->packed_free = qweight_free;
    return cb;
}

am_tensor *am__quantize_int8(const float *w, bool kn, int64_t N, int64_t K, float threshold, am__arena *arena) {
    int64_t shape[2] = {N, K};
    am_tensor *t = am__arena_tensor(arena, AM_I8, 2, shape);
    float *scb = malloc((size_t)(N ? N : 1) * sizeof(float));
    if (!t || !scb) {
        am_tensor_free(t);
        free(scb);
        am__error(AM_ERR_NO_MEMORY, "out of memory quantizing a [%lld, %lld] weight to 8 bits", (long long)N, (long long)K);
        return NULL;
    }
    int8_t *cb = t->data;
    for (int64_t n = 0; n < N; n++) {
        float mx = 0;
        for (int64_t k = 0; k < K; k++) mx = fmaxf(mx, fabsf(kn ? w[k * N + n] : w[n * K + k]));
        scb[n] = mx;
        float s = mx > 0 ? 127.0f / mx : 0.0f;
        for (int64_t k = 0; k < K; k++) cb[n * K + k] = (int8_t)lrintf((kn ? w[k * N + n] : w[n * K + k]) * s);
    }
    am_tensor *r = am__qweight_int8_from(t, scb, threshold);
    free(scb);
    if (!r) am_tensor_free(t);
    return r;
}

/* double quantization of the block absmaxes (bitsandbytes: offset = mean, then blockwise 8-bit) */
static bool nest_absmax(am__qweight *q) {
    int64_t nb = q->n_blocks, nnb = (nb + 255) / 256;
    q->nested = true;
    q->nested_blocksize = 256;
    am__q_dynamic_map(q->nested_code);
    double sum = 0;
    for (int64_t i = 0; i < nb; i++) sum += q->absmax[i];
    q->offset = nb ? (float)(sum / (double)nb) : 0.0f;
    q->absmax_q = malloc((size_t)(nb ? nb : 1));
    q->nested_absmax = malloc((size_t)(nnb ? nnb : 1) * sizeof(float));
    if (!q->absmax_q || !q->nested_absmax) return false;
    for (int64_t b = 0; b < nnb; b++) {
        int64_t e = (b + 1) * 256 < nb ? (b + 1) * 256 : nb;
        float mx = 0;
        for (int64_t i = b * 256; i < e; i++) mx = fmaxf(mx, fabsf(q->absmax[i] - q->offset));
        q->nested_absmax[b] = mx;
        for (int64_t i = b * 256; i < e; i++) q->absmax_q[i] = nearest(q->nested_code, 256, mx > 0 ? (q->absmax[i] - q->offset) / mx : 0.0f);
    }
    return true;
}

/* the float absmaxes the kernels read, from the nested form (as bitsandbytes dequantizes them) */
static void unnest_absmax(am__qweight *q) {
    for (int64_t i = 0; i < q->n_blocks; i++) q->absmax[i] = q->nested_code[q->absmax_q[i]] * q->nested_absmax[i / q->nested_blocksize] + q->offset;
}

am_tensor *am__qweight_4bit_from(am_tensor *packed, am__qtype type, int64_t N, int64_t K, const float *absmax, const uint8_t *absmax_q,
                                 const float *nested_absmax, const float *nested_code, float offset, const float *code, am_dtype compute) {
    am__qweight *q = calloc(1, sizeof *q);
    int64_t nb = (N * K + 63) / 64;
    if (!q || !(q->absmax = malloc((size_t)(nb ? nb : 1) * sizeof(float)))) {
        free(q);
        am__error(AM_ERR_NO_MEMORY, "out of memory for a 4-bit weight");
        return NULL;
    }
    q->type = type, q->N = N, q->K = K, q->blocksize = 64, q->n_blocks = nb, q->compute = compute;
    if (code) memcpy(q->code, code, sizeof q->code);
    else am__q4_table(type, q->code);
    if (absmax_q) {
        int64_t nnb = (nb + 255) / 256;
        q->nested = true, q->nested_blocksize = 256, q->offset = offset;
        memcpy(q->nested_code, nested_code, sizeof q->nested_code);
        if (!(q->absmax_q = malloc((size_t)(nb ? nb : 1))) || !(q->nested_absmax = malloc((size_t)nnb * sizeof(float)))) {
            qweight_free(q);
            am__error(AM_ERR_NO_MEMORY, "out of memory for a 4-bit weight");
            return NULL;
        }
        memcpy(q->absmax_q, absmax_q, (size_t)nb);
        memcpy(q->nested_absmax, nested_absmax, (size_t)nnb * sizeof(float));
        unnest_absmax(q);
    } else memcpy(q->absmax, absmax, (size_t)nb * sizeof(float));
    packed->packed = q;
    packed->packed_free = qweight_free;
    return packed;
}

am_tensor *am__quantize_4bit(const float *w, bool kn, int64_t N, int64_t K, am__qtype type, bool double_quant, am_dtype compute, am__arena *arena) {
    int64_t n = N * K, nb = (n + 63) / 64;
    int64_t shape[2] = {(n + 1) / 2, 1};
    am_tensor *t = am__arena_tensor(arena, AM_U8, 2, shape);
    am__qweight *q = calloc(1, sizeof *q);
    if (!t || !q || !(q->absmax = malloc((size_t)(nb ? nb : 1) * sizeof(float)))) {
        am_tensor_free(t);
        free(q);
        am__error(AM_ERR_NO_MEMORY, "out of memory quantizing a [%lld, %lld] weight to 4 bits", (long long)N, (long long)K);
        return NULL;
    }
    q->type = type, q->N = N, q->K = K, q->blocksize = 64, q->n_blocks = nb, q->compute = compute;
    am__q4_table(type, q->code);
    uint8_t *p = t->data;
    memset(p, 0, (size_t)shape[0]);
#define WAT(i) (kn ? w[((i) % K) * N + (i) / K] : w[i])
    for (int64_t b = 0; b < nb; b++) {
        int64_t e = (b + 1) * 64 < n ? (b + 1) * 64 : n;
        float mx = 0;
        for (int64_t i = b * 64; i < e; i++) mx = fmaxf(mx, fabsf(WAT(i)));
        q->absmax[b] = mx;
        for (int64_t i = b * 64; i < e; i++) {
            uint8_t c = nearest(q->code, 16, mx > 0 ? WAT(i) / mx : 0.0f);
            p[i / 2] |= (uint8_t)((i & 1) ? c : c << 4);
        }
    }
#undef WAT
    if (double_quant) {
        if (!nest_absmax(q)) {
            qweight_free(q);
            am_tensor_free(t);
            am__error(AM_ERR_NO_MEMORY, "out of memory quantizing a weight to 4 bits");
            return NULL;
        }
        unnest_absmax(q);
    }
    t->packed = q;
    t->packed_free = qweight_free;
    return t;
}

/* ---- rounding to the compute dtype ---- */
static void round_to(am_dtype dt, float *x, int64_t n) {
    if (dt == AM_BF16)
        for (int64_t i = 0; i < n; i++) x[i] = am__bf16_to_f32(am__f32_to_bf16(x[i]));
    else if (dt == AM_F16)
        for (int64_t i = 0; i < n; i++) x[i] = am__f16_to_f32(am__f32_to_f16(x[i]));
}

/* ---- 8-bit ---- */

typedef struct {
    const am__qweight *q;
    const int8_t *cb;
    int64_t M;
    const int8_t *xq;  /* [M, K] signed */
    const uint8_t *xu; /* [M, K64] xq + 128 (VNNI) */
    const float *sx;   /* [M] row absmax */
    const float *bias;
    float *y;
    const int64_t *oc; /* outlier columns */
    int64_t n_oc;
    const float *x;
    const float *ws;  /* [N] scb / 127 (GEMM path) */
    const float *woc; /* [n_oc, N] the outlier columns of W dequantized (GEMM path) */
    int isa;
} i8_ctx;

static int32_t dot_i8_ref(const int8_t *a, const int8_t *b, int64_t k0, int64_t K) {
    int32_t s = 0;
    for (int64_t k = k0; k < K; k++) s += (int32_t)a[k] * b[k];
    return s;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* one row of W against one activation row, k < K64: VNNI on xq + 128 (u8) x w (s8), 64 products
 * per instruction. One row at a time, so that the weights are read as one sequential stream: four
 * rows interleaved (768-byte rows for GPT-2) measured 1.5-2x slower, the prefetchers losing the
 * short streams (bench/bench_quant.c) */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static int32_t dot_vnni(const uint8_t *xu, const int8_t *w, int64_t K64) {
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    int64_t k = 0;
    for (; k + 128 <= K64; k += 128) {
        acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512((const void *)(xu + k)), _mm512_loadu_si512((const void *)(w + k)));
        acc1 = _mm512_dpbusd_epi32(acc1, _mm512_loadu_si512((const void *)(xu + k + 64)), _mm512_loadu_si512((const void *)(w + k + 64)));
    }
    for (; k < K64; k += 64) acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512((const void *)(xu + k)), _mm512_loadu_si512((const void *)(w + k)));
    return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1));
}
/* AVX2, k < K32: |w| (u8, <= 128) x x·sign(w) (s8, |xq| <= 127) through vpmaddubsw, whose pair
 * sums (<= 2·128·127 = 32512) cannot saturate, then vpmaddwd to 32 bits: exact */
__attribute__((target("avx2"))) static int32_t dot_avx2(const int8_t *x, const int8_t *w, int64_t K32) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    int64_t k = 0;
    for (; k + 64 <= K32; k += 64) {
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(x + k)), w0 = _mm256_loadu_si256((const __m256i *)(w + k));
        __m256i x1 = _mm256_loadu_si256((const __m256i *)(x + k + 32)), w1 = _mm256_loadu_si256((const __m256i *)(w + k + 32));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w0), _mm256_sign_epi8(x0, w0)), ones));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w1), _mm256_sign_epi8(x1, w1)), ones));
    }
    for (; k < K32; k += 32) {
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(x + k)), w0 = _mm256_loadu_si256((const __m256i *)(w + k));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w0), _mm256_sign_epi8(x0, w0)), ones));
    }
    __m256i a = _mm256_add_epi32(a0, a1);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* one activation row to int8 as the scalar loop in quantize_acts does it (cvtps2dq rounds to
 * nearest even, as lrintf in the default mode; max/min keep fmaxf/fminf's NaN handling) */
__attribute__((target("avx512f,avx512bw"))) static int64_t quant_row_avx512(const float *xr, int64_t K, float th, int8_t *xq, float *mx_out) {
    const __m512 thv = _mm512_set1_ps(th);
    __m512 mxv = _mm512_setzero_ps();
    int64_t K16 = K & ~(int64_t)15;
    for (int64_t k = 0; k < K16; k += 16) {
        __m512 a = _mm512_abs_ps(_mm512_loadu_ps(xr + k));
        __mmask16 keep = th > 0 ? _mm512_cmp_ps_mask(a, thv, _CMP_NGE_UQ) : (__mmask16)0xffff;
        mxv = _mm512_mask_max_ps(mxv, keep, a, mxv);
    }
    float mx = _mm512_reduce_max_ps(mxv);
    for (int64_t k = K16; k < K; k++) {
        float a = fabsf(xr[k]);
        if (!(th > 0 && a >= th)) mx = fmaxf(mx, a);
    }
    *mx_out = mx;
    float s = mx > 0 ? 127.0f / mx : 0.0f;
    const __m512 sv = _mm512_set1_ps(s), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    for (int64_t k = 0; k < K16; k += 16) {
        __m512 xv = _mm512_loadu_ps(xr + k);
        __m512i qv = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(xv, sv), lo), hi));
        if (th > 0) qv = _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(_mm512_abs_ps(xv), thv, _CMP_NGE_UQ), qv);
        _mm_storeu_si128((__m128i *)(xq + k), _mm512_cvtepi32_epi8(qv));
    }
    return K16;
}
#endif

/* 0 portable, 1 AVX2, 2 AVX-512 VNNI */
static int int8_isa(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    am__isa l = am__isa_level();
    if (l >= AM__ISA_AVX512 && (am__cpu_features() & AM__CPU_AVX512VNNI)) return 2;
    if (l >= AM__ISA_AVX2) return 1;
#endif
    return 0;
}

const char *am__qgemv_isa(void) {
    static const char *names[] = {"c", "avx2", "avx512_vnni"};
    return names[int8_isa()];
}

/* y[m, n] from the int32 product: the same float operations, in the same order, on every path */
static inline void i8_out(const i8_ctx *c, int64_t m, int64_t n, int32_t acc) {
    const am__qweight *q = c->q;
    const int8_t *w = c->cb + n * q->K;
    float ws = q->scb[n] / 127.0f;
    float r = (float)acc * (c->sx[m] / 127.0f) * ws;
    for (int64_t j = 0; j < c->n_oc; j++) r += c->x[m * q->K + c->oc[j]] * ((float)w[c->oc[j]] * ws);
    c->y[m * q->N + n] = r + (c->bias ? c->bias[n] : 0.0f);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* the decode GEMV (one activation row) on VNNI, rows [n0, n1) in address order: the dot products
 * inline, four chains each, then i8_out's float operations. The per-row call, reduction and
 * division of the generic loop below left the weights' stream at ~70% of the read bandwidth */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void i8_rows_vnni1(const i8_ctx *c, int64_t n0, int64_t n1) {
    const am__qweight *q = c->q;
    const int64_t K = q->K, K64 = K & ~(int64_t)63;
    const uint8_t *xu = c->xu;
    const float a = c->sx[0] / 127.0f;
    for (int64_t n = n0; n < n1; n++) {
        const int8_t *w = c->cb + n * K;
        __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
        int64_t k = 0;
        for (; k + 256 <= K64; k += 256) {
            s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512((const void *)(xu + k)), _mm512_loadu_si512((const void *)(w + k)));
            s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512((const void *)(xu + k + 64)), _mm512_loadu_si512((const void *)(w + k + 64)));
            s2 = _mm512_dpbusd_epi32(s2, _mm512_loadu_si512((const void *)(xu + k + 128)), _mm512_loadu_si512((const void *)(w + k + 128)));
            s3 = _mm512_dpbusd_epi32(s3, _mm512_loadu_si512((const void *)(xu + k + 192)), _mm512_loadu_si512((const void *)(w + k + 192)));
        }
        for (; k < K64; k += 64) s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512((const void *)(xu + k)), _mm512_loadu_si512((const void *)(w + k)));
        int32_t acc = _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3))) - 128 * q->wsum[n];
        if (K64 < K) acc += dot_i8_ref(c->xq, w, K64, K);
        /* i8_out, with the row scale hoisted */
        float ws = q->scb[n] / 127.0f, r = (float)acc * a * ws;
        for (int64_t j = 0; j < c->n_oc; j++) r += c->x[c->oc[j]] * ((float)w[c->oc[j]] * ws);
        c->y[n] = r + (c->bias ? c->bias[n] : 0.0f);
    }
}
#endif

/* the GEMV: row by row (the weights as one stream), every activation row against a row while it is in L1 */
static void i8_rows(void *v, int64_t n0, int64_t n1) {
    const i8_ctx *c = v;
    const am__qweight *q = c->q;
    int64_t K = q->K, K64 = K & ~(int64_t)63, K32 = K & ~(int64_t)31;
#if defined(__x86_64__) && defined(__GNUC__)
    if (c->isa == 2 && c->M == 1) {
        i8_rows_vnni1(c, n0, n1);
        return;
    }
#endif
    for (int64_t n = n0; n < n1; n++) {
        const int8_t *w = c->cb + n * K;
        for (int64_t m = 0; m < c->M; m++) {
            const int8_t *xq = c->xq + m * K;
            int32_t acc;
#if defined(__x86_64__) && defined(__GNUC__)
            if (c->isa == 2) acc = dot_vnni(c->xu + m * K64, w, K64) - 128 * q->wsum[n] + dot_i8_ref(xq, w, K64, K);
            else if (c->isa == 1) acc = dot_avx2(xq, w, K32) + dot_i8_ref(xq, w, K32, K);
            else
#endif
                acc = dot_i8_ref(xq, w, 0, K);
            i8_out(c, m, n, acc);
        }
    }
}

/* the GEMM's int32 product (in y) to float, row by row, vectorizable: the float operations of
 * i8_out, in its order (scale, each outlier column, bias) */
static void i8_dequant_rows(void *v, int64_t m0, int64_t m1) {
    const i8_ctx *c = v;
    const am__qweight *q = c->q;
    int64_t N = q->N;
    for (int64_t m = m0; m < m1; m++) {
        float *yr = c->y + m * N, a = c->sx[m] / 127.0f;
        const int32_t *acc = (const int32_t *)yr; /* the int32 product, written in place */
        for (int64_t n = 0; n < N; n++) yr[n] = (float)acc[n] * a * c->ws[n];
        for (int64_t j = 0; j < c->n_oc; j++) {
            float xo = c->x[m * q->K + c->oc[j]];
            const float *wo = c->woc + j * N;
            for (int64_t n = 0; n < N; n++) yr[n] += xo * wo[n];
        }
        if (c->bias)
            for (int64_t n = 0; n < N; n++) yr[n] += c->bias[n];
        else
            for (int64_t n = 0; n < N; n++) yr[n] += 0.0f;
    }
}

/* activations per row: absmax over the values below the threshold, int8, outlier columns zeroed */
static void quantize_acts(int64_t M, int64_t K, const float *x, float th, const int64_t *oc, int64_t n_oc, int isa, int8_t *xq, uint8_t *xu, float *sx) {
    int64_t K64 = K & ~(int64_t)63;
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * K;
        int8_t *qr = xq + m * K;
        int64_t k0 = 0;
        float mx = 0;
#if defined(__x86_64__) && defined(__GNUC__)
        if (isa == 2) k0 = quant_row_avx512(xr, K, th, qr, &mx);
        else
#endif
            for (int64_t k = 0; k < K; k++) {
                float a = fabsf(xr[k]);
                if (!(th > 0 && a >= th)) mx = fmaxf(mx, a);
            }
        (void)isa;
        sx[m] = mx;
        float s = mx > 0 ? 127.0f / mx : 0.0f;
        for (int64_t k = k0; k < K; k++) {
            float a = fabsf(xr[k]);
            qr[k] = th > 0 && a >= th ? 0 : (int8_t)lrintf(fminf(fmaxf(xr[k] * s, -127.0f), 127.0f));
        }
        for (int64_t j = 0; j < n_oc; j++) qr[oc[j]] = 0;
        if (xu)
            for (int64_t k = 0; k < K64; k++) xu[m * K64 + k] = (uint8_t)(qr[k] ^ 0x80); /* + 128 mod 256 */
    }
}

static void linear_int8(int64_t M, const float *x, const am_tensor *w, const am__qweight *q, const float *bias, float *y) {
    int64_t K = q->K, N = q->N, K64 = K & ~(int64_t)63;
    int isa = int8_isa();
    /* oneDNN's int8 matmul only where the CPU has VNNI (or AMX): below it, oneDNN multiplies
     * through vpmaddubsw, whose 16-bit pair sums saturate (wrong products: tests/test_quant.c
     * at AM_MAX_ISA=avx2); there our exact kernel serves every row count */
    bool gemm = M > 8 && isa == 2;
    int8_t *xq = malloc((size_t)(M * K));
    uint8_t *xu = isa == 2 && !gemm ? malloc((size_t)(M * K64 + 1)) : NULL;
    float *sx = malloc((size_t)M * sizeof(float));
    int64_t *oc = malloc((size_t)K * sizeof(int64_t));
    if (!xq || (isa == 2 && !gemm && !xu) || !sx || !oc) {
        free(xq), free(xu), free(sx), free(oc);
        am__oom_note();
        return;
    }
    float th = q->threshold;
    int64_t n_oc = 0;
    /* outlier columns: a value reaching the threshold in any row */
    if (th > 0)
        for (int64_t k = 0; k < K; k++)
            for (int64_t m = 0; m < M; m++)
                if (fabsf(x[m * K + k]) >= th) {
                    oc[n_oc++] = k;
                    break;
                }
    quantize_acts(M, K, x, th, oc, n_oc, isa, xq, xu, sx);
    i8_ctx c = {q, w->data, M, xq, xu, sx, bias, y, oc, n_oc, x, NULL, NULL, isa};
    bool done = false;
    if (gemm) {
        float *ws = malloc((size_t)N * sizeof(float)), *woc = malloc((size_t)(n_oc * N + 1) * sizeof(float));
        if (ws && woc && am__gemm_dnnl_s8(M, N, K, xq, w->data, (int32_t *)y)) {
            for (int64_t n = 0; n < N; n++) ws[n] = q->scb[n] / 127.0f;
            for (int64_t j = 0; j < n_oc; j++)
                for (int64_t n = 0; n < N; n++) woc[j * N + n] = (float)c.cb[n * K + oc[j]] * ws[n];
            c.ws = ws, c.woc = woc;
            am__parallel_for(M, i8_dequant_rows, &c);
            done = true;
        }
        free(ws), free(woc);
        if (!done && isa == 2 && (xu = malloc((size_t)(M * K64 + 1)))) {
            for (int64_t i = 0; i < M; i++)
                for (int64_t k = 0; k < K64; k++) xu[i * K64 + k] = (uint8_t)(xq[i * K + k] ^ 0x80);
            c.xu = xu;
        } else if (!done) c.isa = isa == 2 ? 1 : isa; /* no memory for the u8 copy: the AVX2 body needs none */
    }
    if (!done) am__parallel_for(N, i8_rows, &c);
    free(xq), free(xu), free(sx), free(oc);
}

/* ---- 4-bit ----
 * The SIMD bodies read the codes as dwords without unpacking them: dword i of a group holds the
 * codes of elements 8i..8i+7, and nibble j (bits 4j..4j+3) is element 8i + (j ^ 1) (the first value
 * of a byte sits in its high nibble). Shifting the dwords right by 4j brings nibble j to the bits a
 * vpermps index reads, so one table lookup yields 16 (AVX-512) or 8 (AVX2) weights. x is permuted to
 * that order once per call, and many-row products dequantize W into the same order: a sum over K
 * does not depend on the order of K, only its rounding does (within test_quant's bounds). */

typedef struct {
    const am__qweight *q;
    const uint8_t *p;
    int64_t M;
    const float *xp; /* [M, K] in the lane order (lanes > 0), else x */
    const float *bias;
    float *y;
    float *wf; /* dequantized [N, K], in the lane order (GEMM path) */
    int lanes; /* 16 (AVX-512, K % 128 == 0), 8 (AVX2, K % 64 == 0), 0: portable */
} q4_ctx;

static inline float q4_at(const am__qweight *q, const uint8_t *p, int64_t i) {
    uint8_t b = p[i / 2];
    return q->code[(i & 1) ? (b & 15) : (b >> 4)] * q->absmax[i / 64];
}

static int q4_lanes(const am__qweight *q) {
#if defined(__x86_64__) && defined(__GNUC__)
    am__isa l = am__isa_level();
    if (l >= AM__ISA_AVX512 && q->K % 128 == 0) return 16;
    if (l >= AM__ISA_AVX2 && q->K % 64 == 0) return 8;
#endif
    (void)q;
    return 0;
}

/* x [M, K] into the lane order: group g of 8·L elements, xp[g·8L + j·L + i] = x[g·8L + 8i + (j ^ 1)] */
static void q4_permute(const float *x, float *xp, int64_t M, int64_t K, int L) {
    int64_t G = 8 * (int64_t)L;
    for (int64_t m = 0; m < M; m++)
        for (int64_t g = 0; g < K; g += G)
            for (int j = 0; j < 8; j++)
                for (int i = 0; i < L; i++) xp[m * K + g + j * L + i] = x[m * K + g + 8 * i + (j ^ 1)];
}

#if defined(__x86_64__) && defined(__GNUC__)
/* R (1 or 4) consecutive rows (K % 128 == 0) against permuted x: per 128 weights one 64-byte load,
 * eight lookups and FMAs per row; lanes 0-7 are the group's first block of 64, 8-15 its second */
__attribute__((target("avx512f,avx512bw"), always_inline)) static inline void q4_dot16(const am__qweight *q, const uint8_t *p, const float *am,
                                                                                      const float *xp, int R, float *out) {
    const int64_t K = q->K;
    const __m512 tab = _mm512_loadu_ps(q->code);
    const __m512i sel = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t g = 0; g < K / 128; g++) {
        __m512i v[4];
        __m512 s[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            _mm_prefetch((const char *)(p + (R + r) * (K / 2) + g * 64), _MM_HINT_T0);
            v[r] = _mm512_loadu_si512((const void *)(p + r * (K / 2) + g * 64)), s[r] = _mm512_setzero_ps();
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            __m512 xv = _mm512_loadu_ps(xp + g * 128 + j * 16);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) s[r] = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v[r], 4 * j), tab), xv, s[r]);
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m128 a2 = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(am + r * (K / 64) + 2 * g)));
            acc[r] = _mm512_fmadd_ps(s[r], _mm512_permutexvar_ps(sel, _mm512_castps128_ps512(a2)), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}
__attribute__((target("avx512f,avx512bw"))) static void q4_dot16_4(const am__qweight *q, const uint8_t *p, const float *am, const float *xp, float *out) {
    q4_dot16(q, p, am, xp, 4, out);
}
__attribute__((target("avx512f,avx512bw"))) static void q4_dot16_1(const am__qweight *q, const uint8_t *p, const float *am, const float *xp, float *out) {
    q4_dot16(q, p, am, xp, 1, out);
}
/* rows [n0, n1) of W as float in the lane order */
__attribute__((target("avx512f,avx512bw"))) static void q4_deq16(const am__qweight *q, const uint8_t *p, float *wf, int64_t n0, int64_t n1) {
    const int64_t K = q->K;
    const __m512 tab = _mm512_loadu_ps(q->code);
    const __m512i sel = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    for (int64_t i = n0 * K; i < n1 * K; i += 128) {
        __m512i v = _mm512_loadu_si512((const void *)(p + i / 2));
        __m512 sc = _mm512_permutexvar_ps(sel, _mm512_castps128_ps512(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(q->absmax + i / 64)))));
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) _mm512_storeu_ps(wf + i + j * 16, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 4 * j), tab), sc));
    }
}

/* AVX2 (K % 64 == 0): 8 lanes, one block of 64 per group; vpermps reads 3 index bits, so the
 * table is two halves chosen by the code's bit 3 (shifted to the sign bit for vblendvps) */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 q4_look8(__m256i v, int j, __m256 t0, __m256 t1) {
    __m256i idx = _mm256_srli_epi32(v, 4 * j);
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(t0, idx), _mm256_permutevar8x32_ps(t1, idx), _mm256_castsi256_ps(_mm256_slli_epi32(v, 28 - 4 * j)));
}
__attribute__((target("avx2,fma"), always_inline)) static inline void q4_dot8(const am__qweight *q, const uint8_t *p, const float *am, const float *xp,
                                                                              int R, float *out) {
    const int64_t K = q->K;
    const __m256 t0 = _mm256_loadu_ps(q->code), t1 = _mm256_loadu_ps(q->code + 8);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < K / 64; b++) {
        __m256i v[2];
        __m256 s[2];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) v[r] = _mm256_loadu_si256((const __m256i *)(p + r * (K / 2) + b * 32)), s[r] = _mm256_setzero_ps();
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            __m256 xv = _mm256_loadu_ps(xp + b * 64 + j * 8);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) s[r] = _mm256_fmadd_ps(q4_look8(v[r], j, t0, t1), xv, s[r]);
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(s[r], _mm256_set1_ps(am[r * (K / 64) + b]), acc[r]);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[r]), _mm256_extractf128_ps(acc[r], 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        out[r] = _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
    }
}
__attribute__((target("avx2,fma"))) static void q4_dot8_2(const am__qweight *q, const uint8_t *p, const float *am, const float *xp, float *out) {
    q4_dot8(q, p, am, xp, 2, out);
}
__attribute__((target("avx2,fma"))) static void q4_dot8_1(const am__qweight *q, const uint8_t *p, const float *am, const float *xp, float *out) {
    q4_dot8(q, p, am, xp, 1, out);
}
__attribute__((target("avx2,fma"))) static void q4_deq8(const am__qweight *q, const uint8_t *p, float *wf, int64_t n0, int64_t n1) {
    const int64_t K = q->K;
    const __m256 t0 = _mm256_loadu_ps(q->code), t1 = _mm256_loadu_ps(q->code + 8);
    for (int64_t i = n0 * K; i < n1 * K; i += 64) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(p + i / 2));
        __m256 sc = _mm256_set1_ps(q->absmax[i / 64]);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) _mm256_storeu_ps(wf + i + j * 8, _mm256_mul_ps(q4_look8(v, j, t0, t1), sc));
    }
}
#endif

static void q4_rows(void *v, int64_t n0, int64_t n1) {
    const q4_ctx *c = v;
    const am__qweight *q = c->q;
    int64_t K = q->K;
    for (int64_t n = n0; n < n1;) {
        int R = c->lanes == 16 ? 4 : c->lanes == 8 ? 2 : 1;
        if (n + R > n1) R = 1;
        const uint8_t *p = c->p + n * K / 2;
        const float *am = q->absmax + n * K / 64;
        for (int64_t m = 0; m < c->M; m++) {
            const float *xp = c->xp + m * K;
            float r[4] = {0, 0, 0, 0};
#if defined(__x86_64__) && defined(__GNUC__)
            if (c->lanes == 16) (R == 4 ? q4_dot16_4 : q4_dot16_1)(q, p, am, xp, r);
            else if (c->lanes == 8) (R == 2 ? q4_dot8_2 : q4_dot8_1)(q, p, am, xp, r);
            else
#endif
                if (K % 64 == 0)
                for (int64_t b = 0; b < K / 64; b++) {
                    float s = 0;
                    for (int64_t i = 0; i < 32; i++) {
                        uint8_t by = p[b * 32 + i];
                        s += q->code[by >> 4] * xp[b * 64 + 2 * i] + q->code[by & 15] * xp[b * 64 + 2 * i + 1];
                    }
                    r[0] += s * am[b];
                }
            else
                for (int64_t k = 0; k < K; k++) r[0] += q4_at(q, c->p, n * K + k) * xp[k];
            for (int i = 0; i < R; i++) c->y[m * q->N + n + i] = r[i] + (c->bias ? c->bias[n + i] : 0.0f);
        }
        n += R;
    }
}

static void q4_dequant(void *v, int64_t n0, int64_t n1) {
    const q4_ctx *c = v;
#if defined(__x86_64__) && defined(__GNUC__)
    if (c->lanes == 16) {
        q4_deq16(c->q, c->p, c->wf, n0, n1);
        return;
    }
    if (c->lanes == 8) {
        q4_deq8(c->q, c->p, c->wf, n0, n1);
        return;
    }
#endif
    for (int64_t i = n0 * c->q->K; i < n1 * c->q->K; i++) c->wf[i] = q4_at(c->q, c->p, i);
}

static void linear_4bit(int64_t M, const float *x_in, const am_tensor *w, const am__qweight *q, const float *bias, float *y) {
    int64_t K = q->K, N = q->N;
    int L = q4_lanes(q);
    float *x = NULL;
    const float *xs = x_in;
    bool round = q->compute == AM_BF16 || q->compute == AM_F16;
    if (round || L) {
        if (!(x = malloc((size_t)(M * K) * sizeof(float)))) {
            am__oom_note();
            return;
        }
        if (round) {
            memcpy(x, x_in, (size_t)(M * K) * sizeof(float));
            round_to(q->compute, x, M * K);
            if (L) {
                float *t = malloc((size_t)(M * K) * sizeof(float));
                if (!t) {
                    free(x);
                    am__oom_note();
                    return;
                }
                q4_permute(x, t, M, K, L);
                free(x);
                x = t;
            }
        } else q4_permute(x_in, x, M, K, L);
        xs = x;
    }
    q4_ctx c = {q, w->data, M, xs, bias, y, NULL, L};
    if (M > 8 && (c.wf = am__aligned_alloc((size_t)(N * K) * sizeof(float)))) { /* W dequantized once per call, then the float GEMM */
        am__parallel_for(N, q4_dequant, &c);
        am__linear_f32(M, N, K, xs, c.wf, bias, y);
        free(c.wf);
    } else am__parallel_for(N, q4_rows, &c);
    round_to(q->compute, y, M * N);
    free(x);
}

void am__qlinear(int64_t M, const float *x, const am_tensor *w, const float *bias, float *y) {
    const am__qweight *q = am__qweight_of(w);
    if (M <= 0 || q->N <= 0) return;
    if (q->type == AM__Q_INT8) linear_int8(M, x, w, q, bias, y);
    else linear_4bit(M, x, w, q, bias, y);
}

void am__qdequantize(const am_tensor *w, float *out) {
    const am__qweight *q = am__qweight_of(w);
    int64_t n = q->N * q->K;
    if (q->type == AM__Q_INT8)
        for (int64_t i = 0; i < n; i++) out[i] = (float)((const int8_t *)w->data)[i] * (q->scb[i / q->K] / 127.0f);
    else
        for (int64_t i = 0; i < n; i++) out[i] = q4_at(q, w->data, i);
}
