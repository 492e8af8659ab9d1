/* store_cut.h - the fine-tune activation cache of a project (owned by the
 * store like the embedding matrix; learn/finetune.h reads it, scan's
 * ordo_scan_cut_fill writes it).
 *
 *   DIR/.ordo/cut.f16   row `slot` = P*C half floats (LE), the network's
 *                       activations at the fine-tune cut (the head's input,
 *                       [pixel][channel], 7 x 7 x 320 = 31,360 bytes for
 *                       lite0), at the image's slot of embed.f16
 *   table cut_rows(slot INTEGER PRIMARY KEY)   the slots whose row is written
 *   meta keys cut_p, cut_c                     its shape
 * Same protocol as the matrices (store.h): a row is written before the
 * transaction that lists it in cut_rows commits, so a crash leaves at most
 * unlisted garbage that the next fill overwrites.
 */
#ifndef ORDO_STORE_CUT_H
#define ORDO_STORE_CUT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct ordo_store_cut ordo_store_cut;

/* Opens the cache of shape P x C (creating its table and recording the shape
 * on first use, inside its own transaction unless the store is read-only).
 * Fails with a clear message if the project holds a cache of another shape. */
ordo_store_cut *ordo_store_cut_open(ordo_store *s, int P, int C, ordo_err *err);
void ordo_store_cut_close(ordo_store_cut *c);

/* have[i] = 1 if slot slots[i]'s row is cached, else 0. */
int ordo_store_cut_have(ordo_store_cut *c, const int64_t *slots, size_t n, unsigned char *have,
                        ordo_err *err);

/* Writes slot's row (P*C floats, stored as half floats) and lists it; inside
 * an ordo_store_begin / ordo_store_cut_commit transaction. */
int ordo_store_cut_put(ordo_store_cut *c, int64_t slot, const float *row, ordo_err *err);

/* Syncs the rows written (unless the store is ORDO_STORE_FAST), then commits. */
int ordo_store_cut_commit(ordo_store_cut *c, ordo_err *err);

/* A read-only map: rows [0, *rows) addressable, P*C half floats each.
 * Valid until the next call or ordo_store_cut_close. */
const uint16_t *ordo_store_cut_map(ordo_store_cut *c, size_t *rows, ordo_err *err);

#endif
