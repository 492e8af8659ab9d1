/* suggest.c - what keys 1-5 offer: the project's labels, ranked.
 *
 * Three sources, each taking over as it becomes available:
 *  1. before any answer, the label set's WordNet ties: the ImageNet
 *     probability mass under each tied synset (ordo_wn_mass over the image's
 *     1000-class softmax, from the stored logits);
 *  2. from the first answer on, a model that updates with every committed
 *     answer: nearest class means (the "nearest centroid" classifier; Tibshirani
 *     et al. 2002 without shrinkage) over L2-normalised embeddings, scored by
 *     cosine to each label's mean direction and turned into probabilities by a
 *     softmax with temperature SRV_NC_TEMP;
 *  3. once the page's classifier is retrained, its probabilities, averaged
 *     with the class means for the labels it knows (the means keep learning
 *     between retrainings, the classifier is the stronger model).
 * The three are combined as a posterior over the labels: a label seen k
 * times of N has the prior (1 - p_new) k / N and the likelihood
 * exp((cos - c0) / T) relative to a label not seen yet, where p_new, the
 * probability that the answer is a new label, is Good-Turing's n1 / N (Good
 * 1953) with add-one smoothing, and c0 the cosine that images of new labels
 * had to the nearest seen mean so far. New labels share p_new by their tie
 * mass. Without a label set and without answers the page falls back to the
 * ImageNet top 5, stored by name; fewer labels than keys are topped up the
 * same way.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/f16.h"
#include "learn/learn_store.h"
#include "server/srv_internal.h"

/* Softmax temperature of the cosines. Measured with bench/serve_keys.py
 * (300 sports100 pool labels, keys per label): T 0.1 -> 1.560, 0.05 ->
 * 1.513, 0.03 -> 1.507, 0.02 -> 1.507. Overridable at build time for such
 * sweeps (-DSRV_NC_TEMP=...). */
#ifndef SRV_NC_TEMP
#define SRV_NC_TEMP 0.03
#endif
#define SRV_NC_CLF_W 0.5      /* classifier's weight in the blend */
#define SRV_SUGG_N ORDO_STORE_TOPK

typedef struct nc_label {
    char name[ORDO_STORE_LABEL_MAX + 1];
    double *sum;        /* dim: sum of normalised embeddings */
    double norm;        /* |sum|, kept with it */
    int64_t count;
} nc_label;

/* image id -> label index (-1 none, NC_UNMODELED answered with a label
 * the model does not hold): open addressing, linear probing */
#define NC_UNMODELED (-2)
/* The class means hold at most this many labels (time: one 1280-d dot
 * product each per suggestion, made under the queue lock: 256 labels cost
 * about 0.1 ms per image). Label sets are far smaller; a flood of distinct
 * free-text labels (bench_serve.sh) is stored but not modeled past this. */
#define NC_MAX_LABELS 256
typedef struct nc_slot { int64_t id; int lab; } nc_slot;

/* The progress ledger: one source for every counter the page shows. Keys
 * of `mine` are (image id << 16 | annotator index). */
#define NC_MAX_ANN 65535

typedef struct srv_nc {
    nc_label *lab;
    size_t n, cap;
    int dim;               /* the project's embedding width */
    float *x;              /* dim: one image's embedding (under q->mu) */
    float *dir;            /* NC_MAX_LABELS x dim: each label's
                              mean direction sum / |sum| (0 without answers),
                              rows contiguous for one sgemv per image */
    nc_slot *map;          /* image -> label index of its newest event, -1 */
    size_t map_cap, map_n;
    uint64_t gen;          /* bumps whenever the class means change */
    int64_t answers;       /* images whose newest event is an answer */
    int64_t modeled;       /* ... of them, with a label the model holds */
    nc_slot *mine;         /* (image, annotator) -> 1 if their newest is an answer */
    size_t mine_cap, mine_n;
    struct nc_ann { char name[ORDO_SRV_NAME_MAX + 1]; int64_t count; } *ann;
    size_t nann, ann_cap;
    /* How alike an image of a label not seen before looked to the nearest
     * mean of the labels seen by then: the cosine at which "a new label"
     * explains an image as well as a seen one (the scale of the ranking). */
    double novel_cos_sum;
    int64_t novel_n;
} srv_nc;

static uint64_t hash_id(int64_t id)
{
    uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ULL;   /* Fibonacci hashing */
    return x ^ (x >> 29);
}

static nc_slot *hmap_get(nc_slot **map, size_t *cap_, size_t *n_, int64_t id, int insert)
{
    if (insert && (*n_ + 1) * 2 > *cap_) {   /* keep the load under 1/2 */
        size_t cap = *cap_ ? *cap_ * 2 : 1024;
        nc_slot *m = calloc(cap, sizeof *m);
        if (!m) return NULL;
        for (size_t i = 0; i < *cap_; i++)
            if ((*map)[i].id) {
                size_t k = hash_id((*map)[i].id) & (cap - 1);
                while (m[k].id) k = (k + 1) & (cap - 1);
                m[k] = (*map)[i];
            }
        free(*map);
        *map = m;
        *cap_ = cap;
    }
    if (!*cap_) return NULL;
    nc_slot *m = *map;
    size_t k = hash_id(id) & (*cap_ - 1);
    while (m[k].id && m[k].id != id) k = (k + 1) & (*cap_ - 1);
    if (m[k].id == id) return &m[k];
    if (!insert) return NULL;
    m[k].id = id;
    m[k].lab = -1;
    (*n_)++;
    return &m[k];
}

static nc_slot *map_get(srv_nc *nc, int64_t id, int insert)
{
    return hmap_get(&nc->map, &nc->map_cap, &nc->map_n, id, insert);
}

static int ann_index(srv_nc *nc, const char *name)
{
    for (size_t i = 0; i < nc->nann; i++)
        if (!strcmp(nc->ann[i].name, name)) return (int)i;
    if (nc->nann >= NC_MAX_ANN) return -1;
    if (nc->nann == nc->ann_cap) {
        size_t cap = nc->ann_cap ? nc->ann_cap * 2 : 16;
        struct nc_ann *b = realloc(nc->ann, cap * sizeof *b);
        if (!b) return -1;
        nc->ann = b;
        nc->ann_cap = cap;
    }
    snprintf(nc->ann[nc->nann].name, sizeof nc->ann[0].name, "%s", name);
    nc->ann[nc->nann].count = 0;
    return (int)nc->nann++;
}

/* The ledger's per-annotator side of one committed event. */
static void mine_note(srv_nc *nc, int64_t id, const char *annotator, int answered)
{
    int a = ann_index(nc, annotator ? annotator : "");
    if (a < 0) return;
    nc_slot *sl = hmap_get(&nc->mine, &nc->mine_cap, &nc->mine_n, (id << 16) | a, 1);
    if (!sl) return;
    int was = sl->lab > 0;
    if (was != answered) nc->ann[a].count += answered ? 1 : -1;
    sl->lab = answered;
}

int64_t srv_ledger_labeled(const srv_queue *q) { return q->nc ? q->nc->answers : 0; }

int64_t srv_ledger_mine(const srv_queue *q, const char *annotator)
{
    for (size_t i = 0; q->nc && i < q->nc->nann; i++)
        if (!strcmp(q->nc->ann[i].name, annotator)) return q->nc->ann[i].count;
    return 0;
}

void srv_ledger_annotators_json(const srv_queue *q, FILE *f)
{
    fputc('[', f);
    int first = 1;
    for (size_t i = 0; q->nc && i < q->nc->nann; i++) {
        if (!q->nc->ann[i].count) continue;
        fprintf(f, "%s{\"name\":", first ? "" : ",");
        srv_json_str(f, q->nc->ann[i].name);
        fprintf(f, ",\"labels\":%lld}", (long long)q->nc->ann[i].count);
        first = 0;
    }
    fputc(']', f);
}

static double norm_of(const double *v, int dim)
{
    double n2 = 0;
    for (int d = 0; d < dim; d++) n2 += v[d] * v[d];
    return sqrt(n2);
}

static void set_dir(srv_nc *nc, int j)
{
    float *row = nc->dir + (size_t)j * (size_t)nc->dim;
    double inv = nc->lab[j].norm > 1e-9 ? 1.0 / nc->lab[j].norm : 0;
    for (int d = 0; d < nc->dim; d++) row[d] = (float)(nc->lab[j].sum[d] * inv);
}

static int nc_find(const srv_nc *nc, const char *name, int add)
{
    for (size_t i = 0; i < nc->n; i++)
        if (!strcmp(nc->lab[i].name, name)) return (int)i;
    if (!add || nc->n >= NC_MAX_LABELS) return -1;
    srv_nc *w = (srv_nc *)nc;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        nc_label *b = realloc(w->lab, cap * sizeof *b);
        if (!b) return -1;
        w->lab = b;
        w->cap = cap;
    }
    nc_label *l = &w->lab[w->n];
    memset(l, 0, sizeof *l);
    l->sum = calloc((size_t)w->dim, sizeof *l->sum);
    if (!l->sum) return -1;
    snprintf(l->name, sizeof l->name, "%s", name);
    return (int)w->n++;
}

/* The L2-normalised embedding of image id, or -1. Caller holds q->mu. */
static int embed_of(const srv_queue *q, int64_t id, float *x)
{
    ssize_t k = srv_queue_index(q, id);
    if (k < 0 || !q->emb || (size_t)q->all[k].slot >= q->emb_rows) return -1;
    const int E = q->emb_dim;
    ordo_f16_to_f32(q->emb + (size_t)q->all[k].slot * (size_t)E, x, (size_t)E);
    double n2 = 0;
    for (int d = 0; d < E; d++) n2 += (double)x[d] * x[d];
    float inv = (float)(1.0 / (sqrt(n2) + 1e-12));
    for (int d = 0; d < E; d++) x[d] *= inv;
    return 0;
}

void srv_nc_answer(ordo_srv *srv, int64_t id, const char *annotator, const char *label)
{
    srv_queue *q = &srv->q;
    srv_nc *nc = q->nc;
    if (!nc) return;
    if (label && (!*label || srv_label_special(label) == 2)) label = NULL;   /* retracted */
    mine_note(nc, id, annotator, label != NULL);
    nc_slot *sl = map_get(nc, id, 1);
    if (!sl) return;
    /* beyond NC_MAX_LABELS distinct labels (or out of memory) an answer
     * still counts, it just does not move the model */
    int to = label ? nc_find(nc, label, 1) : -1;
    if (label && to < 0) to = NC_UNMODELED;
    if (sl->lab == to) return;
    nc->gen++;
    if (sl->lab == -1) nc->answers++;
    if (to == -1) nc->answers--;
    float *x = nc->x;
    int have_x = embed_of(q, id, x) == 0;   /* an image gone from the pool still counts */
    if (sl->lab >= 0) {
        nc_label *o = &nc->lab[sl->lab];
        for (int d = 0; have_x && d < nc->dim; d++) o->sum[d] -= x[d];
        o->norm = norm_of(o->sum, nc->dim);
        set_dir(nc, sl->lab);
        o->count--;
        nc->modeled--;
    }
    if (to >= 0 && have_x && nc->lab[to].count == 0) {   /* a first answer of its label */
        double best = -2;
        float cosv[NC_MAX_LABELS];
        if (nc->n)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nc->n, nc->dim, 1.0f, nc->dir,
                        nc->dim, x, 1, 0.0f, cosv, 1);
        for (size_t i = 0; i < nc->n; i++)
            if (nc->lab[i].count && cosv[i] > best) best = cosv[i];
        if (best > -2) {
            nc->novel_cos_sum += best;
            nc->novel_n++;
        }
    }
    if (to >= 0) {
        nc_label *t = &nc->lab[to];
        for (int d = 0; have_x && d < nc->dim; d++) t->sum[d] += x[d];
        t->norm = norm_of(t->sum, nc->dim);
        set_dir(nc, to);
        t->count++;
        nc->modeled++;
    }
    sl->lab = to;
}

uint64_t srv_suggest_stamp(const ordo_srv *srv)
{
    /* every input of a ranking: the class means, the label set, the model */
    uint64_t g = srv->q.nc ? srv->q.nc->gen : 0;
    return g * 1000003u + (uint64_t)srv->ls_gen * 131u + (uint64_t)srv->model_version;
}

int srv_nc_answers(const srv_queue *q) { return q->nc ? (int)q->nc->modeled : 0; }

void srv_nc_free(srv_queue *q)
{
    srv_nc *nc = q->nc;
    if (!nc) return;
    for (size_t i = 0; i < nc->n; i++) free(nc->lab[i].sum);
    free(nc->lab);
    free(nc->dir);
    free(nc->x);
    free(nc->map);
    free(nc->mine);
    free(nc->ann);
    free(nc);
    q->nc = NULL;
}

int srv_nc_init(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    srv->q.nc = calloc(1, sizeof(srv_nc));
    if (srv->q.nc) {
        srv->q.nc->dim = srv->q.emb_dim;
        srv->q.nc->dir = calloc((size_t)NC_MAX_LABELS * (size_t)srv->q.emb_dim, sizeof(float));
        srv->q.nc->x = malloc((size_t)srv->q.emb_dim * sizeof(float));
    }
    if (!srv->q.nc || !srv->q.nc->dir || !srv->q.nc->x) return ordo_err_set(err, "out of memory");
    /* every event in order: the newest per image and per (image, annotator)
     * wins, exactly as the store reads current labels */
    ordo_store_label_row *rows = NULL;
    size_t n = 0;
    if (ordo_store_labels_read(s, 0, &rows, &n, err) < 0) return -1;
    pthread_mutex_lock(&srv->q.mu);
    for (size_t i = 0; i < n; i++)
        srv_nc_answer(srv, rows[i].image_id, rows[i].annotator, rows[i].label);
    pthread_mutex_unlock(&srv->q.mu);
    ordo_store_labels_free(rows, n);
    return 0;
}

/* ---- ranking ------------------------------------------------------------ */

typedef struct cand {
    const char *name;
    long synset;
    double p;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return (x->p < y->p) - (x->p > y->p);
}

/* The name a key offers for stored class cls, one of the image's top
 * classes: an imported model's own class name, or the ImageNet class's
 * first lemma with its synset (*wnid). 0 when there is none to offer: only
 * classes the model prefers to uniform count (vectors imported without
 * probabilities have flat, zero logits: no opinion). */
static int top_name(const ordo_srv *srv, const ordo_store_scores *sc, int j,
                    char name[ORDO_STORE_LABEL_MAX + 1], const char **wnid)
{
    int cls = sc->top_class[j];
    int L = srv->q.logit_dim > 0 ? srv->q.logit_dim : ORDO_STORE_LOGITS;
    if (!(sc->top_prob[j] > 1.0f / (float)L)) return 0;
    *wnid = NULL;
    if (srv->nown) {
        if (cls < 0 || cls >= srv->nown) return 0;
        snprintf(name, ORDO_STORE_LABEL_MAX + 1, "%s", srv->own_classes[cls]);
        return 1;
    }
    if (cls < 0 || cls >= ORDO_WN_CLASSES) return 0;
    const char *lemmas = ordo_wn_class_name(srv->wn, cls);
    size_t len = strcspn(lemmas, ",");
    snprintf(name, ORDO_STORE_LABEL_MAX + 1, "%.*s",
             (int)(len < ORDO_STORE_LABEL_MAX ? len : ORDO_STORE_LABEL_MAX), lemmas);
    *wnid = ordo_wn_class_wnid(srv->wn, cls);
    return 1;
}

/* The stored top 5 by readable name (no label set, no answers). */
static void imagenet_top(ordo_srv *srv, ssize_t k, FILE *f)
{
    fputc('[', f);
    const ordo_store_scores *sc = &srv->q.all[k].s;
    int first = 1;
    for (int j = 0; j < ORDO_STORE_TOPK; j++) {
        char name[ORDO_STORE_LABEL_MAX + 1];
        const char *wnid;
        if (!top_name(srv, sc, j, name, &wnid)) continue;
        fprintf(f, "%s{\"label\":", first ? "" : ",");
        srv_json_str(f, name);
        fputs(",\"name\":", f);
        srv_json_str(f, name);
        if (wnid) fprintf(f, ",\"synset\":\"%s\"", wnid);
        fprintf(f, ",\"p\":%.4f,\"src\":\"%s\"}",
                isfinite(sc->top_prob[j]) ? sc->top_prob[j] : 0.0, wnid ? "imagenet" : "model");
        first = 0;
    }
    fputc(']', f);
}

int srv_suggest_json(ordo_srv *srv, int64_t id, FILE *f)
{
    return srv_suggest_order_json(srv, id, f, NULL);
}

int srv_suggest_order_json(ordo_srv *srv, int64_t id, FILE *f, FILE *order)
{
    srv_queue *q = &srv->q;
    srv_nc *nc = q->nc;
    ssize_t k = srv_queue_index(q, id);
    if (k < 0) { fputs("[]", f); return 0; }
    pthread_mutex_lock(&srv->ls_mu);
    const ordo_srv_labelset *ls = srv->ls;
    size_t nls = ls ? ls->n : 0, nnc = nc ? nc->n : 0;
    if (!nls && (!nc || !nc->modeled) && !srv->model) {
        pthread_mutex_unlock(&srv->ls_mu);
        imagenet_top(srv, k, f);
        if (order) fputs("[]", order);
        return 0;
    }
    /* candidates: the set's labels, then labels answered outside it */
    cand *c = calloc(nls + nnc + 1, sizeof *c);
    float *x = malloc((size_t)q->emb_dim * sizeof *x);
    float *probs = malloc(ORDO_WN_CLASSES * sizeof *probs);
    int *nc_of = malloc((nls + nnc + 1) * sizeof *nc_of);
    if (!c || !x || !probs || !nc_of) {
        pthread_mutex_unlock(&srv->ls_mu);
        free(c); free(x); free(probs); free(nc_of);
        fputs("[]", f);
        return -1;
    }
    size_t nc_n = 0;
    for (size_t i = 0; i < nls; i++) {
        c[nc_n].name = ls->v[i].name;
        c[nc_n].synset = ls->v[i].synset;
        nc_of[nc_n++] = nc ? nc_find(nc, ls->v[i].name, 0) : -1;
    }
    for (size_t i = 0; i < nnc; i++) {
        if (!nc->lab[i].count || ordo_srv_labelset_find(ls, nc->lab[i].name) >= 0) continue;
        c[nc_n].name = nc->lab[i].name;
        c[nc_n].synset = -1;
        nc_of[nc_n++] = (int)i;
    }
    int have_x = embed_of(q, id, x) == 0;

    /* 2. class means: cosine to each answered label's mean direction */
    /* z = cosine / T, NAN for labels without answers; the cosines to every
     * label's mean direction are one matrix-vector product */
    int64_t n1 = 0, seen = 0;
    double *z = calloc(nc_n + 1, sizeof *z);
    float *cosv = nnc ? malloc(nnc * sizeof *cosv) : NULL;
    if (cosv && have_x)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nnc, nc->dim, 1.0f, nc->dir,
                    nc->dim, x, 1, 0.0f, cosv, 1);
    else if (cosv)
        memset(cosv, 0, nnc * sizeof *cosv);
    for (size_t i = 0; z && i < nc_n; i++) {
        int j = nc_of[i];
        if (j < 0 || !nc->lab[j].count || !cosv) { z[i] = NAN; continue; }
        seen++;
        n1 += nc->lab[j].count == 1;
        z[i] = cosv[j] / SRV_NC_TEMP;
    }
    free(cosv);
    /* 3. the retrained classifier, for the labels it knows */
    float *pc = NULL;
    ordo_learn_model *m = srv->model;
    int mk = m ? ordo_learn_model_classes(m) : 0;
    if (m && have_x && (pc = malloc((size_t)mk * sizeof *pc)) != NULL) {
        ordo_err e;
        if (ordo_learn_predict(m, x, 1, pc, NULL, &e) < 0) { free(pc); pc = NULL; }
    }
    /* 1. ties: ImageNet mass under each unseen label's synset */
    int have_p = 0, need_p = 0;
    for (size_t i = 0; i < nc_n; i++)
        need_p |= c[i].synset >= 0 && (!z || isnan(z[i]));   /* an unseen tied label */
    /* (only over ImageNet's classes: a model's own have no synsets) */
    if (need_p && !srv->nown && q->logit_dim == ORDO_WN_CLASSES &&
        (size_t)q->all[k].slot < q->logit_rows && q->logits) {
        float lg[ORDO_WN_CLASSES];
        ordo_f16_to_f32(q->logits + (size_t)q->all[k].slot * ORDO_WN_CLASSES, lg,
                              ORDO_WN_CLASSES);
        ordo_store_scores sc;
        ordo_store_summarize(lg, ORDO_WN_CLASSES, &sc, probs);
        have_p = 1;
    }
    int64_t answers = nc ? nc->modeled : 0;
    /* P(the answer is a label not seen yet): Good-Turing's n1 / N (Good
     * 1953), with add-one smoothing so a start of all-new labels still
     * leaves the seen ones some mass: (n1 + 1) / (N + 2). */
    double p_new = (double)(n1 + 1) / (double)(answers + 2);
    size_t unseen = 0;
    double tie_sum = 0;
    for (size_t i = 0; i < nc_n; i++)
        if (!z || isnan(z[i])) {
            unseen++;
            c[i].p = have_p && c[i].synset >= 0 ? ordo_wn_mass(srv->wn, probs, c[i].synset) : 0;
            tie_sum += c[i].p;
        }
    if (!unseen) p_new = 0;
    /* Posterior over labels (Bayes): a seen label's prior is its share of
     * the seen mass, count / N x (1 - p_new); its likelihood relative to a
     * new label's is exp((cos - c0) / T), c0 being the cosine a new label's
     * image typically has to its nearest seen mean (see srv_nc). A new label
     * gets p_new split by the ties' ImageNet mass (90 %) and evenly (10 %),
     * or evenly without ties: a label nobody has answered yet and no synset
     * ties is a guess, so it only shows when nothing seen looks alike. */
    double c0 = nc && nc->novel_n ? nc->novel_cos_sum / (double)nc->novel_n : 0.5;
    double total = 0;
    for (size_t i = 0; i < nc_n; i++) {
        if (!z || isnan(z[i])) {
            /* the tiny decreasing term keeps ties in label-set order */
            double share = tie_sum > 0 ? 0.9 * c[i].p / tie_sum + 0.1 / (double)unseen
                                       : 1.0 / (double)unseen;
            c[i].p = p_new * share * (1 + 1e-9 * (double)(nc_n - i));
        } else {
            double cs = z[i] * SRV_NC_TEMP;   /* the cosine back */
            double prior = (1 - p_new) * (double)nc->lab[nc_of[i]].count / (double)answers;
            c[i].p = prior * exp((cs - c0) / SRV_NC_TEMP);
        }
        total += c[i].p;
    }
    for (size_t i = 0; i < nc_n; i++) c[i].p = total > 0 ? c[i].p / total : 0;
    /* the retrained classifier, for the labels it knows: averaged in */
    for (size_t i = 0; pc && i < nc_n; i++) {
        if (!z || isnan(z[i])) continue;
        for (int cl = 0; cl < mk; cl++)
            if (!strcmp(ordo_learn_model_class_name(m, cl), c[i].name)) {
                c[i].p = (1 - SRV_NC_CLF_W) * c[i].p + SRV_NC_CLF_W * (1 - p_new) * pc[cl];
                break;
            }
    }
    qsort(c, nc_n, sizeof *c, cmp_cand);
    fputc('[', f);
    size_t shown = 0;
    for (; shown < nc_n && shown < SRV_SUGG_N; shown++) {
        fprintf(f, "%s{\"label\":", shown ? "," : "");
        srv_json_str(f, c[shown].name);
        fputs(",\"name\":", f);
        srv_json_str(f, c[shown].name);
        fprintf(f, ",\"p\":%.4f}", c[shown].p);
    }
    /* fewer labels than keys (an open set just started): the ImageNet top
     * classes fill the rest, by name with their synset */
    const ordo_store_scores *sc = &q->all[k].s;
    for (int j = 0; j < ORDO_STORE_TOPK && shown < SRV_SUGG_N && !(ls && ls->closed); j++) {
        char name[ORDO_STORE_LABEL_MAX + 1];
        const char *wnid;
        if (!top_name(srv, sc, j, name, &wnid)) continue;
        int dup = 0;
        for (size_t i = 0; i < nc_n; i++) dup |= !strcmp(c[i].name, name);
        if (dup) continue;
        fputs(shown ? ",{\"label\":" : "{\"label\":", f);
        srv_json_str(f, name);
        fputs(",\"name\":", f);
        srv_json_str(f, name);
        if (wnid) fprintf(f, ",\"synset\":\"%s\"", wnid);
        fprintf(f, ",\"p\":0,\"src\":\"%s\"}", wnid ? "imagenet" : "model");
        shown++;
    }
    fputc(']', f);
    if (order) {   /* every candidate, best first: the page's prefix search order */
        fputc('[', order);
        for (size_t i = 0; i < nc_n; i++) {
            if (i) fputc(',', order);
            srv_json_str(order, c[i].name);
        }
        fputc(']', order);
    }
    pthread_mutex_unlock(&srv->ls_mu);
    free(pc);
    free(z);
    free(c);
    free(x);
    free(probs);
    free(nc_of);
    return 0;
}
