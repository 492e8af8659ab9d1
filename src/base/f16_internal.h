/* f16_internal.h - the F16C kernels of f16.c (f16_avx2.c), not public. */
#ifndef ORDO_F16_INTERNAL_H
#define ORDO_F16_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

void ordo_f16_from_f32_f16c(const float *in, uint16_t *out, size_t n);
void ordo_f16_to_f32_f16c(const uint16_t *in, float *out, size_t n);

#endif
