/* bench/bench_classify.c — text-classification throughput (texts/s) of the pipeline's batch path
 * (what `automodel classify --input-file` runs) on the sms-spam-bert test split, at 1 and 2
 * threads and a few batch sizes; median of N passes over all 1,114 texts, model loaded once.
 * usage: bench_classify [MODEL_DIR [runs]]   (run from the repository root) */
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

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "models/sms-spam-bert";
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    char path[4096];
    snprintf(path, sizeof path, "%s/test.tsv", dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return 1;
    }
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    const char **texts = malloc(4096 * sizeof *texts);
    size_t n = 0;
    for (char *line = strtok(buf, "\n"); line && n < 4096; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        texts[n++] = tab ? tab + 1 : line;
    }
    am_log_set_level(AM_LOG_ERROR); /* the truncation warning */
    double t0 = now();
    am_pipeline *p = am_pipeline_new(AM_TASK_SEQUENCE_CLASSIFICATION, dir, NULL);
    if (!p) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    printf("%s: %zu texts, pipeline load %.1f ms\n", dir, n, (now() - t0) * 1e3);
    am_pipeline_result **res = malloc(n * sizeof *res);
    static const size_t batches[] = {1, 8, 32, 128};
    for (int threads = 1; threads <= 2; threads++) {
        am_set_num_threads(threads);
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
            /* the batch size lives in the options the pipeline copied: rebuild it */
            am_pipeline_options o = am_pipeline_options_default();
            o.batch_size = batches[b];
            am_pipeline_free(p);
            p = am_pipeline_new(AM_TASK_SEQUENCE_CLASSIFICATION, dir, &o);
            double t[32];
            for (int r = 0; r < runs && r < 32; r++) {
                double a = now();
                if (am_pipeline_run(p, n, texts, NULL, res) != AM_OK) {
                    fprintf(stderr, "%s\n", am_last_error());
                    return 1;
                }
                t[r] = now() - a;
                for (size_t i = 0; i < n; i++) am_pipeline_result_free(res[i]);
            }
            qsort(t, (size_t)(runs < 32 ? runs : 32), sizeof t[0], cmpd);
            double med = t[(runs < 32 ? runs : 32) / 2];
            printf("threads %d  batch %3zu: %7.1f ms per pass, %7.0f texts/s\n", threads, batches[b], med * 1e3, (double)n / med);
        }
    }
    am_pipeline_free(p);
    free(res);
    free(texts);
    return 0;
}
