/* net.c - EfficientNet-Lite0/1/2 forward pass (see net.h).
 *
 * Architecture (efficientnet-lite-pytorch 0.1.0, which mirrors TensorFlow's
 * efficientnet/lite/efficientnet_lite_builder.py): stem 3x3/2 conv to 32,
 * seven groups of MBConv blocks (1x1 expand, depthwise kxk, 1x1 project,
 * identity skip when stride 1 and in == out), head 1x1 conv to 1280, global
 * average pool, fully connected to 1000. ReLU6 everywhere, no squeeze-and-
 * excitation, batch norm eps 1e-3, TensorFlow 'same' padding. Stem, head
 * and the first and last groups are not scaled ("fix_head_stem").
 *
 * Execution: activations are NHWC with channels padded to 16. The early
 * (large) MBConv blocks run in groups of output rows: the expanded input
 * rows they need are computed into a small ring buffer, the depthwise conv
 * reads them and the projection writes the output rows, so the wide
 * expanded tensor never leaves the cache. The late blocks (at most 17x17
 * pixels, large weights) and the head run whole layers over a group of up
 * to 8 images, so each weight panel loaded into cache serves several
 * images. With at least as many images as threads, each thread runs whole
 * images (no synchronisation inside the network); leftover images are
 * split by rows across the threads, layer by layer.
 *
 * Compute path, chosen by measurement on this project's machine (Xeon with
 * AVX-512, lite0): our AVX-512 GEMM micro-kernel (12 pixels x 32 channels,
 * bias/ReLU6/residual fused) runs 70-85 GMAC/s on the network's 1x1 shapes,
 * the same as OpenBLAS 0.3.21 when forced to its SkylakeX kernels, while
 * Debian's OpenBLAS as detected at run time (Prescott kernels on this CPU)
 * gives 11-16 GMAC/s; and it fuses with the depthwise row pipeline.
 *
 * int8 inference (ordo_net_create_prec "int8"): every 1x1 convolution
 * (expand, project, head) runs as uint8 activations x int8 weights with
 * exact int32 sums (AVX-512 VNNI's vpdpbusd, 64 multiply-adds an
 * instruction; kernels.h), the rest as in fp32. Weights: symmetric, one
 * scale per output channel, from the folded fp32 weights at load time,
 * with bias correction from the calibrated channel means (quant_layer:
 * measured over sports100 + imagenet-sample, it took top-1 agreement with
 * fp32 from 94.9 to 97.0 % (lite0; lite2 97.4 %) and the mean embedding
 * cosine from 0.997 to 0.9992).
 * Activations: quantized at each 1x1 layer's input with ranges calibrated
 * once per model on 300 photos (calib.h, tools/calibrate.sh; act_quant says
 * how ranges become scales).
 * The depthwise layers (35 % of the int8 net's CPU time with them in fp32,
 * perf, lite0 and lite2) run in int8 too (q8dw, quant_dw; kernels.h
 * "dw8"): the expand layer writes uint8 codes laid out so that one
 * vpdpbusd lane holds 4 horizontal taps of a channel, and the depthwise
 * kernel writes the project layer's uint8 input from exact int32 sums.
 * Measured over sports100 + imagenet-sample (5,189 photos): top-1
 * agreement with fp32 unchanged (lite0 97.07 vs 97.05 %), embedding cosine
 * 0.99916 -> 0.99903; 8-12 % less CPU per image. Not in block 0 (its input
 * is the fp32 stem's) nor in the blocks at the last map size (most of the
 * accuracy cost, none of the speed: quantize_weights).
 * The stem runs in int8 too (stem8_rows, quant_stem): its input codes are
 * the pixels ((pixel - 127) / 128 exactly inverted), 16-bit weights (8-bit
 * ones lost more embedding cosine than the rest of the network), writing
 * floats for block 0's fp32 depthwise layer: int8 depthwise there, on
 * 8-bit codes of the stem's output, cost lite0 0.0006 and lite2 0.002 of
 * mean cosine on the calibration photos ("int8+dw0", a benchmark variant).
 * Kept in fp32, by measurement on this project's Xeon: the classifier
 * (0.3 % of the work, but on sports photos
 * its int8 form alone changed 0.6 % of the top-1 classes: many photos sit
 * on near-ties between ImageNet classes).
 * What is left of the int8 error is rounding noise, not bias (measured: an
 * empirical, layer-by-layer bias correction gained nothing more), in
 * weights and activations alike (16-bit weights everywhere, or 16-bit
 * activations everywhere, each took the mean cosine from 0.9991 to
 * 0.9996 and agreement up by about half a point). The variants
 * "int8+w16late", "int8+w16", "int8+a16" (q8vars) buy accuracy back with
 * 16-bit weights or activations, as two 8-bit digits through the same
 * vpdpbusd, at the speed cost measured there; benchmarks use them to draw
 * the accuracy/speed frontier.
 * An int8 net re-checks near-ties in fp32 (recheck_forward): rows whose
 * int8 logit margin is below a tuned threshold run again through the fp32
 * weights it keeps, which takes top-1 agreement with fp32 from 97 % to
 * 99.1-99.3 % for about 5 % of an fp32 pass per image.
 */
#include "nn/net.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "nn/calib.h"
#include "nn/kernels.h"

#define MAX_BLOCKS 32
#define MAX_THREADS 64
#define BN_EPS 1e-3
#define STEM_C 32
#define HEAD_C 1280
#define FC_NP 1008          /* 1000 classes padded to a multiple of 16 */
#ifndef TARGET_M
#define TARGET_M 64         /* pixels per GEMM call in a row group */
#endif
#define GROUP 8             /* images a thread carries through the late blocks together */
#ifndef BATCH_HW
#define BATCH_HW 289        /* blocks with at most this many input pixels (17x17) run batched */
#endif
#ifndef BATCH_PIX
#define BATCH_PIX 600       /* ...in sub-groups of about this many pixels (measured) */
#endif
#ifndef HEAD_M
#define HEAD_M 128          /* pixels per head GEMM call */
#endif
#define RECHECK_INT8 0.10     /* the fp32 re-check's logit margins (recheck_default) */
#define RECHECK_INT8_LITE2 0.07
#define RECHECK_FPDW 0.08
#define RECHECK_W16LATE 0.09
#define RECHECK_FPSTEM 0.12   /* int8+fpstem: the int8 of before the int8 stem (lite0, lite1) */
#define STEM8_K 28            /* the int8 stem's K: 27 taps x channels, one zero (kernels.h) */
#define STEM8_G 4             /* the int8 stem's output rows per GEMM call */

static int pad16(int c) { return (c + 15) & ~15; }

/* ---------------------------------------------------------------- kernels */

/* The portable kernels: plain loops over 16-float chunks with constant
 * trip counts (the compiler unrolls or vectorises them as the target allows). */
static void gemm_c(int M, int N, int K, const float *A, int lda, const float *B,
                   const float *bias, float *C, int ldc, const float *R, int ldr,
                   int relu6)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const float *Bp = B + (long)n0 * K;
        for (int m = 0; m < M; m++) {
            float acc[ORDO_NET_PANEL];
            const float *a = A + (long)m * lda;
            for (int h = 0; h < w; h += 16) {
                for (int j = 0; j < 16; j++) acc[h + j] = bias[n0 + h + j];
                for (int k = 0; k < K; k++) {
                    const float av = a[k];
                    const float *b = Bp + (long)k * w + h;
                    for (int j = 0; j < 16; j++) acc[h + j] += av * b[j];
                }
            }
            float *c = C + (long)m * ldc + n0;
            for (int j = 0; j < w; j++) {
                float v = acc[j];
                if (relu6) v = v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
                if (R) v += R[(long)m * ldr + n0 + j];
                c[j] = v;
            }
        }
    }
}

static void dw_c(int k, int s, int Win, int pl, int Wout, int C,
                 const float *const *rows, const float *w, const float *bias,
                 float *out)
{
    for (int x = 0; x < Wout; x++)
        for (int c0 = 0; c0 < C; c0 += 16) {
            float acc[16];
            for (int j = 0; j < 16; j++) acc[j] = bias[c0 + j];
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    const int ix = x * s - pl + kx;
                    if (ix < 0 || ix >= Win) continue;
                    const float *in = rows[ky] + (long)ix * C + c0;
                    const float *wt = w + (long)(ky * k + kx) * C + c0;
                    for (int j = 0; j < 16; j++) acc[j] += in[j] * wt[j];
                }
            float *o = out + (long)x * C + c0;
            for (int j = 0; j < 16; j++) o[j] = acc[j] < 0.0f ? 0.0f : acc[j] > 6.0f ? 6.0f : acc[j];
        }
}

const ordo_net_kernels ordo_net_kernels_c = { "c", gemm_c, dw_c, NULL };

/* The portable int8 kernels: the reference the VNNI ones are tested
 * against (the int32 sums are exact, so they agree to the last bit before
 * the float dequantization). */
/* The exact int32 sums of one row a (K bytes) against a packed panel of w
 * columns (kernels.h layout: 4 consecutive k of one column together). */
static void dot8_panel(const uint8_t *a, const int8_t *Bp, int K, int w, int32_t *acc)
{
    for (int j = 0; j < w; j++) acc[j] = 0;
    for (int k = 0; k < K; k += 4) {
        const int8_t *b = Bp + (long)k * w;
        for (int j = 0; j < w; j++)
            for (int t = 0; t < 4; t++) acc[j] += (int32_t)a[k + t] * b[j * 4 + t];
    }
}

static void gemm8_c(int M, int N, int K, const uint8_t *A, int lda, const int8_t *B,
                    const float *scale, const float *bias, float *C, int ldc, const float *R,
                    int ldr, int relu6)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const int8_t *Bp = B + (long)n0 * K;
        for (int m = 0; m < M; m++) {
            int32_t acc[ORDO_NET_PANEL];
            dot8_panel(A + (long)m * lda, Bp, K, w, acc);
            float *c = C + (long)m * ldc + n0;
            for (int j = 0; j < w; j++) {
                float v = scale[n0 + j] * (float)acc[j] + bias[n0 + j];
                if (relu6) v = v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
                if (R) v += R[(long)m * ldr + n0 + j];
                c[j] = v;
            }
        }
    }
}

/* fma, then the clamp in float (so huge values and NaN cannot wrap in the
 * conversion), then round half to even (lrintf in the default mode). */
static void quant_c(const float *x, long rows, int C, const float *inv, const float *off,
                    uint8_t *q)
{
    for (long r = 0; r < rows; r++, x += C, q += C)
        for (int c = 0; c < C; c++) {
            float v = fmaf(x[c], inv[c], off[c]);
            if (!(v >= 0.0f)) v = 0.0f;   /* NaN too */
            if (v > 255.0f) v = 255.0f;
            q[c] = (uint8_t)lrintf(v);
        }
}

static void gemm16_c(int M, int N, int K, const uint8_t *A, int lda, const int8_t *B,
                     const float *scale, const float *bias, float *C, int ldc, const float *R,
                     int ldr, int relu6)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const int8_t *Bp = B + (long)n0 * K;
        for (int m = 0; m < M; m++) {
            int32_t lo[ORDO_NET_PANEL] = { 0 }, hi[ORDO_NET_PANEL] = { 0 };
            const uint8_t *a = A + (long)m * lda, *ah = a + K;
            for (int k = 0; k < K; k += 4) {
                const int8_t *b = Bp + (long)k * w;
                for (int j = 0; j < w; j++)
                    for (int t = 0; t < 4; t++) {
                        lo[j] += (int32_t)a[k + t] * b[j * 4 + t];
                        hi[j] += (int32_t)ah[k + t] * b[j * 4 + t];
                    }
            }
            float *c = C + (long)m * ldc + n0;
            for (int j = 0; j < w; j++) {
                /* as the VNNI kernel: two fmas in this order */
                float v = fmaf((float)hi[j], 256.0f * scale[n0 + j],
                               fmaf((float)lo[j], scale[n0 + j], bias[n0 + j]));
                if (relu6) v = v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
                if (R) v += R[(long)m * ldr + n0 + j];
                c[j] = v;
            }
        }
    }
}

static void quant16_c(const float *x, long rows, int C, const float *inv, const float *off,
                      uint8_t *q)
{
    for (long r = 0; r < rows; r++, x += C, q += 2L * C)
        for (int c = 0; c < C; c++) {
            float v = fmaf(x[c], inv[c], off[c]);
            if (!(v >= 0.0f)) v = 0.0f;
            if (v > 65535.0f) v = 65535.0f;
            const long u = lrintf(v);
            q[c] = (uint8_t)(u & 255);
            q[C + c] = (uint8_t)(u >> 8);
        }
}

static void gemmw16_c(int M, int N, int K, const uint8_t *A, int lda, const int8_t *Bh,
                      const int8_t *Bl, const float *scale, const float *bias, float *C, int ldc,
                      const float *R, int ldr, int relu6)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const int8_t *Ph = Bh + (long)n0 * K, *Pl = Bl + (long)n0 * K;
        for (int m = 0; m < M; m++) {
            int32_t lo[ORDO_NET_PANEL] = { 0 }, hi[ORDO_NET_PANEL] = { 0 };
            const uint8_t *a = A + (long)m * lda;
            for (int k = 0; k < K; k += 4)
                for (int j = 0; j < w; j++)
                    for (int t = 0; t < 4; t++) {
                        hi[j] += (int32_t)a[k + t] * Ph[(long)k * w + j * 4 + t];
                        lo[j] += (int32_t)a[k + t] * Pl[(long)k * w + j * 4 + t];
                    }
            float *c = C + (long)m * ldc + n0;
            for (int j = 0; j < w; j++) {
                float v = fmaf((float)hi[j], 256.0f * scale[n0 + j],
                               fmaf((float)lo[j], scale[n0 + j], bias[n0 + j]));
                if (relu6) v = v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
                if (R) v += R[(long)m * ldr + n0 + j];
                c[j] = v;
            }
        }
    }
}

/* ---- the int8 depthwise path (kernels.h, "dw8") ---- */

/* kernels.h's output code: fma, then the clamp in float, then round half
 * to even (as quant_c; the VNNI kernels do the same in vector form). */
static uint8_t dw8_code(int32_t acc, float mul, float add)
{
    float v = fmaf((float)acc, mul, add);
    if (!(v >= 0.0f)) v = 0.0f;
    if (v > 255.0f) v = 255.0f;
    return (uint8_t)lrintf(v);
}

/* Where pixel x, channel c of a quad-layout row of C channels lives. */
static long dw8_at(int x, int c, int C)
{
    const int p = x + 4;
    return (long)(p / 4) * 4 * C + 4L * c + p % 4;
}

static void gemm8q_c(int M, int N, int K, const uint8_t *A, int lda, const int8_t *B,
                     const float *mul, const float *add, uint8_t *C, int W, long row_bytes)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const int8_t *Bp = B + (long)n0 * K;
        for (int m = 0; m < M; m++) {
            int32_t acc[ORDO_NET_PANEL];
            dot8_panel(A + (long)m * lda, Bp, K, w, acc);
            uint8_t *row = C + (long)(m / W) * row_bytes;
            for (int j = 0; j < w; j++)
                row[dw8_at(m % W, n0 + j, N)] = dw8_code(acc[j], mul[n0 + j], add[n0 + j]);
        }
    }
}

/* Output x's first tap is slot p = x s - pl + 4, in quad p / 4 at lane
 * byte a = p % 4; its k taps reach into the next quad when a + k > 4
 * (only then is that quad read: it may be past the row's end otherwise). */
static void dw8_c(int k, int s, int pl, int Wout, int C, const uint8_t *const *rows,
                  const int8_t *w, const float *mul, const float *add, uint8_t *out)
{
    for (int x = 0; x < Wout; x++) {
        const int p = x * s - pl + 4, q = p / 4, a = p % 4;
        for (int c = 0; c < C; c++) {
            int32_t acc = 0;
            for (int ky = 0; ky < k; ky++)
                for (int part = 0; part < 1 + (a + k > 4); part++) {
                    const uint8_t *in = rows[ky] + (long)(q + part) * 4 * C + 4L * c;
                    const int8_t *wt = w + ((((long)(c / 16) * k + ky) * 4 + a) * 2 + part) * 64 +
                                       4 * (c % 16);
                    for (int j = 0; j < 4; j++) acc += (int32_t)in[j] * wt[j];
                }
            out[(long)x * C + c] = dw8_code(acc, mul[c], add[c]);
        }
    }
}

/* kernels.h gemmw16q: the high digits' sum times 256 plus the low ones'. */
static void gemmw16q_c(int M, int N, int K, const uint8_t *A, int lda, const int8_t *Bh,
                       const int8_t *Bl, const float *mul, const float *add, uint8_t *C, int W,
                       long row_bytes)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        for (int m = 0; m < M; m++) {
            int32_t hi[ORDO_NET_PANEL], lo[ORDO_NET_PANEL];
            dot8_panel(A + (long)m * lda, Bh + (long)n0 * K, K, w, hi);
            dot8_panel(A + (long)m * lda, Bl + (long)n0 * K, K, w, lo);
            uint8_t *row = C + (long)(m / W) * row_bytes;
            for (int j = 0; j < w; j++)
                row[dw8_at(m % W, n0 + j, N)] = dw8_code(hi[j] * 256 + lo[j], mul[n0 + j],
                                                         add[n0 + j]);
        }
    }
}

const ordo_net_kernels8 ordo_net_kernels8_c = { "c8", gemm8_c, quant_c, gemm16_c, quant16_c,
                                                gemmw16_c, gemm8q_c, dw8_c, gemmw16q_c };

/* ------------------------------------------------------------ the network */

typedef struct arena {
    char *base;
    size_t size, used;   /* bytes */
} arena;

/* A 1x1 convolution's int8 form (kernels.h, "int8"): packed weights, the
 * per-channel dequantization scale and corrected bias, and the quantizer
 * of its input (1/scale and zero point of the activation tensor). */
typedef struct q8 {
    int8_t *w;
    float *scale, *bias;
    float *inv;                       /* [K padded]: 1 / the input channel's scale */
    float *off;                       /* [K padded]: the input channel's zero point */
    int a16;                          /* 16-bit activations (two digits), else 8 */
    int8_t *wl;                       /* 16-bit weights: the low digits (w: the high) */
} q8;

/* A block's int8 depthwise form (precision "int8"; kernels.h "dw8"):
 * the expand layer writes uint8 codes of its ReLU6 output (zero point 0,
 * each channel its own calibrated range, quant_dw) in the quad layout;
 * the depthwise layer multiplies them by
 * per-channel symmetric int8 weights into exact int32 sums and writes the
 * project layer's uint8 input straight from them. */
typedef struct q8dw {
    int8_t *w;                        /* packed, kernels.h */
    float *mul, *add;                 /* [cexpp]: depthwise sum -> project's input code */
    float *emul, *eadd;               /* [cexpp]: expand sum -> depthwise input code */
    int8_t *ew;                       /* the expand's int8 weights (qe.w) over K = ek */
    int ek;                           /* cin rounded up to 4: the K the expand GEMM runs */
} q8dw;

typedef struct blk {
    int k, s, cin, cexp, cout;        /* true channel counts */
    int cinp, cexpp, coutp;           /* padded to 16 */
    int hin, win, hout, wout, pt, pl; /* sizes and top/left padding */
    int expand, residual;
    int g, ring;                      /* output rows per group, ring rows */
    int gb;                           /* batched blocks: images per sub-group */
    int obs, obs_d, obs_x;            /* calibration: where its output's, depthwise's, expand's
                                         ranges start */
    float *we, *be;                   /* expand: packed [cin] x cexpp, bias */
    float *wd, *bd;                   /* depthwise: [k*k][cexpp], bias */
    float *wp, *bp;                   /* project: packed [cexp] x coutp, bias */
    q8 qe, qp;                        /* int8 nets: expand, project */
    int dw8;                          /* int8 depthwise (qd) */
    q8dw qd;
} blk;

typedef struct scratch {              /* one per thread */
    float *act[2];                    /* ping-pong activations of one image */
    float *ring, *dwbuf, *col, *hbuf;
    float *gact[2], *xbuf;            /* the late blocks of GROUP images */
    uint8_t *q;                       /* int8 nets: a GEMM's quantized input */
    ordo_net_stats *obs;              /* ordo_net_observe: the statistics, or NULL */
    arena mem;                        /* owns all of the above */
    float pool[HEAD_C];
} scratch;

struct ordo_net;
typedef void job_fn(struct ordo_net *net, void *arg, int tid);

typedef struct worker {
    struct ordo_net *net;
    int tid;
    pthread_t th;
} worker;

struct ordo_net {
    char model[8];
    int size;
    const ordo_net_kernels *kern;
    int int8;                          /* precision: 0 fp32, 1 int8 (one of q8vars) */
    const struct q8var *var;           /* int8 nets: which */
    const ordo_net_kernels8 *k8;       /* int8 nets */
    char kname[32];                    /* ordo_net_kernel()'s answer */

    int s1, stem_pt, stem_pl, stem_g;  /* stem output side, padding, rows/group */
    float *ws, *bs;                    /* packed [27] x 32 */
    int nblk;
    blk b[MAX_BLOCKS];
    int head_cin, head_h, head_w;
    float *wh, *bh;                    /* packed [head_cin] x 1280 */
    float *wfc, *bfc;                  /* packed [1280] x FC_NP */
    q8 qh;                             /* int8 nets: the head */
    double recheck;                    /* int8 nets: re-check rows below this margin in fp32 */
    long recheck_rows, recheck_done;   /* rows forwarded, rows re-checked (recheck_forward) */
    arena w8mem;                       /* owns the int8 weights */
    size_t q_bytes;                    /* scratch q: the largest quantized GEMM input */
    int obs_dw, obs_x, obs_n;          /* calibration: where the depthwise, expand ranges start; all */
    int obs_s;                         /* calibration: where the stem's ranges start (output, input) */
    int stem8;                         /* int8 nets: the stem in int8 (quant_stem): 0 no, 1 writing
                                          floats, 2 writing block 0's depthwise codes */
    q8 qs;                             /* int8 stem: weights [STEM8_K] x 32, input quantizer */

    size_t act_floats, ring_floats, dw_floats, col_floats, hbuf_floats;
    int first_batched;                 /* blocks from here on run over image groups */
    size_t gact_floats, xbuf_floats;
    float *zero;                       /* a row of zeros (top/bottom padding) */
    arena wmem;                        /* owns the packed weights and zero */

    int threads;
    scratch *scr;
    worker *workers;
    int nworkers;                      /* threads actually started */
    pthread_mutex_t mu;
    pthread_cond_t cv_start, cv_done;
    atomic_ulong gen;                  /* bumped once per job */
    atomic_int pending;                /* workers still running the job */
    int quit;
    job_fn *job;
    void *job_arg;
};

/* ------------------------------------------------------------ thread pool */

/* Row-split mode hands out one job per layer, so a job's start and end
 * must be cheap: both sides spin for up to SPIN_NS before sleeping on the
 * condition variable (a sleeping thread costs tens of microseconds to wake). */
#define SPIN_NS 50000L

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins until *gen != old (or, with gen NULL, until *count == 0); returns 0
 * if SPIN_NS passed first. */
static int spin_until(atomic_ulong *gen, unsigned long old, atomic_int *count)
{
    double t0 = ordo_clock_mono();
    for (unsigned i = 1;; i++) {
        if (gen ? atomic_load(gen) != old : atomic_load(count) == 0) return 1;
        cpu_relax();
        if (i % 64 == 0 && ordo_clock_mono() - t0 > SPIN_NS * 1e-9) return 0;
    }
}

static void *worker_main(void *p)
{
    worker *w = p;
    ordo_net *net = w->net;
    unsigned long seen = 0;
    for (;;) {
        if (!spin_until(&net->gen, seen, NULL)) {
            pthread_mutex_lock(&net->mu);
            while (atomic_load(&net->gen) == seen && !net->quit)
                pthread_cond_wait(&net->cv_start, &net->mu);
            const int quit = net->quit;
            pthread_mutex_unlock(&net->mu);
            if (quit) break;
        }
        seen = atomic_load(&net->gen);
        job_fn *fn = net->job;
        void *arg = net->job_arg;
        if (!fn) break;                 /* ordo_net_free's wake-up */
        fn(net, arg, w->tid);
        if (atomic_fetch_sub(&net->pending, 1) == 1) {
            pthread_mutex_lock(&net->mu);
            pthread_cond_signal(&net->cv_done);
            pthread_mutex_unlock(&net->mu);
        }
    }
    return NULL;
}

/* Runs fn(net, arg, tid) for every tid in [0, threads), the caller being
 * thread 0, and returns when all are done. */
static void pool_run(ordo_net *net, job_fn *fn, void *arg)
{
    if (net->threads > 1) {
        pthread_mutex_lock(&net->mu);
        net->job = fn;
        net->job_arg = arg;
        atomic_store(&net->pending, net->threads - 1);
        atomic_fetch_add(&net->gen, 1);   /* publishes job and job_arg */
        pthread_cond_broadcast(&net->cv_start);
        pthread_mutex_unlock(&net->mu);
    }
    fn(net, arg, 0);
    if (net->threads > 1 && !spin_until(NULL, 0, &net->pending)) {
        pthread_mutex_lock(&net->mu);
        while (atomic_load(&net->pending) > 0) pthread_cond_wait(&net->cv_done, &net->mu);
        pthread_mutex_unlock(&net->mu);
    }
}

/* ------------------------------------------------------------ model shape */

static const struct {
    const char *name;
    double width, depth;
    int size;
} models[] = {
    { "lite0", 1.0, 1.0, 224 },
    { "lite1", 1.0, 1.1, 240 },
    { "lite2", 1.1, 1.2, 260 },
};

/* Block groups of efficientnet_lite(): r1_k3_s11_e1_i32_o16, ... */
static const struct { int r, k, s, e, i, o; } groups[7] = {
    { 1, 3, 1, 1, 32, 16 },  { 2, 3, 2, 6, 16, 24 },   { 2, 5, 2, 6, 24, 40 },
    { 3, 3, 2, 6, 40, 80 },  { 3, 5, 1, 6, 80, 112 },  { 4, 5, 2, 6, 112, 192 },
    { 1, 3, 1, 6, 192, 320 },
};

/* utils.round_filters with depth_divisor 8, min_depth None. */
static int round_filters(int filters, double width)
{
    const double f = filters * width;
    int nf = (int)(f + 4.0) / 8 * 8;
    if (nf < 8) nf = 8;
    if (nf < 0.9 * f) nf += 8;
    return nf;
}

int ordo_net_model_size(const char *model)
{
    if (!model) return 0;
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        if (!strcmp(models[i].name, model)) return models[i].size;
    return 0;
}

/* TensorFlow 'same': total = max((out-1)*s + k - in, 0), smaller half first. */
static int same_pad_before(int in, int k, int s, int *out)
{
    *out = (in + s - 1) / s;
    int total = (*out - 1) * s + k - in;
    if (total < 0) total = 0;
    return total / 2;
}

/* ---------------------------------------------------------- weight loading */

typedef struct loader {
    const ordo_pth *pth;
    arena *arena;
    const char *model;
    char **used;
    int nused, capused;
    ordo_err *err;
} loader;

static const float *tensor(loader *L, const char *name, int ndim, const int64_t *shape)
{
    const ordo_pth_tensor *t = ordo_pth_find(L->pth, name);
    char want[96] = "", got[96] = "";
    size_t wl = 0, gl = 0;
    for (int i = 0; i < ndim; i++)
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s%lld", i ? "," : "",
                               (long long)shape[i]);
    if (!t) {
        ordo_err_set(L->err, "%s weights: tensor %s [%s] is missing (wrong model or file?)",
                     L->model, name, want);
        return NULL;
    }
    int ok = t->ndim == ndim && t->dtype == ORDO_PTH_F32 && t->data;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        for (int i = 0; i < t->ndim && i < ORDO_PTH_MAX_DIM; i++)
            gl += (size_t)snprintf(got + gl, sizeof got - gl, "%s%lld", i ? "," : "",
                                   (long long)t->shape[i]);
        ordo_err_set(L->err, "%s weights: tensor %s has shape [%s]%s, expected float32 [%s] "
                     "(wrong model or file?)", L->model, name, got,
                     t->dtype == ORDO_PTH_F32 ? "" : " (not float32)", want);
        return NULL;
    }
    if (L->nused == L->capused) {
        int cap = L->capused ? L->capused * 2 : 256;
        char **u = realloc(L->used, (size_t)cap * sizeof *u);
        if (!u) { ordo_err_set(L->err, "out of memory"); return NULL; }
        L->used = u;
        L->capused = cap;
    }
    if (!(L->used[L->nused] = strdup(name))) { ordo_err_set(L->err, "out of memory"); return NULL; }
    L->nused++;
    return t->data;
}

static const float *tensor1(loader *L, const char *name, int64_t a)
{
    return tensor(L, name, 1, &a);
}

static const float *tensor4(loader *L, const char *name, int64_t a, int64_t b,
                            int64_t c, int64_t d)
{
    const int64_t s[4] = { a, b, c, d };
    return tensor(L, name, 4, s);
}

/* Batch norm prefix -> per-channel scale and shift (eval mode):
 * y = (x - mean) / sqrt(var + eps) * gamma + beta = x * scale + shift. */
static int bn(loader *L, const char *prefix, int C, double *scale, double *shift)
{
    char n[160];
    const float *g, *b, *m, *v;
    snprintf(n, sizeof n, "%s.weight", prefix);
    if (!(g = tensor1(L, n, C))) return -1;
    snprintf(n, sizeof n, "%s.bias", prefix);
    if (!(b = tensor1(L, n, C))) return -1;
    snprintf(n, sizeof n, "%s.running_mean", prefix);
    if (!(m = tensor1(L, n, C))) return -1;
    snprintf(n, sizeof n, "%s.running_var", prefix);
    if (!(v = tensor1(L, n, C))) return -1;
    for (int c = 0; c < C; c++) {
        if (!(v[c] >= 0.0f) || !isfinite(g[c]) || !isfinite(b[c]) || !isfinite(m[c]))
            return ordo_err_set(L->err, "%s weights: %s has a non-finite or negative value "
                                "at channel %d", L->model, prefix, c);
        scale[c] = g[c] / sqrt((double)v[c] + BN_EPS);
        shift[c] = b[c] - m[c] * scale[c];
    }
    return 0;
}

/* An arena: one zeroed block, 2 MiB aligned and offered to the kernel for
 * transparent huge pages (the weights and buffers are streamed through
 * again and again, and 4 KiB pages cost TLB misses: measured ~4%), handing
 * out 64-byte aligned pieces so vector loads never straddle cache lines. */
#define ARENA_ALIGN ((size_t)2 << 20)

static size_t arena_floats(size_t n) { return (n + 15) & ~(size_t)15; }

static int arena_init(arena *a, size_t floats)
{
    a->size = (floats * sizeof(float) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    a->used = 0;
    a->base = aligned_alloc(ARENA_ALIGN, a->size ? a->size : ARENA_ALIGN);
    if (!a->base) return -1;
#ifdef MADV_HUGEPAGE
    madvise(a->base, a->size, MADV_HUGEPAGE);   /* advice only: failure is fine */
#endif
    memset(a->base, 0, a->size);
    return 0;
}

/* n zeroed floats; NULL when the arena (sized by plan()) is exhausted. */
static float *falloc(arena *a, size_t n)
{
    const size_t bytes = arena_floats(n) * sizeof(float);
    if (!a->base || bytes > a->size - a->used) return NULL;
    float *p = (float *)(a->base + a->used);
    a->used += bytes;
    return p;
}

/* Packs the K x N matrix B[k][n] = w[n*wn + k*wk] * scale[n] (zero for
 * n >= N) into panels of 32 columns (the last may be 16), see kernels.h. */
static float *pack(arena *a, int K, int N, int Np, const float *w, int wk, int wn,
                   const double *scale)
{
    float *p = falloc(a, (size_t)K * Np);
    if (!p) return NULL;
    float *d = p;
    for (int n0 = 0; n0 < Np; n0 += ORDO_NET_PANEL) {
        const int pw = Np - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        for (int k = 0; k < K; k++)
            for (int j = 0; j < pw; j++) {
                const int n = n0 + j;
                *d++ = n < N ? (float)(w[(long)n * wn + (long)k * wk] * (scale ? scale[n] : 1.0))
                             : 0.0f;
            }
    }
    return p;
}

static float *bias_vec(arena *a, int N, int Np, const double *shift, const float *f)
{
    float *b = falloc(a, (size_t)Np);
    if (!b) return NULL;
    for (int n = 0; n < N; n++) b[n] = shift ? (float)shift[n] : f[n];
    return b;
}

/* 1x1 conv + its batch norm, folded and packed. */
static int load_pw(loader *L, const char *conv, const char *bnp, int cin, int cout,
                   int coutp, double *sc, double *sh, float **w, float **b)
{
    const float *t = tensor4(L, conv, cout, cin, 1, 1);
    if (!t || bn(L, bnp, cout, sc, sh)) return -1;
    *w = pack(L->arena, cin, cout, coutp, t, 1, cin, sc);
    *b = bias_vec(L->arena, cout, coutp, sh, NULL);
    return *w && *b ? 0 : ordo_err_set(L->err, "out of memory");
}

static int load_weights(ordo_net *net, loader *L)
{
    double sc[HEAD_C * 2], sh[HEAD_C * 2];  /* widest layer: 1248 (lite2) */
    char a[128], c[128];

    /* Stem: torch [32][3][3][3] (out, in, ky, kx) -> K index (ky*3+kx)*3+c. */
    const float *t = tensor4(L, "_conv_stem.weight", STEM_C, 3, 3, 3);
    if (!t || bn(L, "_bn0", STEM_C, sc, sh)) return -1;
    float tmp[STEM_C * 27];
    for (int n = 0; n < STEM_C; n++)
        for (int ci = 0; ci < 3; ci++)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                    tmp[n * 27 + (ky * 3 + kx) * 3 + ci] = t[((n * 3 + ci) * 3 + ky) * 3 + kx];
    net->ws = pack(L->arena, 27, STEM_C, STEM_C, tmp, 1, 27, sc);
    net->bs = bias_vec(L->arena, STEM_C, STEM_C, sh, NULL);
    if (!net->ws || !net->bs) return ordo_err_set(L->err, "out of memory");

    for (int i = 0; i < net->nblk; i++) {
        blk *B = &net->b[i];
        if (B->expand) {
            snprintf(a, sizeof a, "_blocks.%d._expand_conv.weight", i);
            snprintf(c, sizeof c, "_blocks.%d._bn0", i);
            if (load_pw(L, a, c, B->cin, B->cexp, B->cexpp, sc, sh, &B->we, &B->be)) return -1;
        }
        snprintf(a, sizeof a, "_blocks.%d._depthwise_conv.weight", i);
        snprintf(c, sizeof c, "_blocks.%d._bn1", i);
        t = tensor4(L, a, B->cexp, 1, B->k, B->k);
        if (!t || bn(L, c, B->cexp, sc, sh)) return -1;
        B->wd = falloc(L->arena, (size_t)B->k * B->k * B->cexpp);
        B->bd = bias_vec(L->arena, B->cexp, B->cexpp, sh, NULL);
        if (!B->wd || !B->bd) return ordo_err_set(L->err, "out of memory");
        for (int ch = 0; ch < B->cexp; ch++)
            for (int q = 0; q < B->k * B->k; q++)
                B->wd[(long)q * B->cexpp + ch] = (float)(t[(long)ch * B->k * B->k + q] * sc[ch]);
        snprintf(a, sizeof a, "_blocks.%d._project_conv.weight", i);
        snprintf(c, sizeof c, "_blocks.%d._bn2", i);
        if (load_pw(L, a, c, B->cexp, B->cout, B->coutp, sc, sh, &B->wp, &B->bp)) return -1;
    }
    snprintf(a, sizeof a, "_blocks.%d._depthwise_conv.weight", net->nblk);
    if (ordo_pth_find(L->pth, a))
        return ordo_err_set(L->err, "%s weights: found %s, but %s has %d blocks "
                            "(weights of another model?)", L->model, a, L->model, net->nblk);

    if (load_pw(L, "_conv_head.weight", "_bn1", net->head_cin, HEAD_C, HEAD_C, sc, sh,
                &net->wh, &net->bh))
        return -1;
    const int64_t fcs[2] = { ORDO_NET_CLASSES, HEAD_C };
    const float *fw = tensor(L, "_fc.weight", 2, fcs);
    const float *fb = fw ? tensor1(L, "_fc.bias", ORDO_NET_CLASSES) : NULL;
    if (!fb) return -1;
    net->wfc = pack(L->arena, HEAD_C, ORDO_NET_CLASSES, FC_NP, fw, 1, HEAD_C, NULL);
    net->bfc = bias_vec(L->arena, ORDO_NET_CLASSES, FC_NP, NULL, fb);
    if (!net->wfc || !net->bfc) return ordo_err_set(L->err, "out of memory");

    /* Anything left over means the file is not what we think it is. */
    for (int i = 0; i < ordo_pth_count(L->pth); i++) {
        const char *name = ordo_pth_at(L->pth, i)->name;
        const char *nbt = ".num_batches_tracked";
        size_t ln = strlen(name), lb = strlen(nbt);
        if (ln > lb && !strcmp(name + ln - lb, nbt)) continue;
        int found = 0;
        for (int j = 0; j < L->nused && !found; j++) found = !strcmp(L->used[j], name);
        if (!found)
            return ordo_err_set(L->err, "%s weights: unexpected tensor %s (wrong model or file?)",
                                L->model, name);
    }
    return 0;
}

/* Derives the block list and every buffer size from the model's rules. */
static int plan(ordo_net *net, double width, double depth, ordo_err *err)
{
    const int S = net->size;
    net->stem_pt = same_pad_before(S, 3, 2, &net->s1);
    net->stem_pl = net->stem_pt;
    net->stem_g = (TARGET_M + net->s1 - 1) / net->s1;
    net->col_floats = (size_t)net->stem_g * net->s1 * 27;
    net->act_floats = (size_t)net->s1 * net->s1 * STEM_C;

    int h = net->s1, nb = 0;
    size_t zero = (size_t)net->s1 * STEM_C;
    for (int g = 0; g < 7; g++) {
        int gin = round_filters(groups[g].i, width), gout = round_filters(groups[g].o, width);
        int reps = groups[g].r;
        if (g == 0) gin = STEM_C;
        if (g != 0 && g != 6) reps = (int)ceil(depth * groups[g].r);
        for (int r = 0; r < reps; r++) {
            if (nb == MAX_BLOCKS) return ordo_err_set(err, "too many blocks");
            blk *B = &net->b[nb++];
            B->k = groups[g].k;
            B->s = r ? 1 : groups[g].s;
            B->cin = r ? gout : gin;
            B->cexp = B->cin * groups[g].e;
            B->cout = gout;
            B->cinp = pad16(B->cin);
            B->cexpp = pad16(B->cexp);
            B->coutp = pad16(B->cout);
            B->expand = groups[g].e != 1;
            B->residual = B->s == 1 && B->cin == B->cout;
            B->hin = B->win = h;
            B->pt = B->pl = same_pad_before(h, B->k, B->s, &B->hout);
            B->wout = B->hout;
            h = B->hout;
            B->g = (TARGET_M + B->wout - 1) / B->wout;
            if (B->g > B->hout) B->g = B->hout;
            B->ring = (B->g - 1) * B->s + B->k;
            if (B->expand) {
                size_t rf = (size_t)B->ring * B->win * B->cexpp;
                if (rf > net->ring_floats) net->ring_floats = rf;
            }
            size_t df = (size_t)B->g * B->wout * B->cexpp;
            if (df > net->dw_floats) net->dw_floats = df;
            size_t af = (size_t)B->hout * B->wout * B->coutp;
            if (af > net->act_floats) net->act_floats = af;
            /* The int8 depthwise input rows (kernels.h "dw8", bytes) go
             * where the float rows would: ring, xbuf and the zero row. */
            const size_t qrow = (size_t)ORDO_NET_DW8_QUADS(B->win) * 4 * B->cexpp;
            const size_t qrf = (qrow + sizeof(float) - 1) / sizeof(float);
            if (B->expand && (size_t)B->ring * qrf > net->ring_floats)
                net->ring_floats = (size_t)B->ring * qrf;
            size_t zf = (size_t)B->win * B->cexpp;
            if (qrf > zf) zf = qrf;
            if (zf > zero) zero = zf;
        }
    }
    net->nblk = nb;
    for (int i = 0; i < nb; i++) {   /* calibration layout: calib.h */
        net->b[i].obs = net->obs_dw;
        net->obs_dw += net->b[i].coutp;
    }
    net->obs_n = net->obs_dw;
    for (int i = 0; i < nb; i++) {
        net->b[i].obs_d = net->obs_n;
        net->obs_n += net->b[i].cexpp;
    }
    net->obs_x = net->obs_n;
    for (int i = 0; i < nb; i++) {
        net->b[i].obs_x = net->obs_n;
        if (net->b[i].expand) net->obs_n += net->b[i].cexpp;
    }
    net->obs_s = net->obs_n;             /* the stem's output, then the input's 3 channels */
    net->obs_n += STEM_C + 3;

    /* Late blocks have few pixels and big weights: running several images
     * through them at once reuses each weight panel across images instead
     * of streaming all weights from L3 once per image. */
    net->first_batched = nb;
    for (int i = nb - 1; i >= 1 && net->b[i].hin * net->b[i].win <= BATCH_HW; i--)
        net->first_batched = i;
    for (int i = net->first_batched - 1; i < nb; i++) {
        blk *B = &net->b[i];
        size_t a = (size_t)B->hout * B->wout * B->coutp;
        if (a > net->gact_floats) net->gact_floats = a;
        if (i < net->first_batched) continue;
        B->gb = BATCH_PIX / (B->hin * B->win);
        if (B->gb < 1) B->gb = 1;
        if (B->gb > GROUP) B->gb = GROUP;
        size_t x = (size_t)B->gb * B->hin * B->win * B->cexpp;
        const size_t qx = ((size_t)B->gb * B->hin * ORDO_NET_DW8_QUADS(B->win) * 4 * B->cexpp +
                           sizeof(float) - 1) / sizeof(float);
        if (qx > x) x = qx;
        if (B->expand && x > net->xbuf_floats) net->xbuf_floats = x;
        size_t d = (size_t)B->gb * B->hout * B->wout * B->cexpp;
        if (d > net->dw_floats) net->dw_floats = d;
    }
    net->gact_floats *= GROUP;
    net->head_cin = net->b[nb - 1].cout;
    net->head_h = net->head_w = h;
    net->hbuf_floats = (size_t)(h * h > HEAD_M ? h * h : HEAD_M) * HEAD_C;

    /* Everything load_weights() packs, each piece rounded as falloc does. */
    size_t wf = arena_floats(27 * STEM_C) + arena_floats(STEM_C) + arena_floats(zero) +
                arena_floats((size_t)net->head_cin * HEAD_C) + arena_floats(HEAD_C) +
                arena_floats((size_t)HEAD_C * FC_NP) + arena_floats(FC_NP);
    for (int i = 0; i < nb; i++) {
        const blk *B = &net->b[i];
        if (B->expand) wf += arena_floats((size_t)B->cin * B->cexpp) + arena_floats(B->cexpp);
        wf += arena_floats((size_t)B->k * B->k * B->cexpp) + arena_floats(B->cexpp);
        wf += arena_floats((size_t)B->cexp * B->coutp) + arena_floats(B->coutp);
    }
    if (arena_init(&net->wmem, wf)) return ordo_err_set(err, "out of memory for the weights");
    net->zero = falloc(&net->wmem, zero);
    return net->zero ? 0 : ordo_err_set(err, "out of memory");
}

/* ------------------------------------------------------------ the layers */

/* The int8 GEMM of layer q on 8-bit input A: 8- or 16-bit weights. */
static void gemm_q8(const ordo_net *net, const q8 *q, int M, int N, int K, const uint8_t *A,
                    int lda, float *C, int ldc, const float *R, int ldr, int relu)
{
    if (q->wl)
        net->k8->gemmw16(M, N, K, A, lda, q->w, q->wl, q->scale, q->bias, C, ldc, R, ldr, relu);
    else
        net->k8->gemm8(M, N, K, A, lda, q->w, q->scale, q->bias, C, ldc, R, ldr, relu);
}

/* Every 1x1 convolution goes through here: fp32 straight to the GEMM;
 * int8 quantizes its input rows (lda floats each, the padded channels
 * included: they are zeros, and their weights are zeros) into sc->q, then
 * runs the int8 GEMM over the padded K = lda. */
static void conv1x1(const ordo_net *net, scratch *sc, int M, int N, int K, const float *A,
                    int lda, const float *w, const float *b, const q8 *q, float *C, int ldc,
                    const float *R, int ldr, int relu)
{
    if (net->int8 && q->a16) {
        net->k8->quant16(A, M, lda, q->inv, q->off, sc->q);
        net->k8->gemm16(M, N, lda, sc->q, 2 * lda, q->w, q->scale, q->bias, C, ldc, R, ldr, relu);
    } else if (net->int8) {
        net->k8->quant(A, M, lda, q->inv, q->off, sc->q);
        gemm_q8(net, q, M, N, lda, sc->q, lda, C, ldc, R, ldr, relu);
    } else {
        net->kern->gemm(M, N, K, A, lda, w, b, C, ldc, R, ldr, relu);
    }
}

/* Calibration (ordo_net_observe): range t + c takes channel c of rows x C
 * values into its smallest and largest value, sum and count. */
static void observe(scratch *sc, int t, const float *x, long rows, int C)
{
    if (!sc->obs) return;
    float *lo = sc->obs->lo + t, *hi = sc->obs->hi + t;
    double *sum = sc->obs->sum + t;
    for (long r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) {
            const float v = x[r * C + c];
            if (v < lo[c]) lo[c] = v;
            if (v > hi[c]) hi[c] = v;
            sum[c] += v;
        }
    for (int c = 0; c < C; c++) sc->obs->n[t + c] += (double)rows;
}

static void stem8_rows(const ordo_net *net, const float *img, float *out, int y0, int y1,
                       scratch *sc);

/* Stem output rows [y0, y1) of one image: im2col for a group of rows, then
 * one GEMM with K = 27. */
static void stem_rows(const ordo_net *net, const float *img, float *out, int y0,
                      int y1, scratch *sc)
{
    const int S = net->size, W = net->s1;
    if (net->int8 && net->stem8) {   /* cleared net->int8 (the fp32 re-check): fp32 */
        stem8_rows(net, img, out, y0, y1, sc);
        return;
    }
    if (y0 == 0) observe(sc, net->obs_s + STEM_C, img, (long)S * S, 3);
    for (int ya = y0; ya < y1; ya += net->stem_g) {
        const int yb = ya + net->stem_g < y1 ? ya + net->stem_g : y1;
        float *col = sc->col;
        for (int y = ya; y < yb; y++)
            for (int x = 0; x < W; x++) {
                const int ix0 = 2 * x - net->stem_pl;
                for (int ky = 0; ky < 3; ky++, col += 9) {
                    const int iy = 2 * y - net->stem_pt + ky;
                    const float *p = img + ((long)iy * S + ix0) * 3;
                    if (iy < 0 || iy >= S)
                        memset(col, 0, 9 * sizeof *col);
                    else if (ix0 >= 0 && ix0 + 2 < S)   /* 3 pixels x 3 channels, contiguous */
                        memcpy(col, p, 9 * sizeof *col);
                    else
                        for (int kx = 0; kx < 3; kx++)
                            for (int c = 0; c < 3; c++)
                                col[kx * 3 + c] = ix0 + kx >= 0 && ix0 + kx < S ? p[kx * 3 + c] : 0.0f;
                }
            }
        net->kern->gemm((yb - ya) * W, STEM_C, 27, sc->col, 27, net->ws, net->bs,
                        out + (long)ya * W * STEM_C, STEM_C, NULL, 0, 1);
        observe(sc, net->obs_s, out + (long)ya * W * STEM_C, (long)(yb - ya) * W, STEM_C);
    }
}

/* Whether block B's depthwise kernel writes its project layer's 8-bit
 * input itself (zero point 0: ReLU6 outputs). */
static int fused_dwq(const ordo_net *net, const blk *B)
{
    return net->int8 && net->kern->dwq && !B->qp.a16;
}

/* One depthwise output row of block B at element off of the group's
 * output: floats into sc->dwbuf, or for an int8 net with a fused kernel,
 * the project layer's quantized input straight into sc->q. */
static void dw_row(const ordo_net *net, const blk *B, const float *const *rows, scratch *sc,
                   long off)
{
    const ordo_net_kernels *K = net->kern;
    if (fused_dwq(net, B))
        K->dwq(B->k, B->s, B->win, B->pl, B->wout, B->cexpp, rows, B->wd, B->bd, B->qp.inv,
               sc->q + off);
    else
        K->dw(B->k, B->s, B->win, B->pl, B->wout, B->cexpp, rows, B->wd, B->bd, sc->dwbuf + off);
}

/* ---- the int8 depthwise path (q8dw; kernels.h "dw8") ---- */

static long dw8_row_bytes(const blk *B)
{
    return (long)ORDO_NET_DW8_QUADS(B->win) * 4 * B->cexpp;
}

/* Zeroes the padding slots of n quad-layout rows of block B's depthwise
 * input at dst (the first quad, and from the quad of slot W + 4 on); the
 * GEMM that writes the codes (expand8's, or the int8 stem's) fills the
 * rest. */
static void dw8_clear_pad(const blk *B, uint8_t *dst, int n)
{
    const long qrow = dw8_row_bytes(B), qb = 4L * B->cexpp;
    const int full = (B->win + 4) / 4, Q = ORDO_NET_DW8_QUADS(B->win);
    for (int r = 0; r < n; r++) {
        memset(dst + r * qrow, 0, (size_t)qb);
        memset(dst + r * qrow + full * qb, 0, (size_t)((Q - full) * qb));
    }
}

/* Block B's expansion of n input rows (in: their floats, B->cinp a pixel)
 * into quad-layout codes at dst, n rows of dw8_row_bytes; the padding
 * slots (the first quad, and from the quad of slot W + 4 on) are zeroed
 * here, the kernel writes the rest. */
static void expand8(const ordo_net *net, const blk *B, scratch *sc, const float *in, int n,
                    uint8_t *dst)
{
    const int W = B->win;
    dw8_clear_pad(B, dst, n);
    net->k8->quant(in, (long)n * W, B->cinp, B->qe.inv, B->qe.off, sc->q);
    net->k8->gemm8q(n * W, B->cexpp, B->qd.ek, sc->q, B->cinp, B->qd.ew, B->qd.emul, B->qd.eadd,
                    dst, W, dw8_row_bytes(B));
}

/* Depthwise output row y of block B from the quad-layout rows expand8
 * wrote (input row iy at base + (iy % ring) * dw8_row_bytes; ring 0: no
 * wrap), into the project layer's input at sc->q + off. */
static void dw8_row(const ordo_net *net, const blk *B, scratch *sc, const uint8_t *base,
                    int ring, int y, long off)
{
    const long qrow = dw8_row_bytes(B);
    const uint8_t *rows[5];
    for (int ky = 0; ky < B->k; ky++) {
        const int iy = y * B->s - B->pt + ky;
        rows[ky] = iy < 0 || iy >= B->hin ? (const uint8_t *)net->zero
                                          : base + (long)(ring ? iy % ring : iy) * qrow;
    }
    net->k8->dw8(B->k, B->s, B->pl, B->wout, B->cexpp, rows, B->qd.w, B->qd.mul, B->qd.add,
                 sc->q + off);
}

/* Whether block B runs its int8 depthwise form now: only while the net
 * runs int8. The fp32 re-check of near-ties clears net->int8 for its pass,
 * and that pass must take the fp32 depthwise layers (B->wd, B->bd) like
 * every other layer, so its outputs are fp32's exactly. */
static int dw8_on(const ordo_net *net, const blk *B)
{
    return net->int8 && B->dw8;
}

/* ---- the int8 stem (kernels.h, "int8 stem") ---- */

void ordo_net_stem8_col(const uint8_t *img, int S, int pt, int pl, int y0, int y1, int Wout,
                        uint8_t *col)
{
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < Wout; x++, col += STEM8_K) {
            const int ix0 = 2 * x - pl;
            for (int ky = 0; ky < 3; ky++) {
                const int iy = 2 * y - pt + ky;
                const uint8_t *p = img + ((long)iy * S + ix0) * 3;
                uint8_t *c = col + 9 * ky;
                if (iy < 0 || iy >= S)
                    memset(c, 127, 9);
                else if (ix0 >= 0 && ix0 + 2 < S)   /* 3 pixels x 3 channels, contiguous */
                    memcpy(c, p, 9);
                else
                    for (int kx = 0; kx < 3; kx++)
                        for (int ch = 0; ch < 3; ch++)
                            c[kx * 3 + ch] = ix0 + kx >= 0 && ix0 + kx < S ? p[kx * 3 + ch] : 127;
            }
            col[27] = 0;
        }
}

/* The int8 stem's scratch in sc->q: the image's codes, then the im2col
 * rows of STEM8_G output rows. */
static size_t stem8_img_bytes(const ordo_net *net)
{
    return ((size_t)net->size * net->size * 3 + 63) & ~(size_t)63;
}

static size_t stem8_q_bytes(const ordo_net *net)
{
    return stem8_img_bytes(net) + (size_t)STEM8_G * net->s1 * STEM8_K;
}

/* Stem output rows [y0, y1) of one image in int8 (net->stem8): the codes
 * of the input rows they read (kernels.h's quantizer, 128 x + 127; the
 * last values short of 16 through a zero-padded chunk: the same rule),
 * im2col rows of bytes, then the int8 GEMM with K = 28. stem8 == 2: the
 * GEMM writes block 0's depthwise input codes (quad layout, kernels.h
 * "dw8"; as an expand layer's expand8) into out, seen as bytes; 1: the
 * ReLU6 floats, as the fp32 stem. (Tried: one fused kernel building each
 * tile's bytes in registers straight from the floats, no passes over the
 * image: 12.0 % of the int8 network's CPU time vs 7.9 % for these passes,
 * lite0, 1 thread, perf; the fp32 stem 12 %. The image's floats come from
 * memory, and the linear quantizer pass streams them best.) */
static void stem8_rows(const ordo_net *net, const float *img, float *out, int y0, int y1,
                       scratch *sc)
{
    const int S = net->size, W = net->s1;
    uint8_t *img8 = sc->q, *col = sc->q + stem8_img_bytes(net);
    int lo = 2 * y0 - net->stem_pt, hi = 2 * (y1 - 1) - net->stem_pt + 2;
    if (lo < 0) lo = 0;
    if (hi > S - 1) hi = S - 1;
    if (lo <= hi) {
        const long first = (long)lo * S * 3, n = (long)(hi - lo + 1) * S * 3, n16 = n & ~15L;
        net->k8->quant(img + first, n16 / 16, 16, net->qs.inv, net->qs.off, img8 + first);
        if (n > n16) {
            float t[16] = { 0 };
            uint8_t u[16];
            memcpy(t, img + first + n16, (size_t)(n - n16) * sizeof *t);
            net->k8->quant(t, 1, 16, net->qs.inv, net->qs.off, u);
            memcpy(img8 + first + n16, u, (size_t)(n - n16));
        }
    }
    const blk *B0 = &net->b[0];
    const long rb = dw8_row_bytes(B0);
    for (int ya = y0; ya < y1; ya += STEM8_G) {
        const int yb = ya + STEM8_G < y1 ? ya + STEM8_G : y1;
        ordo_net_stem8_col(img8, S, net->stem_pt, net->stem_pl, ya, yb, W, col);
        if (net->stem8 == 2) {
            uint8_t *dst = (uint8_t *)out + (long)ya * rb;
            dw8_clear_pad(B0, dst, yb - ya);
            net->k8->gemmw16q((yb - ya) * W, STEM_C, STEM8_K, col, STEM8_K, net->qs.w,
                              net->qs.wl, B0->qd.emul, B0->qd.eadd, dst, W, rb);
        } else {
            net->k8->gemmw16((yb - ya) * W, STEM_C, STEM8_K, col, STEM8_K, net->qs.w,
                             net->qs.wl, net->qs.scale, net->qs.bias,
                             out + (long)ya * W * STEM_C, STEM_C, NULL, 0, 1);
        }
    }
}

/* Block B's projection of the M depthwise outputs dw_row left (R: the
 * skip connection's input, or NULL). */
static void project(const ordo_net *net, const blk *B, scratch *sc, int M, float *out,
                    const float *R)
{
    if (fused_dwq(net, B) || dw8_on(net, B)) {
        gemm_q8(net, &B->qp, M, B->coutp, B->cexpp, sc->q, B->cexpp, out, B->coutp, R, B->cinp, 0);
    } else {
        observe(sc, B->obs_d, sc->dwbuf, M, B->cexpp);
        conv1x1(net, sc, M, B->coutp, B->cexp, sc->dwbuf, B->cexpp, B->wp, B->bp, &B->qp, out,
                B->coutp, R, B->cinp, 0);
    }
    observe(sc, B->obs, out, M, B->coutp);
}

/* Output rows [y0, y1) of block B: in is the block input, out its output. */
static void block_rows(const ordo_net *net, const blk *B, const float *in,
                       float *out, int y0, int y1, scratch *sc)
{
    const long in_row = (long)B->win * B->cinp;     /* floats per input row */
    const long ring_row = (long)B->win * B->cexpp;  /* floats per expanded row */
    int next = 0;                                   /* next input row to expand */
    for (int ya = y0; ya < y1; ya += B->g) {
        const int yb = ya + B->g < y1 ? ya + B->g : y1;
        if (B->expand) {
            /* Expand the input rows this group needs and has not got yet,
             * in runs that do not wrap around the ring (one GEMM each). */
            int lo = ya * B->s - B->pt, hi = (yb - 1) * B->s - B->pt + B->k - 1;
            if (lo < next && ya != y0) lo = next;
            if (lo < 0) lo = 0;
            if (hi > B->hin - 1) hi = B->hin - 1;
            for (int iy = lo; iy <= hi;) {
                const int slot = iy % B->ring;
                int n = B->ring - slot;
                if (n > hi - iy + 1) n = hi - iy + 1;
                if (dw8_on(net, B))
                    expand8(net, B, sc, in + iy * in_row, n,
                            (uint8_t *)sc->ring + slot * dw8_row_bytes(B));
                else
                {
                    conv1x1(net, sc, n * B->win, B->cexpp, B->cin, in + iy * in_row, B->cinp,
                            B->we, B->be, &B->qe, sc->ring + slot * ring_row, B->cexpp, NULL,
                            0, 1);
                    observe(sc, B->obs_x, sc->ring + slot * ring_row, (long)n * B->win,
                            B->cexpp);
                }
                iy += n;
            }
            if (hi + 1 > next) next = hi + 1;
        }
        for (int y = ya; y < yb && dw8_on(net, B); y++)   /* no expand: the int8 stem's codes */
            dw8_row(net, B, sc, B->expand ? (const uint8_t *)sc->ring : (const uint8_t *)in,
                    B->expand ? B->ring : 0, y, (long)(y - ya) * B->wout * B->cexpp);
        for (int y = ya; y < yb && !dw8_on(net, B); y++) {
            const float *rows[5];
            for (int ky = 0; ky < B->k; ky++) {
                const int iy = y * B->s - B->pt + ky;
                if (iy < 0 || iy >= B->hin) rows[ky] = net->zero;
                else if (B->expand) rows[ky] = sc->ring + (iy % B->ring) * ring_row;
                else rows[ky] = in + iy * in_row;
            }
            dw_row(net, B, rows, sc, (long)(y - ya) * B->wout * B->cexpp);
        }
        project(net, B, sc, (yb - ya) * B->wout, out + (long)ya * B->wout * B->coutp,
                B->residual ? in + (long)ya * in_row : NULL);
    }
}

/* Head rows [y0, y1): 1x1 conv to 1280 + ReLU6, summed into pool. */
static void head_rows(const ordo_net *net, const float *in, int y0, int y1,
                      scratch *sc, float *pool)
{
    const int W = net->head_w, cinp = pad16(net->head_cin);
    const int M = (y1 - y0) * W;
    if (M <= 0) return;
    conv1x1(net, sc, M, HEAD_C, net->head_cin, in + (long)y0 * W * cinp, cinp, net->wh,
            net->bh, &net->qh, sc->hbuf, HEAD_C, NULL, 0, 1);
    for (int m = 0; m < M; m++) {
        const float *h = sc->hbuf + (long)m * HEAD_C;
        for (int c = 0; c < HEAD_C; c++) pool[c] += h[c];
    }
}

/* Block B over g images at once (whole layers): in and out hold the
 * images back to back. One GEMM expands every image, the depthwise conv
 * runs row by row, one GEMM projects every image. */
static void block_batch(const ordo_net *net, const blk *B, const float *in, float *out,
                        int g, scratch *sc)
{
    const long x_row = (long)B->win * B->cexpp, x_img = x_row * B->hin;
    if (dw8_on(net, B)) {
        const long qimg = dw8_row_bytes(B) * B->hin;
        expand8(net, B, sc, in, g * B->hin, (uint8_t *)sc->xbuf);
        for (int i = 0; i < g; i++)
            for (int y = 0; y < B->hout; y++)
                dw8_row(net, B, sc, (const uint8_t *)sc->xbuf + i * qimg, 0, y,
                        ((long)i * B->hout + y) * B->wout * B->cexpp);
        project(net, B, sc, g * B->hout * B->wout, out, B->residual ? in : NULL);
        return;
    }
    const float *x = in;
    if (B->expand) {
        conv1x1(net, sc, g * B->hin * B->win, B->cexpp, B->cin, in, B->cinp, B->we, B->be,
                &B->qe, sc->xbuf, B->cexpp, NULL, 0, 1);
        observe(sc, B->obs_x, sc->xbuf, (long)g * B->hin * B->win, B->cexpp);
        x = sc->xbuf;
    }
    for (int i = 0; i < g; i++)
        for (int y = 0; y < B->hout; y++) {
            const float *rows[5];
            for (int ky = 0; ky < B->k; ky++) {
                const int iy = y * B->s - B->pt + ky;
                rows[ky] = iy < 0 || iy >= B->hin ? net->zero : x + i * x_img + iy * x_row;
            }
            dw_row(net, B, rows, sc, ((long)i * B->hout + y) * B->wout * B->cexpp);
        }
    project(net, B, sc, g * B->hout * B->wout, out, B->residual ? in : NULL);
}

/* g images (g <= GROUP) on one thread: the early blocks image by image
 * (row-fused), the late blocks and the head over the whole group. */
static void run_group(const ordo_net *net, const float *const *imgs, int g, float *embed,
                      float *cut, scratch *sc)
{
    const int fb = net->first_batched;
    const blk *L = &net->b[fb - 1];
    const long lsz = (long)L->hout * L->wout * L->coutp;
    for (int i = 0; i < g; i++) {
        stem_rows(net, imgs[i], sc->act[0], 0, net->s1, sc);
        int cur = 0;
        for (int b = 0; b < fb; b++) {
            const blk *B = &net->b[b];
            float *out = b == fb - 1 ? sc->gact[0] + i * lsz : sc->act[cur ^ 1];
            block_rows(net, B, sc->act[cur], out, 0, B->hout, sc);
            cur ^= 1;
        }
    }
    int cur = 0;
    for (int b = fb; b < net->nblk; b++) {
        const blk *B = &net->b[b];
        const long isz_in = (long)B->hin * B->win * B->cinp;
        const long isz_out = (long)B->hout * B->wout * B->coutp;
        for (int i0 = 0; i0 < g; i0 += B->gb) {
            const int gg = g - i0 < B->gb ? g - i0 : B->gb;
            block_batch(net, B, sc->gact[cur] + i0 * isz_in, sc->gact[cur ^ 1] + i0 * isz_out,
                        gg, sc);
        }
        cur ^= 1;
    }
    /* Head + average pool over every pixel of the group, HEAD_M at a time. */
    const int hw = net->head_h * net->head_w, cinp = pad16(net->head_cin);
    const int total = g * hw;
    if (cut)   /* the head's input, unpadded: the fine-tune cache (finetune.h) */
        for (long m = 0; m < total; m++)
            memcpy(cut + m * net->head_cin, sc->gact[cur] + m * cinp,
                   (size_t)net->head_cin * sizeof *cut);
    memset(embed, 0, (size_t)g * HEAD_C * sizeof *embed);
    for (int m0 = 0; m0 < total; m0 += HEAD_M) {
        const int M = total - m0 < HEAD_M ? total - m0 : HEAD_M;
        conv1x1(net, sc, M, HEAD_C, net->head_cin, sc->gact[cur] + (long)m0 * cinp, cinp,
                net->wh, net->bh, &net->qh, sc->hbuf, HEAD_C, NULL, 0, 1);
        for (int m = 0; m < M; m++) {
            float *e = embed + (long)((m0 + m) / hw) * HEAD_C;
            const float *h = sc->hbuf + (long)m * HEAD_C;
            for (int c = 0; c < HEAD_C; c++) e[c] += h[c];
        }
    }
    const float inv = 1.0f / (float)hw;
    for (long c = 0; c < (long)g * HEAD_C; c++) embed[c] *= inv;
}

/* ------------------------------------------------------------------- jobs */

typedef struct fwd {
    const float *const *in;   /* one pointer per image */
    float *embed, *fc;
    float *cut;               /* the head's input per image, or NULL */
    int n, nwhole;      /* images; how many of them run one per thread */
    int chunk;          /* images taken at a time; 0: a fixed band per thread */
    atomic_int next;    /* next image to take when chunk > 0 */
    int img, layer;     /* row-split mode: current image, layer (-1 stem, nblk head) */
    int cur;            /* row-split mode: which act buffer holds the input */
} fwd;

static void band(int n, int tid, int T, int *a, int *b);

static void job_whole(ordo_net *net, void *arg, int tid)
{
    fwd *f = arg;
    if (f->chunk) {
        /* Taken as they come: a thread that lost its core for a while (to a
         * decoder, say) leaves its share to the others instead of making
         * them wait for it at the end of the batch. */
        for (;;) {
            const int i = atomic_fetch_add(&f->next, f->chunk);
            if (i >= f->nwhole) break;
            const int g = f->nwhole - i < f->chunk ? f->nwhole - i : f->chunk;
            run_group(net, f->in + i, g, f->embed + (long)i * HEAD_C,
                      f->cut ? f->cut + (long)i * ordo_net_cut_floats(net) : NULL,
                      &net->scr[tid]);
        }
        return;
    }
    int a, b;
    band(f->nwhole, tid, net->threads, &a, &b);
    for (int i = a; i < b; i += GROUP) {
        const int g = b - i < GROUP ? b - i : GROUP;
        run_group(net, f->in + i, g, f->embed + (long)i * HEAD_C,
                      f->cut ? f->cut + (long)i * ordo_net_cut_floats(net) : NULL,
                      &net->scr[tid]);
    }
}

static void band(int n, int tid, int T, int *a, int *b)
{
    *a = (int)((long)n * tid / T);
    *b = (int)((long)n * (tid + 1) / T);
}

static void job_rows(ordo_net *net, void *arg, int tid)
{
    fwd *f = arg;
    scratch *sc = &net->scr[tid];
    float **act = net->scr[0].act;     /* the image's activations are shared */
    int a, b;
    if (f->layer < 0) {
        band(net->s1, tid, net->threads, &a, &b);
        stem_rows(net, f->in[f->img], act[0], a, b, sc);
    } else if (f->layer < net->nblk) {
        const blk *B = &net->b[f->layer];
        band(B->hout, tid, net->threads, &a, &b);
        if (a < b) block_rows(net, B, act[f->cur], act[f->cur ^ 1], a, b, sc);
    } else {
        band(net->head_h, tid, net->threads, &a, &b);
        memset(sc->pool, 0, sizeof sc->pool);
        head_rows(net, act[f->cur], a, b, sc, sc->pool);
    }
}

static void job_fc(ordo_net *net, void *arg, int tid)
{
    fwd *f = arg;
    const int panels = FC_NP / ORDO_NET_PANEL + (FC_NP % ORDO_NET_PANEL ? 1 : 0);
    for (int p = tid; p < panels; p += net->threads) {
        const int n0 = p * ORDO_NET_PANEL;
        const int w = FC_NP - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        net->kern->gemm(f->n, w, HEAD_C, f->embed, HEAD_C, net->wfc + (long)n0 * HEAD_C,
                            net->bfc + n0, f->fc + n0, FC_NP, NULL, 0, 0);
    }
}

int ordo_net_forward(ordo_net *net, const float *in, int n, float *logits,
                     float *embed, ordo_err *err)
{
    if (!net || !in || !logits || n < 1)
        return ordo_err_set(err, "ordo_net_forward: bad arguments (n = %d)", n);
    const float **ins = malloc((size_t)n * sizeof *ins);
    if (!ins)
        return ordo_err_set(err, "out of memory for a batch of %d images", n);
    const long isz = (long)net->size * net->size * 3;
    for (int i = 0; i < n; i++) ins[i] = in + i * isz;
    int rc = ordo_net_forward_each(net, ins, n, logits, embed, err);
    free(ins);
    return rc;
}

int ordo_net_forward_each(ordo_net *net, const float *const *in, int n, float *logits,
                          float *embed, ordo_err *err)
{
    return ordo_net_forward_cut(net, in, n, logits, embed, NULL, err);
}

static int recheck_forward(ordo_net *net, const float *const *in, int n, float *logits,
                           float *embed, float *cut, ordo_err *err);
static int forward_once(ordo_net *net, const float *const *in, int n, float *logits,
                        float *embed, float *cut, ordo_err *err);

int ordo_net_forward_cut(ordo_net *net, const float *const *in, int n, float *logits,
                         float *embed, float *cut, ordo_err *err)
{
    if (!net || !in || !logits || n < 1)
        return ordo_err_set(err, "ordo_net_forward: bad arguments (n = %d)", n);
    for (int i = 0; i < n; i++)
        if (!in[i]) return ordo_err_set(err, "ordo_net_forward: image %d has no input", i);
    if (net->int8 && net->recheck > 0.0)
        return recheck_forward(net, in, n, logits, embed, cut, err);
    return forward_once(net, in, n, logits, embed, cut, err);
}

/* One pass of the batch in the net's own precision (net->int8). */
static int forward_once(ordo_net *net, const float *const *in, int n, float *logits,
                        float *embed, float *cut, ordo_err *err)
{
    float *emb = embed ? embed : malloc((size_t)n * HEAD_C * sizeof(float));
    float *fc = malloc((size_t)n * FC_NP * sizeof(float));
    if (!emb || !fc) {
        if (!embed) free(emb);
        free(fc);
        return ordo_err_set(err, "out of memory for a batch of %d images", n);
    }
    fwd f = { .in = in, .embed = emb, .fc = fc, .n = n, .cut = cut };
    f.nwhole = n - n % net->threads;
    /* Full groups, at least two per thread: enough to rebalance, each as
     * efficient as a fixed band's. */
    f.chunk = net->threads > 1 && f.nwhole >= 2 * GROUP * net->threads ? GROUP : 0;
    atomic_init(&f.next, 0);
    if (f.nwhole) pool_run(net, job_whole, &f);
    for (f.img = f.nwhole; f.img < n; f.img++) {
        f.cur = 0;
        for (f.layer = -1; f.layer <= net->nblk; f.layer++) {
            if (f.layer == net->nblk && cut) {
                const int cinp = pad16(net->head_cin);
                const long hw = (long)net->head_h * net->head_w;
                for (long m = 0; m < hw; m++)
                    memcpy(cut + f.img * ordo_net_cut_floats(net) + m * net->head_cin,
                           net->scr[0].act[f.cur] + m * cinp,
                           (size_t)net->head_cin * sizeof *cut);
            }
            pool_run(net, job_rows, &f);
            if (f.layer >= 0 && f.layer < net->nblk) f.cur ^= 1;
        }
        float *e = emb + (long)f.img * HEAD_C;
        const float inv = 1.0f / (float)(net->head_h * net->head_w);
        for (int c = 0; c < HEAD_C; c++) {
            float s = 0.0f;
            for (int t = 0; t < net->threads; t++) s += net->scr[t].pool[c];
            e[c] = s * inv;
        }
    }
    pool_run(net, job_fc, &f);
    for (int i = 0; i < n; i++)
        memcpy(logits + (long)i * ORDO_NET_CLASSES, fc + (long)i * FC_NP,
               ORDO_NET_CLASSES * sizeof(float));
    free(fc);
    if (!embed) free(emb);
    return 0;
}

/* ---------------------------------------- int8: fp32 re-check of near-ties
 *
 * What top-1 changes int8 makes are near-ties: on sports100 the photos
 * whose class int8 changed had an fp32 softmax margin p(top-1) - p(top-2)
 * of 0.008 (median), about 3 % of all photos, while the embeddings stayed
 * at cosine 0.999. So an int8 net runs the batch in int8, and every row
 * whose own int8 logit margin is below net->recheck runs again through the fp32
 * form of the same network (the net keeps the folded fp32 weights it
 * quantized from); such a row's logits, embedding and cut are fp32's,
 * exactly. The cost is 1 / r + f of fp32's time per image (r: int8's speed
 * ratio, f: the fraction re-checked). The decision depends on nothing but
 * the row's own int8 logits, so a photo gets the same answer in any batch.
 * The threshold is tuned on the 300 calibration photos (docs/scan.md,
 * bench/bench_int8.sh); 0 turns the re-check off. */

/* l(top-1) - l(top-2): the logit margin. Chosen over the softmax margin
 * p(top-1) - p(top-2) by measurement: re-checking the same fraction of
 * the 300 calibration photos (lite0), the logit margin caught more of the
 * photos int8 changes (5 % re-checked: 99.0 vs 98.3 % agreement; 7 %:
 * 99.3 vs 98.7 %). Dividing it by the embedding's norm or by the distance
 * of the two classes' classifier rows (the geometric margin) did no
 * better. NaN anywhere gives NaN (re-checked). */
static double logit_margin(const float *v, int n)
{
    float a = v[0], b = -INFINITY;
    int nan = v[0] != v[0];
    for (int i = 1; i < n; i++) {
        nan |= v[i] != v[i];
        if (v[i] > a) b = a, a = v[i];
        else if (v[i] > b) b = v[i];
    }
    return nan ? NAN : (double)a - (double)b;
}

static int recheck_forward(ordo_net *net, const float *const *in, int n, float *logits,
                           float *embed, float *cut, ordo_err *err)
{
    if (forward_once(net, in, n, logits, embed, cut, err)) return -1;
    int *rows = malloc((size_t)n * sizeof *rows);
    if (!rows) return ordo_err_set(err, "out of memory for a batch of %d images", n);
    int m = 0;
    for (int i = 0; i < n; i++)   /* NaN logits fail >= too: re-checked */
        if (!(logit_margin(logits + (long)i * ORDO_NET_CLASSES, ORDO_NET_CLASSES) >=
              net->recheck))
            rows[m++] = i;
    net->recheck_rows += n;
    net->recheck_done += m;
    if (!m) {
        free(rows);
        return 0;
    }
    const long csz = ordo_net_cut_floats(net);
    const float **sin = malloc((size_t)m * sizeof *sin);
    float *sl = malloc((size_t)m * ORDO_NET_CLASSES * sizeof *sl);
    float *se = embed ? malloc((size_t)m * HEAD_C * sizeof *se) : NULL;
    float *sc = cut ? malloc((size_t)m * csz * sizeof *sc) : NULL;
    int rc = -1;
    if (!sin || !sl || (embed && !se) || (cut && !sc)) {
        ordo_err_set(err, "out of memory for a batch of %d images", m);
        goto done;
    }
    for (int j = 0; j < m; j++) sin[j] = in[rows[j]];
    /* Every layer takes its precision from net->int8 (conv1x1, fused_dwq):
     * cleared, the same net runs its fp32 weights. One caller at a time
     * (net.h), and the workers read it only inside pool_run, so no one
     * sees it change mid-pass. */
    net->int8 = 0;
    rc = forward_once(net, sin, m, sl, se, sc, err);
    net->int8 = 1;
    if (rc) goto done;
    for (int j = 0; j < m; j++) {
        const long r = rows[j];
        memcpy(logits + r * ORDO_NET_CLASSES, sl + (long)j * ORDO_NET_CLASSES,
               ORDO_NET_CLASSES * sizeof *sl);
        if (embed) memcpy(embed + r * HEAD_C, se + (long)j * HEAD_C, HEAD_C * sizeof *se);
        if (cut) memcpy(cut + r * csz, sc + (long)j * csz, (size_t)csz * sizeof *sc);
    }
done:
    free(rows);
    free(sin);
    free(sl);
    free(se);
    free(sc);
    return rc;
}

/* The threshold an int8 net starts with, tuned per variant and model on
 * the 300 calibration photos only by tools/recheck_tune.py: the smallest
 * margin (in steps of 0.01) at which their top-1 agreement with fp32
 * reaches 99 %, both as counted and as predicted by a noise model fitted
 * on the same photos (every photo's int8-vs-fp32 error on its gaps to
 * int8's nine runners-up). The count alone rests on the few photos int8
 * changes (lite0: 13, lite2: 2 with the int8 stem; 10 and 4 before) and
 * swings with any change of the int8 arithmetic; the model uses every
 * photo (docs/scan.md). int8 (with its
 * int8 stem): lite0 0.10 (counted and predicted: 0.06 and 0.10; 8.0 % of
 * them re-checked), lite1 0.10 (0.05 and 0.10; 9.3 %), lite2 0.07 (0.00
 * and 0.07; 4.0 %). int8+fpstem, the int8 of before the int8 stem: lite0
 * and lite1 0.12, lite2 0.07 (its tuning gave lite0 0.12 and lite2 0.07;
 * lite1 was not tuned and took the largest).
 * int8+fpdw, the int8 of before its int8 depthwise layers: 0.08, 5.0 /
 * 3.7 %; int8+w16late: 0.09 (both by the count alone, one threshold for
 * both models). The other variants were not tuned: pure int8. Confirmed
 * on the other 4,889 photos by bench/bench_int8.sh (docs/scan.md). */
static double recheck_default(const char *precision, const char *model)
{
    static const struct { const char *name, *model; double margin; } t[] = {
        { "int8", "lite2", RECHECK_INT8_LITE2 },
        { "int8", NULL, RECHECK_INT8 },
        { "int8+fpdw", NULL, RECHECK_FPDW },
        { "int8+w16late", NULL, RECHECK_W16LATE },
        { "int8+fpstem", "lite2", RECHECK_INT8_LITE2 },
        { "int8+fpstem", NULL, RECHECK_FPSTEM },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(t[i].name, precision) && (!t[i].model || !strcmp(t[i].model, model)))
            return t[i].margin;
    return 0.0;
}

int ordo_net_set_recheck(ordo_net *net, double margin, ordo_err *err)
{
    if (!net || !(margin >= 0.0))
        return ordo_err_set(err, "ordo_net_set_recheck: the margin must be >= 0");
    if (!net->int8 && margin > 0.0)
        return ordo_err_set(err, "an fp32 net has nothing to re-check");
    net->recheck = margin;
    return 0;
}

double ordo_net_recheck(const ordo_net *net) { return net ? net->recheck : 0.0; }

void ordo_net_recheck_counts(const ordo_net *net, long *rows, long *rechecked)
{
    if (rows) *rows = net ? net->recheck_rows : 0;
    if (rechecked) *rechecked = net ? net->recheck_done : 0;
}

/* ------------------------------------------------------- create and free */

static const ordo_net_kernels *pick_kernels(ordo_err *err)
{
    const char *want = getenv("ORDO_KERNEL");
    int has512 = 0, has2 = 0;
#ifndef ORDO_NO_SIMD
    __builtin_cpu_init();
    has512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
    has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    if (want && *want) {
        if (!strcmp(want, "c")) return &ordo_net_kernels_c;
#ifndef ORDO_NO_SIMD
        if (!strcmp(want, "avx2") && has2) return &ordo_net_kernels_avx2;
        if (!strcmp(want, "avx512") && has512) return &ordo_net_kernels_avx512;
#endif
        if (!strcmp(want, "avx2") || !strcmp(want, "avx512")) {
            ordo_err_set(err, "ORDO_KERNEL=%s: this CPU or build does not support it", want);
            return NULL;
        }
        ordo_err_set(err, "ORDO_KERNEL=%s: unknown (use c, avx2 or avx512)", want);
        return NULL;
    }
#ifndef ORDO_NO_SIMD
    if (has512) return &ordo_net_kernels_avx512;
    if (has2) return &ordo_net_kernels_avx2;
#endif
    (void)has512;
    (void)has2;
    return &ordo_net_kernels_c;
}

/* The int8 kernels: VNNI when the CPU has it (ORDO_KERNEL=c forces the
 * portable ones, as for fp32). Without VNNI the portable C kernels run:
 * correct and identical in result, only slower. */
static const ordo_net_kernels8 *pick_kernels8(ordo_err *err)
{
    (void)err;
    const char *want = getenv("ORDO_KERNEL");
    if (want && !strcmp(want, "c")) return &ordo_net_kernels8_c;
#ifndef ORDO_NO_SIMD
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return &ordo_net_kernels8_vnni;
#endif
    return &ordo_net_kernels8_c;
}

/* int8 where its VNNI kernels run (measured idle, with the re-check: 2.1-2.6x
 * fp32's images/s, 99.2-99.3 % top-1 agreement; docs/scan.md), fp32
 * where only the portable int8 kernels would (several times slower than
 * fp32's SIMD kernels: same results, no point). */
const char *ordo_net_default_precision(void)
{
    return pick_kernels8(NULL) == &ordo_net_kernels8_c ? "fp32" : "int8";
}

/* The int8 network's variants: the project precision "int8", and the
 * more accurate, slower points of the accuracy/speed frontier that
 * benchmarks build by name (bench/bench_int8.sh; a project cannot choose
 * them). Measured on lite0 before the int8 depthwise layers (docs/
 * benchmarks.md; those are "int8+fpdw" now, and the 16-bit variants keep
 * their depthwise layers in fp32): int8 2.0-2.1x fp32's rate (CPU time),
 * 16-bit weights in the late blocks and the head 1.8x, in every 1x1 layer
 * 1.7x, 16-bit activations in every 1x1 layer 1.5x. */
typedef struct q8var {
    const char *name;
    int w16late;       /* 16-bit weights: the late (batched) blocks and the head */
    int w16all;        /* 16-bit weights: every 1x1 layer */
    int a16all;        /* 16-bit activations: every 1x1 layer */
    int dw8;           /* int8 depthwise layers (q8dw; quantize_weights says in which blocks) */
    int stem;          /* 0 the fp32 stem; 1 the int8 stem writing floats; 2 the int8 stem
                          writing block 0's depthwise codes, block 0's depthwise in int8
                          (quant_stem) */
} q8var;

static const q8var q8vars[] = {
    { "int8", 0, 0, 0, 1, 1 },
    { "int8+fpdw", 0, 0, 0, 0, 0 },
    { "int8+w16late", 1, 0, 0, 0, 0 },
    { "int8+w16", 0, 1, 0, 0, 0 },
    { "int8+a16", 0, 0, 1, 0, 0 },
    { "int8+fpstem", 0, 0, 0, 1, 0 },
    { "int8+dw0", 0, 0, 0, 1, 2 },
};

static const q8var *q8var_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof q8vars / sizeof q8vars[0]; i++)
        if (!strcmp(q8vars[i].name, name)) return &q8vars[i];
    return NULL;
}

/* Quantizer of an activation tensor of C channels (Kp with padding), from
 * the calibrated smallest and largest value of each channel, lo[c], hi[c]
 * (lo NULL: ReLU6 outputs, smallest 0; hi NULL too: the stem's output,
 * 6 for all). A range [l, h] onto the L + 1 codes (L = 255, or 65535 for
 * the 16-bit path) is inv = L / (h - l), off = -l * inv.
 * Signed tensors (block outputs) get their own channel's symmetric range,
 * h = -l = max(|lo[c]|, hi[c]): their channels' ranges differ by 30x and
 * one range for all cost the most agreement (measured; an asymmetric
 * [lo[c], hi[c]] measured no better once bias correction is in).
 * ReLU6 tensors (depthwise outputs) get one range for the tensor,
 * G = max_c hi[c] (<= 6): a channel's scale folds into the weights' rows
 * (quant_layer) and would make the per-output weight ranges uneven
 * (measured: mixing in the channel's own range, SmoothQuant's migration
 * strength alpha = 0.25 or 0.5, Xiao et al., 2023, eq. 4, did no better).
 * 16-bit tensors: one range for all (65536 codes are enough; the weights
 * stay even). Nothing calibration saw is clipped. */
static int act_quant(arena *a, const float *lo, const float *hi, int C, int Kp, int is_signed,
                     int a16, q8 *q)
{
    if (!(q->inv = falloc(a, (size_t)Kp)) || !(q->off = falloc(a, (size_t)Kp))) return -1;
    q->a16 = a16;
    const float L = a16 ? 65535.0f : 255.0f;
    float G = 0.0f;
    for (int c = 0; c < C; c++) G = fmaxf(G, fmaxf(lo ? -lo[c] : 0.0f, hi ? hi[c] : 6.0f));
    for (int c = 0; c < Kp; c++) {
        float l = 0.0f, h;
        if (is_signed) {
            h = a16 ? G : fmaxf(-lo[c], hi[c]);
            l = -h;
        } else {
            h = fminf(G, 6.0f);
        }
        if (c >= C) l = 0.0f, h = 1.0f;            /* padding: always zero */
        if (!(h - l > 1e-4f) || !isfinite(h - l)) l = 0.0f, h = 1e-4f;   /* a dead channel */
        q->inv[c] = L / (h - l);
        q->off[c] = -l * q->inv[c];
    }
    return 0;
}

/* Int8 form of a packed fp32 1x1 layer (K true rows, Kp padded, Np
 * columns). With x[k] ~ s_k (q[k] - o_k), s_k = 1 / inv[k], o_k = off[k],
 * the layer is y[n] = b[n] + sum_k (q[k] - o_k) w'[k][n],
 * w'[k][n] = s_k w[k][n]: the input channels' scales fold into the weight
 * rows. w' is quantized symmetrically per output channel,
 * w'_q = round(w' / s_w[n]), s_w[n] = max_k |w'[k][n]| / 127; then
 * scale[n] = s_w[n] and the offsets' share sum_k o_k w'_q[k][n] moves into
 * the bias (kernels.h).
 * Bias correction (Nagel et al., 2019, "Data-Free Quantization Through
 * Weight Equalization and Bias Correction", sec. 4.2): the rounded weights
 * shift the output's mean by sum_k (w_hat - w)[k][n] E[x_k], with w_hat
 * the weight the int8 layer effectively applies; with the calibrated
 * channel means mu (NULL: none known) the bias takes that shift back. */
static int quant_layer(arena *a, const float *packed, const float *bias, int K, int Kp, int Np,
                       const float *mu, int w16, q8 *q)
{
    q->w = (int8_t *)falloc(a, ((size_t)Kp * Np + 3) / 4);
    q->wl = w16 ? (int8_t *)falloc(a, ((size_t)Kp * Np + 3) / 4) : NULL;
    const float W = w16 ? 32639.0f : 127.0f;   /* 127 * 256 + 127: both digits fit */
    q->scale = falloc(a, (size_t)Np);
    q->bias = falloc(a, (size_t)Np);
    if (!q->w || !q->scale || !q->bias) return -1;
    for (int n0 = 0; n0 < Np; n0 += ORDO_NET_PANEL) {
        const int pw = Np - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const float *src = packed + (long)n0 * K;   /* [K][pw] */
        int8_t *dst = q->w + (long)n0 * Kp;         /* [Kp/4][pw][4] */
        int8_t *dstl = w16 ? q->wl + (long)n0 * Kp : NULL;
        for (int j = 0; j < pw; j++) {
            float m = 0.0f;
            for (int k = 0; k < K; k++) m = fmaxf(m, fabsf(src[(long)k * pw + j] / q->inv[k]));
            const float sw = m > 0.0f ? m / W : 1.0f;
            double offs = 0.0, shift = 0.0;
            for (int k = 0; k < K; k++) {
                const float wk = src[(long)k * pw + j];
                long v = lrintf(wk / q->inv[k] / sw);
                v = v > (long)W ? (long)W : v < -(long)W ? -(long)W : v;
                const long at = ((long)(k / 4) * pw + j) * 4 + k % 4;
                if (w16) {
                    const long h = (v + 128) >> 8;   /* floor: v - 256 h in [-128, 127] */
                    dst[at] = (int8_t)h;
                    dstl[at] = (int8_t)(v - 256 * h);
                } else {
                    dst[at] = (int8_t)v;
                }
                offs += (double)q->off[k] * (double)v;
                if (mu) shift += ((double)sw * (double)v * q->inv[k] - wk) * mu[k];
            }
            const int n = n0 + j;
            q->scale[n] = sw;
            q->bias[n] = (float)((double)bias[n] - sw * offs - shift);
        }
    }
    return 0;
}

/* Block B's int8 depthwise form (q8dw), once its expand and project
 * layers' int8 forms are built, from the calibrated largest value hi[c]
 * and mean mu[c] of each expand output channel (the depthwise input).
 * Input codes u = round(x inv_in[c]), inv_in[c] = 255 / hi[c] (min-max;
 * per channel, as costless here as for the weights: each channel is its
 * own sum). Weights symmetric per channel, w_q = round(w / s_w[c]),
 * s_w[c] = max_t |w[t][c]| / 127. The ReLU6 output
 * y = relu6(s_w[c] / inv_in[c] * acc + b'[c]) becomes the project layer's
 * code fma(y, qinv[c], qoff[c]): mul = s_w[c] / inv_in[c] * qinv[c],
 * add = b'[c] qinv[c] + qoff[c]; ReLU6's clamps are the code's clamp to
 * [0, 255] (qoff = 0 and 6 qinv >= 255 for ReLU6 tensors, act_quant).
 * b' is the bias corrected for the rounded weights' mean shift,
 * b' = b - sum_t (s_w w_q - w)[t][c] mu[c] (Nagel et al. 2019, sec. 4.2,
 * as quant_layer; every tap sees the same channel mean). The expand
 * layer's code likewise: its ReLU6 output times inv_in[c]. */
/* Whether fma(acc, mul, add) stays inside (-2^30, 2^30) for every sum acc
 * of n products of a code (0-255) and a weight: the taps wq[0..n) or,
 * with wq NULL, n weights of magnitude 1 (a bound of 127 x K). The VNNI
 * kernels turn such values into codes with saturating packs, which are
 * the kernels.h rule only below 2^31 (kernels.h, "dw8"). Real layers are
 * orders of magnitude inside; NaN or infinite factors fail. */
static int dw8_codes_fit(const int8_t *wq, int n, float mul, float add)
{
    double s = wq ? 0.0 : n;
    for (int i = 0; wq && i < n; i++) s += abs(wq[i]);
    const double bound = fabs((double)mul) * 255.0 * s + fabs((double)add);
    return bound < 1073741824.0;   /* 2^30: room for the float rounding */
}

/* Block B's int8 depthwise form. Returns 0, -1 (out of memory) or 1 (a
 * channel's codes would not fit the kernels' range: dw8_codes_fit; the
 * block then keeps its fp32 depthwise layer). */
static int quant_dw(arena *a, blk *B, const float *hi, const float *mu)
{
    const int k = B->k, C = B->cexpp;
    q8dw *d = &B->qd;
    d->w = (int8_t *)falloc(a, ((size_t)C * k * 32 + 3) / 4);
    d->mul = falloc(a, (size_t)C);
    d->add = falloc(a, (size_t)C);
    d->emul = falloc(a, (size_t)C);
    d->eadd = falloc(a, (size_t)C);
    if (!d->w || !d->mul || !d->add || !d->emul || !d->eadd) return -1;
    for (int c = 0; c < C; c++) {
        /* padding and dead channels: any range (their codes stay 0) */
        const float h = c < B->cexp && hi[c] > 1e-4f ? fminf(hi[c], 6.0f) : 6.0f;
        const float inv_in = 255.0f / h;
        int8_t wq[25];
        double shift = 0.0;
        float m = 0.0f;
        for (int t = 0; t < k * k; t++) m = fmaxf(m, fabsf(B->wd[(long)t * C + c]));
        const float sw = m > 0.0f ? m / 127.0f : 1.0f;
        for (int t = 0; t < k * k; t++) {
            long v = lrintf(B->wd[(long)t * C + c] / sw);
            wq[t] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            if (c < B->cexp) shift += ((double)sw * wq[t] - B->wd[(long)t * C + c]) * mu[c];
        }
        /* kernels.h "dw8": group c / 16, row ky, first-tap byte a, part:
         * lane c % 16's byte j is slot 4 part + j, tap kx = 4 part + j - a. */
        for (int ky = 0; ky < k; ky++)
            for (int al = 0; al < 4; al++)
                for (int part = 0; part < 2; part++)
                    for (int j = 0; j < 4; j++) {
                        const int kx = 4 * part + j - al;
                        d->w[((((long)(c / 16) * k + ky) * 4 + al) * 2 + part) * 64 + 4 * (c % 16) +
                             j] = kx >= 0 && kx < k ? wq[ky * k + kx] : 0;
                    }
        d->mul[c] = sw / inv_in * B->qp.inv[c];
        d->add[c] = (float)(((double)B->bd[c] - shift) * B->qp.inv[c] + B->qp.off[c]);
        d->emul[c] = B->qe.scale[c] * inv_in;
        d->eadd[c] = B->qe.bias[c] * inv_in;
        if (!dw8_codes_fit(wq, k * k, d->mul[c], d->add[c]) ||
            !dw8_codes_fit(NULL, 127 * B->cinp, d->emul[c], d->eadd[c]))
            return 1;
    }
    /* The expand GEMM stops at K = cin rounded up to 4 (vpdpbusd's 4 k a
     * lane) rather than cinp: the padding channels' weights are zeros, so
     * the sums are the same, for up to a quarter fewer products where cin
     * is 24 or 40 (lite0's early blocks). Its packed panels (kernels.h)
     * are qe.w's first ek rows. Block 0 has no expand layer (int8+dw0:
     * the stem's GEMM writes its codes), so nothing to pack. */
    if (!B->qe.w) return 0;
    d->ek = (B->cin + 3) & ~3;
    d->ew = (int8_t *)falloc(a, ((size_t)d->ek * C + 3) / 4);
    if (!d->ew) return -1;
    for (int n0 = 0; n0 < C; n0 += ORDO_NET_PANEL) {
        const int pw = C - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        memcpy(d->ew + (long)n0 * d->ek, B->qe.w + (long)n0 * B->cinp, (size_t)d->ek * pw);
    }
    return 0;
}

/* The int8 stem (net->stem8; kernels.h "int8 stem"), once block 0's
 * project layer has its int8 form. Input codes u = 128 x + 127: the
 * input's scale 1/128 and zero point 127 fold into the weights as for a
 * 1x1 layer (quant_layer, per output channel symmetric, K = 27 true rows
 * of STEM8_K, bias correction from the input's calibrated channel means:
 * tap (ky, kx, c) sees channel c's). 16-bit weights (two digits, the
 * 16-bit weight GEMMs): 8-bit ones, 27 a channel, took the mean embedding
 * cosine on the 300 calibration photos from 0.99906 to 0.99819 (lite0;
 * 16-bit: 0.99904), for a GEMM that is a few % of the network's time
 * either way. stem8 == 2: block 0's depthwise
 * runs in int8 (quant_dw) on codes the stem's GEMM writes, exactly as an
 * expand layer's: block 0 has none, so the stem takes that place (its
 * scale and bias are what quant_dw folds into the codes' epilogue), with
 * the stem output's calibrated ranges and means. */
static int quant_stem(ordo_net *net, arena *a, const ordo_net_calib *cal, ordo_err *err)
{
    if (cal->nstem != STEM_C || !cal->stem_hi || !cal->stem_mean || !cal->in_mean)
        return ordo_err_set(err, "no int8 stem calibration for %s", net->model);
    q8 *q = &net->qs;
    if (!(q->inv = falloc(a, 32)) || !(q->off = falloc(a, 32))) goto oom;
    float mu[27];
    for (int k = 0; k < 32; k++) q->inv[k] = 128.0f, q->off[k] = 127.0f;
    for (int k = 0; k < 27; k++) mu[k] = cal->in_mean[k % 3];
    if (quant_layer(a, net->ws, net->bs, 27, STEM8_K, STEM_C, mu, 1, q)) goto oom;
    if (net->stem8 == 2) {
        blk *B = &net->b[0];
        B->qe.scale = q->scale;
        B->qe.bias = q->bias;
        B->dw8 = 1;
        if (quant_dw(a, B, cal->stem_hi, cal->stem_mean)) goto oom;
    }
    return 0;
oom:
    return ordo_err_set(err, "out of memory for the int8 weights");
}

/* Builds every 1x1 layer's int8 form (variant v) from its fp32 form and
 * the model's calibrated activation statistics (calib.h). */
static int quantize_weights(ordo_net *net, const q8var *v, ordo_err *err)
{
    const ordo_net_calib *cal = ordo_net_calib_find(net->model);
    if (!cal || cal->ndw != net->obs_x - net->obs_dw || cal->nout != net->obs_dw ||
        cal->nex != net->obs_s - net->obs_x)
        return ordo_err_set(err, "no int8 calibration for %s", net->model);
    size_t bytes = 0;
    for (int i = 0; i < net->nblk; i++) {
        const blk *B = &net->b[i];
        if (B->expand) bytes += (size_t)B->cinp * (2 * B->cexpp + 8) + 8 * (size_t)B->cexpp + 384;
        bytes += (size_t)B->cexpp * (2 * B->coutp + 8) + 8 * (size_t)B->coutp + 384;
        if (v->dw8) bytes += (size_t)B->cexpp * ((size_t)B->k * 32 + 16 + B->cinp) + 6 * 64;
        size_t qb = (size_t)B->ring * B->win * B->cinp;
        if (qb > net->q_bytes) net->q_bytes = qb;
    }
    const int hcp = pad16(net->head_cin);
    bytes += (size_t)hcp * (2 * HEAD_C + 8) + 8 * HEAD_C + 384;
    bytes += 2 * STEM8_K * STEM_C + 4 * 4 * STEM_C + 7 * 64;   /* quant_stem */
    const size_t s8 = stem8_q_bytes(net);
    if (s8 > net->q_bytes) net->q_bytes = s8;
    /* The quantized GEMM inputs: expansions of a ring's rows, depthwise
     * outputs, the late blocks' whole-group inputs, a head chunk; two
     * bytes a value for the 16-bit path. */
    const size_t more[] = { net->act_floats, net->dw_floats, net->gact_floats,
                            (size_t)HEAD_M * hcp, (size_t)(net->head_h * net->head_w) * hcp };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        if (more[i] > net->q_bytes) net->q_bytes = more[i];
    if (v->a16all) net->q_bytes *= 2;
    if (arena_init(&net->w8mem, bytes / sizeof(float) + 1))
        return ordo_err_set(err, "out of memory for the int8 weights");
    arena *a = &net->w8mem;
    for (int i = 0; i < net->nblk; i++) {
        blk *B = &net->b[i];
        const int w16 = v->w16all || (v->w16late && i >= net->first_batched);
        if (B->expand) {
            /* Block 0's input is the stem's ReLU6 output; the others' is
             * the previous block's projection (linear, signed). */
            const int o = i ? B[-1].obs : 0;
            if (act_quant(a, i ? cal->out_lo + o : NULL, i ? cal->out_hi + o : NULL, B->cin,
                          B->cinp, i != 0, v->a16all, &B->qe) ||
                quant_layer(a, B->we, B->be, B->cin, B->cinp, B->cexpp,
                            i ? cal->out_mean + o : NULL, w16, &B->qe))
                goto oom;
        }
        const int d = B->obs_d - net->obs_dw;
        if (act_quant(a, NULL, cal->dw_hi + d, B->cexp, B->cexpp, 0, v->a16all, &B->qp) ||
            quant_layer(a, B->wp, B->bp, B->cexp, B->cexpp, B->coutp, cal->dw_mean + d, w16,
                        &B->qp))
            goto oom;
        /* Not in the blocks at the last map size (7 x 7 for lite0): by
         * measurement (lite0, 468 tuning photos) they cost the most
         * accuracy as int8 depthwise (their 4 blocks: embedding cosine
         * 0.99904 -> 0.99889, top-1 agreement -1.1 points) for little of
         * its speed (the same CPU time per image with or without them). */
        B->dw8 = v->dw8 && B->expand && !w16 && !v->a16all && B->hin > net->head_h;
        if (B->dw8) {
            const int r = quant_dw(a, B, cal->ex_hi + (B->obs_x - net->obs_x),
                                   cal->ex_mean + (B->obs_x - net->obs_x));
            if (r < 0) goto oom;
            if (r > 0) B->dw8 = 0;
        }
    }
    const blk *L = &net->b[net->nblk - 1];
    if (act_quant(a, cal->out_lo + L->obs, cal->out_hi + L->obs, net->head_cin, hcp, 1,
                  v->a16all, &net->qh) ||
        quant_layer(a, net->wh, net->bh, net->head_cin, hcp, HEAD_C, cal->out_mean + L->obs,
                    v->w16all || v->w16late, &net->qh))
        goto oom;
    net->stem8 = v->stem;
    if (net->stem8) return quant_stem(net, a, cal, err);
    return 0;
oom:
    return ordo_err_set(err, "out of memory for the int8 weights");
}

static int start_threads(ordo_net *net, int threads, ordo_err *err)
{
    net->scr = calloc((size_t)threads, sizeof *net->scr);
    if (!net->scr) return ordo_err_set(err, "out of memory");
    net->threads = threads;
    for (int t = 0; t < threads; t++) {
        scratch *s = &net->scr[t];
        const size_t sizes[] = { net->act_floats, net->act_floats, net->ring_floats,
                                 net->dw_floats, net->col_floats, net->hbuf_floats,
                                 net->gact_floats, net->gact_floats, net->xbuf_floats };
        float **ptrs[] = { &s->act[0], &s->act[1], &s->ring, &s->dwbuf, &s->col, &s->hbuf,
                           &s->gact[0], &s->gact[1], &s->xbuf };
        const size_t qf = (net->q_bytes + sizeof(float) - 1) / sizeof(float);
        size_t total = arena_floats(qf);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += arena_floats(sizes[i]);
        if (arena_init(&s->mem, total))
            return ordo_err_set(err, "out of memory for %d threads' buffers", threads);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) *ptrs[i] = falloc(&s->mem, sizes[i]);
        if (!s->act[0] || !s->act[1] || !s->ring || !s->dwbuf || !s->col || !s->hbuf ||
            !s->gact[0] || !s->gact[1] || !s->xbuf)
            return ordo_err_set(err, "out of memory for %d threads' buffers", threads);
        if (qf && !(s->q = (uint8_t *)falloc(&s->mem, qf)))
            return ordo_err_set(err, "out of memory for %d threads' buffers", threads);
    }
    if (threads == 1) return 0;
    net->workers = calloc((size_t)threads, sizeof *net->workers);
    if (!net->workers) return ordo_err_set(err, "out of memory");
    for (int t = 1; t < threads; t++) {
        worker *w = &net->workers[t];
        w->net = net;
        w->tid = t;
        if (pthread_create(&w->th, NULL, worker_main, w))
            return ordo_err_set(err, "cannot start worker thread %d of %d", t, threads);
        net->nworkers = t;
    }
    return 0;
}

ordo_net *ordo_net_create(const char *model, const ordo_pth *weights, int threads,
                          ordo_err *err)
{
    return ordo_net_create_prec(model, weights, threads, "fp32", err);
}

ordo_net *ordo_net_create_prec(const char *model, const ordo_pth *weights, int threads,
                               const char *precision, ordo_err *err)
{
    const q8var *var = q8var_find(precision);
    const int int8 = var != NULL;
    if (!precision || (!int8 && strcmp(precision, "fp32"))) {
        ordo_err_set(err, "unknown precision '%s' (use fp32 or int8)", precision ? precision : "");
        return NULL;
    }
    int mi = -1;
    for (size_t i = 0; model && i < sizeof models / sizeof models[0]; i++)
        if (!strcmp(models[i].name, model)) mi = (int)i;
    if (mi < 0) {
        ordo_err_set(err, "unknown model '%s' (use lite0, lite1 or lite2)", model ? model : "");
        return NULL;
    }
    if (!weights) {
        ordo_err_set(err, "ordo_net_create: no weights");
        return NULL;
    }
    if (threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (int)c : 1;
    }
    if (threads > MAX_THREADS) threads = MAX_THREADS;

    ordo_net *net = calloc(1, sizeof *net);
    if (!net) {
        ordo_err_set(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&net->mu, NULL);
    pthread_cond_init(&net->cv_start, NULL);
    pthread_cond_init(&net->cv_done, NULL);
    net->threads = 1;
    snprintf(net->model, sizeof net->model, "%s", models[mi].name);
    net->size = models[mi].size;
    net->int8 = int8;
    net->var = var;
    net->recheck = int8 ? recheck_default(var->name, net->model) : 0.0;

    loader L = { .pth = weights, .arena = &net->wmem, .model = net->model, .err = err };
    int rc = (net->kern = pick_kernels(err)) ? 0 : -1;
    if (!rc) rc = plan(net, models[mi].width, models[mi].depth, err);
    if (!rc) rc = load_weights(net, &L);
    if (!rc && int8) rc = (net->k8 = pick_kernels8(err)) ? quantize_weights(net, var, err) : -1;
    if (!rc)
        snprintf(net->kname, sizeof net->kname, "%s%s%s", net->kern->name, int8 ? "+" : "",
                 int8 ? net->k8->name : "");
    for (int i = 0; i < L.nused; i++) free(L.used[i]);
    free(L.used);
    if (!rc) rc = start_threads(net, threads, err);
    if (rc) {
        ordo_net_free(net);
        return NULL;
    }
    return net;
}

void ordo_net_free(ordo_net *net)
{
    if (!net) return;
    if (net->nworkers) {
        pthread_mutex_lock(&net->mu);
        net->quit = 1;
        net->job = NULL;                 /* a spinning worker sees gen move, then no job */
        atomic_fetch_add(&net->gen, 1);
        pthread_cond_broadcast(&net->cv_start);
        pthread_mutex_unlock(&net->mu);
        for (int t = 1; t <= net->nworkers; t++) pthread_join(net->workers[t].th, NULL);
    }
    free(net->workers);
    if (net->scr)
        for (int t = 0; t < net->threads; t++) free(net->scr[t].mem.base);
    free(net->scr);
    free(net->wmem.base);   /* all packed weights and the zero row */
    free(net->w8mem.base);
    pthread_mutex_destroy(&net->mu);
    pthread_cond_destroy(&net->cv_start);
    pthread_cond_destroy(&net->cv_done);
    free(net);
}

int ordo_net_input_size(const ordo_net *net) { return net ? net->size : 0; }
const char *ordo_net_model(const ordo_net *net) { return net ? net->model : ""; }
const char *ordo_net_kernel(const ordo_net *net) { return net ? net->kname : ""; }
const char *ordo_net_precision(const ordo_net *net)
{
    return !net ? "" : net->int8 ? net->var->name : "fp32";
}

int ordo_net_tensors_stem(const ordo_net *net) { return net ? STEM_C : 0; }

int ordo_net_tensors(const ordo_net *net, int *nout, int *ndw)
{
    if (nout) *nout = net ? net->obs_dw : 0;
    if (ndw) *ndw = net ? net->obs_x - net->obs_dw : 0;
    return net ? net->obs_n : 0;
}

int ordo_net_observe(ordo_net *net, const float *const *in, int n, ordo_net_stats *st,
                     ordo_err *err)
{
    if (!net || net->int8 || net->threads != 1 || !st || !st->lo || !st->hi || !st->sum || !st->n)
        return ordo_err_set(err, "ordo_net_observe: needs an fp32 net with one thread");
    float *logits = malloc((size_t)n * ORDO_NET_CLASSES * sizeof *logits);
    if (!logits) return ordo_err_set(err, "out of memory");
    net->scr[0].obs = st;
    const int rc = ordo_net_forward_each(net, in, n, logits, NULL, err);
    net->scr[0].obs = NULL;
    free(logits);
    return rc;
}

/* ------------------------------------------------------------- the cut */

int ordo_net_cut_hw(const ordo_net *net) { return net ? net->head_h * net->head_w : 0; }
int ordo_net_cut_channels(const ordo_net *net) { return net ? net->head_cin : 0; }
long ordo_net_cut_floats(const ordo_net *net)
{
    return net ? (long)net->head_h * net->head_w * net->head_cin : 0;
}

/* Unpacks the head's folded weights: pack() wrote panel by panel, K rows of
 * the panel's width each (kernels.h), so element (k, n) of panel p sits at
 * p's start + k * width + (n - p's first column). */
int ordo_net_head(const ordo_net *net, float *w, float *b, ordo_err *err)
{
    if (!net || !w || !b) return ordo_err_set(err, "ordo_net_head: bad arguments");
    if (net->int8)
        return ordo_err_set(err, "fine-tuning needs the fp32 network (this one is int8)");
    const int K = net->head_cin;
    for (int n0 = 0; n0 < HEAD_C; n0 += ORDO_NET_PANEL) {
        const int pw = HEAD_C - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const float *p = net->wh + (long)n0 * K;
        for (int k = 0; k < K; k++)
            for (int j = 0; j < pw; j++) w[(long)k * HEAD_C + n0 + j] = p[(long)k * pw + j];
    }
    memcpy(b, net->bh, HEAD_C * sizeof *b);
    return 0;
}
