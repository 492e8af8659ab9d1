/* bench_filter.c - the sports filter against its anchor, the zero-shot
 * prior, on a mixed pool: AUROC (not-sports as the positive class) of
 *   prior     the zero-shot WordNet prior alone (1 - P(sports)),
 *   learned   the filter as `ordo train` fitted it before: a class-balanced
 *             linear model of the embedding alone (prior when it has fewer
 *             than 2 not-sports or 2 sports answers, as the pool does),
 *   combined  ordo_learn_filter_train: the linear correction on top of the
 *             prior's log odds (what `ordo train` fits now),
 * after N random labels, on every photo of the pool not labeled yet, side by
 * side for the same seeds and labels.
 *
 * usage: bench_filter PROJECT [--seeds K] [--labels 50,100,200,500]
 * PROJECT: an ordo project holding sports100 and imagenet-sample photos
 * (bench_filter.sh builds it). Truth from the paths: a photo under
 * sports100/ is sports; one under imagenet-sample/ is not-sports unless its
 * class is sports-related (the rule of bench/sports_prior_auroc.c: weight >
 * 0 in the default sports list, or under sports equipment, game equipment,
 * sports implement or athlete), then it is left out; other photos are left
 * out. Labels are drawn in a seeded random order (seed 1..K). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/f16.h"
#include "learn/learn.h"
#include "learn/learn_store.h"
#include "store/store.h"
#include "wordnet/sports.h"
#include "wordnet/wordnet.h"

static uint64_t rs;
static uint64_t rnext(void)   /* splitmix64 */
{
    uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct { float s; int y; } sy;
static int cmp_sy(const void *a, const void *b)
{
    float x = ((const sy *)a)->s, y = ((const sy *)b)->s;
    return x < y ? -1 : x > y;
}

/* AUROC = P(score of a positive > score of a negative), ties counted half
 * (the Mann-Whitney U statistic over n_pos n_neg, mid-ranks for ties). */
static double auroc(const float *score, const int *y, const size_t *rows, size_t n)
{
    sy *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return NAN;
    for (size_t i = 0; i < n; i++) v[i] = (sy){score[rows[i]], y[rows[i]]};
    qsort(v, n, sizeof *v, cmp_sy);
    double rsum = 0, np = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double mid = 0.5 * ((double)i + 1 + (double)j);   /* mean of ranks i+1..j */
        for (size_t t = i; t < j; t++)
            if (v[t].y) { rsum += mid; np++; }
        i = j;
    }
    free(v);
    double nn = (double)n - np;
    return np && nn ? (rsum - np * (np + 1) / 2) / (np * nn) : NAN;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROJECT [--seeds K] [--labels N,N,...]\n", argv[0]);
        return 2;
    }
    int seeds = 10;
    size_t labs[16] = {50, 100, 200, 300, 500};
    int nlabs = 5;
    for (int a = 2; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--seeds")) seeds = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--labels")) {
            nlabs = 0;
            for (char *t = strtok(argv[a + 1], ","); t && nlabs < 16; t = strtok(NULL, ","))
                labs[nlabs++] = (size_t)strtoul(t, NULL, 10);
        } else {
            fprintf(stderr, "unknown option %s\n", argv[a]);
            return 2;
        }
    }
    ordo_err err = {{0}};
    ordo_store *s = ordo_store_open(argv[1], ORDO_STORE_RDONLY, &err);
    ordo_wn *wn = s ? ordo_wn_open(NULL, &err) : NULL;
    ordo_sports *sp = wn ? ordo_sports_new(wn, NULL, &err) : NULL;
    if (!sp) { fprintf(stderr, "%s\n", err.msg); return 1; }
    ordo_store_item *items = NULL;
    size_t n = 0, rows = 0;
    const uint16_t *E = NULL;
    if (ordo_store_items(s, &items, &n, &err) || !(E = ordo_store_embeddings(s, &rows, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    enum { D = ORDO_STORE_EMBED };
    float *x = malloc(n * D * sizeof *x), *prior = malloc(n * sizeof *prior);
    float *ps = malloc(n * sizeof *ps), *pl = malloc(n * sizeof *pl), *pc = malloc(n * sizeof *pc);
    int *y = malloc(n * sizeof *y), *ylab = malloc(n * sizeof *ylab);
    size_t *el = malloc(n * sizeof *el), *rest = malloc(n * sizeof *rest);
    float *xl = malloc(n * D * sizeof *xl), *prl = malloc(n * sizeof *prl);
    if (!x || !prior || !ps || !pl || !pc || !y || !ylab || !el || !rest || !xl || !prl) return 1;
    /* sports-related ImageNet classes (never counted as not-sports) */
    static const long base[] = {4285146, 3414162, 4285622, 9820263};
    const float *w = ordo_sports_class_weights(sp);
    size_t m = 0, npos = 0;
    char path[8192];
    for (size_t i = 0; i < n; i++) {
        y[i] = -1;
        if (items[i].slot < 0 || (size_t)items[i].slot >= rows ||
            ordo_store_image_path(s, items[i].id, path, sizeof path, &err))
            continue;
        if (strstr(path, "/sports100/")) y[i] = 0;
        const char *q = strstr(path, "/imagenet-sample/");
        if (q) {
            char wnid[10];
            snprintf(wnid, sizeof wnid, "%s", q + strlen("/imagenet-sample/"));
            int c = ordo_wn_class_index(wn, wnid);
            int rel = c < 0 || w[c] > 0;
            for (size_t j = 0; c >= 0 && j < sizeof base / sizeof *base; j++)
                rel |= ordo_wn_class_under(wn, c, base[j]);
            if (!rel) y[i] = 1;
        }
        if (y[i] < 0) continue;
        ordo_f16_to_f32(E + (size_t)items[i].slot * D, x + m * D, D);
        prior[m] = items[i].sports;
        y[m] = y[i];
        npos += y[m] == 1;
        m++;
    }
    printf("pool: %zu photos, %zu not-sports (imagenet-sample minus sports-related classes), "
           "%zu sports (sports100); %d seeds, random label order\n", m, npos, m - npos, seeds);
    for (size_t i = 0; i < m; i++) ps[i] = 1.0f - (isnan(prior[i]) ? 0.5f : prior[i]);
    printf("%6s %7s | %-15s %-15s %-15s | %-16s %-16s\n", "labels", "not-sp", "prior AUROC",
           "learned AUROC", "combined AUROC", "learned-prior", "combined-prior");
    printf("%6s %7s | %-15s %-15s %-15s | %-16s %-16s\n", "", "(mean)", "mean (sd)", "mean (sd)",
           "mean (sd)", "mean [min]", "mean [min]");
    for (int li = 0; li < nlabs; li++) {
        double sum[3] = {0}, sq[3] = {0}, dmin[2] = {INFINITY, INFINITY}, dsum[2] = {0};
        double notsum = 0;
        int ok = 0;
        for (int sd = 1; sd <= seeds; sd++) {
            rs = (uint64_t)sd * 0x5851f42d4c957f2dULL;
            for (size_t i = 0; i < m; i++) el[i] = i;
            for (size_t i = m; i > 1; i--) {   /* Fisher-Yates */
                size_t j = (size_t)(rnext() % i), t = el[i - 1];
                el[i - 1] = el[j];
                el[j] = t;
            }
            size_t N = labs[li] < m ? labs[li] : m, nn = 0;
            for (size_t i = 0; i < N; i++) {
                memcpy(xl + i * D, x + el[i] * D, D * sizeof *x);
                ylab[i] = y[el[i]];
                prl[i] = prior[el[i]];
                nn += ylab[i];
            }
            for (size_t i = N; i < m; i++) rest[i - N] = el[i];
            ordo_learn_opts o;
            ordo_learn_opts_default(&o);
            o.seed = (uint64_t)sd;
            memcpy(pl, ps, m * sizeof *pl);
            memcpy(pc, ps, m * sizeof *pc);
            if (nn >= 2 && N - nn >= 2) {
                static const char *const names[2] = {"sports", "not-sports"};
                ordo_learn_model *f = ordo_learn_train(xl, N, D, ylab, 2, names, &o, NULL, NULL, &err);
                ordo_learn_model *g = f ? ordo_learn_filter_train(xl, N, D, ylab, prl, &o, NULL, &err)
                                        : NULL;
                float *pr = malloc(m * 2 * sizeof *pr);
                if (!g || !pr || ordo_learn_predict(f, x, m, pr, NULL, &err) ||
                    ordo_learn_filter_predict(g, 1, x, prior, m, pc, &err)) {
                    fprintf(stderr, "%s\n", err.msg);
                    return 1;
                }
                for (size_t i = 0; i < m; i++) pl[i] = pr[i * 2 + 1];
                free(pr);
                ordo_learn_model_free(f);
                ordo_learn_model_free(g);
            }
            double a[3] = {auroc(ps, y, rest, m - N), auroc(pl, y, rest, m - N),
                           auroc(pc, y, rest, m - N)};
            for (int t = 0; t < 3; t++) { sum[t] += a[t]; sq[t] += a[t] * a[t]; }
            for (int t = 0; t < 2; t++) {
                double dd = a[t + 1] - a[0];
                dsum[t] += dd;
                if (dd < dmin[t]) dmin[t] = dd;
            }
            notsum += (double)nn;
            ok++;
        }
        double mean[3], sdv[3];
        for (int t = 0; t < 3; t++) {
            mean[t] = sum[t] / ok;
            double v = sq[t] / ok - mean[t] * mean[t];
            sdv[t] = ok > 1 && v > 0 ? sqrt(v * ok / (ok - 1)) : 0;
        }
        printf("%6zu %7.1f | %.4f (%.4f) %.4f (%.4f) %.4f (%.4f) | %+.4f [%+.4f] %+.4f [%+.4f]\n",
               labs[li], notsum / ok, mean[0], sdv[0], mean[1], sdv[1], mean[2], sdv[2],
               dsum[0] / ok, dmin[0], dsum[1] / ok, dmin[1]);
        fflush(stdout);
    }
    free(items);
    ordo_store_close(s);
    ordo_sports_free(sp);
    ordo_wn_free(wn);
    free(x); free(prior); free(ps); free(pl); free(pc); free(y); free(ylab); free(el);
    free(rest); free(xl); free(prl);
    return 0;
}
