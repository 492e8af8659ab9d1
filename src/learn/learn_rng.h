/* learn_rng.h - the seeded generator shared by src/learn/ (internal).
 * splitmix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for
 * shuffles, fold assignment and bootstrap; state lives with the caller. */
#ifndef ORDO_LEARN_RNG_H
#define ORDO_LEARN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct learn_rng {
    uint64_t s;
} learn_rng;

static inline void learn_rng_seed(learn_rng *r, uint64_t seed)
{
    r->s = seed ^ 0x5851f42d4c957f2dULL;
}

static inline uint64_t learn_rng_next(learn_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
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

/* Uniform double in [0, 1). */
static inline double learn_rng_unif(learn_rng *r)
{
    return (double)(learn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
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
