/* bench/bench_sha.c — throughput of the hub's hashes (hub/hash.c: am__sha256_*, am__sha1_*), the
 * cost of naming every uploaded file. Hashes MIB MiB (default 256) held in memory, fed in 1 MiB
 * pieces as am__hash_file feeds them, best of REPS runs (default 3).
 *
 *   build/bench/bench_sha [MIB] [REPS]
 */
#include "hub/hub.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 256;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    if (!mib || reps < 1) {
        fprintf(stderr, "usage: %s [MIB] [REPS]\n", argv[0]);
        return 2;
    }
    size_t n = mib << 20, piece = 1 << 20;
    uint8_t *buf = malloc(n);
    if (!buf) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) x = x * 6364136223846793005ull + 1442695040888963407ull, buf[i] = (uint8_t)(x >> 56);
    double best256 = 1e30, best1 = 1e30;
    uint8_t d[32];
    char hex256[65], hex1[41];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        am__sha256 s;
        am__sha256_init(&s);
        for (size_t o = 0; o < n; o += piece) am__sha256_update(&s, buf + o, piece);
        am__sha256_final(&s, d);
        double t1 = now();
        am__hex(d, 32, hex256);
        am__sha1 s1;
        am__sha1_init(&s1);
        for (size_t o = 0; o < n; o += piece) am__sha1_update(&s1, buf + o, piece);
        am__sha1_final(&s1, d);
        double t2 = now();
        am__hex(d, 20, hex1);
        if (t1 - t0 < best256) best256 = t1 - t0;
        if (t2 - t1 < best1) best1 = t2 - t1;
    }
    /* MB = 1e6 bytes, as sha256sum-style benchmarks report */
    printf("sha256: %zu MiB in %.3f s = %.0f MB/s  (%s)\n", mib, best256, (double)n / best256 / 1e6, hex256);
    printf("sha1:   %zu MiB in %.3f s = %.0f MB/s  (%s)\n", mib, best1, (double)n / best1 / 1e6, hex1);
    free(buf);
    return 0;
}
