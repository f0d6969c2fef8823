/* bench/bench_t5.c — a t5-small-shaped random T5ForConditionalGeneration (d_model 512, 6+6 layers, 8
 * heads, d_ff 2048, vocab 32128): encoder latency for 1x128 tokens (the generate-time encode: encoder
 * stack plus the cross-attention K/V of the 6 decoder layers), and greedy decode tokens/s over the
 * self-attention KV cache and the cached cross-attention K/V, at 1 and 2 threads; median of N runs.
 * usage: bench_t5 [runs] [decode_steps] [batch] */
#include "automodel.h"
#include "models/seq2seq.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 5, steps = argc > 2 ? atoi(argv[2]) : 64, B = argc > 3 ? atoi(argv[3]) : 1;
    if (runs < 1 || runs > 60 || steps < 1 || B < 1) return 2;
    const char *cfg_json = "{\"model_type\": \"t5\", \"architectures\": [\"T5ForConditionalGeneration\"], \"d_model\": 512, \"d_kv\": 64, "
                           "\"d_ff\": 2048, \"num_layers\": 6, \"num_heads\": 8, \"vocab_size\": 32128, \"decoder_start_token_id\": 0}";
    am_config *cfg = am_config_from_json(cfg_json, "bench");
    am_model *m = cfg ? am_model_from_config(AM_TASK_SEQ2SEQ_LM, cfg, 42) : NULL;
    if (!m) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    am_model_train(m, false);
    const am__gen_ops *g = m->gen;
    int64_t S = 128, V = g->vocab_size(m), shape[2] = {1, S};
    am_tensor *ids = am_tensor_new(AM_I64, 2, shape);
    int64_t *p = am_tensor_data(ids);
    for (int64_t i = 0; i < S; i++) p[i] = (i * 7919) % V;
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", ids);
    printf("t5-small shape, %lld parameters, encoder input 1x%lld, decode batch %d, %d steps\n\n", (long long)am_model_num_parameters(m, false, false),
           (long long)S, B, steps);
    printf("| threads | encode 1x128 ms (median) | decode ms/step (median) | decode tokens/s (all rows) |\n|---|---|---|---|\n");
    float *logits = malloc((size_t)(B * V) * sizeof(float));
    int64_t *tok = malloc((size_t)B * sizeof(int64_t));
    for (int th = 1; th <= 2; th++) {
        am_set_num_threads(th);
        double te[64], td[64];
        for (int r = 0; r < runs + 1; r++) {
            void *enc = NULL;
            double t0 = now();
            if (g->encode(m, in, B, &enc) != AM_OK) {
                fprintf(stderr, "%s\n", am_last_error());
                return 1;
            }
            te[r] = now() - t0;
            am__kv_cache *cache = NULL;
            g->cache_new(m, B, steps, &cache);
            for (int b = 0; b < B; b++) tok[b] = 0;
            t0 = now();
            for (int s = 0; s < steps; s++) {
                if (g->step(m, cache, enc, B, 1, tok, NULL, NULL, 0, logits) != AM_OK) {
                    fprintf(stderr, "%s\n", am_last_error());
                    return 1;
                }
                for (int b = 0; b < B; b++) {
                    int64_t best = 0;
                    for (int64_t v = 1; v < V; v++)
                        if (logits[b * V + v] > logits[b * V + best]) best = v;
                    tok[b] = best;
                }
            }
            td[r] = (now() - t0) / steps;
            am__kv_free(cache);
            g->enc_free(enc);
        }
        qsort(te + 1, (size_t)runs, sizeof(double), cmpd); /* the first run warms caches and packs weights */
        qsort(td + 1, (size_t)runs, sizeof(double), cmpd);
        double e = te[1 + runs / 2], d = td[1 + runs / 2];
        printf("| %d | %.1f | %.2f | %.1f |\n", th, e * 1e3, d * 1e3, B / d);
    }
    free(logits);
    free(tok);
    am_tensors_free(in);
    am_tensor_free(ids);
    am_model_free(m);
    am_config_free(cfg);
    return 0;
}
