/* img.h - image decoding and preprocessing: the whole contract.
 *
 * Decodes JPEG (libjpeg-turbo), PNG (libspng), WebP (libwebp) and GIF/BMP
 * from memory, detecting the format from content, never from the file name.
 * Output is always 8-bit RGB, EXIF orientation applied, greyscale / CMYK /
 * 16-bit / alpha converted. Large JPEGs are downscaled in the DCT domain as
 * far as `min_side` allows, so a 24-megapixel photo never costs a full decode.
 */
#ifndef ORDO_IMG_H
#define ORDO_IMG_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct ordo_image {
    int w, h;             /* size of rgb, after DCT scaling and orientation */
    int orig_w, orig_h;   /* size declared by the file, after orientation */
    const char *format;   /* static string: "jpeg", "png", "webp", "gif", "bmp" */
    unsigned char *rgb;   /* w*h*3 bytes, row-major, owned; ordo_image_free */
} ordo_image;

typedef struct ordo_img_opts {
    int min_side;         /* keep both decoded sides >= this (0: full size) */
    int64_t max_pixels;   /* refuse images declaring more pixels (0: default) */
} ordo_img_opts;

#define ORDO_IMG_DEFAULT_MAX_PIXELS (INT64_C(100000000))  /* 100 Mpx */

/* Format name from the first bytes, or NULL if not an image ordo reads. */
const char *ordo_img_sniff(const unsigned char *buf, size_t len);

/* Decodes an in-memory file. opts may be NULL (full size, default cap). */
int ordo_img_decode(const unsigned char *buf, size_t len,
                    const ordo_img_opts *opts, ordo_image *out, ordo_err *err);

/* Reads and decodes a file; errors name the reason, not the path. */
int ordo_img_load(const char *path, const ordo_img_opts *opts,
                  ordo_image *out, ordo_err *err);

void ordo_image_free(ordo_image *im);

/* The network's input: bicubic resize so the shorter side becomes
 * round(size / crop_frac), centre crop size x size, then
 * (pixel - 127) / 128. out is size*size*3 floats, HWC (NHWC for one image). */
int ordo_img_preprocess(const ordo_image *im, int size, float crop_frac,
                        float *out, ordo_err *err);

/* Smallest decode size that preprocessing at `size` needs (for min_side). */
int ordo_img_min_side_for(int size, float crop_frac);

#endif
