/* calibrate.c - writes src/nn/calib.c: the activation ranges of the int8
 * networks (see src/nn/calib.h), measured by ordo's own fp32 network.
 *   calibrate WEIGHTS_DIR PHOTO_LIST MODEL... > src/nn/calib.c
 * PHOTO_LIST: one image path a line. Each photo is decoded and
 * preprocessed exactly as `ordo scan` does; the range of a tensor is the
 * largest |x| it takes over all the photos (min-max calibration, the
 * method onnxruntime.quantization's default MinMax calibrator uses). Run
 * by tools/calibrate.sh, which chooses the photos. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img/img.h"
#include "nn/net.h"
#include "nn/pth.h"

#define CROP_FRAC 0.875f   /* as ORDO_SCAN_CROP_FRAC */

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
    printf("/* calib.c - written by tools/calibrate.sh: do not edit. The largest |x| of\n"
           " * every activation tensor the int8 networks quantize (layout: calib.h),\n"
           " * over %d calibration photos (their list: tools/calibrate.sh). */\n"
           "#include <string.h>\n\n#include \"nn/calib.h\"\n",
           np);
    for (int mi = 3; mi < argc; mi++) {
        const char *model = argv[mi];
        char wp[4096];
        snprintf(wp, sizeof wp, "%s/%s.pth", argv[1], model);
        ordo_err err = { "" };
        ordo_pth *w = ordo_pth_open(wp, &err);
        ordo_net *net = w ? ordo_net_create(model, w, 1, &err) : NULL;
        ordo_pth_free(w);
        if (!net) {
            fprintf(stderr, "calibrate: %s\n", err.msg);
            return 1;
        }
        int nout;
        const int S = ordo_net_input_size(net), nt = ordo_net_tensors(net, &nout);
        float *maxes = calloc((size_t)nt, sizeof *maxes);
        float *in = malloc((size_t)S * S * 3 * sizeof *in);
        const ordo_img_opts io = { .min_side = ordo_img_min_side_for(S, CROP_FRAC) };
        int used = 0;
        for (int i = 0; i < np; i++) {
            ordo_image im;
            if (ordo_img_load(paths[i], &io, &im, &err) ||
                ordo_img_preprocess(&im, S, CROP_FRAC, in, &err)) {
                fprintf(stderr, "calibrate: %s: %s (skipped)\n", paths[i], err.msg);
                continue;
            }
            ordo_image_free(&im);
            const float *p = in;
            if (ordo_net_observe(net, &p, 1, maxes, &err)) {
                fprintf(stderr, "calibrate: %s\n", err.msg);
                return 1;
            }
            used++;
        }
        const int ndw = nt - nout;
        printf("\n/* %s: %d photos */\nstatic const float %s_out[%d] = {", model, used, model, nout);
        for (int t = 0; t < nout; t++) printf("%s%.6g", !t ? "\n    " : t % 8 ? ", " : ",\n    ", maxes[t]);
        printf("\n};\nstatic const float %s_dw[%d] = {", model, ndw);
        for (int t = 0; t < ndw; t++) printf("%s%.6g", !t ? "\n    " : t % 8 ? ", " : ",\n    ", maxes[nout + t]);
        printf("\n};\n");
        fprintf(stderr, "calibrate: %s: %d photos\n", model, used);
        free(maxes);
        free(in);
        ordo_net_free(net);
    }
    printf("\nstatic const ordo_net_calib tables[] = {\n");
    for (int mi = 3; mi < argc; mi++)
        printf("    { \"%s\", (int)(sizeof %s_dw / sizeof %s_dw[0]),\n"
               "      (int)(sizeof %s_out / sizeof %s_out[0]), %s_out, %s_dw },\n",
               argv[mi], argv[mi], argv[mi], argv[mi], argv[mi], argv[mi], argv[mi]);
    printf("};\n\nconst ordo_net_calib *ordo_net_calib_find(const char *model)\n{\n"
           "    for (size_t i = 0; model && i < sizeof tables / sizeof tables[0]; i++)\n"
           "        if (!strcmp(tables[i].model, model)) return &tables[i];\n"
           "    return NULL;\n}\n");
    for (int i = 0; i < np; i++) free(paths[i]);
    free(paths);
    return 0;
}
