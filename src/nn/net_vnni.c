/* net_vnni.c - AVX-512 VNNI kernels of the int8 network (see kernels.h,
 * "int8"). Compiled with -mavx512vnni...; called only after a run-time CPU
 * check. vpdpbusd multiplies 4 unsigned bytes of A by 4 signed bytes of B
 * and adds the 4 products to a 32-bit lane, without saturation (Intel SDM,
 * VPDPBUSD): 64 multiply-adds per instruction, four times an fp32 FMA's. */
#ifndef ORDO_NO_SIMD
#include <immintrin.h>
#include <string.h>

#include "nn/kernels.h"

#define INL static inline __attribute__((always_inline))
#define MR 12   /* pixels per micro-tile: 12 x 32 channels = 24 accumulators */
/* int8 depthwise outputs per block (dw8_blk): with 8, outputs j and j + 4
 * (j + 2 at stride 2) share every weight load; measured (one thread,
 * lite0's shapes) 17-28 % faster than 4 at stride 1 and 7-15 % at stride
 * 2; 12 was no better. */
#define DW8_NX 8

static inline __m512 relu6(__m512 v)
{
    return _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(6.0f));
}

static inline __m512i bcast4(const uint8_t *p)   /* 4 bytes of A into every lane */
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* acc += 4-byte dot products of a (unsigned) and w (signed) per lane. As
 * inline assembly because GCC 12 keeps the _mm512_dpbusd_epi32 intrinsic's
 * accumulators in memory (measured: every accumulator stored to the stack
 * on every k step, half the kernel's time); here they stay in registers. */
static inline __m512i dpbusd(__m512i acc, __m512i a, __m512i w)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
    return acc;
}

INL __m512 dequant(__m512i acc, __m512 sc, __m512 b, int relu, const float *R)
{
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), sc, b);
    if (relu) v = relu6(v);
    if (R) v = _mm512_add_ps(v, _mm512_loadu_ps(R));
    return v;
}

/* The exact int32 sums of an mr x 32 tile over the whole K: c0 holds
 * columns 0-15, c1 columns 16-31 (tile32 and tile32q differ only in what
 * they do with them). */
INL void acc32(const int mr, int K, const uint8_t *A, int lda, const int8_t *B,
               __m512i *c0, __m512i *c1)
{
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) { c0[i] = _mm512_setzero_si512(); c1[i] = _mm512_setzero_si512(); }
    for (int k = 0; k < K; k += 4) {
        const __m512i w0 = _mm512_loadu_si512(B + (long)k * 32);
        const __m512i w1 = _mm512_loadu_si512(B + (long)k * 32 + 64);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            const __m512i a = bcast4(A + (long)i * lda + k);
            c0[i] = dpbusd(c0[i], a, w0);
            c1[i] = dpbusd(c1[i], a, w1);
        }
    }
}

/* One mr x 32 tile over the whole K (a panel of K x 32 bytes is at most
 * 40 KiB here, within L1 + L2 streaming). */
INL void tile32(const int mr, int K, const uint8_t *A, int lda, const int8_t *B,
                const float *scale, const float *bias, float *C, int ldc,
                const float *R, int ldr, int relu)
{
    __m512i c0[MR], c1[MR];
    acc32(mr, K, A, lda, B, c0, c1);
    const __m512 s0 = _mm512_loadu_ps(scale), s1 = _mm512_loadu_ps(scale + 16);
    const __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        _mm512_storeu_ps(C + (long)i * ldc,
                         dequant(c0[i], s0, b0, relu, R ? R + (long)i * ldr : NULL));
        _mm512_storeu_ps(C + (long)i * ldc + 16,
                         dequant(c1[i], s1, b1, relu, R ? R + (long)i * ldr + 16 : NULL));
    }
}

/* One mr x 16 tile, for the last panel when N % 32 == 16. */
INL void tile16(const int mr, int K, const uint8_t *A, int lda, const int8_t *B,
                const float *scale, const float *bias, float *C, int ldc,
                const float *R, int ldr, int relu)
{
    __m512i c0[MR];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) c0[i] = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 4) {
        const __m512i w0 = _mm512_loadu_si512(B + (long)k * 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++)
            c0[i] = dpbusd(c0[i], bcast4(A + (long)i * lda + k), w0);
    }
    const __m512 s0 = _mm512_loadu_ps(scale), b0 = _mm512_loadu_ps(bias);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        _mm512_storeu_ps(C + (long)i * ldc,
                         dequant(c0[i], s0, b0, relu, R ? R + (long)i * ldr : NULL));
}

#define TILE_CASES(fn)                                                              \
    switch (mr) {                                                                   \
    case 12: fn(12, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;        \
    case 11: fn(11, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;        \
    case 10: fn(10, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;        \
    case 9: fn(9, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 8: fn(8, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 7: fn(7, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 6: fn(6, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 5: fn(5, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 4: fn(4, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 3: fn(3, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 2: fn(2, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    default: fn(1, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;         \
    }

static void t32(int mr, int K, const uint8_t *A, int lda, const int8_t *B, const float *scale,
                const float *bias, float *C, int ldc, const float *R, int ldr, int relu)
{
    TILE_CASES(tile32)
}

static void t16(int mr, int K, const uint8_t *A, int lda, const int8_t *B, const float *scale,
                const float *bias, float *C, int ldc, const float *R, int ldr, int relu)
{
    TILE_CASES(tile16)
}

static void gemm8(int M, int N, int K, const uint8_t *A, int lda, const int8_t *B,
                  const float *scale, const float *bias, float *C, int ldc, const float *R,
                  int ldr, int relu6)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const int8_t *Bp = B + (long)n0 * K;
        for (int m0 = 0; m0 < M;) {
            /* The last 13-19 rows as two tiles of 7-10 rather than 12 and
             * 1-7: a tile of few rows has too few vpdpbusd chains to hide
             * its latency (as gemm8q). */
            const int left = M - m0;
            const int mr = left <= MR ? left : left < MR + 8 ? (left + 1) / 2 : MR;
            const float *Rm = R ? R + (long)m0 * ldr + n0 : NULL;
            const uint8_t *Am = A + (long)m0 * lda;
            float *Cm = C + (long)m0 * ldc + n0;
            if (w == 32)
                t32(mr, K, Am, lda, Bp, scale + n0, bias + n0, Cm, ldc, Rm, ldr, relu6);
            else
                t16(mr, K, Am, lda, Bp, scale + n0, bias + n0, Cm, ldc, Rm, ldr, relu6);
            m0 += mr;
        }
    }
}

/* The portable quantizer's rule, 16 floats at a time: fma, clamp in float
 * first (so huge values and NaN cannot wrap in the conversion; max_ps
 * returns its second operand for NaN), round half to even (the default
 * MXCSR mode, as lrintf). */
static void quant(const float *x, long rows, int C, const float *inv, const float *off,
                  uint8_t *q)
{
    const __m512 lo = _mm512_setzero_ps(), hi = _mm512_set1_ps(255.0f);
    /* 64 channels at a time: min(255, v) first (vminps returns its second
     * operand, v, for NaN), then cvtps2dq (INT32_MIN for NaN and anything
     * below -2^31) and the saturating packs (vpackssdw, vpackuswb) do the
     * clamp at 0: the same code as the loop below, NaN -> 0 included, for
     * 3 packs and a vpermd instead of 4 max and 4 two-uop vpmovdb. */
    const __m512i tr = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    for (long r = 0; r < rows; r++, x += C, q += C) {
        int c = 0;
        for (; c + 64 <= C; c += 64) {
#define ORDO_QV(i)                                                                          \
    _mm512_cvtps_epi32(_mm512_min_ps(hi, _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 16 * (i)), \
                                                         _mm512_loadu_ps(inv + c + 16 * (i)), \
                                                         _mm512_loadu_ps(off + c + 16 * (i)))))
            const __m512i w01 = _mm512_packs_epi32(ORDO_QV(0), ORDO_QV(1));
            const __m512i w23 = _mm512_packs_epi32(ORDO_QV(2), ORDO_QV(3));
#undef ORDO_QV
            /* byte 16 l + 4 j + i holds channel 16 j + 4 l + i */
            _mm512_storeu_si512(q + c, _mm512_permutexvar_epi32(tr, _mm512_packus_epi16(w01, w23)));
        }
        for (; c < C; c += 16) {
            __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps(inv + c),
                                       _mm512_loadu_ps(off + c));
            v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            _mm_storeu_si128((__m128i *)(q + c), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
        }
    }
}

/* The same to 16 bits: the low bytes of each value, then the high ones. */
static void quant16(const float *x, long rows, int C, const float *inv, const float *off,
                    uint8_t *q)
{
    const __m512 lo = _mm512_setzero_ps(), hi = _mm512_set1_ps(65535.0f);
    const __m512i m8 = _mm512_set1_epi32(255);
    for (long r = 0; r < rows; r++, x += C, q += 2L * C)
        for (int c = 0; c < C; c += 16) {
            __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), _mm512_loadu_ps(inv + c),
                                       _mm512_loadu_ps(off + c));
            v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            const __m512i u = _mm512_cvtps_epi32(v);
            _mm_storeu_si128((__m128i *)(q + c), _mm512_cvtepi32_epi8(_mm512_and_si512(u, m8)));
            _mm_storeu_si128((__m128i *)(q + C + c), _mm512_cvtepi32_epi8(_mm512_srli_epi32(u, 8)));
        }
}

/* ---- the 16-bit activation path: two digit rows per pixel ---- */

#define MR2 6   /* 6 pixels x 32 channels x 2 digits = 24 accumulators */

INL __m512 dequant2(__m512i lo, __m512i hi, __m512 sc, __m512 sc256, __m512 b, int relu,
                    const float *R)
{
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), sc256,
                               _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo), sc, b));
    if (relu) v = relu6(v);
    if (R) v = _mm512_add_ps(v, _mm512_loadu_ps(R));
    return v;
}

INL void tile32x2(const int mr, int K, const uint8_t *A, int lda, const int8_t *B,
                  const float *scale, const float *bias, float *C, int ldc,
                  const float *R, int ldr, int relu)
{
    __m512i l0[MR2], l1[MR2], h0[MR2], h1[MR2];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        l0[i] = l1[i] = h0[i] = h1[i] = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 4) {
        const __m512i w0 = _mm512_loadu_si512(B + (long)k * 32);
        const __m512i w1 = _mm512_loadu_si512(B + (long)k * 32 + 64);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            const __m512i a = bcast4(A + (long)i * lda + k), h = bcast4(A + (long)i * lda + K + k);
            l0[i] = dpbusd(l0[i], a, w0);
            l1[i] = dpbusd(l1[i], a, w1);
            h0[i] = dpbusd(h0[i], h, w0);
            h1[i] = dpbusd(h1[i], h, w1);
        }
    }
    const __m512 s0 = _mm512_loadu_ps(scale), s1 = _mm512_loadu_ps(scale + 16);
    const __m512 t0 = _mm512_mul_ps(s0, _mm512_set1_ps(256.0f));
    const __m512 t1 = _mm512_mul_ps(s1, _mm512_set1_ps(256.0f));
    const __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        _mm512_storeu_ps(C + (long)i * ldc,
                         dequant2(l0[i], h0[i], s0, t0, b0, relu, R ? R + (long)i * ldr : NULL));
        _mm512_storeu_ps(C + (long)i * ldc + 16,
                         dequant2(l1[i], h1[i], s1, t1, b1, relu, R ? R + (long)i * ldr + 16 : NULL));
    }
}

INL void tile16x2(const int mr, int K, const uint8_t *A, int lda, const int8_t *B,
                  const float *scale, const float *bias, float *C, int ldc,
                  const float *R, int ldr, int relu)
{
    __m512i l0[MR2], h0[MR2];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) l0[i] = h0[i] = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 4) {
        const __m512i w0 = _mm512_loadu_si512(B + (long)k * 16);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            l0[i] = dpbusd(l0[i], bcast4(A + (long)i * lda + k), w0);
            h0[i] = dpbusd(h0[i], bcast4(A + (long)i * lda + K + k), w0);
        }
    }
    const __m512 s0 = _mm512_loadu_ps(scale), b0 = _mm512_loadu_ps(bias);
    const __m512 t0 = _mm512_mul_ps(s0, _mm512_set1_ps(256.0f));
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        _mm512_storeu_ps(C + (long)i * ldc,
                         dequant2(l0[i], h0[i], s0, t0, b0, relu, R ? R + (long)i * ldr : NULL));
}

#define TILE_CASES2(fn)                                                             \
    switch (mr) {                                                                   \
    case 6: fn(6, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 5: fn(5, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 4: fn(4, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 3: fn(3, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    case 2: fn(2, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;          \
    default: fn(1, K, A, lda, B, scale, bias, C, ldc, R, ldr, relu); break;         \
    }

static void t32x2(int mr, int K, const uint8_t *A, int lda, const int8_t *B, const float *scale,
                  const float *bias, float *C, int ldc, const float *R, int ldr, int relu)
{
    TILE_CASES2(tile32x2)
}

static void t16x2(int mr, int K, const uint8_t *A, int lda, const int8_t *B, const float *scale,
                  const float *bias, float *C, int ldc, const float *R, int ldr, int relu)
{
    TILE_CASES2(tile16x2)
}

static void gemm16(int M, int N, int K, const uint8_t *A, int lda, const int8_t *B,
                   const float *scale, const float *bias, float *C, int ldc, const float *R,
                   int ldr, int relu6)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const int8_t *Bp = B + (long)n0 * K;
        for (int m0 = 0; m0 < M; m0 += MR2) {
            const int mr = M - m0 < MR2 ? M - m0 : MR2;
            const float *Rm = R ? R + (long)m0 * ldr + n0 : NULL;
            const uint8_t *Am = A + (long)m0 * lda;
            float *Cm = C + (long)m0 * ldc + n0;
            if (w == 32)
                t32x2(mr, K, Am, lda, Bp, scale + n0, bias + n0, Cm, ldc, Rm, ldr, relu6);
            else
                t16x2(mr, K, Am, lda, Bp, scale + n0, bias + n0, Cm, ldc, Rm, ldr, relu6);
        }
    }
}

/* ---- the 16-bit weight path: two digit panels ---- */

INL void tile32w(const int mr, int K, const uint8_t *A, int lda, const int8_t *Bh,
                 const int8_t *Bl, const float *scale, const float *bias, float *C, int ldc,
                 const float *R, int ldr, int relu)
{
    __m512i l0[MR2], l1[MR2], h0[MR2], h1[MR2];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        l0[i] = l1[i] = h0[i] = h1[i] = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 4) {
        const __m512i u0 = _mm512_loadu_si512(Bh + (long)k * 32);
        const __m512i u1 = _mm512_loadu_si512(Bh + (long)k * 32 + 64);
        const __m512i v0 = _mm512_loadu_si512(Bl + (long)k * 32);
        const __m512i v1 = _mm512_loadu_si512(Bl + (long)k * 32 + 64);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            const __m512i a = bcast4(A + (long)i * lda + k);
            h0[i] = dpbusd(h0[i], a, u0);
            h1[i] = dpbusd(h1[i], a, u1);
            l0[i] = dpbusd(l0[i], a, v0);
            l1[i] = dpbusd(l1[i], a, v1);
        }
    }
    const __m512 s0 = _mm512_loadu_ps(scale), s1 = _mm512_loadu_ps(scale + 16);
    const __m512 t0 = _mm512_mul_ps(s0, _mm512_set1_ps(256.0f));
    const __m512 t1 = _mm512_mul_ps(s1, _mm512_set1_ps(256.0f));
    const __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        _mm512_storeu_ps(C + (long)i * ldc,
                         dequant2(l0[i], h0[i], s0, t0, b0, relu, R ? R + (long)i * ldr : NULL));
        _mm512_storeu_ps(C + (long)i * ldc + 16,
                         dequant2(l1[i], h1[i], s1, t1, b1, relu, R ? R + (long)i * ldr + 16 : NULL));
    }
}

INL void tile16w(const int mr, int K, const uint8_t *A, int lda, const int8_t *Bh,
                 const int8_t *Bl, const float *scale, const float *bias, float *C, int ldc,
                 const float *R, int ldr, int relu)
{
    __m512i l0[MR2], h0[MR2];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) l0[i] = h0[i] = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 4) {
        const __m512i u0 = _mm512_loadu_si512(Bh + (long)k * 16);
        const __m512i v0 = _mm512_loadu_si512(Bl + (long)k * 16);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            const __m512i a = bcast4(A + (long)i * lda + k);
            h0[i] = dpbusd(h0[i], a, u0);
            l0[i] = dpbusd(l0[i], a, v0);
        }
    }
    const __m512 s0 = _mm512_loadu_ps(scale), b0 = _mm512_loadu_ps(bias);
    const __m512 t0 = _mm512_mul_ps(s0, _mm512_set1_ps(256.0f));
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        _mm512_storeu_ps(C + (long)i * ldc,
                         dequant2(l0[i], h0[i], s0, t0, b0, relu, R ? R + (long)i * ldr : NULL));
}

#define TILE_CASESW(fn)                                                             \
    switch (mr) {                                                                   \
    case 6: fn(6, K, A, lda, Bh, Bl, scale, bias, C, ldc, R, ldr, relu); break;     \
    case 5: fn(5, K, A, lda, Bh, Bl, scale, bias, C, ldc, R, ldr, relu); break;     \
    case 4: fn(4, K, A, lda, Bh, Bl, scale, bias, C, ldc, R, ldr, relu); break;     \
    case 3: fn(3, K, A, lda, Bh, Bl, scale, bias, C, ldc, R, ldr, relu); break;     \
    case 2: fn(2, K, A, lda, Bh, Bl, scale, bias, C, ldc, R, ldr, relu); break;     \
    default: fn(1, K, A, lda, Bh, Bl, scale, bias, C, ldc, R, ldr, relu); break;    \
    }

static void t32w(int mr, int K, const uint8_t *A, int lda, const int8_t *Bh, const int8_t *Bl,
                 const float *scale, const float *bias, float *C, int ldc, const float *R,
                 int ldr, int relu)
{
    TILE_CASESW(tile32w)
}

static void t16w(int mr, int K, const uint8_t *A, int lda, const int8_t *Bh, const int8_t *Bl,
                 const float *scale, const float *bias, float *C, int ldc, const float *R,
                 int ldr, int relu)
{
    TILE_CASESW(tile16w)
}

static void gemmw16(int M, int N, int K, const uint8_t *A, int lda, const int8_t *Bh,
                    const int8_t *Bl, const float *scale, const float *bias, float *C, int ldc,
                    const float *R, int ldr, int relu6)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const int8_t *Ph = Bh + (long)n0 * K, *Pl = Bl + (long)n0 * K;
        for (int m0 = 0; m0 < M; m0 += MR2) {
            const int mr = M - m0 < MR2 ? M - m0 : MR2;
            const float *Rm = R ? R + (long)m0 * ldr + n0 : NULL;
            const uint8_t *Am = A + (long)m0 * lda;
            float *Cm = C + (long)m0 * ldc + n0;
            if (w == 32)
                t32w(mr, K, Am, lda, Ph, Pl, scale + n0, bias + n0, Cm, ldc, Rm, ldr, relu6);
            else
                t16w(mr, K, Am, lda, Ph, Pl, scale + n0, bias + n0, Cm, ldc, Rm, ldr, relu6);
        }
    }
}

/* ---- the int8 depthwise path (kernels.h, "dw8") ---- */

/* 16 output codes as kernels.h's rule (fma, clamp in float, round half to
 * even: the default MXCSR mode, as lrintf), as int32 lanes. */
static inline __m512i code8(__m512i acc, __m512 mul, __m512 add)
{
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), mul, add);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(255.0f));
    return _mm512_cvtps_epi32(v);
}

/* The same rule for 4 vectors at once, as bytes, with the clamp left to
 * the saturating packs: for |v| < 2^31, which net.c's quant_dw makes sure
 * of for every channel (kernels.h, "dw8"), cvtps2dq gives round(v)
 * exactly, and vpackssdw (int32 -> int16) then vpackuswb (int16 ->
 * uint8) saturate it to clamp(round(v), 0, 255) (Intel SDM, PACKSSDW /
 * PACKUSWB) = round(clamp(v, 0, 255)), code8's code: clamping to integer
 * bounds commutes with rounding. Per 4 x 16 codes: 3 packs instead of
 * 4 max, 4 min and 4 two-uop vpmovdb. Byte 16 l + 4 j + i of the result
 * is vector j's code of channel 4 l + i (the packs work within 128-bit
 * lanes). */
static inline __m512i code8x4(__m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512 mul,
                              __m512 add)
{
#define ORDO_CV(a) _mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_cvtepi32_ps(a), mul, add))
    const __m512i w01 = _mm512_packs_epi32(ORDO_CV(a0), ORDO_CV(a1));
    const __m512i w23 = _mm512_packs_epi32(ORDO_CV(a2), ORDO_CV(a3));
#undef ORDO_CV
    return _mm512_packus_epi16(w01, w23);
}

/* Tiles of the quad-layout GEMM start at a quad boundary of one row
 * (x = 0, 12, 24...), so pixel i of a tile is byte i % 4 of quad i / 4:
 * four pixels' codes are shifted into one register and stored whole
 * (a partial last quad of the row gets zeros in its empty slots, as the
 * layout wants). */
INL __m512i quad4(const int n, const __m512i *c, __m512 mul, __m512 add)
{
    /* code8x4 leaves pixel j's code of channel 4 l + i at byte
     * 16 l + 4 j + i; the quad layout wants it at 16 l + 4 i + j: a 4 x 4
     * byte transpose within each 16-byte lane (one vpshufb). Pixels past
     * n are zero vectors, whose codes are the zero padding the layout
     * wants (acc 0 would give clamp(round(add)) instead). */
    const __m512i z = _mm512_setzero_si512();
    const __m512i t = _mm512_set4_epi32(0x0f0b0703, 0x0e0a0602, 0x0d090501, 0x0c080400);
    __m512i u = code8x4(c[0], n > 1 ? c[1] : z, n > 2 ? c[2] : z, n > 3 ? c[3] : z, mul, add);
    u = _mm512_shuffle_epi8(u, t);
    if (n < 4) u = _mm512_and_si512(u, _mm512_set1_epi32((int)(0xffffffffu >> (32 - 8 * n))));
    return u;
}

/* A tile's mr pixels x 16 channels (sums c, channels' mul and add) as
 * codes into the quads at dst (qb bytes a quad), four pixels a store. */
INL void store_quads(const int mr, const __m512i *c, const float *mul, const float *add,
                     uint8_t *dst, long qb)
{
    const __m512 m = _mm512_loadu_ps(mul), a = _mm512_loadu_ps(add);
#pragma GCC unroll 3
    for (int q = 0; q < (mr + 3) / 4; q++) {
        const int n = mr - 4 * q < 4 ? mr - 4 * q : 4;
        _mm512_storeu_si512(dst + q * qb, quad4(n, c + 4 * q, m, a));
    }
}

INL void tile32q(const int mr, int K, const uint8_t *A, int lda, const int8_t *B,
                 const float *mul, const float *add, uint8_t *dst, long qb)
{
    __m512i c0[MR], c1[MR];
    acc32(mr, K, A, lda, B, c0, c1);
    store_quads(mr, c0, mul, add, dst, qb);
    store_quads(mr, c1, mul + 16, add + 16, dst + 64, qb);
}

INL void tile16q(const int mr, int K, const uint8_t *A, int lda, const int8_t *B,
                 const float *mul, const float *add, uint8_t *dst, long qb)
{
    __m512i c0[MR];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) c0[i] = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 4) {
        const __m512i w0 = _mm512_loadu_si512(B + (long)k * 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++)
            c0[i] = dpbusd(c0[i], bcast4(A + (long)i * lda + k), w0);
    }
    store_quads(mr, c0, mul, add, dst, qb);
}

#define TILE_CASESQ(fn)                                                     \
    switch (mr) {                                                           \
    case 12: fn(12, K, A, lda, B, mul, add, dst, qb); break;                \
    case 11: fn(11, K, A, lda, B, mul, add, dst, qb); break;                \
    case 10: fn(10, K, A, lda, B, mul, add, dst, qb); break;                \
    case 9: fn(9, K, A, lda, B, mul, add, dst, qb); break;                  \
    case 8: fn(8, K, A, lda, B, mul, add, dst, qb); break;                  \
    case 7: fn(7, K, A, lda, B, mul, add, dst, qb); break;                  \
    case 6: fn(6, K, A, lda, B, mul, add, dst, qb); break;                  \
    case 5: fn(5, K, A, lda, B, mul, add, dst, qb); break;                  \
    case 4: fn(4, K, A, lda, B, mul, add, dst, qb); break;                  \
    case 3: fn(3, K, A, lda, B, mul, add, dst, qb); break;                  \
    case 2: fn(2, K, A, lda, B, mul, add, dst, qb); break;                  \
    default: fn(1, K, A, lda, B, mul, add, dst, qb); break;                 \
    }

static void t32q(int mr, int K, const uint8_t *A, int lda, const int8_t *B, const float *mul,
                 const float *add, uint8_t *dst, long qb)
{
    TILE_CASESQ(tile32q)
}

static void t16q(int mr, int K, const uint8_t *A, int lda, const int8_t *B, const float *mul,
                 const float *add, uint8_t *dst, long qb)
{
    TILE_CASESQ(tile16q)
}

/* As gemm8, in tiles that never cross a row (M is a whole number of rows
 * here: an expand layer's run of input rows). */
static void gemm8q(int M, int N, int K, const uint8_t *A, int lda, const int8_t *B,
                   const float *mul, const float *add, uint8_t *C, int W, long row_bytes)
{
    const long qb = 4L * N;
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const int8_t *Bp = B + (long)n0 * K;
        for (int r = 0; r < M / W; r++)
            for (int x0 = 0; x0 < W;) {
                /* Tiles start at quads, so all but a row's last tile are
                 * multiples of 4 pixels: 12, and where that would leave a
                 * last tile of 1-7 (W % 12 < 8), the last 12 + W % 12 as 8
                 * and 4 + W % 12: a tile of few pixels has too few
                 * independent vpdpbusd chains to hide its latency (W = 14:
                 * 8 + 6 instead of 12 + 2). */
                const int left = W - x0, tail = W % MR;
                const int mr = left <= MR ? left
                             : left < 2 * MR && tail > 0 && tail < 8 ? 8 : MR;
                const uint8_t *Am = A + ((long)r * W + x0) * lda;
                uint8_t *dst = C + (long)r * row_bytes + (long)(x0 + 4) / 4 * qb + 4L * n0;
                if (w == 32)
                    t32q(mr, K, Am, lda, Bp, mul + n0, add + n0, dst, qb);
                else
                    t16q(mr, K, Am, lda, Bp, mul + n0, add + n0, dst, qb);
                x0 += mr;
            }
    }
}

/* nx outputs from x on (x a multiple of 4, so output j's first tap sits
 * at lane byte (a0 + j s) % 4 of quad q0 + (a0 + j s) / 4; see dw8_t). The
 * ky loop is outside the j loop so that outputs j and j + 4 / s, which
 * use the same weight vectors, share their loads (for k = 5 the 40 weight
 * vectors of a channel group do not fit the 32 registers). split: the
 * second quad's products go to a second int32 chain per output (short
 * chains hide vpdpbusd's latency when nx is 4); int32 sums are exact in
 * any order. */
INL void dw8_blk(const int k, const int s, const int a0, const int nx, const int split,
                 const uint8_t *const *r, long q0, long qb, const int8_t *wg, __m512 vm,
                 __m512 va, uint8_t *o, long C)
{
    __m512i acc[16], acc2[16];
#pragma GCC unroll 16
    for (int j = 0; j < nx; j++) acc[j] = acc2[j] = _mm512_setzero_si512();
#pragma GCC unroll 5
    for (int ky = 0; ky < k; ky++)
#pragma GCC unroll 16
        for (int j = 0; j < nx; j++) {
            const int aj = (a0 + j * s) & 3, qj = (a0 + j * s) >> 2;
            const uint8_t *in = r[ky] + q0 + qj * qb;
            const int8_t *wt = wg + (ky * 4 + aj) * 128;
            acc[j] = dpbusd(acc[j], _mm512_loadu_si512(in), _mm512_loadu_si512(wt));
            if (aj + k > 4 && split)
                acc2[j] = dpbusd(acc2[j], _mm512_loadu_si512(in + qb), _mm512_loadu_si512(wt + 64));
            else if (aj + k > 4)
                acc[j] = dpbusd(acc[j], _mm512_loadu_si512(in + qb), _mm512_loadu_si512(wt + 64));
        }
    if (nx < 4) {   /* a row's last 1-3 outputs: one vector each */
#pragma GCC unroll 3
        for (int j = 0; j < nx; j++) {
            if (split && ((a0 + j * s) & 3) + k > 4) acc[j] = _mm512_add_epi32(acc[j], acc2[j]);
            _mm_storeu_si128((__m128i *)(o + j * C), _mm512_cvtepi32_epi8(code8(acc[j], vm, va)));
        }
        return;
    }
    /* Pixel j's 16 codes are dwords 4 l + j of code8x4's result (l =
     * 0..3); one vpermd gathers them into 128-bit lane j. */
    const __m512i tr = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
#pragma GCC unroll 4
    for (int j0 = 0; j0 < nx; j0 += 4) {
#pragma GCC unroll 4
        for (int j = j0; j < j0 + 4; j++)
            if (split && ((a0 + j * s) & 3) + k > 4) acc[j] = _mm512_add_epi32(acc[j], acc2[j]);
        const __m512i u = _mm512_permutexvar_epi32(
            tr, code8x4(acc[j0], acc[j0 + 1], acc[j0 + 2], acc[j0 + 3], vm, va));
        _mm_storeu_si128((__m128i *)(o + j0 * C), _mm512_castsi512_si128(u));
        _mm_storeu_si128((__m128i *)(o + (j0 + 1) * C), _mm512_extracti32x4_epi32(u, 1));
        _mm_storeu_si128((__m128i *)(o + (j0 + 2) * C), _mm512_extracti32x4_epi32(u, 2));
        _mm_storeu_si128((__m128i *)(o + (j0 + 3) * C), _mm512_extracti32x4_epi32(u, 3));
    }
}

/* Depthwise row for a compile-time kernel size k, stride s and a0, the
 * lane byte of output 0's first tap (slot 4 - pl), 16 channels at a time,
 * NX outputs interleaved (independent vpdpbusd chains hide its latency).
 * Output x + j (x a multiple of 4) has its first tap in quad
 * (4 x s + 4 - pl + j s) / 4 = q0 + (a0 + j s) / 4 at byte (a0 + j s) % 4,
 * so every block of outputs uses the same weight vectors (kept in
 * registers where they fit) and the same quad offsets from q0 (loads the
 * compiler can share between the outputs). */
INL void dw8_t(const int k, const int s, const int a0, int pl, int Wout, int C,
               const uint8_t *const *rows, const int8_t *w, const float *mul, const float *add,
               uint8_t *out)
{
    const long qb = 4L * C;
    for (int g = 0; g < C / 16; g++) {
        const int8_t *wg = w + (long)g * k * 512;
        const __m512 vm = _mm512_loadu_ps(mul + 16 * g), va = _mm512_loadu_ps(add + 16 * g);
        const uint8_t *r[5];
#pragma GCC unroll 5
        for (int ky = 0; ky < k; ky++) r[ky] = rows[ky] + 64L * g;
        uint8_t *o = out + 16L * g;
        int x = 0;
        for (; x + DW8_NX <= Wout; x += DW8_NX)
            dw8_blk(k, s, a0, DW8_NX, 0, r, (long)((x * s + 4 - pl) >> 2) * qb, qb, wg, vm, va,
                    o + (long)x * C, C);
        for (; x + 4 <= Wout; x += 4)
            dw8_blk(k, s, a0, 4, 1, r, (long)((x * s + 4 - pl) >> 2) * qb, qb, wg, vm, va,
                    o + (long)x * C, C);
        /* the last 1-3 outputs as one block with two chains each rather
         * than one output at a time, a single chain of up to 10 dependent
         * vpdpbusd (k = 5): measured -4 to -11 % on 14-output rows */
        const long qr = (long)((x * s + 4 - pl) >> 2) * qb;
        if (Wout - x == 3) dw8_blk(k, s, a0, 3, 1, r, qr, qb, wg, vm, va, o + (long)x * C, C);
        else if (Wout - x == 2) dw8_blk(k, s, a0, 2, 1, r, qr, qb, wg, vm, va, o + (long)x * C, C);
        else if (Wout - x == 1) dw8_blk(k, s, a0, 1, 1, r, qr, qb, wg, vm, va, o + (long)x * C, C);
    }
}

#define DW8_A(k, s)                                                                         \
    switch ((4 - pl) & 3) {                                                                 \
    case 0: dw8_t(k, s, 0, pl, Wout, C, rows, w, mul, add, out); break;                     \
    case 1: dw8_t(k, s, 1, pl, Wout, C, rows, w, mul, add, out); break;                     \
    case 2: dw8_t(k, s, 2, pl, Wout, C, rows, w, mul, add, out); break;                     \
    default: dw8_t(k, s, 3, pl, Wout, C, rows, w, mul, add, out); break;                    \
    }

/* The network's kernel sizes and strides (3 or 5, 1 or 2); pl is 0 to 2. */
static void dw8(int k, int s, int pl, int Wout, int C, const uint8_t *const *rows,
                const int8_t *w, const float *mul, const float *add, uint8_t *out)
{
    if (k == 3 && s == 1) DW8_A(3, 1)
    else if (k == 3) DW8_A(3, 2)
    else if (s == 1) DW8_A(5, 1)
    else DW8_A(5, 2)
}

/* ---- the int8 stem's GEMM: 16-bit weights, quad-layout codes (kernels.h
 * gemmw16q) ----
 * One accumulator per output, as tile32q: the high digits' sums first,
 * shifted left by 8 (times 256: exact, the sums stay below 2^31), then the
 * low digits' added on. Tiles start at a quad boundary of one row, as
 * gemm8q's. */
INL void tilewq(const int mr, const int nw, int K, const uint8_t *A, int lda, const int8_t *Bh,
                const int8_t *Bl, const float *mul, const float *add, uint8_t *dst, long qb)
{
    __m512i c[2][MR];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) c[0][i] = c[1][i] = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int d = 0; d < 2; d++) {
        const int8_t *B = d ? Bl : Bh;
        if (d) {
#pragma GCC unroll 12
            for (int i = 0; i < mr; i++) {
                c[0][i] = _mm512_slli_epi32(c[0][i], 8);
                if (nw == 2) c[1][i] = _mm512_slli_epi32(c[1][i], 8);
            }
        }
        for (int k = 0; k < K; k += 4) {
            const __m512i w0 = _mm512_loadu_si512(B + (long)k * 16 * nw);
            const __m512i w1 = nw == 2 ? _mm512_loadu_si512(B + (long)k * 32 + 64) : w0;
#pragma GCC unroll 12
            for (int i = 0; i < mr; i++) {
                const __m512i a = bcast4(A + (long)i * lda + k);
                c[0][i] = dpbusd(c[0][i], a, w0);
                if (nw == 2) c[1][i] = dpbusd(c[1][i], a, w1);
            }
        }
    }
#pragma GCC unroll 2
    for (int j = 0; j < nw; j++) store_quads(mr, c[j], mul + 16 * j, add + 16 * j, dst + 64 * j, qb);
}

#define TILE_CASESWQ(nw)                                                          \
    switch (mr) {                                                                 \
    case 12: tilewq(12, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;         \
    case 11: tilewq(11, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;         \
    case 10: tilewq(10, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;         \
    case 9: tilewq(9, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;           \
    case 8: tilewq(8, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;           \
    case 7: tilewq(7, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;           \
    case 6: tilewq(6, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;           \
    case 5: tilewq(5, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;           \
    case 4: tilewq(4, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;           \
    case 3: tilewq(3, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;           \
    case 2: tilewq(2, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;           \
    default: tilewq(1, nw, K, A, lda, Bh, Bl, mul, add, dst, qb); break;          \
    }

static void t32wq(int mr, int K, const uint8_t *A, int lda, const int8_t *Bh, const int8_t *Bl,
                  const float *mul, const float *add, uint8_t *dst, long qb)
{
    TILE_CASESWQ(2)
}

static void t16wq(int mr, int K, const uint8_t *A, int lda, const int8_t *Bh, const int8_t *Bl,
                  const float *mul, const float *add, uint8_t *dst, long qb)
{
    TILE_CASESWQ(1)
}

static void gemmw16q(int M, int N, int K, const uint8_t *A, int lda, const int8_t *Bh,
                     const int8_t *Bl, const float *mul, const float *add, uint8_t *C, int W,
                     long row_bytes)
{
    const long qb = 4L * N;
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const int8_t *Ph = Bh + (long)n0 * K, *Pl = Bl + (long)n0 * K;
        for (int r = 0; r < M / W; r++)
            for (int x0 = 0; x0 < W; x0 += MR) {
                const int mr = W - x0 < MR ? W - x0 : MR;
                const uint8_t *Am = A + ((long)r * W + x0) * lda;
                uint8_t *dst = C + (long)r * row_bytes + (long)(x0 + 4) / 4 * qb + 4L * n0;
                if (w == 32)
                    t32wq(mr, K, Am, lda, Ph, Pl, mul + n0, add + n0, dst, qb);
                else
                    t16wq(mr, K, Am, lda, Ph, Pl, mul + n0, add + n0, dst, qb);
            }
    }
}

const ordo_net_kernels8 ordo_net_kernels8_vnni = { "avx512vnni", gemm8, quant, gemm16, quant16,
                                                   gemmw16, gemm8q, dw8, gemmw16q };
#endif
