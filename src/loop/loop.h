/* loop.h - the labeling loop: what needs both rank and learn.
 *
 * rank (choosing images) and learn (training on labels) never include each
 * other; this layer joins them:
 *   - the pool (pool.c): a ranking input built from the project store with
 *     the newest retrained classifier and sports filter (learn's versions),
 *     for every caller that ranks a project (`ordo next`, `ordo order`, the
 *     label server's queue). It reads the images, their probability
 *     summaries, sports prior, max logit and labels (the store's
 *     current_labels: labeled = newest event not "skip"), maps the
 *     embeddings, and draws the evaluation sample once and keeps it fixed
 *     (in the store: ordo_store_eval_read / _add);
 *   - the simulation strategies (strategy.c): every uncertainty score of
 *     rank's table (ordo_rank_uncerts) as a strategy under the same name,
 *     the rank composer's reasons, and learn's baselines (random,
 *     most-confident, atlas), for ordo_learn_simulate.
 */
#ifndef ORDO_LOOP_H
#define ORDO_LOOP_H

#include "learn/learn.h"
#include "rank/rank.h"
#include "store/store.h"
#include "wordnet/wordnet.h"

/* ---- the pool ---------------------------------------------------------------- */

typedef struct ordo_loop_pool ordo_loop_pool;   /* opaque; owns every array */

/* Loads the pool (images with a present file, in id order). wn may be NULL
 * or lack a hierarchy: then no coarse groups (plain margin uncertainty). */
ordo_loop_pool *ordo_loop_pool_load(ordo_store *s, const ordo_wn *wn, ordo_err *err);
void ordo_loop_pool_free(ordo_loop_pool *p);

/* The input for ordo_rank_compose; valid while p and the store are open. */
const ordo_rank_input *ordo_loop_pool_input(const ordo_loop_pool *p);
const ordo_store_item *ordo_loop_pool_item(const ordo_loop_pool *p, size_t row);

/* Which model ranks the pool: "imagenet", or "model-N" once `ordo train` has
 * stored a classifier (N: its learn_models version, the newest). Under a
 * retrained classifier the input's probabilities are its calibrated ones,
 * dense over the customer's labels (no WordNet groups: margin uncertainty by
 * default), and the prior is the learned sports filter's P(sports) when one
 * exists; ImageNet's max logit and top-5 remain for the novelty scores. */
const char *ordo_loop_pool_model(const ordo_loop_pool *p);
/* Row's top class under that model (an ImageNet class index, or the
 * classifier's class index) and its probability in *prob. */
int ordo_loop_pool_top(const ordo_loop_pool *p, size_t row, float *prob);
/* The retrained classifier's label for class c; NULL under ImageNet (the
 * caller names ImageNet classes through WordNet) or when c is out of range. */
const char *ordo_loop_pool_class_label(const ordo_loop_pool *p, int c);

/* Makes sure the evaluation sample exists and sets the input's eval flags.
 * First call: draws ordo_rank_eval_size(half_width, p, 1.96, pool) images
 * with `seed` and stores them (needs a writable store). Later calls keep it
 * and add only new images whose key is below the sample's largest key, with
 * the seed it was drawn with (so it stays a uniform, fixed sample as the
 * pool grows). A read-only store: the stored sample is used as is.
 * Writes the sample size to *size if non-NULL. */
int ordo_loop_pool_eval(ordo_loop_pool *p, ordo_store *s, double half_width, double acc_p,
                        uint64_t seed, size_t *size, ordo_err *err);

/* ---- simulation strategies ------------------------------------------------------ */

/* The strategy called name (exact spelling); fn NULL if there is none. */
ordo_learn_strategy ordo_loop_strategy(const char *name);

/* Writes every strategy name, comma separated, into out (for help texts). */
void ordo_loop_strategy_names(char *out, size_t cap);

#endif
