/* f16.h - IEEE 754 binary16 <-> binary32 (the store's matrix format).
 *
 * Rounds to nearest even, as the F16C instructions do; with AVX2 + F16C
 * (checked at run time) 8 values convert per instruction, else a portable
 * loop gives the same bits. */
#ifndef ORDO_F16_H
#define ORDO_F16_H

#include <stddef.h>
#include <stdint.h>

void ordo_f16_from_f32(const float *in, uint16_t *out, size_t n);
void ordo_f16_to_f32(const uint16_t *in, float *out, size_t n);

/* The portable paths alone, for tests that compare both. */
void ordo_f16_from_f32_portable(const float *in, uint16_t *out, size_t n);
void ordo_f16_to_f32_portable(const uint16_t *in, float *out, size_t n);

#endif
