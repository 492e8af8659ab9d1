/* rank_uncert.c - uncertainty scores from a top-k probability summary.
 *
 * Formulas follow Munro, "Human-in-the-Loop Machine Learning" (2021), ch. 3,
 * each normalised to [0, 1] with 1 = most uncertain:
 *   least confidence  (1 - p1) * C / (C - 1)
 *   margin            1 - (p1 - p2)
 *   ratio             p2 / p1
 *   entropy           -sum_c p_c ln p_c / ln C
 */
#include "rank/rank.h"

#include <math.h>
#include <string.h>

static float clamp01(float x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

float ordo_rank_least_confidence(const float *p, int k, int C)
{
    if (k < 1 || C < 2) return 0;
    return clamp01((1.0f - p[0]) * (float)C / (float)(C - 1));
}

float ordo_rank_margin(const float *p, int k, int C)
{
    (void)C;
    if (k < 1) return 0;
    float p2 = k > 1 ? p[1] : 1.0f - p[0];   /* k == 1: the rest could be one class */
    return clamp01(1.0f - (p[0] - p2));
}

float ordo_rank_ratio(const float *p, int k, int C)
{
    (void)C;
    if (k < 1 || !(p[0] > 0)) return 1;
    float p2 = k > 1 ? p[1] : 1.0f - p[0];
    return clamp01(p2 / p[0]);
}

float ordo_rank_entropy(const float *p, int k, int C, float full)
{
    if (C < 2) return 0;
    double h = 0;
    if (full >= 0) {
        h = full;
    } else {
        double known = 0;
        for (int i = 0; i < k; i++) {
            if (p[i] > 0) h -= p[i] * log(p[i]);
            known += p[i];
        }
        double r = 1.0 - known;
        /* Tail mass spread evenly over the unseen classes: the maximum
         * entropy the summary allows (an upper bound on the true value). */
        if (r > 1e-9 && C > k) h -= r * log(r / (C - k));
    }
    return clamp01((float)(h / log((double)C)));
}

/* Entropy of w[0..m) (unnormalised weights), normalised by ln(slots). */
static double norm_entropy(const double *w, int m, int slots)
{
    double s = 0, h = 0;
    for (int i = 0; i < m; i++) s += w[i];
    if (!(s > 0) || slots < 2) return 0;
    for (int i = 0; i < m; i++)
        if (w[i] > 0) h -= (w[i] / s) * log(w[i] / s);
    return h / log((double)slots);
}

#define HIER_MAXK 64

float ordo_rank_hier_uncertainty(const float *p, const int32_t *cls, int k, int C,
                                 const int *coarse, int n_coarse)
{
    if (k < 1 || C < 2 || !coarse || n_coarse < 1 || !cls)
        return ordo_rank_entropy(p, k, C, -1);
    if (k > HIER_MAXK) k = HIER_MAXK;   /* callers with dense C use top HIER_MAXK */
    /* Coarse probabilities of the groups present among the top-k classes,
     * plus the unseen tail as one "unknown" bucket. */
    int gid[HIER_MAXK + 1];
    double gp[HIER_MAXK + 1];
    int ng = 0;
    double known = 0;
    for (int i = 0; i < k; i++) {
        int c = cls[i], g = (c >= 0 && c < C) ? coarse[c] : -1;
        known += p[i];
        int j = 0;
        while (j < ng && gid[j] != g) j++;
        if (j == ng) { gid[ng] = g; gp[ng] = 0; ng++; }
        gp[j] += p[i];
    }
    double tail = 1.0 - known;
    int best = 0;
    for (int j = 1; j < ng; j++)
        if (gp[j] > gp[best]) best = j;
    double pbest = gp[best], second = tail > 1e-9 ? tail : 0;
    for (int j = 0; j < ng; j++)
        if (j != best && gp[j] > second) second = gp[j];
    /* Coarse margin 1 - (P(g1) - P(g2)): a two-way split between groups is
     * maximally uncertain however many groups exist (an entropy normalised
     * by ln(groups) would call it mild). The unseen tail competes as one
     * bucket, so a flat distribution also scores high. */
    double hc = 1.0 - (pbest - second);
    if (hc > 1) hc = 1;
    /* Fine entropy inside the most probable group, over its known classes. */
    double fp[HIER_MAXK];
    int nf = 0;
    for (int i = 0; i < k; i++) {
        int c = cls[i], g = (c >= 0 && c < C) ? coarse[c] : -1;
        if (g == gid[best]) fp[nf++] = p[i];
    }
    double hf = nf > 1 ? norm_entropy(fp, nf, nf) : 0;
    float w = ORDO_RANK_HIER_FINE_WEIGHT;
    return clamp01((float)((1.0 - w) * hc + w * pbest * hf));
}

/* ---- the table ---------------------------------------------------------------- */

static float u_least_confidence(const ordo_rank_uin *u) { return ordo_rank_least_confidence(u->p, u->k, u->C); }
static float u_margin(const ordo_rank_uin *u) { return ordo_rank_margin(u->p, u->k, u->C); }
static float u_ratio(const ordo_rank_uin *u) { return ordo_rank_ratio(u->p, u->k, u->C); }
static float u_entropy(const ordo_rank_uin *u) { return ordo_rank_entropy(u->p, u->k, u->C, u->entropy); }
static float u_hier(const ordo_rank_uin *u)
{
    return ordo_rank_hier_uncertainty(u->p, u->cls, u->k, u->C, u->coarse, u->n_coarse);
}

static const ordo_rank_uncert_def table[] = {
    {"least-confidence", u_least_confidence, NULL, "(1 - p1) C / (C - 1)"},
    {"margin", u_margin, NULL, "1 - (p1 - p2)"},
    {"ratio", u_ratio, NULL, "p2 / p1"},
    {"entropy", u_entropy, NULL, "-sum p ln p / ln C"},
    {"hier", u_hier, "entropy",
     "WordNet group margin x 0.75 + fine entropy x 0.25"},
};

_Static_assert(sizeof table / sizeof *table <= ORDO_RANK_MAX_UNCERT,
               "raise ORDO_RANK_MAX_UNCERT");

const ordo_rank_uncert_def *ordo_rank_uncerts(int *n)
{
    *n = (int)(sizeof table / sizeof *table);
    return table;
}

int ordo_rank_uncert_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof table / sizeof *table; i++)
        if (!strcmp(name, table[i].name)) return (int)i;
    return -1;
}
