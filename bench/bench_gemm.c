/* bench/bench_gemm.c — the GEMM on BERT-base shapes (y = x·Wᵀ + b, as nn.Linear), through the
 * same entry point the models use (oneDNN matmul), at 1 and 2 threads: the machine's achievable
 * peak to set model GFLOP/s against. */
#include "automodel.h"
#include "kernels/kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void) {
    const int64_t shapes[][3] = {{128, 768, 768}, {128, 3072, 768}, {128, 768, 3072}, {1024, 768, 768}, {1024, 3072, 768}, {1024, 768, 3072}};
    printf("| M x N x K | threads | GFLOP/s |\n|---|---|---|\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *x = malloc((size_t)(M * K) * 4), *w = malloc((size_t)(N * K) * 4), *b = calloc((size_t)N, 4), *y = malloc((size_t)(M * N) * 4);
        for (int64_t i = 0; i < M * K; i++) x[i] = (float)(i % 13) * 0.01f;
        for (int64_t i = 0; i < N * K; i++) w[i] = (float)(i % 7) * 0.01f;
        for (int th = 1; th <= 2; th++) {
            am_set_num_threads(th);
            for (int i = 0; i < 3; i++) am__linear_f32(M, N, K, x, w, b, y);
            int reps = M > 512 ? 10 : 40;
            double best = 1e9;
            for (int r = 0; r < 3; r++) {
                double t0 = now();
                for (int i = 0; i < reps; i++) am__linear_f32(M, N, K, x, w, b, y);
                double t = (now() - t0) / reps;
                if (t < best) best = t;
            }
            printf("| %lldx%lldx%lld | %d | %.0f |\n", (long long)M, (long long)N, (long long)K, th, 2.0 * M * N * K / best / 1e9);
        }
        free(x);
        free(w);
        free(b);
        free(y);
    }
    return 0;
}
