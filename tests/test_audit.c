/* test_audit.c - label errors, near-duplicate search, groups, cross pairs. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
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
    int dims[] = {8, 16, 48};
    int cells[] = {1, 7, 60};
    for (int t = 0; t < 3; t++) {
        ordo_audit_dup_opts o;
        ordo_audit_dup_opts_default(&o);
        o.cosine = th;
        o.pca_dim = dims[t];
        o.cells = cells[t];
        o.sample = 1000;
        o.slack = 1;   /* exact */
        o.max_probe = 0;
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
    RUN(t_groups);
    RUN(t_cross);
    return test_summary();
}
