/* resize_avx2.c - AVX2 inner loops of the bicubic resize (see
 * resize_internal.h). Same int32 arithmetic as the portable loops, 8 lanes
 * at a time, so the results are identical to the bit. */
#ifndef ORDO_NO_SIMD
#include "img/resize_internal.h"

#include <immintrin.h>
#include <string.h>

#define HALF (1 << (ORDO_RESIZE_PREC - 1))

/* pshufb control for tap t (see resize_avx512.c), in both 128-bit lanes */
static __m256i tap_index(int t)
{
    __m128i l = _mm_setr_epi32((int)(0x80808000u | (unsigned)(3 * t)),
                               (int)(0x80808000u | (unsigned)(3 * t + 1)),
                               (int)(0x80808000u | (unsigned)(3 * t + 2)), (int)0x80808080);
    return _mm256_broadcastsi128_si256(l);
}

void ordo_resize_hrow_avx2(const unsigned char *src, unsigned char *dst,
                           const ordo_resize_hplan *p)
{
    const __m256i idx[5] = {tap_index(0), tap_index(1), tap_index(2), tap_index(3), tap_index(4)};
    /* bytes 0, 4, 8 of each lane -> its output's 3 RGB bytes */
    const __m256i pack = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(0, 4, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
    const __m256i zero = _mm256_setzero_si256(), max = _mm256_set1_epi32(255);
    int groups = p->n / 2;
    for (int g = 0; g < groups; g++) {
        int taps = p->gtaps[g];
        if (!taps) continue;
        const int *f = p->first + 2 * g;
        const int32_t *k = p->tab + (size_t)g * p->ksize * 8;
        __m256i acc = _mm256_set1_epi32(HALF);
        for (int w = 0; w * 5 < taps; w++) {
            __m256i win = _mm256_inserti128_si256(
                _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(src + 3 * (f[0] + 5 * w)))),
                _mm_loadu_si128((const __m128i *)(src + 3 * (f[1] + 5 * w))), 1);
            int nt = taps - 5 * w < 5 ? taps - 5 * w : 5;
            for (int t = 0; t < nt; t++) {
                __m256i px = _mm256_shuffle_epi8(win, idx[t]);
                __m256i kk = _mm256_loadu_si256((const __m256i *)(k + (5 * w + t) * 8));
                acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(px, kk));
            }
        }
        acc = _mm256_srai_epi32(acc, ORDO_RESIZE_PREC);
        acc = _mm256_min_epi32(_mm256_max_epi32(acc, zero), max);
        acc = _mm256_shuffle_epi8(acc, pack);
        uint32_t lo = (uint32_t)_mm256_extract_epi32(acc, 0), hi = (uint32_t)_mm256_extract_epi32(acc, 4);
        memcpy(dst + 6 * g, &lo, 3);  /* little-endian: the low 3 bytes are R, G, B */
        memcpy(dst + 6 * g + 3, &hi, 3);
    }
}

static inline __m256 finish(__m256i acc)
{
    const __m256 scale = _mm256_set1_ps(1.0f / 128.0f), off = _mm256_set1_ps(-127.0f / 128.0f);
    acc = _mm256_srai_epi32(acc, ORDO_RESIZE_PREC);
    acc = _mm256_min_epi32(_mm256_max_epi32(acc, _mm256_setzero_si256()), _mm256_set1_epi32(255));
    /* exact: see resize_avx512.c */
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), scale, off);
}

void ordo_resize_vrow_avx2(const unsigned char *base, size_t pitch, int taps,
                           const int32_t *k, int n, float *out)
{
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a0 = _mm256_set1_epi32(HALF), a1 = a0;
        for (int j = 0; j < taps; j++) {
            const unsigned char *r = base + (size_t)j * pitch + i;
            __m256i kj = _mm256_set1_epi32(k[j]);
            a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(
                     _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)r)), kj));
            a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(
                     _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(r + 8))), kj));
        }
        _mm256_storeu_ps(out + i, finish(a0));
        _mm256_storeu_ps(out + i + 8, finish(a1));
    }
    if (i < n) ordo_resize_vrow_c(base + i, pitch, taps, k, n - i, out + i);
}
#endif
