/* bench_util.h - what the C benchmarks share: a monotonic clock, this
 * process's CPU time and peak RSS, and the random draws behind synthetic
 * embeddings and Dirichlet probabilities (on ordo_rank_rng, so a generated
 * project is the same on every machine). Header-only: each benchmark is one
 * C file. */
#ifndef ORDO_BENCH_UTIL_H
#define ORDO_BENCH_UTIL_H

#include <math.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include "base/hash.h"
#include "rank/rank.h"

/* Cluster of synthetic row i among `clusters`: u^2 with u uniform, so a few
 * clusters are large and most are small, as in real collections. The
 * synthetic projects of bench_next and bench_audit_scale share it. */
static inline size_t bench_cluster_of(size_t i, size_t clusters)
{
    double u = (double)(ordo_hash_mix64(7 ^ (i * 0x9e37ULL)) >> 11) * 0x1.0p-53;
    size_t c = (size_t)(clusters * u * u);
    return c >= clusters ? clusters - 1 : c;
}

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* user + system CPU seconds of this process, all threads */
static inline double bench_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* peak resident set of this process, kB */
static inline long bench_peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* cheap approximately normal noise: Irwin-Hall of 4 uniforms, unit variance */
static inline float bench_fastn(ordo_rank_rng *r)
{
    uint64_t x = ordo_rank_rng_next(r);
    double s = (double)(x & 0xffff) + (double)((x >> 16) & 0xffff) + (double)((x >> 32) & 0xffff) +
               (double)(x >> 48);
    return (float)((s / 65536.0 - 2.0) * 1.7320508);   /* var of sum of 4 U(0,1) = 1/3 */
}

/* Gamma(a, 1) by Marsaglia & Tsang (a < 1 via the a + 1 boost); Dirichlet
 * draws are normalised Gammas. */
static inline double bench_gamma(ordo_rank_rng *r, double a)
{
    if (a < 1) return bench_gamma(r, a + 1) * pow(ordo_rank_rng_uniform(r) + 1e-300, 1.0 / a);
    double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = ordo_rank_rng_normal(r), v = 1 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = ordo_rank_rng_uniform(r);
        if (log(u + 1e-300) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

#endif
