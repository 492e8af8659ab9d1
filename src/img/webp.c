/* webp.c - WebP via libwebp. Animated files give their first frame, placed
 * on its canvas (libwebpdemux); alpha is composited over white as for PNG;
 * EXIF orientation is applied as for JPEG. */
#include "img/img_internal.h"

#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

/* Decodes one WebP bitstream (a still file or one animation frame) to RGBA. */
static unsigned char *decode_rgba(const uint8_t *data, size_t size, int *w, int *h,
                                  ordo_err *err)
{
    unsigned char *px = malloc((size_t)*w * (size_t)*h * 4);
    if (!px) { ordo_err_set(err, "out of memory for a %dx%d WebP", *w, *h); return NULL; }
    if (!WebPDecodeRGBAInto(data, size, px, (size_t)*w * *h * 4, *w * 4)) {
        free(px);
        ordo_err_set(err, "corrupt or truncated WebP: bitstream could not be decoded");
        return NULL;
    }
    return px;
}

/* Orientation from the EXIF chunk of an extended (VP8X) file, else 1. */
static int exif_orientation(const unsigned char *buf, size_t len)
{
    /* VP8X flags byte: RIFF header (12) + chunk header (8); bit 3 = EXIF */
    if (len < 21 || memcmp(buf + 12, "VP8X", 4) != 0 || !(buf[20] & 0x08)) return 1;
    WebPData data = {buf, len};
    WebPDemuxer *dmx = WebPDemux(&data);
    if (!dmx) return 1;
    int o = 1;
    WebPChunkIterator it;
    if (WebPDemuxGetChunk(dmx, "EXIF", 1, &it)) {
        o = ordo_img_exif_orientation(it.chunk.bytes, it.chunk.size);
        WebPDemuxReleaseChunkIterator(&it);
    }
    WebPDemuxDelete(dmx);
    return o;
}

int ordo_img_decode_webp(const unsigned char *buf, size_t len, int64_t max_pixels,
                         ordo_image *out, ordo_err *err)
{
    WebPBitstreamFeatures f;
    VP8StatusCode st = WebPGetFeatures(buf, len, &f);
    if (st == VP8_STATUS_NOT_ENOUGH_DATA)
        return ordo_err_set(err, "truncated WebP (header incomplete)");
    if (st != VP8_STATUS_OK)
        return ordo_err_set(err, "corrupt WebP header (libwebp status %d)", (int)st);
    if (ordo_img_check_size(f.width, f.height, max_pixels, "WebP", err)) return -1;
    int w = f.width, h = f.height;
    unsigned char *rgba = NULL;

    if (!f.has_animation) {
        rgba = decode_rgba(buf, len, &w, &h, err);
        if (!rgba) return -1;
    } else {
        WebPData data = {buf, len};
        WebPDemuxer *dmx = WebPDemux(&data);
        if (!dmx) return ordo_err_set(err, "corrupt or truncated animated WebP");
        WebPIterator it;
        if (!WebPDemuxGetFrame(dmx, 1, &it)) {
            WebPDemuxDelete(dmx);
            return ordo_err_set(err, "animated WebP has no frame");
        }
        int fw, fh;
        int ok = WebPGetInfo(it.fragment.bytes, it.fragment.size, &fw, &fh) &&
                 fw == it.width && fh == it.height && it.x_offset + fw <= w &&
                 it.y_offset + fh <= h;
        unsigned char *frame = ok ? decode_rgba(it.fragment.bytes, it.fragment.size,
                                                &fw, &fh, err) : NULL;
        if (!ok) ordo_err_set(err, "corrupt animated WebP: first frame outside the canvas");
        if (frame) {
            /* Outside the first frame the canvas is transparent (-> white). */
            rgba = calloc((size_t)w * h, 4);
            if (rgba) {
                for (int y = 0; y < fh; y++)
                    memcpy(rgba + (((size_t)(y + it.y_offset)) * w + it.x_offset) * 4,
                           frame + (size_t)y * fw * 4, (size_t)fw * 4);
            } else {
                ordo_err_set(err, "out of memory for a %dx%d WebP", w, h);
            }
            free(frame);
        }
        WebPDemuxReleaseIterator(&it);
        WebPDemuxDelete(dmx);
        if (!rgba) return -1;
    }
    size_t n = (size_t)w * h;
    ordo_img_rgba_over_white(rgba, rgba, n);
    unsigned char *rgb = realloc(rgba, n * 3);
    out->rgb = rgb ? rgb : rgba;
    out->w = out->orig_w = w;
    out->h = out->orig_h = h;
    int o = exif_orientation(buf, len);
    if (o != 1 && ordo_img_apply_orientation(out, o, err) != 0) {
        ordo_image_free(out);
        return -1;
    }
    return 0;
}
