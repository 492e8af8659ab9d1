/* bench_camera.c - where the CPU of a scan of camera-size photos goes, stage
 * by stage, as `ordo scan` runs them (one thread, so each figure is the
 * stage's own CPU time):
 *   read    the file into memory and its XXH3-128 content hash (as scan.c)
 *   decode  ordo_img_decode at the DCT scale the network's size allows
 *           (entropy decoding + the scaled IDCT + colour conversion)
 *   resize  ordo_img_preprocess: bicubic resize, centre crop, normalise
 *   net     the network, in batches of 16, per precision given
 *   bench_camera MODEL WEIGHTS PRECISION[,PRECISION] FILE...
 * prints "stage=NAME ms/img=X" lines, the decoded size, and for each
 * precision the rate 2 cores allow: 2000 / (sum of the stages' ms/img).
 * The store (SQLite rows, scores, matrices) is measured by bench_store.sh:
 * about 0.04 ms an image, left out here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "img/img.h"
#include "img/img_internal.h"
#include "nn/net.h"
#include "nn/pth.h"

#define CROP_FRAC 0.875f
#define BATCH 16

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_camera MODEL WEIGHTS PRECISION[,PRECISION] FILE...\n");
        return 2;
    }
    const int S = ordo_net_model_size(argv[1]), n = argc - 4;
    if (!S) return 2;
    const ordo_img_opts io = { .min_side = ordo_img_min_side_for(S, CROP_FRAC) };
    float *in = malloc((size_t)n * S * S * 3 * sizeof *in);
    double t_read = 0, t_dec = 0, t_prep = 0, t_all = 0, mpx = 0, dpx = 0;
    int nprog = 0;
    unsigned long long sink = 0;
    ordo_err err = { "" };
    int ok = 0;
    for (int i = 0; i < n; i++) {
        double t0 = cpu_ms();
        FILE *f = fopen(argv[4 + i], "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        const long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *buf = malloc((size_t)len);
        const size_t got = fread(buf, 1, (size_t)len, f);
        fclose(f);
        sink += XXH3_128bits(buf, got).low64;
        double t1 = cpu_ms();
        ordo_image im;
        if (ordo_img_decode(buf, got, &io, &im, &err)) {
            fprintf(stderr, "%s: %s\n", argv[4 + i], err.msg);
            free(buf);
            continue;
        }
        double t2 = cpu_ms();
        if (got > 3 && buf[0] == 0xFF && buf[1] == 0xD8) {
            /* the same decode with every scan of a progressive file (jpeg.c
             * leaves out the ones the DCT scale cannot see): what the lean
             * decode saves. SOF2 is the progressive frame marker. */
            int prog = 0;
            for (size_t k = 2; k + 1 < got && !prog; k++)
                prog = buf[k] == 0xFF && buf[k + 1] == 0xC2;
            if (prog) {
                ordo_image full;
                const double a = cpu_ms();
                if (!ordo_img_decode_jpeg_scans(buf, got, io.min_side, ORDO_IMG_DEFAULT_MAX_PIXELS,
                                                1, &full, &err)) {
                    t_all += cpu_ms() - a;
                    nprog++;
                    ordo_image_free(&full);
                }
            }
        }
        const double t2b = cpu_ms();
        ordo_img_preprocess(&im, S, CROP_FRAC, in + (size_t)ok * S * S * 3, &err);
        double t3 = cpu_ms();
        t_read += t1 - t0;
        t_dec += t2 - t1;
        t_prep += t3 - t2b;
        mpx += (double)im.orig_w * im.orig_h / 1e6;
        dpx += (double)im.w * im.h / 1e6;
        ordo_image_free(&im);
        free(buf);
        ok++;
    }
    if (!ok) return 1;
    printf("photos=%d mean_mpx=%.1f decoded_mpx=%.2f (DCT scaling) hash=%llx\n", ok, mpx / ok,
           dpx / ok, sink & 0xff);
    printf("stage=read ms/img=%.2f\nstage=decode ms/img=%.2f\nstage=resize ms/img=%.2f\n",
           t_read / ok, t_dec / ok, t_prep / ok);
    if (nprog)
        printf("progressive=%d decode-all-scans ms/img=%.2f (lean decode: %.2fx less CPU)\n",
               nprog, t_all / nprog, t_all / t_dec);
    char precs[64];
    snprintf(precs, sizeof precs, "%s", argv[3]);
    ordo_pth *w = ordo_pth_open(argv[2], &err);
    float *logits = malloc((size_t)BATCH * 1000 * sizeof *logits);
    float *embed = malloc((size_t)BATCH * 1280 * sizeof *embed);
    for (char *p = strtok(precs, ","); p && w; p = strtok(NULL, ",")) {
        ordo_net *net = ordo_net_create_prec(argv[1], w, 1, p, &err);
        if (!net) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        ordo_net_forward(net, in, ok < BATCH ? ok : BATCH, logits, embed, &err);   /* warm-up */
        double t0 = cpu_ms();
        for (int i = 0; i < ok; i += BATCH)
            ordo_net_forward(net, in + (size_t)i * S * S * 3, ok - i < BATCH ? ok - i : BATCH,
                             logits, embed, &err);
        const double t_net = (cpu_ms() - t0) / ok, sum = t_read / ok + t_dec / ok + t_prep / ok + t_net;
        printf("stage=net-%s ms/img=%.2f\nallowed-%s img/s=%.1f (2 cores / %.2f ms)\n", p, t_net, p,
               2000.0 / sum, sum);
        ordo_net_free(net);
    }
    ordo_pth_free(w);
    return 0;
}
