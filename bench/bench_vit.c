/* bench/bench_vit.c — ViT-base image classification (random weights, 224x224, 1000 labels), for
 * bench/compare_vit.sh:
 *   bench_vit make DIR                          writes the model once (from_config, seed 42)
 *   bench_vit time DIR BATCH RUNS THREADS [DTYPE]  median forward ms of RUNS after a warm-up
 *                                               (DTYPE float32 (default) or bfloat16: torch_dtype)
 *   bench_vit logits DIR OUT.safetensors        the batch-1 outputs, for compare_vit.py check
 *   bench_vit image DIR IMAGE RUNS              median ms per image of decode, preprocess (the
 *                                               folder's ViTImageProcessor) and forward, batch 1
 * The pixel values are a fixed pattern, the same in compare_vit.py. AM_BENCH_CLOCK=cpu times in
 * process CPU time instead of wall time. */
#include "automodel.h"
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
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmpd);
    return t[n / 2];
}

static int make_model(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    struct stat st;
    if (stat(p, &st) == 0) return 0;
    const char *cfg_json = "{\"model_type\": \"vit\", \"architectures\": [\"ViTForImageClassification\"], \"hidden_size\": 768, "
                           "\"num_hidden_layers\": 12, \"num_attention_heads\": 12, \"intermediate_size\": 3072, \"image_size\": 224, "
                           "\"patch_size\": 16, \"num_channels\": 3, \"num_labels\": 1000}";
    am_config *cfg = am_config_from_json(cfg_json, "bench");
    am_model *m = cfg ? am_model_from_config(AM_TASK_IMAGE_CLASSIFICATION, cfg, 42) : NULL;
    if (!m || am_model_save_pretrained(m, dir, NULL) != AM_OK) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    am_model_free(m);
    am_config_free(cfg);
    /* ViTImageProcessor's defaults (google/vit-base-patch16-224) */
    snprintf(p, sizeof p, "%s/preprocessor_config.json", dir);
    FILE *f = fopen(p, "w");
    if (!f) return 1;
    fputs("{\"image_processor_type\": \"ViTImageProcessor\", \"do_resize\": true, \"size\": {\"height\": 224, \"width\": 224}, "
          "\"resample\": 2, \"do_rescale\": true, \"rescale_factor\": 0.00392156862745098, \"do_normalize\": true, "
          "\"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.5, 0.5, 0.5]}\n",
          f);
    return fclose(f) != 0;
}

static am_model *load(const char *dir, const char *dtype) {
    am_load_options lo = am_load_options_default();
    if (dtype && am_dtype_parse(dtype, &lo.dtype) != AM_OK) {
        fprintf(stderr, "%s\n", am_last_error());
        return NULL;
    }
    am_model *m = am_model_from_pretrained(AM_TASK_IMAGE_CLASSIFICATION, dir, &lo);
    if (!m) fprintf(stderr, "%s\n", am_last_error());
    return m;
}

static am_tensors *inputs(int64_t B) {
    int64_t shape[4] = {B, 3, 224, 224};
    am_tensor *px = am_tensor_new(AM_F32, 4, shape);
    float *p = am_tensor_data(px);
    for (int64_t i = 0; i < B * 3 * 224 * 224; i++) p[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "pixel_values", px);
    am_tensor_free(px);
    return in;
}

/* median seconds of one forward at batch B */
static double time_forward(am_model *m, int64_t B, int runs) {
    am_tensors *in = inputs(B);
    double *t = malloc((size_t)(runs + 1) * sizeof *t);
    for (int r = 0; r <= runs; r++) {
        double t0 = now();
        am_tensors *out = am_model_forward(m, in, NULL);
        t[r] = now() - t0;
        if (!out) fprintf(stderr, "forward: %s\n", am_last_error());
        am_tensors_free(out);
    }
    double med = median(t + 1, runs); /* the first run warms caches */
    free(t);
    am_tensors_free(in);
    return med;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "make")) return make_model(argv[2]);
    if ((argc == 6 || argc == 7) && !strcmp(argv[1], "time")) {
        am_set_num_threads(atoi(argv[5]));
        am_model *m = load(argv[2], argc == 7 ? argv[6] : NULL);
        if (!m) return 1;
        printf("%.3f\n", time_forward(m, atoll(argv[3]), atoi(argv[4])) * 1e3);
        am_model_free(m);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "logits")) {
        am_model *m = load(argv[2], NULL);
        am_tensors *in = inputs(1), *out = m ? am_model_forward(m, in, NULL) : NULL;
        int rc = !out || am_tensors_save_safetensors(out, argv[3]) != AM_OK;
        if (rc) fprintf(stderr, "%s\n", am_last_error());
        am_tensors_free(out);
        am_tensors_free(in);
        am_model_free(m);
        return rc;
    }
    if (argc == 5 && !strcmp(argv[1], "image")) {
        int runs = atoi(argv[4]);
        if (runs < 1) runs = 1;
        am_model *m = load(argv[2], NULL);
        am_image_processor *ip = am_image_processor_from_pretrained(argv[2]);
        if (!m || !ip) {
            fprintf(stderr, "%s\n", am_last_error());
            return 1;
        }
        double *td = malloc((size_t)runs * sizeof *td), *tp = malloc((size_t)runs * sizeof *tp), *tf = malloc((size_t)runs * sizeof *tf);
        for (int r = -1; r < runs; r++) { /* r = -1: warm-up */
            double t0 = now();
            am_image *img = am_image_load(argv[3], AM_IMAGE_RGB);
            double t1 = now();
            am_tensors *in = NULL;
            if (!img || am_image_processor_call(ip, (const am_image *const *)&img, 1, NULL, NULL, &in) != AM_OK) {
                fprintf(stderr, "%s\n", am_last_error());
                return 1;
            }
            double t2 = now();
            am_tensors *out = am_model_forward(m, in, NULL);
            double t3 = now();
            if (!out) fprintf(stderr, "forward: %s\n", am_last_error());
            am_tensors_free(out);
            am_tensors_free(in);
            am_image_free(img);
            if (r >= 0) td[r] = t1 - t0, tp[r] = t2 - t1, tf[r] = t3 - t2;
        }
        printf("decode %.3f ms, preprocess %.3f ms, forward %.3f ms (medians of %d)\n", median(td, runs) * 1e3, median(tp, runs) * 1e3,
               median(tf, runs) * 1e3, runs);
        free(td), free(tp), free(tf);
        am_image_processor_free(ip);
        am_model_free(m);
        return 0;
    }
    fprintf(stderr, "usage: bench_vit make DIR | time DIR BATCH RUNS THREADS [DTYPE] | logits DIR OUT | image DIR IMAGE RUNS\n");
    return 2;
}
