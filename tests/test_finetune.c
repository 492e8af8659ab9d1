/* test_finetune.c - the finetune learner (learn/finetune.h), the activation
 * cache (store/store_cut.h) and the network's cut (nn/net.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/f16.h"
#include "learn/finetune.h"
#include "nn/net.h"
#include "nn/pth.h"
#include "nn/weights.h"
#include "store/store_cut.h"
#include "test.h"

static uint64_t rs = 88172645463325252ull;
static double urand(void)   /* xorshift64 in [0, 1) */
{
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}
static double nrand(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* A tiny problem: n images of P = 4 pixels (2 x 2) and C channels. */
typedef struct toy {
    int n, P, C, D, K;
    uint16_t *acts;
    int64_t *slot;
    float *w0, *b0;
    int *y;
} toy;

static void toy_make(toy *t, int n, int C, int D, int K, double sep)
{
    t->n = n; t->P = 4; t->C = C; t->D = D; t->K = K;
    size_t rl = (size_t)t->P * C;
    float *row = malloc(rl * sizeof *row);
    t->acts = malloc((size_t)n * rl * sizeof *t->acts);
    t->slot = malloc((size_t)n * sizeof *t->slot);
    t->y = malloc((size_t)n * sizeof *t->y);
    t->w0 = malloc((size_t)C * D * sizeof *t->w0);
    t->b0 = malloc((size_t)D * sizeof *t->b0);
    for (int i = 0; i < n; i++) {
        t->y[i] = i % K;
        /* the class shows in channel y at the left column only, so a head
         * that keeps left-right information can separate it */
        for (size_t j = 0; j < rl; j++) row[j] = (float)(nrand() * 1.5);
        for (int p = 0; p < t->P; p += 2) row[(size_t)p * C + t->y[i]] += (float)sep;
        ordo_f16_from_f32(row, t->acts + (size_t)(n - 1 - i) * rl, rl);
        t->slot[i] = n - 1 - i;   /* rows reach the cache out of order */
    }
    for (int j = 0; j < C * D; j++) t->w0[j] = (float)(nrand() * 0.8);
    for (int j = 0; j < D; j++) t->b0[j] = (float)(1.0 + nrand());
    free(row);
}

static void toy_free(toy *t)
{
    free(t->acts); free(t->slot); free(t->y); free(t->w0); free(t->b0);
}

static ordo_learn_ft_data toy_data(const toy *t)
{
    return (ordo_learn_ft_data){.acts = t->acts, .slot = t->slot, .P = t->P, .C = t->C,
                                .D = t->D, .w0 = t->w0, .b0 = t->b0};
}

/* Central differences against the backward pass, every parameter, with
 * crop windows on some rows. ReLU6's kinks: a step of h moves few pre-activations
 * across 0 or 6, so the check is on the relative error over all
 * parameters' median-scaled error, and the worst one is reported. */
static void t_gradient(void)
{
    toy t;
    toy_make(&t, 6, 5, 7, 3, 1.0);
    ordo_learn_ft_data d = toy_data(&t);
    const int C = t.C, D = t.D, K = t.K;
    size_t idx[6] = {0, 1, 2, 3, 4, 5};
    int y[6];
    /* pooling weights: rows 1, 3 pool over part of the map (a crop) */
    float fl[24];
    for (int i = 0; i < 24; i++) fl[i] = 0.25f;
    fl[4] = fl[5] = 0; fl[6] = fl[7] = 0.5f;
    fl[12] = 1; fl[13] = fl[14] = fl[15] = 0;
    for (int i = 0; i < 6; i++) y[i] = t.y[i];
    float *W = malloc((size_t)C * D * sizeof *W), *b = malloc((size_t)D * sizeof *b);
    float *V = malloc((size_t)D * K * sizeof *V), c[3];
    for (int j = 0; j < C * D; j++) W[j] = t.w0[j] + (float)(0.1 * nrand());
    for (int j = 0; j < D; j++) b[j] = t.b0[j] + (float)(0.1 * nrand());
    for (int j = 0; j < D * K; j++) V[j] = (float)nrand();
    for (int j = 0; j < K; j++) c[j] = (float)nrand();
    float *gW = malloc((size_t)C * D * sizeof *gW), *gb = malloc((size_t)D * sizeof *gb);
    float *gV = malloc((size_t)D * K * sizeof *gV), gc[3];
    ordo_err err = {0};
    const double beta = 0.05, gamma = 0.02;
    double f0 = ordo_learn_ft_loss(&d, idx, 6, y, fl, K, W, b, V, c, beta, gamma, gW, gb, gV, gc,
                                   &err);
    CHECK(isfinite(f0));
    const float h = 1e-3f;
    int n = C * D + D + D * K + K, bad = 0;
    double worst = 0;
    for (int j = 0; j < n; j++) {
        float *p; double ana;
        if (j < C * D) { p = &W[j]; ana = gW[j]; }
        else if (j < C * D + D) { p = &b[j - C * D]; ana = gb[j - C * D]; }
        else if (j < C * D + D + D * K) { p = &V[j - C * D - D]; ana = gV[j - C * D - D]; }
        else { p = &c[j - C * D - D - D * K]; ana = gc[j - C * D - D - D * K]; }
        float keep = *p;
        *p = keep + h;
        double fp = ordo_learn_ft_loss(&d, idx, 6, y, fl, K, W, b, V, c, beta, gamma, NULL, NULL,
                                       NULL, NULL, &err);
        *p = keep - h;
        double fm = ordo_learn_ft_loss(&d, idx, 6, y, fl, K, W, b, V, c, beta, gamma, NULL, NULL,
                                       NULL, NULL, &err);
        *p = keep;
        double num = (fp - fm) / (2 * h);
        double e = fabs(num - ana) / (fabs(num) + fabs(ana) + 1e-3);
        if (e > worst) worst = e;
        bad += e > 2e-2;
    }
    /* a parameter whose step crossed a kink may disagree; nearly all agree */
    CHECK_MSG(bad <= n / 50, "%d of %d gradients off by > 2%% (worst %g)", bad, n, worst);
    /* the crop weights must change the loss (the pixels differ) */
    double fnf = ordo_learn_ft_loss(&d, idx, 6, y, NULL, K, W, b, V, c, beta, gamma, NULL, NULL,
                                    NULL, NULL, &err);
    CHECK(fabs(fnf - f0) > 1e-4);
    free(W); free(b); free(V); free(gW); free(gb); free(gV);
    toy_free(&t);
}

/* The embedding of the pretrained head is mean_p relu6(x_p W0 + b0). */
static void t_embed(void)
{
    toy t;
    toy_make(&t, 5, 4, 6, 2, 1.0);
    ordo_learn_ft_data d = toy_data(&t);
    float e[5 * 6];
    ordo_err err = {0};
    CHECK(ordo_learn_ft_embed(&d, 5, t.w0, t.b0, e, &err) == 0);
    double worst = 0;
    for (int i = 0; i < 5; i++) {
        float x[16];
        ordo_f16_to_f32(t.acts + (size_t)t.slot[i] * 16, x, 16);
        for (int j = 0; j < 6; j++) {
            double s = 0;
            for (int p = 0; p < 4; p++) {
                double a = t.b0[j];
                for (int k = 0; k < 4; k++) a += (double)x[p * 4 + k] * t.w0[k * 6 + j];
                s += fmin(fmax(a, 0), 6);
            }
            worst = fmax(worst, fabs(s / 4 - e[i * 6 + j]));
        }
    }
    CHECK_MSG(worst < 1e-4, "worst %g", worst);
    toy_free(&t);
}

/* Training lowers the loss and learns what the frozen head hides: with the
 * class in one column only and a head starting at random, the fine-tuned
 * model fits the training rows better than the start. */
static void t_train(void)
{
    toy t;
    toy_make(&t, 240, 6, 16, 3, 2.0);
    ordo_learn_ft_data d = toy_data(&t);
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    o.cv_folds = 3;
    ordo_learn_ft_opts fo;
    ordo_learn_ft_default(&fo);
    fo.batch = 32;
    fo.lr = 3e-3;
    fo.max_epochs = 15;
    fo.crop = 0;
    ordo_learn_ft_report rep;
    float *w = malloc((size_t)t.C * t.D * sizeof *w), b[16];
    ordo_err err = {0};
    ordo_learn_model *m = ordo_learn_ft_train(&d, (size_t)t.n, t.y, t.K, NULL, &o, &fo, w, b,
                                              NULL, NULL, &rep, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (m) {
        CHECK_MSG(rep.train_loss < rep.train_loss0, "loss %g -> %g", rep.train_loss0,
                  rep.train_loss);
        CHECK_MSG(rep.best_epoch >= 1, "best epoch %d", rep.best_epoch);
        CHECK(rep.val_loss <= rep.val_loss0);
        double moved = 0;
        for (int j = 0; j < t.C * t.D; j++) moved += fabs(w[j] - t.w0[j]);
        CHECK(moved > 0);
        ordo_learn_model_free(m);
    }
    /* bad input: one labeled image */
    int *y1 = malloc((size_t)t.n * sizeof *y1);
    for (int i = 0; i < t.n; i++) y1[i] = i == 0 ? 0 : -1;
    m = ordo_learn_ft_train(&d, (size_t)t.n, y1, t.K, NULL, &o, &fo, w, b, NULL, NULL, &rep, &err);
    CHECK(m == NULL && strstr(err.msg, "fewer than 2"));
    free(y1);
    free(w);
    toy_free(&t);
}

/* The cache: rows written at their slots come back as half floats; a
 * second shape is refused with a message. */
static void t_cache(void)
{
    char dir[] = "/tmp/ordo_test_ft_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    ordo_err err = {0};
    CHECK_MSG(ordo_store_init(dir, "lite0", &err) == 0, "%s", err.msg);
    ordo_store *s = ordo_store_open(dir, ORDO_STORE_FAST, &err);
    CHECK_MSG(s != NULL, "%s", err.msg);
    if (!s) return;
    ordo_store_cut *c = ordo_store_cut_open(s, 4, 3, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    size_t rows = 0;
    CHECK(ordo_store_cut_map(c, &rows, &err) == NULL && strstr(err.msg, "no activation cache"));
    float r5[12], r2[12];
    for (int j = 0; j < 12; j++) { r5[j] = 0.1f * j - 0.3f; r2[j] = 100.0f + j; }
    CHECK(ordo_store_begin(s, &err) == 0);
    CHECK(ordo_store_cut_put(c, 5, r5, &err) == 0);
    CHECK(ordo_store_cut_put(c, 2, r2, &err) == 0);
    CHECK_MSG(ordo_store_cut_commit(c, &err) == 0, "%s", err.msg);
    int64_t sl[3] = {2, 3, 5};
    unsigned char have[3];
    CHECK(ordo_store_cut_have(c, sl, 3, have, &err) == 0);
    CHECK(have[0] == 1 && have[1] == 0 && have[2] == 1);
    const uint16_t *m = ordo_store_cut_map(c, &rows, &err);
    CHECK(m != NULL && rows == 6);
    if (m) {
        float back[12];
        ordo_f16_to_f32(m + 5 * 12, back, 12);
        for (int j = 0; j < 12; j++) CHECK(fabsf(back[j] - r5[j]) < 1e-3f);
        ordo_f16_to_f32(m + 2 * 12, back, 12);
        for (int j = 0; j < 12; j++) CHECK(back[j] == r2[j]);
    }
    ordo_store_cut_close(c);
    c = ordo_store_cut_open(s, 49, 320, &err);
    CHECK(c == NULL && strstr(err.msg, "holds 4 x 3"));
    ordo_store_close(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* The network's cut and head: the embedding recomputed from the cut with
 * ordo_net_head's weights equals the forward pass's embedding. */
static void t_net_cut(void)
{
    char path[4096];
    ordo_err err = {0};
    if (ordo_weights_path(NULL, "lite0", path, sizeof path, &err))
        SKIP("lite0 weights not installed (ordo weights install)");
    ordo_pth *pth = ordo_pth_open(path, &err);
    CHECK_MSG(pth != NULL, "%s", err.msg);
    if (!pth) return;
    ordo_net *net = ordo_net_create("lite0", pth, 2, &err);
    CHECK_MSG(net != NULL, "%s", err.msg);
    if (!net) { ordo_pth_free(pth); return; }
    const int S = ordo_net_input_size(net), P = ordo_net_cut_hw(net), C = ordo_net_cut_channels(net);
    CHECK(P == 49 && C == 320 && ordo_net_cut_floats(net) == 49 * 320);
    enum { N = 3 };   /* 3 images on 2 threads: one runs whole, one row-split */
    float *in = malloc((size_t)N * S * S * 3 * sizeof *in);
    for (long j = 0; j < (long)N * S * S * 3; j++) in[j] = (float)(urand() * 2 - 1);
    const float *ins[N] = {in, in + (long)S * S * 3, in + 2L * S * S * 3};
    float *lg = malloc((size_t)N * 1000 * sizeof *lg), *emb = malloc((size_t)N * 1280 * sizeof *emb);
    float *cut = malloc((size_t)N * P * C * sizeof *cut);
    float *w = malloc((size_t)C * 1280 * sizeof *w), *b = malloc(1280 * sizeof *b);
    CHECK(ordo_net_forward_cut(net, ins, N, lg, emb, cut, &err) == 0);
    CHECK(ordo_net_head(net, w, b, &err) == 0);
    uint16_t *h = malloc((size_t)N * P * C * sizeof *h);
    ordo_f16_from_f32(cut, h, (size_t)N * P * C);
    int64_t slot[N] = {0, 1, 2};
    ordo_learn_ft_data d = {.acts = h, .slot = slot, .P = P, .C = C, .D = 1280, .w0 = w, .b0 = b};
    float *e2 = malloc((size_t)N * 1280 * sizeof *e2);
    CHECK(ordo_learn_ft_embed(&d, N, w, b, e2, &err) == 0);
    double worst = 0, scale = 0;
    for (int j = 0; j < N * 1280; j++) {
        worst = fmax(worst, fabs(e2[j] - emb[j]));
        scale = fmax(scale, fabs(emb[j]));
    }
    /* the cache is half floats: ~1e-3 relative */
    CHECK_MSG(worst < 2e-2 * (scale > 1 ? scale : 1), "worst %g of %g", worst, scale);
    free(in); free(lg); free(emb); free(cut); free(w); free(b); free(h); free(e2);
    ordo_net_free(net);
    ordo_pth_free(pth);
}

int main(void)
{
    RUN(t_gradient);
    RUN(t_embed);
    RUN(t_train);
    RUN(t_cache);
    RUN(t_net_cut);
    return test_summary();
}
