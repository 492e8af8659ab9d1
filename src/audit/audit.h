/* audit.h - what is wrong in the data: label errors, near-duplicates, leaks.
 *
 * Pure in-memory code over plain arrays (no store, no I/O): the caller gives
 * out-of-fold probabilities and labels, or a row reader over the embeddings,
 * and gets ranked suspects, duplicate pairs and groups. audit_store.h keeps
 * the results in the project.
 *
 * Label errors: confident learning (Northcutt, Jiang & Chuang 2021,
 * "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 70)
 * on out-of-fold probabilities, optionally averaged with a leave-one-out
 * k-nearest-neighbour vote in embedding space (see ordo_audit_knn_probs).
 *
 * Near-duplicates: a cosine range self-join over an inverted file (IVF).
 * Rows are L2-normalised and kept quantised to int8 (one scale per row,
 * 1 byte per dimension: 1.3 GB for 1M x 1280, never a float matrix); k-means
 * cells of their projections on the top principal axes hold the rows (an
 * orthogonal projection never lengthens a difference, so |P(a - b)| <=
 * |a - b| and no pair within the radius is lost there); a row meets the
 * members of its own cell and of the cells it probes (those whose Voronoi
 * region lies within the radius R = sqrt(2 - 2 cos) of it, by the bisector
 * distance (|x-c_b|^2 - |x-c_a|^2) / 2|c_a-c_b|: all of them, exact;
 * or the max_probe nearest, approximate). Cosines of the quantised rows are
 * exact integer dot products; a pair is a candidate when it can reach the
 * threshold given each row's quantisation error, and candidates are checked
 * on the caller's rows, so every reported cosine is exact.
 */
#ifndef ORDO_AUDIT_H
#define ORDO_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "rank/rank.h"

/* ---- label errors --------------------------------------------------------- */

typedef struct ordo_audit_issue {
    size_t row;          /* row of probs / y */
    int label;           /* the given label y[row] */
    int suggested;       /* the most probable other class (argmax_{j != y} p_j) */
    float p_label;       /* p_y */
    float p_suggested;
    float score;         /* how likely the label is wrong, in [0, 1]; ranks the list */
    int flagged;         /* 1: confident learning counts it among the errors */
} ordo_audit_issue;

typedef struct ordo_audit_label_stats {
    size_t n;            /* labeled rows (y >= 0) */
    size_t flagged;      /* rows confident learning prunes */
    double noise_rate;   /* estimated share of wrong labels: off-diagonal mass of Q */
} ordo_audit_label_stats;

/* Ranks every labeled row (y[i] >= 0) of probs (n x k, rows summing to 1,
 * out-of-fold) by score = 1 - p_y descending (self-confidence, the paper's
 * ranking; ties: lower row). `flagged` marks the rows that confident
 * learning's prune-by-noise-rate removes (paper sec. 3.2). *out: malloc'd,
 * *nout = labeled rows. */
int ordo_audit_label_issues(const float *probs, size_t n, int k, const int *y,
                            ordo_audit_issue **out, size_t *nout, ordo_audit_label_stats *st,
                            ordo_err *err);

/* Leave-one-out k-nearest-neighbour class probabilities: for each of the n
 * rows of x (n x d, any scale: rows are compared by cosine) the votes of its
 * K most similar other labeled rows, weighted by exp(cos / 0.1), plus a
 * Laplace pseudo-count 1/k per class, normalised. A second estimate of
 * p(y | x) that never saw the row's own label. probs: n x k, written. */
int ordo_audit_knn_probs(const float *x, size_t n, size_t d, const int *y, int k, int K,
                         float *probs, ordo_err *err);

/* ---- near-duplicates --------------------------------------------------------- */

/* The default near-duplicate threshold, also the leak threshold of `ordo
 * train`. On sports100 (docs/audit.md) it finds 80 % of altered copies
 * (JPEG q30, half size, crop, flip, brightness) while 0.04 % of pairs of
 * distinct same-class photos pass; 0.745 finds 97 % at 0.95 %. */
#define ORDO_AUDIT_COSINE 0.85

typedef struct ordo_audit_dup_opts {
    double cosine;       /* report pairs with cosine >= this (ORDO_AUDIT_COSINE) */
    int pca_dim;         /* projected width for the cells (64) */
    int cells;           /* k-means cells (0: auto ~ 4 sqrt(n), 1..4096) */
    size_t sample;       /* rows for PCA and k-means (20000; k-means: at
                            least 20 per cell) */
    int max_probe;       /* cells a row meets at most, its own first, then
                            the nearest bisectors (4; 0: every cell within
                            the radius, exact); recall in bench/ */
    size_t exact_rows;   /* up to this many rows the search is exact
                            whatever max_probe says (20000) */
    uint64_t seed;
    /* optional: split the passes over processes (MPI, src/dist); every
     * process calls with the same arguments and gets the same pairs; needs
     * exec->concat */
    const ordo_rank_exec *exec;
} ordo_audit_dup_opts;

void ordo_audit_dup_opts_default(ordo_audit_dup_opts *o);

typedef struct ordo_audit_pair {
    size_t a, b;         /* rows, a < b */
    float cosine;
} ordo_audit_pair;

typedef struct ordo_audit_dup_stats {
    int cells;
    double mean_probe;       /* cells met per row, its own included */
    size_t capped;           /* rows whose probe list max_probe cut (0 = exact) */
    size_t candidates;       /* quantised cosines computed in the join (this process) */
    size_t verified;         /* candidates checked on the full rows (this process) */
    size_t pairs;
    double seconds[4];       /* quantise, cells, join, verify + sort */
} ordo_audit_dup_stats;

/* Every pair of the n rows (read through `read`, dim floats each, any
 * scale) whose cosine is >= o->cosine, sorted by (a, b). With max_probe 0
 * the search is exact; otherwise pairs can be missed (never
 * reported wrongly: every pair is checked on the full rows). *pairs: malloc'd. */
int ordo_audit_dups(size_t n, int dim, ordo_rank_read_fn read, void *ctx,
                    const ordo_audit_dup_opts *o, ordo_audit_pair **pairs, size_t *npairs,
                    ordo_audit_dup_stats *st, ordo_err *err);

/* Groups from the pairs by star clustering: rows with the most partners
 * first (ties: lower row) lead their partners not yet in a group, so every
 * member is a pair with its leader (no chains). group[i] = the leader's
 * row, or -1 for a row in no group. Returns the number of groups, or -1. */
long ordo_audit_groups(size_t n, const ordo_audit_pair *pairs, size_t npairs, int64_t *group,
                       ordo_err *err);

/* Pairs between two sets: for each row of a (na x d) the rows of b (nb x d)
 * with cosine >= cosine, by exact blocked GEMM (both sets small: labels,
 * evaluation sample, a test set). hit_a[i] / hit_b[j] (may be NULL) are set
 * to 1 for rows in such a pair; best_a[i] / arg_a[i] (may be NULL) get
 * row i's best cosine and the row of b it belongs to (-1 / -1 if nb = 0).
 * Returns the number of pairs, or -1. */
long ordo_audit_cross(const float *a, size_t na, const float *b, size_t nb, size_t d,
                      double cosine, uint8_t *hit_a, uint8_t *hit_b, float *best_a,
                      int64_t *arg_a, ordo_err *err);

#endif
