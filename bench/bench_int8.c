/* bench_int8.c - how far ordo's int8 network strays from its fp32 network
 * on real photos: top-1 agreement and the cosine of the embeddings, with
 * and without the fp32 re-check of near-ties (net.h ordo_net_set_recheck).
 *   bench_int8 MODEL WEIGHTS THREADS LIST [PRECISION[@MARGIN]]
 * PRECISION: int8 (default) or one of its variants (nn/net.h); MARGIN: the
 * re-check threshold on int8's logit margin (default: the net's own; 0:
 * pure int8).
 * LIST: "SET PATH" a line (SET a free tag, e.g. sports100, imagenet,
 * calib); each photo is decoded and preprocessed once as `ordo scan` does,
 * then run through three nets: fp32, pure int8 (margin 0) and int8 with
 * the re-check. Prints one line per set and one for all:
 *   PRECISION MODEL set=S n=N recheck=T f=F top1_agree=P cos_mean=C
 *   cos_min=M int8_top1_agree=P0 int8_cos_mean=C0 int8_cos_min=M0
 * (f: the fraction re-checked; the first three figures with the re-check,
 * the int8_ ones without), a line "mismatch=K" counting the photos whose
 * re-checked output is not what the rule says (pure int8's output where
 * int8's margin >= T, fp32's to float rounding below: must be 0), and, to
 * stderr, the photos whose top-1 the re-checked net changed, with fp32's
 * softmax margin p(top-1) - p(top-2) on them.
 * env BENCH_INT8_DUMP=FILE: one line per photo for tuning the threshold:
 *   SET fp32_top1 int8_top1 int8_pmargin int8_lmargin fp32_pmargin int8_cos int8_top2
 *   |int8 embedding| PATH
 * (pmargin: softmax p1 - p2; lmargin: logit l1 - l2; all of pure int8).
 * env BENCH_INT8_GAPS=FILE: one line per photo for tools/recheck_tune.py's
 * noise model:
 *   SET fp32_top1 int8_top1 g2 .. g10 d2 .. d10
 * with c1..c10 pure int8's ten largest logits' classes in order,
 * g_j = l8[c1] - l8[c_j] (int8's gaps; g2 is the logit margin) and
 * d_j = g_j - (l32[c1] - l32[c_j]) (how far int8's gap strays from fp32's
 * for the same two classes). */
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
    long n, agree, agree8, rechecked;
    double cos_sum, cos_min, cos8_sum, cos8_min;
} tally;

static int argmax(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* p(top-1) - p(top-2) of softmax(v): how close the call was. */
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

/* l(top-1) - l(top-2). */
static double lmargin(const float *v, int n)
{
    float a = -INFINITY, b = -INFINITY;
    for (int i = 0; i < n; i++)
        if (v[i] > a) { b = a; a = v[i]; } else if (v[i] > b) b = v[i];
    return (double)a - b;
}

/* The index of the second largest value. */
static int second(const float *v, int n)
{
    const int a = argmax(v, n);
    int b = a ? 0 : 1;
    for (int i = 0; i < n; i++)
        if (i != a && v[i] > v[b]) b = i;
    return b;
}

/* The GAPS line of one photo (see the top): int8's ten largest logits. */
static void gaps(FILE *o, const char *set, int a, int b, const float *l32, const float *l8, int n)
{
    enum { K = 10 };
    int c[K];
    for (int k = 0; k < K; k++) {   /* selection: n is 1000, K 10 */
        int best = -1;
        for (int i = 0; i < n; i++) {
            int used = 0;
            for (int j = 0; j < k; j++) used |= c[j] == i;
            if (!used && (best < 0 || l8[i] > l8[best])) best = i;
        }
        c[k] = best;
    }
    fprintf(o, "%s %d %d", set, a, b);
    for (int k = 1; k < K; k++) fprintf(o, " %.6f", (double)l8[c[0]] - l8[c[k]]);
    for (int k = 1; k < K; k++)
        fprintf(o, " %.6f", ((double)l8[c[0]] - l8[c[k]]) - ((double)l32[c[0]] - l32[c[k]]));
    fputc('\n', o);
}

static double dot(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
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

static void add(tally *t, int agree, double c, int agree8, double c8, int rechecked)
{
    if (!t->n || c < t->cos_min) t->cos_min = c;
    if (!t->n || c8 < t->cos8_min) t->cos8_min = c8;
    t->n++;
    t->agree += agree;
    t->cos_sum += c;
    t->agree8 += agree8;
    t->cos8_sum += c8;
    t->rechecked += rechecked;
}

static int same(const float *a, const float *b, int n)
{
    return !memcmp(a, b, (size_t)n * sizeof *a);
}

static double max_rel(const float *a, const float *b, int n)
{
    double m = 0, s = 0;
    for (int i = 0; i < n; i++) {
        m = fmax(m, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)a[i]));
    }
    return s > 0 ? m / s : m;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: bench_int8 MODEL WEIGHTS THREADS LIST [PRECISION[@MARGIN]]\n");
        return 2;
    }
    char prec[64];
    snprintf(prec, sizeof prec, "%s", argc == 6 ? argv[5] : "int8");
    char *at = strchr(prec, '@');
    double t = -1;
    if (at) {
        *at = 0;
        t = atof(at + 1);
    }
    ordo_err err = { "" };
    const int threads = atoi(argv[3]);
    ordo_pth *w = ordo_pth_open(argv[2], &err);
    ordo_net *f32 = w ? ordo_net_create_prec(argv[1], w, threads, "fp32", &err) : NULL;
    ordo_net *p8 = f32 ? ordo_net_create_prec(argv[1], w, threads, prec, &err) : NULL;
    ordo_net *c8 = p8 ? ordo_net_create_prec(argv[1], w, threads, prec, &err) : NULL;
    ordo_pth_free(w);
    if (c8 && (ordo_net_set_recheck(p8, 0, &err) || (t >= 0 && ordo_net_set_recheck(c8, t, &err)))) {
        ordo_net_free(c8);
        c8 = NULL;
    }
    FILE *f = fopen(argv[4], "r");
    if (!c8 || !f) {
        fprintf(stderr, "bench_int8: %s\n", f ? err.msg : "cannot open the list");
        return 1;
    }
    t = ordo_net_recheck(c8);
    const char *dpath = getenv("BENCH_INT8_DUMP");
    FILE *dump = dpath && *dpath ? fopen(dpath, "w") : NULL;
    if (dpath && *dpath && !dump) {
        fprintf(stderr, "bench_int8: cannot write %s\n", dpath);
        return 1;
    }
    const char *gpath = getenv("BENCH_INT8_GAPS");
    FILE *gdump = gpath && *gpath ? fopen(gpath, "w") : NULL;
    if (gpath && *gpath && !gdump) {
        fprintf(stderr, "bench_int8: cannot write %s\n", gpath);
        return 1;
    }
    const int S = ordo_net_input_size(f32), C = ORDO_NET_CLASSES, E = ORDO_NET_EMBED;
    const ordo_img_opts io = { .min_side = ordo_img_min_side_for(S, CROP_FRAC) };
    float *in = malloc((size_t)BATCH * S * S * 3 * sizeof *in);
    float *la = malloc((size_t)BATCH * C * sizeof *la), *ea = malloc((size_t)BATCH * E * sizeof *ea);
    float *lb = malloc((size_t)BATCH * C * sizeof *lb), *eb = malloc((size_t)BATCH * E * sizeof *eb);
    float *lc = malloc((size_t)BATCH * C * sizeof *lc), *ec = malloc((size_t)BATCH * E * sizeof *ec);
    char (*paths)[1024] = malloc(BATCH * sizeof *paths);
    int sets[BATCH];
    tally tl[MAXSETS + 1] = { 0 };
    int nsets = 0;
    long mismatch = 0;
    snprintf(tl[MAXSETS].name, sizeof tl[MAXSETS].name, "all");
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
            while (s < nsets && strcmp(tl[s].name, line)) s++;
            if (s == nsets) {
                if (nsets == MAXSETS) continue;
                snprintf(tl[nsets++].name, sizeof tl[0].name, "%.31s", line);
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
                ordo_net_forward(p8, in, nb, lb, eb, &err) ||
                ordo_net_forward(c8, in, nb, lc, ec, &err)) {
                fprintf(stderr, "bench_int8: %s\n", err.msg);
                return 1;
            }
            for (int i = 0; i < nb; i++) {
                const float *l32 = la + (size_t)i * C, *l8 = lb + (size_t)i * C, *lr = lc + (size_t)i * C;
                const float *e32 = ea + (size_t)i * E, *e8 = eb + (size_t)i * E, *er = ec + (size_t)i * E;
                const int a = argmax(l32, C), b = argmax(l8, C), r = argmax(lr, C);
                const double pm = margin(l8, C), c = cosine(e32, er, E), c0 = cosine(e32, e8, E);
                const int re = !(lmargin(l8, C) >= t) && t > 0;
                /* The rule: pure int8's output bit for bit, or fp32's (which
                 * ran these rows in another batch: equal to float rounding). */
                if (re ? max_rel(l32, lr, C) > 1e-4 || max_rel(e32, er, E) > 1e-4
                       : !same(l8, lr, C) || !same(e8, er, E))
                    mismatch++;
                add(&tl[sets[i]], a == r, c, a == b, c0, re);
                add(&tl[MAXSETS], a == r, c, a == b, c0, re);
                if (a != r)
                    fprintf(stderr, "changed: %s fp32=%d int8=%d cos=%.4f margin=%.4f\n", paths[i],
                            a, r, c, margin(l32, C));
                if (dump)
                    fprintf(dump, "%s %d %d %.6f %.6f %.6f %.6f %d %.4f %s\n", tl[sets[i]].name, a,
                            b, pm, lmargin(l8, C), margin(l32, C), c0, second(l8, C),
                            sqrt(dot(e8, e8, E)), paths[i]);
                if (gdump) gaps(gdump, tl[sets[i]].name, a, b, l32, l8, C);
            }
            nb = 0;
        }
    }
    fclose(f);
    if (dump) fclose(dump);
    if (gdump) fclose(gdump);
    for (int s = 0; s <= MAXSETS; s++) {
        if (s >= nsets && s < MAXSETS) continue;
        const tally *x = &tl[s];
        const double n = x->n ? (double)x->n : 1.0;
        printf("%s %s set=%s n=%ld recheck=%g f=%.4f top1_agree=%.4f cos_mean=%.5f cos_min=%.5f "
               "int8_top1_agree=%.4f int8_cos_mean=%.5f int8_cos_min=%.5f\n",
               prec, argv[1], x->name, x->n, t, x->rechecked / n, x->agree / n, x->cos_sum / n,
               x->cos_min, x->agree8 / n, x->cos8_sum / n, x->cos8_min);
    }
    long rows, done;
    ordo_net_recheck_counts(c8, &rows, &done);
    printf("%s %s mismatch=%ld rechecked_by_net=%ld of %ld\n", prec, argv[1], mismatch, done, rows);
    ordo_net_free(f32);
    ordo_net_free(p8);
    ordo_net_free(c8);
    free(in); free(la); free(lb); free(lc); free(ea); free(eb); free(ec); free(paths);
    return mismatch != 0;
}
