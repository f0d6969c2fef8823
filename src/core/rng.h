/* core/rng.h — a small seeded generator (splitmix64 + Box–Muller) for random initialisation and
 * sampling. It does not reproduce PyTorch's stream; nothing depends on that. */
#ifndef AM_CORE_RNG_H
#define AM_CORE_RNG_H
#include <stdint.h>
typedef struct am__rng {
    uint64_t s;
    int has_spare;
    double spare;
} am__rng;
void am__rng_seed(am__rng *r, uint64_t seed);
uint64_t am__rng_u64(am__rng *r);
double am__rng_uniform(am__rng *r); /* [0, 1) */
double am__rng_normal(am__rng *r);  /* N(0, 1) */
#endif
