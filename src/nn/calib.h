/* calib.h - private to src/nn: the calibrated activation ranges of the
 * int8 networks, one table per model (calib.c, written by
 * tools/calibrate.sh; the set of photos and the method are described
 * there and in docs/benchmarks.md).
 *
 * Statistics: out_lo, out_hi, out_mean hold every block's output (its
 * projection, plus the skip) channel by channel, the channels padded to 16
 * as in the network, block after block (nout values each): the smallest
 * and largest value and the mean over the calibration photos' pixels;
 * dw_hi, dw_mean the same for every block's depthwise output (ReLU6, so
 * its smallest value is 0; ndw values each); ex_hi, ex_mean for every
 * expand layer's output (ReLU6: the depthwise input; nex values each,
 * blocks without an expand layer have none); stem_hi, stem_mean for the
 * stem's output (ReLU6: block 0's depthwise input; nstem = 32 values) and
 * in_mean for the network's input ((pixel - 127) / 128), channel by
 * channel (3 values; the int8 stem's bias correction). */
#ifndef ORDO_NN_CALIB_H
#define ORDO_NN_CALIB_H

typedef struct ordo_net_calib {
    const char *model;
    int ndw, nout;
    const float *out_lo, *out_hi, *out_mean;   /* [nout] */
    const float *dw_hi, *dw_mean;              /* [ndw] */
    int nex;
    const float *ex_hi, *ex_mean;              /* [nex] */
    int nstem;
    const float *stem_hi, *stem_mean;          /* [nstem] */
    const float *in_mean;                      /* [3] */
} ordo_net_calib;

/* The table for "lite0"... or NULL. */
const ordo_net_calib *ordo_net_calib_find(const char *model);

#endif
