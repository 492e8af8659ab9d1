/* learn_store.h - the labeled data, evaluation and model versions in the
 * project store.
 *
 * Labels are the store's (the append-only `labels` table, written and read
 * through ordo_store_labels_add / _read; the current label of an image is
 * its newest event). The special answers (ORDO_STORE_LABEL_*) and the rule
 * for a label (ordo_store_label_ok) are the store's too.
 *
 * Models: table learn_models (created on first use), one row per trained
 * version, never updated except for its evaluation columns:
 *   learn_models(id INTEGER PRIMARY KEY, created REAL, kind TEXT,
 *                n_labels INTEGER, n_classes INTEGER, l2 REAL, temperature REAL,
 *                cv_accuracy REAL, eval_n INTEGER, eval_correct INTEGER,
 *                macro_f1 REAL, f1_lo REAL, f1_hi REAL, seconds REAL, blob BLOB)
 * kind: "classifier" (the customer's labels) or "sports" (not-sports vs the
 * rest). blob: ordo_learn_model_to_bytes.
 * The evaluation sample is the store's (ordo_store_eval_read; drawn by
 * `ordo next`); its images are never trained on. */
#ifndef ORDO_LEARN_STORE_H
#define ORDO_LEARN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "learn/learn.h"
#include "store/store.h"

/* Float32 embeddings (n x ordo_store_embed_dim(s)) of the given images;
 * fails naming an image that is missing from the pool. */
int ordo_learn_embeddings(ordo_store *s, const int64_t *ids, size_t n, float *out, ordo_err *err);
/* The same for the logits (n x ordo_store_logits_dim(s)). */
int ordo_learn_logits(ordo_store *s, const int64_t *ids, size_t n, float *out, ordo_err *err);

/* The labeled data as training and evaluation see it. */
typedef struct ordo_learn_data {
    size_t n;               /* images whose current label is not "skip" */
    int64_t *ids;           /* n, image id order */
    const char **label;     /* n, the current label (owned by rows) */
    unsigned char *eval;    /* n, 1 = in the evaluation sample */
    size_t eval_sample;     /* size of the drawn sample, labeled or not */
    ordo_store_label_row *rows;
    size_t nrows;
} ordo_learn_data;

int ordo_learn_data_load(ordo_store *s, ordo_learn_data *d, ordo_err *err);
void ordo_learn_data_free(ordo_learn_data *d);

/* Evaluates a classifier on the labeled evaluation sample of d (labels
 * other than not-sports and unclear). A label the model does not know
 * counts as class k ("other"), so out->k = model classes + 1. */
int ordo_learn_eval_sample(ordo_store *s, const ordo_learn_model *m, const ordo_learn_data *d,
                           int n_boot, uint64_t seed, ordo_learn_eval *out, ordo_err *err);

/* The zero-shot sports prior (the store's per-image score in [0, 1]; NAN
 * if unknown) of the given images. */
int ordo_learn_priors(ordo_store *s, const int64_t *ids, size_t n, float *out, ordo_err *err);

/* The learner recorded for a sports filter fitted as a correction to the
 * zero-shot prior (the prior's log odds as a logit offset). Filters stored
 * before it ("linear" or "") are plain linear models of the embedding. */
#define ORDO_LEARN_FILTER_PRIOR "prior+linear"

/* Trains the sports filter on n rows of x (n x d): y[i] = 1 for a
 * not-sports answer, 0 for any other, -1 ignored; prior (n) the rows'
 * zero-shot P(sports). A two-class model {"sports", "not-sports"} fitted as
 * the correction to the prior (the prior's log odds as a logit offset, no
 * class balancing; opts' other settings apply); predict with
 * ordo_learn_filter_predict(.., with_prior = 1, ..). */
ordo_learn_model *ordo_learn_filter_train(const float *x, size_t n, size_t d, const int *y,
                                          const float *prior, const ordo_learn_opts *opts,
                                          ordo_learn_report *report, ordo_err *err);

/* P(not-sports) (n) of n images under the sports filter f: with_prior 0 -
 * the model alone; 1 - the model on top of the images' priors (n, from
 * ordo_learn_priors): softmax((W z + b + [0, -logit(prior)]) / T). */
int ordo_learn_filter_predict(const ordo_learn_model *f, int with_prior, const float *x,
                              const float *prior, size_t n, float *p_not, ordo_err *err);

/* The sports filter on the labeled evaluation sample: positives are
 * not-sports answers; predicted not-sports when P(not-sports) >= 0.5.
 * with_prior: as in ordo_learn_filter_predict. */
int ordo_learn_eval_filter(ordo_store *s, const ordo_learn_model *f, int with_prior,
                           const ordo_learn_data *d, size_t *tp, size_t *fp, size_t *fn,
                           size_t *tn, ordo_err *err);

typedef struct ordo_learn_version {
    int64_t id;
    double created;
    char kind[16];
    int64_t n_labels;
    int n_classes;
    double l2, temperature, cv_accuracy;
    int64_t eval_n, eval_correct;   /* -1: not evaluated */
    double macro_f1, f1_lo, f1_hi;
    double seconds;
    char learner[16];               /* "linear", "propagate", "finetune"; "" for versions stored
                                     * before the column existed (all linear) */
} ordo_learn_version;

/* 1 when version v's sports filter needs the prior (ORDO_LEARN_FILTER_PRIOR). */
int ordo_learn_filter_is_prior(const ordo_learn_version *v);

/* Stores a new version; writes its id to *id if non-NULL. */
int ordo_learn_version_save(ordo_store *s, const ordo_learn_model *m, const ordo_learn_version *v,
                            int64_t *id, ordo_err *err);
/* Records an evaluation of version id. */
int ordo_learn_version_set_eval(ordo_store *s, int64_t id, int64_t n, int64_t correct,
                                double macro_f1, double f1_lo, double f1_hi, ordo_err *err);
/* The newest version of kind; returns NULL with *found = 0 (err untouched)
 * when there is none, NULL with *found = 1 and err on failure. v may be NULL. */
ordo_learn_model *ordo_learn_version_latest(ordo_store *s, const char *kind,
                                            ordo_learn_version *v, int *found, ordo_err *err);
/* The model of version id; NULL with err if there is none. */
ordo_learn_model *ordo_learn_version_load(ordo_store *s, int64_t id, ordo_err *err);
/* Every version of kind, oldest first (malloc'd; free()). */
int ordo_learn_version_list(ordo_store *s, const char *kind, ordo_learn_version **v, size_t *n,
                            ordo_err *err);

/* Stabilizing predictions (Bloodgood & Vijay-Shanker 2009, "A Method for
 * Stopping Active Learning Based on Stabilizing Predictions"): Cohen's kappa
 * between the predicted labels of versions hist[i-1] and hist[i] (compared
 * by class name) on a fixed sample of the collection (every ceil(N/sample)-th
 * image by id, labeled or not), for the last `pairs` pairs; kappa (nh) gets
 * NAN elsewhere. Their rule stops when the mean of 3 successive kappas
 * reaches 0.99. *n_sample: the images compared. */
int ordo_learn_stability(ordo_store *s, const ordo_learn_version *hist, size_t nh, size_t sample,
                         size_t pairs, double *kappa, size_t *n_sample, ordo_err *err);

/* ---- one training run (`ordo train`, the server's Retrain) ----------------- */

typedef struct ordo_learn_train_opts {
    ordo_learn_opts learn;  /* for both fits */
    uint64_t eval_seed;     /* bootstrap seed of the evaluation */
    size_t min_labels;      /* classifier training labels required (0: none) */
    int learner;            /* ORDO_LEARNER_* of the classifier (0: linear, the quick one
                             * the server's background retraining uses); the sports
                             * filter is always linear */
    size_t max_unlabeled;   /* propagate: unlabeled images sampled (0: the default) */
    /* finetune: learn/ has neither the network nor the activation cache, so
     * the caller fits (cli_ft.c): the training images' ids, their classes;
     * returns the classifier. NULL refuses the finetune learner. */
    ordo_learn_model *(*fit)(void *ctx, const int64_t *ids, size_t n, const int *y, int k,
                             const char *const *names, const ordo_learn_opts *o,
                             ordo_learn_report *rep, ordo_err *err);
    void *fit_ctx;
    int max_classes;        /* 0: no limit; else refuse more distinct labels */
    const int64_t *exclude; /* image ids (ascending) whose labels are kept out of
                               training: leaks (audit's ordo_audit_leak_ids) */
    size_t n_exclude;
} ordo_learn_train_opts;

typedef struct ordo_learn_train_result {
    int64_t model_id;            /* the stored classifier version */
    ordo_learn_model *model;     /* that classifier; owned (the caller may take it) */
    size_t labels;               /* classifier training rows */
    int classes;                 /* distinct labels among them */
    size_t n_sports, n_not;      /* training answers other than / equal to not-sports */
    size_t leaks;                /* training answers kept out by opts->exclude */
    ordo_learn_report rep;       /* the classifier's fit */
    ordo_learn_eval ev;          /* on the evaluation sample; owned */
    int64_t filter_id;           /* the stored sports filter; 0: none trained */
    size_t filter_labels;
    ordo_learn_report filter_rep;
    size_t tp, fp, fn, tn;       /* the filter on the evaluation sample */
} ordo_learn_train_result;

#define ORDO_LEARN_TRAIN_TOO_FEW 1
#define ORDO_LEARN_TRAIN_TOO_MANY 2

/* Trains and stores a new classifier version on the current labels outside
 * the evaluation sample (unclear and not-sports excluded, and the images of
 * o->exclude: the callers pass the leaks, near-duplicates of evaluation
 * images, so the evaluation stays honest), evaluated on the
 * labeled evaluation sample; then, when there are at least 2 not-sports and
 * 2 other training answers, the sports filter (not-sports vs every other
 * answer) as a new "sports" version. Returns 0 (free out with
 * ordo_learn_train_result_free), -1 on error, or ORDO_LEARN_TRAIN_TOO_FEW
 * (fewer than min_labels labels or 2 classes) /
 * ORDO_LEARN_TRAIN_TOO_MANY (more than max_classes) with out->labels and
 * out->classes filled, err set, and nothing stored or owned. */
int ordo_learn_train_project(ordo_store *s, const ordo_learn_train_opts *o,
                             ordo_learn_train_result *out, ordo_err *err);
void ordo_learn_train_result_free(ordo_learn_train_result *r);

/* ---- CSV input (label imports, truth files) -------------------------------- */

typedef struct ordo_learn_csv_row {
    char **f;   /* n fields, NUL-terminated */
    int n;
    int line;   /* 1-based line where the record ends */
} ordo_learn_csv_row;

typedef struct ordo_learn_csv {
    ordo_learn_csv_row *rows;
    size_t nrows;
} ordo_learn_csv;

/* Reads a whole CSV file (RFC 4180; blank lines skipped). */
int ordo_learn_csv_read(const char *path, ordo_learn_csv *out, ordo_err *err);
void ordo_learn_csv_free(ordo_learn_csv *c);

#endif
