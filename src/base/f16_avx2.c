/* f16_avx2.c - float <-> half conversion with the F16C instructions (every
 * AVX2 CPU has them). Called only after f16.c's run-time CPU check; the
 * results are bit-identical to the portable code (round to nearest even). */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "base/f16_internal.h"

__attribute__((target("avx2,f16c")))
void ordo_f16_from_f32_f16c(const float *in, uint16_t *out, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(out + i), h);
    }
    for (; i < n; i++)
        out[i] = (uint16_t)_cvtss_sh(in[i], _MM_FROUND_TO_NEAREST_INT);
}

__attribute__((target("avx2,f16c")))
void ordo_f16_to_f32_f16c(const uint16_t *in, float *out, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
    for (; i < n; i++)
        out[i] = _cvtsh_ss(in[i]);
}
