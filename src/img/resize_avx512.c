/* resize_avx512.c - AVX-512 inner loops of the bicubic resize (see
 * resize_internal.h). Same int32 arithmetic as the portable loops, 16 lanes
 * at a time, so the results are identical to the bit. */
#ifndef ORDO_NO_SIMD
#include "img/resize_internal.h"

#include <immintrin.h>

#define HALF (1 << (ORDO_RESIZE_PREC - 1))

/* pshufb control for tap t of a 16-byte window that starts at the output's
 * first pixel of this window: dword c (c < 3) gets byte 3t + c zero-extended,
 * the pad dword gets 0. The same in every 128-bit lane (one output each). */
static __m512i tap_index(int t)
{
    return _mm512_set4_epi32((int)0x80808080, (int)(0x80808000u | (unsigned)(3 * t + 2)),
                             (int)(0x80808000u | (unsigned)(3 * t + 1)),
                             (int)(0x80808000u | (unsigned)(3 * t)));
}

void ordo_resize_hrow_avx512(const unsigned char *src, unsigned char *dst,
                             const ordo_resize_hplan *p)
{
    const __m512i idx[5] = {tap_index(0), tap_index(1), tap_index(2), tap_index(3), tap_index(4)};
    /* bytes 0, 4, 8 of each RGBX dword group -> 12 packed RGB bytes */
    const __m128i pack = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    const __m512i zero = _mm512_setzero_si512();
    int groups = p->n / 4;
    for (int g = 0; g < groups; g++) {
        int taps = p->gtaps[g];
        if (!taps) continue;
        const int *f = p->first + 4 * g;
        const int32_t *k = p->tab + (size_t)g * p->ksize * 16;
        __m512i acc = _mm512_set1_epi32(HALF);
        for (int w = 0; w * 5 < taps; w++) {
            /* one 16-byte window per output, covering its taps 5w .. 5w+4 */
            __m512i win = _mm512_castsi128_si512(
                _mm_loadu_si128((const __m128i *)(src + 3 * (f[0] + 5 * w))));
            win = _mm512_inserti32x4(win, _mm_loadu_si128((const __m128i *)(src + 3 * (f[1] + 5 * w))), 1);
            win = _mm512_inserti32x4(win, _mm_loadu_si128((const __m128i *)(src + 3 * (f[2] + 5 * w))), 2);
            win = _mm512_inserti32x4(win, _mm_loadu_si128((const __m128i *)(src + 3 * (f[3] + 5 * w))), 3);
            int nt = taps - 5 * w < 5 ? taps - 5 * w : 5;
            for (int t = 0; t < nt; t++) {
                __m512i px = _mm512_shuffle_epi8(win, idx[t]);
                __m512i kk = _mm512_loadu_si512(k + (5 * w + t) * 16);
                acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(px, kk));
            }
        }
        acc = _mm512_max_epi32(_mm512_srai_epi32(acc, ORDO_RESIZE_PREC), zero);
        __m128i b = _mm512_cvtusepi32_epi8(acc);  /* unsigned saturation: > 255 -> 255 */
        _mm_mask_storeu_epi8(dst + 12 * g, 0x0fff, _mm_shuffle_epi8(b, pack));
    }
}

static inline __m512 finish(__m512i acc)
{
    const __m512 scale = _mm512_set1_ps(1.0f / 128.0f), off = _mm512_set1_ps(-127.0f / 128.0f);
    acc = _mm512_srai_epi32(acc, ORDO_RESIZE_PREC);
    acc = _mm512_min_epi32(_mm512_max_epi32(acc, _mm512_setzero_si512()), _mm512_set1_epi32(255));
    /* v / 128 - 127 / 128 is exact in float for v in 0..255, so the fused
     * multiply-add equals (v - 127) / 128 to the bit */
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), scale, off);
}

void ordo_resize_vrow_avx512(const unsigned char *base, size_t pitch, int taps,
                             const int32_t *k, int n, float *out)
{
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512i a0 = _mm512_set1_epi32(HALF), a1 = a0;
        for (int j = 0; j < taps; j++) {
            const unsigned char *r = base + (size_t)j * pitch + i;
            __m512i kj = _mm512_set1_epi32(k[j]);
            a0 = _mm512_add_epi32(a0, _mm512_mullo_epi32(
                     _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)r)), kj));
            a1 = _mm512_add_epi32(a1, _mm512_mullo_epi32(
                     _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(r + 16))), kj));
        }
        _mm512_storeu_ps(out + i, finish(a0));
        _mm512_storeu_ps(out + i + 16, finish(a1));
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512i a = _mm512_set1_epi32(HALF);
        for (int j = 0; j < taps; j++) {
            __m128i v = _mm_maskz_loadu_epi8(m, base + (size_t)j * pitch + i);
            a = _mm512_add_epi32(a, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(v),
                                                       _mm512_set1_epi32(k[j])));
        }
        _mm512_mask_storeu_ps(out + i, m, finish(a));
    }
}
#endif
