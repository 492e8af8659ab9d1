/* bmp.c - a small bounds-checked BMP reader: uncompressed 1/4/8-bit palette,
 * 16/24/32-bit (BI_RGB or BI_BITFIELDS) with BITMAPCOREHEADER through V5
 * headers. RLE and embedded JPEG/PNG are refused with a clear message.
 * Layout: Microsoft "Bitmap Storage" (BITMAPINFOHEADER, BITMAPV5HEADER). */
#include "img/img_internal.h"

#include <stdlib.h>
#include <string.h>

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static unsigned le16(const unsigned char *p) { return (unsigned)(p[0] | p[1] << 8); }

typedef struct mask { uint32_t m; int shift; uint32_t max; } mask;

static mask make_mask(uint32_t m)
{
    mask r = {m, 0, 0};
    if (!m) return r;
    while (!((m >> r.shift) & 1)) r.shift++;
    r.max = m >> r.shift;
    return r;
}

static unsigned char apply_mask(uint32_t px, mask k)
{
    if (!k.max) return 0;
    uint64_t v = (px & k.m) >> k.shift;
    return (unsigned char)((v * 255 + k.max / 2) / k.max);
}

int ordo_img_decode_bmp(const unsigned char *buf, size_t len, int64_t max_pixels,
                        ordo_image *out, ordo_err *err)
{
    if (len < 14 + 12) return ordo_err_set(err, "truncated BMP header");
    uint32_t off = le32(buf + 10), hs = le32(buf + 14);
    int64_t w, h;
    unsigned bpp, comp = 0, ncolors = 0, pal_entry = 4;
    if (hs == 12) {  /* OS/2 BITMAPCOREHEADER */
        w = le16(buf + 18);
        h = le16(buf + 20);
        bpp = le16(buf + 24);
        pal_entry = 3;
    } else if (hs >= 40 && hs <= 1024 && len >= 14 + (size_t)hs) {
        w = (int32_t)le32(buf + 18);
        h = (int32_t)le32(buf + 22);
        bpp = le16(buf + 28);
        comp = le32(buf + 30);
        ncolors = le32(buf + 46);
    } else {
        return ordo_err_set(err, "unsupported or truncated BMP header (size %u)", (unsigned)hs);
    }
    int top_down = h < 0;
    if (top_down) h = -h;
    if (ordo_img_check_size(w, h, max_pixels, "BMP", err)) return -1;
    if (comp == 1 || comp == 2) return ordo_err_set(err, "unsupported BMP: RLE compression");
    if (comp != 0 && comp != 3 && comp != 6)
        return ordo_err_set(err, "unsupported BMP compression %u", comp);
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
        return ordo_err_set(err, "unsupported BMP bit depth %u", bpp);

    mask mr, mg, mb;
    if (comp == 3 || comp == 6) {
        if (bpp != 16 && bpp != 32) return ordo_err_set(err, "corrupt BMP: bit fields need 16 or 32 bits");
        /* Masks follow a 40-byte header, or sit inside a V2+ header. */
        if (len < 14 + 40 + 12) return ordo_err_set(err, "truncated BMP header");
        mr = make_mask(le32(buf + 54));
        mg = make_mask(le32(buf + 58));
        mb = make_mask(le32(buf + 62));
    } else if (bpp == 16) {
        mr = make_mask(0x7C00); mg = make_mask(0x03E0); mb = make_mask(0x001F);
    } else {
        mr = make_mask(0xFF0000); mg = make_mask(0xFF00); mb = make_mask(0xFF);
    }

    unsigned char pal[256][3];
    memset(pal, 0, sizeof pal);
    if (bpp <= 8) {
        size_t po = 14 + (size_t)hs + (comp == 3 && hs == 40 ? 12 : 0);
        unsigned n = ncolors ? ncolors : 1u << bpp;
        if (n > (1u << bpp)) n = 1u << bpp;
        if (po > len || (len - po) / pal_entry < n) return ordo_err_set(err, "truncated BMP palette");
        for (unsigned i = 0; i < n; i++) {  /* stored B, G, R */
            pal[i][0] = buf[po + i * pal_entry + 2];
            pal[i][1] = buf[po + i * pal_entry + 1];
            pal[i][2] = buf[po + i * pal_entry];
        }
    }
    uint64_t stride = (((uint64_t)w * bpp + 31) / 32) * 4;
    if (off > len || (len - off) / stride < (uint64_t)h)
        return ordo_err_set(err, "truncated BMP: pixel data shorter than %lldx%lld", (long long)w, (long long)h);
    unsigned char *rgb = ordo_img_alloc_rgb((int)w, (int)h, err);
    if (!rgb) return -1;
    for (int64_t y = 0; y < h; y++) {
        const unsigned char *row = buf + off + (size_t)stride * (top_down ? y : h - 1 - y);
        unsigned char *o = rgb + (size_t)y * w * 3;
        for (int64_t x = 0; x < w; x++, o += 3) {
            if (bpp <= 8) {
                uint64_t bit = (uint64_t)x * bpp;
                unsigned idx = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
                memcpy(o, pal[idx], 3);
            } else if (bpp == 24) {
                o[0] = row[x * 3 + 2];
                o[1] = row[x * 3 + 1];
                o[2] = row[x * 3];
            } else {
                uint32_t px = bpp == 16 ? le16(row + x * 2) : le32(row + x * 4);
                o[0] = apply_mask(px, mr);
                o[1] = apply_mask(px, mg);
                o[2] = apply_mask(px, mb);
            }
        }
    }
    out->rgb = rgb;
    out->w = out->orig_w = (int)w;
    out->h = out->orig_h = (int)h;
    return 0;
}
