/* audit_store.h - `ordo audit` over a project, and its results in the store.
 *
 * Tables (created on first use; every run is written in one store write
 * transaction, so a run is visible whole or not at all, and readers take
 * the newest complete run):
 *   audit_runs(id INTEGER PRIMARY KEY, created REAL, labels INTEGER,
 *              classes INTEGER, cv_accuracy REAL, flagged INTEGER,
 *              noise_rate REAL, dup_cosine REAL, dup_pairs INTEGER,
 *              dup_groups INTEGER, leaks INTEGER, seconds REAL)
 *   audit_suspects(run_id, image_id, label_event, label, suggested, score,
 *                  rank, PRIMARY KEY(run_id, image_id))
 *       the labels confident learning flags; label_event = labels.id of the
 *       audited event: once the image has a newer event the suspect is
 *       resolved (a correction or a confirmation is a new event, nothing is
 *       deleted).
 *   audit_dups(run_id, image_id, group_id, similarity, PRIMARY KEY(run_id, image_id))
 *       near-duplicate groups: group_id = the image id of the group's
 *       leader (every member is a near-duplicate of it, audit.h),
 *       similarity = the member's best cosine inside it.
 */
#ifndef ORDO_AUDIT_STORE_H
#define ORDO_AUDIT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "learn/learn.h"
#include "learn/learn_store.h"
#include "store/store.h"

typedef struct ordo_audit_run_opts {
    int labels;              /* find label errors */
    int dups;                /* find near-duplicate groups (and leaks) */
    ordo_learn_opts learn;   /* the cross-fitted learner (as `ordo train`) */
    double knn_weight;       /* p = (1 - w) p_model + w p_kNN (0: the model alone) */
    int knn_k;               /* neighbours of the kNN estimate */
    ordo_audit_dup_opts dup; /* dup.cosine is also the leak threshold */
    int save;                /* store the run (0: report only) */
} ordo_audit_run_opts;

void ordo_audit_run_opts_default(ordo_audit_run_opts *o);

typedef struct ordo_audit_suspect {
    int64_t image_id, label_event;
    char *label, *suggested, *annotator;
    float score, p_label, p_suggested;
    int flagged;
} ordo_audit_suspect;

typedef struct ordo_audit_member {
    int64_t image_id, group_id;
    float similarity;
} ordo_audit_member;

typedef struct ordo_audit_leak {
    int64_t train_id, eval_id;   /* the training label kept out, its eval twin */
    float cosine;
} ordo_audit_leak;

typedef struct ordo_audit_result {
    int64_t run_id;              /* 0 when not saved */
    size_t labels;               /* classifier labels audited */
    int classes;
    ordo_learn_report rep;       /* the cross-fitted learner */
    ordo_audit_label_stats lst;
    ordo_audit_suspect *sus;     /* every audited label, most suspect first */
    size_t nsus;
    float *oof;                  /* labels x classes: the learner's out-of-fold
                                    probabilities (before the kNN average), image id order */
    char **class_names;          /* classes */
    ordo_audit_member *members;  /* every image in a group, by (group, image) */
    size_t nmembers;
    long groups;
    size_t pairs;
    ordo_audit_dup_stats dst;
    ordo_audit_leak *leaks;
    size_t nleaks;
    double seconds;
} ordo_audit_result;

/* Runs the audit. Fails with a clear message when a scan is running on the
 * project, when there are no (or too few) labels for label errors, or on a
 * store error. */
int ordo_audit_run(ordo_store *s, const ordo_audit_run_opts *o, ordo_audit_result *out,
                   ordo_err *err);
void ordo_audit_result_free(ordo_audit_result *r);

/* The image ids (ascending) of the training labels (outside the
 * evaluation sample, not unclear) whose image is a near-duplicate (cosine >=
 * `cosine`) of an image of the evaluation sample: what `ordo train` keeps
 * out (ordo_learn_train_opts.exclude). The training side goes, so the sample
 * stays the uniform draw its interval assumes. *ids: malloc'd (may be NULL
 * when *n = 0). */
int ordo_audit_leak_ids(ordo_store *s, double cosine, int64_t **ids, size_t *n, ordo_err *err);

/* The leak guard of every training run (`ordo train`, the server's
 * Retrain: both call this, so they keep the same labels out). The
 * training labels that near-duplicate an evaluation-sample image (computed
 * now, at the threshold of the newest `ordo audit` run that looked for
 * duplicates, ORDO_AUDIT_COSINE before any) are kept out, so the
 * evaluation interval stays honest. When keeping them out would leave too
 * few labels to train (o->min_labels, 2 classes) - a collection made of
 * bursts, where every training photo has a twin in the sample - training
 * falls back to every label and says so: g->kept_in = 1, and the caller
 * must show g's counts (the evaluation is then optimistic). Returns as
 * ordo_learn_train_project; g is filled in every case. */
typedef struct ordo_audit_guard {
    double cosine;       /* the leak threshold used */
    size_t leaks;        /* training labels near-duplicating an evaluation image */
    int kept_in;         /* 1: too few without them, trained with them */
    size_t left;         /* kept_in: training labels there were without the leaks ... */
    int left_classes;    /* ... and their classes */
} ordo_audit_guard;

int ordo_audit_train_project(ordo_store *s, const ordo_learn_train_opts *o,
                             ordo_learn_train_result *r, ordo_audit_guard *g, ordo_err *err);
/* The one sentence both callers show for g (kept_in or leaks kept out);
 * "" when there were no leaks. */
void ordo_audit_guard_text(const ordo_audit_guard *g, char *buf, size_t cap);
/* The guard of a stored classifier version (table audit_train_guard(model_id
 * INTEGER PRIMARY KEY, cosine, leaks, kept_in, left_labels, left_classes),
 * written by ordo_audit_train_project when a run found leaks, so a version
 * trained WITH them stays marked after a restart). 1 found, 0 none (g
 * zeroed), -1 on error. */
int ordo_audit_guard_get(ordo_store *s, int64_t model_id, ordo_audit_guard *g, ordo_err *err);

/* 1 when a scan holds the project's scan lock now, 0 if not, -1 on error. */
int ordo_audit_scan_running(const char *project, ordo_err *err);

/* ---- readers (ranking, the server) ------------------------------------------- */

typedef struct ordo_audit_counts {
    int64_t run_id;          /* the newest run; 0: never audited */
    int64_t labels_run;      /* the newest run that looked for label errors (0: none) */
    int64_t dups_run;        /* ... for duplicates and leaks; the counts below are theirs */
    double cosine;           /* dups_run's threshold */
    double created;
    int64_t flagged;         /* suspects of the newest run */
    int64_t pending;         /* of those, still carrying the audited label event */
    int64_t groups, grouped; /* duplicate groups and their images */
    int64_t leaks;
} ordo_audit_counts;

int ordo_audit_counts_get(ordo_store *s, ordo_audit_counts *c, ordo_err *err);

/* The newest run's id (0: never audited, or on error): a cheap poll, so the
 * server notices an `ordo audit` that ran while it serves. */
int64_t ordo_audit_latest_run(ordo_store *s);

/* The newest run's groups: image ids and their group ids, image id order
 * (*n = 0 when never audited). Free both with free(). */
int ordo_audit_groups_read(ordo_store *s, int64_t **image_ids, int64_t **group_ids, size_t *n,
                           ordo_err *err);

/* Pending suspects of the newest run (most suspect first) whose audited
 * label was not given by `annotator` (NULL: any), up to max. */
int ordo_audit_recheck(ordo_store *s, const char *annotator, size_t max, int64_t **image_ids,
                       size_t *n, ordo_err *err);

#endif
