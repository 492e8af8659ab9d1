/* net_avx2.c - AVX2+FMA kernels of the network (see kernels.h). Compiled
 * with -mavx2 -mfma; called only after a run-time CPU check. */
#ifndef ORDO_NO_SIMD
#include <immintrin.h>

#include "nn/kernels.h"

#define INL static inline __attribute__((always_inline))
#define MR 6    /* 6 pixels x 16 channels = 12 of the 16 ymm registers */

static inline __m256 relu6(__m256 v)
{
    return _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(6.0f));
}

/* mr x 16 tile of a panel whose rows are `bw` floats wide. */
INL void tile(const int mr, int K, const float *A, int lda, const float *B,
              int bw, const float *bias, float *C, int ldc, const float *R,
              int ldr, int relu)
{
    __m256 c0[MR], c1[MR];
    const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) { c0[i] = b0; c1[i] = b1; }
    for (int k = 0; k < K; k++) {
        const __m256 w0 = _mm256_loadu_ps(B + (long)k * bw);
        const __m256 w1 = _mm256_loadu_ps(B + (long)k * bw + 8);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            const __m256 a = _mm256_broadcast_ss(A + (long)i * lda + k);
            c0[i] = _mm256_fmadd_ps(a, w0, c0[i]);
            c1[i] = _mm256_fmadd_ps(a, w1, c1[i]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        __m256 v0 = c0[i], v1 = c1[i];
        if (relu) { v0 = relu6(v0); v1 = relu6(v1); }
        if (R) {
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(R + (long)i * ldr));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(R + (long)i * ldr + 8));
        }
        _mm256_storeu_ps(C + (long)i * ldc, v0);
        _mm256_storeu_ps(C + (long)i * ldc + 8, v1);
    }
}

static void t16(int mr, int K, const float *A, int lda, const float *B, int bw,
                const float *bias, float *C, int ldc, const float *R, int ldr,
                int relu)
{
    switch (mr) {
    case 6: tile(6, K, A, lda, B, bw, bias, C, ldc, R, ldr, relu); break;
    case 5: tile(5, K, A, lda, B, bw, bias, C, ldc, R, ldr, relu); break;
    case 4: tile(4, K, A, lda, B, bw, bias, C, ldc, R, ldr, relu); break;
    case 3: tile(3, K, A, lda, B, bw, bias, C, ldc, R, ldr, relu); break;
    case 2: tile(2, K, A, lda, B, bw, bias, C, ldc, R, ldr, relu); break;
    default: tile(1, K, A, lda, B, bw, bias, C, ldc, R, ldr, relu); break;
    }
}

static void gemm(int M, int N, int K, const float *A, int lda, const float *B,
                 const float *bias, float *C, int ldc, const float *R, int ldr,
                 int relu6)
{
    for (int n0 = 0; n0 < N; n0 += ORDO_NET_PANEL) {
        const int w = N - n0 >= ORDO_NET_PANEL ? ORDO_NET_PANEL : 16;
        const float *Bp = B + (long)n0 * K;
        for (int m0 = 0; m0 < M; m0 += MR) {
            const int mr = M - m0 < MR ? M - m0 : MR;
            for (int h = 0; h < w; h += 16) {
                const float *Rm = R ? R + (long)m0 * ldr + n0 + h : 0;
                t16(mr, K, A + (long)m0 * lda, lda, Bp + h, w, bias + n0 + h,
                    C + (long)m0 * ldc + n0 + h, ldc, Rm, ldr, relu6);
            }
        }
    }
}

INL void dw_t(const int k, const int s, int Win, int pl, int Wout, int C,
              const float *const *rows, const float *w, const float *bias,
              float *out)
{
    int lo, hi;
    ordo_net_dw_interior(k, s, Win, pl, Wout, &lo, &hi);
    for (int c0 = 0; c0 < C; c0 += 8) {
        const __m256 bv = _mm256_loadu_ps(bias + c0);
        const float *r[5];
#pragma GCC unroll 5
        for (int ky = 0; ky < k; ky++) r[ky] = rows[ky] + c0;
        /* Border columns: taps outside the row are the zero padding. */
        for (int x = 0; x < Wout; x++) {
            if (x == lo) x = hi;
            if (x >= Wout) break;
            __m256 a0 = bv;
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    const int ix = x * s - pl + kx;
                    if (ix < 0 || ix >= Win) continue;
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r[ky] + (long)ix * C),
                                         _mm256_loadu_ps(w + (long)(ky * k + kx) * C + c0), a0);
                }
            _mm256_storeu_ps(out + (long)x * C + c0, relu6(a0));
        }
        int x = lo;
        for (; x + 4 <= hi; x += 4) {
            __m256 a0 = bv, a1 = bv, a2 = bv, a3 = bv;
#pragma GCC unroll 5
            for (int ky = 0; ky < k; ky++) {
                const float *p = r[ky] + (long)(x * s - pl) * C;
#pragma GCC unroll 5
                for (int kx = 0; kx < k; kx++) {
                    const __m256 wt = _mm256_loadu_ps(w + (long)(ky * k + kx) * C + c0);
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p + (long)kx * C), wt, a0);
                    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + (long)(s + kx) * C), wt, a1);
                    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(p + (long)(2 * s + kx) * C), wt, a2);
                    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(p + (long)(3 * s + kx) * C), wt, a3);
                }
            }
            float *o = out + (long)x * C + c0;
            _mm256_storeu_ps(o, relu6(a0));
            _mm256_storeu_ps(o + C, relu6(a1));
            _mm256_storeu_ps(o + 2L * C, relu6(a2));
            _mm256_storeu_ps(o + 3L * C, relu6(a3));
        }
        for (; x < hi; x++) {
            __m256 a0 = bv;
#pragma GCC unroll 5
            for (int ky = 0; ky < k; ky++) {
                const float *p = r[ky] + (long)(x * s - pl) * C;
#pragma GCC unroll 5
                for (int kx = 0; kx < k; kx++)
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p + (long)kx * C),
                                         _mm256_loadu_ps(w + (long)(ky * k + kx) * C + c0), a0);
            }
            _mm256_storeu_ps(out + (long)x * C + c0, relu6(a0));
        }
    }
}

static void dw(int k, int s, int Win, int pl, int Wout, int C,
               const float *const *rows, const float *w, const float *bias,
               float *out)
{
    if (k == 3 && s == 1) dw_t(3, 1, Win, pl, Wout, C, rows, w, bias, out);
    else if (k == 3) dw_t(3, 2, Win, pl, Wout, C, rows, w, bias, out);
    else if (s == 1) dw_t(5, 1, Win, pl, Wout, C, rows, w, bias, out);
    else dw_t(5, 2, Win, pl, Wout, C, rows, w, bias, out);
}

const ordo_net_kernels ordo_net_kernels_avx2 = { "avx2", gemm, dw, NULL };
#endif
