/* resize_internal.h - the inner loops of src/img/resize.c, shared with its
 * SIMD versions (resize_avx2.c, resize_avx512.c; called only after a
 * run-time CPU check). Not part of the contract (img.h).
 *
 * Every version computes the same integer sums as the portable loops, so
 * the output is identical to the bit whichever one runs: products of 8-bit
 * pixels and 22-bit fixed-point weights summed in int32 (no overflow: the
 * absolute weights of one output sum to < 2^23), then an arithmetic shift
 * and a clamp to 0..255. */
#ifndef ORDO_RESIZE_INTERNAL_H
#define ORDO_RESIZE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define ORDO_RESIZE_PREC 22  /* 32 - 8 - 2: headroom for sums of 8-bit values */

/* Horizontal pass over one RGB row, vectorised over groups of `lanes`
 * consecutive outputs (one 4-lane RGBX slot per output).
 *   first[x]      first input pixel of output x
 *   tab           per group g, per tap t: lanes * 4 int32 weights, output j
 *                 of the group at [4j, 4j + 3) (lane 4j + 3 is 0); taps past
 *                 an output's own count have weight 0
 *   gtaps[g]      taps to run for group g (max count in the group), or 0
 *                 when the group must take the portable path (a tail
 *                 group, or a 16-byte read past the row's end)
 * Fills dst[3x..3x+2] for the outputs of fast groups only. */
typedef struct ordo_resize_hplan {
    int n, lanes, ksize;
    const int *first;
    const int32_t *tab;
    const int *gtaps;
} ordo_resize_hplan;

/* Vertical pass for one output row: n bytes (all channels) of `taps` rows
 * base, base + pitch, ... weighted by k, then (v - 127) / 128 as floats. */
void ordo_resize_vrow_c(const unsigned char *base, size_t pitch, int taps,
                        const int32_t *k, int n, float *out);

#ifndef ORDO_NO_SIMD
void ordo_resize_hrow_avx2(const unsigned char *src, unsigned char *dst,
                           const ordo_resize_hplan *p);
void ordo_resize_vrow_avx2(const unsigned char *base, size_t pitch, int taps,
                           const int32_t *k, int n, float *out);
void ordo_resize_hrow_avx512(const unsigned char *src, unsigned char *dst,
                             const ordo_resize_hplan *p);
void ordo_resize_vrow_avx512(const unsigned char *base, size_t pitch, int taps,
                             const int32_t *k, int n, float *out);
#endif

#endif
