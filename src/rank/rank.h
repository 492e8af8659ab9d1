/* rank.h - which unlabeled images a person should label next, and why.
 *
 * Pure in-memory library over plain arrays (no store, no I/O of its own):
 * the caller describes the pool with an ordo_rank_input (per-image summary
 * scores + a callback that streams embedding rows) and gets per-image
 * strategy scores or a composed batch with one reason per image.
 *
 * Strategies (formulas and sources next to the code, and in README):
 *   uncertain  least confidence, margin, ratio, entropy (Munro, "Human-in-
 *              the-Loop Machine Learning", ch. 3) and a WordNet-hierarchical
 *              uncertainty (coarse-group entropy + fine entropy inside the top
 *              group, see rank_uncert.c);
 *   novel      model-based outlier rank of the top logits against a reference
 *              sample (Munro ch. 4), energy score (Liu et al. 2020), and
 *              nearest-neighbour distance in PCA space to the labeled set (or,
 *              with no labels, to a reference sample of the pool);
 *   diverse    PCA -> k-means -> TypiClust typicality for the cold start
 *              (Hacohen et al. 2022), k-center greedy (Sener & Savarese 2018)
 *              once labels exist, plus coverage of predicted labels / coarse
 *              WordNet groups;
 *   eval       a seeded uniform sample of the pool, fixed by (seed, image id);
 *   relevance  a per-image prior in [0,1] down-weights likely irrelevant
 *              images while a fixed share of picks explores low-prior ones.
 *
 * Scale: nothing is quadratic in the pool size n. Memory is about
 * n * pca_dim floats plus a few floats per image; embeddings are streamed
 * through the projection in blocks. The heavy steps (projection, k-means
 * assignment + centroid sums, nearest-neighbour minima, k-center argmax) are
 * written as loops over row blocks whose partial results combine by sums,
 * minima or argmax, so they can later be split over MPI ranks.
 *
 * Determinism: every random choice comes from ordo_rank_rng seeded by the
 * caller; ties break by the lower row index.
 */
#ifndef ORDO_RANK_H
#define ORDO_RANK_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* ---- seeded PRNG (xoshiro256**, seeded through splitmix64) -------------- */

typedef struct ordo_rank_rng {
    uint64_t s[4];
} ordo_rank_rng;

void ordo_rank_rng_seed(ordo_rank_rng *r, uint64_t seed);
uint64_t ordo_rank_rng_next(ordo_rank_rng *r);
double ordo_rank_rng_uniform(ordo_rank_rng *r);            /* [0, 1) */
uint64_t ordo_rank_rng_below(ordo_rank_rng *r, uint64_t n); /* [0, n), unbiased */
double ordo_rank_rng_normal(ordo_rank_rng *r);              /* N(0, 1) */

/* ---- per-image uncertainty from a probability summary ------------------- *
 * p[0..k) are the image's k largest probabilities, sorted descending, out of
 * a distribution over C >= 2 classes (k == C: the dense vector). Every score
 * is in [0, 1], 1 = most uncertain. */

/* (1 - p1) * C / (C - 1). */
float ordo_rank_least_confidence(const float *p, int k, int C);
/* 1 - (p1 - p2). */
float ordo_rank_margin(const float *p, int k, int C);
/* p2 / p1. */
float ordo_rank_ratio(const float *p, int k, int C);
/* -sum p ln p / ln C. With k < C the tail mass r = 1 - sum(p) is spread
 * evenly over the C - k unseen classes (the largest entropy consistent with
 * the summary), unless full_entropy >= 0 gives the exact value in nats. */
float ordo_rank_entropy(const float *p, int k, int C, float full_entropy);

/* Hierarchical uncertainty. cls[0..k) are the classes of p[0..k);
 * coarse[c] in [0, n_coarse) is class c's coarse group (e.g. WordNet
 * ancestors from ordo_wn_coarse). Coarse probabilities P(g) sum the known
 * p per group; the unseen tail mass competes as one extra bucket.
 * Score = (1 - w) * Uc + w * P(g1) * Hf, where Uc = 1 - (P(g1) - P(g2)) is
 * the coarse margin (g1, g2 the two most probable groups), Hf the entropy
 * of p(c | g1) over its known classes normalised by ln(their count), and
 * w = ORDO_RANK_HIER_FINE_WEIGHT. A confident coarse group with a spread
 * over its fine classes (many dog breeds) scores at most w; a split between
 * groups (tennis ball vs toilet seat) scores near 1 - w or more. */
#define ORDO_RANK_HIER_FINE_WEIGHT 0.25f
float ordo_rank_hier_uncertainty(const float *p, const int32_t *cls, int k, int C,
                                 const int *coarse, int n_coarse);

/* ---- the table of uncertainty scores ----------------------------------- *
 * The one list of uncertainty scores: `ordo next --uncertainty NAME`, the
 * composer's uncertain reason, its per-image scores (`ordo next --json`
 * "scores"), `ordo simulate --strategies NAME` and docs/rank.md all read it
 * (test_rank checks the docs name every entry). Adding a score is a
 * function and a row in rank_uncert.c, and its line in docs/rank.md. */

/* What a score sees of one image. */
typedef struct ordo_rank_uin {
    const float *p;          /* the k largest probabilities, descending */
    const int32_t *cls;      /* their classes; NULL when unknown */
    int k, C;                /* k <= C classes in the distribution */
    float entropy;           /* the exact entropy in nats over all C, or < 0 */
    const int *coarse;       /* class -> coarse group (WordNet), or NULL */
    int n_coarse;
} ordo_rank_uin;

typedef struct ordo_rank_uncert_def {
    const char *name;                       /* the one spelling, everywhere */
    float (*fn)(const ordo_rank_uin *in);   /* in [0, 1], 1 = most uncertain */
    const char *needs_coarse_else;          /* non-NULL: needs a coarse map; without
                                               one its score is NaN and the composer
                                               ranks by this other entry instead */
    const char *formula;                    /* one line, for --help and the docs */
} ordo_rank_uncert_def;

/* The entries, in help order; *n gets their count. */
const ordo_rank_uncert_def *ordo_rank_uncerts(int *n);
/* The index of name in the table, or -1 (names are matched exactly). */
int ordo_rank_uncert_find(const char *name);
#define ORDO_RANK_MAX_UNCERT 16   /* the table's capacity (ordo_rank_scores) */

/* ---- the pool ------------------------------------------------------------ */

/* Optional executor of the row-parallel passes over the pool (PCA
 * projection, nearest-neighbour distances, k-means assignment, k-center
 * steps), e.g. over MPI ranks (src/dist/). Each process computes the rows
 * [lo, hi) that part() gives it, whose bounds are multiples of `align` (a
 * multiple of every block size here), so each block is exactly the block
 * one process would compute; gather() then makes all n rows valid in every
 * process, and best() picks the best candidate over the processes. The
 * batch is bit-identical to the one-process batch. NULL: all in process. */
#define ORDO_RANK_EXEC_ALIGN 2048
typedef struct ordo_rank_exec {
    void (*part)(void *ctx, size_t n, size_t align, size_t *lo, size_t *hi);
    /* rows: n rows of row_bytes, this process's part filled in. */
    int (*gather)(void *ctx, void *rows, size_t n, size_t row_bytes, size_t align,
                  ordo_err *err);
    /* In: this process's candidate (*found, *value, *row, *aux). Out: the
     * best over all processes (largest value, ties: lower row), its aux. */
    int (*best)(void *ctx, int *found, float *value, size_t *row, float *aux, ordo_err *err);
    void *ctx;
    /* Optional (NULL: not offered; used by the near-duplicate join,
     * src/audit/): every process gives `bytes` bytes (counts may differ) and
     * gets the concatenation in process order in *out (malloc'd, *out_bytes
     * long). */
    int (*concat)(void *ctx, const void *mine, size_t bytes, void **out, size_t *out_bytes,
                  ordo_err *err);
} ordo_rank_exec;

/* Streams embedding rows [row0, row0 + nrows) of the pool as float32 into
 * out (nrows * dim). Return 0, or -1 with err. Called with increasing row0
 * for full passes and with nrows == 1 for samples. */
typedef int (*ordo_rank_read_fn)(void *ctx, size_t row0, size_t nrows, float *out,
                                 ordo_err *err);

typedef struct ordo_rank_input {
    size_t n;                    /* pool images (rows 0..n-1), labeled ones included */
    int n_classes;               /* C, the model's label space */
    int k;                       /* probabilities per row (k == C: dense) */
    const float *top_prob;       /* n * k, each row sorted descending */
    const int32_t *top_class;    /* n * k class ids; NULL only if k == C and
                                    rows are dense and unsorted (then sorted copies
                                    are made per row) */
    const float *entropy;        /* n, optional: exact entropy in nats */
    const float *max_logit;      /* n, optional: the largest logit; enables the
                                    model-based outlier and energy scores */
    const float *logit_prob;     /* n * logit_k, optional: the top probabilities
                                    (sorted descending) of the network max_logit
                                    belongs to, when top_prob comes from another
                                    model (a retrained classifier): novelty then
                                    stays about the pretrained network's
                                    familiarity. NULL: top_prob */
    int logit_k;
    const int *coarse;           /* n_classes, optional: class -> coarse group */
    int n_coarse;
    const float *prior;          /* n, optional: relevance prior in [0,1] (NaN = 1) */
    int prior_learned;           /* 1: prior is a learned sports filter's calibrated
                                    P(sports): its boundary gets a share too */
    const uint8_t *labeled;      /* n, optional: 1 = labeled (never picked) */
    const uint8_t *eval;         /* n, optional: 1 = in the fixed evaluation sample;
                                    NULL: the composer draws it (ordo_rank_eval_sample) */
    const uint64_t *ids;         /* n, optional: stable image ids for the eval hash
                                    (NULL: the row index) */
    const int64_t *group;        /* n, optional: near-duplicate group per row
                                    (src/audit/), -1 for none: a batch never
                                    holds two rows of one group */
    int dim;                     /* embedding width (the store's, 1280 for ordo's networks) */
    ordo_rank_read_fn read_rows; /* required by the embedding strategies */
    void *read_ctx;
    const ordo_rank_exec *exec;  /* optional: split the row passes (see above) */
} ordo_rank_input;

/* A ready-made reader over an in-memory (or memory-mapped) float16 matrix.
 * Pool row i is matrix row slot[i] (slot NULL: row i). With release != 0,
 * pages fully consumed by a forward pass are dropped from this process
 * with madvise(MADV_DONTNEED) (for read-only file maps: keeps RSS bounded). */
typedef struct ordo_rank_f16_rows {
    const uint16_t *data;
    size_t rows;                 /* rows in data, for bounds checks */
    int dim;
    const int64_t *slot;
    int release;
} ordo_rank_f16_rows;
int ordo_rank_f16_read(void *ctx /* ordo_rank_f16_rows */, size_t row0, size_t nrows,
                       float *out, ordo_err *err);

/* ---- evaluation sample ---------------------------------------------------- */

/* Sample size for a 95 % (z = 1.96) confidence half-width w on an accuracy
 * near p (0.5 = worst case): n0 = z^2 p (1 - p) / w^2 (normal approximation),
 * with the finite-population correction n = n0 / (1 + (n0 - 1) / N). */
size_t ordo_rank_eval_size(double half_width, double p, double z, size_t pool);

/* Writes to eval[0..n) the m rows with the smallest key
 * u_i = mix64(seed ^ mix64(id_i)) (bottom-m sampling: uniform without
 * replacement, stable for an image however the pool grows or is ordered).
 * ids NULL: the row index. O(n log m). */
int ordo_rank_eval_sample(const uint64_t *ids, size_t n, size_t m, uint64_t seed,
                          uint8_t *eval, ordo_err *err);
/* The key above, in [0, 1); eval images are labeled in increasing key.
 * A caller that persists the sample keeps it fixed as the pool grows by
 * adding exactly the new images whose key is below the largest key in the
 * sample (same inclusion rate, old members never leave). */
double ordo_rank_eval_key(uint64_t seed, uint64_t id);

/* ---- reduced embeddings (PCA) and clustering ------------------------------ */

typedef struct ordo_rank_space ordo_rank_space;   /* opaque: n x d projections */

/* Fits PCA (mean + top d principal axes; randomized subspace iteration on
 * the covariance of a seeded sample of up to `sample` rows) and projects
 * every row in blocks. d > dim: d = dim (no reduction, centering only). */
ordo_rank_space *ordo_rank_space_build(const ordo_rank_input *in, int d, size_t sample,
                                       uint64_t seed, ordo_err *err);
void ordo_rank_space_free(ordo_rank_space *sp);
int ordo_rank_space_dim(const ordo_rank_space *sp);
size_t ordo_rank_space_rows(const ordo_rank_space *sp);
const float *ordo_rank_space_row(const ordo_rank_space *sp, size_t i);
/* Euclidean norm of row i's original (un-projected) embedding. */
float ordo_rank_space_rawnorm(const ordo_rank_space *sp, size_t i);
/* Fraction of the sample's variance the d axes explain. */
double ordo_rank_space_explained(const ordo_rank_space *sp);

/* k-means: k-means++ seeding and Lloyd iterations on a seeded sample of up to
 * `sample` rows (0: all), then one assignment pass over every row.
 * assign[n], dist2[n] (squared distance to its centroid) may be NULL.
 * centroids: k * d floats, written. Returns iterations run, or -1. */
int ordo_rank_kmeans(const float *x, size_t n, int d, int k, size_t sample, int max_iter,
                     uint64_t seed, float *centroids, int32_t *assign, float *dist2,
                     ordo_err *err);

/* For every row of x (n x d): squared Euclidean distance to the nearest row
 * of ref (m x d) and its index (skipping ref row skip[i] when skip != NULL
 * and skip[i] >= 0). Blocked GEMM. kth > 1: the kth smallest distance
 * instead (kth <= 16). */
int ordo_rank_nearest(const float *x, size_t n, const float *ref, size_t m, int d,
                      int kth, const int64_t *skip, float *dist2, int32_t *idx,
                      ordo_err *err);

/* TypiClust typicality of the rows idx[0..m) of x: 1 / (mean Euclidean
 * distance to their K nearest neighbours among the same rows), K <= m - 1. */
int ordo_rank_typicality(const float *x, int d, const size_t *idx, size_t m, int K,
                         float *typ, ordo_err *err);

/* k-center greedy (Sener & Savarese 2018) runs as repeated steps (the
 * composer's loop, so the steps can split over MPI ranks). mind2[n] holds
 * each row's squared distance to the centres so far (INFINITY when none;
 * fill it with ordo_rank_nearest from the labeled rows). */
/* The value k-center greedy maximises for a row: mind2 * weight (0 when
 * mind2 is 0; INFINITY for a row with no centre yet and weight > 0). */
float ordo_rank_kcenter_score(float mind2, float weight);

/* One k-center step in one pass over the rows: first lowers mind2 by the
 * new centre c (d floats; NULL: none), then writes to *best the eligible row
 * maximising mind2 * weight (ties: lower row). Returns 1, or 0 when no
 * eligible row has a positive distance. */
int ordo_rank_kcenter_step(const float *x, size_t n, int d, float *mind2, const uint8_t *elig,
                           const float *weight, const float *c, size_t *best);

/* ---- the composer ---------------------------------------------------------- */

typedef enum ordo_rank_reason {
    ORDO_RANK_EVAL = 0,
    ORDO_RANK_UNCERTAIN,
    ORDO_RANK_NOVEL,
    ORDO_RANK_DIVERSE,
    ORDO_RANK_NREASONS
} ordo_rank_reason;

const char *ordo_rank_reason_name(ordo_rank_reason r);   /* "eval", ... */

typedef struct ordo_rank_opts {
    size_t batch;                 /* N images to return */
    double mix[ORDO_RANK_NREASONS];   /* fractions (normalised; any >= 0) */
    uint64_t seed;
    const char *uncertainty;      /* a name from the uncertainty table, or NULL /
                                     "auto": "hier" when the input has a coarse
                                     map, else "margin"; unknown: an error */
    int pca_dim;                  /* 64 */
    size_t pca_sample;            /* rows for the PCA fit (10000) */
    int kmeans_k;                 /* 0: auto = clamp(batch + labeled outside the
                                     evaluation sample, 8, 1000), <= n/4 */
    size_t kmeans_sample;         /* rows for Lloyd (0: auto = 40 k within [20000, 50000]) */
    int kmeans_iter;              /* 10 (stops once < 0.1 % of rows move) */
    double dedupe_cosine;         /* drop a pick whose cosine to a batch or labeled
                                     image (original embeddings) exceeds this (0.97);
                                     >= 1 disables */
    double eval_half_width;       /* eval sample size when in->eval is NULL (0.05) */
    double eval_p;                /* expected accuracy for that size (0.5) */
    double low_prior_share;       /* share of non-eval picks reserved for
                                     low-prior images (0.05) */
    double low_prior;             /* "low prior" means prior < this (0.5) */
    double prior_floor;           /* weight = floor + (1 - floor) * prior (0.1) */
    double boundary_share;        /* with a learned prior: share of non-eval picks
                                     reserved for its boundary, the photos whose
                                     P(sports) is nearest 0.5 (0.05) */
    double boundary_band;         /* boundary means |prior - 0.5| < this (0.4) */
    double coverage_share;        /* share of diverse picks spent on uncovered
                                     predicted labels / coarse groups (0.5) */
    int mix_auto;                 /* 1 (the default): the composer replaces mix[]
                                     by ordo_rank_default_mix for the labels it
                                     sees; 0: mix[] as given (--mix) */
} ordo_rank_opts;

/* The default mix and knobs (see the README for why); mix[] is the
 * schedule's cold start and mix_auto is 1. */
void ordo_rank_opts_default(ordo_rank_opts *o);

/* The default mix as a function of the labels outside the evaluation
 * sample (L) and the classes the ranking model tells apart (C), with
 * u = L / (L + 2C):
 *   eval 0.15, uncertain 0.05 + 0.80 u, diverse 0.75 (1 - u),
 *   novel 0.05 (1 - u).
 * Exploration (diversity: coverage, TypiClust; novelty) leads the cold start,
 * beside a small uncertain share so every reason is in the first batch;
 * as the average class gets labels the trained model's margin (one pick per
 * cluster first) takes over: about half and half at two labels per class
 * (docs/rank.md, "Default mix"). */
void ordo_rank_default_mix(size_t labels, int classes, double mix[ORDO_RANK_NREASONS]);

/* Every strategy's score for one image (NaN where not computed). */
typedef struct ordo_rank_scores {
    float uncert[ORDO_RANK_MAX_UNCERT];   /* by uncertainty table index */
    float uncertain;       /* the score the uncertain strategy ranked by, times prior weight */
    float outlier;         /* model-based outlier (1 - mean rank of the top logits) */
    float energy;          /* -logsumexp(logits); higher = more unusual */
    float nn_dist;         /* distance to the nearest labeled image (PCA space),
                              or k-th neighbour distance to a pool sample with no labels */
    float novel;           /* mean percentile of the novelty scores, times prior weight */
    float typicality;      /* TypiClust, NaN unless computed for its cluster */
    float kcenter_dist;    /* distance to labeled + earlier picks when picked */
    float prior;
    int32_t cluster;       /* k-means cluster */
} ordo_rank_scores;

typedef struct ordo_rank_item {
    size_t row;
    ordo_rank_reason reason;
    float score;           /* the score that put it here (per reason) */
    int low_prior;         /* 1: picked by the low-prior exploration share;
                              2: by the learned filter's boundary share */
    ordo_rank_scores s;
} ordo_rank_item;

typedef struct ordo_rank_batch {
    size_t n;              /* items, in labeling order */
    ordo_rank_item *items;
    size_t count[ORDO_RANK_NREASONS];
    double mix[ORDO_RANK_NREASONS];   /* the mix the batch was composed for */
    size_t dropped_dupes;  /* candidates skipped as near duplicates */
    int kmeans_k;
    double pca_explained;
    double seconds[6];     /* scores, pca, kmeans, novelty, picks, total */
} ordo_rank_batch;

/* Composes a batch. Fewer than opts->batch items only if the pool runs out
 * of unlabeled images. Free with ordo_rank_batch_free. */
ordo_rank_batch *ordo_rank_compose(const ordo_rank_input *in, const ordo_rank_opts *opts,
                                   ordo_err *err);
void ordo_rank_batch_free(ordo_rank_batch *b);

/* Parses "eval=0.2,uncertain=0.4,novel=0.1,diverse=0.3" (any subset; the
 * names not given become 0) into mix[]. */
int ordo_rank_parse_mix(const char *s, double mix[ORDO_RANK_NREASONS], ordo_err *err);

#endif
