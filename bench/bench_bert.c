/* bench/bench_bert.c — BERT-base-sized random model: build with am_model_from_config, save it (so
 * `automodel info` load time can be measured by bench/run_bert.sh), then forward latency for
 * 1x128 and 8x128 tokens at 1 and 2 threads with achieved GFLOP/s, median of N runs.
 * usage: bench_bert OUTDIR [runs] */
#include "automodel.h"
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

/* forward FLOPs of a BERT encoder (matmuls only, 2 per MAC) */
static double bert_flops(double B, double T, double H, double L, double I) {
    double per_layer = 2 * B * T * (4 * H * H + 2 * H * I) + 2 * 2 * B * T * T * H;
    return L * per_layer;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/am_bench_bert";
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    const char *cfg_json = "{\"model_type\": \"bert\", \"architectures\": [\"BertModel\"], \"hidden_size\": 768, \"num_hidden_layers\": 12, "
                           "\"num_attention_heads\": 12, \"intermediate_size\": 3072, \"vocab_size\": 30522}";
    am_config *cfg = am_config_from_json(cfg_json, "bench");
    am_model *m = am_model_from_config(AM_TASK_BASE, cfg, 42);
    if (!m) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    am_model_train(m, false);
    if (am_model_save_pretrained(m, dir, NULL) != AM_OK) fprintf(stderr, "save: %s\n", am_last_error());
    am_model_free(m);
    m = am_model_from_pretrained(AM_TASK_BASE, dir, NULL);
    if (!m) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    printf("| batch x tokens | threads | median ms | GFLOP/s |\n|---|---|---|---|\n");
    int batches[2] = {1, 8};
    for (int bi = 0; bi < 2; bi++)
        for (int th = 1; th <= 2; th++) {
            am_set_num_threads(th);
            int64_t B = batches[bi], T = 128, shape[2] = {B, T};
            am_tensor *ids = am_tensor_new(AM_I64, 2, shape);
            int64_t *p = am_tensor_data(ids);
            for (int64_t i = 0; i < B * T; i++) p[i] = (i * 7919) % 30522;
            am_tensors *in = am_tensors_new();
            am_tensors_set(in, "input_ids", ids);
            double t[64];
            for (int r = 0; r < runs + 1; r++) {
                double t0 = now();
                am_tensors *out = am_model_forward(m, in, NULL);
                t[r] = now() - t0;
                am_tensors_free(out);
            }
            qsort(t + 1, (size_t)runs, sizeof(double), cmpd); /* first run warms caches */
            double med = t[1 + runs / 2];
            printf("| %lldx128 | %d | %.1f | %.0f |\n", (long long)B, th, med * 1e3, bert_flops((double)B, 128, 768, 12, 3072) / med / 1e9);
            am_tensors_free(in);
            am_tensor_free(ids);
        }
    am_model_free(m);
    am_config_free(cfg);
    return 0;
}
