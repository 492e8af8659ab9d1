/* store_internal.h - SIMD kernels of the store (f16_avx2.c), not public. */
#ifndef ORDO_STORE_INTERNAL_H
#define ORDO_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

void ordo_store_f32_to_f16_f16c(const float *in, uint16_t *out, size_t n);
void ordo_store_f16_to_f32_f16c(const uint16_t *in, float *out, size_t n);

/* The portable paths, for tests that compare both. */
void ordo_store_f32_to_f16_portable(const float *in, uint16_t *out, size_t n);
void ordo_store_f16_to_f32_portable(const uint16_t *in, float *out, size_t n);

#endif
