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

/* Reads a big-endian 16-bit marker length. */
static size_t be16(const unsigned char *p) { return (size_t)p[0] << 8 | p[1]; }

/* Progressive JPEGs at a reduced scale: the scans a component's scaled IDCT
 * cannot see need not be decoded at all. At DCT scale 1/8 a component whose
 * scaled block is 1x1 (libjpeg's jpeg_idct_1x1) reads only the DC
 * coefficient of each 8x8 block (ITU T.81 A.3.3: the DC term is the block's
 * mean), so every AC scan of it (Ss > 0; in a progressive file AC scans
 * always hold one component, T.81 G.1.1.1.1) is work thrown away: for a
 * 12 MP photo they are most of the entropy-coded bytes. Chroma subsampled
 * 2x is decoded at 2x2 there (libjpeg-turbo then skips the upsampler), which
 * reads AC terms, so its AC scans stay.
 *
 * The file is copied without those scans (markers, tables, DC scans and the
 * scans of other components kept byte for byte) and the copy is what libjpeg
 * decodes: the same coefficients reach the same IDCT, so the pixels are the
 * full decode's at that scale (tests/test_img.c checks this). libjpeg's
 * buffered-image mode could stop early, but libjpeg's own progression
 * (jpeg_simple_progression, which Pillow and cjpeg use) sends the DC
 * refinement scan after most AC scans, so stopping at it saves little;
 * skipping saves all of them.
 *
 * drop[c]: component id c (as the file numbers it) needs no AC scans. Any
 * structure this walk does not expect (no EOI, a segment past the end, a
 * scan header that does not fit) returns NULL: the whole file is then
 * decoded as before and libjpeg's verdict on it, message included, is
 * unchanged. A truncated file in particular is never shortened further into
 * a "valid" one. */
unsigned char *ordo_img_jpeg_skip_scans(const unsigned char *buf, size_t len,
                                        const unsigned char drop[256], size_t *outlen)
{
    if (len < 4 || buf[0] != 0xFF || buf[1] != 0xD8) return NULL;
    unsigned char *out = malloc(len);
    if (!out) return NULL;
    /* out gets SOI, some of buf's segments in order, then EOI: never more
     * than len bytes. */
    size_t p = 2, o = 2, dropped = 0;
    memcpy(out, buf, 2);
    for (;;) {
        if (p + 2 > len || buf[p] != 0xFF) break;
        size_t m = p;
        while (m + 1 < len && buf[m + 1] == 0xFF) m++;   /* fill bytes (T.81 B.1.1.2) */
        if (m + 1 >= len) break;
        const unsigned char code = buf[m + 1];
        if (code == 0xD9) {                               /* EOI: done */
            out[o++] = 0xFF;
            out[o++] = 0xD9;
            *outlen = o;
            if (dropped) return out;
            break;                                        /* nothing saved */
        }
        if (code == 0x00 || code == 0xD8 || code == 0x01 || (code >= 0xD0 && code <= 0xD7))
            break;                                        /* no marker belongs here */
        if (m + 4 > len) break;
        const size_t seg = be16(buf + m + 2);
        if (seg < 2 || m + 2 + seg > len) break;
        size_t end = m + 2 + seg;                         /* past the marker segment */
        int keep = 1;
        if (code == 0xDA) {                               /* SOS: header, then data */
            const unsigned ns = buf[m + 4];
            if (ns < 1 || ns > 4 || seg != 6 + 2 * ns) break;
            const unsigned ss = buf[m + 5 + 2 * ns];
            keep = ss == 0 || !drop[buf[m + 5]] || ns != 1;
            /* Entropy-coded data runs to the next marker that is neither a
             * stuffed 0xFF00 nor a restart marker (T.81 B.1.1.5, F.1.2.3). */
            for (;;) {
                const unsigned char *ff = end < len ? memchr(buf + end, 0xFF, len - end) : NULL;
                if (!ff) { end = len; break; }
                size_t q = (size_t)(ff - buf);
                if (q + 1 >= len) { end = len; break; }
                const unsigned char b = buf[q + 1];
                if (b == 0x00 || (b >= 0xD0 && b <= 0xD7)) { end = q + 2; continue; }
                if (b == 0xFF) { end = q + 1; continue; }  /* fill before a marker */
                end = q;
                break;
            }
            if (end >= len) break;                        /* no marker after the data */
        }
        if (keep) {
            memcpy(out + o, buf + m, end - m);
            o += end - m;
        } else {
            dropped++;
        }
        p = end;
    }
    free(out);
    return NULL;
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

/* The colour space libjpeg should deliver, or 0 for an unsupported file. */
static int set_out_space(struct jpeg_decompress_struct *cinfo)
{
    if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK)
        cinfo->out_color_space = JCS_CMYK;  /* libjpeg converts YCCK -> CMYK */
    else if (cinfo->num_components == 1 || cinfo->num_components == 3)
        cinfo->out_color_space = JCS_RGB;   /* also expands greyscale */
    else
        return 0;
    return 1;
}

static int scaled_block(const jpeg_component_info *c)
{
#if JPEG_LIB_VERSION >= 70
    return c->DCT_h_scaled_size > c->DCT_v_scaled_size ? c->DCT_h_scaled_size
                                                       : c->DCT_v_scaled_size;
#else
    return c->DCT_scaled_size;
#endif
}

int ordo_img_decode_jpeg(const unsigned char *buf, size_t len, int min_side,
                         int64_t max_pixels, ordo_image *out, ordo_err *err)
{
    return ordo_img_decode_jpeg_scans(buf, len, min_side, max_pixels, 0, out, err);
}

int ordo_img_decode_jpeg_scans(const unsigned char *buf, size_t len, int min_side,
                               int64_t max_pixels, int all_scans, ordo_image *out,
                               ordo_err *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_guard g;
    /* volatile: modified between setjmp and a possible longjmp */
    unsigned char *volatile rgb = NULL;
    unsigned char *volatile row = NULL;
    unsigned char *volatile lean = NULL;   /* the file without unseen scans */

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
        free(lean);
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
    if (!set_out_space(&cinfo)) {
        jpeg_destroy_decompress(&cinfo);
        return ordo_err_set(err, "unsupported JPEG: %d colour components",
                            cinfo.num_components);
    }
    int num = pick_scale(cinfo.image_width, cinfo.image_height, min_side);
    cinfo.scale_num = (unsigned)num;
    cinfo.scale_denom = 8;
    if (cinfo.progressive_mode && !all_scans) {
        /* The scaled block size of each component, as jpeg_start_decompress
         * will set it up (jpeg_calc_output_dimensions is what it calls). */
        jpeg_calc_output_dimensions(&cinfo);
        unsigned char drop[256] = {0}, need[256] = {0};
        int ndrop = 0;
        for (int c = 0; c < cinfo.num_components; c++)   /* ids may repeat in a hostile file */
            need[cinfo.comp_info[c].component_id & 0xFF] |= scaled_block(&cinfo.comp_info[c]) != 1;
        for (int c = 0; c < cinfo.num_components; c++) {
            const int id = cinfo.comp_info[c].component_id & 0xFF;
            if (!need[id] && !drop[id]) {
                drop[id] = 1;
                ndrop++;
            }
        }
        size_t leanlen = 0;
        if (ndrop && (lean = ordo_img_jpeg_skip_scans(buf, len, drop, &leanlen))) {
            /* Start again on the lean copy; what the header said stays. */
            jpeg_abort_decompress(&cinfo);
            jpeg_mem_src(&cinfo, lean, (unsigned long)leanlen);
            jpeg_read_header(&cinfo, TRUE);
            set_out_space(&cinfo);
            cinfo.scale_num = (unsigned)num;
            cinfo.scale_denom = 8;
            /* Without AC terms libjpeg would "smooth" blocks, estimating
             * them, and in libjpeg-turbo >= 2.1 the DC term too (jdcoefct.c),
             * from neighbouring blocks: the full file's pixels are wanted. */
            cinfo.do_block_smoothing = FALSE;
        }
    }
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
    free(lean);
    if (orientation != 1 && ordo_img_apply_orientation(out, orientation, err) != 0) {
        ordo_image_free(out);
        return -1;
    }
    return 0;
}
