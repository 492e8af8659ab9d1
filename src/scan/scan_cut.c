/* scan_cut.c - fills the fine-tune activation cache (scan_cut.h). */
#include "scan/scan_cut.h"

#include <stdlib.h>
#include <string.h>

#include "img/img.h"
#include "scan/scan.h"

#define CUT_BATCH 16

int ordo_scan_cut_fill(ordo_store *s, ordo_store_cut *cut, ordo_net *net,
                       void (*progress)(size_t done, size_t todo, void *ctx), void *ctx,
                       ordo_scan_cut_report *rep, ordo_err *err)
{
    ordo_scan_cut_report r = {0};
    ordo_store_item *items = NULL;
    size_t n = 0;
    if (ordo_store_items(s, &items, &n, err)) return -1;
    r.images = n;
    int64_t *slots = malloc((n ? n : 1) * sizeof *slots);
    unsigned char *have = malloc(n ? n : 1);
    const int S = ordo_net_input_size(net);
    const long isz = (long)S * S * 3, csz = ordo_net_cut_floats(net);
    float *in = malloc((size_t)CUT_BATCH * isz * sizeof *in);
    float *cu = malloc((size_t)CUT_BATCH * csz * sizeof *cu);
    float *lg = malloc((size_t)CUT_BATCH * ORDO_NET_CLASSES * sizeof *lg);
    size_t *todo = malloc((n ? n : 1) * sizeof *todo);
    int rc = -1;
    if (!slots || !have || !in || !cu || !lg || !todo) { ordo_err_set(err, "out of memory"); goto done; }
    for (size_t i = 0; i < n; i++) slots[i] = items[i].slot;
    if (ordo_store_cut_have(cut, slots, n, have, err)) goto done;
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        if (have[i]) r.cached++;
        else todo[nt++] = i;
    }
    ordo_img_opts io = {.min_side = ordo_img_min_side_for(S, ORDO_SCAN_CROP_FRAC)};
    char path[4096];
    for (size_t t0 = 0; t0 < nt; t0 += CUT_BATCH) {
        size_t m = 0, rows[CUT_BATCH];
        const float *ins[CUT_BATCH];
        for (size_t t = t0; t < nt && t < t0 + CUT_BATCH; t++) {
            const ordo_store_item *it = &items[todo[t]];
            ordo_err e = {0};
            ordo_image im = {0};
            /* a file gone or changed since the scan is left out, not fatal:
             * its row stays uncached and the learner skips it */
            if (ordo_store_image_path(s, it->id, path, sizeof path, &e) ||
                ordo_img_load(path, &io, &im, &e) ||
                ordo_img_preprocess(&im, S, ORDO_SCAN_CROP_FRAC, in + m * isz, &e)) {
                ordo_image_free(&im);
                r.failed++;
                continue;
            }
            ordo_image_free(&im);
            ins[m] = in + m * isz;
            rows[m++] = todo[t];
        }
        if (!m) continue;
        if (ordo_net_forward_cut(net, ins, (int)m, lg, NULL, cu, err)) goto done;
        if (ordo_store_begin(s, err)) goto done;
        for (size_t j = 0; j < m; j++)
            if (ordo_store_cut_put(cut, items[rows[j]].slot, cu + j * csz, err)) {
                ordo_store_rollback(s);
                goto done;
            }
        if (ordo_store_cut_commit(cut, err)) goto done;
        r.computed += m;
        if (progress) progress(t0 + m, nt, ctx);
    }
    rc = 0;
done:
    if (rep) *rep = r;
    free(items); free(slots); free(have); free(in); free(cu); free(lg); free(todo);
    return rc;
}
