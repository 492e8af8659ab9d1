/* thumb.c - display-size JPEGs of images, made on demand and cached.
 *
 * The decoder's DCT scaling does most of the shrinking (a 24 Mpx JPEG
 * decodes at 1/8 scale straight away); a box filter does the rest. Results
 * live in PROJECT/.ordo/cache/<side>/<id>.jpg: an image id names immutable
 * content (ids are per content hash), so a cached file never goes stale.
 * Files are written to a temporary name and renamed, so a concurrent reader
 * or a crash never sees half a file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img/img.h"
#include "server/srv_internal.h"

/* Box-filter downscale so the longer side is at most `side`. */
static int shrink(const ordo_image *im, int side, unsigned char **out, int *ow, int *oh)
{
    int w = im->w, h = im->h;
    double f = (double)side / (w > h ? w : h);
    if (f > 1) f = 1;
    int W = (int)(w * f + 0.5), H = (int)(h * f + 0.5);
    if (W < 1) W = 1;
    if (H < 1) H = 1;
    unsigned char *o = malloc((size_t)W * H * 3);
    if (!o) return -1;
    for (int y = 0; y < H; y++) {
        int y0 = (int)((int64_t)y * h / H), y1 = (int)((int64_t)(y + 1) * h / H);
        if (y1 <= y0) y1 = y0 + 1;
        for (int x = 0; x < W; x++) {
            int x0 = (int)((int64_t)x * w / W), x1 = (int)((int64_t)(x + 1) * w / W);
            if (x1 <= x0) x1 = x0 + 1;
            unsigned sum[3] = {0, 0, 0}, cnt = 0;
            for (int yy = y0; yy < y1; yy++)
                for (int xx = x0; xx < x1; xx++) {
                    const unsigned char *p = im->rgb + ((size_t)yy * w + xx) * 3;
                    sum[0] += p[0]; sum[1] += p[1]; sum[2] += p[2];
                    cnt++;
                }
            unsigned char *q = o + ((size_t)y * W + x) * 3;
            for (int c = 0; c < 3; c++) q[c] = (unsigned char)((sum[c] + cnt / 2) / cnt);
        }
    }
    *out = o;
    *ow = W;
    *oh = H;
    return 0;
}

static int write_jpeg(const char *path, const unsigned char *rgb, int w, int h, int quality,
                      ordo_err *err)
{
    unsigned char *mem = NULL;
    unsigned long len = 0;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);   /* encoding our own RGB cannot hit errors */
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);

    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)gettid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(mem);
        return ordo_err_set(err, "thumbnail cache: %s", strerror(errno));
    }
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, mem + off, len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        off += (size_t)k;
    }
    free(mem);
    if (close(fd) < 0 || off < len || rename(tmp, path) < 0) {
        unlink(tmp);
        return ordo_err_set(err, "thumbnail cache: write failed");
    }
    return 0;
}

int srv_thumb(ordo_srv *srv, ordo_store *s, int64_t id, int side, char *out, size_t cap,
              ordo_err *err)
{
    char dir[PATH_MAX];
    if ((size_t)snprintf(dir, sizeof dir, "%s/%d", srv->cache_dir, side) >= sizeof dir ||
        (size_t)snprintf(out, cap, "%s/%lld.jpg", dir, (long long)id) >= cap)
        return ordo_err_set(err, "cache path too long");
    if (access(out, R_OK) == 0) return 0;

    char path[PATH_MAX];
    if (ordo_store_image_path(s, id, path, sizeof path, err) < 0) return -1;
    ordo_img_opts o = {.min_side = side, .max_pixels = 0};
    ordo_image im;
    if (ordo_img_load(path, &o, &im, err) < 0) return -1;
    unsigned char *small;
    int w, h;
    int rc = shrink(&im, side, &small, &w, &h);
    ordo_image_free(&im);
    if (rc < 0) return ordo_err_set(err, "out of memory");
    if (mkdir(srv->cache_dir, 0755) < 0 && errno != EEXIST) rc = -1;
    if (rc == 0 && mkdir(dir, 0755) < 0 && errno != EEXIST) rc = -1;
    if (rc < 0) {
        free(small);
        return ordo_err_set(err, "thumbnail cache %s: %s", dir, strerror(errno));
    }
    rc = write_jpeg(out, small, w, h, side <= 320 ? 80 : 85, err);
    free(small);
    return rc;
}
