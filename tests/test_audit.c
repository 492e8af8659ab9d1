/* test_audit.c - label errors, near-duplicate search, groups, cross pairs. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "dist/dist.h"
#include "rank/rank.h"
#include "test.h"

/* Three classes; rows 0..29 labeled by their true class except rows 3 and
 * 17, whose probabilities say another class: they must be flagged and rank
 * first, each suggesting the class the probabilities favour. */
static void t_label_issues(void)
{
    enum { N = 30, K = 3 };
    float p[N * K];
    int y[N];
    for (int i = 0; i < N; i++) {
        int c = i % K;
        y[i] = c;
        for (int j = 0; j < K; j++) p[i * K + j] = j == c ? 0.8f - 0.01f * (i % 5) : 0;
        float rest = 1 - p[i * K + c];
        for (int j = 0; j < K; j++) if (j != c) p[i * K + j] = rest / 2;
    }
    /* row 3 (class 0) looks like class 2; row 17 (class 2) like class 1 */
    p[3 * K + 0] = 0.05f; p[3 * K + 1] = 0.05f; p[3 * K + 2] = 0.90f;
    p[17 * K + 2] = 0.10f; p[17 * K + 1] = 0.85f; p[17 * K + 0] = 0.05f;
    y[29] = -1;   /* unlabeled rows are left out */
    ordo_audit_issue *is = NULL;
    size_t m = 0;
    ordo_audit_label_stats st;
    ordo_err err = {{0}};
    CHECK_MSG(ordo_audit_label_issues(p, N, K, y, &is, &m, &st, &err) == 0, "%s", err.msg);
    CHECK(m == N - 1 && st.n == N - 1);
    CHECK(is && is[0].row == 3 && is[1].row == 17);
    CHECK(is && is[0].suggested == 2 && is[1].suggested == 1);
    CHECK(is && is[0].flagged && is[1].flagged);
    CHECK_MSG(st.flagged == 2, "flagged %zu", st.flagged);
    for (size_t t = 1; is && t < m; t++) CHECK(is[t - 1].score >= is[t].score);
    for (size_t t = 0; is && t < m; t++) CHECK(is[t].row != 29);
    free(is);

    /* bad input */
    y[0] = 7;
    CHECK(ordo_audit_label_issues(p, N, K, y, &is, &m, NULL, &err) == -1 && strstr(err.msg, "label 7"));
    for (int i = 0; i < N; i++) y[i] = -1;
    CHECK(ordo_audit_label_issues(p, N, K, y, &is, &m, NULL, &err) == -1 && strstr(err.msg, "no labeled"));
    CHECK(ordo_audit_label_issues(p, N, 1, y, &is, &m, NULL, &err) == -1);
}

/* kNN probabilities: two tight clusters; a row labeled against its cluster
 * gets most mass on its cluster's label, and never votes for itself. */
static void t_knn(void)
{
    enum { N = 20, D = 4 };
    float x[N * D];
    int y[N];
    for (int i = 0; i < N; i++) {
        int c = i < 10;
        for (int j = 0; j < D; j++) x[i * D + j] = (j == c ? 1.0f : 0.0f) + 0.01f * (float)((i * 7 + j) % 5);
        y[i] = c;
    }
    y[4] = 0;   /* row 4 sits in cluster 1 but is labeled 0 */
    float p[N * 2];
    ordo_err err = {{0}};
    CHECK_MSG(ordo_audit_knn_probs(x, N, D, y, 2, 5, p, &err) == 0, "%s", err.msg);
    CHECK_MSG(p[4 * 2 + 1] > 0.8f, "p %f", p[4 * 2 + 1]);
    CHECK(p[12 * 2 + 0] > 0.8f);
    for (int i = 0; i < N; i++) CHECK(fabsf(p[i * 2] + p[i * 2 + 1] - 1) < 1e-5f);
    CHECK(ordo_audit_knn_probs(x, N, D, y, 2, 0, p, &err) == -1);
}

/* The duplicate search against brute force on random data with planted
 * copies, in a few configurations; exact settings must match exactly. */
typedef struct { const float *x; int d; } mat;

static int read_mat(void *ctx, size_t row0, size_t nrows, float *out, ordo_err *err)
{
    (void)err;
    const mat *m = ctx;
    memcpy(out, m->x + row0 * (size_t)m->d, nrows * (size_t)m->d * sizeof *out);
    return 0;
}

static double cosine(const float *a, const float *b, int d)
{
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < d; j++) { ab += (double)a[j] * b[j]; aa += (double)a[j] * a[j]; bb += (double)b[j] * b[j]; }
    return ab / sqrt(aa * bb);
}

static void t_dups_exact(void)
{
    enum { N = 3000, D = 48 };
    float *x = malloc((size_t)N * D * sizeof *x);
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 5);
    /* 30 clusters, and every 10th row a noisy copy of an earlier row */
    float cent[30 * D];
    for (int i = 0; i < 30 * D; i++) cent[i] = (float)ordo_rank_rng_normal(&r);
    for (int i = 0; i < N; i++) {
        if (i % 10 == 9) {
            int src = (int)ordo_rank_rng_below(&r, (uint64_t)i);
            for (int j = 0; j < D; j++) x[i * D + j] = 1.3f * x[src * D + j] + 0.08f * (float)ordo_rank_rng_normal(&r);
        } else {
            int c = (int)ordo_rank_rng_below(&r, 30);
            for (int j = 0; j < D; j++) x[i * D + j] = cent[c * D + j] + 0.6f * (float)ordo_rank_rng_normal(&r);
        }
    }
    double th = 0.95;
    size_t truth = 0;
    for (int a = 0; a < N; a++)
        for (int b = a + 1; b < N; b++) truth += cosine(x + a * D, x + b * D, D) >= th;
    mat m = {x, D};
    int cells[] = {1, 7, 60};
    for (int t = 0; t < 3; t++) {
        ordo_audit_dup_opts o;
        ordo_audit_dup_opts_default(&o);
        o.cosine = th;
        o.cells = cells[t];
        o.sample = 1000;
        o.max_probe = 0;   /* exact */
        ordo_audit_pair *pp = NULL;
        size_t np = 0;
        ordo_audit_dup_stats st;
        ordo_err err = {{0}};
        CHECK_MSG(ordo_audit_dups(N, D, read_mat, &m, &o, &pp, &np, &st, &err) == 0, "%s", err.msg);
        CHECK_MSG(np == truth, "config %d: %zu pairs, brute force %zu", t, np, truth);
        for (size_t k = 0; k < np; k++) {
            CHECK(pp[k].a < pp[k].b);
            CHECK(fabs(pp[k].cosine - cosine(x + pp[k].a * D, x + pp[k].b * D, D)) < 1e-4);
            CHECK(pp[k].cosine >= th);
            if (k) CHECK(pp[k - 1].a < pp[k].a || (pp[k - 1].a == pp[k].a && pp[k - 1].b < pp[k].b));
        }
        free(pp);
    }
    CHECK(truth >= 250);   /* the planted copies are there */
    free(x);
}

/* Synthetic embeddings like bench/bench_audit_scale.c, at test size: 400
 * clusters of unequal size whose noise is spread over every axis (so a
 * projection keeps little of a difference), and every 50th row a noisy
 * copy of an earlier original (cosine ~0.96 to it). */
enum { SN = 12000, SD = 256 };

static float *synthetic(size_t *planted_a, size_t *planted_b, size_t *nplanted)
{
    float *x = malloc((size_t)SN * SD * sizeof *x), *cent = malloc(400 * SD * sizeof *cent);
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, 77);
    for (int i = 0; i < 400 * SD; i++) cent[i] = 0.5f * (float)ordo_rank_rng_normal(&r);
    *nplanted = 0;
    for (size_t i = 0; i < SN; i++) {
        float *e = x + i * SD;
        if (i >= 100 && i % 50 == 0) {
            size_t src = (size_t)ordo_rank_rng_below(&r, i);
            if (src % 50 == 0) src++;   /* copies of originals only */
            for (int j = 0; j < SD; j++) e[j] = x[src * SD + j] + 0.3f * (float)ordo_rank_rng_normal(&r);
            planted_a[*nplanted] = src;
            planted_b[(*nplanted)++] = i;
            continue;
        }
        double u = ordo_rank_rng_uniform(&r);
        int c = (int)(400 * u * u);
        for (int j = 0; j < SD; j++)
            e[j] = (j % 2 ? 0.77f : -0.77f) + cent[c * SD + j] + 0.387f * (float)ordo_rank_rng_normal(&r);
    }
    free(cent);
    return x;
}

static int has_pair(const ordo_audit_pair *pp, size_t np, size_t a, size_t b)
{
    size_t lo = 0, hi = np;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (pp[m].a < a || (pp[m].a == a && pp[m].b < b)) lo = m + 1; else hi = m;
    }
    return lo < np && pp[lo].a == a && pp[lo].b == b;
}

/* The default (approximate) search finds the planted copies: recall of the
 * planted pairs >= 0.95, every reported pair right, and a cosine-0.5
 * request (far below the copies) still checks every pair on the full rows. */
static void t_dups_recall(void)
{
    size_t pa[SN / 50], pb[SN / 50], npl;
    float *x = synthetic(pa, pb, &npl);
    mat m = {x, SD};
    ordo_audit_dup_opts o;
    ordo_audit_dup_opts_default(&o);
    o.cosine = 0.9;
    o.exact_rows = 0;   /* the approximate search, at test size */
    ordo_audit_pair *pp = NULL;
    size_t np = 0, found = 0;
    ordo_audit_dup_stats st;
    ordo_err err = {{0}};
    CHECK_MSG(ordo_audit_dups(SN, SD, read_mat, &m, &o, &pp, &np, &st, &err) == 0, "%s", err.msg);
    for (size_t k = 0; k < npl; k++) found += has_pair(pp, np, pa[k], pb[k]);
    CHECK_MSG(found >= 0.95 * (double)npl, "recall %zu / %zu", found, npl);
    CHECK(npl >= 200);
    for (size_t k = 0; k < np; k++) {
        CHECK(pp[k].cosine >= 0.9f);
        CHECK(fabs(pp[k].cosine - cosine(x + pp[k].a * SD, x + pp[k].b * SD, SD)) < 1e-4);
    }
    /* the join computed far fewer cosines than all pairs */
    CHECK_MSG(st.candidates < (size_t)SN * SN / 8, "%zu", st.candidates);
    free(pp);
    /* bad options */
    o.max_probe = -1;
    CHECK(ordo_audit_dups(SN, SD, read_mat, &m, &o, &pp, &np, &st, &err) == -1);
    o.max_probe = 2;
    o.cosine = 1.5;
    CHECK(ordo_audit_dups(SN, SD, read_mat, &m, &o, &pp, &np, &st, &err) == -1);
    o.cosine = 0.9;
    CHECK(ordo_audit_dups(SN, 0, read_mat, &m, &o, &pp, &np, &st, &err) == -1);
    free(x);
}

/* Two "processes" as threads behind an executor like src/dist's MPI one
 * (part by ordo_dist_part, all-gather, concatenation): each must get
 * exactly the one-process pairs. */
typedef struct {
    pthread_barrier_t bar;
    void *rows[2];            /* each process's gather buffer */
    const void *piece[2];
    size_t bytes[2];
} fake_world;

typedef struct {
    fake_world *w;
    int rank;
    ordo_rank_exec ex;
    const mat *m;
    double cosine;
    ordo_audit_pair *pp;
    size_t np;
    int rc;
} fake_proc;

static void fk_part(void *ctx, size_t n, size_t align, size_t *lo, size_t *hi)
{
    fake_proc *p = ctx;
    ordo_dist_part(n, 2, p->rank, align, lo, hi);
}

static int fk_gather(void *ctx, void *rows, size_t n, size_t row_bytes, size_t align,
                     ordo_err *err)
{
    (void)err;
    fake_proc *p = ctx;
    p->w->rows[p->rank] = rows;
    pthread_barrier_wait(&p->w->bar);
    size_t lo, hi;
    int o = 1 - p->rank;
    ordo_dist_part(n, 2, o, align, &lo, &hi);
    memcpy((char *)rows + lo * row_bytes, (char *)p->w->rows[o] + lo * row_bytes,
           (hi - lo) * row_bytes);
    pthread_barrier_wait(&p->w->bar);
    return 0;
}

static int fk_best(void *ctx, int *found, float *value, size_t *row, float *aux, ordo_err *err)
{
    (void)ctx; (void)found; (void)value; (void)row; (void)aux;
    return ordo_err_set(err, "not used by the duplicate search");
}

static int fk_concat(void *ctx, const void *mine, size_t bytes, void **out, size_t *out_bytes,
                     ordo_err *err)
{
    fake_proc *p = ctx;
    p->w->piece[p->rank] = mine;
    p->w->bytes[p->rank] = bytes;
    pthread_barrier_wait(&p->w->bar);
    size_t tot = p->w->bytes[0] + p->w->bytes[1];
    char *b = malloc(tot ? tot : 1);
    if (b) {
        if (p->w->bytes[0]) memcpy(b, p->w->piece[0], p->w->bytes[0]);
        if (p->w->bytes[1]) memcpy(b + p->w->bytes[0], p->w->piece[1], p->w->bytes[1]);
    }
    pthread_barrier_wait(&p->w->bar);
    if (!b) return ordo_err_set(err, "out of memory");
    *out = b;
    *out_bytes = tot;
    return 0;
}

static void *fk_run(void *arg)
{
    fake_proc *p = arg;
    ordo_audit_dup_opts o;
    ordo_audit_dup_opts_default(&o);
    o.cosine = p->cosine;
    o.exact_rows = 0;
    o.exec = &p->ex;
    ordo_err err = {{0}};
    p->rc = ordo_audit_dups(SN, SD, read_mat, (void *)p->m, &o, &p->pp, &p->np, NULL, &err);
    return NULL;
}

static void t_dups_split(void)
{
    size_t pa[SN / 50], pb[SN / 50], npl;
    float *x = synthetic(pa, pb, &npl);
    mat m = {x, SD};
    ordo_audit_dup_opts o;
    ordo_audit_dup_opts_default(&o);
    o.cosine = 0.88;
    o.exact_rows = 0;
    ordo_audit_pair *one = NULL;
    size_t n1 = 0;
    ordo_err err = {{0}};
    CHECK_MSG(ordo_audit_dups(SN, SD, read_mat, &m, &o, &one, &n1, NULL, &err) == 0, "%s", err.msg);
    fake_world w;
    pthread_barrier_init(&w.bar, NULL, 2);
    fake_proc pr[2];
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        pr[r] = (fake_proc){&w, r, {fk_part, fk_gather, fk_best, NULL, fk_concat}, &m, 0.88,
                            NULL, 0, -1};
        pr[r].ex.ctx = &pr[r];
    }
    for (int r = 0; r < 2; r++) pthread_create(&th[r], NULL, fk_run, &pr[r]);
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < 2; r++) {
        CHECK(pr[r].rc == 0);
        CHECK_MSG(pr[r].np == n1, "process %d: %zu pairs, one process %zu", r, pr[r].np, n1);
        for (size_t k = 0; k < n1 && k < pr[r].np; k++)
            CHECK(pr[r].pp[k].a == one[k].a && pr[r].pp[k].b == one[k].b &&
                  pr[r].pp[k].cosine == one[k].cosine);
        free(pr[r].pp);
    }
    CHECK(n1 >= npl * 9 / 10);
    /* an executor without concat is refused */
    ordo_rank_exec bad = {fk_part, fk_gather, fk_best, &pr[0], NULL};
    o.exec = &bad;
    ordo_audit_pair *pp = NULL;
    size_t np;
    CHECK(ordo_audit_dups(SN, SD, read_mat, &m, &o, &pp, &np, NULL, &err) == -1);
    pthread_barrier_destroy(&w.bar);
    free(one);
    free(x);
}

static void t_groups(void)
{
    ordo_audit_pair p[] = {{1, 4, 0.99f}, {4, 7, 0.95f}, {2, 3, 0.97f}};
    int64_t g[9];
    ordo_err err = {{0}};
    CHECK(ordo_audit_groups(9, p, 3, g, &err) == 2);
    CHECK(g[1] == 4 && g[4] == 4 && g[7] == 4 && g[2] == 2 && g[3] == 2);
    CHECK(g[0] == -1 && g[5] == -1 && g[8] == -1);
    /* a chain 0-1-2-3-4 is not one group: 1 leads {0,1,2}, 3 leads {3,4} */
    ordo_audit_pair ch[] = {{0, 1, 0.9f}, {1, 2, 0.9f}, {2, 3, 0.9f}, {3, 4, 0.9f}};
    CHECK(ordo_audit_groups(5, ch, 4, g, &err) == 2);
    CHECK(g[0] == 1 && g[1] == 1 && g[2] == 1 && g[3] == 3 && g[4] == 3);
    ordo_audit_pair bad[] = {{1, 40, 0.9f}};
    CHECK(ordo_audit_groups(9, bad, 1, g, &err) == -1);
}

static void t_cross(void)
{
    float a[] = {1, 0, 0, 0, 1, 0};
    float b[] = {0, 2, 0.1f, 0, 0, 1, 5, 0.2f, 0};
    uint8_t ha[2], hb[3];
    float best[2];
    int64_t arg[2];
    ordo_err err = {{0}};
    CHECK(ordo_audit_cross(a, 2, b, 3, 3, 0.98, ha, hb, best, arg, &err) == 2);
    CHECK(ha[0] && ha[1] && hb[0] && !hb[1] && hb[2]);
    CHECK(best[0] > 0.99f && best[1] > 0.99f);
    CHECK(arg[0] == 2 && arg[1] == 0);
    CHECK(ordo_audit_cross(a, 2, b, 0, 3, 0.98, ha, NULL, best, arg, &err) == 0 && !ha[0] &&
          best[0] == -1 && arg[0] == -1);
}

int main(void)
{
    RUN(t_label_issues);
    RUN(t_knn);
    RUN(t_dups_exact);
    RUN(t_dups_recall);
    RUN(t_dups_split);
    RUN(t_groups);
    RUN(t_cross);
    return test_summary();
}
