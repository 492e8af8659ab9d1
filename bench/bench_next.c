/* bench_next.c - a synthetic project for timing the real `ordo next`.
 *
 *   bench_next DIR N [LABELS]     generate a project (below)
 *   bench_next time DIR            the steps of `ordo next 1000` on it, timed
 *                                  (load, evaluation sample, each compose phase,
 *                                  paths), for profiling; prints key=value
 *
 * Creates a project in DIR (which must not hold one; model lite0) and writes
 * N synthetic images through the public store API exactly as `ordo scan`
 * does: one scan record, transactions of 2048 ordo_store_put_image calls
 * with the 1000 ImageNet logits and the 1280-d embedding of each image, the
 * store computing top-5, max probability, margin and entropy itself, and the
 * sports prior from the softmax with ordo_sports_score (scan's run_batch).
 *
 * The data (same model as bench_rank.c, with more clusters):
 *   - embeddings: 3,000 clusters of power-law sizes (cluster = floor(C u^2)),
 *     x = mu + a_c + e with per-dimension variances 0.6 / 0.25 / 0.15, so
 *     cosines are ~0.85 within and ~0.6 between clusters, like pooled CNN
 *     features; 0.1 % outliers drawn from a wide isotropic normal;
 *   - logits: per image a Dirichlet over its cluster's 8 ImageNet classes
 *     (70 % confident: alpha (5, 0.3, ...); 30 % spread: alpha 1) holding
 *     95 % of the mass, the rest over the other 992 classes with noise,
 *     logit = ln p + an offset ~ 8 + N(0,1) (so max logits vary); outliers
 *     get flat, low logits;
 *   - paths DIR/synthetic/cCCCC/NNNNNNN.jpg (the files do not exist, except
 *     those listed for labeling).
 * Every image's values come from its own seed, so a project of any size is
 * the prefix of a larger one.
 *
 * LABELS > 0: about that many images (a fixed hash of the index) get an
 * empty file at their path and a row in DIR/labels.csv (path,label), the
 * label being one of 100 customer classes tied to the cluster, for
 * `ordo label --import`. Prints one line of key=value results. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/hash.h"
#include "loop/loop.h"
#include "rank/rank.h"
#include "store/store.h"
#include "wordnet/sports.h"
#include "wordnet/wordnet.h"
#include "bench_util.h"

#define DIM ORDO_STORE_EMBED
#define CLASSES ORDO_STORE_LOGITS
#define CLUSTERS 3000
#define PER 8
#define GROUP 2048
#define LABEL_CLASSES 100

static int is_labeled(size_t i, size_t n, size_t nlab)
{
    return nlab && ordo_hash_mix64(i ^ 0x1abe1edULL) % n < nlab;
}

/* the 8 distinct classes of cluster c */
static void cluster_classes(size_t c, int cls[PER])
{
    for (int j = 0, t = 0; j < PER; t++) {
        int k = (int)(ordo_hash_mix64(c * 131 + (size_t)t) % CLASSES), dup = 0;
        for (int q = 0; q < j; q++) dup |= cls[q] == k;
        if (!dup) cls[j++] = k;
    }
}

static void image(size_t i, const float *mu, const float *cent, float *emb, float *logits)
{
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, ordo_hash_mix64(i + 0x5eed));
    size_t c = bench_cluster_of(i, CLUSTERS);
    int outlier = ordo_hash_mix64(i ^ 0x7ULL) % 1000 == 0;
    for (int j = 0; j < DIM; j++)
        emb[j] = outlier ? 3.0f * bench_fastn(&r) : mu[j] + cent[c * DIM + j] + 0.387f * bench_fastn(&r);
    double off = outlier ? 3 : 8 + ordo_rank_rng_normal(&r);
    if (outlier) {
        for (int k = 0; k < CLASSES; k++) logits[k] = (float)(off + 1.5 * bench_fastn(&r));
        return;
    }
    float tail = (float)(log(0.05 / (CLASSES - PER)) + off);
    for (int k = 0; k < CLASSES; k++) logits[k] = tail + 0.5f * bench_fastn(&r);
    int cls[PER];
    cluster_classes(c, cls);
    int confident = ordo_rank_rng_uniform(&r) < 0.7;
    double g[PER], s = 0;
    for (int j = 0; j < PER; j++) {
        g[j] = bench_gamma(&r, confident ? (j == 0 ? 5.0 : 0.3) : 1.0);
        s += g[j];
    }
    for (int j = 0; j < PER; j++) logits[cls[j]] = (float)(log(0.95 * g[j] / s + 1e-30) + off);
}

static int mkdirs(char *path)   /* mkdir -p of path's parent folders */
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc && errno != EEXIST) return -1;
    }
    return 0;
}

/* The steps of cmd_next.c's next_run, timed one by one. */
static int time_next(const char *dir)
{
    ordo_err err = {{0}};
    double t0 = bench_now_s();
    ordo_store *s = ordo_store_open(dir, 0, &err);
    if (!s) { fprintf(stderr, "bench_next: %s\n", err.msg); return 1; }
    ordo_wn *wn = ordo_wn_open(NULL, &err);
    double t1 = bench_now_s();
    ordo_store_item *items;
    size_t n;
    if (ordo_store_items(s, &items, &n, &err)) { fprintf(stderr, "bench_next: %s\n", err.msg); return 1; }
    free(items);
    double t2 = bench_now_s();
    ordo_loop_pool *p = ordo_loop_pool_load(s, wn, &err);
    if (!p) { fprintf(stderr, "bench_next: %s\n", err.msg); return 1; }
    double t3 = bench_now_s();
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = 1000;
    size_t esize;
    if (ordo_loop_pool_eval(p, s, o.eval_half_width, o.eval_p, o.seed, &esize, &err) < 0) {
        fprintf(stderr, "bench_next: %s\n", err.msg);
        return 1;
    }
    double t4 = bench_now_s();
    ordo_rank_batch *b = ordo_rank_compose(ordo_loop_pool_input(p), &o, &err);
    if (!b) { fprintf(stderr, "bench_next: %s\n", err.msg); return 1; }
    double t5 = bench_now_s();
    char path[8192];
    for (size_t i = 0; i < b->n; i++)
        if (ordo_store_image_path(s, ordo_loop_pool_item(p, b->items[i].row)->id, path, sizeof path,
                                  &err) < 0)
            return 1;
    double t6 = bench_now_s();
    printf("n=%zu model=%s open_s=%.2f items_s=%.2f pool_load_s=%.2f (items again + labels + max "
           "logits + model) eval_s=%.2f compose_s=%.2f [scores %.2f pca %.2f kmeans %.2f novelty "
           "%.2f picks %.2f] paths_s=%.2f total_s=%.2f cpu_s=%.2f peak_rss_mb=%ld\n",
           n, ordo_loop_pool_model(p), t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, b->seconds[0],
           b->seconds[1], b->seconds[2], b->seconds[3], b->seconds[4], t6 - t5, t6 - t0,
           bench_cpu_s(), bench_peak_rss_kb() / 1024);
    ordo_rank_batch_free(b);
    ordo_loop_pool_free(p);
    ordo_wn_free(wn);
    ordo_store_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "time")) return time_next(argv[2]);
    if (argc < 3) {
        fprintf(stderr, "usage: bench_next DIR N [LABELS]\n");
        return 2;
    }
    size_t n = strtoull(argv[2], NULL, 10), nlab = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    char dir[PATH_MAX];
    mkdir(argv[1], 0755);
    if (!realpath(argv[1], dir)) { perror(argv[1]); return 1; }
    ordo_err err = {{0}};
    ordo_wn *wn = ordo_wn_open(NULL, &err);
    ordo_sports *sp = wn ? ordo_sports_new(wn, NULL, &err) : NULL;
    if (!sp) { fprintf(stderr, "bench_next: sports prior: %s\n", err.msg); return 1; }
    if (ordo_store_init(dir, "lite0", &err)) { fprintf(stderr, "bench_next: %s\n", err.msg); return 1; }
    ordo_store *s = ordo_store_open(dir, ORDO_STORE_FAST, &err);
    if (!s) { fprintf(stderr, "bench_next: %s\n", err.msg); return 1; }

    float *mu = malloc(DIM * sizeof *mu), *cent = malloc((size_t)CLUSTERS * DIM * sizeof *cent);
    float *emb = malloc(DIM * sizeof *emb), *logits = malloc(CLASSES * sizeof *logits);
    float *probs = malloc(CLASSES * sizeof *probs);
    if (!mu || !cent || !emb || !logits || !probs) { fprintf(stderr, "out of memory\n"); return 1; }
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 2024);
    for (int j = 0; j < DIM; j++) mu[j] = (float)sqrt(0.6) * (j % 2 ? 1.0f : -1.0f);
    for (size_t j = 0; j < (size_t)CLUSTERS * DIM; j++) cent[j] = 0.5f * bench_fastn(&r);

    FILE *csv = NULL;
    char p[PATH_MAX + 64];
    if (nlab) {
        snprintf(p, sizeof p, "%s/labels.csv", dir);
        if (!(csv = fopen(p, "w"))) { perror(p); return 1; }
        fprintf(csv, "path,label\n");
    }
    char root[PATH_MAX + 16];
    snprintf(root, sizeof root, "%s/synthetic", dir);
    int64_t scan = ordo_store_scan_begin(s, root, "lite0", &err);
    if (scan < 0) { fprintf(stderr, "bench_next: %s\n", err.msg); return 1; }
    double t0 = bench_now_s();
    size_t labeled = 0;
    for (size_t i = 0; i < n;) {
        if (ordo_store_begin(s, &err)) { fprintf(stderr, "bench_next: %s\n", err.msg); return 1; }
        for (int g = 0; g < GROUP && i < n; g++, i++) {
            size_t c = bench_cluster_of(i, CLUSTERS);
            image(i, mu, cent, emb, logits);
            ordo_store_scores sc;
            ordo_store_summarize(logits, CLASSES, &sc, probs);
            snprintf(p, sizeof p, "%s/c%04zu/%07zu.jpg", root, c, i);
            ordo_store_image_in in = {.path = p, .size = 50000 + (int64_t)(i % 100000),
                                      .mtime_ns = (int64_t)i, .width = 640, .height = 480,
                                      .format = "jpeg", .logits = logits, .embed = emb,
                                      .sports = ordo_sports_score(sp, probs), .scan_id = scan};
            uint64_t h1 = ordo_hash_mix64(i * 2 + 1), h2 = ordo_hash_mix64(i * 2 + 2);
            memcpy(in.hash, &h1, 8);
            memcpy(in.hash + 8, &h2, 8);
            if (ordo_store_put_image(s, &in, NULL, &err)) {
                fprintf(stderr, "bench_next: %s\n", err.msg);
                return 1;
            }
            if (is_labeled(i, n, nlab)) {
                FILE *f;
                if (mkdirs(p) || !(f = fopen(p, "w"))) { perror(p); return 1; }
                fclose(f);
                fprintf(csv, "%s,class%02zu\n", p, c % LABEL_CLASSES);
                labeled++;
            }
        }
        if (ordo_store_commit(s, &err)) { fprintf(stderr, "bench_next: %s\n", err.msg); return 1; }
        if (i % (GROUP * 50) == 0 || i == n)
            fprintf(stderr, "\r  %zu / %zu images (%.0f s)", i, n, bench_now_s() - t0);
    }
    fprintf(stderr, "\n");
    ordo_store_scan_counts cnt = {(int64_t)n, (int64_t)n, 0, 0};
    if (ordo_store_scan_end(s, scan, &cnt, &err)) { fprintf(stderr, "bench_next: %s\n", err.msg); return 1; }
    ordo_store_close(s);
    if (csv && fclose(csv)) { perror("labels.csv"); return 1; }
    printf("project=%s n=%zu labels_csv=%zu gen_s=%.1f peak_rss_mb=%ld\n", dir, n, labeled,
           bench_now_s() - t0, bench_peak_rss_kb() / 1024);
    free(mu); free(cent); free(emb); free(logits); free(probs);
    ordo_sports_free(sp);
    ordo_wn_free(wn);
    return 0;
}
