/* rank_util.c - PRNG, f16 matrix rows, the evaluation sample, options. */
#include "rank/rank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/f16.h"
#include "base/hash.h"

/* ---- PRNG: xoshiro256** (Blackman & Vigna 2018), seeded by splitmix64 ---- */

void ordo_rank_rng_seed(ordo_rank_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = ordo_hash_mix64(x);
        x += 0x9e3779b97f4a7c15ULL;
    }
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ordo_rank_rng_next(ordo_rank_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double ordo_rank_rng_uniform(ordo_rank_rng *r)
{
    return (double)(ordo_rank_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t ordo_rank_rng_below(ordo_rank_rng *r, uint64_t n)
{
    if (n <= 1) return 0;
    /* Rejection of the biased top range (Lemire-style threshold). */
    uint64_t lim = -n % n;
    for (;;) {
        uint64_t x = ordo_rank_rng_next(r);
        if (x >= lim) return x % n;
    }
}

double ordo_rank_rng_normal(ordo_rank_rng *r)
{
    /* Box-Muller; one of the pair is discarded to keep the state plain. */
    double u = ordo_rank_rng_uniform(r), v = ordo_rank_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

int ordo_rank_f16_read(void *ctx, size_t row0, size_t nrows, float *out, ordo_err *err)
{
    const ordo_rank_f16_rows *m = ctx;
    size_t d = (size_t)m->dim, rmin = (size_t)-1, rmax = 0;
    for (size_t i = 0; i < nrows; i++) {
        if (m->slot && m->slot[row0 + i] < 0)
            return ordo_err_set(err, "embedding slot %lld is negative", (long long)m->slot[row0 + i]);
        size_t r = m->slot ? (size_t)m->slot[row0 + i] : row0 + i;
        if (r >= m->rows)
            return ordo_err_set(err, "embedding row %zu out of range (%zu rows)", r, m->rows);
        ordo_f16_to_f32(m->data + r * d, out + i * d, d);
        if (r < rmin) rmin = r;
        if (r > rmax) rmax = r;
    }
    if (m->release && nrows > 0) {
        /* Drop the pages this read touched (file-backed, read-only maps: the
         * data stays in the page cache, not in our RSS). Matrix rows in
         * [rmin, rmax]; with slots that are not monotone this may drop pages
         * needed again, which only costs a re-fault. Single-row reads widen
         * the window by the kernel's fault-around (64 KiB) so scattered
         * samples do not pin most of a large file. */
        uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), around = nrows == 1 ? 65536 : 0;
        uintptr_t lo = (uintptr_t)m->data, hi = (uintptr_t)(m->data + m->rows * d);
        uintptr_t a = (uintptr_t)(m->data + rmin * d), b = (uintptr_t)(m->data + (rmax + 1) * d);
        a = a > lo + around ? a - around : lo;
        b = b + around < hi ? b + around : hi;
        uintptr_t lo2 = (lo + pg - 1) & ~(pg - 1);
        uintptr_t a2 = nrows == 1 ? a & ~(pg - 1) : (a + pg - 1) & ~(pg - 1), b2 = b & ~(pg - 1);
        if (a2 < lo2) a2 = lo2;
        if (b2 > a2) madvise((void *)a2, b2 - a2, MADV_DONTNEED);
    }
    return 0;
}

/* ---- evaluation sample -------------------------------------------------- */

size_t ordo_rank_eval_size(double w, double p, double z, size_t pool)
{
    if (!(w > 0) || !(p >= 0 && p <= 1) || !(z > 0)) return pool;
    if (p < 0.01) p = 0.01;   /* p(1-p) -> 0 would claim a tiny sample suffices */
    if (p > 0.99) p = 0.99;
    double n0 = z * z * p * (1 - p) / (w * w);
    double n = pool ? n0 / (1 + (n0 - 1) / (double)pool) : n0;
    size_t r = (size_t)ceil(n);
    return r > pool ? pool : r;
}

double ordo_rank_eval_key(uint64_t seed, uint64_t id)
{
    return (double)(ordo_hash_mix64(seed ^ ordo_hash_mix64(id)) >> 11) * 0x1.0p-53;
}

typedef struct { uint64_t key; size_t row; } keyrow;

static int keyrow_less(keyrow a, keyrow b)
{
    return a.key < b.key || (a.key == b.key && a.row < b.row);
}

/* max-heap by (key, row) */
static void heap_down(keyrow *h, size_t m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, big = i;
        if (l < m && keyrow_less(h[big], h[l])) big = l;
        if (r < m && keyrow_less(h[big], h[r])) big = r;
        if (big == i) return;
        keyrow t = h[i]; h[i] = h[big]; h[big] = t;
        i = big;
    }
}

int ordo_rank_eval_sample(const uint64_t *ids, size_t n, size_t m, uint64_t seed,
                          uint8_t *eval, ordo_err *err)
{
    memset(eval, 0, n);
    if (m > n) m = n;
    if (m == 0) return 0;
    keyrow *h = malloc(m * sizeof *h);
    if (!h) return ordo_err_set(err, "out of memory for the evaluation sample (%zu)", m);
    for (size_t i = 0; i < n; i++) {
        keyrow kr = { ordo_hash_mix64(seed ^ ordo_hash_mix64(ids ? ids[i] : i)), i };
        if (i < m) {
            h[i] = kr;
            if (i == m - 1)
                for (size_t j = m / 2 + 1; j-- > 0;) heap_down(h, m, j);
        } else if (keyrow_less(kr, h[0])) {
            h[0] = kr;
            heap_down(h, m, 0);
        }
    }
    for (size_t i = 0; i < m; i++) eval[h[i].row] = 1;
    free(h);
    return 0;
}

/* ---- options ------------------------------------------------------------- */

const char *ordo_rank_reason_name(ordo_rank_reason r)
{
    static const char *const names[] = { "eval", "uncertain", "novel", "diverse" };
    return (unsigned)r < ORDO_RANK_NREASONS ? names[r] : "?";
}

void ordo_rank_default_mix(size_t labels, int classes, double mix[ORDO_RANK_NREASONS])
{
    /* Why this schedule (docs/rank.md, "Default mix"): the evaluation
     * sample is labeled early but never dominates. The rest is split
     * between exploring (diverse, and a 1/16 novel part that finds what
     * neither model nor labels know) and exploiting the model's margin, by
     * labels per class. Before a model is trained the probabilities are
     * ImageNet's, whose uncertainty says little about the customer's
     * labels, and with few labels per class covering the collection pays
     * most (TypiClust, Hacohen et al. 2022, "Active learning on a budget");
     * with more, the retrained model's margin finds the confusions. A 0.05
     * uncertain floor puts every reason in the first batch at no measured
     * cost. On sports100 (20 seeds, docs/learn.md) AUC 0.739 vs random's
     * 0.664, and random's 1,000-label accuracy at 677 labels. */
    double L = (double)labels, c2 = 2.0 * (classes > 1 ? classes : 1);
    double u = L / (L + c2);
    mix[ORDO_RANK_EVAL] = 0.15;
    mix[ORDO_RANK_UNCERTAIN] = 0.05 + 0.80 * u;
    mix[ORDO_RANK_NOVEL] = 0.05 * (1.0 - u);
    mix[ORDO_RANK_DIVERSE] = 0.75 * (1.0 - u);
}

void ordo_rank_opts_default(ordo_rank_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 100;
    /* the schedule's cold start; the composer applies the schedule to the
     * labels it sees while mix_auto is set */
    ordo_rank_default_mix(0, 2, o->mix);
    o->mix_auto = 1;
    o->seed = 1;
    o->uncertainty = NULL;   /* auto */
    o->pca_dim = 64;
    o->pca_sample = 10000;
    o->kmeans_k = 0;
    o->kmeans_sample = 0;
    o->kmeans_iter = 10;
    o->dedupe_cosine = 0.97;
    o->eval_half_width = 0.05;
    o->eval_p = 0.5;
    o->low_prior_share = 0.05;
    o->low_prior = 0.5;
    o->prior_floor = 0.1;
    o->boundary_share = 0.05;
    o->boundary_band = 0.4;
    o->coverage_share = 0.5;
}

int ordo_rank_parse_mix(const char *s, double mix[ORDO_RANK_NREASONS], ordo_err *err)
{
    double m[ORDO_RANK_NREASONS] = { 0 };
    int seen[ORDO_RANK_NREASONS] = { 0 };
    const char *p = s;
    if (!s || !*s) return ordo_err_set(err, "empty --mix");
    while (*p) {
        const char *eq = strchr(p, '=');
        if (!eq) return ordo_err_set(err, "--mix: expected NAME=FRACTION near '%.40s'", p);
        size_t len = (size_t)(eq - p);
        int r = -1;
        for (int i = 0; i < ORDO_RANK_NREASONS; i++) {
            const char *nm = ordo_rank_reason_name((ordo_rank_reason)i);
            if (strlen(nm) == len && strncasecmp(p, nm, len) == 0) r = i;
        }
        if (r < 0)
            return ordo_err_set(err, "--mix: unknown strategy '%.*s' (eval, uncertain, novel, diverse)",
                                (int)(len > 40 ? 40 : len), p);
        if (seen[r]) return ordo_err_set(err, "--mix: '%s' given twice", ordo_rank_reason_name((ordo_rank_reason)r));
        seen[r] = 1;
        char *end;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || !(v >= 0) || !isfinite(v))
            return ordo_err_set(err, "--mix: '%s' needs a fraction >= 0", ordo_rank_reason_name((ordo_rank_reason)r));
        m[r] = v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return ordo_err_set(err, "--mix: expected ',' near '%.40s'", p);
    }
    double sum = 0;
    for (int i = 0; i < ORDO_RANK_NREASONS; i++) sum += m[i];
    if (!(sum > 0)) return ordo_err_set(err, "--mix: the fractions sum to 0");
    for (int i = 0; i < ORDO_RANK_NREASONS; i++) mix[i] = m[i] / sum;
    return 0;
}
