/* bench_mpi_rank.c - ordo_rank_compose split over MPI ranks (src/dist's
 * executor) on synthetic embeddings.
 *
 *   bench_mpi_rank gen FILE N                    N synthetic 1280-d float16 rows
 *   mpirun -n P bench_mpi_rank run FILE N [BATCH [LABELED]]
 *
 * Embeddings: a mixture of 2000 clusters (power-law sizes) around a common
 * mean, plus 0.1 % outliers; per-image probabilities: a cluster's classes
 * with a confident or spread top-5 (enough for the uncertainty and outlier
 * scores; the heavy steps only see the embeddings). LABELED random rows
 * count as labeled, so k-center greedy runs once they cover the clusters.
 * Every rank maps FILE read-only (the page cache is shared on one machine).
 * Rank 0 prints one line: ranks, compose seconds (rank 0), seconds in MPI
 * collectives, their share, the step times, and a checksum of the batch
 * (rows, reasons, score bits) that must be the same for any P. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/f16.h"
#include "base/hash.h"
#include "dist/dist.h"
#include "rank/rank.h"
#include "bench_util.h"

#define DIM 1280
#define CLUSTERS 2000
#define CLASSES 1000

static size_t cluster_of(size_t i)
{
    double u = (double)(ordo_hash_mix64(i * 0x9e37ULL + 7) >> 11) * 0x1.0p-53;
    size_t c = (size_t)(CLUSTERS * u * u);
    return c >= CLUSTERS ? CLUSTERS - 1 : c;
}

static int gen(const char *path, size_t n)
{
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 2024);
    float *cent = malloc((size_t)CLUSTERS * DIM * sizeof *cent), *row = malloc(DIM * sizeof *row);
    uint16_t *h = malloc((size_t)4096 * DIM * sizeof *h);
    FILE *f = fopen(path, "wb");
    if (!cent || !row || !h || !f) {
        perror(path);
        return 1;
    }
    for (size_t j = 0; j < (size_t)CLUSTERS * DIM; j++)
        cent[j] = 0.5f * bench_fastn(&r);
    for (size_t b0 = 0; b0 < n; b0 += 4096) {
        size_t nb = n - b0 < 4096 ? n - b0 : 4096;
        for (size_t i = 0; i < nb; i++) {
            size_t gi = b0 + i, c = cluster_of(gi);
            int outlier = ordo_hash_mix64(gi ^ 0x7ULL) % 1000 == 0;
            for (int j = 0; j < DIM; j++)
                row[j] = outlier ? 3.0f * bench_fastn(&r)
                                 : (j % 2 ? 0.77f : -0.77f) + cent[c * DIM + j] + 0.39f * bench_fastn(&r);
            ordo_f16_from_f32(row, h + i * DIM, DIM);
        }
        if (fwrite(h, sizeof *h * DIM, nb, f) != nb) {
            perror("write");
            fclose(f);
            return 1;
        }
    }
    free(cent);
    free(row);
    free(h);
    return fclose(f) ? 1 : 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static int run(ordo_dist_mpi *m, const char *path, size_t n, size_t batch, size_t nlab)
{
    int rank = ordo_dist_mpi_rank(m);
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        return 1;
    }
    if ((size_t)st.st_size / (DIM * 2) < n) {
        fprintf(stderr, "%s holds fewer than %zu rows\n", path, n);
        return 1;
    }
    const uint16_t *emb = mmap(NULL, n * DIM * 2, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (emb == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    float *top_prob = malloc(n * 5 * sizeof *top_prob), *ml = malloc(n * sizeof *ml);
    int32_t *top_cls = malloc(n * 5 * sizeof *top_cls);
    uint8_t *lab = calloc(n, 1);
    if (!top_prob || !ml || !top_cls || !lab)
        return 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t hsh = ordo_hash_mix64(i ^ 0x5eedULL);
        size_t c = cluster_of(i);
        int confident = hsh % 10 < 7;
        double p1 = confident ? 0.6 + 0.35 * (double)((hsh >> 8) & 0xffff) / 65536.0
                              : 0.2 + 0.2 * (double)((hsh >> 8) & 0xffff) / 65536.0;
        double rest = 1 - p1;
        for (int j = 0; j < 5; j++) {
            top_prob[i * 5 + j] = (float)(j == 0 ? p1 : rest * 0.5 / (1 << (j - 1)));
            top_cls[i * 5 + j] = (int32_t)(ordo_hash_mix64(c * 131 + (size_t)j) % CLASSES);
        }
        ml[i] = (float)(8 + 2 * log(p1) + (double)((hsh >> 24) & 0xff) / 128.0);
    }
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 99);
    for (size_t t = 0; t < nlab; t++)
        lab[ordo_rank_rng_below(&r, n)] = 1;

    ordo_rank_f16_rows fr = {0};
    fr.data = emb;
    fr.rows = n;
    fr.dim = DIM;
    fr.release = 1;
    ordo_rank_input in = {0};
    in.n = n;
    in.n_classes = CLASSES;
    in.k = 5;
    in.top_prob = top_prob;
    in.top_class = top_cls;
    in.max_logit = ml;
    in.labeled = lab;
    in.dim = DIM;
    in.read_rows = ordo_rank_f16_read;
    in.read_ctx = &fr;
    in.exec = ordo_dist_mpi_size(m) > 1 ? ordo_dist_mpi_rank_exec(m) : NULL;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = batch;
    ordo_err err = {{0}};
    double c0 = ordo_dist_mpi_comm_seconds(m), t0 = bench_now_s();
    ordo_rank_batch *b = ordo_rank_compose(&in, &o, &err);
    double t = bench_now_s() - t0, comm = ordo_dist_mpi_comm_seconds(m) - c0;
    if (!b) {
        fprintf(stderr, "rank %d: compose: %s\n", rank, err.msg);
        ordo_dist_mpi_abort(m, 1);
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t row = b->items[i].row;
        int reason = b->items[i].reason;
        h = fnv(h, &row, sizeof row);
        h = fnv(h, &reason, sizeof reason);
        h = fnv(h, &b->items[i].score, sizeof b->items[i].score);
    }
    if (rank == 0)
        printf("ranks=%d n=%zu batch=%zu labeled=%zu compose_s=%.2f mpi_s=%.3f mpi_share=%.1f%% "
               "t_scores=%.2f t_pca=%.2f t_kmeans=%.2f t_novelty=%.2f t_picks=%.2f "
               "got=%zu k=%d checksum=%016llx\n",
               ordo_dist_mpi_size(m), n, batch, nlab, t, comm, t > 0 ? 100 * comm / t : 0.0,
               b->seconds[0], b->seconds[1], b->seconds[2], b->seconds[3], b->seconds[4], b->n,
               b->kmeans_k, (unsigned long long)h);
    ordo_rank_batch_free(b);
    munmap((void *)emb, n * DIM * 2);
    free(top_prob);
    free(ml);
    free(top_cls);
    free(lab);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "gen"))
        return gen(argv[2], strtoull(argv[3], NULL, 10));
    if (argc >= 4 && !strcmp(argv[1], "run")) {
        ordo_err err;
        ordo_dist_mpi *m = ordo_dist_mpi_init(&argc, &argv, &err);
        if (!m) {
            fprintf(stderr, "bench_mpi_rank: %s\n", err.msg);
            return 1;
        }
        int rc = run(m, argv[2], strtoull(argv[3], NULL, 10),
                     argc > 4 ? strtoull(argv[4], NULL, 10) : 1000,
                     argc > 5 ? strtoull(argv[5], NULL, 10) : 0);
        if (rc)
            ordo_dist_mpi_abort(m, rc);
        ordo_dist_mpi_finalize(m);
        return 0;
    }
    fprintf(stderr, "usage: bench_mpi_rank gen FILE N | mpirun -n P bench_mpi_rank run FILE N "
                    "[BATCH [LABELED]]\n");
    return 2;
}
