/* bench_train.c - times ordo_learn_train (class-balanced multinomial
 * logistic regression, L2 chosen by 3-fold CV over the 5-point grid,
 * temperature scaling) on a data file written by bench_train.py, and
 * reports accuracy on the file's held-out rows. bench_train.sh runs it side
 * by side with scikit-learn on the same file.
 *
 * usage: bench_train FILE [--folds F] [--pca P] [--l2 X]
 *        bench_train --real PREFIX --n N [--dump FILE] [--folds F] [--pca P] [--l2 X]
 * FILE.f32: n x d float32; FILE.y: n int32 labels (train rows y >= 0, test
 * rows -2 - y); FILE.txt: "n d k".
 * --real builds the data from tools/learn_embed.py output (PREFIX.f32/.csv):
 * N <= m - 500 real rows for training, the other real rows for testing; a
 * larger N draws training rows from m - 1000 real training rows plus
 * Gaussian jitter of 0.5 x the per-dimension within-class sd (so 10,000
 * labels can be timed on a 4,989-image data set), testing on 1,000 real
 * rows. --dump writes the data as FILE for bench_train.py (scikit-learn). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learn.h"
#include "bench_util.h"

/* CPU seconds (user + system) of this process so far: on a machine shared
 * with other work, wall time measures the neighbours too. */
static uint64_t rs = 7;
static uint64_t rnext(void)
{
    uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double runif(void) { return (double)(rnext() >> 11) / 9007199254740992.0; }
static double rnorm(void)
{
    return sqrt(-2 * log(runif() + 1e-300)) * cos(6.283185307179586 * runif());
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Builds the benchmark data from real embeddings (see the header). */
static int make_real(const char *prefix, size_t want, float **xo, int **yo, size_t *no, int *ko)
{
    enum { D = 1280 };
    char p[4096], line[8192];
    snprintf(p, sizeof p, "%s.csv", prefix);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    size_t m = 0, cap = 1 << 16;
    char **lab = malloc(cap * sizeof *lab);
    if (!fgets(line, sizeof line, f)) return -1;
    while (fgets(line, sizeof line, f) && m < cap) {
        /* index,path,label,split: the label is the second-to-last field */
        char *e = strrchr(line, ',');
        if (!e) return -1;
        *e = 0;
        char *b = strrchr(line, ',');
        if (!b) return -1;
        char *l = b + 1;
        if (*l == '"') { l++; l[strlen(l) - 1] = 0; }
        lab[m++] = strdup(l);
    }
    fclose(f);
    char **names = malloc(m * sizeof *names);
    memcpy(names, lab, m * sizeof *names);
    qsort(names, m, sizeof *names, cmp_str);
    int k = 0;
    for (size_t i = 0; i < m; i++)
        if (!i || strcmp(names[i], names[k - 1])) names[k++] = names[i];
    int *y = malloc(m * sizeof *y);
    for (size_t i = 0; i < m; i++)
        y[i] = (int)((char **)bsearch(&lab[i], names, (size_t)k, sizeof *names, cmp_str) - names);
    float *x = malloc(m * D * sizeof *x);
    snprintf(p, sizeof p, "%s.f32", prefix);
    f = fopen(p, "rb");
    if (!f || fread(x, sizeof *x, m * D, f) != m * D) return -1;
    fclose(f);
    size_t *perm = malloc(m * sizeof *perm);
    for (size_t i = 0; i < m; i++) perm[i] = i;
    for (size_t i = m; i > 1; i--) {
        size_t j = rnext() % i, t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    /* up to m - 500 real training rows (4,000 of sports100's 4,989 leave 989
     * for testing); beyond that jitter from m - 1000 real rows */
    size_t pool = want <= m - 500 ? want : m - 1000, ntr = want < pool ? want : pool;
    size_t nte = want > ntr ? 1000 : m - ntr, n = want + nte;
    const size_t *te = want > ntr ? perm + pool : perm + ntr;
    float *xs = malloc(n * D * sizeof *xs);
    int *ys = malloc(n * sizeof *ys);
    float sd[D] = {0};
    if (want > ntr) { /* pooled within-class sd of the training rows */
        double *mu = calloc((size_t)k * D, sizeof *mu), var[D] = {0};
        size_t *cnt = calloc((size_t)k, sizeof *cnt);
        for (size_t i = 0; i < ntr; i++) {
            cnt[y[perm[i]]]++;
            for (int j = 0; j < D; j++) mu[(size_t)y[perm[i]] * D + j] += x[perm[i] * D + j];
        }
        for (int c = 0; c < k; c++)
            for (int j = 0; j < D; j++) mu[(size_t)c * D + j] /= cnt[c] ? (double)cnt[c] : 1;
        for (size_t i = 0; i < ntr; i++)
            for (int j = 0; j < D; j++) {
                double v = x[perm[i] * D + j] - mu[(size_t)y[perm[i]] * D + j];
                var[j] += v * v;
            }
        for (int j = 0; j < D; j++) sd[j] = (float)sqrt(var[j] / (double)ntr);
        free(mu);
        free(cnt);
    }
    for (size_t i = 0; i < want; i++) {
        size_t src = want > ntr ? perm[rnext() % ntr] : perm[i];
        for (int j = 0; j < D; j++)
            xs[i * D + j] = x[src * D + j] + (want > ntr ? (float)(0.5 * sd[j] * rnorm()) : 0.0f);
        ys[i] = y[src];
    }
    for (size_t i = 0; i < nte; i++) {
        memcpy(xs + (want + i) * D, x + te[i] * D, D * sizeof *xs);
        ys[want + i] = -2 - y[te[i]];
    }
    for (size_t i = 0; i < m; i++) free(lab[i]);
    free(lab); free(names); free(y); free(x); free(perm);
    *xo = xs;
    *yo = ys;
    *no = n;
    *ko = k;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE | --real PREFIX --n N [--dump FILE] [--folds F] "
                        "[--pca P] [--l2 X]\n", argv[0]);
        return 2;
    }
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    const char *real = NULL, *dump = NULL;
    size_t want = 0;
    int first = strcmp(argv[1], "--real") == 0 ? 1 : 2;
    for (int i = first; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--real")) real = argv[i + 1];
        else if (!strcmp(argv[i], "--n")) want = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--dump")) dump = argv[i + 1];
        else if (!strcmp(argv[i], "--folds")) o.cv_folds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pca")) o.pca_dim = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--l2")) o.l2 = atof(argv[i + 1]);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    char p[4096];
    size_t n, d = 1280;
    int k;
    float *x;
    int *yt;
    if (real) {
        if (make_real(real, want, &x, &yt, &n, &k) != 0) {
            fprintf(stderr, "%s: cannot build the data\n", real);
            return 1;
        }
        if (dump) {
            snprintf(p, sizeof p, "%s.txt", dump);
            FILE *f = fopen(p, "w");
            fprintf(f, "%zu %zu %d\n", n, d, k);
            fclose(f);
            snprintf(p, sizeof p, "%s.f32", dump);
            f = fopen(p, "wb");
            fwrite(x, sizeof *x, n * d, f);
            fclose(f);
            snprintf(p, sizeof p, "%s.y", dump);
            f = fopen(p, "wb");
            fwrite(yt, sizeof *yt, n, f);
            fclose(f);
        }
    } else {
        snprintf(p, sizeof p, "%s.txt", argv[1]);
        FILE *f = fopen(p, "r");
        if (!f || fscanf(f, "%zu %zu %d", &n, &d, &k) != 3) { fprintf(stderr, "%s: bad\n", p); return 1; }
        fclose(f);
        x = malloc(n * d * sizeof *x);
        yt = malloc(n * sizeof *yt);
        snprintf(p, sizeof p, "%s.f32", argv[1]);
        f = fopen(p, "rb");
        if (!f || fread(x, sizeof *x, n * d, f) != n * d) { fprintf(stderr, "%s: bad\n", p); return 1; }
        fclose(f);
        snprintf(p, sizeof p, "%s.y", argv[1]);
        f = fopen(p, "rb");
        if (!f || fread(yt, sizeof *yt, n, f) != n) { fprintf(stderr, "%s: bad\n", p); return 1; }
        fclose(f);
    }
    int *y = malloc(n * sizeof *y);
    /* labels: the file stores train labels >= 0 and test labels as -2 - y */
    size_t ntr = 0;
    for (size_t i = 0; i < n; i++) {
        y[i] = yt[i] >= 0 ? yt[i] : -1;
        ntr += yt[i] >= 0;
    }
    ordo_learn_report rep;
    ordo_err err;
    double t0 = bench_now_s(), c0 = bench_cpu_s();
    ordo_learn_model *m = ordo_learn_train(x, n, d, y, k, NULL, &o, NULL, &rep, &err);
    double t1 = bench_now_s(), c1 = bench_cpu_s();
    if (!m) { fprintf(stderr, "train: %s\n", err.msg); return 1; }
    float *pr = malloc(n * (size_t)k * sizeof *pr);
    ordo_learn_predict(m, x, n, pr, NULL, &err);
    size_t nt = 0, right = 0;
    for (size_t i = 0; i < n; i++) {
        if (yt[i] >= 0) continue;
        int am = 0;
        for (int c = 1; c < k; c++)
            if (pr[i * k + c] > pr[i * k + am]) am = c;
        nt++;
        right += am == -2 - yt[i];
    }
    printf("ordo   train labels %zu d %zu k %d: %.2f s (CPU %.2f s; CV %d folds x grid, final fit %d "
           "iterations), l2 %g, T %.3f, cv acc %.4f, test acc %.4f on %zu\n",
           ntr, d, k, t1 - t0, c1 - c0, o.cv_folds, rep.iterations, rep.l2, rep.temperature,
           rep.cv_accuracy, nt ? (double)right / nt : 0, nt);
    ordo_learn_model_free(m);
    free(x); free(y); free(yt); free(pr);
    return 0;
}
