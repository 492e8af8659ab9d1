/* audit_label.c - label errors by confident learning, and a leave-one-out
 * nearest-neighbour estimate of p(y | x) to average with the model's.
 *
 * Confident learning (Northcutt, Jiang & Chuang 2021, JAIR 70, sec. 3):
 *   t_j      = mean of p_j over the rows labeled j           (per-class threshold)
 *   C[i][j]  = #{x labeled i : j = argmax_{l : p_l(x) >= t_l} p_l(x)}  (confident joint)
 *   C~[i][j] = C[i][j] / sum_j C[i][j] * n_i                  (calibrated, eq. 2)
 *   Q        = C~ / sum C~                                     (joint of given and true label)
 *   prune by noise rate: for every i != j, the round(n Q[i][j]) rows labeled
 *   i with the largest margin p_j - p_i are label errors.
 * The ranking is by self-confidence 1 - p_y over every labeled row (not
 * flagged-first), so the list is useful beyond the flagged set too.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

typedef struct { float key; size_t row; } keyed;

static int cmp_keyed_desc(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

static int cmp_issue(const void *a, const void *b)
{
    const ordo_audit_issue *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

int ordo_audit_label_issues(const float *probs, size_t n, int k, const int *y,
                            ordo_audit_issue **out, size_t *nout, ordo_audit_label_stats *st,
                            ordo_err *err)
{
    *out = NULL;
    *nout = 0;
    if (k < 2) return ordo_err_set(err, "audit: need at least 2 classes (have %d)", k);
    size_t K = (size_t)k, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] >= k) return ordo_err_set(err, "audit: label %d of row %zu is not below %d", y[i], i, k);
        if (y[i] >= 0) m++;
    }
    if (!m) return ordo_err_set(err, "audit: no labeled rows");
    double *thr = calloc(K, sizeof *thr), *C = calloc(K * K, sizeof *C);
    size_t *cnt = calloc(K, sizeof *cnt);
    size_t *byc = malloc(m * sizeof *byc), *start = calloc(K + 1, sizeof *start);
    keyed *tmp = malloc(m * sizeof *tmp);
    uint8_t *flag = calloc(n ? n : 1, 1);
    ordo_audit_issue *is = malloc(m * sizeof *is);
    int rc = -1;
    if (!thr || !C || !cnt || !byc || !start || !tmp || !flag || !is) {
        ordo_err_set(err, "audit: out of memory for %zu x %d probabilities", n, k);
        goto done;
    }
    /* thresholds t_j: mean self-confidence of each given class */
    for (size_t i = 0; i < n; i++)
        if (y[i] >= 0) { thr[y[i]] += probs[i * K + (size_t)y[i]]; cnt[y[i]]++; }
    for (size_t j = 0; j < K; j++) thr[j] = cnt[j] ? thr[j] / (double)cnt[j] : INFINITY;
    /* confident joint; the 1e-6 keeps a row exactly at its class mean in */
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0) continue;
        const float *p = probs + i * K;
        int best = -1;
        for (size_t j = 0; j < K; j++)
            if (p[j] >= thr[j] - 1e-6 && (best < 0 || p[j] > p[best])) best = (int)j;
        if (best >= 0) C[(size_t)y[i] * K + (size_t)best] += 1;
    }
    double tot = 0, off = 0;
    for (size_t i = 0; i < K; i++) {
        double rs = 0;
        for (size_t j = 0; j < K; j++) rs += C[i * K + j];
        for (size_t j = 0; j < K; j++) {
            C[i * K + j] = rs > 0 ? C[i * K + j] / rs * (double)cnt[i] : 0;
            tot += C[i * K + j];
            if (i != j) off += C[i * K + j];
        }
    }
    /* rows grouped by given class */
    for (size_t i = 0; i < n; i++) if (y[i] >= 0) start[y[i] + 1]++;
    for (size_t j = 0; j < K; j++) start[j + 1] += start[j];
    {
        size_t *pos = calloc(K, sizeof *pos);
        if (!pos) { ordo_err_set(err, "audit: out of memory"); goto done; }
        for (size_t i = 0; i < n; i++)
            if (y[i] >= 0) byc[start[y[i]] + pos[y[i]]++] = i;
        free(pos);
    }
    /* prune by noise rate: n Q[i][j] = C~[i][j] * m / tot rows per cell,
     * never a whole class (the paper keeps at least one example per class) */
    size_t flagged = 0;
    for (size_t i = 0; tot > 0 && i < K; i++) {
        size_t ni = start[i + 1] - start[i];
        if (ni < 2) continue;
        for (size_t j = 0; j < K; j++) {
            if (j == i) continue;
            size_t num = (size_t)llround(C[i * K + j] * (double)m / tot);
            if (!num) continue;
            if (num > ni - 1) num = ni - 1;
            for (size_t t = 0; t < ni; t++) {
                size_t r = byc[start[i] + t];
                tmp[t].key = probs[r * K + j] - probs[r * K + i];
                tmp[t].row = r;
            }
            qsort(tmp, ni, sizeof *tmp, cmp_keyed_desc);
            for (size_t t = 0; t < num; t++) flag[tmp[t].row] = 1;
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0) continue;
        const float *p = probs + i * K;
        int s = -1;
        for (size_t j = 0; j < K; j++)
            if ((int)j != y[i] && (s < 0 || p[j] > p[s])) s = (int)j;
        ordo_audit_issue *it = &is[w++];
        it->row = i;
        it->label = y[i];
        it->suggested = s;
        it->p_label = p[y[i]];
        it->p_suggested = p[s];
        /* self-confidence: the paper's (and cleanlab's default) order; on
         * sports100 with 5 % flips it ranked flips better than the
         * normalised margin (docs/audit.md) */
        it->score = 1.0f - p[y[i]];
        it->flagged = flag[i];
        flagged += flag[i];
    }
    qsort(is, m, sizeof *is, cmp_issue);
    if (st) {
        st->n = m;
        st->flagged = flagged;
        st->noise_rate = tot > 0 ? off / tot : 0;
    }
    *out = is;
    *nout = m;
    is = NULL;
    rc = 0;
done:
    free(thr); free(C); free(cnt); free(byc); free(start); free(tmp); free(flag); free(is);
    return rc;
}

int ordo_audit_knn_probs(const float *x, size_t n, size_t d, const int *y, int k, int K,
                         float *probs, ordo_err *err)
{
    if (k < 1 || K < 1 || K > 64) return ordo_err_set(err, "audit: kNN needs 1 <= K <= 64 (K=%d)", K);
    size_t nl = 0;
    for (size_t i = 0; i < n; i++) if (y[i] >= 0) nl++;
    float *z = malloc((nl ? nl : 1) * d * sizeof *z);
    size_t *lr = malloc((nl ? nl : 1) * sizeof *lr);
    const size_t B = 256;
    float *sim = malloc(B * (nl ? nl : 1) * sizeof *sim);
    if (!z || !lr || !sim) {
        free(z); free(lr); free(sim);
        return ordo_err_set(err, "audit: out of memory for kNN over %zu rows", nl);
    }
    size_t t = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0) continue;
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)x[i * d + j] * x[i * d + j];
        float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
        for (size_t j = 0; j < d; j++) z[t * d + j] = x[i * d + j] * inv;
        lr[t++] = i;
    }
    memset(probs, 0, n * (size_t)k * sizeof *probs);
    /* Cosines of a block of labeled rows against all labeled rows (GEMM),
     * then each row's K best others by insertion into a short sorted list. */
    for (size_t b0 = 0; b0 < nl; b0 += B) {
        size_t nb = nl - b0 < B ? nl - b0 : B;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)nl, (int)d, 1.0f,
                    z + b0 * d, (int)d, z, (int)d, 0.0f, sim, (int)nl);
        for (size_t q = 0; q < nb; q++) {
            float bs[64];
            size_t bi[64];
            int have = 0;
            const float *s = sim + q * nl;
            for (size_t j = 0; j < nl; j++) {
                if (j == b0 + q) continue;   /* leave the row itself out */
                float v = s[j];
                if (have == K && v <= bs[K - 1]) continue;
                int p = have < K ? have++ : K - 1;
                while (p > 0 && bs[p - 1] < v) { bs[p] = bs[p - 1]; bi[p] = bi[p - 1]; p--; }
                bs[p] = v;
                bi[p] = j;
            }
            float *pr = probs + lr[b0 + q] * (size_t)k;
            double tot = 0;
            for (int c = 0; c < k; c++) { pr[c] = 1.0f / (float)k; tot += pr[c]; }
            /* softmax weights at temperature 0.1 on the cosine: a near
             * duplicate outvotes a merely similar photo */
            for (int h = 0; h < have; h++) {
                double w = exp((bs[h] - bs[0]) / 0.1);
                pr[y[lr[bi[h]]]] += (float)w;
                tot += w;
            }
            for (int c = 0; c < k; c++) pr[c] = (float)(pr[c] / tot);
        }
    }
    free(z); free(lr); free(sim);
    return 0;
}
