/* learn_rng.h - the seeded generator shared by src/learn/ (internal).
 * splitmix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for
 * shuffles, fold assignment and bootstrap; state lives with the caller. */
#ifndef ORDO_LEARN_RNG_H
#define ORDO_LEARN_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"

typedef struct learn_rng {
    uint64_t s;
} learn_rng;

static inline void learn_rng_seed(learn_rng *r, uint64_t seed)
{
    r->s = seed ^ 0x5851f42d4c957f2dULL;
}

/* The splitmix64 stream: the finaliser of the state before each step. */
static inline uint64_t learn_rng_next(learn_rng *r)
{
    uint64_t z = r->s;
    r->s += 0x9e3779b97f4a7c15ULL;
    return ordo_hash_mix64(z);
}

/* Uniform in [0, n) without modulo bias (Lemire 2019, rejection variant). */
static inline size_t learn_rng_below(learn_rng *r, size_t n)
{
    if (n <= 1) return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = learn_rng_next(r); while (v >= lim);
    return (size_t)(v % n);
}

/* Fisher-Yates shuffle of an index array. */
static inline void learn_rng_shuffle(learn_rng *r, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = learn_rng_below(r, i);
        size_t t = a[i - 1]; a[i - 1] = a[j]; a[j] = t;
    }
}

#endif
