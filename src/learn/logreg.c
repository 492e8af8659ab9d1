/* logreg.c - multinomial logistic regression: training (L-BFGS over
 * cblas_sgemm), k-fold choice of the L2 strength, temperature scaling,
 * prediction, and the ATLAS error predictor built on the same code. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "learn/learn_internal.h"
#include "base/clock.h"
#include "learn/learn_rng.h"

/* LAPACK's symmetric eigensolver (shipped inside Debian's libopenblas). */
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda,
             float *w, float *work, const int *lwork, int *iwork, const int *liwork, int *info);

/* strengths per mean sample loss; sklearn's C = 1 / (l2 * n). On lite0
 * embeddings of sports100 the best lies near 1e-3 at 4,000 labels. */
static const double default_grid[] = {3e-2, 1e-2, 3e-3, 1e-3, 3e-4};

void ordo_learn_opts_default(ordo_learn_opts *o)
{
    memset(o, 0, sizeof *o);
    o->l2 = 0;
    o->l2_grid = NULL;
    o->n_l2_grid = 0;
    o->cv_folds = 3;
    o->pca_dim = 0;
    o->class_balanced = 1;
    o->calibrate = 1;
    o->max_iter = 200;
    o->tol = 1e-4;
    o->seed = 1;
}

/* ---- model object ------------------------------------------------------ */

ordo_learn_model *learn_model_alloc(int d, int k, int p, int with_pca)
{
    ordo_learn_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->kind = LEARN_KIND_LOGREG;
    m->d = d;
    m->k = k;
    m->p = p;
    m->temperature = 1.0;
    m->mean = calloc((size_t)d, sizeof(float));
    m->scale = calloc((size_t)d, sizeof(float));
    m->W = calloc((size_t)k * (size_t)p, sizeof(float));
    m->b = calloc((size_t)k, sizeof(float));
    m->present = calloc((size_t)k, 1);
    m->names = calloc((size_t)k, sizeof(char *));
    if (with_pca) m->pca = calloc((size_t)p * (size_t)d, sizeof(float));
    if (!m->mean || !m->scale || !m->W || !m->b || !m->present || !m->names ||
        (with_pca && !m->pca)) {
        ordo_learn_model_free(m);
        return NULL;
    }
    return m;
}

void ordo_learn_model_free(ordo_learn_model *m)
{
    if (!m) return;
    if (m->names)
        for (int c = 0; c < m->k; c++) free(m->names[c]);
    free(m->names);
    free(m->mean);
    free(m->scale);
    free(m->pca);
    free(m->W);
    free(m->b);
    free(m->present);
    free(m);
}

int ordo_learn_model_dim(const ordo_learn_model *m) { return m->d; }
int ordo_learn_model_classes(const ordo_learn_model *m) { return m->k; }
double ordo_learn_model_temperature(const ordo_learn_model *m) { return m->temperature; }
double ordo_learn_model_l2(const ordo_learn_model *m) { return m->l2; }
void ordo_learn_model_set_temperature(ordo_learn_model *m, double t)
{
    if (t > 0 && isfinite(t)) m->temperature = t;
}

const char *ordo_learn_model_class_name(const ordo_learn_model *m, int c)
{
    return c >= 0 && c < m->k ? m->names[c] : NULL;
}

/* z (n x p) = PCA((x - mean) * scale). tmp: n x d scratch when PCA is on. */
static void transform(const ordo_learn_model *m, const float *x, size_t n, float *z, float *tmp)
{
    size_t d = (size_t)m->d;
    float *s = m->pca ? tmp : z;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) s[i * d + j] = (x[i * d + j] - m->mean[j]) * m->scale[j];
    if (m->pca)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, m->p, m->d, 1.0f, s,
                    m->d, m->pca, m->d, 0.0f, z, m->p);
}

/* ---- softmax helpers ---------------------------------------------------- */

/* In place: row of logits (scaled by 1/t) -> probabilities; returns log of
 * the normalizer so callers can get the log-likelihood. -INFINITY allowed. */
static double softmax_row(float *r, int k, double t)
{
    double mx = -INFINITY;
    for (int c = 0; c < k; c++)
        if (r[c] / t > mx) mx = r[c] / t;
    if (!isfinite(mx)) { /* all -inf: uniform */
        for (int c = 0; c < k; c++) r[c] = 1.0f / (float)k;
        return 0;
    }
    double s = 0;
    for (int c = 0; c < k; c++) s += exp(r[c] / t - mx);
    double ls = log(s) + mx;
    for (int c = 0; c < k; c++) r[c] = (float)exp(r[c] / t - ls);
    return ls;
}

double ordo_learn_nll(const float *logits, size_t n, int k, const int *y, double t)
{
    double tot = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= k) continue;
        const float *r = logits + i * (size_t)k;
        double mx = -INFINITY;
        for (int c = 0; c < k; c++)
            if (r[c] / t > mx) mx = r[c] / t;
        double s = 0;
        for (int c = 0; c < k; c++) s += exp(r[c] / t - mx);
        double lp = r[y[i]] / t - mx - log(s);
        /* a true class with -inf logit (absent from training) costs a
         * large finite penalty rather than poisoning the average */
        tot += isfinite(lp) ? -lp : 50.0;
        cnt++;
    }
    return cnt ? tot / (double)cnt : 0;
}

/* NLL(beta) with beta = 1/T is convex (log-sum-exp of a linear function of
 * beta minus a linear term), so golden-section search on log beta finds
 * the minimum. */
double ordo_learn_fit_temperature(const float *logits, size_t n, int k, const int *y)
{
    double lo = log(1e-3), hi = log(1e2);
    const double g = 0.6180339887498949;
    double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    double fa = ordo_learn_nll(logits, n, k, y, exp(-a));
    double fb = ordo_learn_nll(logits, n, k, y, exp(-b));
    for (int it = 0; it < 80 && hi - lo > 1e-6; it++) {
        if (fa <= fb) {
            hi = b; b = a; fb = fa;
            a = hi - g * (hi - lo);
            fa = ordo_learn_nll(logits, n, k, y, exp(-a));
        } else {
            lo = a; a = b; fa = fb;
            b = lo + g * (hi - lo);
            fb = ordo_learn_nll(logits, n, k, y, exp(-b));
        }
    }
    return exp(-0.5 * (lo + hi));
}

/* ---- objective ---------------------------------------------------------- */

typedef struct fitws {
    const float *Z; /* n x p */
    size_t n, p;
    const int *y;   /* in [0, kc) */
    int kc;
    const float *w; /* n, sums to 1 */
    const float *O; /* n x kc fixed logit offsets, or NULL */
    double l2;
    float *Wf;      /* kc x p float copy of the parameters */
    float *bf;      /* kc */
    float *L;       /* n x kc logits, then the gradient factor G */
    float *gW;      /* kc x p */
} fitws;

/* f = sum_i w_i CE_i + l2/2 |W|^2; gradient dW = G^T Z + l2 W with
 * G_ic = w_i (p_ic - [c = y_i]), db = column sums of G. */
static double objective(fitws *ws, const float *W, const float *b, float *gW, float *gb)
{
    size_t n = ws->n, p = ws->p;
    int kc = ws->kc;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, kc, (int)p, 1.0f, ws->Z, (int)p,
                W, (int)p, 0.0f, ws->L, kc);
    double f = 0;
    if (gb)
        for (int c = 0; c < kc; c++) gb[c] = 0;
    for (size_t i = 0; i < n; i++) {
        float *r = ws->L + i * (size_t)kc;
        for (int c = 0; c < kc; c++) r[c] += b[c];
        if (ws->O)   /* an offset is data, not a parameter: no gradient of its own */
            for (int c = 0; c < kc; c++) r[c] += ws->O[i * (size_t)kc + c];
        double zy = r[ws->y[i]];
        double ls = softmax_row(r, kc, 1.0);
        f += ws->w[i] * (ls - zy);
        for (int c = 0; c < kc; c++) {
            float g = ws->w[i] * (r[c] - (c == ws->y[i] ? 1.0f : 0.0f));
            r[c] = g;
            if (gb) gb[c] += g;
        }
    }
    double reg = 0;
    for (size_t j = 0; j < (size_t)kc * p; j++) reg += (double)W[j] * W[j];
    f += 0.5 * ws->l2 * reg;
    if (gW) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kc, (int)p, (int)n, 1.0f, ws->L, kc,
                    ws->Z, (int)p, 0.0f, gW, (int)p);
        for (size_t j = 0; j < (size_t)kc * p; j++) gW[j] += (float)(ws->l2 * W[j]);
    }
    return f;
}

double ordo_learn_softmax_loss(const float *x, size_t n, size_t d, const int *y, int k,
                               const float *sample_w, const float *W, const float *b, double l2,
                               float *gW, float *gb)
{
    float *w = malloc(n * sizeof *w);
    float *L = malloc(n * (size_t)k * sizeof *L);
    float *gWt = gW ? gW : malloc((size_t)k * d * sizeof *gWt);
    float *gbt = gb ? gb : malloc((size_t)k * sizeof *gbt);
    double f = NAN;
    if (w && L && gWt && gbt) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += sample_w ? sample_w[i] : 1.0;
        for (size_t i = 0; i < n; i++) w[i] = (float)((sample_w ? sample_w[i] : 1.0) / s);
        fitws ws = {.Z = x, .n = n, .p = d, .y = y, .kc = k, .w = w, .l2 = l2, .L = L};
        f = objective(&ws, W, b, gWt, gbt);
    }
    if (!gW) free(gWt);
    if (!gb) free(gbt);
    free(w);
    free(L);
    return f;
}

/* ---- L-BFGS ------------------------------------------------------------- */

#define LBFGS_M 8

/* Evaluates the objective at theta (double, W then b) through float copies. */
static double eval_theta(fitws *ws, const double *th, double *g, float *gf)
{
    size_t nw = (size_t)ws->kc * ws->p, N = nw + (size_t)ws->kc;
    for (size_t j = 0; j < nw; j++) ws->Wf[j] = (float)th[j];
    for (int c = 0; c < ws->kc; c++) ws->bf[c] = (float)th[nw + c];
    double f = objective(ws, ws->Wf, ws->bf, gf, gf + nw);
    for (size_t j = 0; j < N; j++) g[j] = gf[j];
    return f;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Minimizes the objective from the starting point in th (Nocedal & Wright,
 * "Numerical Optimization", alg. 7.4, with Armijo backtracking). Returns
 * the iterations used, or -1 when out of memory. */
static int lbfgs(fitws *ws, double *th, int max_iter, double tol)
{
    size_t N = (size_t)ws->kc * ws->p + (size_t)ws->kc;
    double *buf = malloc((4 + 2 * LBFGS_M) * N * sizeof *buf);
    float *gf = malloc(N * sizeof *gf);
    if (!buf || !gf) {
        free(buf);
        free(gf);
        return -1;
    }
    double *g = buf, *dir = buf + N, *thn = buf + 2 * N, *gn = buf + 3 * N;
    double *S = buf + 4 * N, *Y = S + LBFGS_M * N;
    double rho[LBFGS_M], alpha[LBFGS_M];
    int mem = 0, head = 0, it;
    double f = eval_theta(ws, th, g, gf);
    for (it = 0; it < max_iter; it++) {
        double gmax = 0;
        for (size_t j = 0; j < N; j++) gmax = fmax(gmax, fabs(g[j]));
        if (gmax < tol) break;
        /* two-loop recursion: dir = -H g */
        for (size_t j = 0; j < N; j++) dir[j] = -g[j];
        for (int q = 0; q < mem; q++) {
            int s = (head - 1 - q + LBFGS_M) % LBFGS_M;
            alpha[s] = rho[s] * dot(S + s * N, dir, N);
            for (size_t j = 0; j < N; j++) dir[j] -= alpha[s] * Y[s * N + j];
        }
        if (mem) {
            int s = (head - 1 + LBFGS_M) % LBFGS_M;
            double gam = dot(S + s * N, Y + s * N, N) / dot(Y + s * N, Y + s * N, N);
            for (size_t j = 0; j < N; j++) dir[j] *= gam;
        }
        for (int q = mem - 1; q >= 0; q--) {
            int s = (head - 1 - q + LBFGS_M) % LBFGS_M;
            double be = rho[s] * dot(Y + s * N, dir, N);
            for (size_t j = 0; j < N; j++) dir[j] += S[s * N + j] * (alpha[s] - be);
        }
        double gd = dot(g, dir, N);
        if (!(gd < 0)) { /* not a descent direction: restart from steepest descent */
            for (size_t j = 0; j < N; j++) dir[j] = -g[j];
            gd = -dot(g, g, N);
            mem = 0;
        }
        double step = mem ? 1.0 : fmin(1.0, 1.0 / sqrt(-gd));
        double fn = f;
        int ok = 0;
        for (int ls = 0; ls < 40; ls++) {
            for (size_t j = 0; j < N; j++) thn[j] = th[j] + step * dir[j];
            fn = eval_theta(ws, thn, gn, gf);
            if (fn <= f + 1e-4 * step * gd) { ok = 1; break; }
            step *= 0.5;
        }
        if (!ok) break; /* no decrease possible at float precision: converged */
        double *s = S + head * N, *yv = Y + head * N;
        for (size_t j = 0; j < N; j++) {
            s[j] = thn[j] - th[j];
            yv[j] = gn[j] - g[j];
        }
        double sy = dot(s, yv, N);
        if (sy > 1e-12) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % LBFGS_M;
            if (mem < LBFGS_M) mem++;
        }
        double df = f - fn;
        memcpy(th, thn, N * sizeof *th);
        memcpy(g, gn, N * sizeof *g);
        f = fn;
        if (df <= 1e-9 * fmax(1.0, fabs(f))) { it++; break; }
    }
    free(buf);
    free(gf);
    return it;
}

/* ---- training ----------------------------------------------------------- */

/* PCA of the standardized rows (n x d): the top p eigenvectors of Z^T Z. */
static int fit_pca(const float *Z, size_t n, int d, int p, float *out, ordo_err *err)
{
    float *C = malloc((size_t)d * d * sizeof *C), *ev = malloc((size_t)d * sizeof *ev);
    int lwork = 1 + 6 * d + 2 * d * d, liwork = 3 + 5 * d, info = 0;
    float *work = malloc((size_t)lwork * sizeof *work);
    int *iwork = malloc((size_t)liwork * sizeof *iwork);
    int rc = -1;
    if (!C || !ev || !work || !iwork) {
        ordo_err_set(err, "out of memory for PCA (%d dims)", d);
        goto done;
    }
    cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, d, (int)n, 1.0f, Z, d, 0.0f, C, d);
    ssyevd_("V", "U", &d, C, &d, ev, work, &lwork, iwork, &liwork, &info);
    if (info != 0) {
        ordo_err_set(err, "PCA eigen-decomposition failed (info %d)", info);
        goto done;
    }
    /* eigenvalues ascending; column j of C (column-major) is eigenvector j */
    for (int r = 0; r < p; r++) {
        const float *v = C + (size_t)(d - 1 - r) * d;
        /* fix the sign so the result does not depend on the solver's choice */
        int big = 0;
        for (int j = 1; j < d; j++)
            if (fabsf(v[j]) > fabsf(v[big])) big = j;
        float sg = v[big] < 0 ? -1.0f : 1.0f;
        for (int j = 0; j < d; j++) out[(size_t)r * d + j] = sg * v[j];
    }
    rc = 0;
done:
    free(C);
    free(ev);
    free(work);
    free(iwork);
    return rc;
}

/* Class-balanced (or uniform) weights over the given rows, times the
 * caller's row weights rw (NULL: 1), summing to 1. */
static void make_weights(const int *yc, const float *rw, const size_t *rows, size_t n, int kc,
                         int balanced, float *w, size_t *cnt)
{
    for (int c = 0; c < kc; c++) cnt[c] = 0;
    for (size_t i = 0; i < n; i++) cnt[yc[rows[i]]]++;
    int present = 0;
    for (int c = 0; c < kc; c++) present += cnt[c] > 0;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double v = balanced ? (double)n / ((double)present * (double)cnt[yc[rows[i]]]) : 1.0;
        if (rw) v *= rw[rows[i]];
        w[i] = (float)v;
        s += v;
    }
    for (size_t i = 0; i < n; i++) w[i] = s > 0 ? (float)(w[i] / s) : 0.0f;
}

typedef struct trainer {
    const float *Z; /* n x p, all labeled rows */
    size_t n, p;
    const int *yc;  /* compact labels */
    const float *rw; /* n row weights or NULL */
    const float *O;  /* n x kc logit offsets or NULL */
    int kc;
    int balanced, max_iter;
    double tol;
    /* scratch sized for n rows */
    float *Zs, *Os, *w, *Wf, *bf, *L;
    int *ys;
    size_t *cnt;
} trainer;

/* Fits on the listed rows at strength l2, starting from th. */
static int fit_rows(trainer *t, const size_t *rows, size_t nr, double l2, double *th)
{
    for (size_t i = 0; i < nr; i++) {
        memcpy(t->Zs + i * t->p, t->Z + rows[i] * t->p, t->p * sizeof(float));
        t->ys[i] = t->yc[rows[i]];
        if (t->O) memcpy(t->Os + i * t->kc, t->O + rows[i] * t->kc, (size_t)t->kc * sizeof(float));
    }
    make_weights(t->yc, t->rw, rows, nr, t->kc, t->balanced, t->w, t->cnt);
    fitws ws = {.Z = t->Zs, .n = nr, .p = t->p, .y = t->ys, .kc = t->kc, .w = t->w,
                .O = t->O ? t->Os : NULL, .l2 = l2, .Wf = t->Wf, .bf = t->bf, .L = t->L};
    return lbfgs(&ws, th, t->max_iter, t->tol);
}

/* Logits of the listed rows under theta into out (rows x kc). */
static void logits_rows(const trainer *t, const size_t *rows, size_t nr, const double *th,
                        float *out)
{
    size_t nw = (size_t)t->kc * t->p;
    for (size_t j = 0; j < nw; j++) t->Wf[j] = (float)th[j];
    for (size_t i = 0; i < nr; i++) {
        const float *z = t->Z + rows[i] * t->p;
        float *o = out + i * (size_t)t->kc;
        for (int c = 0; c < t->kc; c++)
            o[c] = (float)th[nw + c] + (t->O ? t->O[rows[i] * t->kc + c] : 0.0f);
        /* small row count: one gemv per row keeps the code simple */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, t->kc, (int)t->p, 1.0f, t->Wf, (int)t->p, z, 1,
                    1.0f, o, 1);
    }
}

ordo_learn_model *ordo_learn_train(const float *x, size_t n, size_t d, const int *y, int k,
                                   const char *const *class_names, const ordo_learn_opts *opts,
                                   float *oof_probs, ordo_learn_report *report, ordo_err *err)
{
    double t0 = ordo_clock_mono();
    ordo_learn_opts o;
    if (opts) o = *opts;
    else ordo_learn_opts_default(&o);
    if (!x || !y || d == 0 || d > (1u << 20) || k < 2 || k > (1 << 20)) {
        ordo_err_set(err, "train: bad arguments (d=%zu, k=%d)", d, k);
        return NULL;
    }
    const double *grid = o.l2_grid ? o.l2_grid : default_grid;
    int ng = o.l2_grid ? o.n_l2_grid : (int)(sizeof default_grid / sizeof *default_grid);
    if (ng < 1) {
        ordo_err_set(err, "train: empty L2 grid");
        return NULL;
    }
    if (o.max_iter < 1) o.max_iter = 1;

    /* labeled rows and the compact class map */
    size_t nl = 0;
    int *cmap = malloc((size_t)k * sizeof *cmap), *cinv = malloc((size_t)k * sizeof *cinv);
    size_t *lab = malloc((n ? n : 1) * sizeof *lab);
    ordo_learn_model *m = NULL;
    float *Z = NULL, *tmp = NULL, *oof = NULL, *oofbest = NULL;
    double *th = NULL, *thsum = NULL;
    trainer t = {0};
    size_t *order = NULL, *tr = NULL, *te = NULL;
    int *fold = NULL, *ycomp = NULL;
    float *rwc = NULL, *offc = NULL;
    if (!cmap || !cinv || !lab) goto oom;
    for (int c = 0; c < k; c++) cmap[c] = -1;
    for (size_t i = 0; i < n; i++)
        if (y[i] >= 0) {
            if (o.row_weight && !(o.row_weight[i] >= 0 && isfinite(o.row_weight[i]))) {
                ordo_err_set(err, "train: row weight %zu is not a finite number >= 0", i);
                goto fail;
            }
            if (y[i] >= k) {
                ordo_err_set(err, "train: label %d of row %zu is outside [0, %d)", y[i], i, k);
                goto fail;
            }
            for (int c = 0; o.offset && c < k; c++)
                if (!isfinite(o.offset[i * (size_t)k + c])) {
                    ordo_err_set(err, "train: offset (%zu, %d) is not finite", i, c);
                    goto fail;
                }
            lab[nl++] = i;
            cmap[y[i]] = 0;
        }
    int kc = 0;
    for (int c = 0; c < k; c++)
        if (cmap[c] == 0) { cinv[kc] = c; cmap[c] = kc++; }
    if (kc < 2) {
        ordo_err_set(err, "train: need labels of at least 2 classes (have %d from %zu labels)",
                     kc, nl);
        goto fail;
    }
    int p = o.pca_dim > 0 && (size_t)o.pca_dim < d ? o.pca_dim : (int)d;
    if (p != (int)d && (size_t)p > nl) p = (int)nl;
    m = learn_model_alloc((int)d, k, p, p != (int)d);
    if (!m) goto oom;
    for (int c = 0; c < k; c++) {
        char tmpn[32];
        const char *nm = class_names && class_names[c] ? class_names[c] : NULL;
        if (!nm) { snprintf(tmpn, sizeof tmpn, "%d", c); nm = tmpn; }
        if (!(m->names[c] = strdup(nm))) goto oom;
        m->present[c] = cmap[c] >= 0;
    }

    /* standardization from the labeled rows (double accumulation, two
     * passes for a stable variance; row-major order for the cache) */
    double *mu = calloc(d, sizeof *mu), *var = calloc(d, sizeof *var);
    if (!mu || !var) { free(mu); free(var); goto oom; }
    for (size_t i = 0; i < nl; i++)
        for (size_t j = 0; j < d; j++) mu[j] += x[lab[i] * d + j];
    for (size_t j = 0; j < d; j++) mu[j] /= (double)nl;
    for (size_t i = 0; i < nl; i++)
        for (size_t j = 0; j < d; j++) {
            double v = x[lab[i] * d + j] - mu[j];
            var[j] += v * v;
        }
    for (size_t j = 0; j < d; j++) {
        double sd = sqrt(var[j] / (double)nl);
        m->mean[j] = (float)mu[j];
        m->scale[j] = sd > 1e-8 ? (float)(1.0 / sd) : 1.0f;
    }
    free(mu);
    free(var);
    Z = malloc(nl * (size_t)p * sizeof *Z);
    tmp = malloc(nl * d * sizeof *tmp);
    ycomp = malloc(nl * sizeof *ycomp);
    if (!Z || !tmp || !ycomp) goto oom;
    for (size_t i = 0; i < nl; i++) {
        for (size_t j = 0; j < d; j++)
            tmp[i * d + j] = (x[lab[i] * d + j] - m->mean[j]) * m->scale[j];
        ycomp[i] = cmap[y[lab[i]]];
    }
    if (m->pca) {
        if (fit_pca(tmp, nl, (int)d, p, m->pca, err) != 0) goto fail;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nl, p, (int)d, 1.0f, tmp, (int)d,
                    m->pca, (int)d, 0.0f, Z, p);
    } else {
        memcpy(Z, tmp, nl * d * sizeof *Z);
    }
    free(tmp);
    tmp = NULL;

    size_t N = (size_t)kc * (size_t)p + (size_t)kc;
    if (o.row_weight) {
        if (!(rwc = malloc(nl * sizeof *rwc))) goto oom;
        for (size_t i = 0; i < nl; i++) rwc[i] = o.row_weight[lab[i]];
    }
    if (o.offset) {   /* compact classes, like the labels */
        if (!(offc = malloc(nl * (size_t)kc * sizeof *offc))) goto oom;
        for (size_t i = 0; i < nl; i++)
            for (int c = 0; c < kc; c++)
                offc[i * (size_t)kc + c] = o.offset[lab[i] * (size_t)k + (size_t)cinv[c]];
    }
    t = (trainer){.Z = Z, .n = nl, .p = (size_t)p, .yc = ycomp, .rw = rwc, .O = offc, .kc = kc,
                  .balanced = o.class_balanced, .max_iter = o.max_iter, .tol = o.tol};
    t.Zs = malloc(nl * (size_t)p * sizeof *t.Zs);
    t.Os = offc ? malloc(nl * (size_t)kc * sizeof *t.Os) : NULL;
    t.w = malloc(nl * sizeof *t.w);
    t.Wf = malloc((size_t)kc * p * sizeof *t.Wf);
    t.bf = malloc((size_t)kc * sizeof *t.bf);
    t.L = malloc(nl * (size_t)kc * sizeof *t.L);
    t.ys = malloc(nl * sizeof *t.ys);
    t.cnt = malloc((size_t)kc * sizeof *t.cnt);
    th = calloc(N, sizeof *th);
    order = malloc(nl * sizeof *order);
    if (!t.Zs || (offc && !t.Os) || !t.w || !t.Wf || !t.bf || !t.L || !t.ys || !t.cnt || !th || !order) goto oom;
    for (size_t i = 0; i < nl; i++) order[i] = i;

    /* cross-validation: stratified folds, strongest to weakest strength
     * with warm starts, out-of-fold logits per strength */
    int want_cv = o.l2 <= 0 || o.calibrate || oof_probs;
    int nf = o.cv_folds < 2 ? 2 : o.cv_folds;
    if ((size_t)nf > nl / 2) nf = (int)(nl / 2);
    int best = 0;
    double chosen = o.l2 > 0 ? o.l2 : grid[ng / 2];
    double temp = 1.0, cv_nll = NAN, cv_nll_cal = NAN, cv_acc = NAN;
    if (want_cv && nf >= 2) {
        int ncv = o.l2 > 0 ? 1 : ng;
        const double *cvgrid = o.l2 > 0 ? &o.l2 : grid;
        fold = malloc(nl * sizeof *fold);
        tr = malloc(nl * sizeof *tr);
        te = malloc(nl * sizeof *te);
        oof = malloc((size_t)ncv * nl * (size_t)kc * sizeof *oof);
        thsum = calloc((size_t)ncv * N, sizeof *thsum);
        float *lg = malloc(nl * (size_t)kc * sizeof *lg);
        if (!fold || !tr || !te || !oof || !thsum || !lg) { free(lg); goto oom; }
        /* stratified assignment: shuffle, then deal each class round-robin,
         * continuing the deal across classes so folds stay equal in size */
        learn_rng rng;
        learn_rng_seed(&rng, o.seed);
        learn_rng_shuffle(&rng, order, nl);
        int deal = 0;
        for (int c = 0; c < kc; c++)
            for (size_t q = 0; q < nl; q++)
                if (ycomp[order[q]] == c) fold[order[q]] = deal++ % nf;
        for (int f = 0; f < nf; f++) {
            size_t ntr = 0, nte = 0;
            for (size_t i = 0; i < nl; i++) {
                if (fold[i] == f) te[nte++] = i;
                else tr[ntr++] = i;
            }
            memset(th, 0, N * sizeof *th);
            for (int g = 0; g < ncv; g++) {
                if (fit_rows(&t, tr, ntr, cvgrid[g], th) < 0) { free(lg); goto oom; }
                for (size_t j = 0; j < N; j++) thsum[(size_t)g * N + j] += th[j];
                logits_rows(&t, te, nte, th, lg);
                for (size_t i = 0; i < nte; i++)
                    memcpy(oof + ((size_t)g * nl + te[i]) * kc, lg + i * kc, kc * sizeof *lg);
            }
        }
        free(lg);
        double bestv = INFINITY;
        for (int g = 0; g < ncv; g++) {
            const float *og = oof + (size_t)g * nl * kc;
            double tg = o.calibrate ? ordo_learn_fit_temperature(og, nl, kc, ycomp) : 1.0;
            double v = ordo_learn_nll(og, nl, kc, ycomp, tg);
            if (v < bestv - 1e-9) { /* ties keep the stronger strength */
                bestv = v;
                best = g;
                temp = tg;
                cv_nll_cal = v;
            }
        }
        chosen = cvgrid[best];
        const float *ob = oof + (size_t)best * nl * kc;
        cv_nll = ordo_learn_nll(ob, nl, kc, ycomp, 1.0);
        size_t right = 0;
        for (size_t i = 0; i < nl; i++) {
            const float *r = ob + i * kc;
            int am = 0;
            for (int c = 1; c < kc; c++)
                if (r[c] > r[am]) am = c;
            right += am == ycomp[i];
        }
        cv_acc = (double)right / (double)nl;
        /* warm start the final fit from the folds' mean solution */
        for (size_t j = 0; j < N; j++) th[j] = thsum[(size_t)best * N + j] / nf;
        oofbest = oof + (size_t)best * nl * kc;
    } else {
        memset(th, 0, N * sizeof *th);
    }

    for (size_t i = 0; i < nl; i++) order[i] = i;
    int iters = fit_rows(&t, order, nl, chosen, th);
    if (iters < 0) goto oom;

    size_t nw = (size_t)kc * p;
    for (int c = 0; c < kc; c++) {
        for (int j = 0; j < p; j++) m->W[(size_t)cinv[c] * p + j] = (float)th[(size_t)c * p + j];
        m->b[cinv[c]] = (float)th[nw + c];
    }
    m->l2 = chosen;
    m->temperature = temp;

    if (oof_probs) {
        memset(oof_probs, 0, n * (size_t)k * sizeof *oof_probs);
        if (oofbest) {
            float *r = malloc((size_t)kc * sizeof *r);
            if (!r) goto oom;
            for (size_t i = 0; i < nl; i++) {
                memcpy(r, oofbest + i * kc, kc * sizeof *r);
                softmax_row(r, kc, temp);
                for (int c = 0; c < kc; c++) oof_probs[lab[i] * k + cinv[c]] = r[c];
            }
            free(r);
        }
    }
    if (report) {
        report->l2 = chosen;
        report->cv_nll = cv_nll;
        report->cv_accuracy = cv_acc;
        report->temperature = temp;
        report->cv_nll_calibrated = cv_nll_cal;
        report->n_classes_present = kc;
        report->iterations = iters;
    }
    goto done;
oom:
    ordo_err_set(err, "train: out of memory (%zu rows x %zu dims)", n, d);
fail:
    ordo_learn_model_free(m);
    m = NULL;
done:
    free(cmap); free(cinv); free(lab); free(Z); free(tmp); free(oof); free(th); free(thsum);
    free(t.Zs); free(t.w); free(t.Wf); free(t.bf); free(t.L); free(t.ys); free(t.cnt);
    free(order); free(tr); free(te); free(fold); free(ycomp); free(rwc); free(offc); free(t.Os);
    if (m && report) report->seconds = ordo_clock_mono() - t0;
    return m;
}

/* ---- prediction ---------------------------------------------------------- */

int ordo_learn_predict(const ordo_learn_model *m, const float *x, size_t n, float *probs,
                       float *logits, ordo_err *err)
{
    return ordo_learn_predict_offset(m, x, n, NULL, probs, logits, err);
}

void ordo_learn_prior_offset(const float *prior, size_t n, float *off)
{
    for (size_t i = 0; i < n; i++) {
        double q = prior[i];
        if (isnan(q)) q = 0.5;
        q = q < 1e-4 ? 1e-4 : q > 1 - 1e-4 ? 1 - 1e-4 : q;
        off[i * 2] = 0.0f;
        off[i * 2 + 1] = (float)-log(q / (1 - q));   /* log odds of not-sports */
    }
}

int ordo_learn_predict_offset(const ordo_learn_model *m, const float *x, size_t n,
                              const float *offset, float *probs, float *logits, ordo_err *err)
{
    if (!m || (!x && n) || !probs) return ordo_err_set(err, "predict: bad arguments");
    size_t d = (size_t)m->d, p = (size_t)m->p, k = (size_t)m->k;
    /* chunks bound the scratch memory for million-row pools */
    size_t chunk = 4096;
    float *z = malloc(chunk * p * sizeof *z);
    float *tmp = m->pca ? malloc(chunk * d * sizeof *tmp) : NULL;
    if (!z || (m->pca && !tmp)) {
        free(z);
        free(tmp);
        return ordo_err_set(err, "predict: out of memory");
    }
    for (size_t s = 0; s < n; s += chunk) {
        size_t nc = n - s < chunk ? n - s : chunk;
        transform(m, x + s * d, nc, z, tmp);
        float *out = probs + s * k;
        for (size_t i = 0; i < nc; i++)
            for (size_t c = 0; c < k; c++) out[i * k + c] = m->b[c];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nc, (int)k, (int)p, 1.0f, z,
                    (int)p, m->W, (int)p, 1.0f, out, (int)k);
        for (size_t i = 0; i < nc; i++) {
            float *r = out + i * k;
            for (size_t c = 0; c < k; c++)
                if (!m->present[c]) r[c] = -INFINITY;
                else if (offset) r[c] += offset[(s + i) * k + c];
            if (logits) memcpy(logits + (s + i) * k, r, k * sizeof *r);
            softmax_row(r, (int)k, m->temperature);
        }
    }
    free(z);
    free(tmp);
    return 0;
}

/* ---- ATLAS error predictor ---------------------------------------------- */

/* Row i of the ATLAS features: the embedding, then max probability, margin
 * (top-1 minus top-2) and entropy normalized by log k. */
static float *atlas_features(const float *x, size_t n, size_t d, const float *probs, int k)
{
    float *f = malloc(n * (d + 3) * sizeof *f);
    if (!f) return NULL;
    for (size_t i = 0; i < n; i++) {
        const float *pr = probs + i * (size_t)k;
        double p1 = 0, p2 = 0, h = 0;
        for (int c = 0; c < k; c++) {
            double v = pr[c];
            if (v > p1) { p2 = p1; p1 = v; }
            else if (v > p2) p2 = v;
            if (v > 0) h -= v * log(v);
        }
        memcpy(f + i * (d + 3), x + i * d, d * sizeof *f);
        f[i * (d + 3) + d] = (float)p1;
        f[i * (d + 3) + d + 1] = (float)(p1 - p2);
        f[i * (d + 3) + d + 2] = (float)(h / log((double)k));
    }
    return f;
}

ordo_learn_model *ordo_learn_atlas_train(const float *x, size_t n, size_t d, const float *probs,
                                         int k, const int *y, const ordo_learn_opts *opts,
                                         ordo_err *err)
{
    if (!x || !probs || !y || k < 2) {
        ordo_err_set(err, "atlas: bad arguments");
        return NULL;
    }
    int *wrong = malloc((n ? n : 1) * sizeof *wrong);
    float *f = atlas_features(x, n, d, probs, k);
    ordo_learn_model *m = NULL;
    if (!wrong || !f) {
        ordo_err_set(err, "atlas: out of memory");
        goto done;
    }
    size_t nw = 0, nr = 0;
    for (size_t i = 0; i < n; i++) {
        wrong[i] = -1;
        if (y[i] < 0 || y[i] >= k) continue;
        const float *pr = probs + i * (size_t)k;
        int am = 0;
        for (int c = 1; c < k; c++)
            if (pr[c] > pr[am]) am = c;
        wrong[i] = am != y[i];
        nw += wrong[i];
        nr += !wrong[i];
    }
    if (nw < 2 || nr < 2) {
        ordo_err_set(err, "atlas: held-out predictions have %zu wrong and %zu right; need 2 of each",
                     nw, nr);
        goto done;
    }
    static const char *const names[2] = {"right", "wrong"};
    m = ordo_learn_train(f, n, d + 3, wrong, 2, names, opts, NULL, NULL, err);
    if (!m) ordo_err_wrap(err, "atlas");
done:
    free(wrong);
    free(f);
    return m;
}

int ordo_learn_atlas_score(const ordo_learn_model *atlas, const float *x, size_t n, size_t d,
                           const float *probs, int k, float *p_wrong, ordo_err *err)
{
    if (!atlas || atlas->d != (int)d + 3 || atlas->k != 2)
        return ordo_err_set(err, "atlas: model expects %d dims, data has %zu + 3",
                            atlas ? atlas->d - 3 : -1, d);
    size_t chunk = 4096;
    float *pr = malloc(chunk * 2 * sizeof *pr);
    if (!pr) return ordo_err_set(err, "atlas: out of memory");
    for (size_t s = 0; s < n; s += chunk) {
        size_t nc = n - s < chunk ? n - s : chunk;
        float *f = atlas_features(x + s * d, nc, d, probs + s * (size_t)k, k);
        if (!f || ordo_learn_predict(atlas, f, nc, pr, NULL, err) != 0) {
            free(f);
            free(pr);
            return f ? -1 : ordo_err_set(err, "atlas: out of memory");
        }
        for (size_t i = 0; i < nc; i++) p_wrong[s + i] = pr[i * 2 + 1];
        free(f);
    }
    free(pr);
    return 0;
}
