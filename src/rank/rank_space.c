/* rank_space.c - PCA projection, blocked nearest neighbours, k-means,
 * TypiClust typicality and k-center greedy over the reduced embeddings.
 *
 * Every pass over the pool is a loop over row blocks whose partial results
 * combine by sum (centroid sums, covariance), min (nearest distances) or
 * argmax (k-center), the shape an MPI split over row ranges needs. */
#include "rank/rank.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Squared distance with 16 independent partial sums, so the compiler can
 * keep them in one vector register (a single running sum would forbid
 * reordering the additions). */
static inline float sqdist(const float *a, const float *b, int d)
{
    float acc[16] = { 0 };
    int t = 0;
    for (; t + 16 <= d; t += 16)
        for (int j = 0; j < 16; j++) { float e = a[t + j] - b[t + j]; acc[j] += e * e; }
    float v = 0;
    for (; t < d; t++) { float e = a[t] - b[t]; v += e * e; }
    for (int j = 0; j < 16; j++) v += acc[j];
    return v;
}

struct ordo_rank_space {
    size_t n;
    int d;
    float *y;           /* n x d */
    float *rawnorm;     /* n */
    double explained;
};

void ordo_rank_space_free(ordo_rank_space *sp)
{
    if (!sp) return;
    free(sp->y);
    free(sp->rawnorm);
    free(sp);
}
int ordo_rank_space_dim(const ordo_rank_space *sp) { return sp->d; }
size_t ordo_rank_space_rows(const ordo_rank_space *sp) { return sp->n; }
const float *ordo_rank_space_row(const ordo_rank_space *sp, size_t i) { return sp->y + i * (size_t)sp->d; }
float ordo_rank_space_rawnorm(const ordo_rank_space *sp, size_t i) { return sp->rawnorm[i]; }
double ordo_rank_space_explained(const ordo_rank_space *sp) { return sp->explained; }

/* m distinct rows of [0, n) chosen uniformly with the rng, sorted ascending.
 * Floyd's algorithm with a sort-based membership check would be O(m^2);
 * instead a partial Fisher-Yates over an index array (n words, transient). */
static size_t *sample_rows(size_t n, size_t m, ordo_rank_rng *r)
{
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (!perm) return NULL;
    for (size_t i = 0; i < n; i++) perm[i] = i;
    if (m < n)
        for (size_t i = 0; i < m; i++) {
            size_t j = i + (size_t)ordo_rank_rng_below(r, n - i);
            size_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
    size_t *out = realloc(perm, (m ? m : 1) * sizeof *out);
    if (!out) { free(perm); return NULL; }
    /* sort ascending (radix-free: simple heap sort keeps this dependency-free) */
    for (size_t i = m / 2; i-- > 0;) {
        size_t k = i;
        for (;;) {
            size_t c = 2 * k + 1;
            if (c >= m) break;
            if (c + 1 < m && out[c + 1] > out[c]) c++;
            if (out[k] >= out[c]) break;
            size_t t = out[k]; out[k] = out[c]; out[c] = t; k = c;
        }
    }
    for (size_t e = m; e-- > 1;) {
        size_t t = out[0]; out[0] = out[e]; out[e] = t;
        size_t k = 0;
        for (;;) {
            size_t c = 2 * k + 1;
            if (c >= e) break;
            if (c + 1 < e && out[c + 1] > out[c]) c++;
            if (out[k] >= out[c]) break;
            t = out[k]; out[k] = out[c]; out[c] = t; k = c;
        }
    }
    return out;
}

/* Modified Gram-Schmidt on the l columns of q (D x l, row-major), in double
 * for stability; a column that vanishes is replaced by a unit vector. */
static void orthonormalize(float *q, int D, int l)
{
    double *col = malloc((size_t)D * sizeof *col), *prev = malloc((size_t)D * l * sizeof *prev);
    if (!col || !prev) { free(col); free(prev); return; }
    for (int j = 0; j < l; j++) {
        for (int i = 0; i < D; i++) col[i] = q[(size_t)i * l + j];
        for (int pass = 0; pass < 2; pass++)
            for (int p = 0; p < j; p++) {
                double dot = 0;
                for (int i = 0; i < D; i++) dot += col[i] * prev[(size_t)p * D + i];
                for (int i = 0; i < D; i++) col[i] -= dot * prev[(size_t)p * D + i];
            }
        double nn = 0;
        for (int i = 0; i < D; i++) nn += col[i] * col[i];
        nn = sqrt(nn);
        if (nn < 1e-20) {
            memset(col, 0, (size_t)D * sizeof *col);
            col[j % D] = 1;
            nn = 1;
        }
        for (int i = 0; i < D; i++) {
            col[i] /= nn;
            prev[(size_t)j * D + i] = col[i];
            q[(size_t)i * l + j] = (float)col[i];
        }
    }
    free(col);
    free(prev);
}

/* Cyclic Jacobi eigen-decomposition of the symmetric l x l matrix a (destroyed).
 * Eigenvalues to w, eigenvectors as the columns of v (row-major). */
static void jacobi(double *a, int l, double *w, double *v)
{
    for (int i = 0; i < l; i++)
        for (int j = 0; j < l; j++) v[i * l + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, tot = 0;
        for (int i = 0; i < l; i++)
            for (int j = 0; j < l; j++) {
                tot += a[i * l + j] * a[i * l + j];
                if (i != j) off += a[i * l + j] * a[i * l + j];
            }
        if (off <= 1e-22 * tot || off == 0) break;
        for (int p = 0; p < l; p++)
            for (int q = p + 1; q < l; q++) {
                double apq = a[p * l + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * l + q] - a[p * l + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < l; k++) {
                    double akp = a[k * l + p], akq = a[k * l + q];
                    a[k * l + p] = c * akp - s * akq;
                    a[k * l + q] = s * akp + c * akq;
                }
                for (int k = 0; k < l; k++) {
                    double apk = a[p * l + k], aqk = a[q * l + k];
                    a[p * l + k] = c * apk - s * aqk;
                    a[q * l + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < l; k++) {
                    double vkp = v[k * l + p], vkq = v[k * l + q];
                    v[k * l + p] = c * vkp - s * vkq;
                    v[k * l + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < l; i++) w[i] = a[i * l + i];
}

#define PROJ_BLOCK 2048

ordo_rank_space *ordo_rank_space_build(const ordo_rank_input *in, int d, size_t sample,
                                       uint64_t seed, ordo_err *err)
{
    if (!in->read_rows || in->dim < 1)
        return ordo_err_set(err, "rank: no embeddings to project"), NULL;
    if (in->n == 0) return ordo_err_set(err, "rank: empty pool"), NULL;
    int D = in->dim;
    if (d < 1) d = 1;
    if (d > D) d = D;
    size_t n = in->n, m = sample == 0 || sample > n ? n : sample;
    ordo_rank_rng rng;
    ordo_rank_rng_seed(&rng, seed ^ 0x70636131ULL);

    ordo_rank_space *sp = calloc(1, sizeof *sp);
    size_t *rows = sample_rows(n, m, &rng);
    float *X = malloc(m * (size_t)D * sizeof *X);
    double *mu = calloc((size_t)D, sizeof *mu);
    float *muf = malloc((size_t)D * sizeof *muf), *W = NULL, *cov = NULL, *Q = NULL, *Z = NULL;
    float *buf = NULL, *muW = NULL;
    double *B = NULL, *ev = NULL, *V = NULL;
    if (!sp || !rows || !X || !mu || !muf) goto oom;
    sp->n = n;
    sp->d = d;

    /* 1. The sample, its mean, centred. */
    for (size_t i = 0; i < m; i++) {
        if (in->read_rows(in->read_ctx, rows[i], 1, X + i * D, err) < 0) goto fail;
        for (int j = 0; j < D; j++) mu[j] += X[i * D + j];
    }
    for (int j = 0; j < D; j++) { mu[j] /= (double)m; muf[j] = (float)mu[j]; }
    for (size_t i = 0; i < m; i++)
        for (int j = 0; j < D; j++) X[i * D + j] -= muf[j];

    W = calloc((size_t)D * d, sizeof *W);
    if (!W) goto oom;
    if (d == D) {
        for (int j = 0; j < D; j++) W[(size_t)j * d + j] = 1;
        sp->explained = 1;
    } else {
        /* 2. Covariance (D x D) and randomized subspace iteration
         * (Halko, Martinsson & Tropp 2011, alg. 4.4) for its top axes. */
        int l = d + 16 < D ? d + 16 : D;   /* oversampled rank, >= d + 1 here */
        if (l < 1) l = 1;
        cov = malloc((size_t)D * D * sizeof *cov);
        Q = malloc((size_t)D * l * sizeof *Q);
        Z = malloc((size_t)D * l * sizeof *Z);
        B = malloc((size_t)l * l * sizeof *B);
        ev = malloc((size_t)l * sizeof *ev);
        V = malloc((size_t)l * l * sizeof *V);
        if (!cov || !Q || !Z || !B || !ev || !V) goto oom;
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, D, (int)m, 1.0f / (float)m, X, D,
                    0.0f, cov, D);
        double trace = 0;
        for (int i = 0; i < D; i++) {
            trace += cov[(size_t)i * D + i];
            for (int j = 0; j < i; j++) cov[(size_t)i * D + j] = cov[(size_t)j * D + i];
        }
        for (size_t i = 0; i < (size_t)D * l; i++) Q[i] = (float)ordo_rank_rng_normal(&rng);
        orthonormalize(Q, D, l);
        for (int it = 0; it < 8; it++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, D, l, D, 1.0f, cov, D, Q, l,
                        0.0f, Z, l);
            orthonormalize(Z, D, l);
            float *t = Q; Q = Z; Z = t;
        }
        /* B = Q^T cov Q, then its eigenvectors rotate Q onto the axes. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, D, l, D, 1.0f, cov, D, Q, l,
                    0.0f, Z, l);
        for (int a = 0; a < l; a++)
            for (int b = 0; b < l; b++) {
                double s = 0;
                for (int i = 0; i < D; i++) s += (double)Q[(size_t)i * l + a] * Z[(size_t)i * l + b];
                B[a * l + b] = s;
            }
        for (int a = 0; a < l; a++)      /* symmetrise rounding noise */
            for (int b = 0; b < a; b++) B[a * l + b] = B[b * l + a] = 0.5 * (B[a * l + b] + B[b * l + a]);
        jacobi(B, l, ev, V);
        int *ord = malloc((size_t)l * sizeof *ord);
        if (!ord) goto oom;
        for (int i = 0; i < l; i++) ord[i] = i;
        for (int i = 1; i < l; i++) {    /* insertion sort, descending eigenvalue */
            int t = ord[i], j = i;
            while (j > 0 && ev[ord[j - 1]] < ev[t]) { ord[j] = ord[j - 1]; j--; }
            ord[j] = t;
        }
        double top = 0;
        for (int c = 0; c < d; c++) {
            top += ev[ord[c]];
            for (int i = 0; i < D; i++) {
                double s = 0;
                for (int a = 0; a < l; a++) s += (double)Q[(size_t)i * l + a] * V[a * l + ord[c]];
                W[(size_t)i * d + c] = (float)s;
            }
        }
        free(ord);
        sp->explained = trace > 0 ? top / trace : 1;
    }
    free(X); X = NULL;
    free(cov); cov = NULL;

    /* 3. Project every row: y = x W - mu W, block by block. */
    muW = malloc((size_t)d * sizeof *muW);
    buf = malloc((size_t)PROJ_BLOCK * D * sizeof *buf);
    sp->y = malloc(n * (size_t)d * sizeof *sp->y);
    sp->rawnorm = malloc(n * sizeof *sp->rawnorm);
    if (!muW || !buf || !sp->y || !sp->rawnorm) goto oom;
    cblas_sgemv(CblasRowMajor, CblasTrans, D, d, 1.0f, W, d, muf, 1, 0.0f, muW, 1);
    /* With an executor, this process projects its part, then all parts are
     * exchanged (every block the same as in one process). */
    size_t lo = 0, hi = n;
    if (in->exec)
        in->exec->part(in->exec->ctx, n, ORDO_RANK_EXEC_ALIGN, &lo, &hi);
    for (size_t r0 = lo; r0 < hi; r0 += PROJ_BLOCK) {
        size_t nb = hi - r0 < PROJ_BLOCK ? hi - r0 : PROJ_BLOCK;
        if (in->read_rows(in->read_ctx, r0, nb, buf, err) < 0) goto fail;
        float *y = sp->y + r0 * d;
        for (size_t i = 0; i < nb; i++) {
            double s2 = 0;
            for (int j = 0; j < D; j++) s2 += (double)buf[i * D + j] * buf[i * D + j];
            sp->rawnorm[r0 + i] = (float)sqrt(s2);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, d, D, 1.0f, buf, D, W, d,
                    0.0f, y, d);
        for (size_t i = 0; i < nb; i++)
            for (int j = 0; j < d; j++) y[i * d + j] -= muW[j];
    }
    if (in->exec &&
        (in->exec->gather(in->exec->ctx, sp->y, n, (size_t)d * sizeof *sp->y,
                          ORDO_RANK_EXEC_ALIGN, err) < 0 ||
         in->exec->gather(in->exec->ctx, sp->rawnorm, n, sizeof *sp->rawnorm,
                          ORDO_RANK_EXEC_ALIGN, err) < 0))
        goto fail;
    free(rows); free(mu); free(muf); free(W); free(Q); free(Z); free(B); free(ev); free(V);
    free(buf); free(muW);
    return sp;
oom:
    ordo_err_set(err, "rank: out of memory building the PCA space (%zu rows x %d)", n, d);
fail:
    free(rows); free(X); free(mu); free(muf); free(W); free(cov); free(Q); free(Z); free(B);
    free(ev); free(V); free(buf); free(muW);
    ordo_rank_space_free(sp);
    return NULL;
}

/* ---- nearest neighbours by blocked GEMM --------------------------------- */

#define NN_ROWS 2048
#define NN_REF 1024
#define NN_MAXK 16
/* an executor splits rows on ORDO_RANK_EXEC_ALIGN boundaries: every row
 * block must divide it so split and unsplit runs compute identical blocks */
_Static_assert(ORDO_RANK_EXEC_ALIGN % NN_ROWS == 0, "NN_ROWS must divide the executor alignment");
_Static_assert(ORDO_RANK_EXEC_ALIGN % PROJ_BLOCK == 0, "PROJ_BLOCK must divide the executor alignment");

int ordo_rank_nearest(const float *x, size_t n, const float *ref, size_t m, int d, int kth,
                      const int64_t *skip, float *dist2, int32_t *idx, ordo_err *err)
{
    if (kth < 1 || kth > NN_MAXK) return ordo_err_set(err, "rank: kth %d not in 1..%d", kth, NN_MAXK);
    size_t rb = NN_ROWS, mb = m < NN_REF ? m : NN_REF;
    float *g = malloc(rb * (mb ? mb : 1) * sizeof *g), *rn = malloc((m ? m : 1) * sizeof *rn);
    float *best = malloc(rb * kth * sizeof *best);
    int32_t *bidx = malloc(rb * kth * sizeof *bidx);
    if (!g || !rn || !best || !bidx) {
        free(g); free(rn); free(best); free(bidx);
        return ordo_err_set(err, "rank: out of memory for nearest neighbours");
    }
    for (size_t j = 0; j < m; j++) {
        double s = 0;
        for (int t = 0; t < d; t++) s += (double)ref[j * d + t] * ref[j * d + t];
        rn[j] = (float)s;
    }
    for (size_t r0 = 0; r0 < n; r0 += rb) {
        size_t nr = n - r0 < rb ? n - r0 : rb;
        for (size_t i = 0; i < nr * kth; i++) { best[i] = INFINITY; bidx[i] = -1; }
        for (size_t c0 = 0; c0 < m; c0 += mb) {
            size_t nc = m - c0 < mb ? m - c0 : mb;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)nc, d, 1.0f,
                        x + r0 * d, d, ref + c0 * d, d, 0.0f, g, (int)nc);
            for (size_t i = 0; i < nr; i++) {
                const float *xi = x + (r0 + i) * d;
                float xn = 0;
                for (int t = 0; t < d; t++) xn += xi[t] * xi[t];
                float *bi = best + i * kth;
                int32_t *ii = bidx + i * kth;
                int64_t sk = skip ? skip[r0 + i] : -1;
                const float *gi = g + i * nc;
                if (kth == 1 && sk < 0) {
                    /* the common case: plain minimum, branch-free inner loop */
                    float bv = INFINITY;
                    size_t bj = 0;
                    for (size_t j = 0; j < nc; j++) {
                        float v = rn[c0 + j] - 2 * gi[j];
                        if (v < bv) { bv = v; bj = j; }
                    }
                    bv += xn;
                    if (bv < 0) bv = 0;
                    if (bv < bi[0]) { bi[0] = bv; ii[0] = (int32_t)(c0 + bj); }
                    continue;
                }
                for (size_t j = 0; j < nc; j++) {
                    float v = xn + rn[c0 + j] - 2 * gi[j];
                    if (v < 0) v = 0;
                    if (v >= bi[kth - 1]) continue;
                    if ((int64_t)(c0 + j) == sk) continue;
                    int p = kth - 1;
                    while (p > 0 && bi[p - 1] > v) { bi[p] = bi[p - 1]; ii[p] = ii[p - 1]; p--; }
                    bi[p] = v;
                    ii[p] = (int32_t)(c0 + j);
                }
            }
        }
        for (size_t i = 0; i < nr; i++) {
            if (dist2) dist2[r0 + i] = best[i * kth + kth - 1];
            if (idx) idx[r0 + i] = bidx[i * kth + kth - 1];
        }
    }
    free(g); free(rn); free(best); free(bidx);
    return 0;
}

/* ---- k-means --------------------------------------------------------------- */

int ordo_rank_kmeans(const float *x, size_t n, int d, int k, size_t sample, int max_iter,
                     uint64_t seed, float *cent, int32_t *assign, float *dist2, ordo_err *err)
{
    if (k < 1 || (size_t)k > n) return ordo_err_set(err, "rank: k-means k=%d for %zu rows", k, n);
    ordo_rank_rng rng;
    ordo_rank_rng_seed(&rng, seed ^ 0x6b6d65616e73ULL);
    size_t s = sample == 0 || sample > n ? n : sample;
    if (s < (size_t)k) s = (size_t)k;
    size_t *rows = s < n ? sample_rows(n, s, &rng) : NULL;
    float *xs = s < n ? malloc(s * (size_t)d * sizeof *xs) : NULL;
    float *d2 = malloc(s * sizeof *d2);
    int32_t *as = malloc(s * sizeof *as), *prev = malloc(s * sizeof *prev);
    double *sum = malloc((size_t)k * d * sizeof *sum), *cum = malloc(s * sizeof *cum);
    size_t *cnt = malloc((size_t)k * sizeof *cnt);
    int iters = -1;
    if ((s < n && (!rows || !xs)) || !d2 || !as || !prev || !sum || !cum || !cnt) {
        ordo_err_set(err, "rank: out of memory for k-means (k=%d, %zu rows)", k, s);
        goto done;
    }
    if (s < n)
        for (size_t i = 0; i < s; i++) memcpy(xs + i * d, x + rows[i] * d, (size_t)d * sizeof *xs);
    const float *X = s < n ? xs : x;

    /* k-means++ seeding (Arthur & Vassilvitskii 2007): each next centre is
     * drawn with probability proportional to its squared distance. */
    /* Seeding runs on every step-th sample row (at most 16 per centre):
     * it costs k passes, and Lloyd on the full sample refines it. */
    size_t step = s > (size_t)k * 16 ? s / ((size_t)k * 16) : 1, si = (s + step - 1) / step;
    size_t c0 = (size_t)ordo_rank_rng_below(&rng, si) * step;
    memcpy(cent, X + c0 * d, (size_t)d * sizeof *cent);
    for (size_t i = 0; i < si; i++) d2[i] = sqdist(X + i * step * d, cent, d);
    for (int c = 1; c < k; c++) {
        double tot = 0;
        for (size_t i = 0; i < si; i++) { tot += d2[i]; cum[i] = tot; }
        size_t pick;
        if (tot > 0) {
            double u = ordo_rank_rng_uniform(&rng) * tot;
            size_t lo = 0, hi = si - 1;
            while (lo < hi) { size_t mid = (lo + hi) / 2; if (cum[mid] > u) hi = mid; else lo = mid + 1; }
            pick = lo;
        } else {
            pick = (size_t)ordo_rank_rng_below(&rng, si);   /* all points coincide */
        }
        float *cc = cent + (size_t)c * d;
        memcpy(cc, X + pick * step * d, (size_t)d * sizeof *cc);
        for (size_t i = 0; i < si; i++) {
            float v = sqdist(X + i * step * d, cc, d);
            if (v < d2[i]) d2[i] = v;
        }
    }

    /* Lloyd iterations: assignment (nearest, blocked GEMM) then centroid
     * sums and counts (partial sums add across row partitions). */
    for (size_t i = 0; i < s; i++) prev[i] = -1;
    for (iters = 0; iters < (max_iter > 0 ? max_iter : 1);) {
        if (ordo_rank_nearest(X, s, cent, (size_t)k, d, 1, NULL, d2, as, err) < 0) { iters = -1; goto done; }
        iters++;
        /* converged when under 0.1 % of the sample changes cluster */
        size_t changed = 0;
        for (size_t i = 0; i < s; i++) changed += as[i] != prev[i];
        if (changed * 1000 <= s && iters > 1) break;
        memcpy(prev, as, s * sizeof *as);
        memset(sum, 0, (size_t)k * d * sizeof *sum);
        memset(cnt, 0, (size_t)k * sizeof *cnt);
        for (size_t i = 0; i < s; i++) {
            cnt[as[i]]++;
            for (int t = 0; t < d; t++) sum[(size_t)as[i] * d + t] += X[i * d + t];
        }
        for (int c = 0; c < k; c++) {
            if (cnt[c] == 0) {
                /* Empty cluster: move it to the point farthest from its centre. */
                size_t far = 0;
                for (size_t i = 1; i < s; i++) if (d2[i] > d2[far]) far = i;
                memcpy(cent + (size_t)c * d, X + far * d, (size_t)d * sizeof *cent);
                d2[far] = 0;
                continue;
            }
            for (int t = 0; t < d; t++) cent[(size_t)c * d + t] = (float)(sum[(size_t)c * d + t] / (double)cnt[c]);
        }
    }
    if (assign || dist2) {
        int32_t *a = assign;
        float *dd = dist2;
        if (!a && !(a = malloc(n * sizeof *a))) { iters = -1; ordo_err_set(err, "rank: out of memory"); goto done; }
        if (!dd && !(dd = malloc(n * sizeof *dd))) {
            if (!assign) free(a);
            iters = -1; ordo_err_set(err, "rank: out of memory"); goto done;
        }
        if (ordo_rank_nearest(x, n, cent, (size_t)k, d, 1, NULL, dd, a, err) < 0) iters = -1;
        if (!assign) free(a);
        if (!dist2) free(dd);
    }
done:
    free(rows); free(xs); free(d2); free(as); free(prev); free(sum); free(cum); free(cnt);
    return iters;
}

/* ---- TypiClust typicality ------------------------------------------------- */

int ordo_rank_typicality(const float *x, int d, const size_t *idx, size_t m, int K, float *typ,
                         ordo_err *err)
{
    if (m == 0) return 0;
    if (m == 1) { typ[0] = INFINITY; return 0; }   /* a lone point is its own cluster's type */
    if (K > (int)m - 1) K = (int)m - 1;
    if (K < 1) K = 1;
    float *xs = malloc(m * (size_t)d * sizeof *xs), *nrm = malloc(m * sizeof *nrm);
    float *g = malloc(m * m * sizeof *g), *best = malloc((size_t)K * sizeof *best);
    if (!xs || !nrm || !g || !best) {
        free(xs); free(nrm); free(g); free(best);
        return ordo_err_set(err, "rank: out of memory for typicality (%zu rows)", m);
    }
    for (size_t i = 0; i < m; i++) {
        memcpy(xs + i * d, x + idx[i] * d, (size_t)d * sizeof *xs);
        float s = 0;
        for (int t = 0; t < d; t++) s += xs[i * d + t] * xs[i * d + t];
        nrm[i] = s;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, d, 1.0f, xs, d, xs, d,
                0.0f, g, (int)m);
    for (size_t i = 0; i < m; i++) {
        for (int p = 0; p < K; p++) best[p] = INFINITY;
        for (size_t j = 0; j < m; j++) {
            if (j == i) continue;
            float v = nrm[i] + nrm[j] - 2 * g[i * m + j];
            if (v < 0) v = 0;
            if (v >= best[K - 1]) continue;
            int p = K - 1;
            while (p > 0 && best[p - 1] > v) { best[p] = best[p - 1]; p--; }
            best[p] = v;
        }
        double s = 0;
        for (int p = 0; p < K; p++) s += sqrt((double)best[p]);
        typ[i] = (float)(1.0 / (s / K + 1e-12));
    }
    free(xs); free(nrm); free(g); free(best);
    return 0;
}

/* ---- k-center greedy --------------------------------------------------------- */

float ordo_rank_kcenter_score(float m, float w)
{
    return m > 0 ? (isinf(m) ? (w > 0 ? INFINITY : 0) : m * w) : 0;
}

int ordo_rank_kcenter_step(const float *x, size_t n, int d, float *mind2, const uint8_t *elig,
                           const float *weight, const float *c, size_t *best)
{
    float bv = 0;
    size_t bi = 0;
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        float m = mind2[i];
        if (c) {
            float v = sqdist(x + i * d, c, d);
            if (v < m) mind2[i] = m = v;
        }
        if (elig && !elig[i]) continue;
        float sc = ordo_rank_kcenter_score(m, weight ? weight[i] : 1.0f);
        if (sc > bv) { bv = sc; bi = i; found = 1; }
    }
    *best = bi;
    return found;
}
