/* strategy.c - the strategies ordo simulate compares, one registry:
 *   random, most-confident (the starter script's order: max p first);
 *   one per entry of rank's uncertainty table, under its name, ranked by
 *     its score (ties by a seeded key; ordo_learn_pick_top);
 *   atlas (learn: the predicted chance the model is wrong);
 *   ordo's rank composer: "default" (the default mix), "uncertain", "novel",
 *     "diverse" (one reason alone). The simulation draws and labels its
 *     evaluation sample itself, so the composer sees it as labeled and
 *     spends the eval share on the other reasons (as it does once a real
 *     sample is labeled). */
#include "loop/loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rank/rank.h"

static int read_rows(void *ctx, size_t row0, size_t nrows, float *out, ordo_err *err)
{
    const ordo_learn_sim_ctx *c = ctx;
    if (row0 > c->n || nrows > c->n - row0)
        return ordo_err_set(err, "sim: rows %zu+%zu outside the pool", row0, nrows);
    memcpy(out, c->x + row0 * c->d, nrows * c->d * sizeof *out);
    return 0;
}

static long compose(const ordo_learn_sim_ctx *c, size_t *picked, ordo_err *err, int only)
{
    ordo_rank_input in = {0};
    in.n = c->n;
    in.n_classes = c->k;
    in.k = c->k;
    in.top_prob = c->probs;  /* dense rows: the composer sorts its own copies */
    in.top_class = NULL;
    in.labeled = c->labeled;
    in.eval = c->is_eval;
    in.dim = (int)c->d;
    in.read_rows = read_rows;
    in.read_ctx = (void *)c;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = c->batch;
    o.seed = c->seed;
    /* "default" keeps mix_auto: the schedule over the labels it sees, as in
     * 'ordo next' (the labeled evaluation sample does not count) */
    if (only >= 0) {
        o.mix_auto = 0;
        for (int r = 0; r < ORDO_RANK_NREASONS; r++) o.mix[r] = r == only ? 1.0 : 0.0;
    }
    if (!c->probs) { /* no probabilities at all: diversity alone */
        o.mix_auto = 0;
        for (int r = 0; r < ORDO_RANK_NREASONS; r++) o.mix[r] = 0;
        o.mix[ORDO_RANK_DIVERSE] = 1;
        in.n_classes = in.k = 0;
    }
    ordo_rank_batch *b = ordo_rank_compose(&in, &o, err);
    if (!b) return ordo_err_wrap(err, "rank composer");
    size_t n = b->n < c->batch ? b->n : c->batch;
    for (size_t i = 0; i < n; i++) picked[i] = b->items[i].row;
    ordo_rank_batch_free(b);
    return (long)n;
}

static long st_default(const ordo_learn_sim_ctx *c, size_t *p, ordo_err *e)
{
    return compose(c, p, e, -1);
}
static long st_uncertain(const ordo_learn_sim_ctx *c, size_t *p, ordo_err *e)
{
    return compose(c, p, e, ORDO_RANK_UNCERTAIN);
}
static long st_novel(const ordo_learn_sim_ctx *c, size_t *p, ordo_err *e)
{
    return compose(c, p, e, ORDO_RANK_NOVEL);
}
static long st_diverse(const ordo_learn_sim_ctx *c, size_t *p, ordo_err *e)
{
    return compose(c, p, e, ORDO_RANK_DIVERSE);
}

/* ---- score strategies ---------------------------------------------------- */

/* most-confident: max_c p_c, computed in double over the dense row. */
static long st_most_confident(const ordo_learn_sim_ctx *c, size_t *picked, ordo_err *err)
{
    if (!c->probs) return ordo_learn_pick_top(c, NULL, picked, err);
    double *sc = malloc((c->n ? c->n : 1) * sizeof *sc);
    if (!sc) return ordo_err_set(err, "strategy: out of memory");
    for (size_t i = 0; i < c->n; i++) {
        const float *p = c->probs + i * (size_t)c->k;
        double p1 = 0;
        for (int j = 0; j < c->k; j++)
            if (p[j] > p1) p1 = p[j];
        sc[i] = p1;
    }
    long r = ordo_learn_pick_top(c, sc, picked, err);
    free(sc);
    return r;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* An uncertainty score of rank's table (c->user) over each candidate's dense
 * probabilities, sorted descending as the table's functions expect. Without
 * a coarse map (the simulation has none) an entry that needs one ranks by
 * the entry it names instead, as the composer does. */
static long st_uncert(const ordo_learn_sim_ctx *c, size_t *picked, ordo_err *err)
{
    if (!c->probs || c->k < 1) return ordo_learn_pick_top(c, NULL, picked, err);
    const ordo_rank_uncert_def *u = c->user;
    if (u->needs_coarse_else) {
        int nu, j = ordo_rank_uncert_find(u->needs_coarse_else);
        u = &ordo_rank_uncerts(&nu)[j];
    }
    double *sc = malloc((c->n ? c->n : 1) * sizeof *sc);
    float *row = malloc((size_t)c->k * sizeof *row);
    if (!sc || !row) {
        free(sc);
        free(row);
        return ordo_err_set(err, "strategy: out of memory");
    }
    for (size_t i = 0; i < c->n; i++) {
        sc[i] = 0;
        if (!c->candidate[i]) continue;
        memcpy(row, c->probs + i * (size_t)c->k, (size_t)c->k * sizeof *row);
        qsort(row, (size_t)c->k, sizeof *row, cmp_desc);
        ordo_rank_uin in = {row, NULL, c->k, c->k < 2 ? 2 : c->k, -1, NULL, 0};
        sc[i] = u->fn(&in);
    }
    long r = ordo_learn_pick_top(c, sc, picked, err);
    free(sc);
    free(row);
    return r;
}

static long st_random(const ordo_learn_sim_ctx *c, size_t *picked, ordo_err *err)
{
    return ordo_learn_pick_top(c, NULL, picked, err);
}

/* ATLAS: rank candidates by the predicted chance that the current model is
 * wrong, learned from out-of-fold predictions on the labeled rows. Before
 * a model exists (or while its held-out predictions are all right or all
 * wrong) it falls back to margin. */
static long st_atlas(const ordo_learn_sim_ctx *c, size_t *p, ordo_err *e)
{
    ordo_learn_sim_ctx mc = *c;
    mc.user = (void *)&ordo_rank_uncerts(&(int){0})[ordo_rank_uncert_find("margin")];
    if (!c->probs_from_model || !c->oof_probs) return st_uncert(&mc, p, e);
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    o.seed = c->seed;
    ordo_err ae;
    ordo_learn_model *a =
        ordo_learn_atlas_train(c->x, c->n, c->d, c->oof_probs, c->k, c->labels, &o, &ae);
    if (!a) return st_uncert(&mc, p, e);
    float *pw = malloc((c->n ? c->n : 1) * sizeof *pw);
    double *sc = malloc((c->n ? c->n : 1) * sizeof *sc);
    if (!pw || !sc) {
        free(pw);
        free(sc);
        ordo_learn_model_free(a);
        return ordo_err_set(e, "atlas: out of memory");
    }
    long r = ordo_learn_atlas_score(a, c->x, c->n, c->d, c->probs, c->k, pw, e);
    ordo_learn_model_free(a);
    if (r == 0) {
        for (size_t i = 0; i < c->n; i++) sc[i] = pw[i];
        r = ordo_learn_pick_top(c, sc, p, e);
    }
    free(pw);
    free(sc);
    return r;
}

/* ---- the registry ------------------------------------------------------------ */

static const struct {
    const char *name;
    ordo_learn_strategy_fn fn;
} fixed[] = {
    {"random", st_random},       {"most-confident", st_most_confident},
    {"atlas", st_atlas},         {"default", st_default},
    {"uncertain", st_uncertain}, {"novel", st_novel},
    {"diverse", st_diverse},
};

ordo_learn_strategy ordo_loop_strategy(const char *name)
{
    ordo_learn_strategy s = {name, NULL, NULL};
    for (size_t i = 0; name && i < sizeof fixed / sizeof *fixed; i++)
        if (!strcmp(name, fixed[i].name)) s.fn = fixed[i].fn;
    int nu, j = ordo_rank_uncert_find(name);
    if (j >= 0) {
        s.fn = st_uncert;
        s.user = (void *)&ordo_rank_uncerts(&nu)[j];
    }
    return s;
}

void ordo_loop_strategy_names(char *out, size_t cap)
{
    size_t len = 0;
    int nu;
    const ordo_rank_uncert_def *u = ordo_rank_uncerts(&nu);
    out[0] = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed + (size_t)nu; i++) {
        const char *n = i < 2 ? fixed[i].name
                        : i < 2 + (size_t)nu ? u[i - 2].name
                                             : fixed[i - (size_t)nu].name;
        int w = snprintf(out + len, len < cap ? cap - len : 0, "%s%s", len ? "," : "", n);
        if (w > 0) len += (size_t)w;
    }
}
