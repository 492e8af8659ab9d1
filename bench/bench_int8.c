/* bench_int8.c - how far ordo's int8 network strays from its fp32 network
 * on real photos: top-1 agreement and the cosine of the embeddings.
 *   bench_int8 MODEL WEIGHTS THREADS LIST [PRECISION]
 * PRECISION: int8 (default) or one of its variants (nn/net.h).
 * LIST: "SET PATH" a line (SET a free tag, e.g. sports100, imagenet,
 * calib); each photo is decoded and preprocessed once as `ordo scan` does,
 * then run through both networks. Prints one line per set and one for all:
 *   PRECISION MODEL set=S n=N top1_agree=P cos_mean=C cos_min=M
 * and, to stderr, the photos whose top-1 changed, with fp32's softmax
 * margin p(top-1) - p(top-2) on them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img/img.h"
#include "nn/net.h"
#include "nn/pth.h"

#define CROP_FRAC 0.875f
#define BATCH 32
#define MAXSETS 8

typedef struct tally {
    char name[32];
    long n, agree;
    double cos_sum, cos_min;
} tally;

static int argmax(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* p(top-1) - p(top-2) of softmax(v): how close the fp32 call was. */
static double margin(const float *v, int n)
{
    double mx = v[0], z = 0, p1 = 0, p2 = 0;
    for (int i = 1; i < n; i++) mx = v[i] > mx ? v[i] : mx;
    for (int i = 0; i < n; i++) {
        const double p = exp(v[i] - mx);
        z += p;
        if (p > p1) { p2 = p1; p1 = p; } else if (p > p2) p2 = p;
    }
    return (p1 - p2) / z;
}

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 1.0;
}

static void add(tally *t, int agree, double c)
{
    if (!t->n || c < t->cos_min) t->cos_min = c;
    t->n++;
    t->agree += agree;
    t->cos_sum += c;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: bench_int8 MODEL WEIGHTS THREADS LIST [PRECISION]\n");
        return 2;
    }
    const char *prec = argc == 6 ? argv[5] : "int8";
    ordo_err err = { "" };
    ordo_pth *w = ordo_pth_open(argv[2], &err);
    ordo_net *f32 = w ? ordo_net_create_prec(argv[1], w, atoi(argv[3]), "fp32", &err) : NULL;
    ordo_net *i8 = f32 ? ordo_net_create_prec(argv[1], w, atoi(argv[3]), prec, &err) : NULL;
    ordo_pth_free(w);
    FILE *f = fopen(argv[4], "r");
    if (!i8 || !f) {
        fprintf(stderr, "bench_int8: %s\n", f ? err.msg : "cannot open the list");
        return 1;
    }
    const int S = ordo_net_input_size(f32);
    const ordo_img_opts io = { .min_side = ordo_img_min_side_for(S, CROP_FRAC) };
    float *in = malloc((size_t)BATCH * S * S * 3 * sizeof *in);
    float *la = malloc((size_t)BATCH * ORDO_NET_CLASSES * sizeof *la);
    float *lb = malloc((size_t)BATCH * ORDO_NET_CLASSES * sizeof *lb);
    float *ea = malloc((size_t)BATCH * ORDO_NET_EMBED * sizeof *ea);
    float *eb = malloc((size_t)BATCH * ORDO_NET_EMBED * sizeof *eb);
    char (*paths)[1024] = malloc(BATCH * sizeof *paths);
    int sets[BATCH];
    tally t[MAXSETS + 1] = { 0 };
    int nsets = 0;
    snprintf(t[MAXSETS].name, sizeof t[MAXSETS].name, "all");
    char line[2048];
    int nb = 0, eof = 0;
    while (!eof) {
        eof = !fgets(line, sizeof line, f);
        if (!eof) {
            line[strcspn(line, "\n")] = 0;
            char *sp = strchr(line, ' ');
            if (!sp) continue;
            *sp = 0;
            int s = 0;
            while (s < nsets && strcmp(t[s].name, line)) s++;
            if (s == nsets) {
                if (nsets == MAXSETS) continue;
                snprintf(t[nsets++].name, sizeof t[0].name, "%.31s", line);
            }
            ordo_image im;
            if (ordo_img_load(sp + 1, &io, &im, &err) ||
                ordo_img_preprocess(&im, S, CROP_FRAC, in + (size_t)nb * S * S * 3, &err)) {
                fprintf(stderr, "bench_int8: %s: %s (skipped)\n", sp + 1, err.msg);
                continue;
            }
            ordo_image_free(&im);
            sets[nb] = s;
            snprintf(paths[nb], sizeof paths[0], "%s", sp + 1);
            nb++;
        }
        if (nb == BATCH || (eof && nb)) {
            if (ordo_net_forward(f32, in, nb, la, ea, &err) ||
                ordo_net_forward(i8, in, nb, lb, eb, &err)) {
                fprintf(stderr, "bench_int8: %s\n", err.msg);
                return 1;
            }
            for (int i = 0; i < nb; i++) {
                const int a = argmax(la + (size_t)i * ORDO_NET_CLASSES, ORDO_NET_CLASSES);
                const int b = argmax(lb + (size_t)i * ORDO_NET_CLASSES, ORDO_NET_CLASSES);
                const double c = cosine(ea + (size_t)i * ORDO_NET_EMBED,
                                        eb + (size_t)i * ORDO_NET_EMBED, ORDO_NET_EMBED);
                add(&t[sets[i]], a == b, c);
                add(&t[MAXSETS], a == b, c);
                if (a != b)
                    fprintf(stderr, "changed: %s fp32=%d int8=%d cos=%.4f margin=%.4f\n", paths[i],
                            a, b, c, margin(la + (size_t)i * ORDO_NET_CLASSES, ORDO_NET_CLASSES));
            }
            nb = 0;
        }
    }
    fclose(f);
    for (int s = 0; s <= MAXSETS; s++) {
        if (s >= nsets && s < MAXSETS) continue;
        printf("%s %s set=%s n=%ld top1_agree=%.4f cos_mean=%.5f cos_min=%.5f\n", prec, argv[1],
               t[s].name, t[s].n, t[s].n ? (double)t[s].agree / t[s].n : 0.0,
               t[s].n ? t[s].cos_sum / t[s].n : 0.0, t[s].cos_min);
    }
    ordo_net_free(f32);
    ordo_net_free(i8);
    return 0;
}
