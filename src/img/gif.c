/* gif.c - the first frame of a GIF via giflib, read record by record (not
 * DGifSlurp, which would decode every frame of a long animation). The frame
 * is drawn on the logical screen; uncovered and transparent pixels are
 * white, as for alpha in PNG/WebP. */
#include "img/img_internal.h"

#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

typedef struct gif_src {
    const unsigned char *p;
    size_t left;
} gif_src;

static int gif_read(GifFileType *gif, GifByteType *dst, int n)
{
    gif_src *s = gif->UserData;
    if (n < 0) return 0;
    size_t k = (size_t)n < s->left ? (size_t)n : s->left;
    memcpy(dst, s->p, k);
    s->p += k;
    s->left -= k;
    return (int)k;
}

static int gif_fail(GifFileType *gif, ordo_err *err, const char *what)
{
    int code = gif ? gif->Error : 0;
    const char *why = code ? GifErrorString(code) : NULL;
    return ordo_err_set(err, "corrupt GIF: %s%s%s", what, why ? ": " : "", why ? why : "");
}

int ordo_img_decode_gif(const unsigned char *buf, size_t len, int64_t max_pixels,
                        ordo_image *out, ordo_err *err)
{
    gif_src src = {buf, len};
    int e = 0, rc = -1, transparent = -1;
    unsigned char *rgb = NULL;
    GifByteType *line = NULL;
    GifFileType *gif = DGifOpen(&src, gif_read, &e);
    if (!gif) {
        const char *why = GifErrorString(e);
        return ordo_err_set(err, "corrupt GIF: %s", why ? why : "cannot open");
    }
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) { gif_fail(gif, err, "bad record"); goto done; }
        if (type == TERMINATE_RECORD_TYPE) {
            ordo_err_set(err, "GIF has no image");
            goto done;
        }
        if (type == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) { gif_fail(gif, err, "bad extension"); goto done; }
            /* Graphic Control Extension: flags byte bit 0 = has transparency */
            if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4)
                transparent = (ext[1] & 1) ? ext[4] : -1;
            while (ext) {
                if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) { gif_fail(gif, err, "bad extension"); goto done; }
            }
            continue;
        }
        if (type != IMAGE_DESC_RECORD_TYPE) continue;
        if (DGifGetImageDesc(gif) == GIF_ERROR) { gif_fail(gif, err, "bad image descriptor"); goto done; }
        break;
    }
    GifImageDesc *d = &gif->Image;
    int cw = gif->SWidth, ch = gif->SHeight;
    if (cw <= 0 || ch <= 0) {  /* no usable screen: the frame defines the size */
        cw = d->Left + d->Width;
        ch = d->Top + d->Height;
    }
    if (ordo_img_check_size(cw, ch, max_pixels, "GIF", err)) goto done;
    if (ordo_img_check_size(d->Width, d->Height, max_pixels, "GIF frame", err)) goto done;
    ColorMapObject *cm = d->ColorMap ? d->ColorMap : gif->SColorMap;
    if (!cm || !cm->Colors || cm->ColorCount <= 0) { ordo_err_set(err, "corrupt GIF: no colour table"); goto done; }
    rgb = ordo_img_alloc_rgb(cw, ch, err);
    line = malloc((size_t)d->Width);
    if (!rgb || !line) { ordo_err_set(err, "out of memory for a %dx%d GIF", cw, ch); goto done; }
    memset(rgb, 255, (size_t)cw * ch * 3);
    /* Interlaced rows arrive in 4 passes (GIF89a appendix E). */
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    int passes = d->Interlace ? 4 : 1;
    for (int p = 0; p < passes; p++) {
        for (int r = d->Interlace ? start[p] : 0; r < d->Height; r += d->Interlace ? step[p] : 1) {
            if (DGifGetLine(gif, line, d->Width) == GIF_ERROR) { gif_fail(gif, err, "bad image data"); goto done; }
            int y = d->Top + r;
            if (y < 0 || y >= ch) continue;
            for (int x = 0; x < d->Width; x++) {
                int cx = d->Left + x;
                if (cx < 0 || cx >= cw || line[x] == transparent) continue;
                GifColorType c = line[x] < cm->ColorCount ? cm->Colors[line[x]] : cm->Colors[0];
                unsigned char *o = rgb + ((size_t)y * cw + cx) * 3;
                o[0] = c.Red;
                o[1] = c.Green;
                o[2] = c.Blue;
            }
        }
    }
    out->rgb = rgb;
    rgb = NULL;
    out->w = out->orig_w = cw;
    out->h = out->orig_h = ch;
    rc = 0;
done:
    free(rgb);
    free(line);
    DGifCloseFile(gif, &e);
    return rc;
}
