/* finetune.c - the "finetune" learner (finetune.h has the math).
 *
 * Forward and backward of the head sit next to each other in ft_batch();
 * the two 1x1 convolutions over a batch (B*P pixels) are OpenBLAS sgemm
 * calls, which is where all the time goes: 2 * B*P*C*D flops forward, the
 * same again for dW (no dX: nothing below the cut trains).
 */
#include "learn/finetune.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/f16.h"
#include "learn/learn_internal.h"
#include "learn/learn_rng.h"

void ordo_learn_ft_default(ordo_learn_ft_opts *o)
{
    *o = (ordo_learn_ft_opts){.max_epochs = 30, .patience = 4, .batch = 64, .lr = 3e-4,
                              .lr_cls = 1e-3, .beta = 1e-3, .gamma = 1e-4, .val_frac = 0.2,
                              .crop = 5, .full = 1, .seed = 1};
}

/* Augmentation at this cut. Mirroring the cached map would do nothing: the
 * head is a 1x1 convolution and a global average pool, so the embedding does
 * not depend on where a pixel sits. What does change it is which pixels are
 * pooled: a random s x s window of the S x S map (s in S-2..S) stands for a
 * random crop of the photo (a zoom-in, shifted), as in the crops of
 * ImageNet training. pw (P) gets 1/s^2 inside the window, 0 outside. */
static void crop_weights(int P, int smin, learn_rng *r, float *pw)
{
    const int S = (int)lround(sqrt((double)P));
    if (smin < 1 || smin > S) smin = S;
    const int s = smin + (int)learn_rng_below(r, (size_t)(S - smin + 1));
    const int y0 = (int)learn_rng_below(r, (size_t)(S - s + 1));
    const int x0 = (int)learn_rng_below(r, (size_t)(S - s + 1));
    for (int p = 0; p < P; p++) {
        const int py = p / S, px = p % S;
        pw[p] = py >= y0 && py < y0 + s && px >= x0 && px < x0 + s ? 1.0f / (float)(s * s) : 0.0f;
    }
}

/* Workspace of one batch. The batch's pixels are gathered into X, M rows of
 * C: pixel m belongs to image img[m] and weighs q[m] in its pool (1/P, or
 * a crop window's 1/s^2; pixels outside the window are not gathered at
 * all, so a 5 x 5 crop costs 25/49 of the full map). */
typedef struct ftws {
    size_t cap;          /* images */
    int K;
    size_t M;            /* pixels gathered */
    float *X, *A, *E, *Z, *dE, *q;
    int *img;
} ftws;

static void ws_free(ftws *w)
{
    free(w->X); free(w->A); free(w->E); free(w->Z); free(w->dE); free(w->q); free(w->img);
    memset(w, 0, sizeof *w);
}

static int ws_init(ftws *w, const ordo_learn_ft_data *dt, size_t B, int K)
{
    memset(w, 0, sizeof *w);
    w->cap = B;
    w->K = K;
    size_t px = B * (size_t)dt->P;
    w->X = malloc(px * dt->C * sizeof(float));
    w->A = malloc(px * dt->D * sizeof(float));
    w->E = malloc(B * dt->D * sizeof(float));
    w->Z = malloc(B * (size_t)K * sizeof(float));
    w->dE = malloc(B * dt->D * sizeof(float));
    w->q = malloc(px * sizeof(float));
    w->img = malloc(px * sizeof(int));
    if (!w->X || !w->A || !w->E || !w->Z || !w->dE || !w->q || !w->img) { ws_free(w); return -1; }
    return 0;
}

/* Gathers rows idx[0..B) into X: every pixel with pool weight pw[i*P + p]
 * != 0 (pw NULL: every pixel, weight 1/P). */
static void gather(const ordo_learn_ft_data *dt, ftws *w, const size_t *idx, size_t B,
                   const float *pw)
{
    const int P = dt->P, C = dt->C;
    const size_t rowlen = (size_t)P * C;
    size_t m = 0;
    for (size_t i = 0; i < B; i++) {
        const uint16_t *src = dt->acts + (size_t)dt->slot[idx[i]] * rowlen;
        if (!pw) {
            ordo_f16_to_f32(src, w->X + m * C, rowlen);
            for (int p = 0; p < P; p++, m++) { w->q[m] = 1.0f / (float)P; w->img[m] = (int)i; }
            continue;
        }
        for (int p = 0; p < P; p++) {
            const float q = pw[i * P + p];
            if (q == 0.0f) continue;
            ordo_f16_to_f32(src + (size_t)p * C, w->X + m * C, (size_t)C);
            w->q[m] = q;
            w->img[m++] = (int)i;
        }
    }
    w->M = m;
}

/* Forward of the head over the gathered pixels: A = X W + 1 b^T, then
 * e_i = sum over image i's pixels of q_m relu6(A_m). A keeps the
 * pre-activation for the backward pass. */
static void head_forward(const ordo_learn_ft_data *dt, ftws *w, size_t B, const float *W,
                         const float *b)
{
    const int C = dt->C, D = dt->D;
    const size_t M = w->M;
    for (size_t m = 0; m < M; m++) memcpy(w->A + m * D, b, (size_t)D * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, D, C, 1.0f, w->X, C, W, D,
                1.0f, w->A, D);
    memset(w->E, 0, B * D * sizeof *w->E);
    for (size_t m = 0; m < M; m++) {
        float *e = w->E + (size_t)w->img[m] * D;
        const float *a = w->A + m * D;
        const float q = w->q[m];
        for (int j = 0; j < D; j++) e[j] += q * fminf(fmaxf(a[j], 0.0f), 6.0f);
    }
}

/* z = V^T e + c for B rows; V is D x K. */
static void cls_forward(const ftws *w, size_t B, int D, int K, const float *V, const float *c)
{
    for (size_t i = 0; i < B; i++) memcpy(w->Z + i * K, c, (size_t)K * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, K, D, 1.0f, w->E, D, V, K,
                1.0f, w->Z, K);
}

/* Softmax cross-entropy: returns the summed loss; Z becomes dz = (p - y) / B. */
static double softmax_ce(float *Z, size_t B, int K, const int *y, int *correct)
{
    double loss = 0;
    for (size_t i = 0; i < B; i++) {
        float *z = Z + i * K;
        int am = 0;
        float mx = z[0];
        for (int c = 1; c < K; c++)
            if (z[c] > mx) { mx = z[c]; am = c; }
        double s = 0;
        for (int c = 0; c < K; c++) s += exp((double)z[c] - mx);
        loss += log(s) + mx - z[y[i]];
        if (correct) *correct += am == y[i];
        for (int c = 0; c < K; c++) z[c] = (float)(exp((double)z[c] - mx) / s / (double)B);
        z[y[i]] -= 1.0f / (float)B;
    }
    return loss;
}

/* One batch: loss (mean CE + penalties) and, when gW..gc are given, the
 * gradients (finetune.h's backward formulas). y: the batch's labels. */
static double ft_batch(const ordo_learn_ft_data *dt, ftws *w, const size_t *idx, size_t B,
                       const int *y, const float *pw, const float *W,
                       const float *b, const float *V, const float *c, double beta,
                       double gamma, float *gW, float *gb, float *gV, float *gc, int *correct)
{
    const int C = dt->C, D = dt->D, K = w->K;
    gather(dt, w, idx, B, pw);
    head_forward(dt, w, B, W, b);
    cls_forward(w, B, D, K, V, c);
    double loss = softmax_ce(w->Z, B, K, y, correct) / (double)B;
    /* penalties: beta/2 |W - W0|^2 + beta/2 |b - b0|^2 + gamma/2 |V|^2 */
    double sw = 0, sv = 0;
    for (size_t j = 0; j < (size_t)C * D; j++) sw += (double)(W[j] - dt->w0[j]) * (W[j] - dt->w0[j]);
    for (int j = 0; j < D; j++) sw += (double)(b[j] - dt->b0[j]) * (b[j] - dt->b0[j]);
    for (size_t j = 0; j < (size_t)D * K; j++) sv += (double)V[j] * V[j];
    loss += 0.5 * beta * sw + 0.5 * gamma * sv;
    if (!gW) return loss;

    /* dz is in Z. dV = E^T dz + gamma V; dc = 1^T dz */
    for (size_t j = 0; j < (size_t)D * K; j++) gV[j] = (float)gamma * V[j];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, K, (int)B, 1.0f, w->E, D, w->Z, K,
                1.0f, gV, K);
    memset(gc, 0, (size_t)K * sizeof *gc);
    for (size_t i = 0; i < B; i++)
        for (int k = 0; k < K; k++) gc[k] += w->Z[i * K + k];
    /* de = dz V^T (B x D) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, D, K, 1.0f, w->Z, K, V, K, 0.0f,
                w->dE, D);
    /* dA_m = q_m de_img(m) where 0 < A_m < 6, else 0 (in place over A) */
    const size_t M = w->M;
    for (size_t m = 0; m < M; m++) {
        const float *de = w->dE + (size_t)w->img[m] * D;
        const float q = w->q[m];
        float *a = w->A + m * D;
        for (int j = 0; j < D; j++) a[j] = a[j] > 0.0f && a[j] < 6.0f ? q * de[j] : 0.0f;
    }
    /* dW = X^T dA + beta (W - W0); db = 1^T dA + beta (b - b0) */
    for (size_t j = 0; j < (size_t)C * D; j++) gW[j] = (float)beta * (W[j] - dt->w0[j]);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, D, (int)M, 1.0f, w->X, C, w->A, D,
                1.0f, gW, D);
    for (int j = 0; j < D; j++) gb[j] = (float)beta * (b[j] - dt->b0[j]);
    for (size_t m = 0; m < M; m++)
        for (int j = 0; j < D; j++) gb[j] += w->A[m * D + j];
    return loss;
}

double ordo_learn_ft_loss(const ordo_learn_ft_data *data, const size_t *idx, size_t B,
                          const int *y, const float *pool_w, int K, const float *W,
                          const float *b, const float *V, const float *c, double beta,
                          double gamma, float *gW, float *gb, float *gV, float *gc,
                          ordo_err *err)
{
    ftws w;
    if (ws_init(&w, data, B, K)) {
        ordo_err_set(err, "out of memory");
        return NAN;
    }
    float *tW = gW ? gW : NULL;
    float *tb = NULL, *tV = NULL, *tc = NULL;
    int own = 0;
    if (gW && (!gb || !gV || !gc)) {   /* ft_batch fills all four or none */
        own = 1;
        tb = malloc((size_t)data->D * sizeof *tb);
        tV = malloc((size_t)data->D * K * sizeof *tV);
        tc = malloc((size_t)K * sizeof *tc);
    }
    double loss = ft_batch(data, &w, idx, B, y, pool_w, W, b, V, c, beta, gamma, tW,
                           gb ? gb : tb, gV ? gV : tV, gc ? gc : tc, NULL);
    if (own) { free(tb); free(tV); free(tc); }
    ws_free(&w);
    return loss;
}

int ordo_learn_ft_embed(const ordo_learn_ft_data *data, size_t n, const float *w,
                        const float *b, float *e, ordo_err *err)
{
    enum { CH = 64 };
    ftws ws;
    if (ws_init(&ws, data, CH, 1)) return ordo_err_set(err, "out of memory");
    for (size_t i0 = 0; i0 < n; i0 += CH) {
        size_t B = n - i0 < CH ? n - i0 : CH;
        size_t idx[CH];
        for (size_t i = 0; i < B; i++) idx[i] = i0 + i;
        gather(data, &ws, idx, B, NULL);
        head_forward(data, &ws, B, w, b);
        memcpy(e + i0 * data->D, ws.E, B * data->D * sizeof *e);
    }
    ws_free(&ws);
    return 0;
}

/* ---- training ------------------------------------------------------------ */

/* Adam (Kingma & Ba 2015): m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
 * x -= lr * mhat / (sqrt(vhat) + eps), hats = bias-corrected at step t. */
static void adam(float *x, const float *g, float *m, float *v, size_t n, double lr, int t)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
    for (size_t j = 0; j < n; j++) {
        m[j] = (float)(b1 * m[j] + (1 - b1) * g[j]);
        v[j] = (float)(b2 * v[j] + (1 - b2) * (double)g[j] * g[j]);
        x[j] -= (float)(lr * (m[j] / c1) / (sqrt(v[j] / c2) + eps));
    }
}

typedef struct ftstate {
    float *W, *b, *V, *c;           /* parameters */
    float *bestW, *bestb;           /* the head at the best held-out epoch */
    float *gW, *gb, *gV, *gc;
    float *mW, *vW, *mb, *vb, *mV, *vV, *mc, *vc;
    int t;
} ftstate;

static void st_free(ftstate *s)
{
    float **p[] = {&s->bestW, &s->bestb, &s->W, &s->b, &s->V, &s->c, &s->gW, &s->gb, &s->gV,
                   &s->gc, &s->mW, &s->vW, &s->mb, &s->vb, &s->mV, &s->vV, &s->mc, &s->vc};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) { free(*p[i]); *p[i] = NULL; }
}

static int st_init(ftstate *s, size_t CD, int D, int K)
{
    memset(s, 0, sizeof *s);
    size_t sz[4] = {CD, (size_t)D, (size_t)D * K, (size_t)K};
    float **grp[4][4] = {{&s->W, &s->gW, &s->mW, &s->vW}, {&s->b, &s->gb, &s->mb, &s->vb},
                         {&s->V, &s->gV, &s->mV, &s->vV}, {&s->c, &s->gc, &s->mc, &s->vc}};
    for (int a = 0; a < 4; a++)
        for (int q = 0; q < 4; q++)
            if (!(*grp[a][q] = calloc(sz[a], sizeof(float)))) { st_free(s); return -1; }
    if (!(s->bestW = calloc(CD, sizeof(float))) || !(s->bestb = calloc((size_t)D, sizeof(float)))) {
        st_free(s);
        return -1;
    }
    return 0;
}

/* The classifier's start: the linear learner on the pretrained embeddings
 * of the training rows, its standardization folded in:
 * z = W ((e - mean) * scale) + b  =>  V[j][c] = W[c][j] scale[j],
 * c[c] = b[c] - sum_j V[j][c] mean[j]. Absent classes start at -20. */
static int init_classifier(ftstate *s, const float *E, size_t n, int D, const int *y, int K,
                           const ordo_learn_opts *opts, double *l2_out, ordo_err *err)
{
    ordo_learn_opts o = *opts;
    o.calibrate = 0;
    o.row_weight = NULL;
    ordo_learn_report rep;
    ordo_learn_model *m = ordo_learn_train(E, n, (size_t)D, y, K, NULL, &o, NULL, &rep, err);
    if (!m) return -1;
    if (m->pca) { ordo_learn_model_free(m); return ordo_err_set(err, "finetune: PCA is not supported"); }
    for (int c = 0; c < K; c++) {
        double cc = m->b[c];
        for (int j = 0; j < D; j++) {
            float v = m->W[(size_t)c * D + j] * m->scale[j];
            s->V[(size_t)j * K + c] = v;
            cc -= (double)v * m->mean[j];
        }
        s->c[c] = m->present[c] ? (float)cc : -20.0f;
    }
    *l2_out = rep.l2;
    ordo_learn_model_free(m);
    return 0;
}

/* Mean loss and accuracy of rows idx (no flip, no penalties' gradients). */
static double eval_rows(const ordo_learn_ft_data *dt, ftws *w, const size_t *idx, size_t n,
                        const int *y, const ftstate *s, int *correct)
{
    double tot = 0;
    int yb[256];
    *correct = 0;
    for (size_t i0 = 0; i0 < n; i0 += w->cap) {
        size_t B = n - i0 < w->cap ? n - i0 : w->cap;
        for (size_t i = 0; i < B; i++) yb[i] = y[idx[i0 + i]];
        tot += ft_batch(dt, w, idx + i0, B, yb, NULL, s->W, s->b, s->V, s->c, 0, 0, NULL, NULL,
                        NULL, NULL, correct) * (double)B;
    }
    return n ? tot / (double)n : NAN;
}

/* Epochs of minibatch Adam over rows tr (shuffled each epoch, seeded).
 * With va: stops after patience epochs without a lower held-out loss and
 * reports the best epoch (the parameters are those of the last epoch run).
 * Without: runs exactly `epochs`. Returns the epoch count that was best
 * (or run), -1 on OOM. */
static int run_epochs(const ordo_learn_ft_data *dt, ftws *w, ftstate *s, size_t *tr, size_t ntr,
                      const size_t *va, size_t nva, const int *y, const ordo_learn_ft_opts *fo,
                      int epochs, ordo_learn_ft_report *rep)
{
    const size_t CD = (size_t)dt->C * dt->D;
    const int D = dt->D, K = w->K;
    learn_rng rng;
    learn_rng_seed(&rng, fo->seed * 0x9E3779B97F4A7C15ull + (va ? 1 : 2));
    float *pw = fo->crop ? malloc(w->cap * (size_t)dt->P * sizeof *pw) : NULL;
    if (fo->crop && !pw) return -1;
    int yb[256];
    int best = 0, since = 0;
    memcpy(s->bestW, s->W, CD * sizeof(float));
    memcpy(s->bestb, s->b, (size_t)D * sizeof(float));
    double best_loss = INFINITY;
    if (va) {
        int cor;
        best_loss = rep->val_loss0 = rep->val_loss = eval_rows(dt, w, va, nva, y, s, &cor);
        rep->val_acc0 = rep->val_acc = nva ? (double)cor / nva : NAN;
    }
    for (int ep = 1; ep <= epochs; ep++) {
        learn_rng_shuffle(&rng, tr, ntr);
        double tot = 0;
        for (size_t i0 = 0; i0 < ntr; i0 += w->cap) {
            size_t B = ntr - i0 < w->cap ? ntr - i0 : w->cap;
            for (size_t i = 0; i < B; i++) {
                if (pw) crop_weights(dt->P, fo->crop, &rng, pw + i * (size_t)dt->P);
                yb[i] = y[tr[i0 + i]];
            }
            tot += ft_batch(dt, w, tr + i0, B, yb, pw, s->W, s->b, s->V, s->c, fo->beta,
                            fo->gamma, s->gW, s->gb, s->gV, s->gc, NULL) * (double)B;
            s->t++;
            adam(s->W, s->gW, s->mW, s->vW, CD, fo->lr, s->t);
            adam(s->b, s->gb, s->mb, s->vb, (size_t)D, fo->lr, s->t);
            adam(s->V, s->gV, s->mV, s->vV, (size_t)D * K, fo->lr_cls, s->t);
            adam(s->c, s->gc, s->mc, s->vc, (size_t)K, fo->lr_cls, s->t);
        }
        tot /= (double)ntr;
        if (!va) {
            if (ep == 1) rep->train_loss0 = tot;
            rep->train_loss = tot;
            continue;
        }
        int cor;
        double vl = eval_rows(dt, w, va, nva, y, s, &cor);
        rep->epochs_tried = ep;
        if (vl < best_loss) {
            memcpy(s->bestW, s->W, CD * sizeof(float));
            memcpy(s->bestb, s->b, (size_t)D * sizeof(float));
            best_loss = vl;
            best = ep;
            since = 0;
            rep->val_loss = vl;
            rep->val_acc = (double)cor / nva;
        } else if (++since >= fo->patience) {
            break;
        }
    }
    free(pw);
    return va ? best : epochs;
}

/* Labeled rows, split into a stratified held-out share: each class's rows
 * in a seeded order, every round(1/frac)-th one held out (classes with one
 * row stay in training). */
static void split(const int *y, size_t n, int K, double frac, uint64_t seed, size_t *tr,
                  size_t *ntr, size_t *va, size_t *nva)
{
    learn_rng rng;
    learn_rng_seed(&rng, seed ^ 0x5EEDF00Dull);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (y[i] >= 0) tr[m++] = i;
    learn_rng_shuffle(&rng, tr, m);
    int every = frac > 0 ? (int)lround(1.0 / frac) : 0;
    int *seen = calloc((size_t)K, sizeof *seen);
    size_t a = 0, v = 0;
    for (size_t j = 0; j < m; j++) {
        size_t i = tr[j];
        int s = seen ? seen[y[i]]++ : 0;
        if (every > 1 && s % every == every - 1) va[v++] = i;
        else tr[a++] = i;
    }
    free(seen);
    *ntr = a;
    *nva = v;
}

ordo_learn_model *ordo_learn_ft_train(const ordo_learn_ft_data *dt, size_t n, const int *y,
                                      int k, const char *const *class_names,
                                      const ordo_learn_opts *opts,
                                      const ordo_learn_ft_opts *fo_in, float *w_out,
                                      float *b_out, float *oof_probs, ordo_learn_report *report,
                                      ordo_learn_ft_report *frep, ordo_err *err)
{
    ordo_learn_ft_opts fo;
    if (fo_in) fo = *fo_in; else ordo_learn_ft_default(&fo);
    if (fo.batch < 1 || fo.batch > 256) fo.batch = 64;
    ordo_learn_ft_report rep = {0};
    const int D = dt->D;
    const size_t CD = (size_t)dt->C * D;
    ordo_learn_model *model = NULL;
    ftws w = {0};
    ftstate s = {0};
    size_t *tr = malloc((n ? n : 1) * sizeof *tr), *va = malloc((n ? n : 1) * sizeof *va);
    float *E = malloc((n ? n : 1) * (size_t)D * sizeof *E);
    int *ysub = malloc((n ? n : 1) * sizeof *ysub);
    if (!tr || !va || !E || !ysub || ws_init(&w, dt, (size_t)fo.batch, k) ||
        st_init(&s, CD, D, k)) {
        ordo_err_set(err, "out of memory for the fine-tune");
        goto done;
    }
    size_t ntr, nva;
    split(y, n, k, fo.val_frac, fo.seed, tr, &ntr, va, &nva);
    if (ntr + nva < 2) { ordo_err_set(err, "finetune: fewer than 2 labeled images"); goto done; }
    /* pretrained embeddings of every row (the start of both fits) */
    if (ordo_learn_ft_embed(dt, n, dt->w0, dt->b0, E, err)) goto done;

    /* too few labels to hold out a judge (under ~50): the head stays
     * pretrained and the learner is the linear one on its embeddings */
    int epochs = 0;
    double l2 = 0;
    if (nva >= 10) {
        /* 1. early stopping: train on tr, watch the held-out loss */
        for (size_t i = 0; i < n; i++) ysub[i] = -1;
        for (size_t j = 0; j < ntr; j++) ysub[tr[j]] = y[tr[j]];
        memcpy(s.W, dt->w0, CD * sizeof(float));
        memcpy(s.b, dt->b0, (size_t)D * sizeof(float));
        if (init_classifier(&s, E, n, D, ysub, k, opts, &l2, err)) goto done;
        epochs = run_epochs(dt, &w, &s, tr, ntr, va, nva, y, &fo, fo.max_epochs, &rep);
        if (epochs < 0) { ordo_err_set(err, "out of memory"); goto done; }
        if (!fo.full) {
            /* the head of the best epoch; the held-out labels still train
             * the final classifier below */
            rep.best_epoch = epochs;
            memcpy(s.W, s.bestW, CD * sizeof(float));
            memcpy(s.b, s.bestb, (size_t)D * sizeof(float));
            goto embed;
        }
        /* 2. every labeled row, that many epochs, from the start again */
        memset(s.mW, 0, CD * sizeof(float)); memset(s.vW, 0, CD * sizeof(float));
        memset(s.mb, 0, (size_t)D * sizeof(float)); memset(s.vb, 0, (size_t)D * sizeof(float));
        memset(s.mV, 0, (size_t)D * k * sizeof(float)); memset(s.vV, 0, (size_t)D * k * sizeof(float));
        memset(s.mc, 0, (size_t)k * sizeof(float)); memset(s.vc, 0, (size_t)k * sizeof(float));
        s.t = 0;
    }
    rep.best_epoch = epochs;
    memcpy(s.W, dt->w0, CD * sizeof(float));
    memcpy(s.b, dt->b0, (size_t)D * sizeof(float));
    ordo_learn_opts o1 = *opts;
    if (l2 > 0) o1.l2 = l2;   /* the strength CV chose in step 1 */
    if (init_classifier(&s, E, n, D, y, k, &o1, &l2, err)) goto done;
    for (size_t j = 0; j < nva; j++) tr[ntr + j] = va[j];
    if (epochs > 0 && run_epochs(dt, &w, &s, tr, ntr + nva, NULL, 0, y, &fo, epochs, &rep) < 0) {
        ordo_err_set(err, "out of memory");
        goto done;
    }
embed:
    /* the adapted embeddings, and the linear learner over them */
    if (ordo_learn_ft_embed(dt, n, s.W, s.b, E, err)) goto done;
    model = ordo_learn_train(E, n, (size_t)D, y, k, class_names, opts, oof_probs, report, err);
    if (model) {
        if (w_out) memcpy(w_out, s.W, CD * sizeof(float));
        if (b_out) memcpy(b_out, s.b, (size_t)D * sizeof(float));
    }
done:
    if (frep) *frep = rep;
    free(tr); free(va); free(E); free(ysub);
    ws_free(&w);
    st_free(&s);
    return model;
}
