/* learn.h - retraining, calibration, evaluation statistics and the
 * active-learning simulation. Pure in-memory code over arrays: the store
 * feeds it embeddings and labels and keeps the serialized models it returns.
 *
 * Conventions: embeddings are row-major float32 (n x d). Class labels are
 * ints in [0, k); -1 means "no label". Probabilities are row-major n x k.
 * All randomness comes from an explicit seed, so every function here is
 * deterministic for the same inputs and seed.
 */
#ifndef ORDO_LEARN_H
#define ORDO_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* ---------------------------------------------------------------------------
 * Classifier: multinomial logistic regression with L2 on standardized
 * (optionally PCA-reduced) embeddings, class-balanced, full-batch L-BFGS over
 * cblas_sgemm, the L2 strength chosen by stratified k-fold cross-validation,
 * then temperature-scaled on the out-of-fold logits. k = 2 gives the binary
 * sports filter and the ATLAS error predictor through the same code path.
 * ------------------------------------------------------------------------ */

typedef struct ordo_learn_model ordo_learn_model; /* opaque */

typedef struct ordo_learn_opts {
    double l2;             /* > 0: use this strength, skip CV; <= 0: choose by CV */
    const double *l2_grid; /* CV grid (strength per mean sample loss); NULL: built-in */
    int n_l2_grid;
    int cv_folds;          /* >= 2; fewer if the data are too small */
    int pca_dim;           /* 0: no PCA; else project standardized features to this many */
    int class_balanced;    /* weight sample i by n / (k_present * n_class(i)) */
    int calibrate;         /* fit a temperature on out-of-fold logits (needs CV folds) */
    int max_iter;          /* L-BFGS iterations per fit */
    double tol;            /* stop when max |gradient| < tol */
    uint64_t seed;         /* fold assignment */
    const float *row_weight; /* n (indexed like x), >= 0, multiplies each row's weight
                              * (after class balancing, if on); NULL: all 1 */
    const float *offset;   /* n x k (indexed like x and the classes), finite: a fixed
                            * part of each row's logits, added in every fit, the CV
                            * and the calibration, so the model learns only the
                            * correction to it (a GLM offset); predict with
                            * ordo_learn_predict_offset. NULL: none */
} ordo_learn_opts;

/* Fills the defaults: CV over a 5-point grid, 3 folds, no PCA, balanced,
 * calibrated, 200 iterations, tol 1e-4, seed 1. */
void ordo_learn_opts_default(ordo_learn_opts *o);

/* What a training run found; plain data, filled by ordo_learn_train. */
typedef struct ordo_learn_report {
    double l2;            /* chosen strength */
    double cv_nll;        /* out-of-fold mean NLL at the chosen strength (before T) */
    double cv_accuracy;   /* out-of-fold accuracy at the chosen strength */
    double temperature;   /* 1 when not calibrated */
    double cv_nll_calibrated;
    int n_classes_present;
    int iterations;       /* of the final fit */
    double seconds;       /* wall time of the whole call */
} ordo_learn_report;

/* Trains on n rows of x (n x d) with labels y in [0, k) (rows with y < 0
 * are ignored). Classes with no example get probability 0 at prediction.
 * class_names may be NULL (then "0", "1", ...). If oof_probs is not NULL it
 * receives n x k out-of-fold probabilities at the chosen strength,
 * temperature applied (rows with y < 0 are zero); it needs CV (l2 <= 0 or
 * calibrate). report may be NULL. Returns NULL and fills err on failure. */
ordo_learn_model *ordo_learn_train(const float *x, size_t n, size_t d, const int *y, int k,
                                   const char *const *class_names, const ordo_learn_opts *opts,
                                   float *oof_probs, ordo_learn_report *report, ordo_err *err);

void ordo_learn_model_free(ordo_learn_model *m);

int ordo_learn_model_dim(const ordo_learn_model *m);      /* input d */
int ordo_learn_model_classes(const ordo_learn_model *m);  /* k */
const char *ordo_learn_model_class_name(const ordo_learn_model *m, int c); /* NULL if out of range */
double ordo_learn_model_temperature(const ordo_learn_model *m);
double ordo_learn_model_l2(const ordo_learn_model *m);
void ordo_learn_model_set_temperature(ordo_learn_model *m, double t); /* t > 0 */

/* Calibrated probabilities (n x k) for n rows of x (n x d, d = model dim).
 * logits (n x k, may be NULL) receives the uncalibrated logits, -INFINITY
 * for classes absent from training. */
int ordo_learn_predict(const ordo_learn_model *m, const float *x, size_t n, float *probs,
                       float *logits, ordo_err *err);

/* The same with a fixed offset (n x k) added to the logits before the
 * temperature, for a model trained with ordo_learn_opts.offset:
 * probs = softmax((W z + b + offset) / T). offset NULL: ordo_learn_predict. */
int ordo_learn_predict_offset(const ordo_learn_model *m, const float *x, size_t n,
                              const float *offset, float *probs, float *logits, ordo_err *err);

/* The offset of a two-class filter over {sports, not-sports} (in that
 * class order) from the zero-shot prior P(sports) of each row: 0 for sports,
 * -logit(prior) for not-sports, so softmax of the offset alone gives back
 * P(not-sports) = 1 - prior (a Bayesian update: the trained part is the log
 * likelihood ratio the labels add to the prior odds). The prior is clamped
 * to [1e-4, 1 - 1e-4]; NaN (unknown) counts as 0.5. off: n x 2. */
void ordo_learn_prior_offset(const float *prior, size_t n, float *off);

/* Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural
 * Networks"): the T > 0 minimizing mean NLL of softmax(logits / T) over the
 * rows with y >= 0. Logits of -INFINITY are allowed (absent classes). */
double ordo_learn_fit_temperature(const float *logits, size_t n, int k, const int *y);

/* Mean negative log-likelihood of softmax(logits / T) (rows with y >= 0). */
double ordo_learn_nll(const float *logits, size_t n, int k, const int *y, double t);

/* Objective and gradient of the weighted, L2-regularized softmax loss at
 * W (k x d, row-major) and b (k), exposed for the finite-difference test:
 *   f = sum_i w_i * CE_i / sum_i w_i + l2/2 * |W|^2   (b unregularized).
 * sample_w may be NULL (all 1). gW (k x d) and gb (k) may be NULL. */
double ordo_learn_softmax_loss(const float *x, size_t n, size_t d, const int *y, int k,
                               const float *sample_w, const float *W, const float *b, double l2,
                               float *gW, float *gb);

/* Serialization: a versioned little-endian blob
 *   magic "ORDOLRN1", version, kind, dims, class names, parameters,
 *   XXH64 checksum of everything before it.
 * from_bytes checks every length and the checksum before trusting a byte. */
int ordo_learn_model_to_bytes(const ordo_learn_model *m, unsigned char **buf, size_t *len,
                              ordo_err *err); /* *buf: free() */
ordo_learn_model *ordo_learn_model_from_bytes(const void *buf, size_t len, ordo_err *err);

/* ---------------------------------------------------------------------------
 * Learners (semi.c): "linear" is ordo_learn_train above; "propagate" also
 * uses the unlabeled rows (label propagation on their k-nearest-neighbour
 * graph, Zhou et al. 2004, averaged with the linear model's probabilities,
 * as pseudo-labels weighted by certainty, after Iscen et al. 2019) and
 * still returns a linear model, so prediction and the
 * stored format do not change.
 * ------------------------------------------------------------------------ */

/* ORDO_LEARNER_FINETUNE (finetune.h) trains the network's head from the
 * activation cache; it needs the cache, so ordo_learn_train_with refuses it
 * and the simulation runs it only with ordo_learn_sim_config.ft. */
enum { ORDO_LEARNER_LINEAR = 0, ORDO_LEARNER_PROPAGATE = 1, ORDO_LEARNER_FINETUNE = 2 };

/* The learner of a name ("linear", "propagate"); -1 if unknown. */
int ordo_learn_learner_id(const char *name);
/* Its name; NULL if out of range. */
const char *ordo_learn_learner_name(int id);

typedef struct ordo_learn_semi_opts {
    int knn;              /* neighbours per row (20) */
    double alpha;         /* propagation strength in (0, 1) (0.99) */
    int iterations;       /* of F <- alpha S F + Y (30) */
    double lambda;        /* total weight of the pseudo-labeled rows against the
                           * labeled rows' 1 (0.3; 0: the linear learner) */
    size_t max_unlabeled; /* seeded sample of the unlabeled rows beyond this (10,000) */
} ordo_learn_semi_opts;

void ordo_learn_semi_default(ordo_learn_semi_opts *o);

/* Label propagation alone: F (n x k) = the scores after `iterations` steps
 * of F <- alpha S F + Y over the k-nearest-neighbour graph of all n rows
 * (cosine; w = max(0, cos)^3; S = D^-1/2 (A + A^T) D^-1/2); Y_ic = 1/n_c for
 * rows with y_i = c >= 0. */
int ordo_learn_propagate(const float *x, size_t n, size_t d, const int *y, int k,
                         const ordo_learn_semi_opts *so, float *F, ordo_err *err);

/* The "propagate" learner. Rows with y >= 0 are labeled; rows with y < 0
 * are its unlabeled pool when unlabeled is NULL or unlabeled[i] != 0.
 * oof_probs and report are those of the first (labeled-only) fit; so may be
 * NULL (defaults). */
ordo_learn_model *ordo_learn_train_semi(const float *x, size_t n, size_t d, const int *y, int k,
                                        const char *const *class_names,
                                        const ordo_learn_opts *opts,
                                        const unsigned char *unlabeled,
                                        const ordo_learn_semi_opts *so, float *oof_probs,
                                        ordo_learn_report *report, ordo_err *err);

/* Trains with learner id (defaults for its own options). */
ordo_learn_model *ordo_learn_train_with(int learner, const float *x, size_t n, size_t d,
                                        const int *y, int k, const char *const *class_names,
                                        const ordo_learn_opts *opts,
                                        const unsigned char *unlabeled, float *oof_probs,
                                        ordo_learn_report *report, ordo_err *err);

/* Cohen's kappa (Cohen 1960) between two labelings a, b (values in [0, k)):
 * (p_o - p_e) / (1 - p_e), p_o the observed agreement, p_e the agreement
 * expected from the marginals; 1 when p_e = 1. The stopping criterion of
 * Bloodgood & Vijay-Shanker 2009 compares successive models this way. */
double ordo_learn_kappa(const int *a, const int *b, size_t n, int k);

/* ---------------------------------------------------------------------------
 * ATLAS-style error predictor (Munro, "Human-in-the-Loop Machine Learning",
 * ch. 5, active transfer learning for uncertainty sampling): a binary model,
 * trained on held-out (out-of-fold) predictions of labeled data, that
 * predicts whether the current model is wrong on an image. Features: the
 * embedding plus the model's max probability, margin and normalized entropy.
 * ------------------------------------------------------------------------ */

/* x: n x d, probs: n x k (out-of-fold probabilities of the current model),
 * y: true labels (rows with y < 0 ignored). Fails if the held-out
 * predictions are all right or all wrong (nothing to learn). */
ordo_learn_model *ordo_learn_atlas_train(const float *x, size_t n, size_t d, const float *probs,
                                         int k, const int *y, const ordo_learn_opts *opts,
                                         ordo_err *err);
/* p_wrong[i] = predicted probability that the current model (whose
 * probabilities are probs, n x k) is wrong on row i. */
int ordo_learn_atlas_score(const ordo_learn_model *atlas, const float *x, size_t n, size_t d,
                           const float *probs, int k, float *p_wrong, ordo_err *err);

/* ---------------------------------------------------------------------------
 * Evaluation statistics.
 * ------------------------------------------------------------------------ */

/* Wilson score interval for k successes in n trials at normal quantile z
 * (1.959964 for 95 %). n = 0 gives [0, 1]. */
void ordo_learn_wilson(size_t k, size_t n, double z, double *lo, double *hi);

/* Smallest n whose Wilson interval at accuracy p has half-width <= half. */
size_t ordo_learn_sample_size(double p, double half, double z);

typedef struct ordo_learn_pair {
    int truth, predicted;
    size_t count;
} ordo_learn_pair;

typedef struct ordo_learn_eval {
    size_t n, correct;
    double accuracy, acc_lo, acc_hi;  /* Wilson 95 % */
    double macro_f1, f1_lo, f1_hi;    /* percentile bootstrap 95 % */
    int k;
    size_t *support;      /* k: true count per class */
    size_t *predicted;    /* k: predicted count per class */
    size_t *tp;           /* k */
    double *precision;    /* k: NAN when never predicted */
    double *recall;       /* k: NAN when absent from the truth */
    double *f1;           /* k */
    ordo_learn_pair *confused; /* most confused (truth != predicted) pairs, descending */
    size_t n_confused;
} ordo_learn_eval;

/* Evaluates predictions against the truth (pairs with truth < 0 are
 * skipped). Macro-F1 averages over classes present in truth or predictions
 * (as scikit-learn does). n_boot bootstrap resamples with the seed (0: no
 * interval). Keeps the top max_pairs confused pairs. Free with _eval_free. */
int ordo_learn_evaluate(const int *truth, const int *pred, size_t n, int k, int n_boot,
                        uint64_t seed, size_t max_pairs, ordo_learn_eval *out, ordo_err *err);
void ordo_learn_eval_free(ordo_learn_eval *e);

/* ---------------------------------------------------------------------------
 * Simulation of the labeling loop with known labels as the oracle.
 * ------------------------------------------------------------------------ */

/* What a strategy sees each round. Everything is read-only. */
typedef struct ordo_learn_sim_ctx {
    size_t n, d;
    const float *x;               /* n x d pool embeddings */
    int k;                        /* columns of probs */
    const float *probs;           /* n x k: current model's probabilities, or the
                                   * prior (ImageNet) probabilities before the first
                                   * model; NULL if neither exists */
    int probs_from_model;         /* 1 if probs came from a trained model */
    const unsigned char *labeled; /* n: 1 = has a label (training or eval) */
    const unsigned char *candidate; /* n: 1 = may be picked (unlabeled, not eval) */
    const int *labels;            /* n: label of labeled training rows, else -1 */
    const unsigned char *is_eval; /* n: 1 = in the evaluation sample */
    const float *oof_probs;       /* n x k: out-of-fold probs of labeled training rows
                                   * (others 0), NULL before the first model */
    size_t batch;                 /* how many to pick */
    int round;                    /* 0-based */
    uint64_t seed;                /* per (seed, round, strategy) */
    void *user;                   /* the strategy's own data */
} ordo_learn_sim_ctx;

/* A strategy writes up to ctx->batch distinct candidate indices into picked
 * and returns how many (>= 0), or -1 with err set. */
typedef long (*ordo_learn_strategy_fn)(const ordo_learn_sim_ctx *ctx, size_t *picked,
                                       ordo_err *err);

typedef struct ordo_learn_strategy {
    const char *name;
    ordo_learn_strategy_fn fn;
    void *user;
} ordo_learn_strategy;

/* The selector of a score strategy (modAL's "scoring function + selector"):
 * the ctx->batch candidates with the highest score[i] (score NULL: all
 * equal, i.e. a random order), ties broken by a key drawn for every row from
 * ctx->seed. Returns how many it wrote to picked. (ordo's strategies are
 * registered in src/loop/, which may use rank as well as learn.) */
long ordo_learn_pick_top(const ordo_learn_sim_ctx *ctx, const double *score, size_t *picked,
                         ordo_err *err);

typedef struct ordo_learn_sim_config {
    size_t n, d;
    const float *x;            /* pool embeddings, n x d */
    const int *truth;          /* pool labels in [0, k) (the oracle) */
    int k;
    const char *const *class_names; /* may be NULL */
    const float *prior_probs;  /* n x prior_k, the probabilities before any model; may be NULL */
    int prior_k;
    size_t n_test;             /* optional extra test set (0: none) */
    const float *test_x;
    const int *test_truth;
    size_t eval_size;          /* evaluation sample drawn first from the pool, seeded */
    size_t batch;              /* labels per round */
    int rounds;
    int n_seeds;
    uint64_t seed;             /* seed s uses seed + s */
    ordo_learn_opts train;     /* how each round retrains */
    const int *learners;       /* n_learners learner ids (ORDO_LEARNER_*); NULL: linear.
                                * Each strategy runs with each learner */
    int n_learners;
    double stop_kappa;         /* stopping criterion: kappa threshold (0: 0.99) */
    int stop_window;           /* over the mean of this many successive kappas (0: 3) */
    /* the finetune learner's data (learn/finetune.h, opaque here): pool
     * rows' cache slots in ft->slot (n), the test rows' in ft_test_slot;
     * NULL: the finetune learner is refused */
    const struct ordo_learn_ft_data *ft;
    const int64_t *ft_test_slot;
    const struct ordo_learn_ft_opts *ft_opts;   /* NULL: defaults */
    int ft_last;               /* 1: the finetune learner trains at the last round only,
                                * the linear learner before it */
    int threads;               /* (seed, strategy) runs in parallel; <= 1: serial.
                                * Strategy functions must then be thread-safe, and
                                * OPENBLAS_NUM_THREADS=1 avoids oversubscription */
} ordo_learn_sim_config;

typedef struct ordo_learn_sim_point {
    size_t labels;             /* training labels so far */
    double eval_mean, eval_sd; /* accuracy on the evaluation sample over seeds */
    double test_mean, test_sd; /* on the test set (NAN if none) */
} ordo_learn_sim_point;

typedef struct ordo_learn_sim_curve {
    char name[64];
    int n_points;
    ordo_learn_sim_point *points;    /* n_points */
    double *eval_acc;                /* n_seeds x n_points, per-seed accuracies */
    double *test_acc;                /* n_seeds x n_points (NAN if no test) */
    double *eval_lo, *eval_hi;       /* n_seeds x n_points: Wilson 95 % on the eval sample */
    double *rest_acc;                /* n_seeds x n_points: accuracy on the pool rows
                                      * neither labeled nor in the eval sample */
    /* area under the accuracy-vs-labels curve divided by the label range
     * (so it is a mean accuracy), per seed mean and standard error; on the
     * test set when there is one, else on the evaluation sample */
    double auc, auc_se;
    long labels_to_match_random;     /* -1 if never (or no random curve) */
    /* stabilizing predictions (Bloodgood & Vijay-Shanker 2009): kappa
     * between round r's and round r-1's predictions on the stop set (every
     * pool row outside the evaluation sample, fixed per seed); NAN at r = 0 */
    double *kappa;                   /* n_seeds x n_points */
    int *stop_round;                 /* n_seeds: first round whose mean kappa over the
                                      * window reaches the threshold; -1: never */
    double stop_labels_mean;         /* over the seeds where it fired (NAN: none) */
    int stop_fired;                  /* how many seeds it fired in */
    double stop_acc_mean;            /* accuracy at the stop (test, else eval), those seeds */
    double stop_final_acc_mean;      /* their accuracy at the last round */
} ordo_learn_sim_curve;

typedef struct ordo_learn_sim_result {
    int n_curves, n_seeds;
    ordo_learn_sim_curve *curves;
    /* curves = strategies x learners, strategy-major; a curve is named
     * "strategy" when only the linear learner runs, else "strategy/learner" */
    /* share of (seed, round, strategy) triples whose eval-sample Wilson
     * interval contains the test accuracy (NAN without a test set) */
    double eval_ci_coverage;
    /* the same against the accuracy on the unlabeled rest of the pool (the
     * population the eval sample is drawn from, less the training picks) */
    double rest_ci_coverage;
} ordo_learn_sim_result;

/* Runs every strategy for n_seeds seeds. For each seed the evaluation
 * sample is drawn once and shared by all strategies; each round the strategy
 * picks a batch, the oracle labels it, the model is retrained on all
 * training labels and measured. Curves start at the first batch. */
int ordo_learn_simulate(const ordo_learn_sim_config *cfg, const ordo_learn_strategy *strategies,
                        int n_strategies, ordo_learn_sim_result *out, ordo_err *err);
void ordo_learn_sim_result_free(ordo_learn_sim_result *r);

#endif
