/* audit_dups.c - near-duplicate pairs: a cosine range self-join.
 *
 * Faiss (Debian's libfaiss-dev) was measured against this join; see
 * docs/audit.md, "Near-duplicates at scale", for the figures and why this
 * code stays.
 *
 * Steps (audit.h gives the geometry):
 *   1. rows L2-normalised, projected on the top pca_dim principal axes of a
 *      sample (rank's PCA): |P(a - b)| <= |a - b| = sqrt(2 - 2 cos);
 *   2. k-means cells on the projections (rank's k-means); every row probes
 *      its own cell and each cell whose bisector with it lies within the
 *      radius R: a pair within R is always met, since the partner lies in
 *      its own cell's region, at most R away;
 *   3. per cell, GEMM of the probing rows' full normalised embeddings
 *      against the members', keeping (query < member) at cosine >= the
 *      threshold: each pair is seen exactly once, with its exact cosine.
 * max_probe caps the cells a row probes (nearest bisectors first): the
 * search is then approximate, and bench/bench_audit_scale.c measures its
 * recall. The projection only chooses cells, so no pair is ever reported
 * below the threshold.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/clock.h"

void ordo_audit_dup_opts_default(ordo_audit_dup_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cosine = ORDO_AUDIT_COSINE;
    o->pca_dim = 64;
    o->cells = 0;
    o->sample = 20000;
    o->max_probe = 0;
    o->slack = 1;
    o->max_probe = 8;
    o->seed = 1;
}

/* the caller's rows, L2-normalised */
typedef struct {
    ordo_rank_read_fn read;
    void *ctx;
    int dim;
} norm_ctx;

static void normalize(float *r, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)r[j] * r[j];
    float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
    for (int j = 0; j < d; j++) r[j] *= inv;
}

static int read_norm(void *ctx, size_t row0, size_t nrows, float *out, ordo_err *err)
{
    norm_ctx *c = ctx;
    if (c->read(c->ctx, row0, nrows, out, err) < 0) return -1;
    for (size_t i = 0; i < nrows; i++) normalize(out + i * (size_t)c->dim, c->dim);
    return 0;
}

typedef struct { uint32_t cell, row; } probe;
static int cmp_pair(const void *x, const void *y)
{
    const ordo_audit_pair *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return p->b < q->b ? -1 : p->b > q->b;
}

typedef struct { float h; uint32_t cell; } hcell;

static int cmp_hcell(const void *x, const void *y)
{
    const hcell *p = x, *q = y;
    if (p->h != q->h) return p->h < q->h ? -1 : 1;
    return p->cell < q->cell ? -1 : p->cell > q->cell;
}

/* growable arrays */
static int grow(void **p, size_t *cap, size_t need, size_t el)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * el);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

int ordo_audit_dups(size_t n, int dim, ordo_rank_read_fn read, void *ctx,
                    const ordo_audit_dup_opts *o, ordo_audit_pair **pairs, size_t *npairs,
                    ordo_audit_dup_stats *st, ordo_err *err)
{
    *pairs = NULL;
    *npairs = 0;
    ordo_audit_dup_stats S;
    memset(&S, 0, sizeof S);
    if (!(o->cosine > -1 && o->cosine <= 1))
        return ordo_err_set(err, "audit: duplicate cosine %g is not in (-1, 1]", o->cosine);
    if (n > UINT32_MAX) return ordo_err_set(err, "audit: %zu rows (at most 2^32 - 1)", n);
    if (n < 2) { if (st) *st = S; return 0; }
    double t0 = ordo_clock_mono();
    norm_ctx nc = {read, ctx, dim};
    ordo_rank_input in;
    memset(&in, 0, sizeof in);
    in.n = n;
    in.dim = dim;
    in.read_rows = read_norm;
    in.read_ctx = &nc;
    ordo_rank_space *sp = ordo_rank_space_build(&in, o->pca_dim > 0 ? o->pca_dim : 64,
                                                o->sample ? o->sample : 20000, o->seed, err);
    if (!sp) return ordo_err_wrap(err, "audit");
    int d = ordo_rank_space_dim(sp);
    const float *Y = ordo_rank_space_row(sp, 0);
    S.explained = ordo_rank_space_explained(sp);
    S.seconds[0] = ordo_clock_mono() - t0;

    int C = o->cells;
    if (C <= 0) C = (int)sqrt((double)n);
    if (C > 4096) C = 4096;
    if (C < 1) C = 1;
    if ((size_t)C > n) C = (int)n;
    S.cells = C;
    double slack = o->slack > 0 && o->slack < 1 ? o->slack : 1;
    S.slack = slack;
    double R2 = (2.0 - 2.0 * o->cosine) * slack * slack, R = sqrt(R2);

    int rc = -1;
    float *cent = malloc((size_t)C * d * sizeof *cent), *cn = malloc((size_t)C * sizeof *cn);
    float *cc = malloc((size_t)C * C * sizeof *cc);
    int32_t *assign = malloc(n * sizeof *assign);
    const size_t B = 1024;
    float *G = malloc(B * (size_t)C * sizeof *G), *yn = malloc(n * sizeof *yn);
    hcell *hc = malloc((size_t)C * sizeof *hc);
    probe *pr = NULL;
    size_t npr = 0, cappr = 0;
    size_t *mstart = NULL, *qstart = NULL, *mrows = NULL;
    uint32_t *qrows = NULL;
    float *Mb = NULL, *Qb = NULL, *T = NULL;
    ordo_audit_pair *out = NULL;
    if (!cent || !cn || !cc || !assign || !G || !yn || !hc) goto oom;

    t0 = ordo_clock_mono();
    if (ordo_rank_kmeans(Y, n, d, C, o->sample ? o->sample : 20000, 10, o->seed, cent, NULL,
                         NULL, err) < 0)
        goto fail;
    for (int c = 0; c < C; c++) cn[c] = cblas_sdot(d, cent + (size_t)c * d, 1, cent + (size_t)c * d, 1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, C, C, d, 1.0f, cent, d, cent, d, 0.0f,
                cc, C);
    for (int a = 0; a < C; a++)
        for (int b = 0; b < C; b++) {
            float v = cn[a] + cn[b] - 2 * cc[(size_t)a * C + b];
            cc[(size_t)a * C + b] = v > 0 ? sqrtf(v) : 0;
        }
    /* probe lists: distances to every centre by GEMM, own cell = nearest */
    double probes = 0;
    for (size_t r0 = 0; r0 < n; r0 += B) {
        size_t nb = n - r0 < B ? n - r0 : B;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, C, d, 1.0f, Y + r0 * d, d,
                    cent, d, 0.0f, G, C);
        for (size_t i = 0; i < nb; i++) {
            size_t r = r0 + i;
            float y2 = cblas_sdot(d, Y + r * d, 1, Y + r * d, 1);
            yn[r] = y2;
            float *g = G + i * (size_t)C;
            int a = 0;
            for (int c = 0; c < C; c++) {
                g[c] = y2 + cn[c] - 2 * g[c];
                if (g[c] < g[a]) a = c;
            }
            assign[r] = a;
            int nh = 0;
            for (int c = 0; c < C; c++) {
                float h;
                if (c == a) h = 0;
                else {
                    float sep = cc[(size_t)a * C + c];
                    /* coincident centres: the bisector passes through x */
                    h = sep > 0 ? (g[c] - g[a]) / (2 * sep) : 0;
                }
                if (h <= R * 1.0001 + 1e-6) hc[nh++] = (hcell){h, (uint32_t)c};
            }
            if (o->max_probe > 0 && nh > o->max_probe) {
                qsort(hc, (size_t)nh, sizeof *hc, cmp_hcell);
                nh = o->max_probe;
                S.capped++;
            }
            if (grow((void **)&pr, &cappr, npr + (size_t)nh, sizeof *pr)) goto oom;
            for (int t = 0; t < nh; t++) pr[npr++] = (probe){hc[t].cell, (uint32_t)r};
            probes += nh;
        }
    }
    S.mean_probe = probes / (double)n;
    /* counting sorts: members and queries by cell */
    mstart = calloc((size_t)C + 1, sizeof *mstart);
    qstart = calloc((size_t)C + 1, sizeof *qstart);
    mrows = malloc(n * sizeof *mrows);
    qrows = malloc((npr ? npr : 1) * sizeof *qrows);
    if (!mstart || !qstart || !mrows || !qrows) goto oom;
    for (size_t r = 0; r < n; r++) mstart[assign[r] + 1]++;
    for (size_t t = 0; t < npr; t++) qstart[pr[t].cell + 1]++;
    for (int c = 0; c < C; c++) { mstart[c + 1] += mstart[c]; qstart[c + 1] += qstart[c]; }
    {
        size_t *pm = malloc((size_t)C * sizeof *pm), *pq = malloc((size_t)C * sizeof *pq);
        if (!pm || !pq) { free(pm); free(pq); goto oom; }
        memcpy(pm, mstart, (size_t)C * sizeof *pm);
        memcpy(pq, qstart, (size_t)C * sizeof *pq);
        for (size_t r = 0; r < n; r++) mrows[pm[assign[r]]++] = r;
        for (size_t t = 0; t < npr; t++) qrows[pq[pr[t].cell]++] = pr[t].row;
        free(pm); free(pq);
    }
    free(pr);
    pr = NULL;
    free(G);
    G = NULL;
    ordo_rank_space_free(sp);   /* the join reads the full rows */
    sp = NULL;
    S.seconds[1] = ordo_clock_mono() - t0;

    /* 3. the join, cell by cell, on the full normalised rows: tiles of QT
     * probing rows x MT members, cosines by GEMM, (query < member) kept */
    t0 = ordo_clock_mono();
    const size_t QT = 256, MT = 2048;
    Mb = malloc(MT * (size_t)dim * sizeof *Mb);
    Qb = malloc(QT * (size_t)dim * sizeof *Qb);
    T = malloc(QT * MT * sizeof *T);
    if (!Mb || !Qb || !T) goto oom;
    size_t np = 0, capout = 0;
    float th = (float)o->cosine;
    for (int c = 0; c < C; c++) {
        size_t m = mstart[c + 1] - mstart[c], q = qstart[c + 1] - qstart[c];
        if (!m || !q) continue;
        const size_t *mr = mrows + mstart[c];
        const uint32_t *qr = qrows + qstart[c];
        for (size_t m0 = 0; m0 < m; m0 += MT) {
            size_t nm = m - m0 < MT ? m - m0 : MT;
            for (size_t j = 0; j < nm; j++)
                if (read_norm(&nc, mr[m0 + j], 1, Mb + j * (size_t)dim, err) < 0) goto fail;
            for (size_t q0 = 0; q0 < q; q0 += QT) {
                size_t nq = q - q0 < QT ? q - q0 : QT;
                /* only queries below the chunk's largest member can pair */
                if (qr[q0] >= mr[m0 + nm - 1]) break;
                for (size_t i = 0; i < nq; i++)
                    if (read_norm(&nc, qr[q0 + i], 1, Qb + i * (size_t)dim, err) < 0) goto fail;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nm, dim, 1.0f,
                            Qb, dim, Mb, dim, 0.0f, T, (int)nm);
                S.candidates += nq * nm;
                for (size_t i = 0; i < nq; i++) {
                    size_t a = qr[q0 + i];
                    const float *t = T + i * nm;
                    for (size_t j = 0; j < nm; j++) {
                        if (t[j] < th) continue;
                        size_t b = mr[m0 + j];
                        if (b <= a) continue;
                        if (grow((void **)&out, &capout, np + 1, sizeof *out)) goto oom;
                        out[np++] = (ordo_audit_pair){a, b, t[j]};
                    }
                }
            }
        }
    }
    S.seconds[2] = ordo_clock_mono() - t0;
    t0 = ordo_clock_mono();
    if (np) qsort(out, np, sizeof *out, cmp_pair);   /* qsort(NULL, 0) is undefined */
    S.pairs = np;
    S.seconds[3] = ordo_clock_mono() - t0;
    *pairs = out;
    *npairs = np;
    out = NULL;
    rc = 0;
    goto fail;
oom:
    ordo_err_set(err, "audit: out of memory for the duplicate search over %zu rows", n);
fail:
    if (st) *st = S;
    ordo_rank_space_free(sp);
    free(cent); free(cn); free(cc); free(assign); free(G); free(yn); free(hc); free(pr);
    free(mstart); free(qstart); free(mrows); free(qrows); free(Mb); free(Qb); free(T);
    free(out);
    return rc;
}

/* Star clustering: rows in decreasing number of partners (ties: lower row)
 * become leaders of their still unassigned partners. Every member is
 * within the threshold of its leader, so a group cannot chain through a
 * run of merely similar photos the way connected components do (measured:
 * single link at cosine 0.745 on sports100 made one group of 356). */
typedef struct { size_t deg, row; } degrow;

static int cmp_degrow(const void *a, const void *b)
{
    const degrow *x = a, *y = b;
    if (x->deg != y->deg) return x->deg > y->deg ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

long ordo_audit_groups(size_t n, const ordo_audit_pair *pairs, size_t npairs, int64_t *group,
                       ordo_err *err)
{
    size_t *start = calloc(n + 1, sizeof *start), *adj = malloc((2 * npairs + 1) * sizeof *adj);
    degrow *ord = malloc((n ? n : 1) * sizeof *ord);
    if (!start || !adj || !ord) {
        free(start); free(adj); free(ord);
        return ordo_err_set(err, "audit: out of memory");
    }
    for (size_t t = 0; t < npairs; t++) {
        if (pairs[t].a >= n || pairs[t].b >= n) {
            free(start); free(adj); free(ord);
            return ordo_err_set(err, "audit: pair (%zu, %zu) outside %zu rows", pairs[t].a, pairs[t].b, n);
        }
        start[pairs[t].a + 1]++;
        start[pairs[t].b + 1]++;
    }
    for (size_t i = 0; i < n; i++) start[i + 1] += start[i];
    for (size_t i = 0; i < n; i++) ord[i] = (degrow){start[i + 1] - start[i], i};
    size_t *fill = malloc((n ? n : 1) * sizeof *fill);
    if (!fill) { free(start); free(adj); free(ord); return ordo_err_set(err, "audit: out of memory"); }
    memcpy(fill, start, n * sizeof *fill);
    for (size_t t = 0; t < npairs; t++) {
        adj[fill[pairs[t].a]++] = pairs[t].b;
        adj[fill[pairs[t].b]++] = pairs[t].a;
    }
    free(fill);
    qsort(ord, n, sizeof *ord, cmp_degrow);
    for (size_t i = 0; i < n; i++) group[i] = -1;
    long g = 0;
    for (size_t t = 0; t < n && ord[t].deg; t++) {
        size_t r = ord[t].row;
        if (group[r] >= 0) continue;
        size_t got = 0;
        for (size_t e = start[r]; e < start[r + 1]; e++)
            if (group[adj[e]] < 0) { group[adj[e]] = (int64_t)r; got++; }
        if (got) { group[r] = (int64_t)r; g++; }
    }
    free(start); free(adj); free(ord);
    return g;
}

long ordo_audit_cross(const float *a, size_t na, const float *b, size_t nb, size_t d,
                      double cosine, uint8_t *hit_a, uint8_t *hit_b, float *best_a,
                      int64_t *arg_a, ordo_err *err)
{
    if (hit_a) memset(hit_a, 0, na);
    if (hit_b) memset(hit_b, 0, nb);
    if (best_a) for (size_t i = 0; i < na; i++) best_a[i] = -1;
    if (arg_a) for (size_t i = 0; i < na; i++) arg_a[i] = -1;
    if (!na || !nb) return 0;
    const size_t B = 256;
    float *za = malloc(B * d * sizeof *za), *zb = malloc(nb * d * sizeof *zb);
    float *s = malloc(B * nb * sizeof *s);
    if (!za || !zb || !s) {
        free(za); free(zb); free(s);
        return ordo_err_set(err, "audit: out of memory for %zu x %zu cosines", na, nb);
    }
    memcpy(zb, b, nb * d * sizeof *zb);
    for (size_t j = 0; j < nb; j++) normalize(zb + j * d, (int)d);
    long np = 0;
    for (size_t a0 = 0; a0 < na; a0 += B) {
        size_t m = na - a0 < B ? na - a0 : B;
        memcpy(za, a + a0 * d, m * d * sizeof *za);
        for (size_t i = 0; i < m; i++) normalize(za + i * d, (int)d);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nb, (int)d, 1.0f, za,
                    (int)d, zb, (int)d, 0.0f, s, (int)nb);
        for (size_t i = 0; i < m; i++) {
            const float *r = s + i * nb;
            float best = -2;
            int64_t arg = -1;
            for (size_t j = 0; j < nb; j++) {
                if (r[j] > best) { best = r[j]; arg = (int64_t)j; }
                if (r[j] >= cosine) {
                    np++;
                    if (hit_a) hit_a[a0 + i] = 1;
                    if (hit_b) hit_b[j] = 1;
                }
            }
            if (best_a) best_a[a0 + i] = best;
            if (arg_a) arg_a[a0 + i] = arg;
        }
    }
    free(za); free(zb); free(s);
    return np;
}
