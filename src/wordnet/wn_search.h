/* wn_search.h - search every WordNet noun synset by its lemmas (a label
 * search box's "type a few letters" over WordNet).
 *
 * The index keeps each synset's lemma list lower-cased once (about 82,000
 * synsets, a few MB), so one query is a linear strstr pass: about 5 ms on
 * the 2-core machine, well inside an interactive budget, so no trie. */
#ifndef ORDO_WN_SEARCH_H
#define ORDO_WN_SEARCH_H

#include <stddef.h>

#include "base/err.h"
#include "wordnet/wordnet.h"

typedef struct ordo_wn_index ordo_wn_index;   /* opaque */

typedef struct ordo_wn_hit {
    long synset;          /* offset id: wnid "n%08ld" */
    const char *name;     /* its lemmas joined with ", " (owned by the ordo_wn) */
} ordo_wn_hit;

/* Builds the index over wn's synsets (empty without a hierarchy). wn must
 * outlive it. NULL with err when out of memory. */
ordo_wn_index *ordo_wn_index_new(const ordo_wn *wn, ordo_err *err);
void ordo_wn_index_free(ordo_wn_index *ix);

/* The best n synsets whose lemmas contain q (case-insensitive), best first:
 * a lemma equal to q, then a match at the start of the name, then at the
 * start of a word, then anywhere; shorter names first within a rank, then
 * data.noun order. Writes at most n hits to out and returns how many
 * (0 for an empty q), or -1 when out of memory. */
int ordo_wn_search(const ordo_wn_index *ix, const char *q, ordo_wn_hit *out, int n);

#endif
