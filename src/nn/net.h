/* net.h - EfficientNet-Lite0/1/2 inference: the whole contract.
 *
 * Built from a state_dict (see pth.h) with batch norm folded into the
 * convolutions at load time. Input is NHWC float, already preprocessed
 * ((pixel - 127) / 128). Output: 1000 ImageNet logits and the 1280-d
 * embedding (the global average pool before the classifier) per image.
 * Kernels are chosen at run time from the CPU's features (AVX-512, AVX2,
 * portable C). A net is used by one caller at a time; it runs its own
 * worker threads.
 */
#ifndef ORDO_NET_H
#define ORDO_NET_H

#include "base/err.h"
#include "nn/pth.h"

typedef struct ordo_net ordo_net;

#define ORDO_NET_CLASSES 1000
#define ORDO_NET_EMBED 1280

/* "lite0", "lite1", "lite2" -> input size (224, 240, 260), or 0 if unknown. */
int ordo_net_model_size(const char *model);

/* Builds the network for `model` from a parsed state_dict; validates every
 * expected tensor's presence and shape. threads <= 0 means all cores. */
ordo_net *ordo_net_create(const char *model, const ordo_pth *weights,
                          int threads, ordo_err *err);
/* The same in a chosen precision: "fp32", or "int8" (per-channel int8
 * weights and calibrated uint8 activations for the 1x1 convolutions, the
 * head's included, and for the depthwise convolutions but the first and
 * the last-map-size ones, with bias correction; the stem with uint8 pixel
 * codes x 16-bit weights; the classifier stays fp32; see net.c).
 * Benchmarks may also name the int8 variants of the accuracy/speed
 * frontier: "int8+fpstem" (the fp32 stem: the int8 before the int8 stem),
 * "int8+dw0" (also block 0's depthwise in int8, on the stem's codes),
 * "int8+fpdw" (every depthwise layer and the stem in fp32: the int8
 * before the int8 depthwise layers), "int8+w16late", "int8+w16",
 * "int8+a16" (16-bit weights in the late blocks and head, in every 1x1
 * layer; 16-bit activations in every 1x1 layer; depthwise and stem in
 * fp32).
 * ordo_net_create is "fp32". */
ordo_net *ordo_net_create_prec(const char *model, const ordo_pth *weights,
                               int threads, const char *precision, ordo_err *err);
void ordo_net_free(ordo_net *net);
/* The precision a project gets when none is asked for or recorded:
 * "int8" where the CPU runs the int8 kernels natively (AVX-512 VNNI and
 * not ORDO_KERNEL=c), else "fp32". */
const char *ordo_net_default_precision(void);

int ordo_net_input_size(const ordo_net *net);
const char *ordo_net_model(const ordo_net *net);
const char *ordo_net_kernel(const ordo_net *net);   /* "avx512", "avx2", "c"; int8:
                                                       "avx512+avx512vnni", ... */
const char *ordo_net_precision(const ordo_net *net); /* "fp32", "int8" (or a variant) */

/* int8 nets: the fp32 re-check of near-ties. After the int8 pass, every
 * image whose int8 logit margin l(top-1) - l(top-2) is below margin runs
 * again through the same network in fp32, and its logits, embedding (and
 * cut) are fp32's. 0: pure int8; INFINITY: every image (fp32's outputs at
 * a higher cost). An int8 net starts with the threshold tuned for its
 * variant (net.c recheck_default, docs/scan.md). fp32 nets accept only 0.
 * Returns 0, or -1 with err set (a negative or NaN margin). */
int ordo_net_set_recheck(ordo_net *net, double margin, ordo_err *err);
double ordo_net_recheck(const ordo_net *net);
/* Images forwarded and images re-checked since the net was created. */
void ordo_net_recheck_counts(const ordo_net *net, long *rows, long *rechecked);

/* Runs n images. in: n*S*S*3 floats (NHWC). logits: n*1000; embed: n*1280
 * or NULL. Returns 0, or -1 with err set. */
int ordo_net_forward(ordo_net *net, const float *in, int n,
                     float *logits, float *embed, ordo_err *err);

/* The same, each image's S*S*3 floats wherever they are (no copy into one
 * contiguous batch). */
int ordo_net_forward_each(ordo_net *net, const float *const *in, int n,
                          float *logits, float *embed, ordo_err *err);

/* The fine-tune cut (learn/finetune.h): the input of the head's 1x1
 * convolution, hw pixels x channels floats per image (7 x 7 x 320 for
 * lite0), the output of the last MBConv block. */
int ordo_net_cut_hw(const ordo_net *net);
int ordo_net_cut_channels(const ordo_net *net);
long ordo_net_cut_floats(const ordo_net *net);   /* hw * channels */
/* The forward pass that also writes each image's cut activations into cut
 * (n * ordo_net_cut_floats, or NULL: ordo_net_forward_each). */
int ordo_net_forward_cut(ordo_net *net, const float *const *in, int n, float *logits,
                         float *embed, float *cut, ordo_err *err);
/* The head as the fine-tune starts from it, batch norm folded in:
 * w[channels][1280] (row k = input channel k), b[1280]. fp32 nets only. */
int ordo_net_head(const ordo_net *net, float *w, float *b, ordo_err *err);

/* Calibration: the number of activation ranges an int8 net uses (every
 * channel of every block output, then of every depthwise output, then of
 * every expand output; *nout: how many are block-output channels, *ndw:
 * depthwise-output channels; see calib.h), and a forward pass of
 * fp32, one-thread net that takes every value range t sees over these
 * images into lo[t] (lowered), hi[t] (raised), sum[t] and n[t] (added:
 * the values' sum and count). */
typedef struct ordo_net_stats {
    float *lo, *hi;
    double *sum, *n;
} ordo_net_stats;
int ordo_net_tensors(const ordo_net *net, int *nout, int *ndw);
/* How many of those ranges, just before the last 3 (the input's channels),
 * are the stem output's channels (32): the int8 stem's ranges. */
int ordo_net_tensors_stem(const ordo_net *net);
int ordo_net_observe(ordo_net *net, const float *const *in, int n, ordo_net_stats *st,
                     ordo_err *err);

#endif
