/* decode.c - format sniffing, dispatch and the checks all decoders share. */
#include "img/img_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* No photo ordo can classify needs more: a bigger file is a mistake or an
 * attack, and reading it whole would be the expensive part. */
#define ORDO_IMG_MAX_FILE_BYTES (1 << 30)

const char *ordo_img_sniff(const unsigned char *buf, size_t len)
{
    if (!buf) return NULL;
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        return "jpeg";
    if (len >= 8 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0) return "png";
    if (len >= 12 && memcmp(buf, "RIFF", 4) == 0 && memcmp(buf + 8, "WEBP", 4) == 0)
        return "webp";
    if (len >= 6 && (memcmp(buf, "GIF87a", 6) == 0 || memcmp(buf, "GIF89a", 6) == 0))
        return "gif";
    if (len >= 2 && buf[0] == 'B' && buf[1] == 'M') return "bmp";
    return NULL;
}

int ordo_img_check_size(int64_t w, int64_t h, int64_t max_pixels,
                        const char *fmt, ordo_err *err)
{
    if (w <= 0 || h <= 0)
        return ordo_err_set(err, "%s declares an empty image (%lldx%lld)", fmt,
                            (long long)w, (long long)h);
    /* Both factors fit in 32 bits in every format, so the product is exact. */
    if (w > INT32_MAX / 4 || h > INT32_MAX / 4 || w * h > max_pixels)
        return ordo_err_set(err,
                            "%s declares %lldx%lld = %lld pixels, over the limit of "
                            "%lld (possible decompression bomb)",
                            fmt, (long long)w, (long long)h, (long long)(w * h),
                            (long long)max_pixels);
    return 0;
}

unsigned char *ordo_img_alloc_rgb(int w, int h, ordo_err *err)
{
    unsigned char *p = malloc((size_t)w * (size_t)h * 3);
    if (!p) ordo_err_set(err, "out of memory for a %dx%d image", w, h);
    return p;
}

void ordo_img_rgba_over_white(const unsigned char *rgba, unsigned char *rgb,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const unsigned char *s = rgba + 4 * i;
        unsigned a = s[3], na = 255 - a;
        /* round(c*a/255 + 255*(1-a/255)) in integers */
        for (int c = 0; c < 3; c++)
            rgb[3 * i + c] = (unsigned char)((s[c] * a + 255 * na + 127) / 255);
    }
}

int ordo_img_decode(const unsigned char *buf, size_t len,
                    const ordo_img_opts *opts, ordo_image *out, ordo_err *err)
{
    if (!out) return ordo_err_set(err, "ordo_img_decode: no output image");
    memset(out, 0, sizeof *out);
    int min_side = opts && opts->min_side > 0 ? opts->min_side : 0;
    int64_t max_pixels = opts && opts->max_pixels > 0 ? opts->max_pixels
                                                      : ORDO_IMG_DEFAULT_MAX_PIXELS;
    if (!buf || len == 0) return ordo_err_set(err, "empty file (0 bytes)");
    const char *fmt = ordo_img_sniff(buf, len);
    int rc;
    if (!fmt) {
        return ordo_err_set(err, "not an image ordo reads (JPEG, PNG, WebP, GIF, BMP): "
                                 "unknown content starting %02x %02x %02x %02x",
                            buf[0], len > 1 ? buf[1] : 0, len > 2 ? buf[2] : 0,
                            len > 3 ? buf[3] : 0);
    } else if (fmt[0] == 'j') {
        rc = ordo_img_decode_jpeg(buf, len, min_side, max_pixels, out, err);
    } else if (fmt[0] == 'p') {
        rc = ordo_img_decode_png(buf, len, max_pixels, out, err);
    } else if (fmt[0] == 'w') {
        rc = ordo_img_decode_webp(buf, len, max_pixels, out, err);
    } else if (fmt[0] == 'g') {
        rc = ordo_img_decode_gif(buf, len, max_pixels, out, err);
    } else {
        rc = ordo_img_decode_bmp(buf, len, max_pixels, out, err);
    }
    if (rc != 0) {
        ordo_image_free(out);
        return -1;
    }
    out->format = fmt;
    return 0;
}

int ordo_img_load(const char *path, const ordo_img_opts *opts, ordo_image *out,
                  ordo_err *err)
{
    if (out) memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return ordo_err_set(err, "cannot open: %s", strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
        if (st.st_size > ORDO_IMG_MAX_FILE_BYTES) {
            ordo_err_set(err, "file larger than %d MiB: not read", ORDO_IMG_MAX_FILE_BYTES >> 20);
            goto done;
        }
        cap = (size_t)st.st_size + 1;  /* one read, plus one to see EOF */
        buf = malloc(cap);
        if (!buf) { ordo_err_set(err, "out of memory reading the file"); goto done; }
    }
    for (;;) {
        if (len == cap) {
            if (cap >= ORDO_IMG_MAX_FILE_BYTES) {
                ordo_err_set(err, "file larger than %d MiB: not read", ORDO_IMG_MAX_FILE_BYTES >> 20);
                goto done;
            }
            size_t ncap = cap ? cap * 2 : 1 << 16;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) { ordo_err_set(err, "out of memory reading the file"); goto done; }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    if (ferror(f)) { ordo_err_set(err, "read error: %s", strerror(errno)); goto done; }
    rc = ordo_img_decode(buf, len, opts, out, err);
done:
    fclose(f);
    free(buf);
    return rc;
}

void ordo_image_free(ordo_image *im)
{
    if (!im) return;
    free(im->rgb);
    im->rgb = NULL;
    im->w = im->h = 0;
}
