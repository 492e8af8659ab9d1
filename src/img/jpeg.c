/* jpeg.c - JPEG via libjpeg-turbo: DCT-domain downscaling, CMYK/YCCK and
 * greyscale to RGB, EXIF orientation. libjpeg reports fatal errors through
 * error_exit, which must not return: we longjmp back here instead of letting
 * the default handler call exit(). */
#include "img/img_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* A progressive JPEG may hold thousands of tiny scans, each costing a pass
 * over the whole coefficient buffer; real files have well under 100. */
#define JPEG_MAX_SCANS 500

typedef struct jpeg_guard {
    struct jpeg_error_mgr pub;      /* first: libjpeg casts to this */
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    int lenient_eof;                /* all pixels read: a missing EOI is fine */
    char msg[JMSG_LENGTH_MAX];
} jpeg_guard;

static void guard_error_exit(j_common_ptr cinfo)
{
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, g->msg);
    longjmp(g->jump, 1);
}

/* Warnings are ignored (many real photos carry harmless ones, e.g.
 * extraneous bytes before a marker) except a premature end of file: libjpeg
 * would pad the missing part with grey and call it a success. */
static void guard_emit_message(j_common_ptr cinfo, int level)
{
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF && !g->lenient_eof) {
        snprintf(g->msg, sizeof g->msg, "truncated JPEG (premature end of data)");
        longjmp(g->jump, 1);
    }
}

static void guard_output_message(j_common_ptr cinfo)
{
    (void)cinfo;  /* library code never prints */
}

static void guard_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    if (d->is_decompressor && d->input_scan_number > JPEG_MAX_SCANS) {
        snprintf(g->msg, sizeof g->msg, "JPEG has more than %d scans (hostile file?)",
                 JPEG_MAX_SCANS);
        longjmp(g->jump, 1);
    }
}

/* The smallest scale (1/8, 1/4 or 1/2) that keeps both output sides >=
 * min_side, else full size. Only these three: libjpeg-turbo has SIMD IDCTs
 * for them, while 3/8..7/8 run scalar code that saves little time, and
 * photos under twice min_side then decode at full size, giving exactly the
 * pixels the reference (PIL) sees. */
static int pick_scale(unsigned w, unsigned h, int min_side)
{
    if (min_side <= 0) return 8;
    for (int num = 1; num < 8; num *= 2) {
        unsigned sw = (w * num + 7) / 8, sh = (h * num + 7) / 8;  /* jdiv_round_up */
        if (sw >= (unsigned)min_side && sh >= (unsigned)min_side) return num;
    }
    return 8;
}

/* Adobe CMYK JPEGs store inverted ink values (255 = no ink); libjpeg hands
 * them back as stored. RGB = (1-C)(1-K) in inverted terms: c*k/255. */
static void cmyk_row_to_rgb(const unsigned char *in, unsigned char *out, int w,
                            int inverted)
{
    for (int x = 0; x < w; x++) {
        unsigned c = in[4 * x], m = in[4 * x + 1], y = in[4 * x + 2], k = in[4 * x + 3];
        if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        out[3 * x] = (unsigned char)((c * k + 127) / 255);
        out[3 * x + 1] = (unsigned char)((m * k + 127) / 255);
        out[3 * x + 2] = (unsigned char)((y * k + 127) / 255);
    }
}

int ordo_img_decode_jpeg(const unsigned char *buf, size_t len, int min_side,
                         int64_t max_pixels, ordo_image *out, ordo_err *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_guard g;
    /* volatile: modified between setjmp and a possible longjmp */
    unsigned char *volatile rgb = NULL;
    unsigned char *volatile row = NULL;

    memset(&cinfo, 0, sizeof cinfo);
    memset(&g, 0, sizeof g);
    cinfo.err = jpeg_std_error(&g.pub);
    g.pub.error_exit = guard_error_exit;
    g.pub.emit_message = guard_emit_message;
    g.pub.output_message = guard_output_message;
    if (setjmp(g.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        free(row);
        return ordo_err_set(err, "corrupt JPEG: %s", g.msg);
    }
    jpeg_create_decompress(&cinfo);
    g.progress.progress_monitor = guard_progress;
    cinfo.progress = &g.progress;
    /* Coefficient buffers of progressive files are the one large allocation
     * libjpeg makes on its own; bound them by the pixel cap (2 bytes per
     * coefficient, up to 4 components, plus slack). */
    if (max_pixels < (INT64_C(1) << 40))  /* else: no extra limit */
        cinfo.mem->max_memory_to_use = (long)(max_pixels * 8 + (64 << 20));
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    if (ordo_img_check_size(cinfo.image_width, cinfo.image_height, max_pixels, "JPEG",
                            err)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    int orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0) {
            orientation = ordo_img_exif_orientation(m->data, m->data_length);
            break;
        }
    }

    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    int inverted = cinfo.saw_Adobe_marker;
    if (cmyk) {
        cinfo.out_color_space = JCS_CMYK;  /* libjpeg converts YCCK -> CMYK */
    } else if (cinfo.num_components == 1 || cinfo.num_components == 3) {
        cinfo.out_color_space = JCS_RGB;   /* also expands greyscale */
    } else {
        jpeg_destroy_decompress(&cinfo);
        return ordo_err_set(err, "unsupported JPEG: %d colour components",
                            cinfo.num_components);
    }
    int num = pick_scale(cinfo.image_width, cinfo.image_height, min_side);
    cinfo.scale_num = (unsigned)num;
    cinfo.scale_denom = 8;
    jpeg_start_decompress(&cinfo);

    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    rgb = ordo_img_alloc_rgb(w, h, err);
    if (!rgb) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    if (cmyk) {
        row = malloc((size_t)w * 4);
        if (!row) {
            jpeg_destroy_decompress(&cinfo);
            free(rgb);
            return ordo_err_set(err, "out of memory");
        }
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned y = cinfo.output_scanline;
        JSAMPROW dst = cmyk ? row : rgb + (size_t)y * w * 3;
        if (jpeg_read_scanlines(&cinfo, &dst, 1) != 1) {
            snprintf(g.msg, sizeof g.msg, "decoder returned no data");
            longjmp(g.jump, 1);
        }
        if (cmyk) cmyk_row_to_rgb(row, rgb + (size_t)y * w * 3, w, inverted);
    }
    g.lenient_eof = 1;
    jpeg_finish_decompress(&cinfo);
    out->w = w;
    out->h = h;
    out->orig_w = (int)cinfo.image_width;
    out->orig_h = (int)cinfo.image_height;
    out->rgb = rgb;
    jpeg_destroy_decompress(&cinfo);
    free(row);
    if (orientation != 1 && ordo_img_apply_orientation(out, orientation, err) != 0) {
        ordo_image_free(out);
        return -1;
    }
    return 0;
}
