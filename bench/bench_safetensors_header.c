/* bench/bench_safetensors_header.c — time to parse and validate a safetensors header of N tensor
 * entries (default 100,000: a 9 MB header), issue 18 defect 7. Usage:
 *   bench_safetensors_header [N] [REPEATS] [DIR]
 * prints the best of REPEATS parses of the in-memory image (am__st_parse), and with DIR also writes
 * DIR/config.json (a tiny BERT) + DIR/model.safetensors and times a whole from_pretrained (the
 * N names are unexpected keys, matched against the model's). */
#include "automodel.h"
#include "formats/safetensors.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    const char *dir = argc > 3 ? argv[3] : NULL;
    size_t cap = 64 + n * 128;
    char *h = malloc(cap);
    if (!h) return 1;
    size_t o = (size_t)snprintf(h, cap, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(h + o, cap - o, ",\"encoder.layer.%zu.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}", i,
                              4 * i, 4 * i + 4);
    o += (size_t)snprintf(h + o, cap - o, "}");
    while (o % 8) h[o++] = ' ';
    size_t len = 8 + o + 4 * n;
    uint8_t *img = calloc(1, len);
    if (!img) return 1;
    for (int i = 0; i < 8; i++) img[i] = (uint8_t)((uint64_t)o >> (8 * i));
    memcpy(img + 8, h, o);
    free(h);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        am__st_file f;
        double t0 = now_s();
        am_status s = am__st_parse(img, len, "bench.safetensors", &f);
        double dt = now_s() - t0;
        if (s != AM_OK) {
            fprintf(stderr, "parse failed: %s\n", am_last_error());
            return 1;
        }
        free(f.format);
        for (size_t i = 0; i < f.n; i++) free(f.entries[i].name);
        free(f.entries);
        if (dt < best) best = dt;
    }
    printf("safetensors header: %zu entries, %zu header bytes: parse+validate best of %d = %.3f s\n", n, o, reps, best);
    if (dir) {
        char p[4096];
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        FILE *f = fopen(p, "wb");
        if (!f || fwrite(img, 1, len, f) != len || fclose(f)) return 1;
        snprintf(p, sizeof p, "%s/config.json", dir);
        f = fopen(p, "wb");
        if (!f) return 1;
        fputs("{\"model_type\": \"bert\", \"architectures\": [\"BertModel\"], \"hidden_size\": 8, \"num_hidden_layers\": 1, "
              "\"num_attention_heads\": 2, \"intermediate_size\": 8, \"vocab_size\": 10, \"max_position_embeddings\": 8}",
              f);
        fclose(f);
        double t0 = now_s();
        am_model *m = am_model_from_pretrained(AM_TASK_AUTO, dir, NULL);
        double dt = now_s() - t0;
        if (!m) {
            fprintf(stderr, "load failed: %s\n", am_last_error());
            return 1;
        }
        printf("from_pretrained with %zu unexpected tensors: %.3f s\n", n, dt);
        am_model_free(m);
    }
    free(img);
    return 0;
}
