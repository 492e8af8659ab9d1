/* rank_compose.c - per-image strategy scores and the batch composer.
 *
 * Order of work (each step linear in the pool size n, or n x a bounded
 * reference set):
 *   1. uncertainty and relevance weight per image (O(n k));
 *   2. the evaluation sample (bottom-m hash keys, O(n log m));
 *   3. PCA to pca_dim, k-means (on a sample, then one assignment pass);
 *   4. novelty: model outlier rank + energy + nearest-neighbour distance;
 *   5. picks per reason: eval (hash order) -> uncertain (score order, one
 *      per cluster per pass) -> novel (the same) -> diverse (label/group coverage,
 *      then TypiClust in the cold start or k-center greedy once labels
 *      exist), each skipping near duplicates of the batch and of labeled
 *      images, each reserving a low-prior exploration share;
 *   6. labeling order: a smooth weighted round robin over the reasons, so
 *      any prefix of the batch follows the mix. */
#include "base/hash.h"
#include "base/clock.h"
#include "rank/rank.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOVEL_KTH 5         /* k-th neighbour for cold-start novelty */
#define NOVEL_REF 1024      /* pool sample the cold-start novelty measures against */
#define OUTLIER_REF 2000    /* reference sample for the logit ranks */
#define OUTLIER_TOPK 5      /* logits ranked (Munro uses the top activations) */
#define PCT_SAMPLE 4096     /* values a percentile is estimated from */
#define TYPI_CAP 1000       /* cluster members TypiClust looks at (seeded sample) */
#define TYPI_K 20           /* neighbours for typicality (Hacohen et al. use 20) */
#define CAND_FACTOR 10      /* Cluster-Margin: candidates = 10 x the quota */

/* ---- small helpers ---------------------------------------------------------- */

typedef struct { float s; size_t row; } scored;

/* a before b: higher score, then lower row */
static int sc_before(scored a, scored b) { return a.s > b.s || (a.s == b.s && a.row < b.row); }

/* min-heap on "before" order (root = worst kept) */
static void sc_down(scored *h, size_t m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < m && sc_before(h[w], h[l])) w = l;
        if (r < m && sc_before(h[w], h[r])) w = r;
        if (w == i) return;
        scored t = h[i]; h[i] = h[w]; h[w] = t;
        i = w;
    }
}

static int sc_cmp(const void *a, const void *b)
{
    scored x = *(const scored *)a, y = *(const scored *)b;
    return sc_before(x, y) ? -1 : sc_before(y, x) ? 1 : 0;
}

/* The best M eligible rows by score (NaN never), sorted best first. */
static scored *top_m(const float *score, size_t n, const uint8_t *elig, size_t M, size_t *got)
{
    *got = 0;
    if (M == 0) return NULL;
    scored *h = malloc(M * sizeof *h);
    if (!h) return NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!elig[i] || isnan(score[i])) continue;
        scored s = { score[i], i };
        if (m < M) {
            h[m++] = s;
            if (m == M)
                for (size_t j = M / 2 + 1; j-- > 0;) sc_down(h, M, j);
        } else if (sc_before(s, h[0])) {
            h[0] = s;
            sc_down(h, M, 0);
        }
    }
    qsort(h, m, sizeof *h, sc_cmp);
    *got = m;
    return h;
}

static int flt_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* A sorted seeded sample of the finite values of v (for percentiles that
 * partitions can share). Returns count; *out malloc'd. */
static size_t pct_ref(const float *v, size_t n, ordo_rank_rng *r, float **out)
{
    size_t cap = n < PCT_SAMPLE ? n : PCT_SAMPLE, m = 0;
    float *s = malloc((cap ? cap : 1) * sizeof *s);
    *out = s;
    if (!s) return 0;
    if (n <= PCT_SAMPLE) {
        for (size_t i = 0; i < n; i++) if (isfinite(v[i])) s[m++] = v[i];
    } else {
        for (size_t t = 0; t < cap; t++) {
            float x = v[ordo_rank_rng_below(r, n)];
            if (isfinite(x)) s[m++] = x;
        }
    }
    qsort(s, m, sizeof *s, flt_cmp);
    return m;
}

/* Mid-rank percentile of x among the sorted ref[0..m). */
static float pct_of(const float *ref, size_t m, float x)
{
    if (m == 0 || isnan(x)) return NAN;
    size_t lo = 0, hi = m;
    while (lo < hi) { size_t mid = (lo + hi) / 2; if (ref[mid] < x) lo = mid + 1; else hi = mid; }
    size_t below = lo;
    hi = m;
    while (lo < hi) { size_t mid = (lo + hi) / 2; if (ref[mid] <= x) lo = mid + 1; else hi = mid; }
    return (float)((below + 0.5 * (lo - below)) / (double)m);
}

/* Per-row sorted probability view: either the caller's top-k row or, for a
 * dense unsorted row (top_class NULL), a sorted copy in scratch. */
typedef struct {
    const ordo_rank_input *in;
    float *p;
    int32_t *c;
    int kk;
} probview;

static int pv_init(probview *v, const ordo_rank_input *in)
{
    v->in = in;
    v->p = NULL;
    v->c = NULL;
    v->kk = in->k;
    if (!in->top_class) {
        v->p = malloc((size_t)in->k * sizeof *v->p);
        v->c = malloc((size_t)in->k * sizeof *v->c);
        if (!v->p || !v->c) return -1;
    }
    return 0;
}

static void pv_free(probview *v) { free(v->p); free(v->c); }

static void pv_row(probview *v, size_t i, const float **p, const int32_t **c)
{
    const ordo_rank_input *in = v->in;
    size_t k = (size_t)in->k;
    if (in->top_class) {
        *p = in->top_prob + i * k;
        *c = in->top_class + i * k;
        return;
    }
    const float *row = in->top_prob + i * k;
    for (size_t j = 0; j < k; j++) { v->p[j] = row[j]; v->c[j] = (int32_t)j; }
    /* insertion sort descending (C is small for dense models) */
    for (size_t j = 1; j < k; j++) {
        float pp = v->p[j];
        int32_t cc = v->c[j];
        size_t t = j;
        while (t > 0 && v->p[t - 1] < pp) { v->p[t] = v->p[t - 1]; v->c[t] = v->c[t - 1]; t--; }
        v->p[t] = pp;
        v->c[t] = cc;
    }
    *p = v->p;
    *c = v->c;
}

/* ---- composer state ---------------------------------------------------------- */

typedef struct {
    const ordo_rank_input *in;
    const ordo_rank_opts *o;
    size_t n;
    int d;                   /* PCA dims (0: no embeddings) */
    const float *y;          /* n x d */
    ordo_rank_space *sp;
    float *rawa, *rawb;      /* dim: original rows for exact cosines */
    float *rawitem;          /* cap x dim: original rows of the batch items */
    float *rawlab;           /* nlab x dim, read on first need */
    int rawlab_failed;
    uint8_t *taken;          /* n: labeled or picked */
    float *w;                /* n: relevance weight */
    uint8_t *low;            /* n: bit 0 prior < low_prior; bit 1 on the learned
                                filter's boundary (|prior - 0.5| < boundary_band) */
    float *bs;               /* n: 0.5 - |prior - 0.5|, the boundary picks' score */
    float *u, *novel, *nn, *outlier, *energy;
    int32_t *assign;         /* n or NULL */
    int32_t *top;            /* n: predicted class */
    size_t *lab;             /* labeled rows */
    size_t nlab;
    /* Labeled rows outside the evaluation sample: the ones a model trains
     * on. Only they (and non-eval picks) count as covering the collection
     * for diversity and novelty; eval labels only measure, so a region
     * whose only labels are eval labels still needs training labels. */
    size_t *tlab;
    size_t ntlab;
    const uint8_t *evalf;    /* n or NULL: in the evaluation sample */
    ordo_rank_item *items;   /* picks in pick order */
    size_t nitems, cap;
    size_t dropped;
    ordo_rank_rng rng;
    int k;
    /* clusters: CSR of members */
    size_t *cstart, *cmem;
    size_t *ccov;            /* labeled + picked per cluster */
    float *typ_cache;        /* per pick bookkeeping: typicality of picked rows */
    float *kc_dist;          /* per item: k-center distance (NaN) */
    float *item_typ;
    ordo_err *err;
} composer;

/* Near-duplicate check: cosine of the original embeddings above the
 * threshold to a batch item or a labeled image. The PCA projection never
 * lengthens a distance, so ||y_a - y_b||^2 >= |a|^2 + |b|^2 - 2|a||b| th
 * proves cos(a, b) <= th without touching the original rows; only pairs
 * that pass this filter are read back and compared exactly. */
static const float *raw_row(composer *cp, size_t row, float *buf)
{
    if (cp->in->read_rows(cp->in->read_ctx, row, 1, buf, NULL) < 0) return NULL;
    return buf;
}

/* Original rows of the labeled images, read once (at most ~10k x dim floats)
 * the first time a pair needs an exact check. */
static const float *raw_labeled(composer *cp, size_t t)
{
    size_t D = (size_t)cp->in->dim;
    if (!cp->rawlab && !cp->rawlab_failed) {
        cp->rawlab = malloc(cp->nlab * D * sizeof *cp->rawlab);
        for (size_t i = 0; cp->rawlab && i < cp->nlab; i++)
            if (!raw_row(cp, cp->lab[i], cp->rawlab + i * D)) { free(cp->rawlab); cp->rawlab = NULL; }
        if (!cp->rawlab) cp->rawlab_failed = 1;
    }
    if (cp->rawlab) return cp->rawlab + t * D;
    return raw_row(cp, cp->lab[t], cp->rawb);
}

/* 1 if the batch already holds a row of row's near-duplicate group */
static int group_taken(const composer *cp, size_t row)
{
    const int64_t *g = cp->in->group;
    if (!g || g[row] < 0) return 0;
    for (size_t t = 0; t < cp->nitems; t++)
        if (g[cp->items[t].row] == g[row]) return 1;
    return 0;
}

static int is_dupe(composer *cp, size_t row)
{
    if (group_taken(cp, row)) return 1;
    double th = cp->o->dedupe_cosine;
    if (!cp->d || !(th < 1)) return 0;
    int d = cp->d, D = cp->in->dim;
    const float *a = cp->y + row * d;
    float na = ordo_rank_space_rawnorm(cp->sp, row);
    if (!(na > 0)) return 0;
    int have_a = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t cnt = pass ? cp->nlab : cp->nitems;
        for (size_t t = 0; t < cnt; t++) {
            size_t r = pass ? cp->lab[t] : cp->items[t].row;
            float nb = ordo_rank_space_rawnorm(cp->sp, r);
            if (!(nb > 0)) continue;
            const float *b = cp->y + r * d;
            float pd = 0;
            for (int j = 0; j < d; j++) { float e = a[j] - b[j]; pd += e * e; }
            double bound = (double)na * na + (double)nb * nb - 2.0 * na * nb * th;
            if (pd > bound * 1.001 + 1e-6 * na * nb) continue;   /* slack for rounding */
            if (!have_a) {
                if (!raw_row(cp, row, cp->rawa)) return 0;
                have_a = 1;
            }
            const float *rb = pass ? raw_labeled(cp, t) : cp->rawitem + t * (size_t)D;
            if (!rb) continue;
            double dot = cblas_sdot(D, cp->rawa, 1, rb, 1);
            if (dot / ((double)na * nb) > th) return 1;
        }
    }
    return 0;
}

static int add_item(composer *cp, size_t row, ordo_rank_reason reason, float score, int low,
                    float typ, float kcd)
{
    if (cp->nitems == cp->cap) return -1;   /* sized to the batch; never happens */
    ordo_rank_item *it = &cp->items[cp->nitems];
    memset(it, 0, sizeof *it);
    it->row = row;
    it->reason = reason;
    it->score = score;
    it->low_prior = low;
    if (cp->rawitem) {
        size_t D = (size_t)cp->in->dim;
        if (!raw_row(cp, row, cp->rawitem + cp->nitems * D))
            memset(cp->rawitem + cp->nitems * D, 0, D * sizeof *cp->rawitem);
    }
    cp->item_typ[cp->nitems] = typ;
    cp->kc_dist[cp->nitems] = kcd;
    cp->nitems++;
    cp->taken[row] = 1;
    if (cp->assign && reason != ORDO_RANK_EVAL) cp->ccov[cp->assign[row]]++;
    return 0;
}

/* Eligible for a non-eval pick in this mode: free, and low-prior if low is
 * 1, on the filter's boundary if low is 2. */
static int eligible(const composer *cp, size_t i, int low)
{
    return !cp->taken[i] && (!low || (cp->low[i] & low));
}

/* Uncertain picks, diversified as Cluster-Margin (Citovsky et al. 2021)
 * intends but in the order of the score: walk the CAND_FACTOR x quota most
 * uncertain rows (at least half as uncertain as the quota-th) best first,
 * taking a row only if its k-means cluster has no non-eval batch item yet;
 * then walk again allowing a second per cluster, and so on. The paper's
 * round robin from the smallest group up, with k about the batch plus the
 * labels (many clusters holding one or two candidates), took one-candidate
 * clusters in id order whatever their rank: close to a random draw from the
 * top 10 x quota, which on sports100 needed 985 labels to reach random's
 * 1,000-label accuracy where plain margin needs 796 (docs/rank.md). */
static size_t pick_clustered(composer *cp, const float *base, ordo_rank_reason reason,
                             size_t quota, int low)
{
    if (!quota || !base) return 0;
    size_t n = cp->n, got = 0, M = quota * CAND_FACTOR;
    uint8_t *el = malloc(n);
    float *s = malloc(n * sizeof *s);
    if (!el || !s) { free(el); free(s); return 0; }
    for (size_t i = 0; i < n; i++) {
        el[i] = (uint8_t)eligible(cp, i, low);
        s[i] = low ? base[i] : base[i] * cp->w[i];
    }
    size_t m;
    scored *c = top_m(s, n, el, M, &m);
    free(el);
    free(s);
    if (!c) return 0;
    /* Never trade a very uncertain image for a nearly certain one for the
     * sake of diversity: keep candidates at least half as uncertain as the
     * quota-th most uncertain. */
    if (m > quota) {
        float floor_s = 0.5f * c[quota - 1].s;
        while (m > quota && c[m - 1].s < floor_s) m--;
    }
    size_t k = cp->assign ? (size_t)cp->k : 0;
    size_t *per = k ? calloc(k, sizeof *per) : NULL;   /* batch items per cluster */
    uint8_t *done = calloc(m ? m : 1, 1);
    if ((k && !per) || !done) { free(per); free(done); free(c); return 0; }
    for (size_t t = 0; per && t < cp->nitems; t++)
        if (cp->items[t].reason != ORDO_RANK_EVAL) per[cp->assign[cp->items[t].row]]++;
    for (size_t cap = 1; got < quota; cap++) {
        size_t before = got, left = 0;
        for (size_t t = 0; t < m && got < quota; t++) {
            if (done[t]) continue;
            size_t row = c[t].row;
            if (cp->taken[row]) { done[t] = 1; continue; }
            if (per && per[cp->assign[row]] >= cap) { left++; continue; }
            done[t] = 1;
            if (is_dupe(cp, row)) { cp->dropped++; continue; }
            add_item(cp, row, reason, c[t].s, low, NAN, NAN);
            if (per) per[cp->assign[row]]++;
            got++;
        }
        if (got == before && !left) break;
        if (!per) break;
    }
    free(per); free(done); free(c);
    return got;
}

static size_t pick_uncertain(composer *cp, size_t quota, int low)
{
    return pick_clustered(cp, cp->u, ORDO_RANK_UNCERTAIN, quota, low);
}

/* Novel picks: the most novel first, spread over clusters the same way, so
 * one odd corner of the collection cannot take the whole share. */
static size_t pick_novel(composer *cp, size_t quota, int low)
{
    return pick_clustered(cp, cp->novel, ORDO_RANK_NOVEL, quota, low);
}

/* Coverage: labels (coarse WordNet groups, then predicted classes) that no
 * labeled or batch image has yet, largest first; each gets its most
 * confident eligible example. */
static size_t pick_coverage(composer *cp, size_t quota, int low)
{
    const ordo_rank_input *in = cp->in;
    size_t got = 0, n = cp->n;
    for (int level = 0; level < 2 && got < quota; level++) {
        int coarse = level == 0;
        if (coarse && !in->coarse) continue;
        size_t G = coarse ? (size_t)in->n_coarse + 1 : (size_t)in->n_classes;
        size_t *count = calloc(G, sizeof *count), *best = malloc(G * sizeof *best);
        uint8_t *cov = calloc(G, 1);
        float *bs = malloc(G * sizeof *bs);
        if (!count || !best || !cov || !bs) { free(count); free(best); free(cov); free(bs); return got; }
        for (size_t g = 0; g < G; g++) bs[g] = -1;
        for (size_t i = 0; i < n; i++) {
            int32_t c = cp->top[i];
            if (c < 0 || c >= in->n_classes) continue;
            size_t g = coarse ? (size_t)(in->coarse[c] >= 0 && in->coarse[c] < in->n_coarse ? in->coarse[c] : in->n_coarse)
                              : (size_t)c;
            if (cp->taken[i] == 1) {   /* labeled or picked: covered unless eval */
                if (!(cp->evalf && cp->evalf[i])) cov[g] = 1;
                continue;
            }
            if (!eligible(cp, i, low)) continue;
            count[g]++;
            float p1 = in->top_class ? in->top_prob[i * in->k] : in->top_prob[i * in->k + c];
            float s = low ? p1 : p1 * cp->w[i];
            if (count[g] == 1 || s > bs[g]) { bs[g] = s; best[g] = i; }
        }
        for (;;) {
            if (got >= quota) break;
            size_t bg = G;
            for (size_t g = 0; g < G; g++)
                if (!cov[g] && count[g] && (bg == G || count[g] > count[bg])) bg = g;
            if (bg == G) break;
            cov[bg] = 1;
            size_t r = best[bg];
            if (is_dupe(cp, r)) { cp->dropped++; continue; }
            add_item(cp, r, ORDO_RANK_DIVERSE, bs[bg], low, NAN, NAN);
            got++;
        }
        free(count); free(best); free(cov); free(bs);
    }
    return got;
}

/* TypiClust (Hacohen et al. 2022) for the cold start: repeatedly take the
 * cluster with the largest (relevance-weighted) size per image already
 * covering it, and from it the most typical eligible member. */
static size_t pick_typiclust(composer *cp, size_t quota, int low)
{
    size_t k = (size_t)cp->k, got = 0;
    double *size = calloc(k, sizeof *size);
    uint8_t *dead = calloc(k, 1);
    if (!size || !dead) { free(size); free(dead); return 0; }
    for (size_t i = 0; i < cp->n; i++)
        if (!cp->taken[i] && (!low || (cp->low[i] & low))) size[cp->assign[i]] += low ? 1.0 : cp->w[i];
    size_t *mem = malloc(TYPI_CAP * sizeof *mem);
    float *typ = malloc(TYPI_CAP * sizeof *typ);
    while (got < quota && mem && typ) {
        size_t bc = k;
        double bp = 0;
        for (size_t c = 0; c < k; c++) {
            if (dead[c] || !(size[c] > 0)) continue;
            double pr = size[c] / (1.0 + (double)cp->ccov[c]);
            if (pr > bp) { bp = pr; bc = c; }
        }
        if (bc == k) break;
        /* members (seeded sample of at most TYPI_CAP) */
        size_t m0 = cp->cstart[bc], m = cp->cstart[bc + 1] - m0, mm = 0;
        if (m <= TYPI_CAP) {
            for (size_t t = 0; t < m; t++) mem[mm++] = cp->cmem[m0 + t];
        } else {
            ordo_rank_rng r;
            ordo_rank_rng_seed(&r, cp->o->seed ^ ordo_hash_mix64(bc + 0x7479ULL));
            /* selection sampling (Knuth's algorithm S): ordered, exact size */
            for (size_t t = 0; t < m && mm < TYPI_CAP; t++)
                if (ordo_rank_rng_below(&r, m - t) < TYPI_CAP - mm) mem[mm++] = cp->cmem[m0 + t];
        }
        if (ordo_rank_typicality(cp->y, cp->d, mem, mm, TYPI_K, typ, cp->err) < 0) break;
        size_t bi = mm;
        float bt = -1;
        for (size_t t = 0; t < mm; t++) {
            size_t r = mem[t];
            if (!eligible(cp, r, low)) continue;
            float s = low ? typ[t] : typ[t] * cp->w[r];
            if (s > bt) { bt = s; bi = t; }
        }
        if (bi == mm) { dead[bc] = 1; continue; }
        size_t row = mem[bi];
        if (is_dupe(cp, row)) {
            cp->dropped++;
            cp->taken[row] = 2;   /* skipped for this batch, not picked */
            continue;
        }
        add_item(cp, row, ORDO_RANK_DIVERSE, typ[bi], low, typ[bi], NAN);
        size[bc] -= low ? 1.0 : cp->w[row];
        got++;
    }
    free(mem); free(typ); free(size); free(dead);
    return got;
}

/* The row-parallel passes, split over processes when the input has an
 * executor (rank.h: ordo_rank_exec); the results are the same either way. */
static int run_nearest(composer *cp, const float *x, size_t n, const float *ref, size_t m,
                       int d, int kth, const int64_t *skip, float *dist2, int32_t *idx)
{
    const ordo_rank_exec *e = cp->in->exec;
    if (!e)
        return ordo_rank_nearest(x, n, ref, m, d, kth, skip, dist2, idx, cp->err);
    size_t lo, hi;
    e->part(e->ctx, n, ORDO_RANK_EXEC_ALIGN, &lo, &hi);
    if (hi > lo && ordo_rank_nearest(x + lo * d, hi - lo, ref, m, d, kth, skip ? skip + lo : NULL,
                                     dist2 ? dist2 + lo : NULL, idx ? idx + lo : NULL,
                                     cp->err) < 0)
        return -1;
    if (dist2 && e->gather(e->ctx, dist2, n, sizeof *dist2, ORDO_RANK_EXEC_ALIGN, cp->err) < 0)
        return -1;
    if (idx && e->gather(e->ctx, idx, n, sizeof *idx, ORDO_RANK_EXEC_ALIGN, cp->err) < 0)
        return -1;
    return 0;
}

/* ordo_rank_kcenter_step over the process's part, then the best over all
 * parts; mind2[best] is made right everywhere (the rest of mind2 is only
 * current in the part a process owns). 1, 0 (none), or -1. */
static int run_kcenter_step(composer *cp, const float *x, size_t n, int d, float *mind2,
                            const uint8_t *elig, const float *w, const float *c, size_t *best)
{
    const ordo_rank_exec *e = cp->in->exec;
    if (!e)
        return ordo_rank_kcenter_step(x, n, d, mind2, elig, w, c, best);
    size_t lo, hi, b = 0;
    e->part(e->ctx, n, ORDO_RANK_EXEC_ALIGN, &lo, &hi);
    int found = hi > lo && ordo_rank_kcenter_step(x + lo * d, hi - lo, d, mind2 + lo,
                                                  elig ? elig + lo : NULL, w ? w + lo : NULL, c,
                                                  &b);
    size_t row = lo + b;
    float value = found ? ordo_rank_kcenter_score(mind2[row], w ? w[row] : 1.0f) : 0;
    float aux = found ? mind2[row] : 0;
    if (e->best(e->ctx, &found, &value, &row, &aux, cp->err) < 0)
        return -1;
    if (!found)
        return 0;
    mind2[row] = aux;
    *best = row;
    return 1;
}

/* k-center greedy (core-set, Sener & Savarese 2018) once labels exist:
 * the eligible image farthest (times its relevance weight) from every
 * labeled and batch image. */
static size_t pick_kcenter(composer *cp, size_t quota, int low)
{
    size_t n = cp->n, got = 0;
    /* distances to the labeled set were computed for novelty (cp->nn);
     * only the batch so far is new */
    int reuse = cp->ntlab && cp->nn;
    size_t nc = (reuse ? 0 : cp->ntlab) + cp->nitems;
    int d = cp->d;
    float *mind2 = malloc(n * sizeof *mind2), *ref = malloc((nc ? nc : 1) * (size_t)d * sizeof *ref);
    uint8_t *el = malloc(n);
    if (!mind2 || !ref || !el) goto out;
    nc = 0;   /* training labels (unless reused), then the non-eval batch items */
    for (size_t t = 0; !reuse && t < cp->ntlab; t++)
        memcpy(ref + nc++ * d, cp->y + cp->tlab[t] * d, (size_t)d * sizeof *ref);
    for (size_t t = 0; t < cp->nitems; t++)
        if (cp->items[t].reason != ORDO_RANK_EVAL)
            memcpy(ref + nc++ * d, cp->y + cp->items[t].row * d, (size_t)d * sizeof *ref);
    if (nc) {
        if (run_nearest(cp, cp->y, n, ref, nc, d, 1, NULL, mind2, NULL) < 0) goto out;
    } else {
        for (size_t i = 0; i < n; i++) mind2[i] = INFINITY;
    }
    if (reuse)
        for (size_t i = 0; i < n; i++) {
            float v = cp->nn[i] * cp->nn[i];
            if (v < mind2[i]) mind2[i] = v;
        }
    for (size_t i = 0; i < n; i++) el[i] = (uint8_t)eligible(cp, i, low);
    const float *c = NULL;
    while (got < quota) {
        size_t b;
        if (run_kcenter_step(cp, cp->y, n, d, mind2, el, low ? NULL : cp->w, c, &b) <= 0) break;
        c = NULL;
        el[b] = 0;
        if (is_dupe(cp, b)) { cp->dropped++; continue; }
        float dist = sqrtf(mind2[b]);
        add_item(cp, b, ORDO_RANK_DIVERSE, isinf(dist) ? 0 : dist, low, NAN, dist);
        mind2[b] = 0;
        c = cp->y + b * d;
        got++;
    }
out:
    free(mind2); free(ref); free(el);
    return got;
}

static size_t pick_diverse(composer *cp, size_t quota, int low)
{
    if (!quota) return 0;
    size_t qc = (size_t)floor(quota * cp->o->coverage_share + 0.5), got = 0;
    got += pick_coverage(cp, qc < quota ? qc : quota, low);
    if (got < quota && cp->assign) {
        /* Cold start while clusters are still uncovered by labels. */
        if (cp->ntlab < (size_t)cp->k) got += pick_typiclust(cp, quota - got, low);
        else got += pick_kcenter(cp, quota - got, low);
    }
    if (got < quota) got += pick_coverage(cp, quota - got, low);
    return got;
}

/* ---- the composer --------------------------------------------------------------- */

void ordo_rank_batch_free(ordo_rank_batch *b)
{
    if (!b) return;
    free(b->items);
    free(b);
}

static void quotas(size_t N, const double *mix, size_t *q)
{
    double sum = 0;
    for (int r = 0; r < ORDO_RANK_NREASONS; r++) sum += mix[r] > 0 ? mix[r] : 0;
    size_t tot = 0;
    double rem[ORDO_RANK_NREASONS];
    for (int r = 0; r < ORDO_RANK_NREASONS; r++) {
        double x = sum > 0 && mix[r] > 0 ? N * mix[r] / sum : 0;
        q[r] = (size_t)floor(x);
        rem[r] = x - q[r];
        tot += q[r];
    }
    while (tot < N) {   /* largest remainder, ties to the earlier reason */
        int b = -1;
        for (int r = 0; r < ORDO_RANK_NREASONS; r++)
            if (mix[r] > 0 && (b < 0 || rem[r] > rem[b])) b = r;
        if (b < 0) b = ORDO_RANK_DIVERSE;
        q[b]++;
        rem[b] = -1;
        tot++;
    }
}

static void fill_scores(const composer *cp, probview *pv, size_t row, ordo_rank_scores *s)
{
    const ordo_rank_input *in = cp->in;
    const float *p;
    const int32_t *c;
    pv_row(pv, row, &p, &c);
    ordo_rank_uin u = {p, c, in->k, in->n_classes, in->entropy ? in->entropy[row] : -1,
                       in->coarse, in->n_coarse};
    int nu;
    const ordo_rank_uncert_def *ud = ordo_rank_uncerts(&nu);
    for (int j = 0; j < nu; j++)
        s->uncert[j] = ud[j].needs_coarse_else && !in->coarse ? NAN : ud[j].fn(&u);
    for (int j = nu; j < ORDO_RANK_MAX_UNCERT; j++)
        s->uncert[j] = NAN;
    s->uncertain = cp->u[row] * cp->w[row];
    s->outlier = cp->outlier ? cp->outlier[row] : NAN;
    s->energy = cp->energy ? cp->energy[row] : NAN;
    s->nn_dist = cp->nn ? cp->nn[row] : NAN;
    s->novel = cp->novel ? cp->novel[row] * cp->w[row] : NAN;
    s->prior = in->prior && !isnan(in->prior[row]) ? in->prior[row] : 1.0f;
    s->cluster = cp->assign ? cp->assign[row] : -1;
    s->typicality = NAN;
    s->kcenter_dist = NAN;
}

/* Row i's top probabilities on max_logit's scale (see ordo_rank_input.logit_prob). */
static void logit_row(probview *v, size_t i, const float **p, const int32_t **c)
{
    const ordo_rank_input *in = v->in;
    if (in->logit_prob) {
        *p = in->logit_prob + i * (size_t)in->logit_k;
        *c = NULL;   /* class ids are not needed for novelty */
        return;
    }
    pv_row(v, i, p, c);
}

static int novelty(composer *cp, double *secs)
{
    const ordo_rank_input *in = cp->in;
    size_t n = cp->n;
    double t0 = ordo_clock_mono();
    ordo_rank_rng r;
    ordo_rank_rng_seed(&r, cp->o->seed ^ 0x6e6f76656cULL);
    /* model-based scores need the logit scale: z_j = max_logit + ln(p_j / p_1) */
    if (in->max_logit) {
        cp->outlier = malloc(n * sizeof *cp->outlier);
        cp->energy = malloc(n * sizeof *cp->energy);
        if (!cp->outlier || !cp->energy) return ordo_err_set(cp->err, "rank: out of memory (novelty)");
        /* the probabilities on max_logit's scale: the pretrained network's
         * own (logit_prob) when the ranking model is another one */
        int lk = in->logit_prob ? in->logit_k : in->k;
        int kk = lk < OUTLIER_TOPK ? lk : OUTLIER_TOPK;
        probview pv;
        if (pv_init(&pv, in) < 0) { pv_free(&pv); return ordo_err_set(cp->err, "rank: out of memory"); }
        /* Reference logits: the labeled images when there are enough (the
         * data the model is now validated on), else a seeded pool sample. */
        size_t nref = cp->nlab >= 50 ? cp->nlab : (n < OUTLIER_REF ? n : OUTLIER_REF);
        float *ref = malloc((size_t)kk * (nref ? nref : 1) * sizeof *ref);
        size_t *cnt = calloc((size_t)kk, sizeof *cnt);
        if (!ref || !cnt) { free(ref); free(cnt); pv_free(&pv); return ordo_err_set(cp->err, "rank: out of memory"); }
        for (size_t t = 0; t < nref; t++) {
            size_t i = cp->nlab >= 50 ? cp->lab[t] : (size_t)ordo_rank_rng_below(&r, n);
            const float *p; const int32_t *c;
            logit_row(&pv, i, &p, &c);
            for (int j = 0; j < kk; j++)
                if (p[j] > 0 && p[0] > 0 && isfinite(in->max_logit[i]))
                    ref[(size_t)j * nref + cnt[j]++] = in->max_logit[i] + logf(p[j] / p[0]);
        }
        for (int j = 0; j < kk; j++) qsort(ref + (size_t)j * nref, cnt[j], sizeof *ref, flt_cmp);
        for (size_t i = 0; i < n; i++) {
            const float *p; const int32_t *c;
            logit_row(&pv, i, &p, &c);
            float ml = in->max_logit[i];
            if (!isfinite(ml) || !(p[0] > 0)) { cp->outlier[i] = cp->energy[i] = NAN; continue; }
            /* energy score E = -logsumexp(z) (Liu et al. 2020); lse = z1 - ln p1 */
            cp->energy[i] = -(ml - logf(p[0]));
            /* Munro's model-based outlier: 1 - mean percentile of the top
             * logits among the reference sample's logits of the same rank. */
            double acc = 0;
            int used = 0;
            for (int j = 0; j < kk; j++) {
                if (!(p[j] > 0) || !cnt[j]) continue;
                acc += pct_of(ref + (size_t)j * nref, cnt[j], ml + logf(p[j] / p[0]));
                used++;
            }
            cp->outlier[i] = used ? (float)(1.0 - acc / used) : NAN;
        }
        free(ref); free(cnt); pv_free(&pv);
    }
    /* nearest-neighbour distance: to the labeled set, or (no labels) the
     * NOVEL_KTH-th neighbour among a pool sample (low density = novel). */
    if (cp->d) {
        cp->nn = malloc(n * sizeof *cp->nn);
        if (!cp->nn) return ordo_err_set(cp->err, "rank: out of memory (novelty)");
        int d = cp->d;
        if (cp->ntlab) {
            float *L = malloc(cp->ntlab * (size_t)d * sizeof *L);
            if (!L) return ordo_err_set(cp->err, "rank: out of memory (labeled matrix)");
            for (size_t t = 0; t < cp->ntlab; t++) memcpy(L + t * d, cp->y + cp->tlab[t] * d, (size_t)d * sizeof *L);
            int rc = run_nearest(cp, cp->y, n, L, cp->ntlab, d, 1, NULL, cp->nn, NULL);
            free(L);
            if (rc < 0) return -1;
        } else {
            size_t m = n < NOVEL_REF ? n : NOVEL_REF;
            int kth = m - 1 < NOVEL_KTH ? (int)(m > 1 ? m - 1 : 1) : NOVEL_KTH;
            float *R = malloc(m * (size_t)d * sizeof *R);
            int64_t *skip = malloc(n * sizeof *skip);
            size_t *pick = malloc(m * sizeof *pick);
            if (!R || !skip || !pick) { free(R); free(skip); free(pick); return ordo_err_set(cp->err, "rank: out of memory"); }
            size_t mm = 0;
            for (size_t t = 0; t < n && mm < m; t++)   /* selection sampling, ordered */
                if (ordo_rank_rng_below(&r, n - t) < m - mm) pick[mm++] = t;
            for (size_t i = 0; i < n; i++) skip[i] = -1;
            for (size_t t = 0; t < mm; t++) {
                memcpy(R + t * d, cp->y + pick[t] * d, (size_t)d * sizeof *R);
                skip[pick[t]] = (int64_t)t;   /* a sampled row is not its own neighbour */
            }
            int rc = run_nearest(cp, cp->y, n, R, mm, d, kth, skip, cp->nn, NULL);
            free(R); free(skip); free(pick);
            if (rc < 0) return -1;
        }
        for (size_t i = 0; i < n; i++) cp->nn[i] = sqrtf(cp->nn[i]);
    }
    /* combined: mean of the available percentiles */
    const float *parts[3] = { cp->outlier, cp->energy, cp->nn };
    float *refs[3] = { NULL, NULL, NULL };
    size_t nr[3] = { 0, 0, 0 };
    int np = 0;
    for (int t = 0; t < 3; t++)
        if (parts[t]) { nr[t] = pct_ref(parts[t], n, &r, &refs[t]); np++; }
    if (np) {
        cp->novel = malloc(n * sizeof *cp->novel);
        if (!cp->novel) { for (int t = 0; t < 3; t++) free(refs[t]); return ordo_err_set(cp->err, "rank: out of memory"); }
        for (size_t i = 0; i < n; i++) {
            double a = 0;
            int u = 0;
            for (int t = 0; t < 3; t++) {
                if (!parts[t]) continue;
                float pc = pct_of(refs[t], nr[t], parts[t][i]);
                if (!isnan(pc)) { a += pc; u++; }
            }
            cp->novel[i] = u ? (float)(a / u) : NAN;
        }
    }
    for (int t = 0; t < 3; t++) free(refs[t]);
    *secs = ordo_clock_mono() - t0;
    return 0;
}

ordo_rank_batch *ordo_rank_compose(const ordo_rank_input *in, const ordo_rank_opts *o,
                                   ordo_err *err)
{
    double t_start = ordo_clock_mono(), t = t_start;
    if (!in || !o) return ordo_err_set(err, "rank: no input"), NULL;
    if (in->n == 0) return ordo_err_set(err, "rank: the pool is empty"), NULL;
    if (in->n_classes < 2 || in->k < 1 || in->k > in->n_classes || !in->top_prob)
        return ordo_err_set(err, "rank: need k in 1..C probabilities per image (k=%d, C=%d)",
                            in->k, in->n_classes), NULL;
    if (!in->top_class && in->k != in->n_classes)
        return ordo_err_set(err, "rank: top-k probabilities need their class ids"), NULL;
    if (in->coarse && in->n_coarse < 1)
        return ordo_err_set(err, "rank: coarse map without groups"), NULL;
    if (in->logit_prob && in->logit_k < 1)
        return ordo_err_set(err, "rank: logit_prob without logit_k"), NULL;

    composer cp;
    memset(&cp, 0, sizeof cp);
    cp.in = in;
    cp.o = o;
    cp.n = in->n;
    cp.err = err;
    size_t n = in->n;
    ordo_rank_batch *b = calloc(1, sizeof *b);
    ordo_rank_space *sp = NULL;
    float *cent = NULL;
    uint8_t *evalbuf = NULL;
    scored *ev = NULL;
    probview pv = { 0 };
    size_t N = o->batch;
    cp.cap = N;
    cp.items = malloc((N ? N : 1) * sizeof *cp.items);
    cp.item_typ = malloc((N ? N : 1) * sizeof *cp.item_typ);
    cp.kc_dist = malloc((N ? N : 1) * sizeof *cp.kc_dist);
    cp.taken = calloc(n, 1);
    cp.low = calloc(n, 1);
    cp.bs = malloc(n * sizeof *cp.bs);
    cp.w = malloc(n * sizeof *cp.w);
    cp.u = malloc(n * sizeof *cp.u);
    cp.top = malloc(n * sizeof *cp.top);
    if (!b || !cp.items || !cp.item_typ || !cp.kc_dist || !cp.taken || !cp.low || !cp.bs || !cp.w || !cp.u ||
        !cp.top || pv_init(&pv, in) < 0)
        goto oom;

    /* 1. labeled set, relevance weights, uncertainty */
    for (size_t i = 0; i < n; i++)
        if (in->labeled && in->labeled[i]) cp.nlab++;
    cp.lab = malloc((cp.nlab ? cp.nlab : 1) * sizeof *cp.lab);
    if (!cp.lab) goto oom;
    cp.nlab = 0;
    const char *uname = o->uncertainty && strcmp(o->uncertainty, "auto") ? o->uncertainty
                        : in->coarse ? "hier" : "margin";
    int nu, ui = ordo_rank_uncert_find(uname);
    const ordo_rank_uncert_def *ud = ordo_rank_uncerts(&nu);
    if (ui >= 0 && ud[ui].needs_coarse_else && !in->coarse)
        ui = ordo_rank_uncert_find(ud[ui].needs_coarse_else);
    if (ui < 0) {
        ordo_err_set(err, "unknown uncertainty score '%s'", uname);
        goto fail;
    }
    float (*ufn)(const ordo_rank_uin *) = ud[ui].fn;
    int any_low = 0, any_bnd = 0;
    for (size_t i = 0; i < n; i++) {
        if (in->labeled && in->labeled[i]) { cp.lab[cp.nlab++] = i; cp.taken[i] = 1; }
        float pr = in->prior ? in->prior[i] : 1.0f;
        if (isnan(pr)) pr = 1;
        pr = pr < 0 ? 0 : pr > 1 ? 1 : pr;
        cp.w[i] = (float)(o->prior_floor + (1 - o->prior_floor) * pr);
        cp.low[i] = pr < o->low_prior;
        if (cp.low[i] && !cp.taken[i]) any_low = 1;
        cp.bs[i] = 0.5f - fabsf(pr - 0.5f);
        if (in->prior_learned && fabsf(pr - 0.5f) < o->boundary_band) {
            cp.low[i] |= 2;
            if (!cp.taken[i]) any_bnd = 1;
        }
        const float *p; const int32_t *c;
        pv_row(&pv, i, &p, &c);
        cp.top[i] = c[0];
        ordo_rank_uin u = {p, c, in->k, in->n_classes, in->entropy ? in->entropy[i] : -1,
                           in->coarse, in->n_coarse};
        cp.u[i] = ufn(&u);
    }
    b->seconds[0] = ordo_clock_mono() - t;

    /* 2. evaluation sample, labeled in order of its hash key */
    /* With no sample given and no eval share asked for, there is no
     * evaluation sample to protect (single-strategy runs). */
    const uint8_t *evalf = in->eval;
    if (!evalf && (o->mix_auto || o->mix[ORDO_RANK_EVAL] > 0)) {
        size_t m = ordo_rank_eval_size(o->eval_half_width, o->eval_p, 1.96, n);
        evalbuf = malloc(n);
        if (!evalbuf) goto oom;
        if (ordo_rank_eval_sample(in->ids, n, m, o->seed, evalbuf, err) < 0) goto fail;
        evalf = evalbuf;
    }
    size_t nev = 0;
    for (size_t i = 0; evalf && i < n; i++) if (evalf[i] && !cp.taken[i]) nev++;
    ev = malloc((nev ? nev : 1) * sizeof *ev);
    if (!ev) goto oom;
    nev = 0;
    for (size_t i = 0; evalf && i < n; i++)
        if (evalf[i] && !cp.taken[i])
            ev[nev++] = (scored){ (float)-ordo_rank_eval_key(o->seed, in->ids ? in->ids[i] : i), i };
    qsort(ev, nev, sizeof *ev, sc_cmp);

    /* quotas: the eval share is capped by what is left of the sample; the
     * rest goes to the other reasons in proportion to their mix */
    size_t free_rows = n - cp.nlab;
    if (N > free_rows) N = free_rows;
    /* the mix: the default schedule over the labels outside the evaluation
     * sample (ordo_rank_default_mix), or the caller's fixed one */
    double mix[ORDO_RANK_NREASONS];
    memcpy(mix, o->mix, sizeof mix);
    cp.evalf = evalf;
    cp.tlab = malloc((cp.nlab ? cp.nlab : 1) * sizeof *cp.tlab);
    if (!cp.tlab) goto oom;
    for (size_t t = 0; t < cp.nlab; t++)
        if (!(evalf && evalf[cp.lab[t]])) cp.tlab[cp.ntlab++] = cp.lab[t];
    if (o->mix_auto) ordo_rank_default_mix(cp.ntlab, in->n_classes, mix);
    memcpy(b->mix, mix, sizeof mix);
    size_t q[ORDO_RANK_NREASONS];
    quotas(N, mix, q);
    if (q[ORDO_RANK_EVAL] > nev) {
        double mix2[ORDO_RANK_NREASONS];
        memcpy(mix2, mix, sizeof mix2);
        mix2[ORDO_RANK_EVAL] = 0;
        int any = 0;
        for (int r = 1; r < ORDO_RANK_NREASONS; r++) any |= mix2[r] > 0;
        if (!any) mix2[ORDO_RANK_DIVERSE] = 1;
        quotas(N - nev, mix2, q);
        q[ORDO_RANK_EVAL] = nev;
    }
    /* non-eval picks exclude the whole evaluation sample: it stays random */
    for (size_t i = 0; evalf && i < n; i++) if (evalf[i]) cp.taken[i] = cp.taken[i] ? cp.taken[i] : 3;

    /* 3. reduced space and clusters */
    int need_space = in->read_rows && (q[ORDO_RANK_UNCERTAIN] || q[ORDO_RANK_NOVEL] || q[ORDO_RANK_DIVERSE]);
    if (need_space) {
        t = ordo_clock_mono();
        sp = ordo_rank_space_build(in, o->pca_dim > 0 ? o->pca_dim : 64,
                                   o->pca_sample ? o->pca_sample : 10000, o->seed, err);
        if (!sp) goto fail;
        cp.d = ordo_rank_space_dim(sp);
        cp.y = ordo_rank_space_row(sp, 0);
        b->pca_explained = ordo_rank_space_explained(sp);
        b->seconds[1] = ordo_clock_mono() - t;
        t = ordo_clock_mono();
        cp.sp = sp;
        cp.rawa = malloc((size_t)in->dim * sizeof *cp.rawa);
        cp.rawb = malloc((size_t)in->dim * sizeof *cp.rawb);
        if (o->dedupe_cosine < 1)
            cp.rawitem = malloc((N ? N : 1) * (size_t)in->dim * sizeof *cp.rawitem);
        if (!cp.rawa || !cp.rawb || (o->dedupe_cosine < 1 && !cp.rawitem)) goto oom;
        int k = o->kmeans_k;
        if (k <= 0) {
            size_t a = N + cp.ntlab;
            k = a < 8 ? 8 : a > 1000 ? 1000 : (int)a;
            if ((size_t)k > n / 4) k = (int)(n / 4);
            if (k < 1) k = 1;
        }
        if ((size_t)k > n) k = (int)n;
        cp.k = k;
        size_t ks = o->kmeans_sample;
        if (!ks) {   /* 40 points per centre fit it well (and bound the cost) */
            ks = (size_t)k * 40;
            if (ks < 20000) ks = 20000;
            if (ks > 50000) ks = 50000;
        }
        cent = malloc((size_t)k * cp.d * sizeof *cent);
        cp.assign = malloc(n * sizeof *cp.assign);
        cp.cstart = calloc((size_t)k + 1, sizeof *cp.cstart);
        cp.cmem = malloc(n * sizeof *cp.cmem);
        cp.ccov = calloc((size_t)k, sizeof *cp.ccov);
        if (!cent || !cp.assign || !cp.cstart || !cp.cmem || !cp.ccov) goto oom;
        /* Lloyd on the sample here, the assignment pass over all rows
         * (what ordo_rank_kmeans would do) split like the other passes. */
        if (ordo_rank_kmeans(cp.y, n, cp.d, k, ks, o->kmeans_iter > 0 ? o->kmeans_iter : 25,
                             o->seed, cent, NULL, NULL, err) < 0 ||
            run_nearest(&cp, cp.y, n, cent, (size_t)k, cp.d, 1, NULL, NULL, cp.assign) < 0)
            goto fail;
        for (size_t i = 0; i < n; i++) cp.cstart[cp.assign[i] + 1]++;
        for (int c = 0; c < k; c++) cp.cstart[c + 1] += cp.cstart[c];
        {
            size_t *pos = malloc((size_t)k * sizeof *pos);
            if (!pos) goto oom;
            memcpy(pos, cp.cstart, (size_t)k * sizeof *pos);
            for (size_t i = 0; i < n; i++) cp.cmem[pos[cp.assign[i]]++] = i;
            free(pos);
        }
        for (size_t t2 = 0; t2 < cp.ntlab; t2++) cp.ccov[cp.assign[cp.tlab[t2]]]++;
        b->kmeans_k = k;
        b->seconds[2] = ordo_clock_mono() - t;
    }
    ordo_rank_rng_seed(&cp.rng, o->seed);

    /* 4. novelty */
    if (novelty(&cp, &b->seconds[3]) < 0) goto fail;

    /* 5. picks */
    t = ordo_clock_mono();
    for (size_t e = 0; e < q[ORDO_RANK_EVAL]; e++) {
        /* a member whose group is in the batch waits for a later batch */
        if (group_taken(&cp, ev[e].row)) continue;
        cp.taken[ev[e].row] = 0;   /* eval members are only for eval picks */
        add_item(&cp, ev[e].row, ORDO_RANK_EVAL, (float)-ev[e].s, 0, NAN, NAN);
    }
    typedef size_t (*pickfn)(composer *, size_t, int);
    pickfn fns[ORDO_RANK_NREASONS] = { NULL, pick_uncertain, pick_novel, pick_diverse };
    for (int r = 1; r < ORDO_RANK_NREASONS; r++) {
        size_t want = q[r], got = 0;
        size_t ql = any_low ? (size_t)floor(want * o->low_prior_share + 0.5) : 0;
        if (ql) got += fns[r](&cp, ql, 1);
        /* the learned filter's boundary: its most uncertain photos (spread
         * over clusters), uncertainty sampling for the filter itself, which
         * the classifier's shares never aim at */
        size_t qb = any_bnd ? (size_t)floor(want * o->boundary_share + 0.5) : 0;
        if (qb && got + qb <= want) got += pick_clustered(&cp, cp.bs, (ordo_rank_reason)r, qb, 2);
        got += fns[r](&cp, want - got, 0);
        q[r] = got;
    }
    /* top up if strategies ran dry (tiny pools, all duplicates): diverse,
     * then any free image by uncertainty, then the rest of the eval sample */
    size_t total = cp.nitems;
    if (total < N) total += pick_diverse(&cp, N - total, 0);
    if (total < N) {
        for (int pass = 0; pass < 2 && total < N; pass++) {
            for (size_t i = 0; i < n; i++) if (cp.taken[i] == 2) cp.taken[i] = 0;
            size_t got = pick_uncertain(&cp, N - total, 0);
            total += got;
            if (!got) break;
        }
    }
    if (total < N) {   /* last resort: anything free, no cosine dedupe (groups hold) */
        for (size_t i = 0; i < n && total < N; i++)
            if ((!cp.taken[i] || cp.taken[i] == 2) && !group_taken(&cp, i)) { add_item(&cp, i, ORDO_RANK_UNCERTAIN, cp.u[i] * cp.w[i], 0, NAN, NAN); total++; }
    }
    if (total < N) {
        for (size_t e = q[ORDO_RANK_EVAL]; e < nev && total < N; e++)
            if (cp.taken[ev[e].row] == 3 && !group_taken(&cp, ev[e].row)) {
                add_item(&cp, ev[e].row, ORDO_RANK_EVAL, (float)-ev[e].s, 0, NAN, NAN);
                total++;
            }
    }

    /* 6. labeling order: smooth weighted round robin over the reasons */
    {
        size_t cnt[ORDO_RANK_NREASONS] = { 0 }, nxt[ORDO_RANK_NREASONS] = { 0 };
        for (size_t i = 0; i < cp.nitems; i++) cnt[cp.items[i].reason]++;
        size_t **lists = calloc(ORDO_RANK_NREASONS, sizeof *lists);
        b->items = malloc((cp.nitems ? cp.nitems : 1) * sizeof *b->items);
        if (!lists || !b->items) { free(lists); goto oom; }
        int ok = 1;
        for (int r = 0; r < ORDO_RANK_NREASONS; r++) {
            lists[r] = malloc((cnt[r] ? cnt[r] : 1) * sizeof **lists);
            if (!lists[r]) ok = 0;
        }
        if (ok) {
            size_t fill[ORDO_RANK_NREASONS] = { 0 };
            for (size_t i = 0; i < cp.nitems; i++) lists[cp.items[i].reason][fill[cp.items[i].reason]++] = i;
            long cur[ORDO_RANK_NREASONS] = { 0 };
            for (size_t pos = 0; pos < cp.nitems; pos++) {
                int best = -1;
                for (int r = 0; r < ORDO_RANK_NREASONS; r++) {
                    if (nxt[r] >= cnt[r]) continue;
                    cur[r] += (long)cnt[r];
                    if (best < 0 || cur[r] > cur[best]) best = r;
                }
                cur[best] -= (long)cp.nitems;
                size_t src = lists[best][nxt[best]++];
                ordo_rank_item *it = &b->items[pos];
                *it = cp.items[src];
                fill_scores(&cp, &pv, it->row, &it->s);
                it->s.typicality = cp.item_typ[src];
                it->s.kcenter_dist = cp.kc_dist[src];
                b->count[it->reason]++;
            }
        }
        for (int r = 0; r < ORDO_RANK_NREASONS; r++) free(lists[r]);
        free(lists);
        if (!ok) goto oom;
    }
    b->n = cp.nitems;
    b->dropped_dupes = cp.dropped;
    b->seconds[4] = ordo_clock_mono() - t;
    b->seconds[5] = ordo_clock_mono() - t_start;
    goto cleanup;

oom:
    ordo_err_set(err, "rank: out of memory composing a batch of %zu from %zu images", o->batch, n);
fail:
    ordo_rank_batch_free(b);
    b = NULL;
cleanup:
    ordo_rank_space_free(sp);
    free(cent); free(evalbuf); free(ev); pv_free(&pv);
    free(cp.items); free(cp.item_typ); free(cp.kc_dist); free(cp.taken); free(cp.low); free(cp.bs); free(cp.w);
    free(cp.u); free(cp.top); free(cp.lab); free(cp.tlab); free(cp.rawa); free(cp.rawb); free(cp.rawitem); free(cp.rawlab); free(cp.novel); free(cp.nn);
    free(cp.outlier); free(cp.energy); free(cp.assign); free(cp.cstart); free(cp.cmem);
    free(cp.ccov);
    return b;
}
