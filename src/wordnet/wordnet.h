/* wordnet.h - the 1000 ImageNet classes and the WordNet 3.0 noun hierarchy.
 *
 * Class index i is line i of the sorted ILSVRC-2012 wnid list (compiled into
 * ordo). Names and hypernyms come from WordNet's data.noun (Debian
 * wordnet-base, /usr/share/wordnet, or $ORDO_WORDNET). Without WordNet the
 * classes still load, named by their wnid, and hierarchy queries fail with a
 * message (ordo_wn_has_hierarchy() says which case holds).
 *
 * A synset is identified by its data.noun offset (the number in its wnid:
 * n04285008 -> 4285008). "Under" follows hypernyms (@) and instance
 * hypernyms (@i) transitively, and a synset counts as under itself.
 */
#ifndef ORDO_WORDNET_H
#define ORDO_WORDNET_H

#include <stddef.h>

#include "base/err.h"

#define ORDO_WN_CLASSES 1000

typedef struct ordo_wn ordo_wn;   /* opaque */

/* path: a data.noun file or a directory holding it; NULL for the default
 * ($ORDO_WORDNET, else /usr/share/wordnet). A path given explicitly (argument
 * or $ORDO_WORDNET) must load; a missing default just means no hierarchy,
 * and so does the path "none" (to switch WordNet off, e.g. in tests).
 * A corrupt or truncated data.noun is an error, never a crash. */
ordo_wn *ordo_wn_open(const char *path, ordo_err *err);
void ordo_wn_free(ordo_wn *wn);

/* 1 if data.noun was loaded (names and hierarchy available), else 0. */
int ordo_wn_has_hierarchy(const ordo_wn *wn);

const char *ordo_wn_class_wnid(const ordo_wn *wn, int cls);  /* "n01440764" */
const char *ordo_wn_class_name(const ordo_wn *wn, int cls);  /* "tench, Tinca tinca" */
int ordo_wn_class_index(const ordo_wn *wn, const char *wnid); /* -1 if none */

/* Resolves text to a synset offset id (the number of the wnid); -1 with err
 * if none or ambiguous. Accepted forms:
 *   "n04285008", "04285008"            a synset id
 *   "sports equipment", "Sports_Equipment"  a lemma (case, '_'/' ' ignored);
 *                                      must have a single noun sense
 *   "dog.n.01", "dog#1"                sense N of a lemma, in index.noun's
 *                                      frequency order (needs index.noun)
 * An ambiguous lemma's error lists its senses in the "dog.n.01" form. */
long ordo_wn_lookup(const ordo_wn *wn, const char *text, ordo_err *err);

/* 1 if class cls has synset `synset` among its ancestors (itself included),
 * following hypernyms and instance hypernyms. 0 otherwise, also when there
 * is no hierarchy or the synset is unknown. */
int ordo_wn_class_under(const ordo_wn *wn, int cls, long synset);

/* Sum of probs[c] over classes under synset (0 if none / no hierarchy). */
double ordo_wn_mass(const ordo_wn *wn, const float *probs, long synset);

/* Builds a membership vector once so that scoring many images is one dot
 * product: w[c] = 1 if class c is under any of synsets[0..n), else 0.
 * Fails (err) on an unknown synset or without hierarchy. */
int ordo_wn_class_weights(const ordo_wn *wn, const long *synsets, int n,
                          float w[ORDO_WN_CLASSES], ordo_err *err);

/* Enumerates every noun synset (for example for a label search box): the
 * number loaded (0 without hierarchy) and the offset id of the i-th in
 * data.noun order (-1 if i is out of range). */
size_t ordo_wn_synset_count(const ordo_wn *wn);
long ordo_wn_synset_id(const ordo_wn *wn, size_t i);

/* Lemmas of any noun synset joined with ", " ("" if unknown). */
const char *ordo_wn_synset_name(const ordo_wn *wn, long synset);

/* Ancestors of class cls (itself first, then nearer before farther, i.e.
 * breadth-first over @ and @i), written to out[0..cap). Returns the total
 * number of ancestors (may exceed cap), or -1 without hierarchy. */
int ordo_wn_class_ancestors(const ordo_wn *wn, int cls, long *out, int cap);

/* Coarse grouping for hierarchical uncertainty: group[c] = the index j of
 * the first synset in synsets[0..n) that class c is under, or n ("other")
 * if none. List specific synsets before general ones. Fails (err) on an
 * unknown synset or without hierarchy. */
int ordo_wn_coarse(const ordo_wn *wn, const long *synsets, int n,
                   int group[ORDO_WN_CLASSES], ordo_err *err);

/* A default coarse partition of the 1000 classes (28 groups such as
 * dog, bird, fish, vehicle, ...; see wordnet.c). Returns the count and sets
 * *synsets to a static constant array. Meant as input to ordo_wn_coarse. */
int ordo_wn_default_coarse(const long **synsets);

#endif
