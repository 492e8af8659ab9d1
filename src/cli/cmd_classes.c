/* cmd_classes.c - `ordo classes`: list the 1000 ImageNet classes, optionally
 * only those under a WordNet synset, or those the sports prior counts. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"
#include "cli/cli.h"
#include "wordnet/sports.h"
#include "wordnet/wordnet.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo classes [--under SYNSET] [--sports [--sports-list FILE]] [--csv]\n"
            "Lists the ImageNet classes: index, WordNet id, name.\n\n"
            "  --under SYNSET      only classes under SYNSET in WordNet (hypernyms and\n"
            "                      instance hypernyms): n04285146, 04285146,\n"
            "                      'sports equipment', sports_equipment, dog.n.01, dog#1\n"
            "  --sports            only classes the sports prior counts, with their weight\n"
            "  --sports-list FILE  the prior's synset list (default: $ORDO_SPORTS_SYNSETS,\n"
            "                      else the built-in list; --sports-list - prints that list)\n"
            "  --csv               CSV: index,wnid,name (plus weight with --sports)\n\n"
            "Names and the hierarchy come from WordNet 3.0's data.noun (Debian\n"
            "wordnet-base, or $ORDO_WORDNET); without it names are the WordNet ids.\n");
}

int cli_classes(int argc, char **argv)
{
    const char *under = NULL, *list = NULL;
    int csv = 0, sports = 0;
    static const struct option opts[] = {
        {"under", required_argument, NULL, 'u'}, {"csv", no_argument, NULL, 'c'},
        {"sports", no_argument, NULL, 's'},      {"sports-list", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "u:csl:h", opts, NULL)) != -1) {
        switch (o) {
        case 'u': under = optarg; break;
        case 'c': csv = 1; break;
        case 's': sports = 1; break;
        case 'l': list = optarg; sports = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ordo classes: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (list && !strcmp(list, "-")) {            /* the built-in list, as a template */
        fputs(ordo_sports_default_list(), stdout);
        return 0;
    }

    ordo_err err = {{0}};
    ordo_wn *wn = ordo_wn_open(NULL, &err);
    if (!wn) {
        fprintf(stderr, "ordo classes: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    ordo_sports *sp = NULL;
    long syn = -1;
    if (under && (syn = ordo_wn_lookup(wn, under, &err)) < 0) {
        fprintf(stderr, "ordo classes: --under: %s\n", err.msg);
        goto out;
    }
    if (sports && !(sp = ordo_sports_new(wn, list, &err))) {
        fprintf(stderr, "ordo classes: %s\n", err.msg);
        goto out;
    }
    const float *w = sp ? ordo_sports_class_weights(sp) : NULL;
    if (csv) printf("index,wnid,name%s\n", w ? ",weight" : "");
    int shown = 0;
    for (int c = 0; c < ORDO_WN_CLASSES; c++) {
        if (under && !ordo_wn_class_under(wn, c, syn)) continue;
        if (w && !(w[c] > 0)) continue;
        shown++;
        if (csv) {
            printf("%d,%s,", c, ordo_wn_class_wnid(wn, c));
            ordo_text_csv(stdout, ordo_wn_class_name(wn, c));
            if (w) printf(",%g", w[c]);
            putchar('\n');
        } else if (w) {
            printf("%4d  %s  %-4g  %s\n", c, ordo_wn_class_wnid(wn, c), w[c],
                   ordo_wn_class_name(wn, c));
        } else {
            printf("%4d  %s  %s\n", c, ordo_wn_class_wnid(wn, c), ordo_wn_class_name(wn, c));
        }
    }
    if (under && !csv)
        fprintf(stderr, "%d class%s under n%08ld (%s)\n", shown, shown == 1 ? "" : "es", syn,
                ordo_wn_synset_name(wn, syn));
    rc = 0;
out:
    ordo_sports_free(sp);
    ordo_wn_free(wn);
    return rc;
}
