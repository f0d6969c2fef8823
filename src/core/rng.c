/* core/rng.c — splitmix64 and Box–Muller. */
#include "core/rng.h"
#include <math.h>

void am__rng_seed(am__rng *r, uint64_t seed) {
    r->s = seed ^ 0x9e3779b97f4a7c15ull;
    r->has_spare = 0;
}
uint64_t am__rng_u64(am__rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
double am__rng_uniform(am__rng *r) { return (double)(am__rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }
double am__rng_normal(am__rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * am__rng_uniform(r) - 1.0;
        v = 2.0 * am__rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    r->spare = v * m;
    r->has_spare = 1;
    return u * m;
}
