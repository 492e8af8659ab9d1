/* kernels.h - private to src/nn: the compute kernels of the network, one
 * set per instruction set (portable C in net.c, net_avx2.c, net_avx512.c).
 *
 * Layout conventions shared by every kernel:
 * - Activations are NHWC with the channel count padded to a multiple of 16
 *   (ORDO_NET_CPAD); padded channels hold zeros, so they never change a sum.
 * - 1x1 convolution weights are "packed": the output channels are cut into
 *   panels of 32 (the last one may be 16); panel j holds K rows of its width,
 *   contiguous, so a micro-kernel streams one panel row per k.
 */
#ifndef ORDO_NN_KERNELS_H
#define ORDO_NN_KERNELS_H

#include <stdint.h>

#define ORDO_NET_CPAD 16
#define ORDO_NET_PANEL 32

/* C[m][n] = act(bias[n] + sum_k A[m][k] * B[k][n]) (+ R[m][n] when R),
 * m < M, n < N. N is a multiple of 16; B is packed as described above.
 * act is ReLU6 when relu6 is non-zero, identity otherwise. */
typedef void ordo_net_gemm_fn(int M, int N, int K, const float *A, int lda,
                              const float *B, const float *bias, float *C,
                              int ldc, const float *R, int ldr, int relu6);

/* One output row of a depthwise k x k convolution with stride s, fused with
 * bias and ReLU6. rows[ky] points at input row ky ([Win][C], unpadded; a
 * row of the zero padding is passed as a row of zeros). Output x reads
 * input columns x*s - pl + kx; columns outside [0, Win) count as zero.
 * w is [ky][kx][C], C a multiple of 16. out is [Wout][C]. */
typedef void ordo_net_dw_fn(int k, int s, int Win, int pl, int Wout, int C,
                            const float *const *rows, const float *w,
                            const float *bias, float *out);

/* The output columns [*lo, *hi) whose taps all fall inside the row, so the
 * kernels can run them without bounds checks. */
static inline void ordo_net_dw_interior(int k, int s, int Win, int pl, int Wout,
                                        int *lo, int *hi)
{
    int a = (pl + s - 1) / s;                    /* first x with x*s - pl >= 0 */
    int b = Win - k + pl >= 0 ? (Win - k + pl) / s + 1 : 0;
    if (b > Wout) b = Wout;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* The same, for the int8 network: out is [Wout][C] bytes, each the ReLU6
 * output quantized as kernels.h's quantizer does with zero point 0 and
 * 1/scale qinv[c] (the next layer's input, without a pass through floats). */
typedef void ordo_net_dwq_fn(int k, int s, int Win, int pl, int Wout, int C,
                             const float *const *rows, const float *w,
                             const float *bias, const float *qinv, uint8_t *out);

typedef struct ordo_net_kernels {
    const char *name;
    ordo_net_gemm_fn *gemm;
    ordo_net_dw_fn *dw;
    ordo_net_dwq_fn *dwq;     /* NULL: dw, then the int8 kernels' quantizer */
} ordo_net_kernels;

/* ---- int8 (see net.c, "int8 inference") ----
 *
 * Activations are quantized to uint8 with one scale and one offset (the
 * zero point, not necessarily an integer) per channel,
 * q = clamp(round_half_even(fma(x, inv[c], off[c])), 0, 255) (the channel
 * scales and offsets are folded into the weights' rows and the bias);
 * weights to int8 with one scale per output channel. The int8 GEMM
 * accumulates exact int32 sums sum_k q[m][k] * w[k][n] (the product form
 * of VNNI's vpdpbusd: u8 x s8), then dequantizes:
 * C[m][n] = act(scale[n] * acc + bias[n]) (+ R[m][n]), where
 * scale[n] = s_w[n] and bias[n] already holds the offsets' share
 * -scale[n] * sum_k off[k] * w[k][n].
 *
 * The 16-bit activation path (the layers int8 hurts most): the same rule
 * with clamp to [0, 65535], each value stored as two base-256 digits,
 * q = 256 hi + lo (row m: K low digits, then K high digits). The GEMM runs
 * both digit rows through the same u8 x s8 products and dequantizes
 * scale[n] * (256 acc_hi + acc_lo) + bias[n] in float (256 acc_hi can
 * pass 2^31).
 *
 * Packed int8 weights: output channels in panels of 32 (the last may be 16)
 * as for fp32; inside a panel, K (a multiple of 4) in groups of 4: group g
 * holds, for each of the panel's w columns, the 4 bytes w[4g..4g+3][n]
 * (the 4 consecutive k that one vpdpbusd lane sums). */
typedef void ordo_net_gemm8_fn(int M, int N, int K, const uint8_t *A, int lda,
                               const int8_t *B, const float *scale, const float *bias,
                               float *C, int ldc, const float *R, int ldr, int relu6);

/* rows x C floats (C a multiple of 16) to bytes, one scale and offset per
 * channel c: q = clamp(round_half_even(fma(x, inv[c], off[c])), 0, 255);
 * NaN -> 0. */
typedef void ordo_net_quant_fn(const float *x, long rows, int C, const float *inv,
                               const float *off, uint8_t *q);

/* The 16-bit path: A row m holds K low digits at A + m * lda and K high
 * digits right after them (lda >= 2K). */
typedef void ordo_net_gemm16_fn(int M, int N, int K, const uint8_t *A, int lda,
                                const int8_t *B, const float *scale, const float *bias,
                                float *C, int ldc, const float *R, int ldr, int relu6);

/* rows x C floats to 16-bit values, clamp to [0, 65535], as two digit rows
 * of C bytes each (row r at q + 2 C r: low digits, then high digits). */
typedef void ordo_net_quant16_fn(const float *x, long rows, int C, const float *inv,
                                 const float *off, uint8_t *q);

/* The 16-bit weight path: each weight w = 256 hi + lo, hi and lo signed
 * bytes (lo in [-128, 127]), packed as two int8 panels Bh, Bl in the
 * layout above; C = act(scale[n] (256 acc_hi + acc_lo) + bias[n]) (+ R). */
typedef void ordo_net_gemmw16_fn(int M, int N, int K, const uint8_t *A, int lda,
                                 const int8_t *Bh, const int8_t *Bl, const float *scale,
                                 const float *bias, float *C, int ldc, const float *R, int ldr,
                                 int relu6);

/* ---- int8 depthwise (net.c, "dw8") ----
 *
 * The depthwise layer's input (an expand layer's ReLU6 output) is kept as
 * uint8 codes in a "quad" row layout, so that one vpdpbusd lane sums four
 * horizontal taps of one channel: a row of W pixels and C channels (C a
 * multiple of 16) is ORDO_NET_DW8_QUADS(W) quads of 4 * C bytes; pixel x
 * sits in slot p = x + 4 (slots 0-3 and those past W + 3 hold zeros, the
 * left and right zero padding), byte (p / 4) * 4C + 4c + p % 4. */
#define ORDO_NET_DW8_QUADS(W) (((W) + 9) / 4)

/* The int8 GEMM (as gemm8) whose output is such a row set: output pixel m
 * is pixel m % W of row m / W (row r at C + r * row_bytes), channel n gets
 * code clamp(round_half_even(fma((float)acc, mul[n], add[n])), 0, 255).
 * Writes only the data slots; the caller zeroes the padding slots.
 * Callers keep |fma(acc, mul, add)| below 2^30 for every possible acc (as
 * gemm8q and dw8 here; net.c dw8_codes_fit): the VNNI kernels convert
 * to int32 first and let saturating packs do the clamp. */
typedef void ordo_net_gemm8q_fn(int M, int N, int K, const uint8_t *A, int lda,
                                const int8_t *B, const float *mul, const float *add,
                                uint8_t *C, int W, long row_bytes);

/* One output row of an int8 depthwise k x k convolution, stride s, left
 * padding pl: rows[ky] are quad-layout input rows of C channels, w the
 * packed weights (for each group of 16 channels, ky, a = slot % 4 of the
 * first tap, part 0/1: 64 bytes, lane c's 4 bytes the weights of slots
 * 4 (first quad + part) + j, zero where no tap), acc the exact int32 sum;
 * out[x][c] = clamp(round_half_even(fma((float)acc, mul[c], add[c])), 0, 255)
 * (plain [Wout][C] bytes: the project layer's input). */
typedef void ordo_net_dw8_fn(int k, int s, int pl, int Wout, int C,
                             const uint8_t *const *rows, const int8_t *w, const float *mul,
                             const float *add, uint8_t *out);

/* ---- the int8 stem (net.c, "int8 stem") ----
 *
 * The stem (3x3, stride 2, 3 input channels) runs as an int8 GEMM with
 * K = 28 over im2col rows of bytes, through the kernel set's gemmw16 or
 * gemmw16q (16-bit weights; the latter writing block 0's depthwise input
 * codes). Its input
 * codes are the pixels themselves: u = clamp(round_half_even(128 x + 127),
 * 0, 255) of the network input x = (pixel - 127) / 128 (exact for a resize
 * rounded to bytes, as ordo's). This builds the rows: output pixel
 * (y, x), y in [y0, y1), is row (y - y0) * Wout + x of STEM8 bytes 28:
 * byte (ky * 3 + kx) * 3 + c the code of input pixel
 * (2 y - pt + ky, 2 x - pl + kx), channel c (127, the input 0, outside the
 * S x S image), byte 27 zero. img: the S x S x 3 codes, row-major (only
 * the rows these outputs read are used). Portable, shared by every set. */
void ordo_net_stem8_col(const uint8_t *img, int S, int pt, int pl, int y0, int y1, int Wout,
                        uint8_t *col);

/* The quad-layout GEMM (as gemm8q) with 16-bit weights w = 256 hi + lo,
 * packed as two int8 panels Bh, Bl (as gemmw16): acc = 256 acc_hi + acc_lo
 * exactly in int32 (the caller keeps K 255 |w| below 2^31), then gemm8q's
 * code rule. The int8 stem's GEMM: with 8-bit weights its 27 taps a
 * channel lost more accuracy than the rest of the int8 network (measured,
 * net.c quant_stem). */
typedef void ordo_net_gemmw16q_fn(int M, int N, int K, const uint8_t *A, int lda,
                                  const int8_t *Bh, const int8_t *Bl, const float *mul,
                                  const float *add, uint8_t *C, int W, long row_bytes);

typedef struct ordo_net_kernels8 {
    const char *name;
    ordo_net_gemm8_fn *gemm8;
    ordo_net_quant_fn *quant;
    ordo_net_gemm16_fn *gemm16;
    ordo_net_quant16_fn *quant16;
    ordo_net_gemmw16_fn *gemmw16;
    ordo_net_gemm8q_fn *gemm8q;
    ordo_net_dw8_fn *dw8;
    ordo_net_gemmw16q_fn *gemmw16q;
} ordo_net_kernels8;

extern const ordo_net_kernels8 ordo_net_kernels8_c;
#ifndef ORDO_NO_SIMD
extern const ordo_net_kernels8 ordo_net_kernels8_vnni;   /* AVX-512 VNNI */
#endif

extern const ordo_net_kernels ordo_net_kernels_c;
#ifndef ORDO_NO_SIMD
extern const ordo_net_kernels ordo_net_kernels_avx2;
extern const ordo_net_kernels ordo_net_kernels_avx512;
#endif

#endif
