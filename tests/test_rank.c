/* test_rank.c - ranking strategies and the batch composer on hand-made cases. */
#include "rank/rank.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/f16.h"
#include "test.h"

/* ---- uncertainty ---------------------------------------------------------- */

/* The index of an uncertainty table entry (ordo_rank_scores.uncert). */
static int U(const char *name)
{
    int i = ordo_rank_uncert_find(name);
    CHECK_MSG(i >= 0, "no uncertainty score %s", name);
    return i < 0 ? 0 : i;
}

/* One table: names unique and found; each entry's function is the score it
 * names; docs/rank.md's strategy table lists every entry (the docs read the
 * same table as ordo next, ordo simulate and the composer). */
static void t_uncert_table(void)
{
    int n;
    const ordo_rank_uncert_def *t = ordo_rank_uncerts(&n);
    CHECK(n >= 5 && n <= ORDO_RANK_MAX_UNCERT);
    FILE *f = fopen("docs/rank.md", "r");
    CHECK_MSG(f != NULL, "docs/rank.md (tests run from the repository root)");
    static char doc[1 << 17];
    size_t len = f ? fread(doc, 1, sizeof doc - 1, f) : 0;
    doc[len] = 0;
    if (f) fclose(f);
    for (int i = 0; i < n; i++) {
        CHECK(ordo_rank_uncert_find(t[i].name) == i);
        CHECK(t[i].fn && t[i].formula && t[i].formula[0]);
        CHECK(!t[i].needs_coarse_else || ordo_rank_uncert_find(t[i].needs_coarse_else) >= 0);
        char row[96];
        snprintf(row, sizeof row, "| `%s` |", t[i].name);
        CHECK_MSG(strstr(doc, row) != NULL, "docs/rank.md lacks the row %s", row);
    }
    CHECK(ordo_rank_uncert_find("least_confidence") == -1);   /* one spelling */
    CHECK(ordo_rank_uncert_find("auto") == -1);               /* a selector, not a score */
    CHECK(ordo_rank_uncert_find(NULL) == -1);
    float p[3] = {0.6f, 0.3f, 0.1f};
    ordo_rank_uin in = {p, NULL, 3, 3, -1, NULL, 0};
    CHECK(t[U("margin")].fn(&in) == ordo_rank_margin(p, 3, 3));
    CHECK(t[U("least-confidence")].fn(&in) == ordo_rank_least_confidence(p, 3, 3));
    CHECK(t[U("ratio")].fn(&in) == ordo_rank_ratio(p, 3, 3));
    CHECK(t[U("entropy")].fn(&in) == ordo_rank_entropy(p, 3, 3, -1));
}

static void t_uncertainty_extremes(void)
{
    enum { C = 10 };
    float uni[C], one[C] = { 1 };
    for (int i = 0; i < C; i++) uni[i] = 1.0f / C;
    CHECK(fabsf(ordo_rank_least_confidence(uni, C, C) - 1) < 1e-5f);
    CHECK(fabsf(ordo_rank_margin(uni, C, C) - 1) < 1e-5f);
    CHECK(fabsf(ordo_rank_ratio(uni, C, C) - 1) < 1e-5f);
    CHECK(fabsf(ordo_rank_entropy(uni, C, C, -1) - 1) < 1e-5f);
    CHECK(ordo_rank_least_confidence(one, C, C) < 1e-6f);
    CHECK(ordo_rank_margin(one, C, C) < 1e-6f);
    CHECK(ordo_rank_ratio(one, C, C) < 1e-6f);
    CHECK(ordo_rank_entropy(one, C, C, -1) < 1e-6f);
    /* an in-between case sits strictly between, each formula by hand */
    float mid[3] = { 0.6f, 0.3f, 0.1f };
    CHECK(fabsf(ordo_rank_least_confidence(mid, 3, 3) - 0.4f * 1.5f) < 1e-5f);
    CHECK(fabsf(ordo_rank_margin(mid, 3, 3) - 0.7f) < 1e-5f);
    CHECK(fabsf(ordo_rank_ratio(mid, 3, 3) - 0.5f) < 1e-5f);
    double h = -(0.6 * log(0.6) + 0.3 * log(0.3) + 0.1 * log(0.1)) / log(3.0);
    CHECK(fabs(ordo_rank_entropy(mid, 3, 3, -1) - h) < 1e-5);
}

static void t_entropy_topk_tail(void)
{
    /* top-2 of a 4-class distribution 0.4, 0.4, 0.1, 0.1: the tail mass 0.2
     * spread evenly over the 2 unseen classes reproduces it exactly */
    float top[2] = { 0.4f, 0.4f };
    double h = -(2 * 0.4 * log(0.4) + 2 * 0.1 * log(0.1)) / log(4.0);
    CHECK(fabs(ordo_rank_entropy(top, 2, 4, -1) - h) < 1e-5);
    /* an exact entropy overrides the estimate */
    CHECK(fabsf(ordo_rank_entropy(top, 2, 4, (float)log(4.0)) - 1) < 1e-5f);
    /* more spread = more uncertain from the summary alone */
    float conf[2] = { 0.9f, 0.05f };
    CHECK(ordo_rank_entropy(conf, 2, 1000, -1) < ordo_rank_entropy(top, 2, 1000, -1));
}

static void t_hierarchical(void)
{
    /* classes 0..4 are dogs (group 0), 5 tennis ball (group 1), 6 toilet seat (group 2) */
    int coarse[7] = { 0, 0, 0, 0, 0, 1, 2 };
    float dogs_p[5] = { 0.2f, 0.2f, 0.2f, 0.2f, 0.2f };
    int32_t dogs_c[5] = { 0, 1, 2, 3, 4 };
    float split_p[2] = { 0.5f, 0.5f };
    int32_t split_c[2] = { 5, 6 };
    float dog_sure_p[1] = { 1.0f };
    int32_t dog_sure_c[1] = { 0 };
    float hd = ordo_rank_hier_uncertainty(dogs_p, dogs_c, 5, 7, coarse, 3);
    float hs = ordo_rank_hier_uncertainty(split_p, split_c, 2, 7, coarse, 3);
    float h1 = ordo_rank_hier_uncertainty(dog_sure_p, dog_sure_c, 1, 7, coarse, 3);
    CHECK_MSG(hs > 0.5f, "split between groups should be uncertain: %g", hs);
    CHECK_MSG(hd <= ORDO_RANK_HIER_FINE_WEIGHT + 1e-5f, "dog breeds: only the fine weight %g", hd);
    CHECK_MSG(hd > 0.1f, "dog breeds still somewhat uncertain: %g", hd);
    CHECK(h1 < 1e-6f);
    CHECK(hs > hd);
    /* plain entropy ranks them the other way round: the point of the hierarchy */
    CHECK(ordo_rank_entropy(dogs_p, 5, 7, -1) > ordo_rank_entropy(split_p, 2, 7, -1));
}

/* ---- evaluation sample ------------------------------------------------------ */

static void t_eval_size(void)
{
    CHECK(ordo_rank_eval_size(0.05, 0.5, 1.96, 1000000) == 385);    /* 384.16 up */
    CHECK(ordo_rank_eval_size(0.05, 0.5, 1.96, 1000) == 278);       /* finite pool */
    CHECK(ordo_rank_eval_size(0.05, 0.9, 1.96, 1000000) == 139);    /* 138.3 up */
    CHECK(ordo_rank_eval_size(0.05, 0.5, 1.96, 100) <= 100);
}

static void t_eval_uniform_chi2(void)
{
    /* 300 seeds x 100 of 1000 rows: inclusion counts over 20 bins of 50
     * rows should be flat; chi-square with 19 df, 0.1 % critical value 43.82. */
    enum { N = 1000, M = 100, SEEDS = 300, BINS = 20 };
    uint8_t *ev = malloc(N);
    double bins[BINS] = { 0 };
    int size_ok = 1;
    for (int s = 0; s < SEEDS; s++) {
        ordo_err err;
        CHECK(ordo_rank_eval_sample(NULL, N, M, 1000 + (uint64_t)s, ev, &err) == 0);
        int c = 0;
        for (int i = 0; i < N; i++) { c += ev[i]; if (ev[i]) bins[i / (N / BINS)]++; }
        if (c != M) size_ok = 0;
    }
    CHECK(size_ok);
    double expect = (double)SEEDS * M / BINS, chi2 = 0;
    for (int b = 0; b < BINS; b++) chi2 += (bins[b] - expect) * (bins[b] - expect) / expect;
    CHECK_MSG(chi2 < 43.82, "chi2 = %g", chi2);
    /* also not suspiciously perfect (a systematic stride would give ~0) */
    CHECK_MSG(chi2 > 1.0, "chi2 = %g", chi2);
    free(ev);
}

static void t_eval_stable_when_pool_grows(void)
{
    /* bottom-m sampling: keys do not depend on the pool, so an old image in
     * the sample of the grown pool was in the old pool's sample too */
    enum { N = 2000 };
    uint64_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = 7919u * (uint64_t)i + 13;
    uint8_t small[N / 2], big[N];
    ordo_err err;
    CHECK(ordo_rank_eval_sample(ids, N / 2, 50, 42, small, &err) == 0);
    CHECK(ordo_rank_eval_sample(ids, N, 50, 42, big, &err) == 0);
    int nested = 1, inter = 0;
    for (int i = 0; i < N / 2; i++) {
        if (big[i] && !small[i]) nested = 0;
        inter += big[i];
    }
    CHECK(nested);
    CHECK_MSG(inter > 10 && inter < 40, "about half of 50 should fall in the first half: %d", inter);
}

/* ---- geometry --------------------------------------------------------------- */

static float randn(ordo_rank_rng *r) { return (float)ordo_rank_rng_normal(r); }

static void t_nearest_matches_brute_force(void)
{
    enum { N = 700, M = 2500, D = 7 };
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 3);
    float *x = malloc(N * D * sizeof *x), *ref = malloc(M * D * sizeof *ref);
    for (int i = 0; i < N * D; i++) x[i] = randn(&r);
    for (int i = 0; i < M * D; i++) ref[i] = randn(&r);
    float *d1 = malloc(N * sizeof *d1), *d3 = malloc(N * sizeof *d3);
    int32_t *i1 = malloc(N * sizeof *i1);
    ordo_err err;
    CHECK(ordo_rank_nearest(x, N, ref, M, D, 1, NULL, d1, i1, &err) == 0);
    CHECK(ordo_rank_nearest(x, N, ref, M, D, 3, NULL, d3, NULL, &err) == 0);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        float b[3] = { INFINITY, INFINITY, INFINITY };
        int bi = -1;
        for (int j = 0; j < M; j++) {
            float v = 0;
            for (int t = 0; t < D; t++) { float e = x[i * D + t] - ref[j * D + t]; v += e * e; }
            if (v < b[0]) bi = j;
            if (v < b[2]) {
                int p = 2;
                while (p > 0 && b[p - 1] > v) { b[p] = b[p - 1]; p--; }
                b[p] = v;
            }
        }
        if (fabsf(d1[i] - b[0]) > 1e-3f * (1 + b[0]) || i1[i] != bi) bad++;
        if (fabsf(d3[i] - b[2]) > 1e-3f * (1 + b[2])) bad++;
    }
    CHECK_MSG(bad == 0, "%d mismatches", bad);
    free(x); free(ref); free(d1); free(d3); free(i1);
}

/* n points around `blobs` centres (spread `spread` per dim) in d dims,
 * unit noise */
static float *make_blobs_s(int n, int d, int blobs, uint64_t seed, int *truth, float spread)
{
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, seed);
    float *cent = malloc((size_t)blobs * d * sizeof *cent);
    for (int i = 0; i < blobs * d; i++) cent[i] = spread * randn(&r);
    float *x = malloc((size_t)n * d * sizeof *x);
    for (int i = 0; i < n; i++) {
        int b = i % blobs;
        if (truth) truth[i] = b;
        for (int t = 0; t < d; t++) x[i * d + t] = cent[b * d + t] + randn(&r);
    }
    free(cent);
    return x;
}

static float *make_blobs(int n, int d, int blobs, uint64_t seed, int *truth)
{
    return make_blobs_s(n, d, blobs, seed, truth, 20.0f);
}

static void t_kmeans_recovers_blobs(void)
{
    enum { N = 600, D = 8, K = 5 };
    int truth[N];
    float *x = make_blobs(N, D, K, 11, truth);
    float cent[K * D];
    int32_t as[N];
    ordo_err err;
    /* several seeds: k-means++ on separated blobs must always find them */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        int it = ordo_rank_kmeans(x, N, D, K, 0, 50, seed, cent, as, NULL, &err);
        CHECK_MSG(it > 0, "%s", err.msg);
        int map[K];
        for (int b = 0; b < K; b++) map[b] = -1;
        int pure = 1;
        for (int i = 0; i < N; i++) {
            if (map[truth[i]] < 0) map[truth[i]] = as[i];
            else if (map[truth[i]] != as[i]) pure = 0;
        }
        int distinct = 1;
        for (int a = 0; a < K; a++)
            for (int b = a + 1; b < K; b++) if (map[a] == map[b]) distinct = 0;
        CHECK_MSG(pure && distinct, "seed %llu", (unsigned long long)seed);
    }
    /* determinism for a seed, also when fitting on a sample */
    int32_t a1[N], a2[N];
    ordo_rank_kmeans(x, N, D, K, 200, 50, 9, cent, a1, NULL, &err);
    ordo_rank_kmeans(x, N, D, K, 200, 50, 9, cent, a2, NULL, &err);
    CHECK(memcmp(a1, a2, sizeof a1) == 0);
    free(x);
}

/* k-center greedy (Sener & Savarese 2018) as the composer runs it: each
 * step lowers mind2 by the previous pick and takes the farthest eligible row. */
static long kcenter_greedy(const float *x, size_t n, int d, float *mind2, const uint8_t *elig,
                           size_t count, size_t *out)
{
    size_t got = 0, b;
    const float *c = NULL;
    while (got < count && ordo_rank_kcenter_step(x, n, d, mind2, elig, NULL, c, &b)) {
        out[got++] = b;
        c = x + b * d;
        mind2[b] = 0;   /* picked: never again */
    }
    return (long)got;
}

static void t_kcenter_picks_far_point(void)
{
    enum { N = 200, D = 3 };
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 5);
    float x[N * D];
    for (int i = 0; i < N * D; i++) x[i] = randn(&r);
    x[77 * D + 0] = 50; x[77 * D + 1] = 50; x[77 * D + 2] = 50;   /* far */
    x[150 * D + 0] = -30;                                         /* second far */
    float lab[D] = { 0, 0, 0 };
    float mind2[N];
    ordo_err err;
    CHECK(ordo_rank_nearest(x, N, lab, 1, D, 1, NULL, mind2, NULL, &err) == 0);
    size_t out[3];
    long got = kcenter_greedy(x, N, D, mind2, NULL, 3, out);
    CHECK(got == 3);
    CHECK(out[0] == 77);
    CHECK(out[1] == 150);
    /* eligibility is honoured: the far point excluded, the next far wins */
    uint8_t el[N];
    memset(el, 1, sizeof el);
    el[77] = 0;
    CHECK(ordo_rank_nearest(x, N, lab, 1, D, 1, NULL, mind2, NULL, &err) == 0);
    got = kcenter_greedy(x, N, D, mind2, el, 1, out);
    CHECK(got == 1 && out[0] == 150);
}

static void t_typicality(void)
{
    enum { N = 101, D = 2 };
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 8);
    float x[N * D];
    for (int i = 0; i < N * D; i++) x[i] = 0.1f * randn(&r);
    x[0] = 0; x[1] = 0;       /* the centre of the blob */
    x[200] = 5; x[201] = 5;   /* a straggler */
    size_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = (size_t)i;
    float typ[N];
    ordo_err err;
    CHECK(ordo_rank_typicality(x, D, idx, N, 10, typ, &err) == 0);
    int best = 0, worst = 0;
    for (int i = 1; i < N; i++) {
        if (typ[i] > typ[best]) best = i;
        if (typ[i] < typ[worst]) worst = i;
    }
    CHECK(worst == 100);
    /* the most typical point is well inside the blob */
    CHECK_MSG(hypotf(x[best * 2], x[best * 2 + 1]) < 0.15f, "best %d", best);
}

static void t_pca_subspace(void)
{
    /* 16-d data living in a 3-d subspace: 3 axes explain it all, and the
     * projection keeps pairwise distances */
    enum { N = 500, D = 16 };
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 12);
    float basis[3 * D];
    for (int i = 0; i < 3 * D; i++) basis[i] = randn(&r);
    float *x = malloc(N * D * sizeof *x);
    for (int i = 0; i < N; i++) {
        float a[3] = { 3 * randn(&r), 2 * randn(&r), randn(&r) };
        for (int t = 0; t < D; t++)
            x[i * D + t] = 4 + a[0] * basis[t] + a[1] * basis[D + t] + a[2] * basis[2 * D + t];
    }
    uint16_t *h = malloc(N * D * sizeof *h);
    ordo_f16_from_f32(x, h, N * D);
    float *xr = malloc(N * D * sizeof *xr);
    ordo_f16_to_f32(h, xr, N * D);
    ordo_rank_f16_rows rows = { h, N, D, NULL, 0 };
    ordo_rank_input in = { 0 };
    in.n = N;
    in.dim = D;
    in.read_rows = ordo_rank_f16_read;
    in.read_ctx = &rows;
    ordo_err err;
    ordo_rank_space *sp = ordo_rank_space_build(&in, 3, 300, 1, &err);
    CHECK_MSG(sp != NULL, "%s", err.msg);
    if (sp) {
        CHECK(ordo_rank_space_dim(sp) == 3);
        CHECK_MSG(ordo_rank_space_explained(sp) > 0.999, "%g", ordo_rank_space_explained(sp));
        double worst = 0;
        for (int i = 0; i + 1 < N; i += 7) {
            const float *a = ordo_rank_space_row(sp, i), *b = ordo_rank_space_row(sp, i + 1);
            double dp = 0, dx = 0;
            for (int t = 0; t < 3; t++) dp += (a[t] - b[t]) * (a[t] - b[t]);
            for (int t = 0; t < D; t++) dx += (xr[i * D + t] - xr[(i + 1) * D + t]) * (xr[i * D + t] - xr[(i + 1) * D + t]);
            double rel = fabs(sqrt(dp) - sqrt(dx)) / (sqrt(dx) + 1e-9);
            if (rel > worst) worst = rel;
        }
        CHECK_MSG(worst < 0.02, "distance distortion %g", worst);
        ordo_rank_space_free(sp);
    }
    free(x); free(h); free(xr);
}

static void t_f16(void)
{
    float v[] = { 0, -0.0f, 1, -2.5f, 65504, 1e-7f, 3.14159f, 1e6f };
    uint16_t h[8];
    float back[8];
    ordo_f16_from_f32(v, h, 8);
    ordo_f16_to_f32(h, back, 8);
    CHECK(h[0] == 0 && h[1] == 0x8000 && h[2] == 0x3c00 && h[4] == 0x7bff);
    CHECK(back[3] == -2.5f && back[4] == 65504);
    CHECK(fabsf(back[5] - 1e-7f) < 6e-8f);         /* subnormal half */
    CHECK(fabsf(back[6] - 3.14159f) < 2e-3f);
    CHECK(isinf(back[7]));
}

static void t_parse_mix(void)
{
    double m[ORDO_RANK_NREASONS];
    ordo_err err;
    CHECK(ordo_rank_parse_mix("eval=1,uncertain=1,novel=0,diverse=2", m, &err) == 0);
    CHECK(fabs(m[0] - 0.25) < 1e-12 && fabs(m[3] - 0.5) < 1e-12 && m[2] == 0);
    CHECK(ordo_rank_parse_mix("uncertain=1", m, &err) == 0 && m[1] == 1 && m[0] == 0);
    CHECK(ordo_rank_parse_mix("bogus=1", m, &err) < 0);
    CHECK(strstr(err.msg, "bogus") != NULL);
    CHECK(ordo_rank_parse_mix("eval=-1", m, &err) < 0);
    CHECK(ordo_rank_parse_mix("eval=0", m, &err) < 0);
    CHECK(ordo_rank_parse_mix("eval=1,eval=2", m, &err) < 0);
    CHECK(ordo_rank_parse_mix("eval=1;x", m, &err) < 0);
}

/* ---- composer ---------------------------------------------------------------- */

typedef struct {
    size_t n;
    int d, C, k;
    uint16_t *emb;
    float *prob, *maxlogit, *prior;
    int32_t *cls;
    int *truth;
    uint8_t *labeled;
    ordo_rank_f16_rows rows;
    ordo_rank_input in;
} pool;

/* blobs with class = blob; confidence varies with the row. The spread
 * keeps cosines within a blob near 0.9 like images of one class, so only
 * true near-duplicates are dropped. */
static void pool_make(pool *p, size_t n, int d, int blobs, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->n = n; p->d = d; p->C = blobs < 2 ? 2 : blobs; p->k = 2;
    p->truth = malloc(n * sizeof *p->truth);
    float *x = make_blobs_s((int)n, d, blobs, seed, p->truth, 3.0f);
    p->emb = malloc(n * d * sizeof *p->emb);
    ordo_f16_from_f32(x, p->emb, n * d);
    free(x);
    p->prob = malloc(n * 2 * sizeof *p->prob);
    p->cls = malloc(n * 2 * sizeof *p->cls);
    p->maxlogit = malloc(n * sizeof *p->maxlogit);
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, seed + 1);
    for (size_t i = 0; i < n; i++) {
        float p1 = 0.5f + 0.5f * (float)ordo_rank_rng_uniform(&r);
        p->prob[i * 2] = p1;
        p->prob[i * 2 + 1] = (1 - p1) * 0.8f;
        p->cls[i * 2] = p->truth[i];
        p->cls[i * 2 + 1] = (p->truth[i] + 1) % p->C;
        p->maxlogit[i] = 5 + (float)ordo_rank_rng_normal(&r);
    }
    p->rows = (ordo_rank_f16_rows){ p->emb, n, d, NULL, 0 };
    ordo_rank_input *in = &p->in;
    in->n = n;
    in->n_classes = p->C;
    in->k = 2;
    in->top_prob = p->prob;
    in->top_class = p->cls;
    in->max_logit = p->maxlogit;
    in->dim = d;
    in->read_rows = ordo_rank_f16_read;
    in->read_ctx = &p->rows;
}

static void pool_free(pool *p)
{
    free(p->emb); free(p->prob); free(p->cls); free(p->maxlogit); free(p->prior);
    free(p->truth); free(p->labeled);
}

static int no_repeats(const ordo_rank_batch *b, const uint8_t *labeled)
{
    for (size_t i = 0; i < b->n; i++) {
        if (labeled && labeled[b->items[i].row]) return 0;
        for (size_t j = i + 1; j < b->n; j++)
            if (b->items[i].row == b->items[j].row) return 0;
    }
    return 1;
}

static void t_compose_mix_and_no_repeats(void)
{
    pool p;
    pool_make(&p, 3000, 16, 30, 21);
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 200;
    /* a fixed mix with every reason, in other shares than the default
     * schedule's cold start (t_default_mix_schedule checks that one) */
    o.mix[0] = 0.15; o.mix[1] = 0.35; o.mix[2] = 0.05; o.mix[3] = 0.45;
    o.mix_auto = 0;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK(b->n == 200);
        CHECK(no_repeats(b, NULL));
        /* mix 0.15/0.35/0.05/0.45 of 200 */
        CHECK_MSG(b->count[ORDO_RANK_EVAL] == 30 && b->count[ORDO_RANK_UNCERTAIN] == 70 &&
                      b->count[ORDO_RANK_NOVEL] == 10 && b->count[ORDO_RANK_DIVERSE] == 90,
                  "%zu %zu %zu %zu", b->count[0], b->count[1], b->count[2], b->count[3]);
        /* the labeling order interleaves: the first 20 already hold every reason */
        int seen[ORDO_RANK_NREASONS] = { 0 };
        for (size_t i = 0; i < 20; i++) seen[b->items[i].reason] = 1;
        CHECK(seen[0] && seen[1] && seen[2] && seen[3]);
        /* the batch covers every blob (coverage fills what the other
         * reasons missed), and the diverse picks alone most of them */
        int hit[30] = { 0 }, dhit[30] = { 0 }, nhit = 0, ndhit = 0;
        for (size_t i = 0; i < b->n; i++) {
            hit[p.truth[b->items[i].row]] = 1;
            if (b->items[i].reason == ORDO_RANK_DIVERSE) dhit[p.truth[b->items[i].row]] = 1;
        }
        for (int c = 0; c < 30; c++) { nhit += hit[c]; ndhit += dhit[c]; }
        CHECK_MSG(nhit == 30, "the batch covers %d of 30 blobs", nhit);
        CHECK_MSG(ndhit >= 25, "diverse picks cover %d of 30 blobs", ndhit);
        /* every strategy's score is filled in */
        const ordo_rank_scores *s = &b->items[0].s;
        CHECK(!isnan(s->uncert[U("margin")]) && !isnan(s->uncert[U("entropy")]) && !isnan(s->novel) && !isnan(s->outlier) &&
              !isnan(s->energy) && !isnan(s->nn_dist) && s->cluster >= 0);
        /* uncertain picks are the more uncertain ones: their mean margin
         * score beats the pool's */
        double um = 0, pm = 0;
        for (size_t i = 0; i < b->n; i++)
            if (b->items[i].reason == ORDO_RANK_UNCERTAIN) um += b->items[i].s.uncert[U("margin")];
        um /= (double)b->count[ORDO_RANK_UNCERTAIN];
        for (size_t i = 0; i < p.n; i++) pm += ordo_rank_margin(p.prob + 2 * i, 2, p.C);
        pm /= (double)p.n;
        CHECK_MSG(um > pm + 0.1, "uncertain picks %g vs pool %g", um, pm);
    }
    ordo_rank_batch_free(b);
    pool_free(&p);
}

/* The default mix follows the labels outside the evaluation sample:
 * mostly diversity before any (a small share of each other reason), about
 * half and half at two labels per class, and the composer applies it
 * unless --mix fixed one. */
static void t_default_mix_schedule(void)
{
    double m[ORDO_RANK_NREASONS];
    ordo_rank_default_mix(0, 30, m);
    CHECK(m[0] == 0.15 && m[1] == 0.05 && m[2] == 0.05 && fabs(m[3] - 0.75) < 1e-12);
    ordo_rank_default_mix(60, 30, m);
    CHECK(fabs(m[1] - 0.45) < 1e-12 && fabs(m[2] - 0.025) < 1e-12 && fabs(m[3] - 0.375) < 1e-12);
    ordo_rank_default_mix(540, 30, m);
    CHECK(fabs(m[1] - 0.77) < 1e-12 && fabs(m[2] - 0.005) < 1e-12 && fabs(m[3] - 0.075) < 1e-12);
    double prev = -1;
    for (size_t L = 0; L < 5000; L += 50) {   /* monotone, sums to 1 */
        ordo_rank_default_mix(L, 100, m);
        CHECK(m[1] >= prev && fabs(m[0] + m[1] + m[2] + m[3] - 1) < 1e-12);
        prev = m[1];
    }
    pool p;
    pool_make(&p, 2000, 8, 30, 71);
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 100;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK_MSG(b->count[0] == 15 && b->count[1] == 5 && b->count[2] == 5 && b->count[3] == 75,
                  "cold start %zu %zu %zu %zu", b->count[0], b->count[1], b->count[2], b->count[3]);
        CHECK(b->mix[1] == 0.05);
    }
    ordo_rank_batch_free(b);
    /* 60 labels outside the evaluation sample (C = 30): u = 0.5, so
     * 0.15/0.45/0.025/0.375; the labeled evaluation images do not count */
    p.labeled = calloc(p.n, 1);
    uint8_t *ev = calloc(p.n, 1);
    for (size_t i = 0; i < 300; i++) ev[i] = 1;
    for (size_t i = 0; i < 200; i++) p.labeled[i] = 1;
    for (size_t i = 1000; i < 1060; i++) p.labeled[i] = 1;
    p.in.labeled = p.labeled;
    p.in.eval = ev;
    b = ordo_rank_compose(&p.in, &o, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK_MSG(fabs(b->mix[1] - 0.45) < 1e-12, "mix uncertain %g", b->mix[1]);
        CHECK_MSG(b->count[0] == 15 && b->count[1] == 45 && b->count[2] == 3 && b->count[3] == 37,
                  "60 labels %zu %zu %zu %zu", b->count[0], b->count[1], b->count[2], b->count[3]);
        CHECK(no_repeats(b, p.labeled));
    }
    ordo_rank_batch_free(b);
    /* a fixed mix is used as given (here the cold-start one, 60 labels or not) */
    o.mix_auto = 0;
    b = ordo_rank_compose(&p.in, &o, &err);
    CHECK(b != NULL && b->count[1] == 5 && b->mix[1] == o.mix[1] && b->mix[3] == o.mix[3]);
    ordo_rank_batch_free(b);
    free(ev);
    pool_free(&p);
}

/* Uncertain picks follow the score, one per k-means cluster first: with
 * every candidate as uncertain as the next, the batch spreads over the
 * clusters; with a clear order, the most uncertain rows are taken. */
static void t_compose_uncertain_order(void)
{
    pool p;
    pool_make(&p, 3000, 8, 30, 81);
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 50;
    o.mix[0] = 0; o.mix[1] = 1; o.mix[2] = 0; o.mix[3] = 0;
    o.mix_auto = 0;
    o.dedupe_cosine = 1;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        /* the pool's 50 most uncertain by margin, allowing for the
         * cluster spread: every pick within the 10 x 50 most uncertain and
         * no cluster twice among the first 20 (the candidates span more) */
        float *u = malloc(p.n * sizeof *u);
        for (size_t i = 0; i < p.n; i++) u[i] = ordo_rank_margin(p.prob + 2 * i, 2, p.C);
        int ok = 1, twice = 0;
        for (size_t t = 0; t < b->n; t++) {
            size_t above = 0;
            for (size_t i = 0; i < p.n; i++) above += u[i] > u[b->items[t].row];
            ok &= above < 500;
            for (size_t s2 = 0; t < 20 && s2 < t; s2++)   /* the first pass */
                twice += b->items[s2].s.cluster == b->items[t].s.cluster;
        }
        CHECK_MSG(ok, "an uncertain pick outside the 500 most uncertain");
        CHECK_MSG(twice == 0, "%d picks share a cluster", twice);
        /* the single most uncertain row is always taken */
        size_t best = 0;
        for (size_t i = 1; i < p.n; i++) if (u[i] > u[best]) best = i;
        int has = 0;
        for (size_t t = 0; t < b->n; t++) has |= b->items[t].row == best;
        CHECK(has);
        free(u);
    }
    ordo_rank_batch_free(b);
    pool_free(&p);
}

static void t_compose_deterministic(void)
{
    pool p;
    pool_make(&p, 2000, 12, 20, 5);
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 100;
    o.seed = 77;
    ordo_err err;
    ordo_rank_batch *a = ordo_rank_compose(&p.in, &o, &err), *b = ordo_rank_compose(&p.in, &o, &err);
    o.seed = 78;
    ordo_rank_batch *c = ordo_rank_compose(&p.in, &o, &err);
    CHECK(a && b && c);
    if (a && b && c) {
        int same = a->n == b->n, diff = 0;
        for (size_t i = 0; same && i < a->n; i++)
            same = a->items[i].row == b->items[i].row && a->items[i].reason == b->items[i].reason &&
                   a->items[i].score == b->items[i].score;
        for (size_t i = 0; i < a->n && i < c->n; i++) diff += a->items[i].row != c->items[i].row;
        CHECK(same);
        CHECK_MSG(diff > 0, "another seed should give another batch");
    }
    ordo_rank_batch_free(a); ordo_rank_batch_free(b); ordo_rank_batch_free(c);
    pool_free(&p);
}

static void t_compose_novel_far_point(void)
{
    pool p;
    pool_make(&p, 1000, 8, 10, 31);
    /* row 500 far from every blob */
    float far[8];
    for (int t = 0; t < 8; t++) far[t] = 300;
    ordo_f16_from_f32(far, p.emb + 500 * 8, 8);
    p.in.max_logit = NULL;   /* embedding novelty only */
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 5;
    o.mix[0] = 0; o.mix[1] = 0; o.mix[2] = 1; o.mix[3] = 0;
    o.mix_auto = 0;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK(b->n == 5 && b->items[0].reason == ORDO_RANK_NOVEL);
        CHECK_MSG(b->items[0].row == 500, "first novel pick %zu", b->items[0].row);
    }
    ordo_rank_batch_free(b);
    /* with labels: distance to the labeled set; label one blob's rows only,
     * the novel picks then come from other blobs */
    p.labeled = calloc(p.n, 1);
    for (size_t i = 0; i < p.n; i++) if (p.truth[i] == 3 && i != 500) p.labeled[i] = 1;
    p.in.labeled = p.labeled;
    o.batch = 20;
    b = ordo_rank_compose(&p.in, &o, &err);
    CHECK(b != NULL);
    if (b) {
        CHECK(no_repeats(b, p.labeled));
        CHECK(b->items[0].row == 500);
        int in3 = 0;
        for (size_t i = 0; i < b->n; i++) in3 += p.truth[b->items[i].row] == 3;
        CHECK_MSG(in3 == 0, "%d novel picks next to labeled images", in3);
    }
    ordo_rank_batch_free(b);
    pool_free(&p);
}

static void t_compose_uncertain_extremes(void)
{
    /* uniform rows are picked first, one-hot rows never */
    pool p;
    pool_make(&p, 400, 4, 4, 41);
    for (size_t i = 0; i < p.n; i++) {
        float p1 = i % 10 == 0 ? 0.5f : 1.0f;
        p.prob[2 * i] = p1;
        p.prob[2 * i + 1] = 1 - p1;
    }
    p.in.n_classes = 2;
    for (size_t i = 0; i < p.n * 2; i++) p.cls[i] = (int32_t)(i % 2);
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 40;
    o.mix[0] = 0; o.mix[1] = 1; o.mix[2] = 0; o.mix[3] = 0;
    o.mix_auto = 0;
    o.dedupe_cosine = 1;   /* blobs repeat; measure the ranking alone */
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK(b != NULL);
    if (b) {
        CHECK(b->n == 40);
        int ok = 1;
        for (size_t i = 0; i < b->n; i++) ok &= b->items[i].row % 10 == 0;
        CHECK_MSG(ok, "all 40 picks should be the 40 uniform rows");
        CHECK(fabsf(b->items[0].s.uncert[U("margin")] - 1) < 1e-6f);
    }
    ordo_rank_batch_free(b);
    pool_free(&p);
}

static void t_compose_dedupe(void)
{
    /* every image has an exact twin: no batch holds both */
    pool p;
    pool_make(&p, 1000, 8, 25, 51);
    for (size_t i = 1; i < p.n; i += 2) memcpy(p.emb + i * 8, p.emb + (i - 1) * 8, 8 * sizeof *p.emb);
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 100;
    /* a fixed mix without eval: eval picks are exempt (they must stay random) */
    o.mix[0] = 0; o.mix[1] = 0.35; o.mix[2] = 0.05; o.mix[3] = 0.45;
    o.mix_auto = 0;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK(b != NULL);
    if (b) {
        CHECK(b->n == 100);
        uint8_t *in = calloc(p.n, 1);
        int twins = 0;
        for (size_t i = 0; i < b->n; i++) in[b->items[i].row] = 1;
        for (size_t i = 0; i < p.n; i += 2) twins += in[i] && in[i + 1];
        CHECK_MSG(twins == 0, "%d twin pairs in the batch", twins);
        CHECK(b->dropped_dupes > 0);
        free(in);
    }
    ordo_rank_batch_free(b);
    pool_free(&p);
}

static void t_compose_prior(void)
{
    /* half the pool has prior 0: only the exploration share comes from it */
    pool p;
    pool_make(&p, 4000, 8, 40, 61);
    p.prior = malloc(p.n * sizeof *p.prior);
    for (size_t i = 0; i < p.n; i++) p.prior[i] = i % 2 ? 0.0f : 1.0f;
    p.in.prior = p.prior;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 200;
    o.mix[0] = 0; o.mix[1] = 0.35; o.mix[2] = 0.05; o.mix[3] = 0.45;
    o.mix_auto = 0;
    o.low_prior_share = 0.1;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK(b != NULL);
    if (b) {
        int low = 0, flagged = 0;
        for (size_t i = 0; i < b->n; i++) {
            low += b->items[i].row % 2;
            flagged += b->items[i].low_prior;
        }
        CHECK_MSG(low >= 15 && low <= 30, "%d low-prior picks of 200 (share 0.1)", low);
        CHECK(flagged == low || flagged <= low);
    }
    ordo_rank_batch_free(b);
    pool_free(&p);
}

/* With a learned filter's prior, a share of the picks goes to its
 * boundary (P(sports) nearest 0.5) and is flagged 2; with the zero-shot
 * prior (prior_learned 0) there is no such share. */
static void t_compose_boundary(void)
{
    pool p;
    pool_make(&p, 4000, 8, 40, 67);
    p.prior = malloc(p.n * sizeof *p.prior);
    for (size_t i = 0; i < p.n; i++)   /* a quarter near the boundary, the rest sure */
        p.prior[i] = i % 4 == 0 ? 0.5f + 0.1f * (float)(i % 97) / 97.0f : 0.99f;
    p.in.prior = p.prior;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 200;
    o.mix[0] = 0; o.mix[1] = 0.35; o.mix[2] = 0.05; o.mix[3] = 0.6;
    o.mix_auto = 0;
    o.boundary_share = 0.1;
    ordo_err err;
    for (int learned = 0; learned < 2; learned++) {
        p.in.prior_learned = learned;
        ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
        CHECK_MSG(b != NULL, "%s", err.msg);
        if (!b) continue;
        int flagged = 0, outside = 0;
        for (size_t i = 0; i < b->n; i++)
            if (b->items[i].low_prior == 2) {
                flagged++;
                outside += b->items[i].row % 4 != 0;
            }
        if (learned)
            CHECK_MSG(flagged >= 15 && flagged <= 25, "%d boundary picks of 200 (share 0.1)",
                      flagged);
        else
            CHECK_MSG(flagged == 0, "%d boundary picks without a learned filter", flagged);
        CHECK_MSG(outside == 0, "%d boundary picks off the boundary", outside);
        CHECK(no_repeats(b, NULL));
        ordo_rank_batch_free(b);
    }
    pool_free(&p);
}

static void t_compose_eval_rules(void)
{
    pool p;
    pool_make(&p, 1500, 8, 10, 71);
    uint8_t *ev = calloc(p.n, 1);
    for (size_t i = 0; i < 10; i++) ev[i * 100] = 1;   /* a given sample of 10 */
    p.in.eval = ev;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 100;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK(b != NULL);
    if (b) {
        CHECK(b->n == 100);
        /* eval share 15 capped at the 10 left; others take the rest */
        CHECK_MSG(b->count[ORDO_RANK_EVAL] == 10, "%zu", b->count[ORDO_RANK_EVAL]);
        int ok = 1;
        for (size_t i = 0; i < b->n; i++)
            ok &= (b->items[i].reason == ORDO_RANK_EVAL) == (ev[b->items[i].row] == 1);
        CHECK_MSG(ok, "eval picks are exactly the eval sample; no other reason takes one");
    }
    ordo_rank_batch_free(b);
    free(ev);
    pool_free(&p);
}

static void t_compose_small_pool(void)
{
    /* asking for more than the pool holds returns every unlabeled image once */
    pool p;
    pool_make(&p, 30, 4, 3, 81);
    p.labeled = calloc(p.n, 1);
    p.labeled[3] = p.labeled[4] = 1;
    p.in.labeled = p.labeled;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 100;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK_MSG(b->n == 28, "%zu", b->n);
        CHECK(no_repeats(b, p.labeled));
    }
    ordo_rank_batch_free(b);
    pool_free(&p);
}

static void t_compose_kcenter_later_round(void)
{
    /* half the blobs fully labeled: more labels than clusters switches the
     * diverse picks to k-center greedy, which goes to the unlabeled blobs */
    pool p;
    pool_make(&p, 2000, 8, 20, 91);
    p.labeled = calloc(p.n, 1);
    for (size_t i = 0; i < p.n; i++) if (p.truth[i] < 10) p.labeled[i] = 1;
    p.in.labeled = p.labeled;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 40;
    o.mix[0] = 0; o.mix[1] = 0; o.mix[2] = 0; o.mix[3] = 1;
    o.mix_auto = 0;
    o.coverage_share = 0;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK(b->n == 40);
        CHECK(no_repeats(b, p.labeled));
        int kc = 0, blobs[20] = { 0 }, nb = 0;
        for (size_t i = 0; i < b->n; i++) {
            kc += !isnan(b->items[i].s.kcenter_dist);
            blobs[p.truth[b->items[i].row]] = 1;
        }
        for (int c = 10; c < 20; c++) nb += blobs[c];
        CHECK_MSG(kc == 40, "%d of 40 picks by k-center", kc);
        CHECK_MSG(nb == 10, "k-center reaches %d of the 10 unlabeled blobs", nb);
        /* the first pick is the farthest from every labeled image */
        CHECK(b->items[0].s.kcenter_dist >= b->items[b->n - 1].s.kcenter_dist);
    }
    ordo_rank_batch_free(b);
    pool_free(&p);
}

static void t_compose_dense_probabilities(void)
{
    /* a retrained model with few classes hands over dense, unsorted rows
     * (top_class NULL, k == C): rows near uniform are the uncertain picks */
    enum { C = 3 };
    pool p;
    pool_make(&p, 600, 6, 6, 101);
    float *dense = malloc(p.n * C * sizeof *dense);
    for (size_t i = 0; i < p.n; i++) {
        int hot = (int)(i % C);
        for (int c = 0; c < C; c++) dense[i * C + c] = c == hot ? 0.96f : 0.02f;
        if (i % 20 == 7) for (int c = 0; c < C; c++) dense[i * C + c] = 1.0f / C;
    }
    p.in.n_classes = C;
    p.in.k = C;
    p.in.top_prob = dense;
    p.in.top_class = NULL;
    p.in.max_logit = NULL;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 30;
    o.mix[0] = 0; o.mix[1] = 1; o.mix[2] = 0; o.mix[3] = 0;
    o.mix_auto = 0;
    o.dedupe_cosine = 1;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        int ok = b->n == 30;
        for (size_t i = 0; i < b->n; i++) ok &= b->items[i].row % 20 == 7;
        CHECK_MSG(ok, "the 30 uniform rows first");
        CHECK(fabsf(b->items[0].s.uncert[U("entropy")] - 1) < 1e-5f);
    }
    ordo_rank_batch_free(b);
    free(dense);
    pool_free(&p);
}

static void t_compose_logit_prob_for_novelty(void)
{
    /* A retrained classifier ranks (dense rows over C = 3 labels) while the
     * energy score stays the pretrained network's: -(max_logit - ln p1) with
     * p1 from logit_prob, not from the classifier's rows. */
    enum { C = 3 };
    pool p;
    pool_make(&p, 400, 6, 6, 202);
    float *dense = malloc(p.n * C * sizeof *dense);
    for (size_t i = 0; i < p.n; i++)
        for (int c = 0; c < C; c++) dense[i * C + c] = c == (int)(i % C) ? 0.9f : 0.05f;
    p.in.n_classes = C;
    p.in.k = C;
    p.in.top_prob = dense;
    p.in.top_class = NULL;
    p.in.logit_prob = p.prob;   /* the pool's own top-2 (p1 in [0.5, 1)) */
    p.in.logit_k = 2;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 40;
    ordo_err err;
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        int ok = b->n == 40, energy_ok = 1, unc_ok = 1;
        for (size_t i = 0; i < b->n; i++) {
            const ordo_rank_item *it = &b->items[i];
            float want = -(p.maxlogit[it->row] - logf(p.prob[it->row * 2]));
            energy_ok &= fabsf(it->s.energy - want) < 1e-4f && !isnan(it->s.outlier);
            /* uncertainty from the classifier's rows: margin 1 - (0.9 - 0.05) */
            unc_ok &= fabsf(it->s.uncert[U("margin")] - 0.15f) < 1e-5f;
        }
        CHECK(ok);
        CHECK_MSG(energy_ok, "energy from the pretrained network's probabilities");
        CHECK_MSG(unc_ok, "uncertainty from the classifier's probabilities");
    }
    ordo_rank_batch_free(b);
    p.in.logit_k = 0;
    CHECK(ordo_rank_compose(&p.in, &o, &err) == NULL);   /* logit_prob needs logit_k */
    free(dense);
    pool_free(&p);
}

static void t_compose_errors(void)
{
    ordo_rank_input in = { 0 };
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    ordo_err err;
    CHECK(ordo_rank_compose(&in, &o, &err) == NULL);
    in.n = 10;
    in.n_classes = 1000;
    in.k = 5;
    float prob[50] = { 0 };
    in.top_prob = prob;
    CHECK(ordo_rank_compose(&in, &o, &err) == NULL);   /* top-k without class ids */
    CHECK(strstr(err.msg, "class") != NULL);
    /* an unknown uncertainty score is an error, not silently margin */
    pool p;
    pool_make(&p, 100, 4, 4, 9);
    o.batch = 10;
    o.uncertainty = "least_confidence";
    CHECK(ordo_rank_compose(&p.in, &o, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "least_confidence") != NULL, "%s", err.msg);
    o.uncertainty = "least-confidence";
    ordo_rank_batch *b = ordo_rank_compose(&p.in, &o, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    ordo_rank_batch_free(b);
    pool_free(&p);
}

int main(void)
{
    RUN(t_uncertainty_extremes);
    RUN(t_uncert_table);
    RUN(t_entropy_topk_tail);
    RUN(t_hierarchical);
    RUN(t_eval_size);
    RUN(t_eval_uniform_chi2);
    RUN(t_eval_stable_when_pool_grows);
    RUN(t_nearest_matches_brute_force);
    RUN(t_kmeans_recovers_blobs);
    RUN(t_kcenter_picks_far_point);
    RUN(t_typicality);
    RUN(t_pca_subspace);
    RUN(t_f16);
    RUN(t_parse_mix);
    RUN(t_compose_mix_and_no_repeats);
    RUN(t_default_mix_schedule);
    RUN(t_compose_uncertain_order);
    RUN(t_compose_deterministic);
    RUN(t_compose_novel_far_point);
    RUN(t_compose_uncertain_extremes);
    RUN(t_compose_dedupe);
    RUN(t_compose_prior);
    RUN(t_compose_boundary);
    RUN(t_compose_eval_rules);
    RUN(t_compose_small_pool);
    RUN(t_compose_kcenter_later_round);
    RUN(t_compose_dense_probabilities);
    RUN(t_compose_logit_prob_for_novelty);
    RUN(t_compose_errors);
    return test_summary();
}
