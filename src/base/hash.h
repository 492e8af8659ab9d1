/* hash.h - a 64-bit integer hash for seeds and stable pseudo-random keys. */
#ifndef ORDO_HASH_H
#define ORDO_HASH_H

#include <stdint.h>

/* The splitmix64 finaliser (Steele, Lea & Flood 2014, "Fast splittable
 * pseudorandom number generators"): a bijective, well-mixed hash of x. */
static inline uint64_t ordo_hash_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

#endif
