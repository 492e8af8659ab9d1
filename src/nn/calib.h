/* calib.h - private to src/nn: the calibrated activation ranges of the
 * int8 networks, one table per model (calib.c, written by
 * tools/calibrate.sh; the set of photos and the method are described
 * there and in docs/benchmarks.md).
 *
 * Tensor t of a model with nblk blocks: t < nblk is block t's output (its
 * projection, plus the skip), nblk <= t < 2*nblk is block t-nblk's depthwise
 * output (ReLU6), 2*nblk the embedding (average pool of ReLU6). */
#ifndef ORDO_NN_CALIB_H
#define ORDO_NN_CALIB_H

typedef struct ordo_net_calib {
    const char *model;
    int nblk;
    const float *out_max;   /* [nblk] */
    const float *dw_max;    /* [nblk] */
    float embed_max;
} ordo_net_calib;

/* The table for "lite0"... or NULL. */
const ordo_net_calib *ordo_net_calib_find(const char *model);

#endif
