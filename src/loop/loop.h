/* loop.h - the labeling loop: what needs both rank and learn.
 *
 * rank (choosing images) and learn (training on labels) never include each
 * other; this layer joins them:
 *   - the simulation strategies: every uncertainty score of rank's table
 *     (ordo_rank_uncerts) as a strategy under the same name, the rank
 *     composer's reasons, and learn's baselines (random, most-confident,
 *     atlas), for ordo_learn_simulate.
 */
#ifndef ORDO_LOOP_H
#define ORDO_LOOP_H

#include "learn/learn.h"

/* The strategy called name (exact spelling); fn NULL if there is none. */
ordo_learn_strategy ordo_loop_strategy(const char *name);

/* Writes every strategy name, comma separated, into out (for help texts). */
void ordo_loop_strategy_names(char *out, size_t cap);

#endif
