/* png.c - PNG via libspng. Every colour type and bit depth is expanded by
 * libspng to RGBA8 (16-bit samples keep their high byte, tRNS applied), then
 * alpha is composited over white: the network has no notion of transparency
 * and white is what a viewer usually shows behind a transparent photo.
 * An eXIf chunk's orientation is applied as for JPEG. */
#include "img/img_internal.h"

#include <stdlib.h>
#include <string.h>

#include <spng.h>

/* CRC-32 as PNG defines it (ISO 3309 polynomial, PNG spec section 5.5). */
static uint32_t crc32_png(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* libspng does not verify the CRC of the last IDAT chunk once the pixel
 * stream is complete, so critical chunks (upper-case first letter) are
 * checked here. A chunk cut short by truncation is left to libspng. */
static int check_critical_crcs(const unsigned char *buf, size_t len, ordo_err *err)
{
    size_t off = 8;
    while (len - off >= 12) {
        uint32_t n = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
                     (uint32_t)buf[off + 2] << 8 | buf[off + 3];
        if (n > len - off - 12) break;
        const unsigned char *t = buf + off + 4;
        if (t[0] >= 'A' && t[0] <= 'Z') {
            const unsigned char *c = t + 4 + n;
            uint32_t want = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 |
                            (uint32_t)c[2] << 8 | c[3];
            if (crc32_png(t, (size_t)n + 4) != want) {
                /* the type is untrusted bytes: only letters go into the message */
                char name[5] = "????";
                for (int i = 0; i < 4; i++)
                    if ((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z')) name[i] = (char)t[i];
                return ordo_err_set(err, "corrupt PNG: CRC mismatch in %s chunk", name);
            }
        }
        if (memcmp(t, "IEND", 4) == 0) break;
        off += (size_t)n + 12;
    }
    return 0;
}

int ordo_img_decode_png(const unsigned char *buf, size_t len, int64_t max_pixels,
                        ordo_image *out, ordo_err *err)
{
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx) return ordo_err_set(err, "out of memory (PNG decoder)");
    unsigned char *px = NULL;
    int rc = -1, r;
    /* A bad CRC in image data is an error; a bad one in a text or metadata
     * chunk only drops that chunk, as viewers do. */
    spng_set_crc_action(ctx, SPNG_CRC_ERROR, SPNG_CRC_DISCARD);
    /* Metadata chunks (text, ICC) may not claim more memory than this. */
    spng_set_chunk_limits(ctx, 16u << 20, 64u << 20);
    if (check_critical_crcs(buf, len, err)) goto done;
    if ((r = spng_set_png_buffer(ctx, buf, len)) != 0) goto spng_fail;
    struct spng_ihdr ihdr;
    if ((r = spng_get_ihdr(ctx, &ihdr)) != 0) goto spng_fail;
    if (ordo_img_check_size(ihdr.width, ihdr.height, max_pixels, "PNG", err)) goto done;
    size_t size;
    if ((r = spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &size)) != 0) goto spng_fail;
    px = malloc(size);
    if (!px) { ordo_err_set(err, "out of memory for a %ux%u PNG", ihdr.width, ihdr.height); goto done; }
    if ((r = spng_decode_image(ctx, px, size, SPNG_FMT_RGBA8, SPNG_DECODE_TRNS)) != 0)
        goto spng_fail;
    /* libspng stops once the pixels are complete; reading on to IEND is what
     * checks the CRC of the last IDAT chunk. A file that only lacks its
     * trailer (as a JPEG lacking EOI) still has every pixel: accepted. */
    if ((r = spng_decode_chunks(ctx)) != 0 && r != SPNG_EOF && r != SPNG_IO_EOF)
        goto spng_fail;
    size_t n = (size_t)ihdr.width * ihdr.height;
    ordo_img_rgba_over_white(px, px, n);  /* in place: RGB writes trail RGBA reads */
    unsigned char *rgb = realloc(px, n * 3);
    if (rgb) px = rgb;
    out->rgb = px;
    px = NULL;
    out->w = out->orig_w = (int)ihdr.width;
    out->h = out->orig_h = (int)ihdr.height;
    struct spng_exif exif;
    if (spng_get_exif(ctx, &exif) == 0) {
        int o = ordo_img_exif_orientation((const unsigned char *)exif.data, exif.length);
        if (o != 1 && ordo_img_apply_orientation(out, o, err) != 0) {
            ordo_image_free(out);
            goto done;
        }
    }
    rc = 0;
    goto done;
spng_fail:
    ordo_err_set(err, "%s PNG: %s", r == SPNG_EOF || r == SPNG_IO_EOF ? "truncated" : "corrupt",
                 spng_strerror(r));
done:
    free(px);
    spng_ctx_free(ctx);
    return rc;
}
