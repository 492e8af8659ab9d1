/* model.c - retraining from the labeling page, with learn's classifier.
 *
 * The dashboard's button (and an automatic threshold: every `retrain_every`
 * new answers) fits learn's logistic regression (ordo_learn_train: L2 by
 * cross-validation, class-balanced, temperature-calibrated) on the stored
 * embeddings of the labeled images OUTSIDE the evaluation sample, measures
 * it on the labeled evaluation images (accuracy with a Wilson 95 % interval,
 * ordo_learn_wilson), and keeps every version with its figures in the
 * srv_models table. The newest model then supplies the page's suggestions
 * (the customer's own labels instead of ImageNet classes).
 *
 * Classes are the answers except skip, unclear and retractions; not-sports
 * is a class like any other. An evaluation image is one whose label events
 * carry the composer's reason "eval".
 *
 * When the learn module's own `ordo train` stores models in the project,
 * the server should read those instead of training its own. */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learn.h"
#include "server/srv_internal.h"

#define SRV_MAX_CLASSES 1000

typedef struct row { int64_t image; char *label; int eval; } row;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int srv_model_init(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    if (ordo_store_begin(s, err) < 0) return -1;
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS srv_models(version INTEGER PRIMARY KEY,"
                     " created REAL NOT NULL, n_train INTEGER, n_eval INTEGER, correct INTEGER,"
                     " accuracy REAL, lo REAL, hi REAL, classes INTEGER, seconds REAL,"
                     " model BLOB NOT NULL)", NULL, NULL, &msg) != SQLITE_OK) {
        ordo_err_set(err, "creating srv_models: %s", msg ? msg : "?");
        sqlite3_free(msg);
        ordo_store_rollback(s);
        return -1;
    }
    if (ordo_store_commit(s, err) < 0) return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT version, model FROM srv_models ORDER BY version DESC"
                               " LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return ordo_err_set(err, "reading srv_models: %s", sqlite3_errmsg(db));
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        ordo_learn_model *m = ordo_learn_model_from_bytes(
            sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), err);
        if (!m) rc = ordo_err_wrap(err, "stored model");
        else {
            srv->model = m;
            srv->model_version = sqlite3_column_int(st, 0);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

void srv_model_free(ordo_srv *srv)
{
    ordo_learn_model_free(srv->model);
    srv->model = NULL;
}

/* Called by the writer after each committed group. */
void srv_model_note_answers(ordo_srv *srv, int n)
{
    pthread_mutex_lock(&srv->q.mu);
    srv->answers_since_train += n;
    if (srv->o.retrain_every > 0 && srv->answers_since_train >= srv->o.retrain_every &&
        !srv->q.want_retrain && !srv->q.training) {
        srv->q.want_retrain = 1;
        pthread_cond_signal(&srv->q.cv);
    }
    pthread_mutex_unlock(&srv->q.mu);
}

static void free_rows(row *r, size_t n)
{
    for (size_t i = 0; i < n; i++) free(r[i].label);
    free(r);
}

/* Runs on the composer thread. */
int srv_model_train(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    double t0 = srv_now();
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT l.image_id, l.label, EXISTS(SELECT 1 FROM labels e WHERE"
                           " e.image_id = l.image_id AND e.reason = 'eval') FROM labels l JOIN"
                           " (SELECT MAX(id) m FROM labels GROUP BY image_id) t ON l.id = t.m"
                           " WHERE l.label NOT IN ('', 'skip', 'unclear') ORDER BY l.image_id",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_err_set(err, "reading labels: %s", sqlite3_errmsg(db));
    row *rows = NULL;
    size_t nr = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (nr == cap) {
            cap = cap ? cap * 2 : 256;
            row *b = realloc(rows, cap * sizeof *b);
            if (!b) break;
            rows = b;
        }
        rows[nr].image = sqlite3_column_int64(st, 0);
        rows[nr].label = strdup((const char *)sqlite3_column_text(st, 1));
        rows[nr].eval = sqlite3_column_int(st, 2);
        if (!rows[nr].label) break;
        nr++;
    }
    sqlite3_finalize(st);

    /* classes: the distinct training answers, sorted */
    char **names = malloc((nr ? nr : 1) * sizeof *names);
    size_t ntrain = 0, nclass = 0;
    if (!names) { free_rows(rows, nr); return ordo_err_set(err, "out of memory"); }
    for (size_t i = 0; i < nr; i++)
        if (!rows[i].eval) names[ntrain++] = rows[i].label;
    qsort(names, ntrain, sizeof *names, cmp_str);
    for (size_t i = 0; i < ntrain; i++)
        if (!nclass || strcmp(names[nclass - 1], names[i])) names[nclass++] = names[i];
    if (nclass > SRV_MAX_CLASSES) {   /* the cost grows with classes x features */
        free(names);
        free_rows(rows, nr);
        return ordo_err_set(err, "retraining skipped: %zu distinct labels (at most %d)", nclass,
                            SRV_MAX_CLASSES);
    }
    if (ntrain < 10 || nclass < 2) {
        free(names);
        free_rows(rows, nr);
        return ordo_err_set(err, "retraining needs at least 10 answers of 2 or more labels"
                                 " outside the evaluation sample (have %zu of %zu)", ntrain, nclass);
    }

    size_t erows;
    const uint16_t *emb = ordo_store_embeddings(s, &erows, err);
    float *x = emb ? malloc(nr * ORDO_STORE_EMBED * sizeof *x) : NULL;
    int *y = malloc(nr * sizeof *y);
    int *evy = malloc(nr * sizeof *evy);
    float *xe = emb ? malloc(nr * ORDO_STORE_EMBED * sizeof *xe) : NULL;
    size_t nt = 0, ne = 0;
    int rc = -1;
    ordo_learn_model *m = NULL;
    unsigned char *blob = NULL;
    size_t blen = 0;
    float *probs = NULL;
    if (!emb || !x || !y || !evy || !xe) {
        if (emb) ordo_err_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nr; i++) {
        int64_t slot = srv_queue_slot(srv, rows[i].image);
        if (slot < 0 || (size_t)slot >= erows) continue;   /* every copy gone */
        char **hit = bsearch(&rows[i].label, names, nclass, sizeof *names, cmp_str);
        int cls = hit ? (int)(hit - names) : -1;
        float *dst = rows[i].eval ? xe + ne * ORDO_STORE_EMBED : x + nt * ORDO_STORE_EMBED;
        ordo_store_f16_to_f32(emb + (size_t)slot * ORDO_STORE_EMBED, dst, ORDO_STORE_EMBED);
        if (rows[i].eval) evy[ne++] = cls;   /* -1: a label the model never saw = wrong */
        else y[nt++] = cls;
    }
    ordo_learn_opts lo;
    ordo_learn_opts_default(&lo);
    m = ordo_learn_train(x, nt, ORDO_STORE_EMBED, y, (int)nclass, (const char *const *)names,
                         &lo, NULL, NULL, err);
    if (!m) goto out;
    size_t correct = 0;
    if (ne) {
        probs = malloc(ne * nclass * sizeof *probs);
        if (!probs || ordo_learn_predict(m, xe, ne, probs, NULL, err) < 0) {
            if (!probs) ordo_err_set(err, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < ne; i++) {
            size_t best = 0;
            for (size_t c = 1; c < nclass; c++)
                if (probs[i * nclass + c] > probs[i * nclass + best]) best = c;
            correct += evy[i] == (int)best;
        }
    }
    double acc_lo, acc_hi;
    ordo_learn_wilson(correct, ne, 1.959964, &acc_lo, &acc_hi);
    if (ordo_learn_model_to_bytes(m, &blob, &blen, err) < 0) goto out;

    if (ordo_store_begin(s, err) < 0) goto out;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO srv_models(created, n_train, n_eval, correct, accuracy,"
                           " lo, hi, classes, seconds, model) VALUES(?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        ordo_err_set(err, "saving model: %s", sqlite3_errmsg(db));
        ordo_store_rollback(s);
        goto out;
    }
    sqlite3_bind_double(st, 1, srv_now());
    sqlite3_bind_int64(st, 2, (int64_t)nt);
    sqlite3_bind_int64(st, 3, (int64_t)ne);
    sqlite3_bind_int64(st, 4, (int64_t)correct);
    if (ne) sqlite3_bind_double(st, 5, (double)correct / ne);
    else sqlite3_bind_null(st, 5);
    sqlite3_bind_double(st, 6, acc_lo);
    sqlite3_bind_double(st, 7, acc_hi);
    sqlite3_bind_int64(st, 8, (int64_t)nclass);
    sqlite3_bind_double(st, 9, srv_now() - t0);
    sqlite3_bind_blob(st, 10, blob, (int)blen, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        ordo_err_set(err, "saving model: %s", sqlite3_errmsg(db));
        ordo_store_rollback(s);
        goto out;
    }
    int version = (int)sqlite3_last_insert_rowid(db);
    if (ordo_store_commit(s, err) < 0) goto out;
    /* swap in the new model; cached suggestions belong to the old one */
    pthread_mutex_lock(&srv->q.mu);
    ordo_learn_model *old = srv->model;
    srv->model = m;
    srv->model_version = version;
    srv->answers_since_train = 0;
    srv_queue_drop_suggestions(&srv->q);
    pthread_mutex_unlock(&srv->q.mu);
    ordo_learn_model_free(old);
    m = NULL;
    rc = 0;
out:
    ordo_learn_model_free(m);
    free(blob);
    free(probs);
    free(x);
    free(xe);
    free(y);
    free(evy);
    free(names);
    free_rows(rows, nr);
    return rc;
}

/* Caller holds q.mu (the model is swapped under it). */
int srv_model_suggest(ordo_srv *srv, int64_t slot, const uint16_t *emb, size_t rows, FILE *f)
{
    ordo_learn_model *m = srv->model;
    if (!m || slot < 0 || (size_t)slot >= rows) return -1;
    int k = ordo_learn_model_classes(m);
    float x[ORDO_STORE_EMBED], *p = malloc((size_t)k * sizeof *p);
    ordo_err e;
    if (!p) return -1;
    ordo_store_f16_to_f32(emb + (size_t)slot * ORDO_STORE_EMBED, x, ORDO_STORE_EMBED);
    if (ordo_learn_predict(m, x, 1, p, NULL, &e) < 0) {
        free(p);
        return -1;
    }
    fputc('[', f);
    for (int j = 0; j < ORDO_STORE_TOPK && j < k; j++) {
        int best = -1;
        for (int c = 0; c < k; c++)
            if (p[c] >= 0 && (best < 0 || p[c] > p[best])) best = c;
        if (best < 0) break;
        const char *lab = ordo_learn_model_class_name(m, best);
        const char *name = lab;
        if (lab && lab[0] == 'n' && strlen(lab) == 9) {
            int cls = ordo_wn_class_index(srv->wn, lab);
            if (cls >= 0) name = ordo_wn_class_name(srv->wn, cls);
        }
        fprintf(f, "%s{\"label\":", j ? "," : "");
        srv_json_str(f, lab);
        fputs(",\"name\":", f);
        srv_json_str(f, name);
        fprintf(f, ",\"p\":%.4f}", p[best]);
        p[best] = -1;
    }
    fputc(']', f);
    free(p);
    return 0;
}

int srv_model_stats_json(ordo_srv *srv, ordo_store *s, FILE *f, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT version, created, n_train, n_eval, correct, lo, hi,"
                               " classes, seconds FROM srv_models ORDER BY version",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_err_set(err, "reading srv_models: %s", sqlite3_errmsg(db));
    fputs("\"eval\":{\"history\":[", f);
    int n = 0, ne = 0, correct = 0;
    double lo = 0, hi = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        ne = sqlite3_column_int(st, 3);
        correct = sqlite3_column_int(st, 4);
        lo = sqlite3_column_double(st, 5);
        hi = sqlite3_column_double(st, 6);
        fprintf(f, "%s{\"version\":%d,\"created\":%.0f,\"n_train\":%d,\"n\":%d,\"correct\":%d,"
                   "\"accuracy\":%.4f,\"lo\":%.4f,\"hi\":%.4f,\"classes\":%d,\"seconds\":%.2f}",
                n ? "," : "", sqlite3_column_int(st, 0), sqlite3_column_double(st, 1),
                sqlite3_column_int(st, 2), ne, correct, ne ? (double)correct / ne : 0.0, lo, hi,
                sqlite3_column_int(st, 7), sqlite3_column_double(st, 8));
        n++;
    }
    sqlite3_finalize(st);
    fprintf(f, "],\"available\":%s,\"n\":%d,\"correct\":%d,\"accuracy\":%.4f,\"lo\":%.4f,"
               "\"hi\":%.4f",
            n && ne ? "true" : "false", ne, correct, ne ? (double)correct / ne : 0.0, lo, hi);
    pthread_mutex_lock(&srv->q.mu);
    fprintf(f, ",\"version\":%d,\"training\":%s,\"retrain_every\":%d,\"since\":%d,\"message\":",
            srv->model_version, srv->q.training || srv->q.want_retrain ? "true" : "false",
            srv->o.retrain_every, srv->answers_since_train);
    srv_json_str(f, srv->q.train_msg[0] ? srv->q.train_msg
                    : n ? "" : "no model yet: retrain once there are answers outside the"
                               " evaluation sample");
    pthread_mutex_unlock(&srv->q.mu);
    fputc('}', f);
    return 0;
}
