/* pool.c - the ranking input from the project store (see loop.h). */
#include "audit/audit_store.h"
#include "loop/loop.h"

#include <stdio.h>

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/db.h"
#include "base/f16.h"
#include "learn/learn_store.h"

struct ordo_loop_pool {
    ordo_store_item *items;
    size_t n;
    float *prob, *ent, *maxlogit, *prior;
    int32_t *cls;
    uint8_t *labeled, *eval;
    uint64_t *ids;
    int64_t *slot;
    int64_t *group;          /* near-duplicate group per row (audit), or NULL */
    int coarse[ORDO_WN_CLASSES];
    ordo_rank_f16_rows rows;
    ordo_rank_input in;
    /* the newest retrained classifier, when there is one (else NULL) */
    ordo_learn_model *model;
    float *mprob;            /* n x model classes: its calibrated probabilities */
    char model_name[ORDO_STORE_MODEL_MAX];   /* "imagenet", "model-N" or an imported
                                                model's name (its own classes) */
};

void ordo_loop_pool_free(ordo_loop_pool *p)
{
    if (!p) return;
    free(p->items); free(p->prob); free(p->ent); free(p->maxlogit); free(p->prior);
    free(p->cls); free(p->labeled); free(p->eval); free(p->ids); free(p->slot);
    free(p->mprob);
    free(p->group);
    ordo_learn_model_free(p->model);
    free(p);
}

const ordo_rank_input *ordo_loop_pool_input(const ordo_loop_pool *p) { return &p->in; }
const ordo_store_item *ordo_loop_pool_item(const ordo_loop_pool *p, size_t row) { return &p->items[row]; }
const char *ordo_loop_pool_model(const ordo_loop_pool *p) { return p->model_name; }

int ordo_loop_pool_top(const ordo_loop_pool *p, size_t row, float *prob)
{
    if (!p->mprob) {
        *prob = p->prob[row * ORDO_STORE_TOPK];
        return p->cls[row * ORDO_STORE_TOPK];
    }
    size_t k = (size_t)p->in.n_classes;
    const float *r = p->mprob + row * k;
    size_t best = 0;   /* ties: the lower class, as the composer's sort keeps them */
    for (size_t c = 1; c < k; c++)
        if (r[c] > r[best]) best = c;
    *prob = r[best];
    return (int)best;
}

const char *ordo_loop_pool_class_label(const ordo_loop_pool *p, int c)
{
    return p->mprob ? ordo_learn_model_class_name(p->model, c) : NULL;
}

/* row index of image id (items are in id order) or -1 */
static long find_row(const ordo_loop_pool *p, int64_t id)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->items[mid].id < id) lo = mid + 1; else hi = mid;
    }
    return lo < p->n && p->items[lo].id == id ? (long)lo : -1;
}

static int load_labels(ordo_loop_pool *p, sqlite3 *db, ordo_err *err)
{
    sqlite3_stmt *st;
    /* the newest event per image decides; "skip" leaves it unlabeled */
    const char *sql = "SELECT image_id, label FROM current_labels";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return ordo_err_set(err, "reading labels: %s", sqlite3_errmsg(db));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long r = find_row(p, sqlite3_column_int64(st, 0));
        const unsigned char *lab = sqlite3_column_text(st, 1);
        if (r >= 0) p->labeled[r] = !(lab && strcmp((const char *)lab, ORDO_STORE_LABEL_SKIP) == 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return ordo_err_set(err, "reading labels: %s", sqlite3_errmsg(db));
    return 0;
}

/* max logit = logits[slot][top class]: one value per image from the map,
 * releasing pages behind us so the 2 GB (at 1M images) map never stays
 * resident. */
static void load_max_logits(ordo_loop_pool *p, const uint16_t *lg, size_t rows, int L)
{
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t base = (uintptr_t)lg, lo = (uintptr_t)-1, hi = 0;
    for (size_t i = 0; i < p->n; i++) {
        int64_t s = p->slot[i];
        int c = p->cls[i * ORDO_STORE_TOPK];
        if (s < 0 || (size_t)s >= rows || c < 0 || c >= L) { p->maxlogit[i] = NAN; continue; }
        const uint16_t *v = lg + (size_t)s * (size_t)L + c;
        ordo_f16_to_f32(v, &p->maxlogit[i], 1);
        uintptr_t a = (uintptr_t)v;
        if (a < lo) lo = a;
        if (a > hi) hi = a;
        if ((i & 4095) == 4095 || i + 1 == p->n) {
            uintptr_t a2 = lo & ~((uintptr_t)pg - 1), b2 = (hi + (uintptr_t)pg) & ~((uintptr_t)pg - 1);
            if (a2 < base) a2 = base;
            uintptr_t end = (base + rows * (size_t)L * 2) & ~((uintptr_t)pg - 1);
            if (b2 > end) b2 = end;
            if (b2 > a2) madvise((void *)a2, b2 - a2, MADV_DONTNEED);
            lo = (uintptr_t)-1;
            hi = 0;
        }
    }
}

/* The newest retrained models, when they exist, take over from ImageNet
 * (issue: "ranking then uses the newest model's probabilities"): the
 * classifier's calibrated probabilities over the customer's labels (dense,
 * C = its classes) drive uncertainty, label coverage and the printed top
 * class; the learned sports filter's P(sports) = 1 - P(not-sports) replaces
 * the zero-shot prior. ImageNet's top-5 and max logit stay as logit_prob for
 * the outlier and energy scores, which measure how familiar a photo is to
 * the pretrained network, not to the labels. One pass over the embeddings
 * in blocks; ordo_learn_predict is deterministic for the same inputs. */
#define MODEL_BLOCK 1024
static int load_models(ordo_loop_pool *p, ordo_store *s, ordo_err *err)
{
    int found = 0, ffound = 0, rc = -1;
    ordo_learn_version v, fv;
    float *x = NULL, *fp = NULL;
    ordo_learn_model *f = NULL;
    snprintf(p->model_name, sizeof p->model_name, "imagenet");
    p->model = ordo_learn_version_latest(s, "classifier", &v, &found, err);
    if (!p->model && found) return ordo_err_wrap(err, "ranking with the retrained classifier");
    f = ordo_learn_version_latest(s, "sports", &fv, &ffound, err);
    if (!f && ffound) { ordo_err_wrap(err, "ranking with the sports filter"); goto out; }
    /* a one-class model has no uncertainty to offer: ImageNet's stays */
    if (p->model && ordo_learn_model_classes(p->model) < 2) {
        ordo_learn_model_free(p->model);
        p->model = NULL;
    }
    const int E = ordo_store_embed_dim(s);
    if (p->model && ordo_learn_model_dim(p->model) != E) {
        ordo_err_set(err, "classifier version %lld expects %d-d inputs, the store has %d-d embeddings",
                     (long long)v.id, ordo_learn_model_dim(p->model), E);
        goto out;
    }
    int neg = -1;
    if (f) {
        for (int c = 0; c < ordo_learn_model_classes(f) && c < 2; c++) {
            const char *nm = ordo_learn_model_class_name(f, c);
            if (nm && !strcmp(nm, ORDO_STORE_LABEL_NOT_SPORTS)) neg = c;
        }
        if (ordo_learn_model_classes(f) != 2 || neg < 0 ||
            ordo_learn_model_dim(f) != E) {
            ordo_err_set(err, "the stored sports filter is not a %d-d two-class model with a '%s' class",
                         E, ORDO_STORE_LABEL_NOT_SPORTS);
            goto out;
        }
    }
    if (!p->model && !f) { rc = 0; goto out; }
    int with_prior = f && ordo_learn_filter_is_prior(&fv);
    size_t n = p->n, C = p->model ? (size_t)ordo_learn_model_classes(p->model) : 0;
    if (p->model && !(p->mprob = malloc((n ? n : 1) * C * sizeof *p->mprob))) {
        ordo_err_set(err, "out of memory for %zu x %zu model probabilities", n, C);
        goto out;
    }
    x = malloc((size_t)MODEL_BLOCK * (size_t)E * sizeof *x);
    fp = malloc((size_t)MODEL_BLOCK * 2 * sizeof *fp);
    if (!x || !fp) { ordo_err_set(err, "out of memory"); goto out; }
    for (size_t r0 = 0; r0 < n; r0 += MODEL_BLOCK) {
        size_t nb = n - r0 < MODEL_BLOCK ? n - r0 : MODEL_BLOCK;
        if (ordo_rank_f16_read(&p->rows, r0, nb, x, err) < 0 ||
            (p->model && ordo_learn_predict(p->model, x, nb, p->mprob + r0 * C, NULL, err) < 0) ||
            (f && ordo_learn_filter_predict(f, with_prior, x, p->prior + r0, nb, fp, err) < 0)) {
            ordo_err_wrap(err, "predicting with the retrained models");
            goto out;
        }
        /* the zero-shot prior of these rows has been read: replace it */
        for (size_t i = 0; f && i < nb; i++) p->prior[r0 + i] = 1.0f - fp[i];
    }
    p->in.prior_learned = f != NULL;
    if (p->model) {
        snprintf(p->model_name, sizeof p->model_name, "model-%lld", (long long)v.id);
        ordo_rank_input *in = &p->in;
        in->n_classes = (int)C;
        in->k = (int)C;
        in->top_prob = p->mprob;
        in->top_class = NULL;        /* dense rows: the composer sorts its own copies */
        in->entropy = NULL;          /* ImageNet's; dense rows give the exact one */
        in->coarse = NULL;           /* WordNet groups of ImageNet classes */
        in->n_coarse = 0;
        in->logit_prob = p->prob;    /* max_logit stays ImageNet's */
        in->logit_k = ORDO_STORE_TOPK;
    }
    rc = 0;
out:
    if (rc < 0 && p->model) { ordo_learn_model_free(p->model); p->model = NULL; }
    ordo_learn_model_free(f);
    free(x);
    free(fp);
    return rc;
}

/* The newest `ordo audit` run's near-duplicate groups (audit owns the
 * table): the composer never puts two members of one group in a batch. */
static int load_groups(ordo_loop_pool *p, ordo_store *s, ordo_err *err)
{
    int64_t *img = NULL, *grp = NULL;
    size_t m = 0;
    if (ordo_audit_groups_read(s, &img, &grp, &m, err)) return -1;
    if (m && p->n) {
        p->group = malloc(p->n * sizeof *p->group);
        if (!p->group) { free(img); free(grp); return ordo_err_set(err, "out of memory"); }
        size_t j = 0;   /* both in image id order */
        for (size_t i = 0; i < p->n; i++) {
            int64_t id = p->items[i].id;
            while (j < m && img[j] < id) j++;
            p->group[i] = j < m && img[j] == id ? grp[j] : -1;
        }
        p->in.group = p->group;
    }
    free(img);
    free(grp);
    return 0;
}

ordo_loop_pool *ordo_loop_pool_load(ordo_store *s, const ordo_wn *wn, ordo_err *err)
{
    ordo_loop_pool *p = calloc(1, sizeof *p);
    if (!p) return ordo_err_set(err, "out of memory"), NULL;
    if (ordo_store_items(s, &p->items, &p->n, err) < 0) goto fail;
    size_t n = p->n, K = ORDO_STORE_TOPK;
    p->prob = malloc((n ? n : 1) * K * sizeof *p->prob);
    p->cls = malloc((n ? n : 1) * K * sizeof *p->cls);
    p->ent = malloc((n ? n : 1) * sizeof *p->ent);
    p->maxlogit = malloc((n ? n : 1) * sizeof *p->maxlogit);
    p->prior = malloc((n ? n : 1) * sizeof *p->prior);
    p->labeled = calloc(n ? n : 1, 1);
    p->ids = malloc((n ? n : 1) * sizeof *p->ids);
    p->slot = malloc((n ? n : 1) * sizeof *p->slot);
    if (!p->prob || !p->cls || !p->ent || !p->maxlogit || !p->prior || !p->labeled || !p->ids || !p->slot) {
        ordo_err_set(err, "out of memory for %zu images", n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const ordo_store_item *it = &p->items[i];
        for (size_t j = 0; j < K; j++) {
            p->prob[i * K + j] = it->s.top_prob[j];
            p->cls[i * K + j] = it->s.top_class[j];
        }
        p->ent[i] = it->s.entropy;
        p->prior[i] = it->sports;   /* NaN = unknown = weight 1 */
        p->ids[i] = (uint64_t)it->id;
        p->slot[i] = it->slot;
    }
    if (load_labels(p, (sqlite3 *)ordo_store_db(s), err) < 0) goto fail;
    size_t rows;
    const uint16_t *lg = n ? ordo_store_logits(s, &rows, err) : NULL;
    if (n && !lg) goto fail;
    if (n) load_max_logits(p, lg, rows, ordo_store_logits_dim(s));
    p->rows.data = n ? ordo_store_embeddings(s, &p->rows.rows, err) : NULL;
    if (n && !p->rows.data) goto fail;
    p->rows.dim = ordo_store_embed_dim(s);
    p->rows.slot = p->slot;
    p->rows.release = 1;

    ordo_rank_input *in = &p->in;
    in->n = n;
    /* The logit columns: ImageNet's, or an imported model's own classes
     * (which have no WordNet groups). */
    ordo_store_source src;
    if (ordo_store_get_source(s, &src, err)) goto fail;
    in->n_classes = ordo_store_logits_dim(s);
    in->k = ORDO_STORE_TOPK;
    in->top_prob = p->prob;
    in->top_class = p->cls;
    in->entropy = p->ent;
    in->max_logit = p->maxlogit;
    in->prior = p->prior;
    in->labeled = p->labeled;
    in->ids = p->ids;
    in->dim = ordo_store_embed_dim(s);
    in->read_rows = ordo_rank_f16_read;
    in->read_ctx = &p->rows;
    if (wn && !src.nclasses && in->n_classes == ORDO_WN_CLASSES) {
        const long *syn;
        int ng = ordo_wn_default_coarse(&syn);
        ordo_err e2;
        if (ng > 0 && ordo_wn_coarse(wn, syn, ng, p->coarse, &e2) == 0) {
            in->coarse = p->coarse;
            in->n_coarse = ng + 1;   /* + "other" */
        }
    }
    if (load_models(p, s, err) < 0) goto fail;
    /* no retrained classifier: the scores are the imported model's own */
    if (!p->model && src.nclasses)
        snprintf(p->model_name, sizeof p->model_name, "%s", src.model);
    if (load_groups(p, s, err) < 0) goto fail;
    return p;
fail:
    ordo_loop_pool_free(p);
    return NULL;
}

int ordo_loop_pool_eval(ordo_loop_pool *p, ordo_store *s, double half_width, double acc_p,
                        uint64_t seed, size_t *size, ordo_err *err)
{
    size_t n = p->n;
    if (!p->eval && !(p->eval = calloc(n ? n : 1, 1))) return ordo_err_set(err, "out of memory");
    memset(p->eval, 0, n ? n : 1);
    p->in.eval = p->eval;
    /* what exists (nothing before the first draw) */
    int64_t *ids = NULL;
    double *keys = NULL;
    uint64_t drawn_seed = 0;
    size_t ne = 0, m = 0;
    if (ordo_store_eval_read(s, &ids, &keys, &drawn_seed, &ne, err) < 0) return -1;
    int have_seed = ne > 0;
    double maxkey = -1;
    if (have_seed) seed = drawn_seed;
    for (size_t j = 0; j < ne; j++) {
        long r = find_row(p, ids[j]);
        if (keys[j] > maxkey) maxkey = keys[j];
        if (r >= 0) { p->eval[r] = 1; m++; }
    }
    free(ids);
    free(keys);
    /* what to add: a first draw, or the new images under the key threshold */
    uint8_t *add = calloc(n ? n : 1, 1);
    if (!add) return ordo_err_set(err, "out of memory");
    size_t nadd = 0;
    if (!have_seed) {
        size_t want = ordo_rank_eval_size(half_width, acc_p, 1.96, n);
        if (ordo_rank_eval_sample(p->ids, n, want, seed, add, err) < 0) { free(add); return -1; }
        for (size_t i = 0; i < n; i++) nadd += add[i];
    } else {
        for (size_t i = 0; i < n; i++)
            if (!p->eval[i] && ordo_rank_eval_key(seed, p->ids[i]) < maxkey) { add[i] = 1; nadd++; }
    }
    int rc = 0;
    if (nadd) {
        /* a read-only store keeps what it has; the rest waits for a writer */
        if (ordo_store_begin(s, err) < 0) {
            free(add);
            if (have_seed) { if (size) *size = m; return 0; }
            return ordo_err_wrap(err, "drawing the evaluation sample");
        }
        int64_t *aid = malloc(nadd * sizeof *aid);
        double *akey = malloc(nadd * sizeof *akey);
        size_t k = 0;
        if (!aid || !akey) rc = ordo_err_set(err, "out of memory");
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (!add[i]) continue;
            aid[k] = (int64_t)p->ids[i];
            akey[k++] = ordo_rank_eval_key(seed, p->ids[i]);
            p->eval[i] = 1;
            m++;
        }
        if (rc == 0) rc = ordo_store_eval_add(s, aid, akey, k, seed, err);
        free(aid);
        free(akey);
        if (rc == 0) rc = ordo_store_commit(s, err);
        else ordo_store_rollback(s);
    }
    free(add);
    if (size) *size = m;
    return rc;
}
