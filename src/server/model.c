/* model.c - retraining from the labeling page, with learn's classifier.
 *
 * The dashboard's button (and an automatic threshold: every `retrain_every`
 * new answers) fits learn's logistic regression (ordo_learn_train: L2 by
 * cross-validation, class-balanced, temperature-calibrated) on the stored
 * embeddings of the labeled images OUTSIDE the evaluation sample, measures
 * it on the labeled evaluation images (accuracy with a Wilson 95 % interval,
 * ordo_learn_wilson), and keeps every version with its figures in the
 * learn_models table, exactly as `ordo train` does (classifier + sports
 * filter, learn_store.h). The newest classifier - the page's or one from
 * `ordo train` - then joins the page's suggestions (suggest.c). The
 * evaluation sample is the store's and is never trained on. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_store.h"
#include "base/f16.h"
#include "learn/learn_store.h"
#include "server/srv_internal.h"

#define SRV_MAX_CLASSES 1000

/* Swaps in model m (version id) under the lock suggestions are made under. */
static void swap_model(ordo_srv *srv, ordo_learn_model *m, int64_t id)
{
    pthread_mutex_lock(&srv->q.mu);
    ordo_learn_model *old = srv->model;
    srv->model = m;
    srv->model_version = (int)id;
    pthread_mutex_unlock(&srv->q.mu);
    ordo_learn_model_free(old);
}

/* Loads the newest classifier of learn_models if it is newer than ours
 * (so a model from `ordo train` reaches the page too). */
static int load_latest(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    ordo_learn_version v;
    int found = 0;
    ordo_learn_model *m = ordo_learn_version_latest(s, "classifier", &v, &found, err);
    if (!m) return found ? -1 : 0;
    pthread_mutex_lock(&srv->q.mu);
    int newer = v.id > srv->model_version;
    pthread_mutex_unlock(&srv->q.mu);
    if (newer) swap_model(srv, m, v.id);
    else ordo_learn_model_free(m);
    return 0;
}

/* OpenBLAS's own extension (declared here as in cli/main.c: netlib's
 * cblas.h may be the one installed). */
void openblas_set_num_threads(int n);

int srv_model_init(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    /* Retraining must not starve the request path. Niceness alone does not
     * do it: OpenBLAS runs sgemm on its own pool of threads at the normal
     * priority, one per core, and they spin while they wait. With one BLAS
     * thread the whole fit runs on the composer thread, which is niced
     * (queue.c): measured with bench/bench_serve_retrain.sh, label POST p99
     * under 100 connections stays at its no-training level while a fit
     * runs. The server does no other BLAS work on its request path. */
    openblas_set_num_threads(1);
    return load_latest(srv, s, err);
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
    /* The first retrainings come sooner (a quarter, then half of the
     * period), while each answer still changes the model most: on sports100
     * the retrained classifier raised the top-5 hit rate from 28 % to 71 %
     * (tests/test_browser_annotator.py), so an annotator should not wait a
     * whole period for it. */
    int due = srv->o.retrain_every;
    if (srv->model_version == 0 && srv->page_trainings == 0) due = (due + 3) / 4;
    else if (srv->page_trainings == 1) due = (due + 1) / 2;
    if (srv->o.retrain_every > 0 && srv->answers_since_train >= due &&
        !srv->q.want_retrain && !srv->q.training) {
        srv->q.want_retrain = 1;
        pthread_cond_signal(&srv->q.cv);
    }
    pthread_mutex_unlock(&srv->q.mu);
}

/* Runs on the composer thread: the same training as `ordo train`
 * (ordo_learn_train_project, with learn's default options and bootstrap
 * seed 1) behind the same leak guard (audit_store.h: near-duplicates of
 * evaluation images kept out, or kept in and said so when nothing would be
 * left), refused below 10 answers or above SRV_MAX_CLASSES labels; the
 * new classifier then replaces the page's. */
int srv_model_train(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    ordo_learn_train_opts o = {.eval_seed = 1, .min_labels = 10,
                               .max_classes = SRV_MAX_CLASSES};   /* cost: classes x features */
    ordo_learn_opts_default(&o.learn);
    ordo_learn_train_result r;
    ordo_audit_guard g;   /* leaks: the same guard as `ordo train` */
    int rc = ordo_audit_train_project(s, &o, &r, &g, err);
    if (rc == ORDO_LEARN_TRAIN_TOO_FEW)
        ordo_err_set(err, "retraining needs at least 10 answers of 2 or more labels outside the"
                          " evaluation sample (have %zu of %d)", r.labels, r.classes);
    else if (rc == ORDO_LEARN_TRAIN_TOO_MANY)
        ordo_err_set(err, "retraining skipped: %d distinct labels (at most %d)", r.classes,
                     SRV_MAX_CLASSES);
    if (rc) return -1;
    pthread_mutex_lock(&srv->q.mu);
    srv->answers_since_train = 0;
    srv->page_trainings++;
    ordo_audit_guard_text(&g, srv->q.leak_msg, sizeof srv->q.leak_msg);
    pthread_mutex_unlock(&srv->q.mu);
    swap_model(srv, r.model, r.model_id);
    r.model = NULL;
    ordo_learn_train_result_free(&r);
    return 0;
}

int srv_model_stats_json(ordo_srv *srv, ordo_store *s, FILE *f, ordo_err *err)
{
    if (load_latest(srv, s, err) < 0) return -1;   /* a newer `ordo train` model */
    ordo_learn_version *v = NULL;
    size_t n = 0;
    if (ordo_learn_version_list(s, "classifier", &v, &n, err)) return -1;
    fputs("\"eval\":{\"history\":[", f);
    int64_t ne = 0, correct = 0;
    double lo = 0, hi = 1;
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (v[i].eval_n <= 0) continue;   /* not evaluated: no point on the chart */
        ne = v[i].eval_n;
        correct = v[i].eval_correct;
        ordo_learn_wilson((size_t)correct, (size_t)ne, 1.959964, &lo, &hi);
        ordo_audit_guard g;   /* trained with leaks kept in: an optimistic point */
        if (ordo_audit_guard_get(s, v[i].id, &g, err) < 0) {
            free(v);
            return -1;
        }
        fprintf(f, "%s{\"version\":%lld,\"created\":%.0f,\"n_train\":%lld,\"n\":%lld,"
                   "\"correct\":%lld,\"accuracy\":%.4f,\"lo\":%.4f,\"hi\":%.4f,\"classes\":%d,"
                   "\"seconds\":%.2f,\"leaks_kept_in\":%zu}",
                first ? "" : ",", (long long)v[i].id, v[i].created, (long long)v[i].n_labels,
                (long long)ne, (long long)correct, (double)correct / ne, lo, hi, v[i].n_classes,
                v[i].seconds, g.kept_in ? g.leaks : 0);
        first = 0;
    }
    /* the newest version's own evaluation, which may be none, and its leak
     * guard (stored by audit, so it survives a restart) */
    if (n && v[n - 1].eval_n <= 0) ne = 0;
    ordo_audit_guard g;
    int have_g = n ? ordo_audit_guard_get(s, v[n - 1].id, &g, err) : 0;
    free(v);
    if (have_g < 0) return -1;
    if (!have_g) memset(&g, 0, sizeof g);
    char leak_msg[400];
    ordo_audit_guard_text(&g, leak_msg, sizeof leak_msg);
    fprintf(f, "],\"available\":%s,\"n\":%lld,\"correct\":%lld,\"accuracy\":%.4f,"
               "\"lo\":%.4f,\"hi\":%.4f",
            ne > 0 ? "true" : "false", (long long)ne, (long long)correct,
            ne > 0 ? (double)correct / ne : 0.0, lo, hi);
    pthread_mutex_lock(&srv->q.mu);
    fprintf(f, ",\"version\":%d,\"training\":%s,\"retrain_every\":%d,\"since\":%d,"
               "\"leaks_kept_out\":%zu,\"leaks_kept_in\":%zu,\"leak_message\":",
            srv->model_version, srv->q.training || srv->q.want_retrain ? "true" : "false",
            srv->o.retrain_every, srv->answers_since_train, g.kept_in ? 0 : g.leaks,
            g.kept_in ? g.leaks : 0);
    srv_json_str(f, leak_msg);
    fputs(",\"message\":", f);
    srv_json_str(f, srv->q.train_msg[0] ? srv->q.train_msg
                    : n ? "" : "no model yet: retrain once there are answers outside the"
                               " evaluation sample");
    pthread_mutex_unlock(&srv->q.mu);
    fputc('}', f);
    return 0;
}
