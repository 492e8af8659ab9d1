/* exif.c - the EXIF orientation tag, read by a small bounds-checked TIFF IFD
 * walker (only IFD0 tag 0x0112 is needed, so a full EXIF library would only
 * add attack surface), and the 8 orientations applied to decoded pixels.
 * Tag layout: TIFF 6.0 section 2 and EXIF 2.32 section 4.6.4 (Orientation). */
#include "img/img_internal.h"

#include <stdlib.h>
#include <string.h>

static unsigned rd16(const unsigned char *p, int le)
{
    return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const unsigned char *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                    (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
                    (uint32_t)p[3];
}

int ordo_img_exif_orientation(const unsigned char *app1, size_t len)
{
    if (!app1) return 1;
    /* JPEG APP1 payloads start with "Exif\0\0"; PNG eXIf and WebP EXIF
     * chunks hold the TIFF structure directly (some writers add the prefix). */
    if (len >= 6 && memcmp(app1, "Exif\0\0", 6) == 0) {
        app1 += 6;
        len -= 6;
    }
    if (len < 8) return 1;
    const unsigned char *t = app1;  /* offsets are relative to the TIFF header */
    size_t n = len;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 1;
    if (rd16(t + 2, le) != 42) return 1;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd > n || n - ifd < 2) return 1;
    unsigned count = rd16(t + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n) return 1;
        if (rd16(t + e, le) != 0x0112) continue;
        unsigned type = rd16(t + e + 2, le);
        unsigned v = type == 3 ? rd16(t + e + 8, le)          /* SHORT, as specified */
                   : type == 4 ? (unsigned)rd32(t + e + 8, le) /* LONG, seen in the wild */
                   : 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

int ordo_img_apply_orientation(ordo_image *im, int o, ordo_err *err)
{
    if (o < 2 || o > 8) return 0;
    int w = im->w, h = im->h;
    int swap = o >= 5;
    int nw = swap ? h : w, nh = swap ? w : h;
    unsigned char *dst = ordo_img_alloc_rgb(nw, nh, err);
    if (!dst) return -1;
    for (int y = 0; y < nh; y++) {
        for (int x = 0; x < nw; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = w - 1 - x; sy = y; break;              /* mirror */
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;      /* rotate 180 */
            case 4: sx = x; sy = h - 1 - y; break;              /* flip */
            case 5: sx = y; sy = x; break;                      /* transpose */
            case 6: sx = y; sy = h - 1 - x; break;              /* rotate 90 CW */
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;      /* transverse */
            default: sx = w - 1 - y; sy = x; break;             /* 8: rotate 90 CCW */
            }
            memcpy(dst + ((size_t)y * nw + x) * 3, im->rgb + ((size_t)sy * w + sx) * 3, 3);
        }
    }
    free(im->rgb);
    im->rgb = dst;
    im->w = nw;
    im->h = nh;
    if (swap) {
        int t = im->orig_w;
        im->orig_w = im->orig_h;
        im->orig_h = t;
    }
    return 0;
}
