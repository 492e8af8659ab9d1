/* fuzz_img.c - libFuzzer target for the image entry point: the whole input
 * is one file handed to ordo_img_decode (format sniffed from content), and a
 * decoded image goes through ordo_img_preprocess. The pixel cap is small so
 * that inputs declaring big images are refused instead of slowing the run;
 * every format still gets exercised up to 1 Mpx.
 *
 *   make fuzz
 *   build/tests/test_img --seeds DIR     (small valid files of each format)
 *   build-fuzz/fuzz_img -max_total_time=60 DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "img/img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The DCT-scaling path is chosen by a bit of the input's length, so both
     * the full and the scaled JPEG decode get explored. */
    ordo_img_opts opts = {(size & 1) ? 16 : 0, INT64_C(1) << 20};
    ordo_image im;
    ordo_err err;
    if (ordo_img_decode(data, size, &opts, &im, &err) != 0) {
        /* every failure must come with a one-line reason */
        if (!err.msg[0] || strchr(err.msg, '\n')) abort();
        return 0;
    }
    if (im.w <= 0 || im.h <= 0 || !im.rgb || (int64_t)im.w * im.h > opts.max_pixels) abort();
    static float out[64 * 64 * 3];  /* constant scratch, not program state */
    if (ordo_img_preprocess(&im, 64, 0.875f, out, &err) != 0) abort();
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        if (!(out[i] >= -1.0f && out[i] <= 1.0f)) abort();
    ordo_image_free(&im);
    return 0;
}
