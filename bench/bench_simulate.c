/* bench_simulate.c - runs the active-learning simulation on precomputed
 * embeddings (from tools/learn_embed.py) before `ordo simulate` can read a
 * scanned project: pool split = pool, test split = extra check.
 *
 * usage: bench_simulate PREFIX [--strategies a,b,..] [--rounds R] [--batch B]
 *                              [--seeds K] [--eval N] [--folds F] [--l2 X]
 *                              [--threads T] [--csv FILE]
 * PREFIX.f32: n x 1280 embeddings then n x 1000 ImageNet logits (float32);
 * PREFIX.csv: index,path,label,split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "learn/learn.h"
#include "loop/loop.h"

#define D 1280
#define KI 1000

/* One CSV field (RFC 4180 quotes), advancing *s; returns malloc'd text. */
static char *field(const char **s)
{
    const char *p = *s;
    size_t cap = 64, n = 0;
    char *o = malloc(cap);
    if (*p == '"') {
        p++;
        for (; *p; p++) {
            if (*p == '"') {
                if (p[1] == '"') p++;
                else { p++; break; }
            }
            if (n + 2 > cap) o = realloc(o, cap *= 2);
            o[n++] = *p;
        }
    } else {
        for (; *p && *p != ',' && *p != '\n' && *p != '\r'; p++) {
            if (n + 2 > cap) o = realloc(o, cap *= 2);
            o[n++] = *p;
        }
    }
    o[n] = 0;
    if (*p == ',') p++;
    *s = p;
    return o;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PREFIX [--strategies LIST] [--rounds R] [--batch B] "
                        "[--seeds K] [--eval N] [--folds F] [--l2 X] [--threads T] [--csv FILE]\n", argv[0]);
        return 2;
    }
    const char *prefix = argv[1], *list = "random,most-confident,least-confidence,margin,entropy";
    const char *csvout = NULL;
    int rounds = 10, seeds = 5, folds = 3, threads = 1;
    size_t batch = 100, eval = 400;
    double l2 = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--strategies")) list = argv[i + 1];
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seeds")) seeds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--eval")) eval = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--folds")) folds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--l2")) l2 = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--csv")) csvout = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s.csv", prefix);
    FILE *f = fopen(path, "r");
    if (!f) { perror(path); return 1; }
    size_t cap = 8192, n = 0;
    char **labels = malloc(cap * sizeof *labels);
    int *is_pool = malloc(cap * sizeof *is_pool);
    char line[8192];
    if (!fgets(line, sizeof line, f)) return 1; /* header */
    while (fgets(line, sizeof line, f)) {
        const char *s = line;
        free(field(&s));
        free(field(&s));
        char *lab = field(&s), *split = field(&s);
        if (n == cap) return 1;
        labels[n] = lab;
        is_pool[n] = strcmp(split, "pool") == 0;
        free(split);
        n++;
    }
    fclose(f);
    /* class ids = sorted distinct labels */
    char **names = malloc(n * sizeof *names);
    memcpy(names, labels, n * sizeof *names);
    qsort(names, n, sizeof *names, cmp_str);
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(names[i], names[k - 1])) names[k++] = names[i];
    int *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        char **h = bsearch(&labels[i], names, (size_t)k, sizeof *names, cmp_str);
        y[i] = (int)(h - names);
    }
    snprintf(path, sizeof path, "%s.f32", prefix);
    f = fopen(path, "rb");
    if (!f) { perror(path); return 1; }
    float *emb = malloc(n * D * sizeof *emb), *lg = malloc(n * KI * sizeof *lg);
    if (fread(emb, sizeof *emb, n * D, f) != n * D || fread(lg, sizeof *lg, n * KI, f) != n * KI) {
        fprintf(stderr, "%s: short file\n", path);
        return 1;
    }
    fclose(f);
    size_t np = 0, nt = 0;
    for (size_t i = 0; i < n; i++) np += is_pool[i];
    nt = n - np;
    float *px = malloc(np * D * sizeof *px), *tx = malloc(nt * D * sizeof *tx);
    float *prior = malloc(np * KI * sizeof *prior);
    int *py = malloc(np * sizeof *py), *ty = malloc(nt * sizeof *ty);
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_pool[i]) {
            memcpy(px + a * D, emb + i * D, D * sizeof *px);
            /* ImageNet softmax = the scan's probabilities before any model */
            double mx = -INFINITY, s = 0;
            for (int c = 0; c < KI; c++) mx = fmax(mx, lg[i * KI + c]);
            for (int c = 0; c < KI; c++) s += exp(lg[i * KI + c] - mx);
            for (int c = 0; c < KI; c++)
                prior[a * KI + c] = (float)(exp(lg[i * KI + c] - mx) / s);
            py[a++] = y[i];
        } else {
            memcpy(tx + b * D, emb + i * D, D * sizeof *tx);
            ty[b++] = y[i];
        }
    }
    ordo_learn_sim_config cfg = {.n = np, .d = D, .x = px, .truth = py, .k = k,
                                 .class_names = (const char *const *)names,
                                 .prior_probs = prior, .prior_k = KI, .n_test = nt, .test_x = tx,
                                 .test_truth = ty, .eval_size = eval, .batch = batch,
                                 .rounds = rounds, .n_seeds = seeds, .seed = 1};
    ordo_learn_opts_default(&cfg.train);
    cfg.train.cv_folds = folds;
    cfg.train.l2 = l2;
    cfg.threads = threads;
    ordo_learn_strategy st[32];
    int ns = 0;
    char *dup = strdup(list);
    for (char *t = strtok(dup, ","); t && ns < 32; t = strtok(NULL, ",")) {
        st[ns] = ordo_loop_strategy(t);
        if (!st[ns].fn) { fprintf(stderr, "unknown strategy %s\n", t); return 2; }
        ns++;
    }
    printf("pool %zu, test %zu, classes %d, eval sample %zu, batch %zu x %d rounds, %d seeds, "
           "l2 %s\n", np, nt, k, eval, batch, rounds, seeds, l2 > 0 ? "fixed" : "by CV");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ordo_learn_sim_result r;
    ordo_err err;
    if (ordo_learn_simulate(&cfg, st, ns, &r, &err) != 0) {
        fprintf(stderr, "simulate: %s\n", err.msg);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%-18s %8s %7s %9s  test accuracy (mean +- sd) at labels", "strategy", "auc", "auc_se",
           "to_match");
    for (int q = 0; q < r.curves[0].n_points; q++) printf(" %11zu", r.curves[0].points[q].labels);
    printf("\n");
    for (int j = 0; j < r.n_curves; j++) {
        ordo_learn_sim_curve *c = &r.curves[j];
        printf("%-18s %8.4f %7.4f %9ld %38s", c->name, c->auc, c->auc_se,
               c->labels_to_match_random, "");
        for (int q = 0; q < c->n_points; q++)
            printf(" %5.3f+-%.3f", c->points[q].test_mean, c->points[q].test_sd);
        printf("\n%-18s %8s %7s %9s %38s", "", "", "", "", "(eval sample)");
        for (int q = 0; q < c->n_points; q++)
            printf(" %5.3f+-%.3f", c->points[q].eval_mean, c->points[q].eval_sd);
        printf("\n");
    }
    printf("eval-sample 95%% Wilson interval contains test accuracy: %.1f%% of (seed, round, "
           "strategy); the unlabeled rest of the pool's accuracy: %.1f%%\n",
           100 * r.eval_ci_coverage, 100 * r.rest_ci_coverage);
    printf("simulation wall time %.1f s\n",
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    if (csvout) {
        FILE *o = fopen(csvout, "w");
        if (o) {
            fprintf(o, "strategy,seed,labels,eval_accuracy,eval_lo,eval_hi,test_accuracy,"
                       "rest_accuracy\n");
            for (int j = 0; j < r.n_curves; j++)
                for (int s = 0; s < r.n_seeds; s++)
                    for (int q = 0; q < r.curves[j].n_points; q++) {
                        size_t at = (size_t)s * r.curves[j].n_points + q;
                        fprintf(o, "%s,%d,%zu,%.6f,%.6f,%.6f,%.6f,%.6f\n", r.curves[j].name,
                                s, r.curves[j].points[q].labels, r.curves[j].eval_acc[at],
                                r.curves[j].eval_lo[at], r.curves[j].eval_hi[at],
                                r.curves[j].test_acc[at], r.curves[j].rest_acc[at]);
                    }
            fclose(o);
        }
    }
    ordo_learn_sim_result_free(&r);
    free(dup);
    for (size_t i = 0; i < n; i++) free(labels[i]);
    free(labels); free(names); free(is_pool); free(y); free(emb); free(lg); free(px); free(tx);
    free(prior); free(py); free(ty);
    return 0;
}
