/* bench/bench_attention.c — a long-input encoder forward under each attention implementation: a
 * BERT-shaped random model (am_model_from_config, max_position_embeddings = T) over one row of T
 * tokens, each implementation in its own child process so that its peak RSS (wait4's ru_maxrss)
 * is its own: eager, eager with output_attentions (every layer's [heads, T, T] probabilities
 * returned), sdpa. Median wall and process CPU time (all threads) of N forwards after a warm-up.
 * usage: bench_attention [T=4096] [layers=2] [hidden=256] [heads=4] [runs=3] */
#include "automodel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* the child: build, forward `runs` times, print the median */
static int child(const char *impl, bool attentions, long T, long L, long H, long heads, int runs) {
    char js[1024];
    snprintf(js, sizeof js,
             "{\"model_type\": \"bert\", \"architectures\": [\"BertModel\"], \"hidden_size\": %ld, \"num_hidden_layers\": %ld, "
             "\"num_attention_heads\": %ld, \"intermediate_size\": %ld, \"max_position_embeddings\": %ld, \"vocab_size\": 1000, "
             "\"_attn_implementation\": \"%s\"}",
             H, L, heads, 4 * H, T, impl);
    am_config *c = am_config_from_json(js, "bench");
    am_model *m = c ? am_model_from_config(AM_TASK_BASE, c, 1) : NULL;
    if (!m) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    am_model_train(m, false);
    int64_t shape[2] = {1, T};
    am_tensor *ids = am_tensor_new(AM_I64, 2, shape);
    int64_t *p = am_tensor_data(ids);
    for (long i = 0; i < T; i++) p[i] = (i * 7919) % 1000;
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", ids);
    am_forward_options fo = am_forward_options_default();
    fo.output_attentions = attentions;
    double t[64], ct[64];
    for (int r = -1; r < runs; r++) {
        double t0 = now(), c0 = cpu_now();
        am_tensors *out = am_model_forward(m, in, &fo);
        if (!out) {
            fprintf(stderr, "%s\n", am_last_error());
            return 1;
        }
        if (r >= 0) t[r] = now() - t0, ct[r] = cpu_now() - c0;
        am_tensors_free(out);
    }
    qsort(t, (size_t)runs, sizeof t[0], cmpd);
    qsort(ct, (size_t)runs, sizeof ct[0], cmpd);
    printf("%-26s wall %7.3f s  cpu %7.3f s", attentions ? "eager + output_attentions" : impl, t[runs / 2], ct[runs / 2]);
    fflush(stdout);
    am_tensors_free(in);
    am_tensor_free(ids);
    am_model_free(m);
    am_config_free(c);
    return 0;
}

int main(int argc, char **argv) {
    long T = argc > 1 ? atol(argv[1]) : 4096, L = argc > 2 ? atol(argv[2]) : 2, H = argc > 3 ? atol(argv[3]) : 256;
    long heads = argc > 4 ? atol(argv[4]) : 4;
    int runs = argc > 5 ? atoi(argv[5]) : 3;
    if (runs < 1 || runs > 64) runs = 3;
    printf("BERT-shaped encoder, 1 x %ld tokens, %ld layers, hidden %ld, %ld heads; median of %d forwards\n", T, L, H, heads, runs);
    const struct {
        const char *impl;
        bool attentions;
    } k[] = {{"eager", false}, {"eager", true}, {"sdpa", false}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) _exit(child(k[i].impl, k[i].attentions, T, L, H, heads, runs));
        int st = 0;
        struct rusage ru;
        if (pid < 0 || wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "%s: run failed\n", k[i].impl);
            return 1;
        }
        printf("   peak RSS %7.1f MB\n", ru.ru_maxrss / 1024.0);
    }
    return 0;
}
