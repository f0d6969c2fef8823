/* bench/bench_pyoverhead.c — the C side of bench/bench_python.py: one model, one input, N forward
 * calls through the C API, per-call microseconds in process CPU time and wall time.
 *
 *   bench_pyoverhead MODEL_DIR RUNS ID...      prints "cpu_us WALL_us" per call (means over RUNS)
 *
 * Inputs are built once (input_ids [1, n] int64), as the Python loop reuses its numpy arrays. */
#include "automodel.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double clk(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_pyoverhead MODEL_DIR RUNS ID...\n");
        return 2;
    }
    int runs = atoi(argv[2]), n = argc - 3;
    am_model *m = am_model_from_pretrained(AM_TASK_SEQUENCE_CLASSIFICATION, argv[1], NULL);
    if (!m) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    int64_t *ids = malloc(sizeof *ids * (size_t)n), shape[2] = {1, n};
    if (!ids) return 1;
    for (int i = 0; i < n; i++) ids[i] = atoll(argv[3 + i]);
    am_tensor *t = am_tensor_from_data(AM_I64, 2, shape, ids);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_ids", t);
    for (int w = 0; w < 20; w++) am_tensors_free(am_model_forward(m, in, NULL)); /* warm-up: primitives made */
    double c0 = clk(CLOCK_PROCESS_CPUTIME_ID), w0 = clk(CLOCK_MONOTONIC);
    for (int r = 0; r < runs; r++) {
        am_tensors *out = am_model_forward(m, in, NULL);
        if (!out) {
            fprintf(stderr, "%s\n", am_last_error());
            return 1;
        }
        am_tensors_free(out);
    }
    double c1 = clk(CLOCK_PROCESS_CPUTIME_ID), w1 = clk(CLOCK_MONOTONIC);
    printf("%.3f %.3f\n", (c1 - c0) / runs * 1e6, (w1 - w0) / runs * 1e6);
    am_tensors_free(in);
    am_tensor_free(t);
    free(ids);
    am_model_free(m);
    return 0;
}
