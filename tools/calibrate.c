/* calibrate.c - writes src/nn/calib.c: the activation statistics of the
 * int8 networks (see src/nn/calib.h), measured by ordo's own networks.
 *   calibrate WEIGHTS_DIR PHOTO_LIST MODEL... > src/nn/calib.c
 * PHOTO_LIST: one image path a line. Each photo is decoded and
 * preprocessed exactly as `ordo scan` does, then each model's fp32 network
 * runs every photo; for every channel of every tensor the int8 network
 * quantizes: the smallest and largest value it takes over all the photos'
 * pixels (min-max calibration, the method onnxruntime.quantization's
 * default MinMax calibrator uses) and its mean (for bias correction, net.c
 * quant_layer). How the net turns these into scales: net.c, act_quant.
 * (Tried and dropped, lite0: empirical bias correction, the int8 net's
 * measured per-channel shortfall against fp32 added to its biases block by
 * block, moved the mean embedding cosine by 6e-5 over the analytic one.)
 * Run by tools/calibrate.sh, which chooses the photos. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img/img.h"
#include "nn/net.h"
#include "nn/pth.h"

#define CROP_FRAC 0.875f   /* as ORDO_SCAN_CROP_FRAC */

typedef struct pass {
    ordo_net_stats st;
    float *mean;           /* [nt] */
} pass;

static void pass_free(pass *p)
{
    free(p->st.lo);
    free(p->st.hi);
    free(p->st.sum);
    free(p->st.n);
    free(p->mean);
}

/* Runs net over the np preprocessed photos in[], one at a time. */
static int run(ordo_net *net, int nt, float *const *in, int np, pass *p, ordo_err *err)
{
    p->st.lo = calloc((size_t)nt, sizeof(float));
    p->st.hi = calloc((size_t)nt, sizeof(float));
    p->st.sum = calloc((size_t)nt, sizeof(double));
    p->st.n = calloc((size_t)nt, sizeof(double));
    p->mean = calloc((size_t)nt, sizeof(float));
    if (!p->st.lo || !p->st.hi || !p->st.sum || !p->st.n || !p->mean)
        return ordo_err_set(err, "out of memory");
    for (int i = 0; i < np; i++) {
        const float *x = in[i];
        if (ordo_net_observe(net, &x, 1, &p->st, err)) return -1;
    }
    for (int t = 0; t < nt; t++) p->mean[t] = p->st.n[t] > 0 ? (float)(p->st.sum[t] / p->st.n[t]) : 0.0f;
    return 0;
}

static void print_array(const char *model, const char *name, const float *v, int n)
{
    printf("static const float %s_%s[%d] = {", model, name, n);
    for (int t = 0; t < n; t++) printf("%s%.6g", !t ? "\n    " : t % 8 ? ", " : ",\n    ", v[t]);
    printf("\n};\n");
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: calibrate WEIGHTS_DIR PHOTO_LIST MODEL...\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char **paths = NULL;
    int np = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        paths = realloc(paths, (size_t)(np + 1) * sizeof *paths);
        paths[np++] = strdup(line);
    }
    fclose(f);
    printf("/* calib.c - written by tools/calibrate.sh: do not edit. The smallest and\n"
           " * largest value and the mean of every channel of every activation tensor\n"
           " * the int8 networks quantize (layout: calib.h), over %d calibration\n"
           " * photos (their list: tools/calibrate.sh; the method: tools/calibrate.c). */\n"
           "#include <string.h>\n\n#include \"nn/calib.h\"\n",
           np);
    for (int mi = 3; mi < argc; mi++) {
        const char *model = argv[mi];
        char wp[4096];
        snprintf(wp, sizeof wp, "%s/%s.pth", argv[1], model);
        ordo_err err = { "" };
        ordo_pth *w = ordo_pth_open(wp, &err);
        ordo_net *net = w ? ordo_net_create(model, w, 1, &err) : NULL;
        if (!net) {
            fprintf(stderr, "calibrate: %s\n", err.msg);
            return 1;
        }
        int nout;
        int ndw;
        const int S = ordo_net_input_size(net), nt = ordo_net_tensors(net, &nout, &ndw);
        const int nstem = ordo_net_tensors_stem(net);   /* the last ranges: stem out, input */
        const int nex = nt - nout - ndw - nstem - 3;
        const ordo_img_opts io = { .min_side = ordo_img_min_side_for(S, CROP_FRAC) };
        float **in = calloc((size_t)np, sizeof *in);
        int used = 0;
        for (int i = 0; i < np; i++) {
            ordo_image im;
            float *x = malloc((size_t)S * S * 3 * sizeof *x);
            if (!x || ordo_img_load(paths[i], &io, &im, &err) ||
                ordo_img_preprocess(&im, S, CROP_FRAC, x, &err)) {
                fprintf(stderr, "calibrate: %s: %s (skipped)\n", paths[i], err.msg);
                free(x);
                continue;
            }
            ordo_image_free(&im);
            in[used++] = x;
        }
        pass ref = { 0 };
        if (run(net, nt, in, used, &ref, &err)) {
            fprintf(stderr, "calibrate: %s\n", err.msg);
            return 1;
        }
        ordo_net_free(net);
        printf("\n/* %s: %d photos */\n", model, used);
        print_array(model, "out_lo", ref.st.lo, nout);
        print_array(model, "out_hi", ref.st.hi, nout);
        print_array(model, "out_mean", ref.mean, nout);
        print_array(model, "dw_hi", ref.st.hi + nout, ndw);
        print_array(model, "dw_mean", ref.mean + nout, ndw);
        print_array(model, "ex_hi", ref.st.hi + nout + ndw, nex);
        print_array(model, "ex_mean", ref.mean + nout + ndw, nex);
        print_array(model, "stem_hi", ref.st.hi + nout + ndw + nex, nstem);
        print_array(model, "stem_mean", ref.mean + nout + ndw + nex, nstem);
        print_array(model, "in_mean", ref.mean + nout + ndw + nex + nstem, 3);
        fprintf(stderr, "calibrate: %s: %d photos\n", model, used);
        pass_free(&ref);
        for (int i = 0; i < used; i++) free(in[i]);
        free(in);
        ordo_pth_free(w);
    }
    printf("\nstatic const ordo_net_calib tables[] = {\n");
    for (int mi = 3; mi < argc; mi++) {
        const char *m = argv[mi];
        printf("    { \"%s\", (int)(sizeof %s_dw_hi / sizeof %s_dw_hi[0]),\n"
               "      (int)(sizeof %s_out_hi / sizeof %s_out_hi[0]),\n"
               "      %s_out_lo, %s_out_hi, %s_out_mean, %s_dw_hi, %s_dw_mean,\n"
               "      (int)(sizeof %s_ex_hi / sizeof %s_ex_hi[0]), %s_ex_hi, %s_ex_mean,\n"
               "      (int)(sizeof %s_stem_hi / sizeof %s_stem_hi[0]), %s_stem_hi, %s_stem_mean,\n"
               "      %s_in_mean },\n",
               m, m, m, m, m, m, m, m, m, m, m, m, m, m, m, m, m, m, m);
    }
    printf("};\n\nconst ordo_net_calib *ordo_net_calib_find(const char *model)\n{\n"
           "    for (size_t i = 0; model && i < sizeof tables / sizeof tables[0]; i++)\n"
           "        if (!strcmp(tables[i].model, model)) return &tables[i];\n"
           "    return NULL;\n}\n");
    for (int i = 0; i < np; i++) free(paths[i]);
    free(paths);
    return 0;
}
