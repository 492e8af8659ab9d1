/* bench_audit_scale.c - near-duplicate search at scale on synthetic embeddings.
 *
 *   bench_audit_scale gen FILE N      writes N x 1280 float16 rows (LE) to FILE
 *                                     and the planted pairs to FILE.planted
 *   bench_audit_scale run FILE N [COSINE]
 *                                     maps FILE read-only (pages dropped after
 *                                     the projection pass, as ordo audit's
 *                                     store reader can), runs ordo_audit_dups on
 *                                     its first N rows and prints key=value:
 *                                     seconds, CPU seconds, peak RSS, pairs,
 *                                     recall of the planted pairs among them
 *
 * Data: bench_next.c's model (3,000 power-law clusters, x = mu + a_c + e,
 * cosines ~0.85 within and ~0.6 between clusters, 0.1 % outliers), and 1 %
 * of rows planted near-duplicates: row i copies an earlier row j (a fixed
 * hash) plus noise of 0.3 per dimension (cosine ~0.96 to j), like a
 * recompressed copy. The same rows for any N (prefixes of a larger set). */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "bench_util.h"
#include "rank/rank.h"
#include "base/f16.h"

#define DIM 1280
#define CLUSTERS 3000

/* the source row of a planted duplicate, or (size_t)-1 */
static size_t planted_src(size_t i)
{
    if (i < 1000 || ordo_hash_mix64(i ^ 0xd0b1eULL) % 100 != 0) return (size_t)-1;
    size_t j = ordo_hash_mix64(i ^ 0x5a1eULL) % i;
    return planted_src(j) == (size_t)-1 ? j : (size_t)-1;   /* copies of originals only */
}

static void base_row(size_t i, const float *mu, const float *cent, float *emb)
{
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, ordo_hash_mix64(i + 0x5eed));
    size_t c = bench_cluster_of(i, CLUSTERS);
    int outlier = ordo_hash_mix64(i ^ 0x7ULL) % 1000 == 0;
    for (int j = 0; j < DIM; j++)
        emb[j] = outlier ? 3.0f * bench_fastn(&r) : mu[j] + cent[c * DIM + j] + 0.387f * bench_fastn(&r);
}

static void row(size_t i, const float *mu, const float *cent, float *emb)
{
    size_t j = planted_src(i);
    if (j == (size_t)-1) { base_row(i, mu, cent, emb); return; }
    base_row(j, mu, cent, emb);
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, ordo_hash_mix64(i + 0xc0b1));
    for (int k = 0; k < DIM; k++) emb[k] += 0.3f * bench_fastn(&r);
}

static int gen(const char *file, size_t n)
{
    float *mu = malloc(DIM * sizeof *mu), *cent = malloc((size_t)CLUSTERS * DIM * sizeof *cent);
    float *emb = malloc(DIM * sizeof *emb);
    uint16_t *h = malloc(DIM * sizeof *h);
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 2024);
    for (int j = 0; j < DIM; j++) mu[j] = (float)sqrt(0.6) * (j % 2 ? 1.0f : -1.0f);
    for (size_t j = 0; j < (size_t)CLUSTERS * DIM; j++) cent[j] = 0.5f * bench_fastn(&r);
    FILE *f = fopen(file, "wb");
    char p[4200];
    snprintf(p, sizeof p, "%s.planted", file);
    FILE *g = fopen(p, "w");
    if (!f || !g) { perror(file); return 1; }
    for (size_t i = 0; i < n; i++) {
        row(i, mu, cent, emb);
        ordo_f16_from_f32(emb, h, DIM);
        if (fwrite(h, sizeof *h, DIM, f) != DIM) { perror(file); return 1; }
        size_t j = planted_src(i);
        if (j != (size_t)-1) fprintf(g, "%zu %zu\n", j, i);
    }
    if (fclose(f) || fclose(g)) { perror(file); return 1; }
    free(mu); free(cent); free(emb); free(h);
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    const ordo_audit_pair *x = a, *y = b;
    if (x->a != y->a) return x->a < y->a ? -1 : 1;
    return x->b < y->b ? -1 : x->b > y->b;
}

static int run(const char *file, size_t n, double cosine)
{
    int fd = open(file, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) { perror(file); return 1; }
    size_t rows = (size_t)sb.st_size / (DIM * 2);
    if (n > rows) { fprintf(stderr, "%s holds %zu rows\n", file, rows); return 1; }
    const uint16_t *data = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) { perror("mmap"); return 1; }
    ordo_rank_f16_rows fr = {.data = data, .rows = rows, .dim = DIM, .slot = NULL,
                             .release = 1};
    ordo_audit_dup_opts o;
    ordo_audit_dup_opts_default(&o);
    o.cosine = cosine;
    if (getenv("CELLS")) o.cells = atoi(getenv("CELLS"));
    if (getenv("MAXPROBE")) o.max_probe = atoi(getenv("MAXPROBE"));
    ordo_audit_pair *pp = NULL;
    size_t np = 0;
    ordo_audit_dup_stats st;
    ordo_err err = {{0}};
    double t0 = bench_now_s(), c0 = bench_cpu_s();
    if (ordo_audit_dups(n, DIM, ordo_rank_f16_read, &fr, &o, &pp, &np, &st, &err)) {
        fprintf(stderr, "bench_audit_scale: %s\n", err.msg);
        return 1;
    }
    double secs = bench_now_s() - t0, cpu = bench_cpu_s() - c0;
    /* recall of the planted pairs among rows < n */
    char p[4200];
    snprintf(p, sizeof p, "%s.planted", file);
    FILE *g = fopen(p, "r");
    size_t planted = 0, found = 0, a, b;
    while (g && fscanf(g, "%zu %zu", &a, &b) == 2) {
        if (b >= n) continue;
        planted++;
        ordo_audit_pair key = {a, b, 0};
        found += bsearch(&key, pp, np, sizeof *pp, cmp_pair) != NULL;
    }
    if (g) fclose(g);
    printf("max_probe=%d ", o.max_probe);
    printf("n=%zu cosine=%.3f seconds=%.2f cpu_seconds=%.2f peak_rss_mb=%.0f pairs=%zu "
           "planted=%zu planted_found=%zu recall=%.4f cells=%d mean_probe=%.2f candidates=%zu "
           "verified=%zu t_quantise=%.2f t_cells=%.2f t_join=%.2f t_verify=%.2f\n",
           n, cosine, secs, cpu, bench_peak_rss_kb() / 1024.0, np, planted, found,
           planted ? (double)found / planted : NAN, st.cells, st.mean_probe, st.candidates,
           st.verified, st.seconds[0], st.seconds[1], st.seconds[2], st.seconds[3]);
    free(pp);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "gen")) return gen(argv[2], strtoull(argv[3], NULL, 10));
    if (argc >= 4 && !strcmp(argv[1], "run"))
        return run(argv[2], strtoull(argv[3], NULL, 10), argc > 4 ? atof(argv[4]) : 0.90);
    fprintf(stderr, "usage: bench_audit_scale gen FILE N | run FILE N [COSINE]\n");
    return 2;
}
