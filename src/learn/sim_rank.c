/* sim_rank.c - ordo's rank composer as simulation strategies: "default"
 * (the composer's default mix) and one per reason alone ("uncertain",
 * "novel", "diverse"). The simulation draws and labels its evaluation
 * sample itself, so the composer sees it as labeled and spends the eval
 * share on the other reasons (as it does once a real sample is labeled). */
#include <stdlib.h>
#include <string.h>

#include "learn/learn.h"
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

ordo_learn_strategy_fn learn_rank_strategy(const char *name)
{
    if (!strcmp(name, "default")) return st_default;
    if (!strcmp(name, "uncertain")) return st_uncertain;
    if (!strcmp(name, "novel")) return st_novel;
    if (!strcmp(name, "diverse")) return st_diverse;
    return NULL;
}
