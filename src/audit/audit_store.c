/* audit_store.c - `ordo audit` over a project: the cross-fitted learner's
 * out-of-fold probabilities -> label errors; the pool's embeddings ->
 * near-duplicate groups; evaluation sample vs training labels -> leaks. The
 * audit_* tables (audit_store.h) are owned here. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "audit/audit_store.h"
#include "base/clock.h"
#include "learn/learn_store.h"
#include "rank/rank.h"

void ordo_audit_run_opts_default(ordo_audit_run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->labels = 1;
    o->dups = 1;
    ordo_learn_opts_default(&o->learn);
    o->knn_weight = 0.3;
    o->knn_k = 10;
    ordo_audit_dup_opts_default(&o->dup);
    o->save = 1;
}

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS audit_runs(id INTEGER PRIMARY KEY, created REAL, labels INTEGER,"
    " classes INTEGER, cv_accuracy REAL, flagged INTEGER, noise_rate REAL, dup_cosine REAL,"
    " dup_pairs INTEGER, dup_groups INTEGER, leaks INTEGER, seconds REAL);"
    "CREATE TABLE IF NOT EXISTS audit_suspects(run_id INTEGER NOT NULL, image_id INTEGER NOT NULL,"
    " label_event INTEGER, label TEXT, suggested TEXT, score REAL, rank INTEGER,"
    " PRIMARY KEY(run_id, image_id));"
    "CREATE TABLE IF NOT EXISTS audit_dups(run_id INTEGER NOT NULL, image_id INTEGER NOT NULL,"
    " group_id INTEGER, similarity REAL, PRIMARY KEY(run_id, image_id));";

/* 1 if the table exists (a read-only store never creates it). */
static int have_tables(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name='audit_runs'", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    int r = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return r;
}

int ordo_audit_scan_running(const char *project, ordo_err *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s/scan.lock", project, ORDO_STORE_DIRNAME);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : ordo_err_set(err, "%s: %s", p, strerror(errno));
    int r = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) r = 1;
        else r = ordo_err_set(err, "%s: %s", p, strerror(errno));
    } else {
        flock(fd, LOCK_UN);
    }
    close(fd);
    return r;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_member(const void *a, const void *b)
{
    const ordo_audit_member *x = a, *y = b;
    if (x->group_id != y->group_id) return x->group_id < y->group_id ? -1 : 1;
    return x->image_id < y->image_id ? -1 : x->image_id > y->image_id;
}

/* label errors: rows = current classifier labels (not not-sports/unclear),
 * the evaluation sample included (its labels can be wrong too) */
static int audit_labels(ordo_store *s, const ordo_audit_run_opts *o, ordo_audit_result *out,
                        ordo_err *err)
{
    ordo_store_label_row *rows = NULL;
    size_t nrows = 0;
    if (ordo_store_labels_read(s, 1, &rows, &nrows, err)) return -1;
    int rc = -1;
    size_t n = 0;
    size_t *use = malloc((nrows ? nrows : 1) * sizeof *use);
    const char **names = malloc((nrows ? nrows : 1) * sizeof *names);
    int64_t *ids = malloc((nrows ? nrows : 1) * sizeof *ids);
    int *y = malloc((nrows ? nrows : 1) * sizeof *y);
    float *x = NULL, *pk = NULL;
    ordo_learn_model *m = NULL;
    ordo_audit_issue *is = NULL;
    size_t nis = 0;
    if (!use || !names || !ids || !y) { ordo_err_set(err, "out of memory"); goto done; }
    for (size_t i = 0; i < nrows; i++) {
        const char *l = rows[i].label;
        if (!strcmp(l, ORDO_STORE_LABEL_SKIP) || !strcmp(l, ORDO_STORE_LABEL_UNCLEAR) ||
            !strcmp(l, ORDO_STORE_LABEL_NOT_SPORTS))
            continue;
        use[n] = i;
        ids[n] = rows[i].image_id;
        names[n++] = l;
    }
    if (!n) {
        ordo_err_set(err, "the project has no labels to audit; label images first ('ordo next', "
                          "'ordo label', 'ordo serve')");
        goto done;
    }
    qsort(names, n, sizeof *names, cmp_str);
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || strcmp(names[i], names[k - 1])) names[k++] = names[i];
    if (k < 2) {
        ordo_err_set(err, "label errors need labels of at least 2 classes (have %zu labels of %d)",
                     n, k);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *l = rows[use[i]].label;
        const char **h = bsearch(&l, names, (size_t)k, sizeof *names, cmp_str);
        y[i] = (int)(h - names);
    }
    x = malloc(n * ordo_store_embed_dim(s) * sizeof *x);
    out->oof = malloc(n * (size_t)k * sizeof *out->oof);
    if (!x || !out->oof) { ordo_err_set(err, "out of memory for %zu embeddings", n); goto done; }
    if (ordo_learn_embeddings(s, ids, n, x, err)) goto done;
    /* out-of-fold probabilities need cross-validation even with a fixed L2 */
    ordo_learn_opts lo = o->learn;
    lo.calibrate = 1;
    m = ordo_learn_train(x, n, ordo_store_embed_dim(s), y, k, names, &lo, out->oof, &out->rep, err);
    if (!m) { ordo_err_wrap(err, "cross-fitted learner"); goto done; }
    if (o->knn_weight > 0) {
        pk = malloc(n * (size_t)k * sizeof *pk);
        if (!pk) { ordo_err_set(err, "out of memory"); goto done; }
        if (ordo_audit_knn_probs(x, n, ordo_store_embed_dim(s), y, k, o->knn_k, pk, err)) goto done;
        double w = o->knn_weight > 1 ? 1 : o->knn_weight;
        for (size_t i = 0; i < n * (size_t)k; i++)
            pk[i] = (float)((1 - w) * out->oof[i] + w * pk[i]);
    }
    if (ordo_audit_label_issues(pk ? pk : out->oof, n, k, y, &is, &nis, &out->lst, err)) goto done;
    out->class_names = calloc((size_t)k, sizeof *out->class_names);
    out->sus = calloc(nis ? nis : 1, sizeof *out->sus);
    if (!out->class_names || !out->sus) { ordo_err_set(err, "out of memory"); goto done; }
    out->classes = k;
    out->labels = n;
    for (int c = 0; c < k; c++)
        if (!(out->class_names[c] = dup_str(names[c]))) { ordo_err_set(err, "out of memory"); goto done; }
    for (size_t t = 0; t < nis; t++) {
        const ordo_store_label_row *r = &rows[use[is[t].row]];
        ordo_audit_suspect *u = &out->sus[t];
        u->image_id = r->image_id;
        u->label_event = r->id;
        u->score = is[t].score;
        u->p_label = is[t].p_label;
        u->p_suggested = is[t].p_suggested;
        u->flagged = is[t].flagged;
        u->label = dup_str(r->label);
        u->suggested = dup_str(names[is[t].suggested]);
        u->annotator = dup_str(r->annotator);
        out->nsus = t + 1;
        if (!u->label || !u->suggested || !u->annotator) { ordo_err_set(err, "out of memory"); goto done; }
    }
    rc = 0;
done:
    ordo_learn_model_free(m);
    free(use); free(names); free(ids); free(y); free(x); free(pk); free(is);
    ordo_store_labels_free(rows, nrows);
    return rc;
}

/* near-duplicate groups over the whole pool */
static int audit_dups(ordo_store *s, const ordo_audit_run_opts *o, ordo_audit_result *out,
                      ordo_err *err)
{
    ordo_store_item *items = NULL;
    size_t n = 0, rows = 0;
    if (ordo_store_items(s, &items, &n, err)) return -1;
    int rc = -1;
    int64_t *slot = malloc((n ? n : 1) * sizeof *slot), *group = malloc((n ? n : 1) * sizeof *group);
    float *best = malloc((n ? n : 1) * sizeof *best);
    ordo_audit_pair *pp = NULL;
    size_t np = 0;
    if (!slot || !group || !best) { ordo_err_set(err, "out of memory"); goto done; }
    const uint16_t *emb = ordo_store_embeddings(s, &rows, err);
    if (!emb && n) goto done;
    for (size_t i = 0; i < n; i++) slot[i] = items[i].slot;
    ordo_rank_f16_rows fr = {.data = emb, .rows = rows, .dim = ordo_store_embed_dim(s), .slot = slot,
                             .release = 0};
    if (ordo_audit_dups(n, ordo_store_embed_dim(s), ordo_rank_f16_read, &fr, &o->dup, &pp, &np,
                        &out->dst, err))
        goto done;
    long g = ordo_audit_groups(n, pp, np, group, err);
    if (g < 0) goto done;
    out->groups = g;
    out->pairs = np;
    for (size_t i = 0; i < n; i++) best[i] = -1;
    for (size_t t = 0; t < np; t++) {   /* best cosine inside its own group */
        size_t a = pp[t].a, b = pp[t].b;
        if (group[a] < 0 || group[a] != group[b]) continue;
        if (pp[t].cosine > best[a]) best[a] = pp[t].cosine;
        if (pp[t].cosine > best[b]) best[b] = pp[t].cosine;
    }
    size_t nm = 0;
    for (size_t i = 0; i < n; i++) nm += group[i] >= 0;
    out->members = malloc((nm ? nm : 1) * sizeof *out->members);
    if (!out->members) { ordo_err_set(err, "out of memory"); goto done; }
    for (size_t i = 0; i < n; i++)
        if (group[i] >= 0)
            out->members[out->nmembers++] =
                (ordo_audit_member){items[i].id, items[group[i]].id, best[i]};
    qsort(out->members, out->nmembers, sizeof *out->members, cmp_member);
    rc = 0;
done:
    free(items); free(slot); free(group); free(best); free(pp);
    return rc;
}

/* Leaks: a training label (outside the evaluation sample) that is a near
 * duplicate of an image in the evaluation sample, labeled or not. `ordo
 * train` keeps such labels out (ordo_audit_leak_ids). */
static int audit_leaks(ordo_store *s, double cosine, ordo_audit_result *out, ordo_err *err)
{
    ordo_learn_data d;
    if (ordo_learn_data_load(s, &d, err)) return -1;
    int64_t *ev = NULL, *tr = NULL, *arg = NULL;
    size_t nev = 0, ntr = 0;
    float *xe = NULL, *xt = NULL, *best = NULL;
    uint8_t *hit = NULL;
    int rc = -1;
    if (ordo_store_eval_read(s, &ev, NULL, NULL, &nev, err)) goto done;
    tr = malloc((d.n ? d.n : 1) * sizeof *tr);
    if (!tr) { ordo_err_set(err, "out of memory"); goto done; }
    for (size_t i = 0; i < d.n; i++)
        if (!d.eval[i] && strcmp(d.label[i], ORDO_STORE_LABEL_UNCLEAR)) tr[ntr++] = d.ids[i];
    if (!nev || !ntr) { rc = 0; goto done; }
    xe = malloc(nev * ordo_store_embed_dim(s) * sizeof *xe);
    xt = malloc(ntr * ordo_store_embed_dim(s) * sizeof *xt);
    best = malloc(ntr * sizeof *best);
    arg = malloc(ntr * sizeof *arg);
    hit = malloc(ntr);
    if (!xe || !xt || !best || !arg || !hit) { ordo_err_set(err, "out of memory"); goto done; }
    /* eval images whose files vanished are not in the pool: skip them */
    {
        ordo_store_item *items = NULL;
        size_t ni = 0;
        if (ordo_store_items(s, &items, &ni, err)) goto done;
        size_t w = 0, j = 0;
        for (size_t i = 0; i < nev; i++) {
            while (j < ni && items[j].id < ev[i]) j++;
            if (j < ni && items[j].id == ev[i]) ev[w++] = ev[i];
        }
        nev = w;
        w = 0, j = 0;
        for (size_t i = 0; i < ntr; i++) {
            while (j < ni && items[j].id < tr[i]) j++;
            if (j < ni && items[j].id == tr[i]) tr[w++] = tr[i];
        }
        ntr = w;
        free(items);
    }
    if (!nev || !ntr) { rc = 0; goto done; }
    if (ordo_learn_embeddings(s, ev, nev, xe, err) || ordo_learn_embeddings(s, tr, ntr, xt, err))
        goto done;
    if (ordo_audit_cross(xt, ntr, xe, nev, ordo_store_embed_dim(s), cosine, hit, NULL, best, arg, err) < 0)
        goto done;
    size_t nl = 0;
    for (size_t i = 0; i < ntr; i++) nl += hit[i];
    out->leaks = malloc((nl ? nl : 1) * sizeof *out->leaks);
    if (!out->leaks) { ordo_err_set(err, "out of memory"); goto done; }
    for (size_t i = 0; i < ntr; i++)
        if (hit[i]) out->leaks[out->nleaks++] = (ordo_audit_leak){tr[i], ev[arg[i]], best[i]};
    rc = 0;
done:
    ordo_learn_data_free(&d);
    free(ev); free(tr); free(arg); free(xe); free(xt); free(best); free(hit);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int ordo_audit_leak_ids(ordo_store *s, double cosine, int64_t **ids, size_t *n, ordo_err *err)
{
    *ids = NULL;
    *n = 0;
    ordo_audit_result r;
    memset(&r, 0, sizeof r);
    if (audit_leaks(s, cosine, &r, err)) { ordo_audit_result_free(&r); return -1; }
    if (r.nleaks) {
        *ids = malloc(r.nleaks * sizeof **ids);
        if (!*ids) { ordo_audit_result_free(&r); return ordo_err_set(err, "out of memory"); }
        for (size_t i = 0; i < r.nleaks; i++) (*ids)[i] = r.leaks[i].train_id;
        qsort(*ids, r.nleaks, sizeof **ids, cmp_i64);
        *n = r.nleaks;
    }
    ordo_audit_result_free(&r);
    return 0;
}

static int save_run(ordo_store *s, const ordo_audit_run_opts *o, ordo_audit_result *r,
                    ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    if (ordo_store_begin(s, err)) return -1;
    sqlite3_stmt *st = NULL;
    char *msg = NULL;
    if (sqlite3_exec(db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        ordo_err_set(err, "audit tables: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        goto fail;
    }
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO audit_runs(created, labels, classes, cv_accuracy, flagged,"
                           " noise_rate, dup_cosine, dup_pairs, dup_groups, leaks, seconds)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    sqlite3_bind_double(st, 1, ordo_clock_unix());
    sqlite3_bind_int64(st, 2, (int64_t)r->labels);
    sqlite3_bind_int(st, 3, r->classes);
    if (o->labels) sqlite3_bind_double(st, 4, r->rep.cv_accuracy);
    sqlite3_bind_int64(st, 5, (int64_t)r->lst.flagged);
    sqlite3_bind_double(st, 6, r->lst.noise_rate);
    /* NULL when this run did not look for duplicates (and labels is 0 when
     * it did not look for label errors): readers take each part from the
     * newest run that did it, so `ordo audit --dups` does not hide the
     * suspects of an earlier run */
    if (o->dups) sqlite3_bind_double(st, 7, o->dup.cosine);
    sqlite3_bind_int64(st, 8, (int64_t)r->pairs);
    sqlite3_bind_int64(st, 9, r->groups);
    sqlite3_bind_int64(st, 10, (int64_t)r->nleaks);
    sqlite3_bind_double(st, 11, r->seconds);
    if (sqlite3_step(st) != SQLITE_DONE) goto sqlfail;
    sqlite3_finalize(st);
    st = NULL;
    r->run_id = sqlite3_last_insert_rowid(db);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO audit_suspects(run_id, image_id, label_event, label,"
                           " suggested, score, rank) VALUES(?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    for (size_t t = 0, rank = 0; t < r->nsus; t++) {
        const ordo_audit_suspect *u = &r->sus[t];
        if (!u->flagged) continue;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, r->run_id);
        sqlite3_bind_int64(st, 2, u->image_id);
        sqlite3_bind_int64(st, 3, u->label_event);
        sqlite3_bind_text(st, 4, u->label, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, u->suggested, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 6, u->score);
        sqlite3_bind_int64(st, 7, (int64_t)++rank);
        if (sqlite3_step(st) != SQLITE_DONE) goto sqlfail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO audit_dups(run_id, image_id, group_id, similarity)"
                           " VALUES(?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    for (size_t t = 0; t < r->nmembers; t++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, r->run_id);
        sqlite3_bind_int64(st, 2, r->members[t].image_id);
        sqlite3_bind_int64(st, 3, r->members[t].group_id);
        sqlite3_bind_double(st, 4, r->members[t].similarity);
        if (sqlite3_step(st) != SQLITE_DONE) goto sqlfail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (ordo_store_commit(s, err)) { r->run_id = 0; return -1; }
    return 0;
sqlfail:
    ordo_err_set(err, "audit: saving the run: %s", sqlite3_errmsg(db));
fail:
    sqlite3_finalize(st);
    ordo_store_rollback(s);
    r->run_id = 0;
    return -1;
}

int ordo_audit_run(ordo_store *s, const ordo_audit_run_opts *o, ordo_audit_result *out,
                   ordo_err *err)
{
    memset(out, 0, sizeof *out);
    double t0 = ordo_clock_mono();
    int busy = ordo_audit_scan_running(ordo_store_dir(s), err);
    if (busy < 0) return -1;
    if (busy)
        return ordo_err_set(err, "a scan is running on this project; audit it when the scan has "
                                 "finished (its images are not all recorded yet)");
    if (o->labels && audit_labels(s, o, out, err)) goto fail;
    if (o->dups && (audit_dups(s, o, out, err) || audit_leaks(s, o->dup.cosine, out, err)))
        goto fail;
    out->seconds = ordo_clock_mono() - t0;
    if (o->save && save_run(s, o, out, err)) goto fail;
    return 0;
fail:
    ordo_audit_result_free(out);
    return -1;
}

void ordo_audit_result_free(ordo_audit_result *r)
{
    if (!r) return;
    for (size_t t = 0; t < r->nsus; t++) {
        free(r->sus[t].label);
        free(r->sus[t].suggested);
        free(r->sus[t].annotator);
    }
    free(r->sus);
    for (int c = 0; r->class_names && c < r->classes; c++) free(r->class_names[c]);
    free(r->class_names);
    free(r->oof);
    free(r->members);
    free(r->leaks);
    memset(r, 0, sizeof *r);
}

/* ---- readers ------------------------------------------------------------------ */

/* Which part of a run a reader wants: a run of `ordo audit --labels` has
 * no groups (dup_cosine NULL), one of `--dups` no suspects (labels 0). */
enum { RUN_ANY, RUN_LABELS, RUN_DUPS };

static int64_t newest_run(sqlite3 *db, int part, double *created)
{
    if (!have_tables(db)) return 0;
    static const char *const sql[] = {
        "SELECT id, created, dup_cosine FROM audit_runs ORDER BY id DESC LIMIT 1",
        "SELECT id, created, dup_cosine FROM audit_runs WHERE labels > 0"
        " ORDER BY id DESC LIMIT 1",
        "SELECT id, created, dup_cosine FROM audit_runs WHERE dup_cosine IS NOT NULL"
        " ORDER BY id DESC LIMIT 1",
    };
    sqlite3_stmt *st;
    int64_t id = 0;
    if (sqlite3_prepare_v2(db, sql[part], -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        if (created) *created = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    return id;
}

/* The dup threshold of run id (ORDO_AUDIT_COSINE if none recorded). */
static double run_cosine(sqlite3 *db, int64_t id)
{
    double c = ORDO_AUDIT_COSINE;
    sqlite3_stmt *st;
    if (id <= 0 || sqlite3_prepare_v2(db, "SELECT dup_cosine FROM audit_runs WHERE id = ?1", -1,
                                      &st, NULL) != SQLITE_OK)
        return c;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        double v = sqlite3_column_double(st, 0);
        if (v > 0 && v <= 1) c = v;
    }
    sqlite3_finalize(st);
    return c;
}

int64_t ordo_audit_latest_run(ordo_store *s)
{
    int64_t id = newest_run(ordo_store_db(s), RUN_ANY, NULL);
    return id < 0 ? 0 : id;
}

/* A suspect is pending while its audited event is still the image's
 * current one (the store's current_labels view). */
#define PENDING_SQL                                                                      \
    " FROM audit_suspects a WHERE a.run_id = ?1 AND a.label_event ="                    \
    " (SELECT c.id FROM current_labels c WHERE c.image_id = a.image_id)"

int ordo_audit_counts_get(ordo_store *s, ordo_audit_counts *c, ordo_err *err)
{
    memset(c, 0, sizeof *c);
    sqlite3 *db = ordo_store_db(s);
    int64_t run = newest_run(db, RUN_ANY, &c->created);
    int64_t lrun = newest_run(db, RUN_LABELS, NULL), drun = newest_run(db, RUN_DUPS, NULL);
    if (run < 0 || lrun < 0 || drun < 0) return ordo_err_set(err, "audit: %s", sqlite3_errmsg(db));
    if (!run) return 0;
    c->run_id = run;
    c->labels_run = lrun;
    c->dups_run = drun;
    c->cosine = run_cosine(db, drun);
    /* each count from the newest run that looked for it */
    const char *q[] = {
        "SELECT flagged FROM audit_runs WHERE id = ?1",
        "SELECT COUNT(*)" PENDING_SQL,
        "SELECT dup_groups, leaks FROM audit_runs WHERE id = ?1",
        "SELECT COUNT(*) FROM audit_dups WHERE run_id = ?1",
    };
    for (int i = 0; i < 4; i++) {
        int64_t r = i < 2 ? lrun : drun;
        if (!r) continue;
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, q[i], -1, &st, NULL) != SQLITE_OK)
            return ordo_err_set(err, "audit: %s", sqlite3_errmsg(db));
        sqlite3_bind_int64(st, 1, r);
        if (sqlite3_step(st) == SQLITE_ROW) {
            if (i == 0) c->flagged = sqlite3_column_int64(st, 0);
            else if (i == 1) c->pending = sqlite3_column_int64(st, 0);
            else if (i == 2) {
                c->groups = sqlite3_column_int64(st, 0);
                c->leaks = sqlite3_column_int64(st, 1);
            } else c->grouped = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
    }
    return 0;
}

int ordo_audit_groups_read(ordo_store *s, int64_t **image_ids, int64_t **group_ids, size_t *n,
                           ordo_err *err)
{
    *image_ids = *group_ids = NULL;
    *n = 0;
    sqlite3 *db = ordo_store_db(s);
    int64_t run = newest_run(db, RUN_DUPS, NULL);
    if (run < 0) return ordo_err_set(err, "audit: %s", sqlite3_errmsg(db));
    if (!run) return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT image_id, group_id FROM audit_dups WHERE run_id = ?1"
                           " ORDER BY image_id",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_err_set(err, "audit: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, run);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            int64_t *a = realloc(*image_ids, cap * sizeof *a);
            if (a) *image_ids = a;
            int64_t *b = realloc(*group_ids, cap * sizeof *b);
            if (b) *group_ids = b;
            if (!a || !b) { rc = SQLITE_NOMEM; break; }
        }
        (*image_ids)[*n] = sqlite3_column_int64(st, 0);
        (*group_ids)[*n] = sqlite3_column_int64(st, 1);
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*image_ids); free(*group_ids);
        *image_ids = *group_ids = NULL;
        *n = 0;
        return ordo_err_set(err, "audit: reading groups failed");
    }
    return 0;
}

int ordo_audit_recheck(ordo_store *s, const char *annotator, size_t max, int64_t **image_ids,
                       size_t *n, ordo_err *err)
{
    *image_ids = NULL;
    *n = 0;
    sqlite3 *db = ordo_store_db(s);
    int64_t run = newest_run(db, RUN_LABELS, NULL);
    if (run < 0) return ordo_err_set(err, "audit: %s", sqlite3_errmsg(db));
    if (!run || !max) return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT a.image_id" PENDING_SQL
                           " AND (?2 IS NULL OR COALESCE((SELECT annotator FROM labels"
                           " WHERE id = a.label_event), '') <> ?2) ORDER BY a.rank LIMIT ?3",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_err_set(err, "audit: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, run);
    if (annotator) sqlite3_bind_text(st, 2, annotator, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, max > INT64_MAX ? INT64_MAX : (int64_t)max);
    int64_t *ids = malloc((max < 4096 ? max : 4096) * sizeof *ids);
    size_t cap = max < 4096 ? max : 4096;
    while (ids && sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            int64_t *t = realloc(ids, cap * 2 * sizeof *t);
            if (!t) { free(ids); ids = NULL; break; }
            ids = t;
            cap *= 2;
        }
        ids[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (!ids) { *n = 0; return ordo_err_set(err, "out of memory"); }
    *image_ids = ids;
    return 0;
}

/* ---- the leak guard of training (audit_store.h) ------------------------------ */

/* One row per classifier version trained when leaks were found (a store
 * write transaction of its own, after learn's). */
static int record_guard(ordo_store *s, int64_t model_id, const ordo_audit_guard *g, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    if (ordo_store_begin(s, err)) return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS audit_train_guard(model_id INTEGER PRIMARY KEY,"
                         " cosine REAL, leaks INTEGER, kept_in INTEGER, left_labels INTEGER,"
                         " left_classes INTEGER)", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO audit_train_guard VALUES(?,?,?,?,?,?)", -1,
                           &st, NULL) != SQLITE_OK) {
        ordo_err_set(err, "recording the leak guard: %s", sqlite3_errmsg(db));
        ordo_store_rollback(s);
        return -1;
    }
    sqlite3_bind_int64(st, 1, model_id);
    sqlite3_bind_double(st, 2, g->cosine);
    sqlite3_bind_int64(st, 3, (int64_t)g->leaks);
    sqlite3_bind_int(st, 4, g->kept_in);
    sqlite3_bind_int64(st, 5, (int64_t)g->left);
    sqlite3_bind_int(st, 6, g->left_classes);
    int ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    if (!ok) {
        ordo_err_set(err, "recording the leak guard: %s", sqlite3_errmsg(db));
        ordo_store_rollback(s);
        return -1;
    }
    return ordo_store_commit(s, err);
}

int ordo_audit_train_project(ordo_store *s, const ordo_learn_train_opts *o,
                             ordo_learn_train_result *r, ordo_audit_guard *g, ordo_err *err)
{
    memset(g, 0, sizeof *g);
    memset(r, 0, sizeof *r);
    sqlite3 *db = ordo_store_db(s);
    int64_t drun = newest_run(db, RUN_DUPS, NULL);
    g->cosine = run_cosine(db, drun > 0 ? drun : 0);
    int64_t *ids = NULL;
    size_t n = 0;
    if (ordo_audit_leak_ids(s, g->cosine, &ids, &n, err)) return -1;
    g->leaks = n;
    ordo_learn_train_opts to = *o;
    to.exclude = ids;
    to.n_exclude = n;
    int rc = ordo_learn_train_project(s, &to, r, err);
    if (rc == ORDO_LEARN_TRAIN_TOO_FEW && n) {
        /* too few without the leaks: train on all of them, visibly */
        g->kept_in = 1;
        g->left = r->labels;
        g->left_classes = r->classes;
        to.exclude = NULL;
        to.n_exclude = 0;
        memset(r, 0, sizeof *r);
        rc = ordo_learn_train_project(s, &to, r, err);
    }
    free(ids);
    if (rc == 0 && n && record_guard(s, r->model_id, g, err)) {
        ordo_learn_train_result_free(r);
        return -1;
    }
    return rc;
}

int ordo_audit_guard_get(ordo_store *s, int64_t model_id, ordo_audit_guard *g, ordo_err *err)
{
    memset(g, 0, sizeof *g);
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name='audit_train_guard'", -1,
                           &st, NULL) != SQLITE_OK)
        return ordo_err_set(err, "audit: %s", sqlite3_errmsg(db));
    int have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!have) return 0;
    if (sqlite3_prepare_v2(db, "SELECT cosine, leaks, kept_in, left_labels, left_classes FROM"
                               " audit_train_guard WHERE model_id = ?1", -1, &st, NULL) != SQLITE_OK)
        return ordo_err_set(err, "audit: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, model_id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        g->cosine = sqlite3_column_double(st, 0);
        g->leaks = (size_t)sqlite3_column_int64(st, 1);
        g->kept_in = sqlite3_column_int(st, 2);
        g->left = (size_t)sqlite3_column_int64(st, 3);
        g->left_classes = sqlite3_column_int(st, 4);
    }
    sqlite3_finalize(st);
    return found;
}

void ordo_audit_guard_text(const ordo_audit_guard *g, char *buf, size_t cap)
{
    if (!cap) return;
    buf[0] = 0;
    if (g->kept_in)
        snprintf(buf, cap, "%zu training labels are near-duplicates (cosine >= %.3g) of evaluation-"
                           "sample images, but keeping them out would leave %zu labels of %d "
                           "classes: trained WITH them, so the evaluation is optimistic (label "
                           "photos unlike the evaluation sample; 'ordo audit' lists the leaks)",
                 g->leaks, g->cosine, g->left, g->left_classes);
    else if (g->leaks)
        snprintf(buf, cap, "kept %zu training labels out: near-duplicates (cosine >= %.3g) of "
                           "evaluation-sample images ('ordo audit' lists them)",
                 g->leaks, g->cosine);
}
