/* wn_search.c - lemma search over every WordNet noun synset (see
 * wn_search.h). Moved here from the server so that WordNet's own module
 * owns how its synsets are matched; the server only formats the hits. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "wordnet/wn_search.h"

#define WN_QUERY_MAX 256   /* longer queries are cut: no lemma is that long */

struct ordo_wn_index {
    const ordo_wn *wn;
    struct wn_entry { long off; const char *name; char *lower; } *e;
    size_t n;
};

void ordo_wn_index_free(ordo_wn_index *ix)
{
    if (!ix) return;
    for (size_t i = 0; i < ix->n; i++) free(ix->e[i].lower);
    free(ix->e);
    free(ix);
}

ordo_wn_index *ordo_wn_index_new(const ordo_wn *wn, ordo_err *err)
{
    ordo_wn_index *ix = calloc(1, sizeof *ix);
    size_t total = ordo_wn_synset_count(wn);
    if (ix) ix->e = calloc(total ? total : 1, sizeof *ix->e);
    if (!ix || !ix->e) {
        ordo_wn_index_free(ix);
        ordo_err_set(err, "out of memory");
        return NULL;
    }
    ix->wn = wn;
    for (size_t i = 0; i < total; i++) {
        long off = ordo_wn_synset_id(wn, i);
        const char *name = ordo_wn_synset_name(wn, off);
        char *lo = strdup(name);
        if (!lo) {
            ordo_wn_index_free(ix);
            ordo_err_set(err, "out of memory");
            return NULL;
        }
        for (char *p = lo; *p; p++) *p = (char)tolower((unsigned char)*p);
        ix->e[ix->n].off = off;
        ix->e[ix->n].name = name;
        ix->e[ix->n].lower = lo;
        ix->n++;
    }
    return ix;
}

typedef struct wn_rank { int rank; size_t len, i; } wn_rank;

static int cmp_rank(const wn_rank *x, const wn_rank *y)
{
    if (x->rank != y->rank) return x->rank - y->rank;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int ordo_wn_search(const ordo_wn_index *ix, const char *q, ordo_wn_hit *out, int n)
{
    char lq[WN_QUERY_MAX + 1];
    size_t ql = 0;
    for (; q && q[ql] && ql < WN_QUERY_MAX; ql++) lq[ql] = (char)tolower((unsigned char)q[ql]);
    lq[ql] = 0;
    if (!ql || n <= 0) return 0;
    wn_rank *best = calloc((size_t)n, sizeof *best);
    if (!best) return -1;
    int nb = 0;
    for (size_t i = 0; i < ix->n; i++) {
        const char *lo = ix->e[i].lower, *m = strstr(lo, lq);
        if (!m) continue;
        /* lemmas are joined with ", ": a lemma starts at 0 or after ", " */
        int start = m == lo || (m[-1] == ' ' && m - lo >= 2 && m[-2] == ',');
        char after = m[ql];
        int rank = start && (after == 0 || after == ',') ? 0     /* a whole lemma */
                 : m == lo ? 1
                 : (m[-1] == ' ' || m[-1] == ',') ? 2 : 3;
        wn_rank h = {rank, strlen(lo), i};
        if (nb == n && cmp_rank(&h, &best[nb - 1]) >= 0) continue;
        int j = nb < n ? nb++ : nb - 1;   /* insertion into the sorted best n */
        while (j > 0 && cmp_rank(&h, &best[j - 1]) < 0) { best[j] = best[j - 1]; j--; }
        best[j] = h;
    }
    for (int j = 0; j < nb; j++) {
        out[j].synset = ix->e[best[j].i].off;
        out[j].name = ix->e[best[j].i].name;
    }
    free(best);
    return nb;
}
