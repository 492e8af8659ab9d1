/* sim.c - the labeling loop simulated with known labels as the oracle. The
 * strategies it compares come from the caller (src/loop/ registers ordo's
 * own); ordo_learn_pick_top is the selector most of them share. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learn.h"
#include "learn/finetune.h"
#include "learn/learn_rng.h"

/* ---- picking the top of a score ---------------------------------------- */

typedef struct scored {
    double score;
    uint64_t tie;
    size_t idx;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->tie != y->tie) return x->tie < y->tie ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

long ordo_learn_pick_top(const ordo_learn_sim_ctx *ctx, const double *score, size_t *picked,
                         ordo_err *err)
{
    scored *s = malloc((ctx->n ? ctx->n : 1) * sizeof *s);
    if (!s) return ordo_err_set(err, "strategy: out of memory");
    learn_rng r;
    learn_rng_seed(&r, ctx->seed);
    size_t m = 0;
    for (size_t i = 0; i < ctx->n; i++) {
        uint64_t tie = learn_rng_next(&r); /* drawn for every row: order-stable */
        if (!ctx->candidate[i]) continue;
        s[m++] = (scored){score ? score[i] : 0, tie, i};
    }
    qsort(s, m, sizeof *s, cmp_scored);
    size_t nb = ctx->batch < m ? ctx->batch : m;
    for (size_t j = 0; j < nb; j++) picked[j] = s[j].idx;
    free(s);
    return (long)nb;
}

void ordo_learn_sim_result_free(ordo_learn_sim_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_curves && r->curves; i++) {
        ordo_learn_sim_curve *c = &r->curves[i];
        free(c->points);
        free(c->eval_acc);
        free(c->test_acc);
        free(c->eval_lo);
        free(c->eval_hi);
        free(c->rest_acc);
        free(c->kappa);
        free(c->stop_round);
    }
    free(r->curves);
    memset(r, 0, sizeof *r);
}

static int argmax(const float *p, int k)
{
    int a = 0;
    for (int c = 1; c < k; c++)
        if (p[c] > p[a]) a = c;
    return a;
}

static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c)
{
    learn_rng r;
    learn_rng_seed(&r, a * 0x9e3779b97f4a7c15ULL ^ b * 0xc2b2ae3d27d4eb4fULL ^ c);
    return learn_rng_next(&r);
}

typedef struct simws {
    unsigned char *labeled, *candidate, *is_eval;
    int *labels, *pred, *prev, *ka, *kb;
    float *probs, *oof, *tprobs;
    size_t *picked, *perm;
    float *fw, *fb, *fx, *ftx;   /* finetune: head, adapted pool and test embeddings */
} simws;

static void simws_free(simws *w)
{
    free(w->labeled); free(w->candidate); free(w->is_eval); free(w->labels); free(w->pred); free(w->prev);
    free(w->ka); free(w->kb);
    free(w->probs); free(w->oof); free(w->tprobs); free(w->picked); free(w->perm);
    free(w->fw); free(w->fb); free(w->fx); free(w->ftx);
}

static int simws_alloc(simws *w, const ordo_learn_sim_config *cfg)
{
    size_t n = cfg->n, k = (size_t)cfg->k;
    memset(w, 0, sizeof *w);
    w->labeled = malloc(n);
    w->candidate = malloc(n);
    w->is_eval = malloc(n);
    w->labels = malloc(n * sizeof *w->labels);
    w->pred = malloc(n * sizeof *w->pred);
    w->prev = malloc(n * sizeof *w->prev);
    w->ka = malloc(n * sizeof *w->ka);
    w->kb = malloc(n * sizeof *w->kb);
    w->probs = malloc(n * k * sizeof *w->probs);
    w->oof = malloc(n * k * sizeof *w->oof);
    w->tprobs = malloc((cfg->n_test ? cfg->n_test : 1) * k * sizeof *w->tprobs);
    w->picked = malloc(cfg->batch * sizeof *w->picked);
    w->perm = malloc(n * sizeof *w->perm);
    if (cfg->ft) {
        const ordo_learn_ft_data *f = cfg->ft;
        w->fw = malloc((size_t)f->C * f->D * sizeof *w->fw);
        w->fb = malloc((size_t)f->D * sizeof *w->fb);
        w->fx = malloc(n * f->D * sizeof *w->fx);
        w->ftx = malloc((cfg->n_test ? cfg->n_test : 1) * f->D * sizeof *w->ftx);
        if (!w->fw || !w->fb || !w->fx || !w->ftx) {
            simws_free(w);
            return -1;
        }
    }
    if (!w->labeled || !w->candidate || !w->is_eval || !w->labels || !w->pred || !w->prev || !w->ka || !w->kb || !w->probs ||
        !w->oof || !w->tprobs || !w->picked || !w->perm) {
        simws_free(w);
        return -1;
    }
    return 0;
}

/* The evaluation sample of seed s: drawn first, uniformly from the pool,
 * and the same for every strategy. */
static void draw_eval(const ordo_learn_sim_config *cfg, int s, simws *w)
{
    learn_rng r;
    learn_rng_seed(&r, cfg->seed + (uint64_t)s);
    for (size_t i = 0; i < cfg->n; i++) w->perm[i] = i;
    learn_rng_shuffle(&r, w->perm, cfg->n);
    memset(w->is_eval, 0, cfg->n);
    for (size_t i = 0; i < cfg->eval_size; i++) w->is_eval[w->perm[i]] = 1;
}

/* A strategy's random stream depends on its name, not on where it stands in
 * --strategies, so adding or reordering strategies never changes a curve. */
static uint64_t name_key(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return h;
}

/* Kappa between the stop set's predictions now and a round before: the
 * stop set is every pool row outside the evaluation sample. */
static double stop_kappa(const ordo_learn_sim_config *cfg, const simws *w, int *a, int *b)
{
    size_t m = 0;
    for (size_t i = 0; i < cfg->n; i++)
        if (!w->is_eval[i]) {
            a[m] = w->pred[i];
            b[m++] = w->prev[i];
        }
    return ordo_learn_kappa(a, b, m, cfg->k);
}

/* One strategy with one learner, one seed: fills eval/test accuracy and the
 * stopping criterion's kappa for every round. */
static int run_one(const ordo_learn_sim_config *cfg, const ordo_learn_strategy *st, int learner,
                   int s, simws *w, ordo_learn_sim_curve *cv, ordo_err *err)
{
    size_t n = cfg->n;
    int k = cfg->k, R = cfg->rounds;
    for (size_t i = 0; i < n; i++) {
        w->labeled[i] = w->is_eval[i];
        w->candidate[i] = !w->is_eval[i];
        w->labels[i] = -1;
    }
    int have_model = 0;
    size_t nlab = 0;
    uint64_t key = name_key(st->name);
    for (int r = 0; r < R; r++) {
        ordo_learn_sim_ctx ctx = {
            .n = n, .d = cfg->d, .x = cfg->x,
            .k = have_model ? k : cfg->prior_k,
            .probs = have_model ? w->probs : cfg->prior_probs,
            .probs_from_model = have_model,
            .labeled = w->labeled, .candidate = w->candidate, .labels = w->labels,
            .is_eval = w->is_eval, .oof_probs = have_model ? w->oof : NULL,
            .batch = cfg->batch, .round = r,
            .seed = mix3(cfg->seed + (uint64_t)s, (uint64_t)r, key),
            .user = st->user};
        if (!ctx.probs) ctx.k = 0;
        long got = st->fn(&ctx, w->picked, err);
        if (got < 0) return ordo_err_wrap(err, "strategy %s, round %d", st->name, r);
        if ((size_t)got > cfg->batch)
            return ordo_err_set(err, "strategy %s returned %ld > batch %zu", st->name, got,
                                cfg->batch);
        for (long j = 0; j < got; j++) {
            size_t i = w->picked[j];
            if (i >= n || !w->candidate[i])
                return ordo_err_set(err, "strategy %s picked row %zu, which is not a candidate",
                                    st->name, i);
            w->candidate[i] = 0;
            w->labeled[i] = 1;
            w->labels[i] = cfg->truth[i];
            nlab++;
        }
        /* retrain on all training labels (never the eval sample) */
        ordo_learn_opts o = cfg->train;
        ordo_err te;
        /* the unlabeled rows a semi-supervised learner may use: the
         * candidates (never the evaluation sample) */
        ordo_learn_model *m;
        const float *px = cfg->x, *tx = cfg->test_x;
        if (learner == ORDO_LEARNER_FINETUNE && !(cfg->ft_last && r < R - 1)) {
            /* the model is linear over the adapted embeddings: re-embed the
             * pool and the test rows from the cache with the trained head */
            m = ordo_learn_ft_train(cfg->ft, n, w->labels, k, cfg->class_names, &o, cfg->ft_opts,
                                    w->fw, w->fb, w->oof, NULL, NULL, &te);
            if (m) {
                ordo_learn_ft_data td = *cfg->ft;
                td.slot = cfg->ft_test_slot;
                if (ordo_learn_ft_embed(cfg->ft, n, w->fw, w->fb, w->fx, err) ||
                    (cfg->n_test && ordo_learn_ft_embed(&td, cfg->n_test, w->fw, w->fb, w->ftx, err))) {
                    ordo_learn_model_free(m);
                    return -1;
                }
                px = w->fx;
                tx = w->ftx;
            }
        } else {
            int l = learner == ORDO_LEARNER_FINETUNE ? ORDO_LEARNER_LINEAR : learner;
            m = ordo_learn_train_with(l, cfg->x, n, cfg->d, w->labels, k, cfg->class_names, &o,
                                      w->candidate, w->oof, NULL, &te);
        }
        if (m) {
            if (ordo_learn_predict(m, px, n, w->probs, NULL, err) != 0 ||
                (cfg->n_test &&
                 ordo_learn_predict(m, tx, cfg->n_test, w->tprobs, NULL, err) != 0)) {
                ordo_learn_model_free(m);
                return -1;
            }
            ordo_learn_model_free(m);
            have_model = 1;
            for (size_t i = 0; i < n; i++) w->pred[i] = argmax(w->probs + i * (size_t)k, k);
        } else {
            /* fewer than two classes labeled: the only sensible model
             * predicts the one class seen (or class 0) */
            int only = 0;
            for (size_t i = 0; i < n; i++)
                if (w->labels[i] >= 0) only = w->labels[i];
            for (size_t i = 0; i < n; i++) w->pred[i] = only;
            have_model = 0;
        }
        size_t ne = 0, ce = 0, nr = 0, cr = 0;
        for (size_t i = 0; i < n; i++)
            if (w->is_eval[i]) {
                ne++;
                ce += w->pred[i] == cfg->truth[i];
            } else if (w->candidate[i]) {
                nr++;
                cr += w->pred[i] == cfg->truth[i];
            }
        size_t at = (size_t)s * R + r;
        cv->kappa[at] = NAN;
        if (r > 0) cv->kappa[at] = stop_kappa(cfg, w, w->ka, w->kb);
        memcpy(w->prev, w->pred, n * sizeof *w->prev);
        cv->rest_acc[at] = nr ? (double)cr / nr : NAN;
        cv->eval_acc[at] = ne ? (double)ce / ne : NAN;
        ordo_learn_wilson(ce, ne, 1.959963984540054, &cv->eval_lo[at], &cv->eval_hi[at]);
        if (cfg->n_test) {
            size_t ct = 0;
            for (size_t i = 0; i < cfg->n_test; i++) {
                int pr = have_model ? argmax(w->tprobs + i * (size_t)k, k) : w->pred[0];
                ct += pr == cfg->test_truth[i];
            }
            cv->test_acc[at] = (double)ct / cfg->n_test;
        } else {
            cv->test_acc[at] = NAN;
        }
        if (s == 0) cv->points[r].labels = nlab;
    }
    return 0;
}

/* (seed, strategy) jobs shared by the worker threads. */
typedef struct simjobs {
    const ordo_learn_sim_config *cfg;
    const ordo_learn_strategy *st;
    const int *learners;
    int ns, nl, total, next, failed;
    ordo_learn_sim_result *out;
    pthread_mutex_t mu;
    ordo_err err;
} simjobs;

static void *sim_worker(void *arg)
{
    simjobs *J = arg;
    simws w;
    ordo_err e;
    if (simws_alloc(&w, J->cfg) != 0) {
        pthread_mutex_lock(&J->mu);
        if (!J->failed) ordo_err_set(&J->err, "simulate: out of memory");
        J->failed = 1;
        pthread_mutex_unlock(&J->mu);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&J->mu);
        int job = J->failed ? J->total : J->next++;
        pthread_mutex_unlock(&J->mu);
        if (job >= J->total) break;
        int nc = J->ns * J->nl, s = job / nc, j = job % nc;
        draw_eval(J->cfg, s, &w);
        if (run_one(J->cfg, &J->st[j / J->nl], J->learners[j % J->nl], s, &w,
                    &J->out->curves[j], &e) != 0) {
            pthread_mutex_lock(&J->mu);
            if (!J->failed) J->err = e;
            J->failed = 1;
            pthread_mutex_unlock(&J->mu);
            break;
        }
    }
    simws_free(&w);
    return NULL;
}

/* Trapezoid area under (labels, acc) divided by the label range. */
static double area(const ordo_learn_sim_point *pt, const double *acc, int np)
{
    if (np == 1) return acc[0];
    double a = 0;
    for (int r = 1; r < np; r++)
        a += 0.5 * (acc[r] + acc[r - 1]) * (double)(pt[r].labels - pt[r - 1].labels);
    double range = (double)(pt[np - 1].labels - pt[0].labels);
    return range > 0 ? a / range : acc[np - 1];
}

static void mean_sd(const double *v, int stride, int cnt, double *mean, double *sd)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < cnt; i++) s += v[i * stride];
    double mu = s / cnt;
    for (int i = 0; i < cnt; i++) s2 += (v[i * stride] - mu) * (v[i * stride] - mu);
    *mean = mu;
    *sd = cnt > 1 ? sqrt(s2 / (cnt - 1)) : 0;
}

int ordo_learn_simulate(const ordo_learn_sim_config *cfg, const ordo_learn_strategy *strategies,
                        int n_strategies, ordo_learn_sim_result *out, ordo_err *err)
{
    memset(out, 0, sizeof *out);
    if (!cfg || !cfg->x || !cfg->truth || cfg->n == 0 || cfg->d == 0 || cfg->k < 2 ||
        cfg->rounds < 1 || cfg->n_seeds < 1 || cfg->batch == 0 || n_strategies < 1 ||
        (cfg->n_test && (!cfg->test_x || !cfg->test_truth)) ||
        (cfg->prior_probs && cfg->prior_k < 2))
        return ordo_err_set(err, "simulate: bad configuration");
    if (cfg->eval_size >= cfg->n)
        return ordo_err_set(err, "simulate: evaluation sample (%zu) must be smaller than the pool (%zu)",
                            cfg->eval_size, cfg->n);
    for (size_t i = 0; i < cfg->n; i++)
        if (cfg->truth[i] < 0 || cfg->truth[i] >= cfg->k)
            return ordo_err_set(err, "simulate: truth of row %zu is outside [0, %d)", i, cfg->k);
    for (size_t i = 0; i < cfg->n_test; i++)
        if (cfg->test_truth[i] < 0 || cfg->test_truth[i] >= cfg->k)
            return ordo_err_set(err, "simulate: test truth of row %zu is outside [0, %d)", i,
                                cfg->k);
    for (int j = 0; j < n_strategies; j++)
        if (!strategies[j].fn)
            return ordo_err_set(err, "simulate: strategy %d (%s) has no function", j,
                                strategies[j].name ? strategies[j].name : "?");

    static const int linear_only = ORDO_LEARNER_LINEAR;
    const int *learners = cfg->learners && cfg->n_learners > 0 ? cfg->learners : &linear_only;
    int NL = cfg->learners && cfg->n_learners > 0 ? cfg->n_learners : 1;
    for (int l = 0; l < NL; l++)
        if (!ordo_learn_learner_name(learners[l]))
            return ordo_err_set(err, "simulate: unknown learner %d", learners[l]);
        else if (learners[l] == ORDO_LEARNER_FINETUNE &&
                 (!cfg->ft || (size_t)cfg->ft->D != cfg->d || (cfg->n_test && !cfg->ft_test_slot)))
            return ordo_err_set(err, "simulate: the finetune learner needs the activation cache");
    int named = NL > 1 || learners[0] != ORDO_LEARNER_LINEAR;
    double kthr = cfg->stop_kappa > 0 ? cfg->stop_kappa : 0.99;
    int win = cfg->stop_window > 0 ? cfg->stop_window : 3;
    int R = cfg->rounds, S = cfg->n_seeds, NC = n_strategies * NL;
    out->curves = calloc((size_t)NC, sizeof *out->curves);
    int rc = -1;
    if (!out->curves) {
        ordo_err_set(err, "simulate: out of memory");
        goto done;
    }
    out->n_curves = NC;
    out->n_seeds = S;
    for (int j = 0; j < NC; j++) {
        ordo_learn_sim_curve *c = &out->curves[j];
        const char *sn = strategies[j / NL].name ? strategies[j / NL].name : "?";
        if (named) snprintf(c->name, sizeof c->name, "%s/%s", sn, ordo_learn_learner_name(learners[j % NL]));
        else snprintf(c->name, sizeof c->name, "%s", sn);
        c->n_points = R;
        c->points = calloc((size_t)R, sizeof *c->points);
        size_t sr = (size_t)S * R;
        c->eval_acc = malloc(sr * sizeof(double));
        c->test_acc = malloc(sr * sizeof(double));
        c->eval_lo = malloc(sr * sizeof(double));
        c->eval_hi = malloc(sr * sizeof(double));
        c->rest_acc = malloc(sr * sizeof(double));
        c->kappa = malloc(sr * sizeof(double));
        c->stop_round = malloc((size_t)S * sizeof(int));
        if (!c->points || !c->eval_acc || !c->test_acc || !c->eval_lo || !c->eval_hi ||
            !c->rest_acc || !c->kappa || !c->stop_round) {
            ordo_err_set(err, "simulate: out of memory");
            goto done;
        }
    }
    simjobs jobs = {.cfg = cfg, .st = strategies, .learners = learners, .ns = n_strategies,
                    .nl = NL, .out = out, .total = S * NC};
    pthread_mutex_init(&jobs.mu, NULL);
    int nt = cfg->threads > 1 ? cfg->threads : 1;
    if (nt > jobs.total) nt = jobs.total;
    pthread_t *th = nt > 1 ? calloc((size_t)nt, sizeof *th) : NULL;
    int started = 0;
    if (th)
        for (; started < nt; started++)
            if (pthread_create(&th[started], NULL, sim_worker, &jobs) != 0) break;
    if (started == 0) sim_worker(&jobs); /* serial, or threads unavailable */
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    pthread_mutex_destroy(&jobs.mu);
    if (jobs.failed) {
        *err = jobs.err;
        goto done;
    }

    /* summaries */
    int has_test = cfg->n_test > 0;
    size_t cov_in = 0, cov_n = 0, rest_in = 0, rest_n = 0;
    double *auc = malloc((size_t)S * sizeof *auc);
    if (!auc) {
        ordo_err_set(err, "simulate: out of memory");
        goto done;
    }
    /* the anchor: random order with the linear learner if it runs, else
     * with the first learner listed */
    int rnd = -1;
    for (int j = 0; j < NC; j++) {
        if (!strategies[j / NL].name || strcmp(strategies[j / NL].name, "random")) continue;
        if (rnd < 0 || (learners[j % NL] == ORDO_LEARNER_LINEAR &&
                        learners[rnd % NL] != ORDO_LEARNER_LINEAR))
            rnd = j;
    }
    for (int j = 0; j < NC; j++) {
        ordo_learn_sim_curve *c = &out->curves[j];
        for (int r = 0; r < R; r++) {
            mean_sd(c->eval_acc + r, R, S, &c->points[r].eval_mean, &c->points[r].eval_sd);
            if (has_test)
                mean_sd(c->test_acc + r, R, S, &c->points[r].test_mean, &c->points[r].test_sd);
            else
                c->points[r].test_mean = c->points[r].test_sd = NAN;
        }
        for (int s = 0; s < S; s++) {
            for (int r = 0; r < R; r++) {
                size_t at = (size_t)s * R + r;
                if (isnan(c->rest_acc[at])) continue;
                rest_n++;
                rest_in += c->eval_lo[at] <= c->rest_acc[at] && c->rest_acc[at] <= c->eval_hi[at];
            }
            auc[s] = area(c->points, (has_test ? c->test_acc : c->eval_acc) + (size_t)s * R, R);
            if (has_test)
                for (int r = 0; r < R; r++) {
                    size_t at = (size_t)s * R + r;
                    cov_n++;
                    cov_in += c->eval_lo[at] <= c->test_acc[at] && c->test_acc[at] <= c->eval_hi[at];
                }
        }
        double sd;
        mean_sd(auc, 1, S, &c->auc, &sd);
        c->auc_se = sd / sqrt((double)S);
        /* stopping criterion: the first round whose mean kappa over the
         * last `win` rounds reaches the threshold (Bloodgood &
         * Vijay-Shanker 2009: window 3, threshold 0.99) */
        double sl = 0, sa = 0, sf = 0;
        c->stop_fired = 0;
        for (int s = 0; s < S; s++) {
            const double *kp = c->kappa + (size_t)s * R;
            const double *acc = (has_test ? c->test_acc : c->eval_acc) + (size_t)s * R;
            c->stop_round[s] = -1;
            for (int r = win; r < R && c->stop_round[s] < 0; r++) {
                double m = 0;
                for (int q = r - win + 1; q <= r; q++) m += kp[q];
                if (m / win >= kthr) c->stop_round[s] = r;
            }
            if (c->stop_round[s] < 0) continue;
            c->stop_fired++;
            sl += (double)c->points[c->stop_round[s]].labels;
            sa += acc[c->stop_round[s]];
            sf += acc[R - 1];
        }
        c->stop_labels_mean = c->stop_fired ? sl / c->stop_fired : NAN;
        c->stop_acc_mean = c->stop_fired ? sa / c->stop_fired : NAN;
        c->stop_final_acc_mean = c->stop_fired ? sf / c->stop_fired : NAN;
    }
    free(auc);
    out->eval_ci_coverage = cov_n ? (double)cov_in / cov_n : NAN;
    out->rest_ci_coverage = rest_n ? (double)rest_in / rest_n : NAN;
    for (int j = 0; j < NC; j++) {
        ordo_learn_sim_curve *c = &out->curves[j];
        c->labels_to_match_random = -1;
        if (rnd < 0) continue;
        const ordo_learn_sim_point *rp = out->curves[rnd].points;
        double target = has_test ? rp[R - 1].test_mean : rp[R - 1].eval_mean;
        for (int r = 0; r < R; r++) {
            double a = has_test ? c->points[r].test_mean : c->points[r].eval_mean;
            if (a + 1e-12 < target) continue;
            if (r == 0) {
                c->labels_to_match_random = (long)c->points[0].labels;
            } else {
                /* linear interpolation between the rounds that straddle it */
                double a0 = has_test ? c->points[r - 1].test_mean : c->points[r - 1].eval_mean;
                double l0 = (double)c->points[r - 1].labels, l1 = (double)c->points[r].labels;
                double f = a > a0 ? (target - a0) / (a - a0) : 1.0;
                c->labels_to_match_random = (long)ceil(l0 + f * (l1 - l0) - 1e-9);
            }
            break;
        }
    }
    rc = 0;
done:
    if (rc != 0) ordo_learn_sim_result_free(out);
    return rc;
}
