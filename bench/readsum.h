/* bench/readsum.h — the read loop of the benchmarks' memory-bandwidth figures (bench_decode,
 * bench_bandwidth): the sum of n floats, AVX2 with four accumulators where the CPU has it, so that
 * the loads, not the adds, are the limit. */
#ifndef AM_BENCH_READSUM_H
#define AM_BENCH_READSUM_H
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx2"))) static float sum_avx2(const float *p, int64_t n) {
    __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
    for (int64_t i = 0; i + 32 <= n; i += 32) {
        a = _mm256_add_ps(a, _mm256_loadu_ps(p + i));
        b = _mm256_add_ps(b, _mm256_loadu_ps(p + i + 8));
        c = _mm256_add_ps(c, _mm256_loadu_ps(p + i + 16));
        d = _mm256_add_ps(d, _mm256_loadu_ps(p + i + 24));
    }
    float t[8];
    _mm256_storeu_ps(t, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#endif
static inline float sum_any(const float *p, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx2")) return sum_avx2(p, n);
#endif
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += p[i];
    return s;
}
#endif
