/* metrics.c - accuracy with a Wilson interval, macro-F1 with a seeded
 * percentile bootstrap, per-class precision/recall, most confused pairs,
 * and the evaluation-sample size needed for an interval width. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learn.h"
#include "learn/learn_rng.h"

/* Wilson (1927) score interval; see Brown, Cai, DasGupta (2001), eq. 4. */
static void wilson_p(double ph, double n, double z, double *lo, double *hi)
{
    double z2 = z * z;
    double den = 1 + z2 / n;
    double ctr = (ph + z2 / (2 * n)) / den;
    double half = z / den * sqrt(ph * (1 - ph) / n + z2 / (4 * n * n));
    *lo = fmax(0.0, ctr - half);
    *hi = fmin(1.0, ctr + half);
}

void ordo_learn_wilson(size_t k, size_t n, double z, double *lo, double *hi)
{
    if (n == 0 || k > n) {
        *lo = 0;
        *hi = 1;
        return;
    }
    wilson_p((double)k / (double)n, (double)n, z, lo, hi);
}

size_t ordo_learn_sample_size(double p, double half, double z)
{
    if (!(half > 0) || !(p >= 0 && p <= 1)) return 0;
    /* the half-width shrinks monotonically in n: binary search */
    size_t lo = 1, hi = 1;
    for (;;) {
        double a, b;
        wilson_p(p, (double)hi, z, &a, &b);
        if ((b - a) / 2 <= half) break;
        if (hi > ((size_t)1 << 40)) return 0;
        hi *= 2;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        double a, b;
        wilson_p(p, (double)mid, z, &a, &b);
        if ((b - a) / 2 <= half) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Macro-F1 over classes seen in the truth or the predictions. */
static double macro_f1(const size_t *sup, const size_t *pred, const size_t *tp, int k)
{
    double s = 0;
    int nc = 0;
    for (int c = 0; c < k; c++) {
        if (!sup[c] && !pred[c]) continue;
        s += 2.0 * (double)tp[c] / (double)(sup[c] + pred[c]);
        nc++;
    }
    return nc ? s / nc : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_pair_key(const void *a, const void *b)
{
    const ordo_learn_pair *x = a, *y = b;
    if (x->truth != y->truth) return x->truth < y->truth ? -1 : 1;
    return (x->predicted > y->predicted) - (x->predicted < y->predicted);
}

static int cmp_pair_count(const void *a, const void *b)
{
    const ordo_learn_pair *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return cmp_pair_key(a, b);
}

void ordo_learn_eval_free(ordo_learn_eval *e)
{
    if (!e) return;
    free(e->support);
    free(e->predicted);
    free(e->tp);
    free(e->precision);
    free(e->recall);
    free(e->f1);
    free(e->confused);
    memset(e, 0, sizeof *e);
}

int ordo_learn_evaluate(const int *truth, const int *pred, size_t n, int k, int n_boot,
                        uint64_t seed, size_t max_pairs, ordo_learn_eval *out, ordo_err *err)
{
    memset(out, 0, sizeof *out);
    if (k < 1 || (n && (!truth || !pred))) return ordo_err_set(err, "evaluate: bad arguments");
    out->k = k;
    size_t K = (size_t)k;
    out->support = calloc(K, sizeof(size_t));
    out->predicted = calloc(K, sizeof(size_t));
    out->tp = calloc(K, sizeof(size_t));
    out->precision = malloc(K * sizeof(double));
    out->recall = malloc(K * sizeof(double));
    out->f1 = malloc(K * sizeof(double));
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    ordo_learn_pair *pairs = malloc((n ? n : 1) * sizeof *pairs);
    size_t *bs = NULL;
    double *boots = NULL;
    if (!out->support || !out->predicted || !out->tp || !out->precision || !out->recall ||
        !out->f1 || !idx || !pairs)
        goto oom;
    size_t m = 0, np = 0;
    for (size_t i = 0; i < n; i++) {
        if (truth[i] < 0) continue;
        if (truth[i] >= k || pred[i] < 0 || pred[i] >= k) {
            free(idx);
            free(pairs);
            ordo_learn_eval_free(out);
            return ordo_err_set(err, "evaluate: label out of range at row %zu", i);
        }
        idx[m++] = i;
        out->support[truth[i]]++;
        out->predicted[pred[i]]++;
        if (truth[i] == pred[i]) out->tp[truth[i]]++;
        else pairs[np++] = (ordo_learn_pair){truth[i], pred[i], 1};
    }
    out->n = m;
    for (int c = 0; c < k; c++) {
        out->correct += out->tp[c];
        out->precision[c] = out->predicted[c] ? (double)out->tp[c] / out->predicted[c] : NAN;
        out->recall[c] = out->support[c] ? (double)out->tp[c] / out->support[c] : NAN;
        size_t den = out->support[c] + out->predicted[c];
        out->f1[c] = den ? 2.0 * out->tp[c] / den : NAN;
    }
    out->accuracy = m ? (double)out->correct / m : NAN;
    ordo_learn_wilson(out->correct, m, 1.959963984540054, &out->acc_lo, &out->acc_hi);
    out->macro_f1 = m ? macro_f1(out->support, out->predicted, out->tp, k) : NAN;
    out->f1_lo = out->f1_hi = NAN;

    if (n_boot > 0 && m > 0) {
        bs = calloc(3 * K, sizeof *bs);
        boots = malloc((size_t)n_boot * sizeof *boots);
        if (!bs || !boots) goto oom;
        learn_rng r;
        learn_rng_seed(&r, seed);
        for (int b = 0; b < n_boot; b++) {
            memset(bs, 0, 3 * K * sizeof *bs);
            for (size_t j = 0; j < m; j++) {
                size_t i = idx[learn_rng_below(&r, m)];
                bs[truth[i]]++;
                bs[K + (size_t)pred[i]]++;
                if (truth[i] == pred[i]) bs[2 * K + (size_t)truth[i]]++;
            }
            boots[b] = macro_f1(bs, bs + K, bs + 2 * K, k);
        }
        qsort(boots, (size_t)n_boot, sizeof *boots, cmp_double);
        /* percentile interval, nearest rank */
        size_t lo = (size_t)floor(0.025 * (n_boot - 1) + 0.5);
        size_t hi = (size_t)floor(0.975 * (n_boot - 1) + 0.5);
        out->f1_lo = boots[lo];
        out->f1_hi = boots[hi];
    }

    /* confused pairs: sort by pair, count runs, sort runs by count */
    qsort(pairs, np, sizeof *pairs, cmp_pair_key);
    size_t nu = 0;
    for (size_t i = 0; i < np; i++) {
        if (nu && pairs[nu - 1].truth == pairs[i].truth &&
            pairs[nu - 1].predicted == pairs[i].predicted)
            pairs[nu - 1].count++;
        else
            pairs[nu++] = pairs[i];
    }
    qsort(pairs, nu, sizeof *pairs, cmp_pair_count);
    out->n_confused = nu < max_pairs ? nu : max_pairs;
    if (out->n_confused) {
        out->confused = malloc(out->n_confused * sizeof *out->confused);
        if (!out->confused) goto oom;
        memcpy(out->confused, pairs, out->n_confused * sizeof *pairs);
    }
    free(idx);
    free(pairs);
    free(bs);
    free(boots);
    return 0;
oom:
    free(idx);
    free(pairs);
    free(bs);
    free(boots);
    ordo_learn_eval_free(out);
    return ordo_err_set(err, "evaluate: out of memory");
}

double ordo_learn_kappa(const int *a, const int *b, size_t n, int k)
{
    if (n == 0 || k < 1) return NAN;
    size_t *ca = calloc((size_t)k, sizeof *ca), *cb = calloc((size_t)k, sizeof *cb);
    if (!ca || !cb) { free(ca); free(cb); return NAN; }
    size_t agree = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] < 0 || a[i] >= k || b[i] < 0 || b[i] >= k) continue;
        ca[a[i]]++;
        cb[b[i]]++;
        agree += a[i] == b[i];
        m++;
    }
    double po = m ? (double)agree / m : NAN, pe = 0;
    for (int c = 0; c < k && m; c++) pe += ((double)ca[c] / m) * ((double)cb[c] / m);
    free(ca);
    free(cb);
    if (!m) return NAN;
    return pe >= 1 ? 1.0 : (po - pe) / (1 - pe);
}
