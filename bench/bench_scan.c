/* bench_scan.c - the network alone, on real preprocessed images, with the
 * batch size and thread count a scan uses: the anchor for bench_scan.sh.
 *
 *   bench_scan_net MODEL THREADS BATCH SECONDS IMAGE...
 *
 * Decodes and preprocesses the given images once, then runs ordo_net_forward
 * on batches of BATCH of them for SECONDS. Prints one line:
 *   net MODEL threads T batch B: X images/s wall, Y images per CPU-second
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "img/img.h"
#include "nn/net.h"
#include "nn/pth.h"
#include "nn/weights.h"
#include "scan/scan.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: bench_scan_net MODEL THREADS BATCH SECONDS IMAGE...\n");
        return 2;
    }
    const char *model = argv[1];
    int threads = atoi(argv[2]), batch = atoi(argv[3]);
    double secs = atof(argv[4]);
    ordo_err err = {{0}};
    char wpath[4096];
    ordo_pth *pth;
    ordo_net *net;
    if (ordo_weights_path(NULL, model, wpath, sizeof wpath, &err) ||
        !(pth = ordo_pth_open(wpath, &err)) ||
        !(net = ordo_net_create(model, pth, threads, &err))) {
        fprintf(stderr, "bench_scan_net: %s\n", err.msg);
        return 1;
    }
    ordo_pth_free(pth);
    int S = ordo_net_input_size(net);
    size_t per = (size_t)S * S * 3;
    float *in = malloc((size_t)batch * per * sizeof(float));
    float *logits = malloc((size_t)batch * ORDO_NET_CLASSES * sizeof(float));
    float *embed = malloc((size_t)batch * ORDO_NET_EMBED * sizeof(float));
    ordo_img_opts io = {.min_side = ordo_img_min_side_for(S, ORDO_SCAN_CROP_FRAC)};
    int nimg = argc - 5;
    for (int i = 0; i < batch; i++) {
        ordo_image im;
        if (ordo_img_load(argv[5 + i % nimg], &io, &im, &err) ||
            ordo_img_preprocess(&im, S, ORDO_SCAN_CROP_FRAC, in + (size_t)i * per, &err)) {
            fprintf(stderr, "bench_scan_net: %s: %s\n", argv[5 + i % nimg], err.msg);
            return 1;
        }
        ordo_image_free(&im);
    }
    ordo_net_forward(net, in, batch, logits, embed, &err);   /* warm-up */
    long done = 0;
    double t0 = now(), c0 = cpu_s();
    while (now() - t0 < secs) {
        if (ordo_net_forward(net, in, batch, logits, embed, &err)) {
            fprintf(stderr, "bench_scan_net: %s\n", err.msg);
            return 1;
        }
        done += batch;
    }
    double t = now() - t0, c = cpu_s() - c0;
    printf("net %s threads %d batch %d: %.1f images/s wall, %.1f images per CPU-second\n", model,
           threads, batch, done / t, done / c);
    free(in);
    free(logits);
    free(embed);
    ordo_net_free(net);
    return 0;
}
