/* fuzz_npy.c - libFuzzer target for the .npy header parser: the input is
 * one file; a header that parses must describe data that lies inside the
 * buffer, and converting it must either succeed or name a non-finite value.
 *
 *   make fuzz && build-fuzz/fuzz_npy -max_total_time=60 CORPUS
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ordo_io_npy h;
    ordo_err err;
    if (ordo_io_npy_parse(data, size, &h, &err) != 0) {
        if (!err.msg[0] || strchr(err.msg, '\n')) abort();   /* a one-line reason */
        return 0;
    }
    if (h.data_off > size || h.rows * h.cols * (size_t)h.dtype != size - h.data_off) abort();
    if (h.rows * h.cols > (1u << 20)) return 0;
    float *out = malloc((h.rows * h.cols + 1) * sizeof *out);
    if (!out) return 0;
    if (ordo_io_npy_floats(data, &h, out, &err) != 0 && !strstr(err.msg, "row ")) abort();
    free(out);
    return 0;
}
