/* bench/bench_bert.c — BERT-base-sized random model (am_model_from_config, saved to OUTDIR, reused
 * when OUTDIR already holds one), forward latency per weight dtype at 1x128 and 8x128 tokens, 1 and
 * 2 threads, median of N runs, with achieved GFLOP/s.
 *
 *   bench_bert OUTDIR [runs] [f32|bf16|f16|all]           the table
 *   bench_bert time DIR DTYPE BATCH TOKENS RUNS THREADS    one median in ms (bench/compare.sh)
 *
 * bf16/f16 = the checkpoint loaded with torch_dtype bfloat16/float16; the CPU report comes first. */
#include "automodel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* AM_BENCH_CLOCK=cpu: process CPU time instead of wall time (a fairer single-thread figure on a
 * shared machine, where wall time counts the waits for a core) */
static double now(void) {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("AM_BENCH_CLOCK") && !strcmp(getenv("AM_BENCH_CLOCK"), "cpu");
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
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

static int make_model(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    struct stat st;
    if (stat(p, &st) == 0) return 0;
    const char *cfg_json = "{\"model_type\": \"bert\", \"architectures\": [\"BertModel\"], \"hidden_size\": 768, \"num_hidden_layers\": 12, "
                           "\"num_attention_heads\": 12, \"intermediate_size\": 3072, \"vocab_size\": 30522}";
    am_config *cfg = am_config_from_json(cfg_json, "bench");
    am_model *m = cfg ? am_model_from_config(AM_TASK_BASE, cfg, 42) : NULL;
    if (!m || am_model_save_pretrained(m, dir, NULL) != AM_OK) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    am_model_free(m);
    am_config_free(cfg);
    return 0;
}

/* median forward time (s) of `runs` after one warm-up */
static double time_forward(am_model *m, int64_t B, int64_t T, int runs) {
    int64_t shape[2] = {B, T};
    am_tensor *ids = am_tensor_new(AM_I64, 2, shape);
    int64_t *p = am_tensor_data(ids);
    for (int64_t i = 0; i < B * T; i++) p[i] = (i * 7919) % 30522;
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", ids);
    double *t = malloc((size_t)(runs + 1) * sizeof(double));
    for (int r = 0; r < runs + 1; r++) {
        double t0 = now();
        am_tensors *out = am_model_forward(m, in, NULL);
        t[r] = now() - t0;
        if (!out) fprintf(stderr, "forward: %s\n", am_last_error());
        am_tensors_free(out);
    }
    qsort(t + 1, (size_t)runs, sizeof(double), cmpd); /* the first run warms caches and packs weights */
    double med = t[1 + runs / 2];
    free(t);
    am_tensors_free(in);
    am_tensor_free(ids);
    return med;
}

static am_model *load(const char *dir, const char *dts) {
    am_load_options lo = am_load_options_default();
    if (am_dtype_parse(dts, &lo.dtype) != AM_OK) {
        fprintf(stderr, "dtype %s: %s\n", dts, am_last_error());
        return NULL;
    }
    am_model *m = am_model_from_pretrained(AM_TASK_BASE, dir, &lo);
    if (!m) fprintf(stderr, "%s\n", am_last_error());
    return m;
}

int main(int argc, char **argv) {
    am_log_set_level(AM_LOG_ERROR);
    if (argc == 8 && !strcmp(argv[1], "time")) {
        am_set_num_threads(atoi(argv[7]));
        am_model *m = load(argv[2], argv[3]);
        if (!m) return 1;
        printf("%.3f\n", time_forward(m, atoll(argv[4]), atoll(argv[5]), atoi(argv[6])) * 1e3);
        am_model_free(m);
        return 0;
    }
    const char *dir = argc > 1 ? argv[1] : "/tmp/am_bench_bert";
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    const char *which = argc > 3 ? argv[3] : "all";
    if (runs < 1 || runs > 1000) runs = 5;
    if (make_model(dir)) return 1;
    printf("cpu: %s\n\n| dtype | batch x tokens | threads | median ms | GFLOP/s |\n|---|---|---|---|---|\n", am_cpu_report_json());
    static const char *const dts[3] = {"float32", "bfloat16", "float16"}, *const short_names[3] = {"f32", "bf16", "f16"};
    for (int d = 0; d < 3; d++) {
        if (strcmp(which, "all") && strcmp(which, short_names[d])) continue;
        am_model *m = load(dir, dts[d]);
        if (!m) return 1;
        int batches[2] = {1, 8};
        for (int bi = 0; bi < 2; bi++)
            for (int th = 1; th <= 2; th++) {
                am_set_num_threads(th);
                double med = time_forward(m, batches[bi], 128, runs);
                printf("| %s | %dx128 | %d | %.1f | %.0f |\n", dts[d], batches[bi], th, med * 1e3, bert_flops(batches[bi], 128, 768, 12, 3072) / med / 1e9);
                fflush(stdout);
            }
        am_model_free(m);
    }
    return 0;
}
