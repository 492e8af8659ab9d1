/* learn_store.c - the labeled data as training sees it, evaluation on the
 * sample, and model versions (table learn_models) in the project store. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/db.h"
#include "base/f16.h"
#include "learn/learn_rng.h"
#include "learn/learn_store.h"

void ordo_learn_data_free(ordo_learn_data *d)
{
    if (!d) return;
    free(d->ids);
    free(d->label);
    free(d->eval);
    ordo_store_labels_free(d->rows, d->nrows);
    memset(d, 0, sizeof *d);
}

int ordo_learn_data_load(ordo_store *s, ordo_learn_data *d, ordo_err *err)
{
    memset(d, 0, sizeof *d);
    int64_t *ev = NULL;
    size_t nev = 0;
    if (ordo_store_labels_read(s, 1, &d->rows, &d->nrows, err)) return -1;
    if (ordo_store_eval_read(s, &ev, NULL, NULL, &nev, err)) {
        ordo_learn_data_free(d);
        return -1;
    }
    size_t m = d->nrows ? d->nrows : 1;
    d->ids = malloc(m * sizeof *d->ids);
    d->label = malloc(m * sizeof *d->label);
    d->eval = malloc(m);
    if (!d->ids || !d->label || !d->eval) {
        free(ev);
        ordo_learn_data_free(d);
        return ordo_err_set(err, "labels: out of memory");
    }
    d->eval_sample = nev;
    size_t j = 0; /* both lists are in image id order: merge */
    for (size_t i = 0; i < d->nrows; i++) {
        const ordo_store_label_row *r = &d->rows[i];
        if (!strcmp(r->label, ORDO_STORE_LABEL_SKIP)) continue;
        while (j < nev && ev[j] < r->image_id) j++;
        d->ids[d->n] = r->image_id;
        d->label[d->n] = r->label;
        d->eval[d->n] = j < nev && ev[j] == r->image_id;
        d->n++;
    }
    free(ev);
    return 0;
}

/* Rows of one of the store's matrices (f16) for the given images. */
static int matrix_rows(ordo_store *s, const int64_t *ids, size_t n, int logits, float *out,
                       ordo_err *err)
{
    ordo_store_item *items = NULL;
    size_t ni = 0, rows = 0;
    if (ordo_store_items(s, &items, &ni, err)) return -1;
    const uint16_t *E = logits ? ordo_store_logits(s, &rows, err) : ordo_store_embeddings(s, &rows, err);
    if (!E) { free(items); return -1; }
    size_t w = (size_t)(logits ? ordo_store_logits_dim(s) : ordo_store_embed_dim(s));
    /* items come in id order: binary search each id */
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = ni;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (items[mid].id < ids[i]) lo = mid + 1;
            else hi = mid;
        }
        if (lo == ni || items[lo].id != ids[i] || items[lo].slot < 0 ||
            (size_t)items[lo].slot >= rows) {
            free(items);
            return ordo_err_set(err, "image %lld has no %s in the pool (file missing?)",
                                (long long)ids[i], logits ? "logits" : "embedding");
        }
        ordo_f16_to_f32(E + (size_t)items[lo].slot * w, out + i * w, w);
    }
    free(items);
    return 0;
}

int ordo_learn_embeddings(ordo_store *s, const int64_t *ids, size_t n, float *out, ordo_err *err)
{
    return matrix_rows(s, ids, n, 0, out, err);
}

int ordo_learn_logits(ordo_store *s, const int64_t *ids, size_t n, float *out, ordo_err *err)
{
    return matrix_rows(s, ids, n, 1, out, err);
}

int ordo_learn_priors(ordo_store *s, const int64_t *ids, size_t n, float *out, ordo_err *err)
{
    ordo_store_item *items = NULL;
    size_t ni = 0;
    if (ordo_store_items(s, &items, &ni, err)) return -1;
    for (size_t i = 0; i < n; i++) {   /* items in id order: binary search */
        size_t lo = 0, hi = ni;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (items[mid].id < ids[i]) lo = mid + 1;
            else hi = mid;
        }
        out[i] = lo < ni && items[lo].id == ids[i] ? items[lo].sports : NAN;
    }
    free(items);
    return 0;
}

/* The prior's log odds are a fixed offset of the logits (a Bayesian update;
 * the offset of a generalized linear model, McCullagh & Nelder 1989, 4.3),
 * so the fit learns only the log likelihood ratio the labels add: with few
 * or uninformative answers the L2 penalty (chosen by CV like any fit) keeps
 * the weights near 0, the intercept shifts every photo alike and the
 * filter ranks exactly like the prior; the labels move it only where they
 * disagree with it. Not class-balanced: the prior is a probability over
 * the collection, and balancing would multiply every photo's not-sports
 * odds by n_sports / n_not. */
ordo_learn_model *ordo_learn_filter_train(const float *x, size_t n, size_t d, const int *y,
                                          const float *prior, const ordo_learn_opts *opts,
                                          ordo_learn_report *report, ordo_err *err)
{
    static const char *const names[2] = {"sports", ORDO_STORE_LABEL_NOT_SPORTS};
    ordo_learn_opts o;
    if (opts) o = *opts;
    else ordo_learn_opts_default(&o);
    float *off = malloc((n ? n : 1) * 2 * sizeof *off);
    if (!off) return ordo_err_set(err, "filter: out of memory"), NULL;
    ordo_learn_prior_offset(prior, n, off);
    o.class_balanced = 0;
    o.offset = off;
    o.row_weight = NULL;
    /* the grid reaches strengths at which the correction is all but 0 (the
     * prior's ranking, shifted by the intercept): cross-validation then
     * keeps the prior alone unless a correction predicts held-out answers
     * better, which with a handful of not-sports answers it rarely does */
    static const double grid[] = {10, 1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3};
    if (!o.l2_grid && o.l2 <= 0) {
        o.l2_grid = grid;
        o.n_l2_grid = (int)(sizeof grid / sizeof *grid);
    }
    ordo_learn_model *m = ordo_learn_train(x, n, d, y, 2, names, &o, NULL, report, err);
    free(off);
    return m;
}

int ordo_learn_filter_is_prior(const ordo_learn_version *v)
{
    return v && !strcmp(v->learner, ORDO_LEARN_FILTER_PRIOR);
}

int ordo_learn_filter_predict(const ordo_learn_model *f, int with_prior, const float *x,
                              const float *prior, size_t n, float *p_not, ordo_err *err)
{
    int neg = -1;
    for (int c = 0; c < ordo_learn_model_classes(f) && c < 2; c++)
        if (!strcmp(ordo_learn_model_class_name(f, c), ORDO_STORE_LABEL_NOT_SPORTS)) neg = c;
    if (ordo_learn_model_classes(f) != 2 || neg < 0)
        return ordo_err_set(err, "the sports filter is not a two-class model with a '%s' class",
                            ORDO_STORE_LABEL_NOT_SPORTS);
    float *pr = malloc((n ? n : 1) * 2 * sizeof *pr);
    float *off = with_prior ? malloc((n ? n : 1) * 2 * sizeof *off) : NULL;
    int rc = -1;
    if (!pr || (with_prior && !off)) { ordo_err_set(err, "filter: out of memory"); goto out; }
    if (off) {
        ordo_learn_prior_offset(prior, n, off);
        if (neg == 0)   /* the offset belongs to the not-sports column */
            for (size_t i = 0; i < n; i++) { off[i * 2] = off[i * 2 + 1]; off[i * 2 + 1] = 0; }
    }
    if (ordo_learn_predict_offset(f, x, n, off, pr, NULL, err)) goto out;
    for (size_t i = 0; i < n; i++) p_not[i] = pr[i * 2 + (size_t)neg];
    rc = 0;
out:
    free(pr);
    free(off);
    return rc;
}

/* Embeddings + predictions of the labeled eval images accepted by keep()
 * (filter: with not-sports answers, and probs_out is n x 2 P(sports),
 * P(not-sports) under the filter, with its prior when with_prior). */
static int eval_rows(ordo_store *s, const ordo_learn_model *m, const ordo_learn_data *d,
                     int filter, int with_prior, size_t *n_out, size_t **rows_out,
                     float **probs_out, ordo_err *err)
{
    size_t n = 0;
    size_t *rows = malloc((d->n ? d->n : 1) * sizeof *rows);
    int64_t *ids = malloc((d->n ? d->n : 1) * sizeof *ids);
    float *x = NULL, *pr = NULL;
    if (!rows || !ids) goto oom;
    for (size_t i = 0; i < d->n; i++) {
        if (!d->eval[i] || !strcmp(d->label[i], ORDO_STORE_LABEL_UNCLEAR)) continue;
        if (!filter && !strcmp(d->label[i], ORDO_STORE_LABEL_NOT_SPORTS)) continue;
        rows[n] = i;
        ids[n++] = d->ids[i];
    }
    int k = ordo_learn_model_classes(m);
    x = malloc((n ? n : 1) * (size_t)ordo_store_embed_dim(s) * sizeof *x);
    pr = malloc((n ? n : 1) * (size_t)(k > 2 ? k : 2) * sizeof *pr);
    if (!x || !pr) goto oom;
    if (n && ordo_learn_embeddings(s, ids, n, x, err)) goto fail;
    if (n && !filter && ordo_learn_predict(m, x, n, pr, NULL, err)) goto fail;
    if (n && filter) {
        float *q = malloc(n * 2 * sizeof *q);   /* priors, then P(not-sports) */
        if (!q) goto oom;
        if (ordo_learn_priors(s, ids, n, q, err) ||
            ordo_learn_filter_predict(m, with_prior, x, q, n, q + n, err)) {
            free(q);
            goto fail;
        }
        for (size_t i = 0; i < n; i++) { pr[i * 2 + 1] = q[n + i]; pr[i * 2] = 1 - q[n + i]; }
        free(q);
    }
    free(ids);
    free(x);
    *n_out = n;
    *rows_out = rows;
    *probs_out = pr;
    return 0;
oom:
    ordo_err_set(err, "evaluation: out of memory");
fail:
    free(rows); free(ids); free(x); free(pr);
    return -1;
}

int ordo_learn_eval_sample(ordo_store *s, const ordo_learn_model *m, const ordo_learn_data *d,
                           int n_boot, uint64_t seed, ordo_learn_eval *out, ordo_err *err)
{
    size_t n, *rows;
    float *pr;
    if (eval_rows(s, m, d, 0, 0, &n, &rows, &pr, err)) return -1;
    int k = ordo_learn_model_classes(m);
    int *truth = malloc((n ? n : 1) * sizeof *truth), *pred = malloc((n ? n : 1) * sizeof *pred);
    int rc = -1;
    if (!truth || !pred) { ordo_err_set(err, "evaluation: out of memory"); goto done; }
    for (size_t i = 0; i < n; i++) {
        const char *l = d->label[rows[i]];
        truth[i] = k;
        for (int c = 0; c < k; c++)
            if (!strcmp(ordo_learn_model_class_name(m, c), l)) { truth[i] = c; break; }
        const float *p = pr + i * (size_t)k;
        int am = 0;
        for (int c = 1; c < k; c++)
            if (p[c] > p[am]) am = c;
        pred[i] = am;
    }
    rc = ordo_learn_evaluate(truth, pred, n, k + 1, n_boot, seed, 10, out, err);
done:
    free(truth); free(pred); free(rows); free(pr);
    return rc;
}

int ordo_learn_eval_filter(ordo_store *s, const ordo_learn_model *f, int with_prior,
                           const ordo_learn_data *d, size_t *tp, size_t *fp, size_t *fn,
                           size_t *tn, ordo_err *err)
{
    size_t n, *rows;
    float *pr;
    *tp = *fp = *fn = *tn = 0;
    if (eval_rows(s, f, d, 1, with_prior, &n, &rows, &pr, err)) return -1;
    for (size_t i = 0; i < n; i++) {
        int truth = !strcmp(d->label[rows[i]], ORDO_STORE_LABEL_NOT_SPORTS);
        int said = pr[i * 2 + 1] >= 0.5f;
        if (truth && said) (*tp)++;
        else if (!truth && said) (*fp)++;
        else if (truth) (*fn)++;
        else (*tn)++;
    }
    free(rows);
    free(pr);
    return 0;
}

static int has_learner_col(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('learn_models') WHERE "
                               "name = 'learner'", -1, &st, NULL) != SQLITE_OK)
        return 0;
    int r = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return r;
}

static int ensure_models(sqlite3 *db, ordo_err *err)
{
    if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS learn_models(id INTEGER PRIMARY KEY,"
                         " created REAL NOT NULL, kind TEXT NOT NULL, n_labels INTEGER,"
                         " n_classes INTEGER, l2 REAL, temperature REAL, cv_accuracy REAL,"
                         " eval_n INTEGER, eval_correct INTEGER, macro_f1 REAL, f1_lo REAL,"
                         " f1_hi REAL, seconds REAL, blob BLOB NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return ordo_db_err(db, "learn_models", err);
    /* the learner column came later: projects made before it get it here */
    if (!has_learner_col(db) &&
        sqlite3_exec(db, "ALTER TABLE learn_models ADD COLUMN learner TEXT", NULL, NULL, NULL) !=
            SQLITE_OK)
        return ordo_db_err(db, "learn_models learner", err);
    return 0;
}

static void bind_dbl(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

int ordo_learn_version_save(ordo_store *s, const ordo_learn_model *m, const ordo_learn_version *v,
                            int64_t *id, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    unsigned char *blob = NULL;
    size_t len = 0;
    if (ordo_learn_model_to_bytes(m, &blob, &len, err)) return -1;
    if (ordo_store_begin(s, err)) { free(blob); return -1; }
    sqlite3_stmt *st = NULL;
    if (ensure_models(db, err)) goto fail;
    if (sqlite3_prepare_v2(db, "INSERT INTO learn_models(created, kind, n_labels, n_classes, l2,"
                               " temperature, cv_accuracy, eval_n, eval_correct, macro_f1, f1_lo,"
                               " f1_hi, seconds, blob, learner) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,"
                               "?9,?10,?11,?12,?13,?14,?15)", -1, &st, NULL) != SQLITE_OK) {
        ordo_db_err(db, "learn_models", err);
        goto fail;
    }
    sqlite3_bind_double(st, 1, ordo_clock_unix());
    sqlite3_bind_text(st, 2, v->kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, v->n_labels);
    sqlite3_bind_int(st, 4, v->n_classes);
    bind_dbl(st, 5, v->l2);
    bind_dbl(st, 6, v->temperature);
    bind_dbl(st, 7, v->cv_accuracy);
    if (v->eval_n >= 0) {
        sqlite3_bind_int64(st, 8, v->eval_n);
        sqlite3_bind_int64(st, 9, v->eval_correct);
    }
    bind_dbl(st, 10, v->macro_f1);
    bind_dbl(st, 11, v->f1_lo);
    bind_dbl(st, 12, v->f1_hi);
    bind_dbl(st, 13, v->seconds);
    sqlite3_bind_blob(st, 14, blob, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(st, 15, v->learner[0] ? v->learner : "linear", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        ordo_db_err(db, "learn_models insert", err);
        goto fail;
    }
    if (id) *id = sqlite3_last_insert_rowid(db);
    sqlite3_finalize(st);
    free(blob);
    return ordo_store_commit(s, err);
fail:
    sqlite3_finalize(st);
    free(blob);
    ordo_store_rollback(s);
    return -1;
}

int ordo_learn_version_set_eval(ordo_store *s, int64_t id, int64_t n, int64_t correct,
                                double macro_f1, double f1_lo, double f1_hi, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    if (ordo_store_begin(s, err)) return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "UPDATE learn_models SET eval_n = ?2, eval_correct = ?3, "
                               "macro_f1 = ?4, f1_lo = ?5, f1_hi = ?6 WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK) {
        ordo_db_err(db, "learn_models", err);
        ordo_store_rollback(s);
        return -1;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, n);
    sqlite3_bind_int64(st, 3, correct);
    bind_dbl(st, 4, macro_f1);
    bind_dbl(st, 5, f1_lo);
    bind_dbl(st, 6, f1_hi);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ordo_db_err(db, "learn_models update", err);
        ordo_store_rollback(s);
        return -1;
    }
    return ordo_store_commit(s, err);
}

#define VCOLS "id, created, kind, n_labels, n_classes, l2, temperature, cv_accuracy, " \
              "eval_n, eval_correct, macro_f1, f1_lo, f1_hi, seconds, "
/* the learner column, or NULL in projects made before it (read-only
 * openers cannot add it) */
#define VLEARNER(db) (has_learner_col(db) ? "learner" : "NULL")

static double col_dbl(sqlite3_stmt *st, int c)
{
    return sqlite3_column_type(st, c) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c);
}

static void read_version(sqlite3_stmt *st, ordo_learn_version *v)
{
    memset(v, 0, sizeof *v);
    v->id = sqlite3_column_int64(st, 0);
    v->created = sqlite3_column_double(st, 1);
    const unsigned char *k = sqlite3_column_text(st, 2);
    snprintf(v->kind, sizeof v->kind, "%s", k ? (const char *)k : "");
    v->n_labels = sqlite3_column_int64(st, 3);
    v->n_classes = sqlite3_column_int(st, 4);
    v->l2 = col_dbl(st, 5);
    v->temperature = col_dbl(st, 6);
    v->cv_accuracy = col_dbl(st, 7);
    v->eval_n = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
    v->eval_correct = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 9);
    v->macro_f1 = col_dbl(st, 10);
    v->f1_lo = col_dbl(st, 11);
    v->f1_hi = col_dbl(st, 12);
    v->seconds = col_dbl(st, 13);
    const unsigned char *l = sqlite3_column_text(st, 14);
    snprintf(v->learner, sizeof v->learner, "%s", l ? (const char *)l : "");
}

static int has_models(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                               "name = 'learn_models'", -1, &st, NULL) != SQLITE_OK)
        return 0;
    int r = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return r;
}

ordo_learn_model *ordo_learn_version_latest(ordo_store *s, const char *kind,
                                            ordo_learn_version *v, int *found, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    *found = 0;
    if (!has_models(db)) return NULL;
    sqlite3_stmt *st;
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT " VCOLS "%s, blob FROM learn_models WHERE kind = ?1 "
                              "ORDER BY id DESC LIMIT 1", VLEARNER(db));
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        *found = 1;
        ordo_db_err(db, "learn_models", err);
        return NULL;
    }
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    ordo_learn_model *m = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *found = 1;
        if (v) read_version(st, v);
        m = ordo_learn_model_from_bytes(sqlite3_column_blob(st, 15),
                                        (size_t)sqlite3_column_bytes(st, 15), err);
        if (!m) ordo_err_wrap(err, "model version %lld", (long long)sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
    return m;
}

ordo_learn_model *ordo_learn_version_load(ordo_store *s, int64_t id, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    if (!has_models(db)) {
        ordo_err_set(err, "no model version %lld", (long long)id);
        return NULL;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT blob FROM learn_models WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK) {
        ordo_db_err(db, "learn_models", err);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, id);
    ordo_learn_model *m = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        m = ordo_learn_model_from_bytes(sqlite3_column_blob(st, 0),
                                        (size_t)sqlite3_column_bytes(st, 0), err);
        if (!m) ordo_err_wrap(err, "model version %lld", (long long)id);
    } else {
        ordo_err_set(err, "no model version %lld", (long long)id);
    }
    sqlite3_finalize(st);
    return m;
}

int ordo_learn_version_list(ordo_store *s, const char *kind, ordo_learn_version **out, size_t *n,
                            ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    *out = NULL;
    *n = 0;
    if (!has_models(db)) return 0;
    sqlite3_stmt *st;
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT " VCOLS "%s FROM learn_models WHERE kind = ?1 ORDER BY id",
             VLEARNER(db));
    if (sqlite3_prepare_v2(db, sql,
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "learn_models", err);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    size_t cap = 16, m = 0;
    ordo_learn_version *v = malloc(cap * sizeof *v);
    while (v && sqlite3_step(st) == SQLITE_ROW) {
        if (m == cap) {
            ordo_learn_version *q = realloc(v, 2 * cap * sizeof *v);
            if (!q) { free(v); v = NULL; break; }
            v = q;
            cap *= 2;
        }
        read_version(st, &v[m++]);
    }
    sqlite3_finalize(st);
    if (!v) return ordo_err_set(err, "learn_models: out of memory");
    *out = v;
    *n = m;
    return 0;
}

/* ---- one training run ------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Up to max images that are neither labeled (any answer) nor in the
 * evaluation sample: a seeded uniform sample of the collection, the
 * unlabeled rows a semi-supervised learner uses. */
static int unlabeled_sample(ordo_store *s, const ordo_learn_data *d, size_t max, uint64_t seed,
                            int64_t **out, size_t *nout, ordo_err *err)
{
    ordo_store_item *items = NULL;
    size_t ni = 0, ne = 0, m = 0;
    int64_t *ev = NULL, *known = NULL;
    size_t *idx = NULL;
    *out = NULL;
    *nout = 0;
    if (ordo_store_items(s, &items, &ni, err) ||
        ordo_store_eval_read(s, &ev, NULL, NULL, &ne, err)) {
        free(items);
        return -1;
    }
    known = malloc((d->n + ne + 1) * sizeof *known);
    idx = malloc((ni ? ni : 1) * sizeof *idx);
    if (!known || !idx) {
        free(items); free(ev); free(known); free(idx);
        return ordo_err_set(err, "out of memory");
    }
    memcpy(known, d->ids, d->n * sizeof *known);
    if (ne) memcpy(known + d->n, ev, ne * sizeof *known);
    qsort(known, d->n + ne, sizeof *known, cmp_i64);
    for (size_t i = 0; i < ni; i++)
        if (!bsearch(&items[i].id, known, d->n + ne, sizeof *known, cmp_i64)) idx[m++] = i;
    if (m > max) {
        learn_rng r;
        learn_rng_seed(&r, seed);
        learn_rng_shuffle(&r, idx, m);
        m = max;
    }
    int64_t *ids = malloc((m ? m : 1) * sizeof *ids);
    if (ids)
        for (size_t i = 0; i < m; i++) ids[i] = items[idx[i]].id;
    free(items); free(ev); free(known); free(idx);
    if (!ids) return ordo_err_set(err, "out of memory");
    *out = ids;
    *nout = m;
    return 0;
}

/* Trains one model over rows[0..n) of d with the given class of each row. */
static ordo_learn_model *fit_rows(ordo_store *s, const ordo_learn_data *d, const size_t *rows,
                                  size_t n, const int *y, int k, const char *const *names,
                                  const ordo_learn_opts *o, int learner, size_t max_unlabeled,
                                  const ordo_learn_train_opts *to, ordo_learn_report *rep,
                                  ordo_err *err)
{
    int64_t *uids = NULL;
    size_t nu = 0;
    if (learner == ORDO_LEARNER_FINETUNE) {
        if (!to->fit) {
            ordo_err_set(err, "the finetune learner is not available here");
            return NULL;
        }
        int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
        if (!ids) { ordo_err_set(err, "out of memory"); return NULL; }
        for (size_t i = 0; i < n; i++) ids[i] = d->ids[rows[i]];
        ordo_learn_model *m = to->fit(to->fit_ctx, ids, n, y, k, names, o, rep, err);
        free(ids);
        return m;
    }
    if (learner == ORDO_LEARNER_PROPAGATE) {
        ordo_learn_semi_opts so;
        ordo_learn_semi_default(&so);
        if (unlabeled_sample(s, d, max_unlabeled ? max_unlabeled : so.max_unlabeled,
                             o->seed ^ 0x756e6cULL, &uids, &nu, err))
            return NULL;
    }
    size_t N = n + nu;
    int64_t *ids = malloc((N ? N : 1) * sizeof *ids);
    float *x = malloc((N ? N : 1) * (size_t)ordo_store_embed_dim(s) * sizeof *x);
    int *yy = malloc((N ? N : 1) * sizeof *yy);
    ordo_learn_model *m = NULL;
    if (!ids || !x || !yy) {
        ordo_err_set(err, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            ids[i] = d->ids[rows[i]];
            yy[i] = y[i];
        }
        for (size_t i = 0; i < nu; i++) {
            ids[n + i] = uids[i];
            yy[n + i] = -1;
        }
        if (ordo_learn_embeddings(s, ids, N, x, err) == 0)
            m = ordo_learn_train_with(learner, x, N, ordo_store_embed_dim(s), yy, k, names, o, NULL, NULL,
                                      rep, err);
    }
    free(uids);
    free(ids);
    free(x);
    free(yy);
    return m;
}

void ordo_learn_train_result_free(ordo_learn_train_result *r)
{
    if (!r) return;
    ordo_learn_model_free(r->model);
    ordo_learn_eval_free(&r->ev);
    r->model = NULL;
}

int ordo_learn_train_project(ordo_store *s, const ordo_learn_train_opts *o,
                             ordo_learn_train_result *out, ordo_err *err)
{
    memset(out, 0, sizeof *out);
    ordo_learn_data d;
    if (ordo_learn_data_load(s, &d, err)) return -1;
    size_t *rows = malloc((d.n ? d.n : 1) * sizeof *rows);
    int *y = malloc((d.n ? d.n : 1) * sizeof *y);
    const char **names = malloc((d.n ? d.n : 1) * sizeof *names);
    uint8_t *leak = calloc(d.n ? d.n : 1, 1);
    ordo_learn_model *f = NULL;
    int rc = -1;
    if (!rows || !y || !names || !leak) { ordo_err_set(err, "out of memory"); goto out; }

    /* leaks: training answers the caller keeps out (near-duplicates of
     * evaluation images, found by audit) */
    for (size_t i = 0; o->n_exclude && i < d.n; i++)
        if (!d.eval[i] && strcmp(d.label[i], ORDO_STORE_LABEL_UNCLEAR) &&
            bsearch(&d.ids[i], o->exclude, o->n_exclude, sizeof *o->exclude, cmp_i64)) {
            leak[i] = 1;
            out->leaks++;
        }

    /* classifier: the customer's labels, outside the evaluation sample */
    size_t n = 0;
    for (size_t i = 0; i < d.n; i++) {
        if (d.eval[i] || leak[i] || !strcmp(d.label[i], ORDO_STORE_LABEL_UNCLEAR)) continue;
        if (!strcmp(d.label[i], ORDO_STORE_LABEL_NOT_SPORTS)) { out->n_not++; continue; }
        out->n_sports++;
        rows[n] = i;
        names[n++] = d.label[i];
    }
    qsort(names, n, sizeof *names, cmp_str);
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || strcmp(names[i], names[k - 1])) names[k++] = names[i];
    out->labels = n;
    out->classes = k;
    if (n < o->min_labels || k < 2) {
        ordo_err_set(err, "need at least %zu training labels of 2 or more classes outside the "
                          "evaluation sample (have %zu of %d)",
                     o->min_labels > 2 ? o->min_labels : 2, n, k);
        rc = ORDO_LEARN_TRAIN_TOO_FEW;
        goto out;
    }
    if (o->max_classes > 0 && k > o->max_classes) {   /* the cost grows with classes x features */
        ordo_err_set(err, "%d distinct labels (at most %d)", k, o->max_classes);
        rc = ORDO_LEARN_TRAIN_TOO_MANY;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char **h = bsearch(&d.label[rows[i]], names, (size_t)k, sizeof *names, cmp_str);
        y[i] = (int)(h - names);
    }
    if (!ordo_learn_learner_name(o->learner)) {
        ordo_err_set(err, "unknown learner %d", o->learner);
        goto out;
    }
    out->model = fit_rows(s, &d, rows, n, y, k, names, &o->learn, o->learner, o->max_unlabeled,
                          o, &out->rep, err);
    if (!out->model) goto out;
    ordo_learn_eval *ev = &out->ev;
    if (ordo_learn_eval_sample(s, out->model, &d, 1000, o->eval_seed, ev, err)) goto out;
    ordo_learn_version ver = {.n_labels = (int64_t)n, .n_classes = k, .l2 = out->rep.l2,
                              .temperature = out->rep.temperature,
                              .cv_accuracy = out->rep.cv_accuracy, .eval_n = (int64_t)ev->n,
                              .eval_correct = (int64_t)ev->correct, .macro_f1 = ev->macro_f1,
                              .f1_lo = ev->f1_lo, .f1_hi = ev->f1_hi, .seconds = out->rep.seconds};
    snprintf(ver.kind, sizeof ver.kind, "classifier");
    snprintf(ver.learner, sizeof ver.learner, "%s", ordo_learn_learner_name(o->learner));
    if (ordo_learn_version_save(s, out->model, &ver, &out->model_id, err)) goto out;

    /* sports filter: not-sports answers against every other answer, on top
     * of the zero-shot prior (ordo_learn_filter_train) */
    if (out->n_not >= 2 && out->n_sports >= 2) {
        size_t nf = 0;
        for (size_t i = 0; i < d.n; i++) {
            if (d.eval[i] || leak[i] || !strcmp(d.label[i], ORDO_STORE_LABEL_UNCLEAR)) continue;
            rows[nf] = i;
            y[nf++] = !strcmp(d.label[i], ORDO_STORE_LABEL_NOT_SPORTS);
        }
        out->filter_labels = nf;
        ordo_learn_report *fr = &out->filter_rep;
        int64_t *fid = malloc(nf * sizeof *fid);
        float *fpri = malloc(nf * sizeof *fpri);
        float *fx = malloc(nf * (size_t)ordo_store_embed_dim(s) * sizeof *fx);
        if (!fid || !fpri || !fx) ordo_err_set(err, "out of memory");
        for (size_t i = 0; fid && i < nf; i++) fid[i] = d.ids[rows[i]];
        if (fid && fpri && fx && !ordo_learn_priors(s, fid, nf, fpri, err) &&
            !ordo_learn_embeddings(s, fid, nf, fx, err))
            f = ordo_learn_filter_train(fx, nf, ordo_store_embed_dim(s), y, fpri, &o->learn, fr, err);
        free(fid);
        free(fpri);
        free(fx);
        if (!f ||
            ordo_learn_eval_filter(s, f, 1, &d, &out->tp, &out->fp, &out->fn, &out->tn, err))
            goto out;
        ordo_learn_version fv = {.n_labels = (int64_t)nf, .n_classes = 2, .l2 = fr->l2,
                                 .temperature = fr->temperature, .cv_accuracy = fr->cv_accuracy,
                                 .eval_n = (int64_t)(out->tp + out->fp + out->fn + out->tn),
                                 .eval_correct = (int64_t)(out->tp + out->tn), .macro_f1 = NAN,
                                 .f1_lo = NAN, .f1_hi = NAN, .seconds = fr->seconds};
        snprintf(fv.kind, sizeof fv.kind, "sports");
        snprintf(fv.learner, sizeof fv.learner, "%s", ORDO_LEARN_FILTER_PRIOR);
        if (ordo_learn_version_save(s, f, &fv, &out->filter_id, err)) goto out;
    }
    rc = 0;
out:
    if (rc) {   /* nothing owned on failure; the counts stay for the message */
        ordo_learn_train_result_free(out);
        out->model_id = out->filter_id = 0;
    }
    ordo_learn_model_free(f);
    free(rows);
    free(y);
    free(names);
    free(leak);
    ordo_learn_data_free(&d);
    return rc;
}

/* ---- stabilizing predictions (the stopping criterion) --------------------- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Predicted class of each of n rows of x under m, as an index into the
 * sorted name list names (nn entries). */
static int predict_named(const ordo_learn_model *m, const float *x, size_t n, const char **names,
                         size_t nn, int *out, ordo_err *err)
{
    int k = ordo_learn_model_classes(m);
    float *p = malloc((n ? n : 1) * (size_t)k * sizeof *p);
    if (!p) return ordo_err_set(err, "out of memory");
    if (ordo_learn_predict(m, x, n, p, NULL, err)) { free(p); return -1; }
    for (size_t i = 0; i < n; i++) {
        int a = 0;
        for (int c = 1; c < k; c++)
            if (p[i * k + c] > p[i * k + a]) a = c;
        const char *nm = ordo_learn_model_class_name(m, a);
        const char **h = bsearch(&nm, names, nn, sizeof *names, cmp_name);
        out[i] = h ? (int)(h - names) : -1;
    }
    free(p);
    return 0;
}

int ordo_learn_stability(ordo_store *s, const ordo_learn_version *hist, size_t nh, size_t sample,
                         size_t pairs, double *kappa, size_t *n_sample, ordo_err *err)
{
    for (size_t i = 0; i < nh; i++) kappa[i] = NAN;
    *n_sample = 0;
    if (nh < 2 || pairs == 0) return 0;
    ordo_store_item *items = NULL;
    size_t ni = 0;
    if (ordo_store_items(s, &items, &ni, err)) return -1;
    size_t step = sample && ni > sample ? (ni + sample - 1) / sample : 1, m = 0;
    int64_t *ids = malloc((ni ? ni : 1) * sizeof *ids);
    float *x = NULL;
    int *pa = NULL, *pb = NULL;
    const char **names = NULL;
    ordo_learn_model *ma = NULL, *mb = NULL;
    int rc = -1;
    if (!ids) { ordo_err_set(err, "out of memory"); goto out; }
    for (size_t i = 0; i < ni; i += step) ids[m++] = items[i].id; /* fixed: every step-th by id */
    x = malloc((m ? m : 1) * (size_t)ordo_store_embed_dim(s) * sizeof *x);
    pa = malloc((m ? m : 1) * sizeof *pa);
    pb = malloc((m ? m : 1) * sizeof *pb);
    if (!x || !pa || !pb) { ordo_err_set(err, "out of memory"); goto out; }
    if (ordo_learn_embeddings(s, ids, m, x, err)) goto out;
    size_t first = nh - 1 > pairs ? nh - 1 - pairs : 0;
    for (size_t i = first + 1; i < nh; i++) {
        ordo_learn_model_free(ma);
        ma = mb ? mb : ordo_learn_version_load(s, hist[i - 1].id, err);
        mb = ordo_learn_version_load(s, hist[i].id, err);
        if (!ma || !mb) goto out;
        /* one name list for both: the union of their classes */
        int ka = ordo_learn_model_classes(ma), kb = ordo_learn_model_classes(mb);
        free(names);
        names = malloc(((size_t)ka + kb) * sizeof *names);
        if (!names) { ordo_err_set(err, "out of memory"); goto out; }
        size_t nn = 0;
        for (int c = 0; c < ka; c++) names[nn++] = ordo_learn_model_class_name(ma, c);
        for (int c = 0; c < kb; c++) names[nn++] = ordo_learn_model_class_name(mb, c);
        qsort(names, nn, sizeof *names, cmp_name);
        size_t u = 0;
        for (size_t q = 0; q < nn; q++)
            if (!u || strcmp(names[q], names[u - 1])) names[u++] = names[q];
        if (predict_named(ma, x, m, names, u, pa, err) ||
            predict_named(mb, x, m, names, u, pb, err))
            goto out;
        kappa[i] = ordo_learn_kappa(pa, pb, m, (int)u);
    }
    *n_sample = m;
    rc = 0;
out:
    ordo_learn_model_free(ma);
    ordo_learn_model_free(mb);
    free(items); free(ids); free(x); free(pa); free(pb); free(names);
    return rc;
}
