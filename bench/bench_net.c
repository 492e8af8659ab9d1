/* bench_net.c - images/s of ordo's network alone on preprocessed batches.
 *   bench_net MODEL WEIGHTS.pth THREADS BATCH SECONDS [PRECISION[@MARGIN]]
 * prints one line: "ENGINE MODEL threads=T batch=B kernel=K img/s=X rss_mb=Y
 * cpu_ms/img=Z [recheck=M f=F]" (ENGINE: ordo for fp32, ordo-int8 for
 * int8, else the precision as given; Z: CPU time per image, a
 * load-independent diagnostic; int8 nets: their re-check threshold on the
 * int8 logit margin, MARGIN if given (net.h ordo_net_set_recheck), and f,
 * the fraction of images the fp32 re-check ran).
 * The input is deterministic pseudo-random data in [-1, 1] (the network's
 * speed does not depend on the pixel values), or with env
 * BENCH_NET_PHOTOS=LIST (a path a line, or "SET PATH" as bench_int8's
 * lists) those photos, decoded and preprocessed once as `ordo scan` does,
 * taken in turn: an int8 net's re-check runs on the near-ties of real
 * photos, so its speed depends on them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "img/img.h"
#include "nn/net.h"
#include "nn/pth.h"

static double cpu(void)   /* user + system seconds of this process */
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The photos of LIST (the last field of each line), preprocessed into one
 * buffer of *n images of S x S x 3. */
static float *load_photos(const char *list, int S, int *n, int *bad)
{
    FILE *f = fopen(list, "r");
    if (!f) return NULL;
    const size_t isz = (size_t)S * S * 3;
    const ordo_img_opts io = { .min_side = ordo_img_min_side_for(S, 0.875f) };
    float *buf = NULL;
    int cap = 0;
    char line[4096];
    *n = *bad = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        /* "SET PATH" (a tag without '/', then the path, which may hold
         * spaces: sports100's class folders do) or just "PATH". */
        char *p = strchr(line, ' ');
        p = p && !memchr(line, '/', (size_t)(p - line)) ? p + 1 : line;
        if (!*p) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            float *nb = realloc(buf, (size_t)cap * isz * sizeof *buf);
            if (!nb) break;
            buf = nb;
        }
        ordo_image im;
        ordo_err err = { "" };
        if (ordo_img_load(p, &io, &im, &err)) {
            (*bad)++;
            continue;
        }
        if (!ordo_img_preprocess(&im, S, 0.875f, buf + (size_t)*n * isz, &err)) (*n)++;
        else (*bad)++;
        ordo_image_free(&im);
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: bench_net MODEL WEIGHTS THREADS BATCH SECONDS [fp32|int8|int8+VARIANT][@MARGIN]\n");
        return 2;
    }
    const int threads = atoi(argv[3]), batch = atoi(argv[4]);
    const double secs = atof(argv[5]);
    char prec[64];
    snprintf(prec, sizeof prec, "%s", argc == 7 ? argv[6] : "fp32");
    char *at = strchr(prec, '@');
    if (at) *at = 0;
    const int S = ordo_net_model_size(argv[1]);
    ordo_err err = { "" };
    ordo_pth *w = ordo_pth_open(argv[2], &err);
    ordo_net *net = w ? ordo_net_create_prec(argv[1], w, threads, prec, &err) : NULL;
    if (net && at && ordo_net_set_recheck(net, atof(at + 1), &err)) {
        ordo_net_free(net);
        net = NULL;
    }
    if (!net || S == 0 || batch < 1) {
        fprintf(stderr, "bench_net: %s\n", err.msg);
        return 1;
    }
    ordo_pth_free(w);   /* the net keeps its own packed copy */
    const size_t isz = (size_t)S * S * 3;
    const char *list = getenv("BENCH_NET_PHOTOS");
    int np = 0, bad = 0;
    float *in = list && *list ? load_photos(list, S, &np, &bad) : malloc((size_t)batch * isz * sizeof *in);
    if (bad) fprintf(stderr, "bench_net: %s: %d photos could not be read (left out)\n", list, bad);
    if (list && *list && np < batch) {
        fprintf(stderr, "bench_net: %s: %d photos, fewer than a batch\n", list, np);
        return 1;
    }
    float *logits = malloc((size_t)batch * 1000 * sizeof *logits);
    float *embed = malloc((size_t)batch * 1280 * sizeof *embed);
    const float **ins = malloc((size_t)batch * sizeof *ins);
    if (!in || !logits || !embed || !ins) return 1;
    if (!np) {
        unsigned s = 12345;
        for (size_t i = 0; i < (size_t)batch * isz; i++) {
            s = s * 1103515245u + 12345u;
            in[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
        }
        np = batch;
    }
    long next = 0;   /* the photos in turn, batch after batch */
    for (int i = 0; i < batch; i++) ins[i] = in + (size_t)((next + i) % np) * isz;
    if (ordo_net_forward_each(net, ins, batch, logits, embed, &err)) {   /* warm-up */
        fprintf(stderr, "bench_net: %s\n", err.msg);
        return 1;
    }
    long rows0, re0;
    ordo_net_recheck_counts(net, &rows0, &re0);
    long images = 0;
    double t0 = now(), c0 = cpu(), t;
    do {
        for (int i = 0; i < batch; i++) ins[i] = in + (size_t)((next + i) % np) * isz;
        next = (next + batch) % np;
        ordo_net_forward_each(net, ins, batch, logits, embed, &err);
        images += batch;
        t = now() - t0;
    } while (t < secs || images < 2L * batch);
    const double c = cpu() - c0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long rows, re;
    ordo_net_recheck_counts(net, &rows, &re);
    const char *eng = argc == 7 ? argv[6] : "fp32";
    printf("%s %s threads=%d batch=%d kernel=%s img/s=%.2f rss_mb=%.1f cpu_ms/img=%.2f",
           !strcmp(eng, "fp32") ? "ordo" : !strcmp(eng, "int8") ? "ordo-int8" : eng, argv[1],
           threads, batch, ordo_net_kernel(net), images / t, ru.ru_maxrss / 1024.0,
           c * 1e3 / images);
    if (strcmp(prec, "fp32"))
        printf(" recheck=%g f=%.4f", ordo_net_recheck(net),
               rows > rows0 ? (double)(re - re0) / (rows - rows0) : 0.0);
    printf("\n");
    ordo_net_free(net);
    free(in); free(logits); free(embed); free(ins);
    return 0;
}
