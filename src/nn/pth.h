/* pth.h - reader for legacy (non-zip) PyTorch state_dict files.
 *
 * The legacy format is: pickle(magic) pickle(protocol) pickle(sys_info)
 * pickle(state_dict) pickle(storage keys) then, per storage, a little-endian
 * int64 element count followed by the raw elements. This reader implements
 * only the pickle opcodes such files use, with every read bounds-checked, and
 * refuses anything else with a message. It never executes pickled code: the
 * only "globals" it accepts are a fixed allow-list (OrderedDict,
 * _rebuild_tensor_v2, *Storage types).
 */
#ifndef ORDO_PTH_H
#define ORDO_PTH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct ordo_pth ordo_pth;   /* opaque; owns all tensor data */

typedef enum { ORDO_PTH_F32 = 1, ORDO_PTH_I64 = 2 } ordo_pth_dtype;

#define ORDO_PTH_MAX_DIM 8

typedef struct ordo_pth_tensor {
    const char *name;                  /* state_dict key, e.g. "_fc.weight" */
    ordo_pth_dtype dtype;
    int ndim;
    int64_t shape[ORDO_PTH_MAX_DIM];
    int64_t numel;
    const void *data;                  /* contiguous, row-major, numel elements */
} ordo_pth_tensor;

/* Parses a whole file held in memory; the buffer may be freed afterwards. */
ordo_pth *ordo_pth_parse(const unsigned char *buf, size_t len, ordo_err *err);
ordo_pth *ordo_pth_open(const char *path, ordo_err *err);
void ordo_pth_free(ordo_pth *p);

int ordo_pth_count(const ordo_pth *p);
const ordo_pth_tensor *ordo_pth_at(const ordo_pth *p, int i);
const ordo_pth_tensor *ordo_pth_find(const ordo_pth *p, const char *name);

#endif
