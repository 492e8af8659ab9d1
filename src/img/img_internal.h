/* img_internal.h - shared by the decoders in src/img/, not part of the
 * contract (img.h). Each decoder fills an ordo_image with w == orig_w and
 * h == orig_h unless it scaled (JPEG); decode.c applies the common checks. */
#ifndef ORDO_IMG_INTERNAL_H
#define ORDO_IMG_INTERNAL_H

#include "img/img.h"

/* Refuses a declared size before anything is allocated for it: zero or
 * negative sides, or more pixels than max_pixels (a decompression bomb). */
int ordo_img_check_size(int64_t w, int64_t h, int64_t max_pixels,
                        const char *fmt, ordo_err *err);

/* malloc of w*h*3 after ordo_img_check_size; NULL + err on failure. */
unsigned char *ordo_img_alloc_rgb(int w, int h, ordo_err *err);

/* Composites n RGBA pixels over white into RGB (alpha is straight, not
 * premultiplied, in PNG, WebP and GIF). src and dst may not overlap unless
 * dst == src (in place: reads stay ahead of writes). */
void ordo_img_rgba_over_white(const unsigned char *rgba, unsigned char *rgb,
                              size_t n);

int ordo_img_decode_jpeg(const unsigned char *buf, size_t len, int min_side,
                         int64_t max_pixels, ordo_image *out, ordo_err *err);
/* The same; all_scans = 1 decodes every scan of a progressive file even
 * where the chosen DCT scale cannot use them (jpeg.c): the reference the
 * tests and the benchmark compare the lean decode with. */
int ordo_img_decode_jpeg_scans(const unsigned char *buf, size_t len, int min_side,
                               int64_t max_pixels, int all_scans, ordo_image *out,
                               ordo_err *err);
/* A copy of the JPEG file buf without its AC scans (Ss > 0) of the
 * components whose id c has drop[c] set, in *outlen bytes (malloc'd; the
 * caller frees), or NULL when none was dropped or the marker structure is
 * not complete and well-formed up to EOI (jpeg.c says why). */
unsigned char *ordo_img_jpeg_skip_scans(const unsigned char *buf, size_t len,
                                        const unsigned char drop[256], size_t *outlen);
int ordo_img_decode_png(const unsigned char *buf, size_t len,
                        int64_t max_pixels, ordo_image *out, ordo_err *err);
int ordo_img_decode_webp(const unsigned char *buf, size_t len,
                         int64_t max_pixels, ordo_image *out, ordo_err *err);
int ordo_img_decode_gif(const unsigned char *buf, size_t len,
                        int64_t max_pixels, ordo_image *out, ordo_err *err);
int ordo_img_decode_bmp(const unsigned char *buf, size_t len,
                        int64_t max_pixels, ordo_image *out, ordo_err *err);

/* EXIF orientation (1..8) from an EXIF block: a JPEG APP1 payload (starting
 * "Exif\0\0") or a bare TIFF structure (PNG eXIf, WebP EXIF chunk); 1 when
 * absent or unreadable: a broken EXIF block never fails a decodable photo. */
int ordo_img_exif_orientation(const unsigned char *app1, size_t len);

/* Applies EXIF orientation o (2..8) to im in place (w/h and orig_w/orig_h
 * swap for 5..8). */
int ordo_img_apply_orientation(ordo_image *im, int o, ordo_err *err);

#endif
