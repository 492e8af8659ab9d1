/* bench_rank.c - time and peak memory of composing a batch.
 *
 *   bench_rank gen FILE N            write N synthetic 1280-d float16 embeddings
 *   bench_rank run FILE N [BATCH [LABELED]]   compose BATCH (1000) from the first
 *                                    N rows with the default mix; LABELED
 *                                    (0) random rows count as labeled
 *
 * Embeddings: a mixture of 2000 clusters of power-law sizes, x = mu + a_j + e
 * with per-dimension variances chosen so that cosines are ~0.85 within a
 * cluster and ~0.6 between clusters (like pooled CNN features), plus 0.1 %
 * outliers. Probabilities: per image a Dirichlet over its cluster's 8
 * classes (70 % confident, 30 % spread) with 5 % tail mass over the other
 * 992 of 1000 classes, summarised as the store does (top-5, entropy, max
 * logit). The embeddings are read from FILE through a read-only map whose
 * pages are released as the projection streams through them, as a store
 * map would be. Prints one line of key=value results. */
#include "rank/rank.h"
#include "base/f16.h"
#include "base/hash.h"
#include "bench_util.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIM 1280
#define CLUSTERS 2000
#define CLASSES 1000
#define PER 8

static size_t cluster_of(uint64_t seed, size_t i)
{
    /* power-law sizes: cluster = floor(C * u^2) (denser at low ids) */
    double u = (double)(ordo_hash_mix64(seed ^ (i * 0x9e37ULL)) >> 11) * 0x1.0p-53;
    size_t c = (size_t)(CLUSTERS * u * u);
    return c >= CLUSTERS ? CLUSTERS - 1 : c;
}

static int gen(const char *path, size_t n)
{
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 2024);
    float *mu = malloc(DIM * sizeof *mu), *cent = malloc((size_t)CLUSTERS * DIM * sizeof *cent);
    float *row = malloc(DIM * sizeof *row);
    uint16_t *h = malloc((size_t)4096 * DIM * sizeof *h);
    if (!mu || !cent || !row || !h) return 1;
    /* per-dim variances: mean 0.6, cluster 0.25, noise 0.15 (see header) */
    for (int j = 0; j < DIM; j++) mu[j] = (float)sqrt(0.6) * (j % 2 ? 1.0f : -1.0f);
    for (size_t j = 0; j < (size_t)CLUSTERS * DIM; j++) cent[j] = 0.5f * bench_fastn(&r);
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); return 1; }
    for (size_t b0 = 0; b0 < n; b0 += 4096) {
        size_t nb = n - b0 < 4096 ? n - b0 : 4096;
        for (size_t i = 0; i < nb; i++) {
            size_t gi = b0 + i, c = cluster_of(7, gi);
            int outlier = ordo_hash_mix64(gi ^ 0x7ULL) % 1000 == 0;
            for (int j = 0; j < DIM; j++)
                row[j] = outlier ? 3.0f * bench_fastn(&r) : mu[j] + cent[c * DIM + j] + 0.387f * bench_fastn(&r);
            ordo_f16_from_f32(row, h + i * DIM, DIM);
        }
        if (fwrite(h, sizeof *h * DIM, nb, f) != nb) { perror("write"); fclose(f); return 1; }
    }
    if (fclose(f)) { perror("close"); return 1; }
    free(mu); free(cent); free(row); free(h);
    return 0;
}

static int run(const char *path, size_t n, size_t batch, size_t nlab)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) { perror(path); return 1; }
    struct stat st;
    fstat(fd, &st);
    size_t rows = (size_t)st.st_size / (DIM * 2);
    if (rows < n) { fprintf(stderr, "%s holds %zu rows < %zu\n", path, rows, n); return 1; }
    const uint16_t *emb = mmap(NULL, n * DIM * 2, PROT_READ, MAP_SHARED, fd, 0);
    if (emb == MAP_FAILED) { perror("mmap"); return 1; }

    double t0 = bench_now_s();
    float *top_prob = malloc(n * 5 * sizeof *top_prob), *ent = malloc(n * sizeof *ent);
    float *ml = malloc(n * sizeof *ml), *prior = malloc(n * sizeof *prior);
    int32_t *top_cls = malloc(n * 5 * sizeof *top_cls);
    uint8_t *lab = nlab ? calloc(n, 1) : NULL;
    int *coarse = malloc(CLASSES * sizeof *coarse);
    if (!top_prob || !ent || !ml || !prior || !top_cls || (nlab && !lab) || !coarse) return 1;
    for (int c = 0; c < CLASSES; c++) coarse[c] = c % 20;
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 99);
    for (size_t i = 0; i < n; i++) {
        size_t c = cluster_of(7, i);
        int confident = ordo_rank_rng_uniform(&r) < 0.7;
        double g[PER], s = 0;
        for (int j = 0; j < PER; j++) {
            double a = confident ? (j == 0 ? 5.0 : 0.3) : 1.0;
            g[j] = bench_gamma(&r, a);
            s += g[j];
        }
        /* class set of cluster c: 8 classes from a hash, the first its own */
        int cls[PER];
        double p[PER];
        for (int j = 0; j < PER; j++) {
            cls[j] = (int)((ordo_hash_mix64(c * 131 + (size_t)j) % CLASSES));
            p[j] = 0.95 * g[j] / s;
        }
        /* sort descending (8 items) */
        for (int a = 1; a < PER; a++)
            for (int b = a; b > 0 && p[b] > p[b - 1]; b--) {
                double tp = p[b]; p[b] = p[b - 1]; p[b - 1] = tp;
                int tc = cls[b]; cls[b] = cls[b - 1]; cls[b - 1] = tc;
            }
        double h = -0.05 * log(0.05 / (CLASSES - PER));
        for (int j = 0; j < PER; j++) if (p[j] > 0) h -= p[j] * log(p[j]);
        for (int j = 0; j < 5; j++) { top_prob[i * 5 + j] = (float)p[j]; top_cls[i * 5 + j] = cls[j]; }
        ent[i] = (float)h;
        ml[i] = (float)(8 + ordo_rank_rng_normal(&r) + 2 * log(p[0]));
        double pc = (double)(ordo_hash_mix64(c ^ 0xabcULL) >> 11) * 0x1.0p-53;
        prior[i] = (float)fmin(1, fmax(0, pc + 0.1 * ordo_rank_rng_normal(&r)));
    }
    for (size_t t = 0; t < nlab; t++) lab[ordo_rank_rng_below(&r, n)] = 1;
    double t_synth = bench_now_s() - t0;

    ordo_rank_f16_rows fr = { emb, n, DIM, NULL, 1 };
    ordo_rank_input in = { 0 };
    in.n = n;
    in.n_classes = CLASSES;
    in.k = 5;
    in.top_prob = top_prob;
    in.top_class = top_cls;
    in.entropy = ent;
    in.max_logit = ml;
    in.coarse = coarse;
    in.n_coarse = 20;
    in.prior = prior;
    in.labeled = lab;
    in.dim = DIM;
    in.read_rows = ordo_rank_f16_read;
    in.read_ctx = &fr;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = batch;
    ordo_err err;
    long rss_before = bench_peak_rss_kb();
    double t1 = bench_now_s();
    clock_t c1 = clock();
    ordo_rank_batch *b = ordo_rank_compose(&in, &o, &err);
    double t_comp = bench_now_s() - t1, cpu = (double)(clock() - c1) / CLOCKS_PER_SEC;
    if (!b) { fprintf(stderr, "compose: %s\n", err.msg); return 1; }
    size_t nlab_real = 0;
    for (size_t i = 0; lab && i < n; i++) nlab_real += lab[i];
    printf("n=%zu batch=%zu labeled=%zu compose_s=%.2f cpu_s=%.2f peak_rss_mb=%.0f rss_before_compose_mb=%.0f "
           "synth_s=%.1f got=%zu eval=%zu uncertain=%zu novel=%zu diverse=%zu dupes=%zu k=%d "
           "pca_explained=%.3f t_scores=%.2f t_pca=%.2f t_kmeans=%.2f t_novelty=%.2f t_picks=%.2f\n",
           n, batch, nlab_real, t_comp, cpu, bench_peak_rss_kb() / 1024.0, rss_before / 1024.0, t_synth, b->n,
           b->count[0], b->count[1], b->count[2], b->count[3], b->dropped_dupes, b->kmeans_k,
           b->pca_explained, b->seconds[0], b->seconds[1], b->seconds[2], b->seconds[3],
           b->seconds[4]);
    ordo_rank_batch_free(b);
    munmap((void *)emb, n * DIM * 2);
    close(fd);
    free(top_prob); free(ent); free(ml); free(prior); free(top_cls); free(lab); free(coarse);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "gen")) return gen(argv[2], strtoull(argv[3], NULL, 10));
    if (argc >= 4 && !strcmp(argv[1], "run"))
        return run(argv[2], strtoull(argv[3], NULL, 10), argc > 4 ? strtoull(argv[4], NULL, 10) : 1000,
                   argc > 5 ? strtoull(argv[5], NULL, 10) : 0);
    fprintf(stderr, "usage: bench_rank gen FILE N | run FILE N [BATCH [LABELED]]\n");
    return 2;
}
