/* fuzz_labelset.c - libFuzzer target for the label set file format
 * (ordo_srv_labelset_parse, what `ordo labelset --import` and the page's
 * settings accept). WordNet is the small fixture made by seed_labelset.sh
 * when $ORDO_WORDNET names it, else none (ties then fail cleanly). A set
 * that parses must write back to text that parses to the same set.
 *
 *   make fuzz && fuzz/seed_labelset.sh DIR && build-fuzz/fuzz_labelset DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ordo_wn *wn;
    static int opened;
    if (!opened) {
        ordo_err e;
        wn = ordo_wn_open(getenv("ORDO_WORDNET") ? NULL : "none", &e);
        opened = 1;
    }
    ordo_err err;
    ordo_srv_labelset *ls = ordo_srv_labelset_parse(wn, (const char *)data, size, "fuzz", &err);
    if (!ls) {
        if (!err.msg[0] || strchr(err.msg, '\n')) abort();   /* one-line reason */
        return 0;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) abort();
    ordo_srv_labelset_write(f, ls);
    fclose(f);
    ordo_srv_labelset *back = ordo_srv_labelset_parse(wn, buf, len, "round trip", &err);
    if (!back || back->n != ls->n || back->closed != ls->closed) abort();
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(back->v[i].name, ls->v[i].name) || strcmp(back->v[i].parent, ls->v[i].parent) ||
            back->v[i].synset != ls->v[i].synset)
            abort();
    ordo_srv_labelset_free(back);
    ordo_srv_labelset_free(ls);
    free(buf);
    return 0;
}
