/* bench_train.c - times ordo_learn_train (class-balanced multinomial
 * logistic regression, L2 chosen by 3-fold CV over the 5-point grid,
 * temperature scaling) on a data file written by bench_train.py, and
 * reports accuracy on the file's held-out rows. bench_train.sh runs it side
 * by side with scikit-learn on the same file.
 *
 * usage: bench_train FILE [--folds F] [--pca P] [--l2 X]
 * FILE.f32: n x d float32; FILE.y: n int32 labels (-1 = held out for testing);
 * FILE.txt: "n d k". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "learn/learn.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [--folds F] [--pca P] [--l2 X]\n", argv[0]);
        return 2;
    }
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--folds")) o.cv_folds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pca")) o.pca_dim = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--l2")) o.l2 = atof(argv[i + 1]);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    char p[4096];
    size_t n, d;
    int k;
    snprintf(p, sizeof p, "%s.txt", argv[1]);
    FILE *f = fopen(p, "r");
    if (!f || fscanf(f, "%zu %zu %d", &n, &d, &k) != 3) { fprintf(stderr, "%s: bad\n", p); return 1; }
    fclose(f);
    float *x = malloc(n * d * sizeof *x);
    int *y = malloc(n * sizeof *y), *yt = malloc(n * sizeof *yt);
    snprintf(p, sizeof p, "%s.f32", argv[1]);
    f = fopen(p, "rb");
    if (!f || fread(x, sizeof *x, n * d, f) != n * d) { fprintf(stderr, "%s: bad\n", p); return 1; }
    fclose(f);
    snprintf(p, sizeof p, "%s.y", argv[1]);
    f = fopen(p, "rb");
    if (!f || fread(yt, sizeof *yt, n, f) != n) { fprintf(stderr, "%s: bad\n", p); return 1; }
    fclose(f);
    /* labels: the file stores train labels >= 0 and test labels as -2 - y */
    size_t ntr = 0;
    for (size_t i = 0; i < n; i++) {
        y[i] = yt[i] >= 0 ? yt[i] : -1;
        ntr += yt[i] >= 0;
    }
    ordo_learn_report rep;
    ordo_err err;
    double t0 = now_s();
    ordo_learn_model *m = ordo_learn_train(x, n, d, y, k, NULL, &o, NULL, &rep, &err);
    double t1 = now_s();
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
    printf("ordo   train labels %zu d %zu k %d: %.2f s (CV %d folds x grid, final fit %d iterations), "
           "l2 %g, T %.3f, cv acc %.4f, test acc %.4f on %zu\n",
           ntr, d, k, t1 - t0, o.cv_folds, rep.iterations, rep.l2, rep.temperature,
           rep.cv_accuracy, nt ? (double)right / nt : 0, nt);
    ordo_learn_model_free(m);
    free(x); free(y); free(yt); free(pr);
    return 0;
}
