/* bench/bench_wav2vec2.c — Wav2Vec2-base-sized audio classification (random weights: hidden 768,
 * 12 layers, 12 heads, the base conv stack of 7 layers x 512 channels, positional conv 128 / 16
 * groups, 10 labels) of 10 s clips at 16 kHz, for bench/compare_wav2vec2.sh:
 *   bench_wav2vec2 make DIR                     the model (from_config, seed 42) and DIR/input.safetensors:
 *                                               input_values [4, 160000], a fixed normalised waveform
 *   bench_wav2vec2 run DIR BATCH THREADS DTYPE [OUT.safetensors]
 *                                               one whole classification: load (torch_dtype DTYPE),
 *                                               the first BATCH clips, forward; prints the forward
 *                                               time in ms (the process is what the script times);
 *                                               OUT: the logits, for compare_wav2vec2.py check
 * AM_BENCH_CLOCK=cpu times the forward in process CPU time instead of wall time. */
#include "automodel.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now(void) {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("AM_BENCH_CLOCK") && !strcmp(getenv("AM_BENCH_CLOCK"), "cpu");
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define CLIPS 4
#define SAMPLES 160000

static int make(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    struct stat st;
    if (stat(p, &st) != 0) {
        /* Wav2Vec2Config's defaults are the base model (facebook/wav2vec2-base) */
        const char *cfg_json = "{\"model_type\": \"wav2vec2\", \"architectures\": [\"Wav2Vec2ForSequenceClassification\"], \"num_labels\": 10}";
        am_config *cfg = am_config_from_json(cfg_json, "bench");
        am_model *m = cfg ? am_model_from_config(AM_TASK_AUDIO_CLASSIFICATION, cfg, 42) : NULL;
        if (!m || am_model_save_pretrained(m, dir, NULL) != AM_OK) {
            fprintf(stderr, "%s\n", am_last_error());
            return 1;
        }
        am_model_free(m);
        am_config_free(cfg);
    }
    /* a waveform with speech-like bands and a pseudo-random floor, zero mean and unit variance per clip */
    int64_t shape[2] = {CLIPS, SAMPLES};
    am_tensor *x = am_tensor_new(AM_F32, 2, shape);
    float *d = am_tensor_data(x);
    for (int64_t c = 0; c < CLIPS; c++) {
        double mean = 0, var = 0;
        float *r = d + c * SAMPLES;
        for (int64_t i = 0; i < SAMPLES; i++) {
            double t = (double)i / 16000.0, env = 0.5 + 0.5 * sin(2 * M_PI * (1.5 + c) * t);
            r[i] = (float)(env * (0.4 * sin(2 * M_PI * (180 + 20 * c) * t) + 0.2 * sin(2 * M_PI * 1200 * t)) +
                           0.05 * ((double)((i * 7919 + c * 104729) % 2001) / 1000.0 - 1.0));
            mean += r[i];
        }
        mean /= SAMPLES;
        for (int64_t i = 0; i < SAMPLES; i++) var += (r[i] - mean) * (r[i] - mean);
        double sd = sqrt(var / SAMPLES + 1e-7);
        for (int64_t i = 0; i < SAMPLES; i++) r[i] = (float)((r[i] - mean) / sd);
    }
    am_tensors *ts = am_tensors_new();
    am_tensors_set(ts, "input_values", x);
    snprintf(p, sizeof p, "%s/input.safetensors", dir);
    int rc = am_tensors_save_safetensors(ts, p) != AM_OK;
    if (rc) fprintf(stderr, "%s\n", am_last_error());
    am_tensors_free(ts);
    am_tensor_free(x);
    return rc;
}

static int run(const char *dir, int64_t B, int threads, const char *dtype, const char *out_path) {
    am_set_num_threads(threads);
    am_load_options lo = am_load_options_default();
    if (am_dtype_parse(dtype, &lo.dtype) != AM_OK) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    char p[4200];
    snprintf(p, sizeof p, "%s/input.safetensors", dir);
    am_tensors *all = am_tensors_load_safetensors(p);
    am_model *m = all ? am_model_from_pretrained(AM_TASK_AUDIO_CLASSIFICATION, dir, &lo) : NULL;
    if (!m || B < 1 || B > CLIPS) {
        fprintf(stderr, "%s\n", B < 1 || B > CLIPS ? "batch must be 1..4" : am_last_error());
        return 1;
    }
    int64_t shape[2] = {B, SAMPLES};
    am_tensor *x = am_tensor_from_data(AM_F32, 2, shape, am_tensor_cdata(am_tensors_get(all, "input_values")));
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_values", x);
    double t0 = now();
    am_tensors *out = am_model_forward(m, in, NULL);
    double t1 = now();
    int rc = out == NULL;
    if (out && out_path) rc = am_tensors_save_safetensors(out, out_path) != AM_OK;
    if (rc) fprintf(stderr, "%s\n", am_last_error());
    else printf("%.1f\n", (t1 - t0) * 1e3);
    am_tensors_free(out);
    am_tensors_free(in);
    am_tensor_free(x);
    am_tensors_free(all);
    am_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "make")) return make(argv[2]);
    if ((argc == 6 || argc == 7) && !strcmp(argv[1], "run")) return run(argv[2], atoll(argv[3]), atoi(argv[4]), argv[5], argc == 7 ? argv[6] : NULL);
    fprintf(stderr, "usage: %s make DIR | run DIR BATCH THREADS DTYPE [OUT.safetensors]\n", argv[0]);
    return 2;
}
