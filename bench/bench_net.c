/* bench_net.c - images/s of ordo's network alone on preprocessed batches.
 *   bench_net MODEL WEIGHTS.pth THREADS BATCH SECONDS [PRECISION]
 * prints one line: "ordo[-int8] MODEL threads=T batch=B kernel=K img/s=X rss_mb=Y
 * cpu_ms/img=Z" (Z: CPU time per image, a load-independent diagnostic).
 * The input is deterministic pseudo-random data in [-1, 1] (the network's
 * speed does not depend on the pixel values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

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

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: bench_net MODEL WEIGHTS THREADS BATCH SECONDS [fp32|int8|int8+VARIANT]\n");
        return 2;
    }
    const int threads = atoi(argv[3]), batch = atoi(argv[4]);
    const double secs = atof(argv[5]);
    const char *prec = argc == 7 ? argv[6] : "fp32";
    const int S = ordo_net_model_size(argv[1]);
    ordo_err err = { "" };
    ordo_pth *w = ordo_pth_open(argv[2], &err);
    ordo_net *net = w ? ordo_net_create_prec(argv[1], w, threads, prec, &err) : NULL;
    if (!net || S == 0 || batch < 1) {
        fprintf(stderr, "bench_net: %s\n", err.msg);
        return 1;
    }
    ordo_pth_free(w);   /* the net keeps its own packed copy */
    size_t n = (size_t)batch * S * S * 3;
    float *in = malloc(n * sizeof *in), *logits = malloc((size_t)batch * 1000 * sizeof *logits);
    float *embed = malloc((size_t)batch * 1280 * sizeof *embed);
    if (!in || !logits || !embed) return 1;
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        in[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    if (ordo_net_forward(net, in, batch, logits, embed, &err)) {   /* warm-up */
        fprintf(stderr, "bench_net: %s\n", err.msg);
        return 1;
    }
    long images = 0;
    double t0 = now(), c0 = cpu(), t;
    do {
        ordo_net_forward(net, in, batch, logits, embed, &err);
        images += batch;
        t = now() - t0;
    } while (t < secs || images < 2L * batch);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s %s threads=%d batch=%d kernel=%s img/s=%.2f rss_mb=%.1f cpu_ms/img=%.2f\n",
           !strcmp(prec, "fp32") ? "ordo" : !strcmp(prec, "int8") ? "ordo-int8" : prec, argv[1], threads, batch, ordo_net_kernel(net), images / t, ru.ru_maxrss / 1024.0,
           (cpu() - c0) * 1e3 / images);
    ordo_net_free(net);
    free(in); free(logits); free(embed);
    return 0;
}
