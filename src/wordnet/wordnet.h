/* wordnet.h - the 1000 ImageNet classes and the WordNet 3.0 noun hierarchy.
 *
 * Class index i is line i of the sorted ILSVRC-2012 wnid list (compiled into
 * ordo). Names and hypernyms come from WordNet's data.noun (Debian
 * wordnet-base, /usr/share/wordnet, or $ORDO_WORDNET). Without WordNet the
 * classes still load, named by their wnid, and hierarchy queries fail with a
 * message.
 */
#ifndef ORDO_WORDNET_H
#define ORDO_WORDNET_H

#include <stddef.h>

#include "base/err.h"

#define ORDO_WN_CLASSES 1000

typedef struct ordo_wn ordo_wn;   /* opaque */

/* path: a data.noun file or a directory holding it; NULL for the default. */
ordo_wn *ordo_wn_open(const char *path, ordo_err *err);
void ordo_wn_free(ordo_wn *wn);

const char *ordo_wn_class_wnid(const ordo_wn *wn, int cls);  /* "n01440764" */
const char *ordo_wn_class_name(const ordo_wn *wn, int cls);  /* "tench, Tinca tinca" */
int ordo_wn_class_index(const ordo_wn *wn, const char *wnid); /* -1 if none */

/* Resolves "n04285008", "sports equipment" or "sports_equipment.n.01"-like
 * text to a synset offset id (the number of the wnid); -1 with err if none
 * or ambiguous. */
long ordo_wn_lookup(const ordo_wn *wn, const char *text, ordo_err *err);

/* 1 if class cls has synset `synset` among its ancestors (itself included),
 * following hypernyms and instance hypernyms. */
int ordo_wn_class_under(const ordo_wn *wn, int cls, long synset);

/* Sum of probs[c] over classes under synset. */
double ordo_wn_mass(const ordo_wn *wn, const float *probs, long synset);

/* Lemmas of any noun synset joined with ", " ("" if unknown). */
const char *ordo_wn_synset_name(const ordo_wn *wn, long synset);

#endif
