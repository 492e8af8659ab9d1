/* semi.c - learners that also use the unlabeled pool, and the registry of
 * learners `ordo train --learner` and `ordo simulate --learners` choose from.
 *
 * "propagate" (the semi-supervised learner), after Iscen, Tolias, Avrithis
 * & Chum 2019, "Label Propagation for Deep Semi-supervised Learning":
 *   1. the linear learner on the labeled rows (CV strength, temperature);
 *   2. a k-nearest-neighbour graph over labeled + unlabeled rows on cosine
 *      similarity, w_ij = max(0, cos(x_i, x_j))^3 for j among i's k nearest,
 *      symmetrized W = A + A^T, normalized S = D^-1/2 W D^-1/2;
 *   3. label propagation (Zhou, Bousquet, Lal, Weston & Schoelkopf 2004,
 *      "Learning with Local and Global Consistency"): F <- alpha S F + Y,
 *      Y_ic = 1 / n_c for a labeled row i of class c (class-normalized, so a
 *      class with many labels does not flood the graph), 0 otherwise;
 *   4. each unlabeled row i gets the pseudo-label argmax_c q_ic of the mean
 *      q_i = (F_i / sum_c F_ic + p_i) / 2 of the propagated scores and the
 *      step-1 model's calibrated probabilities p_i, with the certainty
 *      w_i = (max_c q_ic)^2. Measured on sports100 (lite0, random split,
 *      random order, 2 seeds, docs/learn.md): Iscen et al.'s entropy
 *      certainty on F alone gave +5.1 points at 400 labels but -0.2 at
 *      1,000; the step-1 model alone +3.3 / +1.2; the mean +5.0 / +1.9;
 *   5. the linear model refit, at the strength step 1 chose, on labeled rows
 *      (class-balanced, total weight 1) and pseudo-labeled rows (certainty
 *      times class balance, total weight lambda); step 1's temperature is
 *      kept, because the refit has no held-out rows of its own.
 * The result is an ordinary linear model, so prediction, ranking and the
 * model format are the same as the linear learner's. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "learn/learn.h"
#include "learn/learn_rng.h"

void ordo_learn_semi_default(ordo_learn_semi_opts *o)
{
    o->knn = 20;
    o->alpha = 0.99;
    o->iterations = 30;
    o->lambda = 0.3;
    o->max_unlabeled = 10000;
}

/* Top-kn neighbours of every row of V (m x d, unit rows) by inner product,
 * itself excluded: nb (m x kn) indices, w (m x kn) = max(0, cos)^3. Blocks
 * of rows against all rows through sgemm, then a partial selection. */
static int knn_graph(const float *V, size_t m, size_t d, int kn, int *nb, float *w)
{
    enum { BLK = 256 };
    float *S = malloc((size_t)BLK * m * sizeof *S);
    if (!S) return -1;
    for (size_t r0 = 0; r0 < m; r0 += BLK) {
        size_t nr = m - r0 < BLK ? m - r0 : BLK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)m, (int)d, 1.0f,
                    V + r0 * d, (int)d, V, (int)d, 0.0f, S, (int)m);
        for (size_t q = 0; q < nr; q++) {
            size_t i = r0 + q;
            const float *s = S + q * m;
            int *bi = nb + i * (size_t)kn;
            float *bw = w + i * (size_t)kn;
            int have = 0;
            /* insertion into a sorted list of kn: kn is small (20) */
            for (size_t j = 0; j < m; j++) {
                if (j == i) continue;
                float v = s[j];
                if (have == kn && v <= bw[kn - 1]) continue;
                int at = have < kn ? have++ : kn - 1;
                while (at > 0 && bw[at - 1] < v) {
                    bw[at] = bw[at - 1];
                    bi[at] = bi[at - 1];
                    at--;
                }
                bw[at] = v;
                bi[at] = (int)j;
            }
            for (int t = 0; t < kn; t++) {
                if (t >= have) { bi[t] = (int)i; bw[t] = 0; continue; }
                float c = bw[t] > 0 ? bw[t] : 0;
                bw[t] = c * c * c;
            }
        }
    }
    free(S);
    return 0;
}

/* out = S F with S = D^-1/2 (A + A^T) D^-1/2, given dis = D^-1/2 and the
 * directed lists A (nb, w); G is m x K scratch. */
static void apply_s(const int *nb, const float *w, const float *dis, size_t m, int kn, int K,
                    const float *F, float *G, float *out)
{
    for (size_t i = 0; i < m; i++)
        for (int c = 0; c < K; c++) G[i * K + c] = dis[i] * F[i * K + c];
    memset(out, 0, m * (size_t)K * sizeof *out);
    for (size_t i = 0; i < m; i++)
        for (int t = 0; t < kn; t++) {
            size_t j = (size_t)nb[i * (size_t)kn + t];
            float a = w[i * (size_t)kn + t];
            if (a == 0) continue;
            for (int c = 0; c < K; c++) { /* A_ij and its transpose A_ji */
                out[i * K + c] += a * G[j * K + c];
                out[j * K + c] += a * G[i * K + c];
            }
        }
    for (size_t i = 0; i < m; i++)
        for (int c = 0; c < K; c++) out[i * K + c] *= dis[i];
}

int ordo_learn_propagate(const float *x, size_t n, size_t d, const int *y, int k,
                         const ordo_learn_semi_opts *so, float *F, ordo_err *err)
{
    int kn = so->knn;
    if (!x || !y || !F || n == 0 || d == 0 || k < 2 || kn < 1 || !(so->alpha > 0 && so->alpha < 1))
        return ordo_err_set(err, "propagate: bad arguments");
    if ((size_t)kn >= n) kn = (int)n - 1;
    if (kn < 1) return ordo_err_set(err, "propagate: need at least 2 rows");
    float *V = malloc(n * d * sizeof *V), *w = malloc(n * (size_t)kn * sizeof *w);
    int *nb = malloc(n * (size_t)kn * sizeof *nb);
    float *Y = calloc(n * (size_t)k, sizeof *Y), *G = malloc(n * (size_t)k * sizeof *G);
    float *T = malloc(n * (size_t)k * sizeof *T), *dis = calloc(n, sizeof *dis);
    size_t *cnt = calloc((size_t)k, sizeof *cnt);
    int rc = -1;
    if (!V || !w || !nb || !Y || !G || !T || !dis || !cnt) {
        ordo_err_set(err, "propagate: out of memory (%zu rows)", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        double s2 = 0;
        for (size_t j = 0; j < d; j++) s2 += (double)x[i * d + j] * x[i * d + j];
        float inv = s2 > 0 ? (float)(1.0 / sqrt(s2)) : 0.0f;
        for (size_t j = 0; j < d; j++) V[i * d + j] = x[i * d + j] * inv;
        if (y[i] >= k) {
            ordo_err_set(err, "propagate: label %d of row %zu is outside [0, %d)", y[i], i, k);
            goto out;
        }
        if (y[i] >= 0) cnt[y[i]]++;
    }
    if (knn_graph(V, n, d, kn, nb, w)) {
        ordo_err_set(err, "propagate: out of memory (similarity block)");
        goto out;
    }
    /* degrees of W = A + A^T */
    for (size_t i = 0; i < n; i++)
        for (int t = 0; t < kn; t++) {
            float a = w[i * (size_t)kn + t];
            dis[i] += a;
            dis[nb[i * (size_t)kn + t]] += a;
        }
    for (size_t i = 0; i < n; i++) dis[i] = dis[i] > 0 ? 1.0f / sqrtf(dis[i]) : 0.0f;
    for (size_t i = 0; i < n; i++)
        if (y[i] >= 0) Y[i * k + y[i]] = 1.0f / (float)cnt[y[i]];
    /* F_0 = Y; F_{t+1} = alpha S F_t + Y (converges to (I - alpha S)^-1 Y) */
    memcpy(F, Y, n * (size_t)k * sizeof *F);
    for (int it = 0; it < so->iterations; it++) {
        apply_s(nb, w, dis, n, kn, k, F, G, T);
        for (size_t q = 0; q < n * (size_t)k; q++) F[q] = (float)so->alpha * T[q] + Y[q];
    }
    rc = 0;
out:
    free(V); free(w); free(nb); free(Y); free(G); free(T); free(dis); free(cnt);
    return rc;
}

ordo_learn_model *ordo_learn_train_semi(const float *x, size_t n, size_t d, const int *y, int k,
                                        const char *const *class_names,
                                        const ordo_learn_opts *opts,
                                        const unsigned char *unlabeled,
                                        const ordo_learn_semi_opts *so, float *oof_probs,
                                        ordo_learn_report *report, ordo_err *err)
{
    double t0 = ordo_clock_mono();
    ordo_learn_report rep0;
    ordo_learn_semi_opts sd;
    if (!so) { ordo_learn_semi_default(&sd); so = &sd; }
    if (opts && opts->offset) {   /* the refit's pseudo-labeled rows would have none */
        ordo_err_set(err, "propagate: logit offsets are not supported");
        return NULL;
    }
    ordo_learn_model *m0 =
        ordo_learn_train(x, n, d, y, k, class_names, opts, oof_probs, &rep0, err);
    if (!m0) return NULL;
    /* the graph's rows: every labeled row, then up to max_unlabeled
     * unlabeled ones (a seeded uniform sample when there are more) */
    size_t nl = 0, nu = 0;
    size_t *rows = malloc((n ? n : 1) * sizeof *rows);
    float *X2 = NULL, *F = NULL, *rw = NULL, *P = NULL;
    int *y2 = NULL;
    ordo_learn_model *m = NULL;
    if (!rows) goto oom;
    for (size_t i = 0; i < n; i++)
        if (y[i] >= 0) rows[nl++] = i;
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 && (!unlabeled || unlabeled[i])) rows[nl + nu++] = i;
    if (nu == 0 || so->lambda <= 0) goto linear; /* nothing to add */
    if (so->max_unlabeled > 0 && nu > so->max_unlabeled) {
        learn_rng r;
        learn_rng_seed(&r, (opts ? opts->seed : 1) ^ 0x73656d69ULL);
        learn_rng_shuffle(&r, rows + nl, nu);
        nu = so->max_unlabeled;
    }
    size_t m2 = nl + nu;
    X2 = malloc(m2 * d * sizeof *X2);
    y2 = malloc(m2 * sizeof *y2);
    F = malloc(m2 * (size_t)k * sizeof *F);
    rw = malloc(m2 * sizeof *rw);
    if (!X2 || !y2 || !F || !rw) goto oom;
    for (size_t q = 0; q < m2; q++) {
        memcpy(X2 + q * d, x + rows[q] * d, d * sizeof *X2);
        y2[q] = q < nl ? y[rows[q]] : -1;
    }
    if (ordo_learn_propagate(X2, m2, d, y2, k, so, F, err)) goto fail;
    /* pseudo-labels and certainties from q = (F / sum F + p) / 2 */
    double *csum = calloc((size_t)k, sizeof *csum);
    size_t *lcnt = calloc((size_t)k, sizeof *lcnt);
    P = malloc(nu * (size_t)k * sizeof *P);
    if (!csum || !lcnt || !P) { free(csum); free(lcnt); goto oom; }
    if (ordo_learn_predict(m0, X2 + nl * d, nu, P, NULL, err)) {
        free(csum);
        free(lcnt);
        goto fail;
    }
    for (size_t q = nl; q < m2; q++) {
        const float *f = F + q * (size_t)k, *pr = P + (q - nl) * (size_t)k;
        double s = 0, best = -1;
        int am = 0;
        for (int c = 0; c < k; c++) s += f[c];
        for (int c = 0; c < k; c++) {
            /* a row propagation never reached keeps the model's p alone */
            double v = s > 0 ? 0.5 * (f[c] / s + pr[c]) : pr[c];
            if (v > best) { best = v; am = c; }
        }
        y2[q] = am;
        rw[q] = (float)(best * best);
        csum[am] += rw[q];
    }
    /* class balance: labeled rows share weight 1 equally per present class,
     * pseudo rows share lambda the same way (by certainty mass) */
    for (size_t q = 0; q < nl; q++) lcnt[y2[q]]++;
    int kl = 0, ku = 0;
    for (int c = 0; c < k; c++) {
        kl += lcnt[c] > 0;
        ku += csum[c] > 0;
    }
    for (size_t q = 0; q < nl; q++) rw[q] = (float)(1.0 / ((double)kl * (double)lcnt[y2[q]]));
    for (size_t q = nl; q < m2; q++)
        if (y2[q] >= 0) rw[q] = (float)(so->lambda * rw[q] / ((double)ku * csum[y2[q]]));
    free(csum);
    free(lcnt);
    ordo_learn_opts o2;
    if (opts) o2 = *opts;
    else ordo_learn_opts_default(&o2);
    o2.l2 = rep0.l2;
    o2.calibrate = 0;
    o2.class_balanced = 0;
    o2.row_weight = rw;
    ordo_learn_report rep2;
    m = ordo_learn_train(X2, m2, d, y2, k, class_names, &o2, NULL, &rep2, err);
    if (!m) goto fail;
    ordo_learn_model_set_temperature(m, rep0.temperature);
    ordo_learn_model_free(m0);
    m0 = NULL;
    rep0.iterations = rep2.iterations;
linear:
    if (!m) { m = m0; m0 = NULL; }
    if (report) {
        *report = rep0;
        report->seconds = ordo_clock_mono() - t0;
    }
    goto done;
oom:
    ordo_err_set(err, "train (propagate): out of memory (%zu rows)", n);
fail:
    ordo_learn_model_free(m);
    m = NULL;
done:
    ordo_learn_model_free(m0);
    free(rows); free(X2); free(y2); free(F); free(rw); free(P);
    return m;
}

/* ---- the learners ------------------------------------------------------------ */

static const char *const learner_names[] = {"linear", "propagate", "finetune"};

int ordo_learn_learner_id(const char *name)
{
    for (int i = 0; name && i < (int)(sizeof learner_names / sizeof *learner_names); i++)
        if (!strcmp(name, learner_names[i])) return i;
    return -1;
}

const char *ordo_learn_learner_name(int id)
{
    if (id < 0 || id >= (int)(sizeof learner_names / sizeof *learner_names)) return NULL;
    return learner_names[id];
}

ordo_learn_model *ordo_learn_train_with(int learner, const float *x, size_t n, size_t d,
                                        const int *y, int k, const char *const *class_names,
                                        const ordo_learn_opts *opts,
                                        const unsigned char *unlabeled, float *oof_probs,
                                        ordo_learn_report *report, ordo_err *err)
{
    switch (learner) {
    case ORDO_LEARNER_LINEAR:
        return ordo_learn_train(x, n, d, y, k, class_names, opts, oof_probs, report, err);
    case ORDO_LEARNER_PROPAGATE:
        return ordo_learn_train_semi(x, n, d, y, k, class_names, opts, unlabeled, NULL, oof_probs,
                                     report, err);
    case ORDO_LEARNER_FINETUNE:
        ordo_err_set(err, "train: the finetune learner needs the activation cache "
                          "(ordo_learn_ft_train)");
        return NULL;
    default:
        ordo_err_set(err, "train: unknown learner %d", learner);
        return NULL;
    }
}
