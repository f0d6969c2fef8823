/* bench/bench_bandwidth.c — memory read bandwidth for bench/bench_llamacpp.sh's bandwidth bound:
 * THREADS threads (pthreads) each sum their share of a buffer far larger than the caches (512 MiB
 * of floats, written once so every page is resident), best of 5 passes; GB/s = bytes / wall time,
 * and bytes / process CPU time ÷ threads ("read_gbs_cpu": what the threads get while they run; the
 * figure to put next to timings taken in CPU time on a machine shared with other jobs).
 * usage: bench_bandwidth [THREADS...]  (default 1 2)
 *   -> one JSON line {"read_gbs": {"1": x, ...}, "read_gbs_cpu": {"1": y, ...}} */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "readsum.h"

typedef struct {
    const float *p;
    size_t n;
    float out;
} part;
static void *run(void *v) {
    part *q = v;
    q->out = sum_any(q->p, (int64_t)q->n);
    return NULL;
}
static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    size_t n = (size_t)1 << 27; /* 512 MiB of floats */
    float *buf = malloc(n * sizeof(float));
    if (!buf) {
        fprintf(stderr, "bench_bandwidth: cannot allocate 512 MiB\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) buf[i] = 1.0f;
    int def[2] = {1, 2}, nt = argc > 1 ? argc - 1 : 2;
    float sink = 0;
    double wall[64], cpu[64];
    if (nt > 64) nt = 64;
    for (int k = 0; k < nt; k++) {
        int th = argc > 1 ? atoi(argv[k + 1]) : def[k];
        if (th < 1 || th > 256) {
            fprintf(stderr, "bench_bandwidth: threads %s: 1..256\n", argv[k + 1]);
            return 2;
        }
        part *ps = calloc((size_t)th, sizeof(part));
        pthread_t *ids = calloc((size_t)th, sizeof(pthread_t));
        double best = 0, best_cpu = 0;
        for (int r = 0; r < 5; r++) {
            double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            for (int i = 0; i < th; i++) {
                ps[i] = (part){buf + n / (size_t)th * (size_t)i, n / (size_t)th, 0};
                if (i) pthread_create(&ids[i], NULL, run, &ps[i]);
            }
            run(&ps[0]);
            for (int i = 1; i < th; i++) pthread_join(ids[i], NULL);
            double bytes = (double)(n / (size_t)th * (size_t)th) * sizeof(float);
            double gbs = bytes / (clock_s(CLOCK_MONOTONIC) - t0) / 1e9;
            double gbs_cpu = bytes / ((clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / th) / 1e9;
            if (gbs > best) best = gbs;
            if (gbs_cpu > best_cpu) best_cpu = gbs_cpu;
            for (int i = 0; i < th; i++) sink += ps[i].out;
        }
        wall[k] = best;
        cpu[k] = best_cpu;
        free(ps);
        free(ids);
    }
    printf("{\"buffer_bytes\": %zu", n * sizeof(float));
    for (int j = 0; j < 2; j++) {
        printf(", \"%s\": {", j ? "read_gbs_cpu" : "read_gbs");
        for (int k = 0; k < nt; k++) printf("%s\"%d\": %.2f", k ? ", " : "", argc > 1 ? atoi(argv[k + 1]) : def[k], j ? cpu[k] : wall[k]);
        printf("}");
    }
    printf(", \"checksum\": %.0f}\n", (double)sink);
    free(buf);
    return 0;
}
