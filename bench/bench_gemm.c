/* bench/bench_gemm.c — the GEMM on BERT-base shapes (y = x·Wᵀ + b, as nn.Linear).
 *
 *   bench_gemm            the models' entry point (am__linear_w) per weight dtype f32/bf16/f16 at
 *                         M = 1..1024, 1 and 2 threads: what the models get, GEMV included
 *   bench_gemm pack [f32] oneDNN's bf16 (f32) matmul with the weights as stored ([N,K] plain) against
 *                         weights reordered once into the layout oneDNN prefers (format any), at
 *                         M = 1..128: decides whether packing at load pays
 *
 * The ISA report is printed first; AM_MAX_ISA / ONEDNN_MAX_CPU_ISA cap it as for the models. */
#include "automodel.h"
#include "core/tensor.h"
#include "kernels/kernels.h"
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const int64_t k_nk[][2] = {{768, 768}, {3072, 768}, {768, 3072}};

/* best of 3 runs of `reps` calls, seconds per call */
#define TIME_BEST(reps, stmt)                                                                                                               \
    ({                                                                                                                                       \
        for (int i_ = 0; i_ < 2; i_++) stmt;                                                                                                 \
        double best_ = 1e9;                                                                                                                  \
        for (int r_ = 0; r_ < 3; r_++) {                                                                                                     \
            double t0_ = now();                                                                                                              \
            for (int i_ = 0; i_ < (reps); i_++) stmt;                                                                                        \
            double t_ = (now() - t0_) / (reps);                                                                                              \
            if (t_ < best_) best_ = t_;                                                                                                      \
        }                                                                                                                                    \
        best_;                                                                                                                               \
    })

static void bench_entry(void) {
    const int64_t Ms[] = {1, 8, 32, 128, 1024};
    printf("| M x N x K | threads | f32 GFLOP/s | bf16 GFLOP/s | f16 GFLOP/s |\n|---|---|---|---|---|\n");
    for (size_t s = 0; s < 3; s++)
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++) {
            int64_t M = Ms[mi], N = k_nk[s][0], K = k_nk[s][1];
            float *x = malloc((size_t)(M * K) * 4), *b = calloc((size_t)N, 4), *y = malloc((size_t)(M * N) * 4);
            int64_t shape[2] = {N, K};
            am_tensor *w[3] = {am__tensor_empty(AM_F32, 2, shape), NULL, NULL};
            for (int64_t i = 0; i < M * K; i++) x[i] = (float)(i % 13) * 0.01f;
            for (int64_t i = 0; i < N * K; i++) ((float *)w[0]->data)[i] = (float)(i % 7) * 0.01f - 0.03f;
            w[1] = am__tensor_convert(w[0], AM_BF16);
            w[2] = am__tensor_convert(w[0], AM_F16);
            for (int th = 1; th <= 2; th++) {
                am_set_num_threads(th);
                double g[3];
                int reps = M >= 512 ? 5 : M >= 64 ? 20 : 100;
                for (int d = 0; d < 3; d++) {
                    double t = TIME_BEST(reps, am__linear_w(M, x, w[d], false, b, y, 0));
                    g[d] = 2.0 * M * N * K / t / 1e9;
                }
                printf("| %lldx%lldx%lld | %d | %.0f | %.0f | %.0f |\n", (long long)M, (long long)N, (long long)K, th, g[0], g[1], g[2]);
            }
            for (int d = 0; d < 3; d++) am_tensor_free(w[d]);
            free(x);
            free(b);
            free(y);
        }
}

/* oneDNN bf16 (or f32) matmul: plain [N,K] weights against packed ones */
static void bench_pack(bool f32) {
    const dnnl_data_type_t dt = f32 ? dnnl_f32 : dnnl_bf16;
    const size_t es = f32 ? 4 : 2;
    const char *dn = f32 ? "f32" : "bf16";
    dnnl_engine_t eng;
    dnnl_stream_t st;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success || dnnl_stream_create(&st, eng, dnnl_stream_default_flags) != dnnl_success) return;
    const int64_t Ms[] = {1, 4, 8, 16, 32, 64, 128};
    printf("| M x N x K | threads | %s plain GFLOP/s | %s packed GFLOP/s | packed/plain | impl plain / packed |\n|---|---|---|---|---|---|\n", dn, dn);
    for (size_t s = 0; s < 3; s++)
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
            for (int th = 1; th <= 2; th++) {
                am_set_num_threads(th);
                extern void omp_set_num_threads(int);
                omp_set_num_threads(th);
                int64_t M = Ms[mi], N = k_nk[s][0], K = k_nk[s][1];
                dnnl_memory_desc_t src, wplain, wany, dst, bia;
                dnnl_dims_t sd = {M, K}, wd = {K, N}, dd = {M, N}, bd = {1, N}, wstr = {1, K};
                dnnl_memory_desc_init_by_tag(&src, 2, sd, dt, dnnl_ab);
                dnnl_memory_desc_init_by_strides(&wplain, 2, wd, dt, wstr);
                dnnl_memory_desc_init_by_tag(&wany, 2, wd, dt, dnnl_format_tag_any);
                dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab);
                dnnl_memory_desc_init_by_tag(&bia, 2, bd, dnnl_f32, dnnl_ab);
                void *xs = calloc((size_t)(M * K), es), *ws = malloc((size_t)(N * K) * es), *ys = malloc((size_t)(M * N) * 4), *bs = calloc((size_t)N, 4);
                for (int64_t i = 0; i < N * K; i++)
                    if (f32) ((float *)ws)[i] = (float)(i % 7) * 0.01f;
                    else ((uint16_t *)ws)[i] = am__f32_to_bf16((float)(i % 7) * 0.01f);
                double g[2] = {0, 0};
                const char *impl[2] = {"-", "-"};
                for (int p = 0; p < 2; p++) {
                    dnnl_matmul_desc_t md;
                    dnnl_primitive_desc_t pd = NULL;
                    dnnl_primitive_t prim = NULL;
                    if (dnnl_matmul_desc_init(&md, &src, p ? &wany : &wplain, &bia, &dst) != dnnl_success ||
                        dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL) != dnnl_success || dnnl_primitive_create(&prim, pd) != dnnl_success)
                        continue;
                    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl[p]);
                    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
                    dnnl_memory_t mx, mw, my, mb, mplain;
                    dnnl_memory_create(&mx, &src, eng, xs);
                    dnnl_memory_create(&my, &dst, eng, ys);
                    dnnl_memory_create(&mb, &bia, eng, bs);
                    dnnl_memory_create(&mplain, &wplain, eng, ws);
                    dnnl_memory_create(&mw, wmd, eng, DNNL_MEMORY_ALLOCATE);
                    if (p) { /* reorder once, outside the timing */
                        dnnl_primitive_desc_t rpd;
                        dnnl_primitive_t r;
                        dnnl_reorder_primitive_desc_create(&rpd, &wplain, eng, wmd, eng, NULL);
                        dnnl_primitive_create(&r, rpd);
                        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, mplain}, {DNNL_ARG_TO, mw}};
                        dnnl_primitive_execute(r, st, 2, ra);
                        dnnl_stream_wait(st);
                        dnnl_primitive_destroy(r);
                        dnnl_primitive_desc_destroy(rpd);
                    }
                    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, p ? mw : mplain}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, my}};
                    int reps = M >= 64 ? 20 : 100;
                    double t = TIME_BEST(reps, (dnnl_primitive_execute(prim, st, 4, args), dnnl_stream_wait(st)));
                    g[p] = 2.0 * M * N * K / t / 1e9;
                    char *copy = strdup(impl[p]); /* the string lives in pd */
                    impl[p] = copy;
                    dnnl_memory_destroy(mx);
                    dnnl_memory_destroy(mw);
                    dnnl_memory_destroy(my);
                    dnnl_memory_destroy(mb);
                    dnnl_memory_destroy(mplain);
                    dnnl_primitive_destroy(prim);
                    dnnl_primitive_desc_destroy(pd);
                }
                printf("| %lldx%lldx%lld | %d | %.0f | %.0f | %.2f | %s / %s |\n", (long long)M, (long long)N, (long long)K, th, g[0], g[1],
                       g[0] > 0 ? g[1] / g[0] : 0, impl[0], impl[1]);
                for (int p = 0; p < 2; p++)
                    if (strcmp(impl[p], "-")) free((void *)impl[p]);
                free(xs);
                free(ws);
                free(ys);
                free(bs);
            }
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
}

int main(int argc, char **argv) {
    printf("ISA: %s\n\n", am_cpu_report_json());
    if (argc > 1 && !strcmp(argv[1], "pack")) bench_pack(argc > 2 && !strcmp(argv[2], "f32"));
    else bench_entry();
    return 0;
}
