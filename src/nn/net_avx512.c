/* net_avx512.c - AVX-512 kernels of the network (see kernels.h). Compiled
 * with -mavx512f...; called only after a run-time CPU check. */
#ifndef ORDO_NO_SIMD
#include <immintrin.h>

#include "nn/kernels.h"

#define INL static inline __attribute__((always_inline))
#define MR 12   /* pixels per micro-tile: 12 x 32 channels = 24 accumulators */
#ifndef XB5
#define XB5 4
#endif
#ifndef KC
#define KC 256  /* K chunk: 256 x 32 weights = 32 KiB, within L1 */
#endif

static inline __m512 relu6(__m512 v)
{
    return _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(6.0f));
}

/* One mr x 32 tile (mr a compile-time constant after inlining, so the
 * accumulator arrays live in registers). */
INL void tile32(const int mr, int K, const float *A, int lda, const float *B,
                const float *bias, float *C, int ldc, const float *R, int ldr,
                int relu, int first, int last)
{
    __m512 c0[MR], c1[MR];
    if (first) {
        const __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) { c0[i] = b0; c1[i] = b1; }
    } else {
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            c0[i] = _mm512_loadu_ps(C + (long)i * ldc);
            c1[i] = _mm512_loadu_ps(C + (long)i * ldc + 16);
        }
    }
    for (int k = 0; k < K; k++) {
        const __m512 w0 = _mm512_loadu_ps(B + (long)k * 32);
        const __m512 w1 = _mm512_loadu_ps(B + (long)k * 32 + 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            const __m512 a = _mm512_set1_ps(A[(long)i * lda + k]);
            c0[i] = _mm512_fmadd_ps(a, w0, c0[i]);
            c1[i] = _mm512_fmadd_ps(a, w1, c1[i]);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        __m512 v0 = c0[i], v1 = c1[i];
        if (relu && last) { v0 = relu6(v0); v1 = relu6(v1); }
        if (R && last) {
            v0 = _mm512_add_ps(v0, _mm512_loadu_ps(R + (long)i * ldr));
            v1 = _mm512_add_ps(v1, _mm512_loadu_ps(R + (long)i * ldr + 16));
        }
        _mm512_storeu_ps(C + (long)i * ldc, v0);
        _mm512_storeu_ps(C + (long)i * ldc + 16, v1);
    }
}

/* One mr x 16 tile, for the last panel when N % 32 == 16. */
INL void tile16(const int mr, int K, const float *A, int lda, const float *B,
                const float *bias, float *C, int ldc, const float *R, int ldr,
                int relu, int first, int last)
{
    __m512 c0[MR];
    const __m512 b0 = _mm512_loadu_ps(bias);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) c0[i] = first ? b0 : _mm512_loadu_ps(C + (long)i * ldc);
    for (int k = 0; k < K; k++) {
        const __m512 w0 = _mm512_loadu_ps(B + (long)k * 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++)
            c0[i] = _mm512_fmadd_ps(_mm512_set1_ps(A[(long)i * lda + k]), w0, c0[i]);
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        __m512 v0 = c0[i];
        if (relu && last) v0 = relu6(v0);
        if (R && last) v0 = _mm512_add_ps(v0, _mm512_loadu_ps(R + (long)i * ldr));
        _mm512_storeu_ps(C + (long)i * ldc, v0);
    }
}

#define TILE_CASES(fn)                                                        \
    switch (mr) {                                                             \
    case 12: fn(12, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;         \
    case 11: fn(11, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;         \
    case 10: fn(10, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;         \
    case 9: fn(9, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;           \
    case 8: fn(8, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;           \
    case 7: fn(7, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;           \
    case 6: fn(6, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;           \
    case 5: fn(5, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;           \
    case 4: fn(4, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;           \
    case 3: fn(3, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;           \
    case 2: fn(2, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;           \
    default: fn(1, K, A, lda, B, bias, C, ldc, R, ldr, relu, first, last); break;          \
    }

static void t32(int mr, int K, const float *A, int lda, const float *B,
                const float *bias, float *C, int ldc, const float *R, int ldr,
                int relu, int first, int last)
{
    TILE_CASES(tile32)
}

static void t16(int mr, int K, const float *A, int lda, const float *B,
                const float *bias, float *C, int ldc, const float *R, int ldr,
                int relu, int first, int last)
{
    TILE_CASES(tile16)
}

/* K is cut into chunks of KC so that a chunk of the weight panel (KC x 32
 * floats) stays in L1 while every pixel tile streams past it; partial sums
 * go through C, and the activation and residual apply after the last chunk. */
static void gemm(int M, int N, int K, const float *A, int lda, const float *B,
                 const float *bias, float *C, int ldc, const float *R, int ldr,
                 int relu6)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const float *Bp = B + (long)n0 * K;
        for (int k0 = 0; k0 < K; k0 += KC) {
            const int kc = K - k0 < KC ? K - k0 : KC;
            const int first = k0 == 0, last = k0 + kc == K;
            for (int m0 = 0; m0 < M; m0 += MR) {
                const int mr = M - m0 < MR ? M - m0 : MR;
                const float *Rm = R ? R + (long)m0 * ldr + n0 : 0;
                const float *Am = A + (long)m0 * lda + k0;
                float *Cm = C + (long)m0 * ldc + n0;
                if (w == 32)
                    t32(mr, kc, Am, lda, Bp + (long)k0 * 32, bias + n0, Cm, ldc, Rm, ldr,
                        relu6, first, last);
                else
                    t16(mr, kc, Am, lda, Bp + (long)k0 * 16, bias + n0, Cm, ldc, Rm, ldr,
                        relu6, first, last);
            }
        }
    }
}

/* xb depthwise outputs from column x on, for one 16-channel slice: each
 * input pixel is loaded once and feeds every output of the block that uses
 * it (output j, tap kx = m - j*s). */
/* Stores the ReLU6 of 16 depthwise sums at element i of o: floats, or
 * (q: the int8 network's fused quantizer) bytes round(v * qv) clamped to
 * [0, 255], the rule of kernels.h's quantizer with zero point 0. */
INL void dw_put(const int q, void *o, long i, __m512 v, __m512 qv)
{
    v = relu6(v);
    if (!q) {
        _mm512_storeu_ps((float *)o + i, v);
        return;
    }
    v = _mm512_min_ps(_mm512_mul_ps(v, qv), _mm512_set1_ps(255.0f));
    _mm_storeu_si128((__m128i *)((uint8_t *)o + i), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
}

INL void dw_block(const int k, const int s, const int xb, int x, int pl, int C,
                  const float *const *r, const __m512 *wv, __m512 bv, void *out,
                  const int q, __m512 qv)
{
    __m512 acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < xb; j++) acc[j] = bv;
#pragma GCC unroll 5
    for (int ky = 0; ky < k; ky++) {
        const float *q = r[ky] + (long)(x * s - pl) * C;
#pragma GCC unroll 16
        for (int m = 0; m < (xb - 1) * s + k; m++) {
            const __m512 v = _mm512_loadu_ps(q);
            q += C;
            /* Opaque step: stops GCC from keeping one pointer per tap
             * (which spills) instead of one add per load. */
            __asm__("" : "+r"(q));
#pragma GCC unroll 8
            for (int j = 0; j < xb; j++) {
                const int kx = m - j * s;
                if (kx >= 0 && kx < k) acc[j] = _mm512_fmadd_ps(v, wv[ky * k + kx], acc[j]);
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < xb; j++) dw_put(q, out, (long)(x + j) * C, acc[j], qv);
}

/* Depthwise row for a compile-time kernel size and stride: the k*k weight
 * vectors of one 16-channel slice stay in registers while x sweeps the row,
 * xb outputs at a time: independent FMA chains hide the FMA latency (8 for
 * 3x3; 6 for 5x5, where 25 weights + 6 sums fill the 32 registers). */
INL void dw_t(const int k, const int s, int Win, int pl, int Wout, int C,
              const float *const *rows, const float *w, const float *bias,
              void *out, const int q, const float *qinv)
{
    const int xb = k == 3 ? 8 : XB5;
    int lo, hi;
    ordo_net_dw_interior(k, s, Win, pl, Wout, &lo, &hi);
    for (int c0 = 0; c0 < C; c0 += 16) {
        __m512 wv[25];
#pragma GCC unroll 25
        for (int t = 0; t < k * k; t++) wv[t] = _mm512_loadu_ps(w + (long)t * C + c0);
        const __m512 bv = _mm512_loadu_ps(bias + c0);
        const __m512 qv = q ? _mm512_loadu_ps(qinv + c0) : bv;
        void *oc = q ? (void *)((uint8_t *)out + c0) : (void *)((float *)out + c0);
        const float *r[5];
#pragma GCC unroll 5
        for (int ky = 0; ky < k; ky++) r[ky] = rows[ky] + c0;
        /* Border columns: taps outside the row are the zero padding. The
         * tap loops are unrolled so wv[] keeps constant indices (and stays
         * in registers); only the range test runs per tap. */
        for (int x = 0; x < Wout; x++) {
            if (x == lo) x = hi;
            if (x >= Wout) break;
            const int ix0 = x * s - pl;
            __m512 a0 = bv;
#pragma GCC unroll 5
            for (int ky = 0; ky < k; ky++)
#pragma GCC unroll 5
                for (int kx = 0; kx < k; kx++)
                    if (ix0 + kx >= 0 && ix0 + kx < Win)
                        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r[ky] + (long)(ix0 + kx) * C),
                                             wv[ky * k + kx], a0);
            dw_put(q, oc, (long)x * C, a0, qv);
        }
        int x = lo;
        for (; x + xb <= hi; x += xb) dw_block(k, s, xb, x, pl, C, r, wv, bv, oc, q, qv);
        /* interior tail: blocks of 4, 2, 1 (compile-time sizes) */
        if (xb > 4 && hi - x >= 4) { dw_block(k, s, 4, x, pl, C, r, wv, bv, oc, q, qv); x += 4; }
        if (hi - x >= 2) { dw_block(k, s, 2, x, pl, C, r, wv, bv, oc, q, qv); x += 2; }
        if (hi - x >= 1) dw_block(k, s, 1, x, pl, C, r, wv, bv, oc, q, qv);
    }
}

static void dw(int k, int s, int Win, int pl, int Wout, int C,
               const float *const *rows, const float *w, const float *bias,
               float *out)
{
    if (k == 3 && s == 1) dw_t(3, 1, Win, pl, Wout, C, rows, w, bias, out, 0, NULL);
    else if (k == 3) dw_t(3, 2, Win, pl, Wout, C, rows, w, bias, out, 0, NULL);
    else if (s == 1) dw_t(5, 1, Win, pl, Wout, C, rows, w, bias, out, 0, NULL);
    else dw_t(5, 2, Win, pl, Wout, C, rows, w, bias, out, 0, NULL);
}

static void dwq(int k, int s, int Win, int pl, int Wout, int C, const float *const *rows,
                const float *w, const float *bias, const float *qinv, uint8_t *out)
{
    if (k == 3 && s == 1) dw_t(3, 1, Win, pl, Wout, C, rows, w, bias, out, 1, qinv);
    else if (k == 3) dw_t(3, 2, Win, pl, Wout, C, rows, w, bias, out, 1, qinv);
    else if (s == 1) dw_t(5, 1, Win, pl, Wout, C, rows, w, bias, out, 1, qinv);
    else dw_t(5, 2, Win, pl, Wout, C, rows, w, bias, out, 1, qinv);
}

const ordo_net_kernels ordo_net_kernels_avx512 = { "avx512", gemm, dw, dwq };
#endif
