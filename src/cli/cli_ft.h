/* cli_ft.h - what `ordo train --learner finetune` and `ordo simulate
 * --learners finetune` share: the project's activation cache, filled on
 * demand, and the pretrained head it starts from. */
#ifndef ORDO_CLI_FT_H
#define ORDO_CLI_FT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "learn/finetune.h"
#include "store/store_cut.h"

typedef struct cli_ft {
    ordo_store *rw;           /* a writable handle of the project */
    ordo_store_cut *cut;
    float *w0, *b0;           /* pretrained head (C x D, D) */
    int P, C, D;
    const uint16_t *acts;     /* the mapped cache */
    size_t rows;
    int64_t *ids, *slots;     /* cached images, id order */
    size_t n;
    double fill_seconds;      /* wall time spent filling the cache */
    size_t filled;            /* images decoded and run now */
} cli_ft;

/* Opens dir's cache for its model, computing the rows it lacks (progress on
 * stderr unless quiet), and loads the pretrained head. */
int cli_ft_open(const char *dir, int quiet, int threads, cli_ft *f, ordo_err *err);
/* The cache row of each image id; fails naming how many have none. */
int cli_ft_slots(const cli_ft *f, const int64_t *ids, size_t n, int64_t *slots, ordo_err *err);
/* The learner's view of the cache (slot: the caller's array). */
ordo_learn_ft_data cli_ft_data(const cli_ft *f, const int64_t *slot);
void cli_ft_close(cli_ft *f);

/* `ordo train --learner finetune`: ordo_learn_train_opts.fit with ctx a
 * cli_ft_fit_ctx. Fine-tunes the head on the training images, then
 * re-embeds every cached image with it through the store
 * (ordo_store_set_embeddings), so everything that reads embeddings (the
 * classifier's evaluation, the sports filter, ranking, the grid) sees the
 * adapted features. */
typedef struct cli_ft_fit_ctx {
    cli_ft *ft;
    ordo_store *s;                 /* where the embeddings are rewritten */
    const ordo_learn_ft_opts *fo;  /* NULL: defaults */
    ordo_learn_ft_report frep;     /* filled */
    double train_seconds, embed_seconds;
    size_t embedded;
} cli_ft_fit_ctx;
ordo_learn_model *cli_ft_fit(void *ctx, const int64_t *ids, size_t n, const int *y, int k,
                             const char *const *names, const ordo_learn_opts *o,
                             ordo_learn_report *rep, ordo_err *err);

#endif
