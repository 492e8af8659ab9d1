/* audit_dups.c - near-duplicate pairs: a cosine range self-join.
 *
 * Faiss (Debian's libfaiss-dev 1.7.3) is C++ only, and its range search
 * over an IVF index needs every vector in float (or its own codes) in
 * memory; this join keeps 1 byte per dimension and checks candidates on the
 * caller's rows. bench/bench_audit_scale.sh measures it against faiss-cpu
 * (PyPI) and scikit-learn side by side; docs/audit.md has the figures.
 *
 * Steps (audit.h gives the geometry):
 *   1. quantise: each row, L2-normalised, becomes q = round(x / s) in int8
 *      with s = max|x_i| / 127, and e = |x - s q| is kept: for unit rows,
 *      |x_a.x_b - s_a s_b q_a.q_b| <= e_a + e_b + e_a e_b (Cauchy-Schwarz on
 *      x_a.e_b + e_a.x_b + e_a.e_b), the candidate margin;
 *   2. cells: rows projected on their top principal axes (rank's PCA of
 *      a sample), k-means cells of the projections (about 4 sqrt(n): with
 *      sqrt(n) cells, fewer than the data's clusters, most rows fell in
 *      cells averaging many small clusters and the join met a quarter of
 *      all pairs at 100k; bench/); a row's own cell is the nearest centre,
 *      and it probes the cells whose bisector with its own lies within
 *      R = sqrt(2 - 2 cos) in the projection: a pair within R is always met,
 *      since the projection never lengthens a difference and the partner
 *      lies in its own cell's region. max_probe keeps the nearest bisectors
 *      only (approximate; recall in bench/); up to exact_rows rows all;
 *      (the first version of this file also filtered pairs in the 64-d
 *      projection: on embeddings whose noise is spread over every axis it
 *      keeps ~5 % of a difference, and every cluster mate passed);
 *   3. join, cell by cell: members against members (upper triangle of
 *      tiles) and the probing rows of other cells against the members, by
 *      SGEMM on the int8 codes widened to float. Products of int8 codes and
 *      their sums (|sum| <= 1280 * 127^2 < 2^24) are exact in float, so the
 *      cosines are the integer dot products an int8 (VNNI) kernel would give,
 *      whatever the blocking: the same candidates in any process layout;
 *   4. verify: each candidate's cosine on the caller's rows (float, double
 *      sum), kept at >= the threshold; sorted by (a, b), duplicates (a pair
 *      met from both sides) dropped.
 * With an exec (MPI), step 1, the projection and the assignment of step 2
 * are split by rows and gathered (every process holds the int8 matrix),
 * k-means runs on the same sample everywhere, and the cells of step 3-4 are split by their
 * estimated cost; the pairs are concatenated, so every process gets the
 * one-process result.
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
    o->max_probe = 4;
    o->exact_rows = 20000;
    o->seed = 1;
    o->exec = NULL;
}

static void normalize(float *r, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)r[j] * r[j];
    float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
    for (int j = 0; j < d; j++) r[j] *= inv;
}

/* the caller's rows, L2-normalised (the PCA reads them through this) */
typedef struct {
    ordo_rank_read_fn read;
    void *ctx;
    int dim;
} norm_ctx;

static int read_norm(void *ctx, size_t row0, size_t nrows, float *out, ordo_err *err)
{
    norm_ctx *c = ctx;
    if (c->read(c->ctx, row0, nrows, out, err) < 0) return -1;
    for (size_t i = 0; i < nrows; i++) normalize(out + i * (size_t)c->dim, c->dim);
    return 0;
}

/* a normalised row: int8 codes q[dim], scale s, error e */
static void quantise(const float *x, int d, int8_t *q, float *s, float *e)
{
    float mx = 0;
    for (int j = 0; j < d; j++) mx = fmaxf(mx, fabsf(x[j]));
    float sc = mx / 127, inv = mx > 0 ? 127 / mx : 0;
    double e2 = 0;
    for (int j = 0; j < d; j++) {
        float v = nearbyintf(x[j] * inv);
        v = v > 127 ? 127 : v < -127 ? -127 : v;
        q[j] = (int8_t)v;
        double r = (double)x[j] - (double)sc * v;
        e2 += r * r;
    }
    *s = sc;
    *e = (float)sqrt(e2);
}

/* dequantised rows (scaled: s q) or raw codes (scaled = 0) */
static void widen(const int8_t *Q, const float *S, const uint32_t *rows, size_t nr, int d,
                  int scaled, float *out)
{
    for (size_t i = 0; i < nr; i++) {
        const int8_t *q = Q + (size_t)rows[i] * d;
        float s = scaled ? S[rows[i]] : 1, *o = out + i * (size_t)d;
        for (int j = 0; j < d; j++) o[j] = s * q[j];
    }
}

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

/* growable array */
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

/* candidates of the join: rows and the quantised cosine */
typedef struct { uint32_t a, b; } cand;

typedef struct {
    cand *c;
    size_t n, cap;
} cands;

/* Scans a tile T (na x nb) of integer dot products for rows ra x rb:
 * candidates are pairs whose quantised cosine s_a s_b T reaches the
 * threshold less the margin. tri: keep a < b only (same-cell tiles). */
static int scan_tile(const float *T, size_t na, size_t nb, const uint32_t *ra,
                     const uint32_t *rb, const float *S, const float *E, float th, int tri,
                     cands *out)
{
    for (size_t i = 0; i < na; i++) {
        uint32_t a = ra[i];
        float sa = S[a], ea = E[a];
        const float *t = T + i * nb;
        for (size_t j = 0; j < nb; j++) {
            uint32_t b = rb[j];
            if (a == b || (tri && b < a)) continue;
            float eb = E[b];
            /* 1e-5: float rounding of the products and of the bound */
            if (sa * S[b] * t[j] < th - (ea + eb + ea * eb) - 1e-5f) continue;
            if (grow((void **)&out->c, &out->cap, out->n + 1, sizeof *out->c)) return -1;
            out->c[out->n++] = a < b ? (cand){a, b} : (cand){b, a};
        }
    }
    return 0;
}

static int cmp_cand(const void *x, const void *y)
{
    const cand *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return p->b < q->b ? -1 : p->b > q->b;
}

/* One tile of the join: rows ra (codes already widened in Ti) against rows
 * rb, widened into Tj (or Ti itself on the diagonal), dot products in T. */
static int join_tile(const int8_t *Q, const float *Sc, const float *E, int dim, float th,
                     const float *Ti, const uint32_t *ra, size_t na, const uint32_t *rb,
                     size_t nb, int diag, float *Tj, float *T, ordo_audit_dup_stats *S,
                     cands *cd)
{
    const float *B = Ti;
    if (!diag) { widen(Q, Sc, rb, nb, dim, 0, Tj); B = Tj; }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, dim, 1.0f, Ti, dim,
                B, dim, 0.0f, T, (int)nb);
    S->candidates += na * nb;
    return scan_tile(T, na, nb, ra, rb, Sc, E, th, diag, cd);
}

int ordo_audit_dups(size_t n, int dim, ordo_rank_read_fn read, void *ctx,
                    const ordo_audit_dup_opts *o, ordo_audit_pair **pairs, size_t *npairs,
                    ordo_audit_dup_stats *st, ordo_err *err)
{
    *pairs = NULL;
    *npairs = 0;
    ordo_audit_dup_stats S0;
    memset(&S0, 0, sizeof S0);
    if (!(o->cosine > -1 && o->cosine <= 1))
        return ordo_err_set(err, "audit: duplicate cosine %g is not in (-1, 1]", o->cosine);
    if (dim < 1) return ordo_err_set(err, "audit: embedding width %d", dim);
    if (n >= UINT32_MAX) return ordo_err_set(err, "audit: %zu rows (at most 2^32 - 2)", n);
    if (o->max_probe < 0) return ordo_err_set(err, "audit: max_probe %d", o->max_probe);
    const ordo_rank_exec *ex = o->exec;
    if (ex && !ex->concat)
        return ordo_err_set(err, "audit: the executor cannot concatenate results");
    if (n < 2) { if (st) *st = S0; return 0; }
    ordo_audit_dup_stats S = S0;
    const size_t D = (size_t)dim, AL = ORDO_RANK_EXEC_ALIGN;
    int C = o->cells;
    /* auto: 4 sqrt(n) cells balances the assignment (n C pca_dim) against
     * the join (~ n^2 / C full-width dot products); bench/ measured it */
    if (C <= 0) C = (int)lround(4 * sqrt((double)n));
    if (C > 4096) C = 4096;
    if (C < 1) C = 1;
    if ((size_t)C > n) C = (int)n;
    S.cells = C;
    /* probe slots per row: own cell + (max_probe - 1), or every cell */
    /* small pools: every cell within the radius (exact; 20,000 rows cost
     * a few CPU seconds, measured in bench/) */
    int maxp = n <= o->exact_rows ? 0 : o->max_probe;
    const size_t W = maxp > 0 && maxp < C ? (size_t)maxp : (size_t)C;
    if (W > 1 && n * W > ((size_t)1 << 30))
        return ordo_err_set(err, "audit: an exact duplicate search (every cell within the "
                            "radius) over %zu rows needs %zu probe slots; cap the probes",
                            n, n * W);
    size_t lo = 0, hi = n;
    if (ex) ex->part(ex->ctx, n, AL, &lo, &hi);

    int rc = -1;
    int8_t *Q = malloc(n * D);
    float *Sc = malloc(n * sizeof *Sc), *E = malloc(n * sizeof *E);
    const size_t B = 512;
    float *X = malloc(B * D * sizeof *X);
    float *cent = NULL, *cn = NULL, *cc = NULL, *G = NULL, *Ti = NULL, *Tj = NULL,
          *T = NULL, *va = NULL, *vb = NULL;
    uint32_t *probes = NULL;
    ordo_rank_space *sp = NULL;
    size_t *mstart = NULL, *fstart = NULL;
    uint32_t *mrows = NULL, *frows = NULL;
    hcell *hc = NULL;
    cands cd = {NULL, 0, 0};
    ordo_audit_pair *out = NULL;
    double *unit = NULL;
    if (!Q || !Sc || !E || !X) goto oom;

    /* 1. quantise this process's rows, streaming the caller's reader */
    double t0 = ordo_clock_mono();
    for (size_t r0 = lo; r0 < hi; r0 += B) {
        size_t nb = hi - r0 < B ? hi - r0 : B;
        if (read(ctx, r0, nb, X, err) < 0) goto fail;
        for (size_t i = 0; i < nb; i++) {
            normalize(X + i * D, dim);
            quantise(X + i * D, dim, Q + (r0 + i) * D, Sc + r0 + i, E + r0 + i);
        }
    }
    if (ex && (ex->gather(ex->ctx, Q, n, D, AL, err) < 0 ||
               ex->gather(ex->ctx, Sc, n, sizeof *Sc, AL, err) < 0 ||
               ex->gather(ex->ctx, E, n, sizeof *E, AL, err) < 0))
        goto fail;
    S.seconds[0] = ordo_clock_mono() - t0;

    /* 2. cells: rows projected on their top principal axes (rank's PCA,
     * split over processes by the exec), k-means on a sample of the
     * projections (every process: the same rows, the same result), then
     * each row's own cell and probes */
    t0 = ordo_clock_mono();
    norm_ctx nc = {read, ctx, dim};
    ordo_rank_input in;
    memset(&in, 0, sizeof in);
    in.n = n;
    in.dim = dim;
    in.read_rows = read_norm;
    in.read_ctx = &nc;
    in.exec = ex;
    sp = ordo_rank_space_build(&in, o->pca_dim > 0 ? o->pca_dim : 64,
                               o->sample ? o->sample : 20000, o->seed, err);
    if (!sp) goto fail;
    const int d = ordo_rank_space_dim(sp);
    const float *Y = ordo_rank_space_row(sp, 0);
    size_t ns = o->sample ? o->sample : 20000;
    if (ns < 20 * (size_t)C) ns = 20 * (size_t)C;
    if (ns > n) ns = n;
    cent = malloc((size_t)C * d * sizeof *cent);
    cn = malloc((size_t)C * sizeof *cn);
    if (!cent || !cn) goto oom;
    if (ordo_rank_kmeans(Y, n, d, C, ns, 10, o->seed, cent, NULL, NULL, err) < 0) goto fail;
    for (int c = 0; c < C; c++) cn[c] = cblas_sdot(d, cent + (size_t)c * d, 1, cent + (size_t)c * d, 1);
    if (W > 1) {
        /* centre distances, for the bisectors */
        if (!(cc = malloc((size_t)C * C * sizeof *cc))) goto oom;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, C, C, d, 1.0f, cent, d, cent,
                    d, 0.0f, cc, C);
        for (int a = 0; a < C; a++)
            for (int b = 0; b < C; b++) {
                float v = cn[a] + cn[b] - 2 * cc[(size_t)a * C + b];
                cc[(size_t)a * C + b] = v > 0 ? sqrtf(v) : 0;
            }
    }
    /* the projection never lengthens a difference: a pair within R in the
     * full space is within R in the projection */
    double R = sqrt(2.0 - 2.0 * o->cosine);
    probes = malloc(n * W * sizeof *probes);
    G = malloc(B * (size_t)C * sizeof *G);
    hc = malloc((size_t)C * sizeof *hc);
    if (!probes || !G || !hc) goto oom;
    for (size_t r0 = lo; r0 < hi; r0 += B) {
        size_t nb = hi - r0 < B ? hi - r0 : B;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, C, d, 1.0f, Y + r0 * d, d,
                    cent, d, 0.0f, G, C);
        for (size_t i = 0; i < nb; i++) {
            const float *y = Y + (r0 + i) * d;
            float y2 = cblas_sdot(d, y, 1, y, 1);
            float *g = G + i * (size_t)C;
            int a = 0;
            for (int c = 0; c < C; c++) {
                g[c] = y2 + cn[c] - 2 * g[c];
                if (g[c] < g[a]) a = c;
            }
            uint32_t *p = probes + (r0 + i) * W;
            p[0] = (uint32_t)a;
            size_t np = 1;
            if (W > 1) {
                /* the W - 1 nearest bisectors within R, kept sorted in hc
                 * by insertion (W is small unless the search is exact) */
                size_t nh = 0, cap = W - 1;
                const float *sa = cc + (size_t)a * C;
                for (int c = 0; c < C; c++) {
                    if (c == a) continue;
                    /* coincident centres: the bisector passes through y */
                    float h = sa[c] > 0 ? (g[c] - g[a]) / (2 * sa[c]) : 0;
                    if (!(h <= R * 1.0001 + 1e-6)) continue;
                    hcell v = {h, (uint32_t)c};
                    if (nh == cap && cmp_hcell(&v, &hc[nh - 1]) >= 0) continue;
                    size_t k = nh < cap ? nh++ : nh - 1;
                    while (k > 0 && cmp_hcell(&v, &hc[k - 1]) < 0) { hc[k] = hc[k - 1]; k--; }
                    hc[k] = v;
                }
                for (size_t t = 0; t < nh; t++) p[np++] = hc[t].cell;
            }
            for (; np < W; np++) p[np] = UINT32_MAX;
        }
    }
    if (ex && ex->gather(ex->ctx, probes, n, W * sizeof *probes, AL, err) < 0) goto fail;
    free(G); G = NULL;
    free(cc); cc = NULL;
    ordo_rank_space_free(sp);
    sp = NULL;
    /* members and foreign probers by cell (counting sorts: rows ascending) */
    mstart = calloc((size_t)C + 1, sizeof *mstart);
    fstart = calloc((size_t)C + 1, sizeof *fstart);
    if (!mstart || !fstart) goto oom;
    size_t nf = 0;
    double probed = 0;
    for (size_t r = 0; r < n; r++) {
        const uint32_t *p = probes + r * W;
        mstart[p[0] + 1]++;
        size_t k = 1;
        for (; k < W && p[k] != UINT32_MAX; k++) fstart[p[k] + 1]++;
        nf += k - 1;
        probed += (double)k;
        S.capped += W > 1 && k == W && W < (size_t)C;
    }
    S.mean_probe = probed / (double)n;
    for (int c = 0; c < C; c++) { mstart[c + 1] += mstart[c]; fstart[c + 1] += fstart[c]; }
    mrows = malloc(n * sizeof *mrows);
    frows = malloc((nf ? nf : 1) * sizeof *frows);
    if (!mrows || !frows) goto oom;
    {
        size_t *pm = malloc((size_t)C * sizeof *pm), *pf = malloc((size_t)C * sizeof *pf);
        if (!pm || !pf) { free(pm); free(pf); goto oom; }
        memcpy(pm, mstart, (size_t)C * sizeof *pm);
        memcpy(pf, fstart, (size_t)C * sizeof *pf);
        for (size_t r = 0; r < n; r++) {
            const uint32_t *p = probes + r * W;
            mrows[pm[p[0]]++] = (uint32_t)r;
            for (size_t k = 1; k < W && p[k] != UINT32_MAX; k++) frows[pf[p[k]]++] = (uint32_t)r;
        }
        free(pm); free(pf);
    }
    free(probes); probes = NULL;
    S.seconds[1] = ordo_clock_mono() - t0;

    /* 3. the join. This process's cells: with an exec, those whose
     * cumulative estimated cost (m (m / 2 + f), in dot products) has its
     * midpoint in the part of cost units the exec gives it. */
    t0 = ordo_clock_mono();
    size_t clo = 0, chi = (size_t)C;
    if (!(unit = malloc(((size_t)C + 1) * sizeof *unit))) goto oom;
    unit[0] = 0;
    for (int c = 0; c < C; c++) {
        double m = (double)(mstart[c + 1] - mstart[c]), f = (double)(fstart[c + 1] - fstart[c]);
        unit[c + 1] = unit[c] + m * (m / 2 + f) + 1;
    }
    if (ex) {
        size_t U = (size_t)ceil(unit[C]), ulo, uhi;
        ex->part(ex->ctx, U, 1, &ulo, &uhi);
        clo = chi = 0;
        for (int c = 0; c < C; c++) {
            double mid = (unit[c] + unit[c + 1]) / 2;
            if (mid < (double)ulo) clo = chi = (size_t)c + 1;
            else if (mid < (double)uhi) chi = (size_t)c + 1;
        }
    }
    const size_t TT = 512;
    Ti = malloc(TT * D * sizeof *Ti);
    Tj = malloc(TT * D * sizeof *Tj);
    T = malloc(TT * TT * sizeof *T);
    if (!Ti || !Tj || !T) goto oom;
    float th = (float)o->cosine;
    for (size_t c = clo; c < chi; c++) {
        size_t m = mstart[c + 1] - mstart[c], f = fstart[c + 1] - fstart[c];
        const uint32_t *mr = mrows + mstart[c], *fr = frows + fstart[c];
        /* members x members (tiles i <= j), then foreign probers x members */
        for (size_t i0 = 0; i0 < m; i0 += TT) {
            size_t na = m - i0 < TT ? m - i0 : TT;
            widen(Q, Sc, mr + i0, na, dim, 0, Ti);
            for (size_t j0 = i0; j0 < m; j0 += TT)
                if (join_tile(Q, Sc, E, dim, th, Ti, mr + i0, na, mr + j0,
                              m - j0 < TT ? m - j0 : TT, j0 == i0, Tj, T, &S, &cd)) goto oom;
        }
        for (size_t i0 = 0; i0 < f && m; i0 += TT) {
            size_t na = f - i0 < TT ? f - i0 : TT;
            widen(Q, Sc, fr + i0, na, dim, 0, Ti);
            for (size_t j0 = 0; j0 < m; j0 += TT)
                if (join_tile(Q, Sc, E, dim, th, Ti, fr + i0, na, mr + j0,
                              m - j0 < TT ? m - j0 : TT, 0, Tj, T, &S, &cd)) goto oom;
        }
    }
    free(Ti); free(Tj); free(T);
    Ti = Tj = T = NULL;
    S.seconds[2] = ordo_clock_mono() - t0;

    /* 4. verify on the caller's rows, in row order (a forward reader) */
    t0 = ordo_clock_mono();
    if (cd.n) qsort(cd.c, cd.n, sizeof *cd.c, cmp_cand);   /* qsort(NULL, 0) is undefined */
    va = malloc(D * sizeof *va);
    vb = malloc(D * sizeof *vb);
    if (!va || !vb) goto oom;
    size_t np = 0, capout = 0;
    for (size_t k = 0; k < cd.n; k++) {
        if (k && cd.c[k].a == cd.c[k - 1].a && cd.c[k].b == cd.c[k - 1].b) continue;
        if (!k || cd.c[k].a != cd.c[k - 1].a) {
            if (read(ctx, cd.c[k].a, 1, va, err) < 0) goto fail;
            normalize(va, dim);
        }
        if (read(ctx, cd.c[k].b, 1, vb, err) < 0) goto fail;
        normalize(vb, dim);
        double s = 0;
        for (int j = 0; j < dim; j++) s += (double)va[j] * vb[j];
        S.verified++;
        if (s < o->cosine) continue;
        if (grow((void **)&out, &capout, np + 1, sizeof *out)) goto oom;
        out[np++] = (ordo_audit_pair){cd.c[k].a, cd.c[k].b, (float)s};
    }
    free(cd.c);
    cd.c = NULL;
    if (ex) {
        void *buf = NULL;
        size_t bytes = 0;
        if (ex->concat(ex->ctx, out, np * sizeof *out, &buf, &bytes, err) < 0) goto fail;
        free(out);
        out = buf;
        np = bytes / sizeof *out;
        /* a pair met from both sides may come from two processes */
        if (np) qsort(out, np, sizeof *out, cmp_pair);
        size_t u = 0;
        for (size_t k = 0; k < np; k++)
            if (!u || out[k].a != out[u - 1].a || out[k].b != out[u - 1].b) out[u++] = out[k];
        np = u;
    }
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
    free(Q); free(Sc); free(E); free(X); free(cent); free(cn); free(cc); free(G);
    free(Ti); free(Tj); free(T); free(va); free(vb); free(probes); ordo_rank_space_free(sp);
    free(mstart); free(fstart); free(mrows); free(frows); free(hc); free(cd.c); free(out);
    free(unit);
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
    if (n) qsort(ord, n, sizeof *ord, cmp_degrow);
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
