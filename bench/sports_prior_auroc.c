/* sports_prior_auroc.c - helper for bench/sports_prior_auroc.sh: prints the
 * sports prior's synset list and per-class weights as computed by ordo's own
 * code (src/wordnet), so the Python side only joins them with probabilities.
 *
 * usage: sports_prior_auroc [LIST_FILE]   (default: the built-in list)
 * output lines (tab-separated):
 *   S  synset  weight  n_classes  name            one per list entry
 *   C  index  wnid  weight  related  name  artifact   one per class
 * related = 1 if the class is under sports equipment, game equipment,
 * sports implement or athlete, or has weight > 0 in this list or the
 * default list: such classes never count as "not sports" in the bench.
 * artifact = 1 if the class is a man-made object (under artifact, n00021939):
 * the harder negatives, reported separately. */
#include <stdio.h>

#include "wordnet/sports.h"

int main(int argc, char **argv)
{
    ordo_err err = {{0}};
    ordo_wn *wn = ordo_wn_open(NULL, &err);
    if (!wn) { fprintf(stderr, "%s\n", err.msg); return 1; }
    ordo_sports *sp = ordo_sports_new(wn, argc > 1 ? argv[1] : NULL, &err);
    ordo_sports *def = sp ? ordo_sports_parse(wn, ordo_sports_default_list(), "default", &err)
                          : NULL;
    if (!sp || !def) {
        fprintf(stderr, "%s\n", err.msg);
        ordo_sports_free(sp);
        ordo_wn_free(wn);
        return 1;
    }
    static const long base[] = {4285146, 3414162, 4285622, 9820263};
    for (int i = 0; i < ordo_sports_count(sp); i++) {
        float w;
        long s = ordo_sports_synset(sp, i, &w);
        int n = 0;
        for (int c = 0; c < ORDO_WN_CLASSES; c++) n += ordo_wn_class_under(wn, c, s);
        printf("S\tn%08ld\t%g\t%d\t%s\n", s, w, n, ordo_wn_synset_name(wn, s));
    }
    const float *w = ordo_sports_class_weights(sp), *wd = ordo_sports_class_weights(def);
    for (int c = 0; c < ORDO_WN_CLASSES; c++) {
        int rel = w[c] > 0 || wd[c] > 0;
        for (size_t j = 0; j < sizeof base / sizeof base[0]; j++)
            rel |= ordo_wn_class_under(wn, c, base[j]);
        printf("C\t%d\t%s\t%g\t%d\t%s\t%d\n", c, ordo_wn_class_wnid(wn, c), w[c], rel,
               ordo_wn_class_name(wn, c), ordo_wn_class_under(wn, c, 21939));
    }
    ordo_sports_free(def);
    ordo_sports_free(sp);
    ordo_wn_free(wn);
    return 0;
}
