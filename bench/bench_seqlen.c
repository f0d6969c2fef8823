/* bench/bench_seqlen.c — what a new sequence length costs: the oneDNN primitives of a shape are
 * compiled on its first call and then served by the bounded primitive cache (kernels/primcache.c).
 * 1) BERT-base GEMMs (y = x·Wᵀ + b for 768x768, 3072x768 and 768x3072 weights) at M values never
 *    seen before: first call (compile + run) against the best of 3 next calls at the same M
 *    (cached), and the compile time itself (the cache's clock: the compiling thread's CPU time, robust on a
 *    busy machine).
 * 2) A BERT-base-sized model forward (random init, 12 layers) for batch 1 at new sequence lengths:
 *    the same three numbers and the count of primitives the new length needed.
 * usage: bench_seqlen [lengths...]  (default 97 113 131 149 173) */
#include "automodel.h"
#include "kernels/kernels.h"
#include "kernels/primcache.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static am_tensors *ids_input(int64_t T) {
    am_tensor *t = am_tensor_new(AM_I64, 2, (int64_t[]){1, T});
    int64_t *d = am_tensor_data(t);
    for (int64_t i = 0; i < T; i++) d[i] = 1000 + (i * 7919) % 20000;
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    am_tensor_free(t);
    return in;
}

int main(int argc, char **argv) {
    int64_t lens[32] = {97, 113, 131, 149, 173};
    int nl = 5;
    if (argc > 1) {
        nl = 0;
        for (int i = 1; i < argc && nl < 32; i++) lens[nl++] = atoll(argv[i]);
    }
    printf("threads %d, primitive cache capacity %zu\n\n", am_get_num_threads(), am__prim_cache_stats().capacity);

    /* 1) GEMMs */
    const int64_t NK[3][2] = {{768, 768}, {3072, 768}, {768, 3072}};
    int64_t maxM = 0;
    for (int i = 0; i < nl; i++) maxM = lens[i] > maxM ? lens[i] : maxM;
    float *x = malloc((size_t)(maxM * 3072) * 4), *w = malloc((size_t)(3072 * 768) * 4), *b = calloc(3072, 4), *y = malloc((size_t)(maxM * 3072) * 4);
    if (!x || !w || !b || !y) return 1;
    for (int64_t i = 0; i < maxM * 3072; i++) x[i] = (float)(i % 13) * 0.01f;
    for (int64_t i = 0; i < 3072 * 768; i++) w[i] = (float)(i % 7) * 0.01f;
    am__linear_f32(8, 768, 768, x, w, b, y); /* engine, streams, JIT of unrelated setup: not counted */
    printf("| M | N x K | first call ms | cached call ms | compile CPU ms (cache miss) |\n|---|---|---|---|---|\n");
    double sum_build = 0;
    int n_build = 0;
    for (int i = 0; i < nl; i++)
        for (int s = 0; s < 3; s++) {
            int64_t M = lens[i], N = NK[s][0], K = NK[s][1];
            am__prim_stats s0 = am__prim_cache_stats();
            double t0 = now();
            am__linear_f32(M, N, K, x, w, b, y);
            double first = now() - t0, best = 1e9;
            am__prim_stats s1 = am__prim_cache_stats();
            double build = (double)(s1.build_ns - s0.build_ns) * 1e-9;
            for (int r = 0; r < 3; r++) {
                t0 = now();
                am__linear_f32(M, N, K, x, w, b, y);
                double t = now() - t0;
                if (t < best) best = t;
            }
            printf("| %lld | %lldx%lld | %.2f | %.2f | %.2f |\n", (long long)M, (long long)N, (long long)K, first * 1e3, best * 1e3, build * 1e3);
            sum_build += build;
            n_build++;
        }
    printf("\nmean compile CPU time per new GEMM shape: %.2f ms\n\n", sum_build / n_build * 1e3);
    free(x);
    free(w);
    free(b);
    free(y);

    /* 2) a BERT-base-sized forward */
    const char *cfg_json = "{\"model_type\": \"bert\", \"architectures\": [\"BertModel\"], \"hidden_size\": 768, \"num_hidden_layers\": 12, "
                           "\"num_attention_heads\": 12, \"intermediate_size\": 3072, \"vocab_size\": 30522}";
    am_config *cfg = am_config_from_json(cfg_json, "bench");
    am_model *m = cfg ? am_model_from_config(AM_TASK_BASE, cfg, 42) : NULL;
    if (!m) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    am_model_train(m, false);
    am_tensors *warm = ids_input(16);
    am_tensors_free(am_model_forward(m, warm, NULL));
    am_tensors_free(warm);
    printf("| BERT-base tokens | first call ms | cached call ms | compile CPU ms | new primitives |\n|---|---|---|---|---|\n");
    for (int i = 0; i < nl; i++) {
        int64_t T = lens[i] + 1; /* not a length the GEMM part used */
        am_tensors *in = ids_input(T);
        am__prim_stats s0 = am__prim_cache_stats();
        double t0 = now();
        am_tensors *o = am_model_forward(m, in, NULL);
        double first = now() - t0;
        am__prim_stats s1 = am__prim_cache_stats();
        am_tensors_free(o);
        double best = 1e9;
        for (int r = 0; r < 2; r++) {
            t0 = now();
            o = am_model_forward(m, in, NULL);
            double t = now() - t0;
            if (t < best) best = t;
            am_tensors_free(o);
        }
        printf("| %lld | %.1f | %.1f | %.1f | %llu |\n", (long long)T, first * 1e3, best * 1e3, (double)(s1.build_ns - s0.build_ns) * 1e-6,
               (unsigned long long)(s1.misses - s0.misses));
        am_tensors_free(in);
    }
    am__prim_stats st = am__prim_cache_stats();
    printf("\ncache: %zu of %zu entries, %llu hits, %llu misses, %llu evictions\n", st.size, st.capacity, (unsigned long long)st.hits,
           (unsigned long long)st.misses, (unsigned long long)st.evictions);
    am_model_free(m);
    am_config_free(cfg);
    return 0;
}
