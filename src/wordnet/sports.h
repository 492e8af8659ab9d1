/* sports.h - the zero-shot sports prior: "is this photo about sports?"
 *
 * score = sum over the 1000 classes of w[c] * p[c], where p is the network's
 * softmax output and w[c] in [0, 1] comes from a list of WordNet synsets:
 * a class gets the weight of the LAST list entry it is under (so a later
 * entry can refine or, with weight 0, exclude part of an earlier one).
 * With weights in [0, 1] the score is in [0, 1]: the predicted probability
 * that the photo's main object is sports-related.
 *
 * List format (a file, $ORDO_SPORTS_SYNSETS, or the built-in default that
 * ordo_sports_default_list() returns), one entry per line:
 *     SYNSET [WEIGHT]     # comment
 * SYNSET is anything ordo_wn_lookup accepts (n04285146, sports_equipment,
 * "dog.n.01"); WEIGHT defaults to 1 and must be in [0, 1]. Blank lines and
 * '#' comments are ignored.
 */
#ifndef ORDO_SPORTS_H
#define ORDO_SPORTS_H

#include "base/err.h"
#include "wordnet/wordnet.h"

typedef struct ordo_sports ordo_sports;   /* opaque */

/* list_path: a list file; NULL means $ORDO_SPORTS_SYNSETS if set, else the
 * built-in default list. Needs the WordNet hierarchy (fails without it). */
ordo_sports *ordo_sports_new(const ordo_wn *wn, const char *list_path, ordo_err *err);

/* The same from list text; origin names it in error messages. */
ordo_sports *ordo_sports_parse(const ordo_wn *wn, const char *text, const char *origin,
                               ordo_err *err);

void ordo_sports_free(ordo_sports *sp);

/* The built-in default list, in the file format above (documented inline). */
const char *ordo_sports_default_list(void);

/* The prior of one image from its 1000 class probabilities: in [0, 1]. */
float ordo_sports_score(const ordo_sports *sp, const float probs[ORDO_WN_CLASSES]);

/* The per-class weights w[0..1000) (for scoring many images at once). */
const float *ordo_sports_class_weights(const ordo_sports *sp);

/* The parsed list: count, and entry i's synset id (and weight if non-NULL). */
int ordo_sports_count(const ordo_sports *sp);
long ordo_sports_synset(const ordo_sports *sp, int i, float *weight);

#endif
