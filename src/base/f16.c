/* f16.c - IEEE 754 binary16 <-> binary32, round to nearest even (the
 * conversion F16C does), with the F16C path chosen at run time. */
#include "base/f16.h"

#include <string.h>

#include "base/f16_internal.h"

static uint16_t one_from_f32(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)                       /* inf, nan (kept quiet) */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
    if (ax >= 0x477ff000u)                       /* rounds past 65504 */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) {                      /* below 2^-14: subnormal */
        if (ax < 0x33000000u)                    /* below 2^-25: zero */
            return (uint16_t)sign;
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(ax >> 23);       /* 14 .. 24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = (ax - 0x38000000u) >> 13, rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1)))
        r++;                                     /* may carry into the exponent: correct */
    return (uint16_t)(sign | r);
}

static float one_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        if (!m) {
            x = sign;
        } else {                                 /* subnormal: normalise */
            e = 113;
            while (!(m & 0x400u)) { m <<= 1; e--; }
            x = sign | (e << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) {
        x = sign | 0x7f800000u | (m << 13);
    } else {
        x = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* F16C (with AVX2) converts 8 values per instruction; the portable code is
 * a third of the store's write cost without it. Both round the same way. */

/* F16C (with AVX2) converts 8 values per instruction; the portable code is
 * a third of the store's write cost without it. Both round the same way. */
#ifndef ORDO_NO_SIMD
static int have_f16c(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}
#endif

void ordo_f16_from_f32(const float *in, uint16_t *out, size_t n)
{
#ifndef ORDO_NO_SIMD
    if (have_f16c()) {
        ordo_f16_from_f32_f16c(in, out, n);
        return;
    }
#endif
    ordo_f16_from_f32_portable(in, out, n);
}

void ordo_f16_to_f32(const uint16_t *in, float *out, size_t n)
{
#ifndef ORDO_NO_SIMD
    if (have_f16c()) {
        ordo_f16_to_f32_f16c(in, out, n);
        return;
    }
#endif
    ordo_f16_to_f32_portable(in, out, n);
}

void ordo_f16_from_f32_portable(const float *in, uint16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = one_from_f32(in[i]);
}

void ordo_f16_to_f32_portable(const uint16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = one_to_f32(in[i]);
}
