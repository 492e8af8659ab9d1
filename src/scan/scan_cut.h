/* scan_cut.h - fills a project's fine-tune activation cache (store_cut.h)
 * by decoding the images again and running the network to the cut.
 *
 * Why not at scan time: the cache is 12x the embedding matrix (31,360 bytes
 * an image for lite0 against 2,560; 31 GB at 1M images), and only a project
 * that fine-tunes needs it, so it is built on the first request (`ordo train
 * --learner finetune`, `ordo simulate --learners finetune`), then only for
 * images scanned since. */
#ifndef ORDO_SCAN_CUT_H
#define ORDO_SCAN_CUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "nn/net.h"
#include "store/store_cut.h"

typedef struct ordo_scan_cut_report {
    size_t images;     /* items of the store */
    size_t cached;     /* already in the cache */
    size_t computed;   /* decoded and run now */
    size_t failed;     /* no readable file any more (left out of the cache) */
} ordo_scan_cut_report;

/* Caches every image of the store's items that the cache lacks. The
 * network must be the project's model in fp32. progress (may be NULL) is
 * called after each batch with (done, todo). */
int ordo_scan_cut_fill(ordo_store *s, ordo_store_cut *cut, ordo_net *net,
                       void (*progress)(size_t done, size_t todo, void *ctx), void *ctx,
                       ordo_scan_cut_report *rep, ordo_err *err);

#endif
