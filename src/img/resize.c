/* resize.c - the network's input: bicubic resize of the shorter side to
 * round(size / crop_frac), centre crop, (p - 127) / 128.
 *
 * It reproduces, to the bit, what the reference pipeline computes:
 * torchvision Resize(S, BICUBIC) + CenterCrop(size) on a PIL image, i.e.
 * Pillow's Image.resize(BICUBIC): a separable convolution with the Keys cubic
 * (a = -0.5) whose support widens by the scale factor when downscaling
 * (antialiasing), weights normalised and rounded to 22-bit fixed point, a
 * horizontal pass rounded and clamped to uint8, then a vertical pass.
 * Implemented here from that description of the method (no code copied);
 * tests/test_preprocess.py checks the result bit for bit against Pillow. Only the output pixels inside the crop are computed, which
 * gives the same values (each output pixel depends only on its own centre)
 * and keeps extreme aspect ratios (1 x 60000) cheap.
 *
 * The two passes' inner loops also exist in AVX2 and AVX-512
 * (resize_avx2.c, resize_avx512.c, chosen at run time): the same int32
 * products and sums, 8 or 16 lanes at a time, so every path gives the same
 * bits (tests/test_img.c compares them); the normalisation is fused into
 * the vertical pass. About 5x less CPU than the portable loops on sports100
 * photos (0.77 -> 0.14 ms per 224x224 photo). */
#include "img/img_internal.h"
#include "img/resize_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREC_BITS ORDO_RESIZE_PREC

static double cubic(double x)
{
    const double a = -0.5;  /* Keys 1981; the value PIL and torchvision use */
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

typedef struct kernel {
    int ksize;
    int *first;    /* first input index per output */
    int *count;    /* taps per output */
    int32_t *k;    /* ksize weights per output, fixed point */
} kernel;

static void kernel_free(kernel *kn)
{
    free(kn->first);
    free(kn->count);
    free(kn->k);
}

/* Weights for outputs [o0, o0 + n) of a resize of in_size pixels spanning
 * in_extent (== in_size unless DCT-scaled) to out_size. */
static int kernel_make(kernel *kn, int in_size, double in_extent, int64_t out_size,
                       int64_t o0, int n, ordo_err *err)
{
    double scale = in_extent / (double)out_size;
    double fscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * fscale;
    double ss = 1.0 / fscale;  /* multiply by the reciprocal, as the reference does */
    kn->ksize = (int)ceil(support) * 2 + 1;
    kn->first = malloc(sizeof(int) * (size_t)n);
    kn->count = malloc(sizeof(int) * (size_t)n);
    kn->k = calloc((size_t)n * kn->ksize, sizeof(int32_t));
    double *w = malloc(sizeof(double) * (size_t)kn->ksize);
    if (!kn->first || !kn->count || !kn->k || !w) {
        free(w);
        kernel_free(kn);
        return ordo_err_set(err, "out of memory for resize weights");
    }
    for (int i = 0; i < n; i++) {
        double center = ((double)(o0 + i) + 0.5) * scale;
        /* truncation toward zero, then clamping, as in the reference */
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax > kn->ksize) xmax = kn->ksize;
        double ww = 0;
        for (int x = 0; x < xmax; x++) {
            w[x] = cubic((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = kn->k + (size_t)i * kn->ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            v *= (double)(1 << PREC_BITS);
            k[x] = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
        }
        kn->first[i] = xmin;
        kn->count[i] = xmax;
    }
    free(w);
    return 0;
}

static inline unsigned char clip8(int32_t v)
{
    v >>= PREC_BITS;  /* arithmetic shift: floor, as the reference */
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass, outputs [x0, x1) of one row (all three channels). */
static void hrow_c(const unsigned char *src, const kernel *kh, int x0, int x1,
                   unsigned char *dst)
{
    for (int x = x0; x < x1; x++) {
        const int32_t *k = kh->k + (size_t)x * kh->ksize;
        const unsigned char *p = src + (size_t)kh->first[x] * 3;
        int32_t s0 = 1 << (PREC_BITS - 1), s1 = s0, s2 = s0;
        for (int i = 0; i < kh->count[x]; i++) {
            s0 += p[3 * i] * k[i];
            s1 += p[3 * i + 1] * k[i];
            s2 += p[3 * i + 2] * k[i];
        }
        dst[3 * x] = clip8(s0);
        dst[3 * x + 1] = clip8(s1);
        dst[3 * x + 2] = clip8(s2);
    }
}

void ordo_resize_vrow_c(const unsigned char *base, size_t pitch, int taps,
                        const int32_t *k, int n, float *out)
{
    int32_t acc[256];  /* a chunk at a time: row by row over the taps, so the
                        * inner loop runs along memory */
    for (int i0 = 0; i0 < n; i0 += 256) {
        int m = n - i0 < 256 ? n - i0 : 256;
        for (int i = 0; i < m; i++) acc[i] = 1 << (PREC_BITS - 1);
        for (int j = 0; j < taps; j++) {
            const unsigned char *p = base + (size_t)j * pitch + i0;
            int32_t kj = k[j];
            for (int i = 0; i < m; i++) acc[i] += p[i] * kj;
        }
        for (int i = 0; i < m; i++) out[i0 + i] = ((float)clip8(acc[i]) - 127.0f) / 128.0f;
    }
}

enum { LEVEL_C, LEVEL_AVX2, LEVEL_AVX512 };

/* The instruction set to use: the best this CPU has, or ORDO_KERNEL=c|avx2
 * (the variable that picks the network's kernels) to force a lower one. */
static int simd_level(void)
{
#ifdef ORDO_NO_SIMD
    return LEVEL_C;
#else
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char *want = getenv("ORDO_KERNEL");
    if (want && !strcmp(want, "c")) return LEVEL_C;
    if (want && !strcmp(want, "avx2")) return has2 ? LEVEL_AVX2 : LEVEL_C;
    return has512 ? LEVEL_AVX512 : has2 ? LEVEL_AVX2 : LEVEL_C;
#endif
}

/* Weights of the horizontal pass regrouped for the SIMD row (see
 * ordo_resize_hplan). A group takes the portable path when one of its
 * 16-byte windows would read past the end of the in_w-pixel row. */
static int hplan_make(ordo_resize_hplan *p, const kernel *kh, int n, int lanes, int in_w,
                      ordo_err *err)
{
    int groups = n / lanes;
    size_t per = (size_t)lanes * 4;
    int32_t *tab = calloc((size_t)(groups ? groups : 1) * kh->ksize * per, sizeof(int32_t));
    int *gtaps = calloc((size_t)(groups ? groups : 1), sizeof(int));
    if (!tab || !gtaps) {
        free(tab);
        free(gtaps);
        return ordo_err_set(err, "out of memory for resize weights");
    }
    for (int g = 0; g < groups; g++) {
        int x0 = g * lanes, taps = 0, ok = 1;
        for (int j = 0; j < lanes; j++)
            if (kh->count[x0 + j] > taps) taps = kh->count[x0 + j];
        for (int j = 0; j < lanes && ok; j++)
            for (int w = 0; w * 5 < taps; w++)
                if (3 * ((int64_t)kh->first[x0 + j] + 5 * w) + 16 > 3 * (int64_t)in_w) ok = 0;
        if (!ok || !taps) continue;
        gtaps[g] = taps;
        for (int j = 0; j < lanes; j++) {
            const int32_t *k = kh->k + (size_t)(x0 + j) * kh->ksize;
            for (int t = 0; t < kh->count[x0 + j]; t++)
                for (int c = 0; c < 3; c++)
                    tab[((size_t)g * kh->ksize + t) * per + 4 * j + c] = k[t];
        }
    }
    p->n = n;
    p->lanes = lanes;
    p->ksize = kh->ksize;
    p->first = kh->first;
    p->tab = tab;
    p->gtaps = gtaps;
    return 0;
}

/* round() as Python 3 does it (half to even), for CenterCrop's offsets. */
static int64_t half_even_div2(int64_t d)
{
    if (d % 2 == 0) return d / 2;
    int64_t f = d / 2;
    return f % 2 == 0 ? f : f + 1;
}

/* The declared size (fw, fh) and the extent the decoded pixels cover in it,
 * in decoded pixels. libjpeg scales by num/8 and rounds the size up, so a
 * 375-pixel side at 6/8 gives 282 pixels spanning 281.25. */
static void decoded_extent(const ordo_image *im, int *fw, int *fh, double *ew, double *eh)
{
    *fw = im->w;
    *fh = im->h;
    *ew = im->w;
    *eh = im->h;
    if (im->orig_w <= 0 || im->orig_h <= 0 || (im->orig_w == im->w && im->orig_h == im->h))
        return;
    for (int num = 1; num < 8; num++) {
        if ((int)(((int64_t)im->orig_w * num + 7) / 8) == im->w &&
            (int)(((int64_t)im->orig_h * num + 7) / 8) == im->h) {
            *fw = im->orig_w;
            *fh = im->orig_h;
            *ew = im->orig_w * (double)num / 8.0;
            *eh = im->orig_h * (double)num / 8.0;
            return;
        }
    }
}

int ordo_img_min_side_for(int size, float crop_frac)
{
    if (size <= 0) return 0;
    if (!(crop_frac > 0.0f) || crop_frac > 1.0f) return size;
    int s = (int)floor((double)size / (double)crop_frac + 0.5);
    return s < size ? size : s;
}

int ordo_img_preprocess(const ordo_image *im, int size, float crop_frac, float *out,
                        ordo_err *err)
{
    if (!im || !im->rgb || im->w <= 0 || im->h <= 0)
        return ordo_err_set(err, "preprocess: empty image");
    if (size <= 0 || size > 4096 || !(crop_frac > 0.0f) || crop_frac > 1.0f || !out)
        return ordo_err_set(err, "preprocess: bad size %d or crop fraction %g", size,
                            (double)crop_frac);
    int w = im->w, h = im->h;
    /* Geometry comes from the declared size, so that a JPEG decoded with DCT
     * scaling is resized to the same output grid as a full decode would be:
     * the decoded image then spans ext_w x ext_h of the output's frame. */
    double ext_w, ext_h;
    int fw, fh;
    decoded_extent(im, &fw, &fh, &ext_w, &ext_h);
    int64_t s = ordo_img_min_side_for(size, crop_frac);
    int64_t shrt = fw < fh ? fw : fh, lng = fw < fh ? fh : fw;
    /* torchvision: int(S * long / short), a truncated double division */
    int64_t nl = (int64_t)((double)(s * lng) / (double)shrt);
    int64_t ow = fw <= fh ? s : nl, oh = fw <= fh ? nl : s;
    int64_t left = half_even_div2(ow - size), top = half_even_div2(oh - size);

    kernel kh, kv;
    memset(&kh, 0, sizeof kh);
    memset(&kv, 0, sizeof kv);
    if (kernel_make(&kh, w, ext_w, ow, left, size, err)) return -1;
    if (kernel_make(&kv, h, ext_h, oh, top, size, err)) { kernel_free(&kh); return -1; }
    int need_h = ow != w || ext_w != (double)w, need_v = oh != h || ext_h != (double)h;

    /* Input rows the vertical pass reads. */
    int y0 = kv.first[0], y1 = kv.first[size - 1] + kv.count[size - 1];
    if (!need_v) { y0 = (int)top; y1 = (int)top + size; }
    int rows = y1 - y0;
    int level = simd_level();
    /* The vertical pass reads rows of the horizontal pass's output, or of
     * the image itself (cropped) when no horizontal resize is needed. */
    const unsigned char *vsrc = NULL;
    size_t pitch = (size_t)w * 3;
    if (!need_h) vsrc = im->rgb + ((size_t)y0 * w + (size_t)left) * 3;
    unsigned char *tmp = NULL;
    if (need_h) {
        tmp = malloc((size_t)rows * size * 3);
        if (!tmp) {
            kernel_free(&kh);
            kernel_free(&kv);
            return ordo_err_set(err, "out of memory for resize");
        }
        ordo_resize_hplan plan = {0};
        int lanes = level == LEVEL_AVX512 ? 4 : level == LEVEL_AVX2 ? 2 : 0;
        if (lanes && hplan_make(&plan, &kh, size, lanes, w, err)) {
            free(tmp);
            kernel_free(&kh);
            kernel_free(&kv);
            return -1;
        }
        int done = lanes ? size / lanes * lanes : 0;  /* outputs of the full groups */
        for (int r = 0; r < rows; r++) {
            const unsigned char *src = im->rgb + (size_t)(y0 + r) * w * 3;
            unsigned char *dst = tmp + (size_t)r * size * 3;
#ifndef ORDO_NO_SIMD
            if (level == LEVEL_AVX512) ordo_resize_hrow_avx512(src, dst, &plan);
            else if (level == LEVEL_AVX2) ordo_resize_hrow_avx2(src, dst, &plan);
#endif
            for (int g = 0; g < done / (lanes ? lanes : 1); g++)
                if (!plan.gtaps[g]) hrow_c(src, &kh, g * lanes, (g + 1) * lanes, dst);
            hrow_c(src, &kh, done, size, dst);
        }
        if (lanes) {
            free((void *)plan.tab);
            free((void *)plan.gtaps);
        }
        vsrc = tmp;
        pitch = (size_t)size * 3;
    }
    void (*vrow)(const unsigned char *, size_t, int, const int32_t *, int, float *) =
        ordo_resize_vrow_c;
#ifndef ORDO_NO_SIMD
    if (level == LEVEL_AVX512) vrow = ordo_resize_vrow_avx512;
    else if (level == LEVEL_AVX2) vrow = ordo_resize_vrow_avx2;
#endif
    const int32_t one = 1 << PREC_BITS;  /* weight 1: the crop alone, normalised */
    for (int y = 0; y < size; y++) {
        float *o = out + (size_t)y * size * 3;
        if (!need_v) vrow(vsrc + (size_t)y * pitch, pitch, 1, &one, size * 3, o);
        else
            vrow(vsrc + (size_t)(kv.first[y] - y0) * pitch, pitch, kv.count[y],
                 kv.k + (size_t)y * kv.ksize, size * 3, o);
    }
    free(tmp);
    kernel_free(&kh);
    kernel_free(&kv);
    return 0;
}
