/* bench/bench_quant.c — the quantized linear kernels alone (kernels/quant.c), per GPT-2 124M layer
 * shape: int8 (LLM.int8, threshold 0 / 6 with and without outlier columns), NF4, FP4, and the
 * float32 GEMV for the same shapes and for the tied lm_head [50257, 768] (also float16: the head's
 * type under 8/4-bit, transformers' default float16 there), at M=1 (decode GEMV) and
 * M=128 (prefill), with the bytes each call reads and the rate that makes (GB/s) next to the read
 * bandwidth measured in the same run. Random weights and activations (N(0,1)-like); "outliers" sets
 * 8 input columns to 20 (above the 6.0 threshold), as a trained model's hidden states have a few.
 * AM_BENCH_CLOCK=cpu: process CPU time (1 thread on a shared machine), else wall time.
 * usage: bench_quant [threads] [reps_scale] [layer] */
#include "automodel.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "kernels/kernels.h"
#include "readsum.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_cpu = -1;
static double now(void) {
    if (g_cpu < 0) g_cpu = getenv("AM_BENCH_CLOCK") && !strcmp(getenv("AM_BENCH_CLOCK"), "cpu");
    struct timespec ts;
    clock_gettime(g_cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t g_rng = 88172645463325252ull;
static float frand(void) { /* roughly N(0,1): sum of 4 uniforms, centred and scaled */
    float s = 0;
    for (int i = 0; i < 4; i++) {
        g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
        s += (float)(g_rng >> 40) / (float)(1 << 24);
    }
    return (s - 2.0f) * 1.7320508f;
}

/* read bandwidth now (the machine is shared: it moves between rows): the best of 3 sums of 128 MiB */
static double read_bw(void) {
    static float *b;
    const int64_t n = (int64_t)1 << 25;
    if (!b && (b = malloc((size_t)n * sizeof(float))))
        for (int64_t i = 0; i < n; i++) b[i] = 1.0f;
    if (!b) return 0;
    double best = 0;
    volatile float sink = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        sink = sum_any(b, n);
        double dt = now() - t0;
        if ((double)n * 4 / dt / 1e9 > best) best = (double)n * 4 / dt / 1e9;
    }
    (void)sink;
    return best;
}

typedef struct {
    const char *name;
    int64_t N, K;
} shape;

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double scale = argc > 2 ? atof(argv[2]) : 1.0;
    am_set_num_threads(threads);
    am_log_set_level(AM_LOG_ERROR);
    printf("threads %d, int8 GEMV ISA %s, clock %s, read bandwidth measured before each weight kind (1 thread, sum of 128 MiB, readsum.h)\n\n", threads, am__qgemv_isa(),
           g_cpu ? "process CPU" : "wall");
    static const shape k_sh[] = {{"c_attn", 2304, 768}, {"attn.c_proj", 768, 768}, {"c_fc", 3072, 768}, {"mlp.c_proj", 768, 3072}, {"lm_head", 50257, 768}};
    static const char *const k_kind[] = {"f32", "q8 th0", "q8 th6", "q8 th6+8 outl", "nf4", "fp4", "f16"};
    printf("| layer [N,K] | weights | M | us/call | GB/s | read bw GB/s | %% of bw |\n|---|---|---|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof k_sh / sizeof k_sh[0]; s++) {
        int64_t N = k_sh[s].N, K = k_sh[s].K;
        if (argc > 3 && strcmp(argv[3], k_sh[s].name)) continue;
        float *w = malloc((size_t)(N * K) * sizeof(float)), *x = malloc((size_t)(128 * K) * sizeof(float)),
              *y = malloc((size_t)(128 * N) * sizeof(float)), *b = malloc((size_t)N * sizeof(float));
        for (int64_t i = 0; i < N * K; i++) w[i] = frand() * 0.02f;
        for (int64_t i = 0; i < 128 * K; i++) x[i] = frand();
        for (int64_t i = 0; i < N; i++) b[i] = frand() * 0.01f;
        for (int kind = 0; kind < 7; kind++) {
            bool lm = N > 10000, f16 = kind == 6;
            if (lm && kind && !f16) continue; /* the head stays unquantized */
            double bytes = kind == 0 ? (double)(N * K) * 4 : f16 ? (double)(N * K) * 2 : kind <= 3 ? (double)(N * K) + 4.0 * (double)N : (double)(N * K) / 2 + (double)(N * K) / 16;
            /* enough copies that a round of calls streams 128 MB: the weights come from memory, not the L3 */
            int nc = (int)(128e6 / bytes) + 1;
            if (nc > 256) nc = 256;
            am_tensor *qc[256] = {0};
            float *wc[256] = {0};
            uint16_t *hc[256] = {0};
            for (int c = 0; c < nc; c++) {
                if (f16) {
                    if (!(hc[c] = malloc((size_t)(N * K) * sizeof(uint16_t)))) return 1;
                    for (int64_t i = 0; i < N * K; i++) hc[c][i] = am__f32_to_f16(w[i]);
                } else if (kind && c) { /* copies of the first: same bytes, same state */
                    const am__qweight *q = am__qweight_of(qc[0]);
                    am_tensor *t = am__tensor_empty(qc[0]->dtype, 2, qc[0]->shape);
                    memcpy(t->data, qc[0]->data, am_tensor_nbytes(qc[0]));
                    qc[c] = kind <= 3 ? am__qweight_int8_from(t, q->scb, q->threshold)
                                      : am__qweight_4bit_from(t, q->type, N, K, q->absmax, NULL, NULL, NULL, 0, q->code, AM_F32);
                } else if (kind >= 1 && kind <= 3) qc[c] = am__quantize_int8(w, false, N, K, kind == 1 ? 0.0f : 6.0f, NULL);
                else if (kind >= 4) qc[c] = am__quantize_4bit(w, false, N, K, kind == 4 ? AM__Q_NF4 : AM__Q_FP4, false, AM_F32, NULL);
                else if (!(wc[c] = c ? malloc((size_t)(N * K) * sizeof(float)) : w)) return 1;
                else if (c) memcpy(wc[c], w, (size_t)(N * K) * sizeof(float));
            }
            if (kind == 3)
                for (int m = 0; m < 128; m++)
                    for (int j = 0; j < 8; j++) x[m * K + (j * 97 + 5) % K] = 20.0f;
            double bw = read_bw();
            for (int M = 1; M <= (f16 ? 1 : 128); M += 127) {
                int reps = (int)((M == 1 ? 1e9 : 4e9) * scale / (double)(N * K * M)) + 2;
                /* warm-up, then timed */
                if (reps < nc) reps = nc;
                for (int r = 0; r < nc; r++) {
                    if (f16) am__gemv(1, N, K, x, hc[r], AM__W_F16, false, b, y);
                    else if (kind) am__qlinear(M, x, qc[r], b, y);
                    else if (M == 1) am__gemv(M, N, K, x, wc[r], AM__W_F32, false, b, y);
                    else am__linear_f32(M, N, K, x, wc[r], b, y);
                }
                double t0 = now();
                for (int r = 0; r < reps; r++) {
                    if (f16) am__gemv(1, N, K, x, hc[r % nc], AM__W_F16, false, b, y);
                    else if (kind) am__qlinear(M, x, qc[r % nc], b, y);
                    else if (M == 1) am__gemv(M, N, K, x, wc[r % nc], AM__W_F32, false, b, y);
                    else am__linear_f32(M, N, K, x, wc[r % nc], b, y);
                }
                double us = (now() - t0) / reps * 1e6;
                double gbs = bytes / (us * 1e-6) / 1e9;
                printf("| %s [%lld,%lld] | %s | %d | %.1f | %.1f | %.1f | %.0f%% |\n", k_sh[s].name, (long long)N, (long long)K, k_kind[kind], M, us, gbs, bw,
                       M == 1 ? 100.0 * gbs / bw : 0.0);
                fflush(stdout);
            }
            if (kind == 3)
                for (int64_t i = 0; i < 128 * K; i++) x[i] = frand();
            for (int c = 0; c < nc; c++) {
                am_tensor_free(qc[c]);
                free(hc[c]);
                if (c) free(wc[c]);
            }
        }
        free(w), free(x), free(y), free(b);
    }
    return 0;
}
