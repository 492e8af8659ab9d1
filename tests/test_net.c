/* test_net.c - the network: kernels against naive loops, model shapes, the
 * forward pass with real weights across kernel paths, thread counts and
 * batch modes, and weight validation errors.
 *
 * With arguments it is also the helper tests/test_net.py drives:
 *   test_net --run MODEL WEIGHTS IN.f32 N LOGITS.f32 EMBED.f32 [THREADS]
 * runs ordo's network on N raw NHWC float images and writes the outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img/img.h"
#include "nn/kernels.h"
#include "nn/net.h"
#include "nn/pth.h"
#include "nn/weights.h"
#include "test.h"

static unsigned long long rng_state = 88172645463325252ULL;

static float frand(void)   /* xorshift64, uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static const ordo_net_kernels *paths[3];
static int npaths;
static const ordo_net_kernels8 *paths8[2];
static int npaths8;

static void find_paths(void)
{
    paths[npaths++] = &ordo_net_kernels_c;
#ifndef ORDO_NO_SIMD
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        paths[npaths++] = &ordo_net_kernels_avx2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        paths[npaths++] = &ordo_net_kernels_avx512;
#endif
    paths8[npaths8++] = &ordo_net_kernels8_c;
#ifndef ORDO_NO_SIMD
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        paths8[npaths8++] = &ordo_net_kernels8_vnni;
#endif
}

/* Packs B[k][n] (K x N row-major) into 32-wide panels as kernels.h says. */
static void pack(const float *B, int K, int N, float *out)
{
    for (int n0 = 0; n0 < N; n0 += 32) {
        int w = N - n0 >= 32 ? 32 : 16;
        for (int k = 0; k < K; k++)
            for (int j = 0; j < w; j++) *out++ = B[k * N + n0 + j];
    }
}

static void t_gemm_matches_naive(void)
{
    /* Shapes cover every micro-tile height (1..13 rows), both panel widths
     * and K not a multiple of anything. */
    const int shapes[][3] = { { 1, 16, 1 }, { 13, 48, 27 }, { 25, 32, 19 }, { 7, 1008, 64 },
                              { 12, 80, 144 }, { 30, 16, 5 }, { 49, 1280, 33 } };
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        const int lda = K + 3, ldc = N + 16, ldr = N + 32;
        float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * K * N);
        float *Bp = malloc(sizeof(float) * K * N), *bias = malloc(sizeof(float) * N);
        float *R = malloc(sizeof(float) * M * ldr), *ref = malloc(sizeof(float) * M * N);
        float *C = malloc(sizeof(float) * M * ldc);
        for (int i = 0; i < M * lda; i++) A[i] = frand();
        for (int i = 0; i < K * N; i++) B[i] = frand();
        for (int i = 0; i < N; i++) bias[i] = 3.0f * frand();
        for (int i = 0; i < M * ldr; i++) R[i] = frand();
        pack(B, K, N, Bp);
        for (int variant = 0; variant < 3; variant++) {   /* plain, relu6, residual */
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    double s = bias[n];
                    for (int k = 0; k < K; k++) s += (double)A[m * lda + k] * B[k * N + n];
                    if (variant == 1) s = s < 0 ? 0 : s > 6 ? 6 : s;
                    if (variant == 2) s += R[m * ldr + n];
                    ref[m * N + n] = (float)s;
                }
            for (int p = 0; p < npaths; p++) {
                for (int i = 0; i < M * ldc; i++) C[i] = 12345.0f;
                paths[p]->gemm(M, N, K, A, lda, Bp, bias, C, ldc, variant == 2 ? R : NULL,
                               ldr, variant == 1);
                double worst = 0;
                int untouched_ok = 1;
                for (int m = 0; m < M; m++) {
                    for (int n = 0; n < N; n++) {
                        double d = fabs(C[m * ldc + n] - ref[m * N + n]);
                        if (d > worst) worst = d;
                    }
                    for (int n = N; n < ldc; n++) untouched_ok &= C[m * ldc + n] == 12345.0f;
                }
                CHECK_MSG(worst < 1e-4, "%s gemm M=%d N=%d K=%d variant %d: max diff %g",
                          paths[p]->name, M, N, K, variant, worst);
                CHECK_MSG(untouched_ok, "%s gemm wrote past N", paths[p]->name);
            }
        }
        free(A); free(B); free(Bp); free(bias); free(R); free(ref); free(C);
    }
}

static void t_dw_matches_naive(void)
{
    /* k, s, Win, pl, Wout, C: TF 'same' pads of the real net plus odd ones. */
    const int cases[][6] = { { 3, 1, 112, 1, 112, 32 }, { 3, 2, 112, 0, 56, 96 },
                             { 5, 2, 56, 1, 28, 144 }, { 5, 1, 14, 2, 14, 48 },
                             { 5, 2, 15, 2, 8, 16 },   { 3, 1, 3, 1, 3, 16 },
                             { 5, 1, 2, 2, 2, 32 },    { 3, 2, 7, 1, 4, 16 } };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int k = cases[ci][0], s = cases[ci][1], Win = cases[ci][2], pl = cases[ci][3];
        const int Wout = cases[ci][4], C = cases[ci][5];
        float *rows[5], *w = malloc(sizeof(float) * k * k * C), *bias = malloc(sizeof(float) * C);
        float *out = malloc(sizeof(float) * Wout * C), *ref = malloc(sizeof(float) * Wout * C);
        for (int r = 0; r < k; r++) {
            rows[r] = malloc(sizeof(float) * Win * C);
            for (int i = 0; i < Win * C; i++) rows[r][i] = 2.0f * frand();
        }
        for (int i = 0; i < k * k * C; i++) w[i] = frand();
        for (int i = 0; i < C; i++) bias[i] = frand();
        for (int x = 0; x < Wout; x++)
            for (int c = 0; c < C; c++) {
                double a = bias[c];
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int ix = x * s - pl + kx;
                        if (ix >= 0 && ix < Win) a += (double)rows[ky][ix * C + c] * w[(ky * k + kx) * C + c];
                    }
                ref[x * C + c] = (float)(a < 0 ? 0 : a > 6 ? 6 : a);
            }
        for (int p = 0; p < npaths; p++) {
            memset(out, 0xff, sizeof(float) * Wout * C);
            paths[p]->dw(k, s, Win, pl, Wout, C, (const float *const *)rows, w, bias, out);
            double worst = 0;
            for (int i = 0; i < Wout * C; i++) {
                double d = fabs(out[i] - ref[i]);
                if (!(d <= worst)) worst = d;   /* NaN (unwritten) counts as worst */
            }
            CHECK_MSG(worst < 1e-5, "%s dw k=%d s=%d Win=%d: max diff %g", paths[p]->name, k, s,
                      Win, worst);
        }
        for (int r = 0; r < k; r++) free(rows[r]);
        free(w); free(bias); free(out); free(ref);
    }
}

static void t_model_size(void)
{
    CHECK(ordo_net_model_size("lite0") == 224);
    CHECK(ordo_net_model_size("lite1") == 240);
    CHECK(ordo_net_model_size("lite2") == 260);
    CHECK(ordo_net_model_size("lite3") == 0);
    CHECK(ordo_net_model_size(NULL) == 0);
}

static ordo_pth *open_weights(const char *model)
{
    char path[4096];
    ordo_err err;
    if (ordo_weights_path(NULL, model, path, sizeof path, &err)) return NULL;
    return ordo_pth_open(path, &err);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

/* Every kernel path, thread count and batch mode must agree on lite0. */
static void t_forward_paths_agree(void)
{
    ordo_pth *w = open_weights("lite0");
    if (!w) SKIP("lite0 weights not installed (ordo weights install)");
    const int S = 224, n = 3;
    float *in = malloc(sizeof(float) * n * S * S * 3);
    for (int i = 0; i < n * S * S * 3; i++) in[i] = frand();
    float ref_l[3 * 1000], ref_e[3 * 1280], l[3 * 1000], e[3 * 1280];
    ordo_err err = { "" };

    setenv("ORDO_KERNEL", "c", 1);
    ordo_net *net = ordo_net_create("lite0", w, 1, &err);
    CHECK_MSG(net, "%s", err.msg);
    if (!net) goto out;
    CHECK(!strcmp(ordo_net_kernel(net), "c"));
    CHECK(ordo_net_input_size(net) == 224);
    CHECK(!strcmp(ordo_net_model(net), "lite0"));
    for (int i = 0; i < n; i++)   /* one image at a time, one thread */
        CHECK(!ordo_net_forward(net, in + i * S * S * 3, 1, ref_l + i * 1000, ref_e + i * 1280, &err));
    ordo_net_free(net);

    const char *names[] = { "c", "avx2", "avx512" };
    for (int p = 0; p < 3; p++) {
        int supported = 0;
        for (int q = 0; q < npaths; q++) supported |= !strcmp(paths[q]->name, names[p]);
        if (!supported) continue;
        setenv("ORDO_KERNEL", names[p], 1);
        for (int threads = 1; threads <= 3; threads++) {
            /* 3 images on 2 threads: two whole-image, one split by rows. */
            net = ordo_net_create("lite0", w, threads, &err);
            CHECK_MSG(net, "%s", err.msg);
            if (!net) continue;
            CHECK(!strcmp(ordo_net_kernel(net), names[p]));
            CHECK_MSG(!ordo_net_forward(net, in, n, l, e, &err), "%s", err.msg);
            double dl = max_diff(l, ref_l, 3000), de = max_diff(e, ref_e, 3 * 1280);
            CHECK_MSG(dl < 1e-3 && de < 1e-4, "%s, %d threads: logit diff %g, embed diff %g",
                      names[p], threads, dl, de);
            /* embed is optional */
            CHECK(!ordo_net_forward(net, in, 1, l, NULL, &err));
            CHECK(max_diff(l, ref_l, 1000) < 1e-3);
            ordo_net_free(net);
        }
    }
    /* Image groups (8 at a time; taken as they come from 2 full groups per
     * thread) and their remainders: 34 images cycling through the 3 inputs,
     * on 1 and 2 threads, with the default kernels. */
    enum { NB = 34 };
    unsetenv("ORDO_KERNEL");
    float *inb = malloc(sizeof(float) * NB * S * S * 3), *lb = malloc(sizeof(float) * NB * 1000);
    float *eb = malloc(sizeof(float) * NB * 1280);
    for (int i = 0; i < NB; i++)
        memcpy(inb + (size_t)i * S * S * 3, in + (size_t)(i % 3) * S * S * 3, sizeof(float) * S * S * 3);
    for (int threads = 1; threads <= 2; threads++) {
        net = ordo_net_create("lite0", w, threads, &err);
        CHECK_MSG(net, "%s", err.msg);
        if (!net) continue;
        CHECK(!ordo_net_forward(net, inb, NB, lb, eb, &err));
        for (int i = 0; i < NB; i++) {
            double dl = max_diff(lb + i * 1000, ref_l + (i % 3) * 1000, 1000);
            double de = max_diff(eb + i * 1280, ref_e + (i % 3) * 1280, 1280);
            CHECK_MSG(dl < 1e-3 && de < 1e-4, "batch of %d, %d threads, image %d: %g %g",
                      NB, threads, i, dl, de);
        }
        /* The same images from scattered buffers (as scan hands them over),
         * in reverse order: each image's result depends on its input only. */
        const float *each[NB];
        for (int i = 0; i < NB; i++) each[i] = in + (size_t)((NB - 1 - i) % 3) * S * S * 3;
        CHECK(!ordo_net_forward_each(net, each, NB, lb, eb, &err));
        for (int i = 0; i < NB; i++) {
            double dl = max_diff(lb + i * 1000, ref_l + ((NB - 1 - i) % 3) * 1000, 1000);
            double de = max_diff(eb + i * 1280, ref_e + ((NB - 1 - i) % 3) * 1280, 1280);
            CHECK_MSG(dl < 1e-3 && de < 1e-4, "forward_each, %d threads, image %d: %g %g",
                      threads, i, dl, de);
        }
        each[4] = NULL;
        CHECK(ordo_net_forward_each(net, each, NB, lb, eb, &err) == -1);
        ordo_net_free(net);
    }
    free(inb); free(lb); free(eb);
    /* The logits must not be trivially equal across images. */
    CHECK(max_diff(ref_l, ref_l + 1000, 1000) > 1e-3);
out:
    unsetenv("ORDO_KERNEL");
    free(in);
    ordo_pth_free(w);
}


/* ---------------------------------------------------------------- int8 */

static int irand(int lo, int hi) { return lo + (int)((frand() + 1.0f) * 0.5f * (hi - lo + 1)) % (hi - lo + 1); }

/* The int8 GEMM against exact integer sums: every kernel set, every tile
 * height, both panel widths, K up to lite2's widest (1248), lda > K, the
 * extremes of both operands (255 x -127 must not saturate), residual and
 * ReLU6 on and off. */
static void t_gemm8_matches_naive(void)
{
    const int shapes[][3] = { { 1, 16, 4 },     { 13, 48, 32 }, { 25, 32, 16 }, { 7, 1008, 64 },
                              { 12, 80, 144 }, { 49, 1280, 336 }, { 30, 16, 1248 } };
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2], lda = K + 16;
        uint8_t *A = malloc((size_t)M * lda);
        int8_t *B = malloc((size_t)K * N), *Bp = malloc((size_t)K * N);
        float *scale = malloc(sizeof(float) * N), *bias = malloc(sizeof(float) * N);
        float *R = malloc(sizeof(float) * M * N), *C = malloc(sizeof(float) * M * N);
        for (int i = 0; i < M * lda; i++) A[i] = si == 0 ? 255 : (uint8_t)irand(0, 255);
        for (int i = 0; i < K * N; i++) B[i] = si == 0 ? -127 : (int8_t)irand(-127, 127);
        for (int n = 0; n < N; n++) { scale[n] = 1e-4f * (1.0f + frand()); bias[n] = frand(); }
        for (int i = 0; i < M * N; i++) R[i] = frand();
        /* pack as kernels.h says: panels of 32 (16), then [K/4][w][4] */
        for (int n0 = 0; n0 < N; n0 += 32) {
            const int w = N - n0 >= 32 ? 32 : 16;
            for (int k = 0; k < K; k++)
                for (int j = 0; j < w; j++)
                    Bp[(long)n0 * K + ((long)(k / 4) * w + j) * 4 + k % 4] = B[(long)k * N + n0 + j];
        }
        for (int p = 0; p < npaths8; p++)
            for (int mode = 0; mode < 2; mode++) {   /* 0: ReLU6, no R; 1: identity + R */
                memset(C, 0xff, sizeof(float) * M * N);
                paths8[p]->gemm8(M, N, K, A, lda, Bp, scale, bias, C, N, mode ? R : NULL, N, !mode);
                double worst = 0;
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N; n++) {
                        long acc = 0;
                        for (int k = 0; k < K; k++) acc += (long)A[(long)m * lda + k] * B[(long)k * N + n];
                        double v = (double)scale[n] * acc + bias[n];
                        if (!mode) v = v < 0 ? 0 : v > 6 ? 6 : v;
                        else v += R[m * N + n];
                        double d = fabs(C[m * N + n] - v) / (1.0 + fabs(v));
                        if (!(d <= worst)) worst = d;
                    }
                CHECK_MSG(worst < 1e-5, "%s gemm8 %dx%dx%d mode %d: max rel diff %g",
                          paths8[p]->name, M, N, K, mode, worst);
            }
        free(A); free(B); free(Bp); free(scale); free(bias); free(R); free(C);
    }
}

/* The 16-bit paths (kernels.h) against exact sums: two digit rows of A
 * (gemm16: a = 256 hi + lo, lda >= 2K) or two digit panels of B (gemmw16:
 * w = 256 hi + lo, lo signed); the same shapes, the extremes 65535 and
 * -32768 .. 32767 included. */
static void t_gemm16_matches_naive(void)
{
    const int shapes[][3] = { { 1, 16, 4 },   { 13, 48, 32 },  { 7, 1008, 64 },
                              { 6, 80, 144 }, { 49, 1280, 336 }, { 30, 16, 1248 } };
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int M = shapes[si][0], N = shapes[si][1], K = shapes[si][2], lda = 2 * K + 16;
        uint8_t *A = malloc((size_t)M * lda);
        int8_t *Bh = malloc((size_t)K * N), *Bl = malloc((size_t)K * N);
        int8_t *Ph = malloc((size_t)K * N), *Pl = malloc((size_t)K * N);
        float *scale = malloc(sizeof(float) * N), *bias = malloc(sizeof(float) * N);
        float *R = malloc(sizeof(float) * M * N), *C = malloc(sizeof(float) * M * N);
        for (int i = 0; i < M * lda; i++) A[i] = si == 0 ? 255 : (uint8_t)irand(0, 255);
        for (int i = 0; i < K * N; i++) {
            Bh[i] = si == 0 ? -127 : (int8_t)irand(-127, 127);
            Bl[i] = si == 0 ? -128 : (int8_t)irand(-128, 127);
        }
        for (int n = 0; n < N; n++) { scale[n] = 1e-7f * (1.0f + frand()); bias[n] = frand(); }
        for (int i = 0; i < M * N; i++) R[i] = frand();
        for (int n0 = 0; n0 < N; n0 += 32) {
            const int w = N - n0 >= 32 ? 32 : 16;
            for (int k = 0; k < K; k++)
                for (int j = 0; j < w; j++) {
                    const long at = (long)n0 * K + ((long)(k / 4) * w + j) * 4 + k % 4;
                    Ph[at] = Bh[(long)k * N + n0 + j];
                    Pl[at] = Bl[(long)k * N + n0 + j];
                }
        }
        for (int p = 0; p < npaths8; p++)
            for (int kind = 0; kind < 2; kind++)         /* 0: gemm16, 1: gemmw16 */
                for (int mode = 0; mode < 2; mode++) {   /* 0: ReLU6, no R; 1: identity + R */
                    memset(C, 0xff, sizeof(float) * M * N);
                    if (!kind)
                        paths8[p]->gemm16(M, N, K, A, lda, Ph, scale, bias, C, N, mode ? R : NULL,
                                          N, !mode);
                    else
                        paths8[p]->gemmw16(M, N, K, A, lda, Ph, Pl, scale, bias, C, N,
                                           mode ? R : NULL, N, !mode);
                    double worst = 0;
                    for (int m = 0; m < M; m++)
                        for (int n = 0; n < N; n++) {
                            long long acc = 0;
                            for (int k = 0; k < K; k++) {
                                const uint8_t *a = A + (long)m * lda;
                                const long b = (long)k * N + n;
                                acc += kind ? (long long)a[k] * (256 * Bh[b] + Bl[b])
                                            : (long long)(256 * a[K + k] + a[k]) * Bh[b];
                            }
                            double v = (double)scale[n] * (double)acc + bias[n];
                            if (!mode) v = v < 0 ? 0 : v > 6 ? 6 : v;
                            else v += R[m * N + n];
                            double d = fabs(C[m * N + n] - v) / (1.0 + fabs(v));
                            if (!(d <= worst)) worst = d;
                        }
                    CHECK_MSG(worst < 1e-5, "%s %s %dx%dx%d mode %d: max rel diff %g",
                              paths8[p]->name, kind ? "gemmw16" : "gemm16", M, N, K, mode, worst);
                }
        free(A); free(Bh); free(Bl); free(Ph); free(Pl); free(scale); free(bias); free(R); free(C);
    }
}

/* kernels.h's output code, written out again: fma, clamp, ties to even. */
static uint8_t ref_code(long long acc, float mul, float add)
{
    float v = fmaf((float)acc, mul, add);
    if (!(v >= 0.0f)) v = 0.0f;
    if (v > 255.0f) v = 255.0f;
    return (uint8_t)rintf(v);
}

/* The int8 depthwise path (kernels.h "dw8") against exact integer sums,
 * byte for byte, on every kernel set: the quad-layout GEMM (rows of 1 to
 * 33 pixels: every tile height and partial last quad, 1-3 rows a call,
 * both panel widths, the 255 x -127 extremes, codes clamped at both ends,
 * the padding slots and a guard after each row left as they were), then
 * the depthwise rows (k 3 and 5, stride 1 and 2, TensorFlow 'same'
 * padding of odd and even widths, a zero row as the padding above). */
static void t_dw8_matches_naive(void)
{
    const int gshapes[][4] = { /* W, rows, N, K */
        { 1, 2, 16, 4 }, { 3, 1, 48, 16 }, { 7, 3, 32, 36 }, { 9, 2, 80, 100 },
        { 14, 2, 16, 24 }, { 17, 1, 96, 40 }, { 33, 1, 32, 4 }, { 12, 2, 48, 1248 },
        { 5, 2, 48, 1248 } };
    const size_t ng = sizeof gshapes / sizeof gshapes[0];
    for (size_t si = 0; si < ng; si++) {
        const int W = gshapes[si][0], rows = gshapes[si][1], N = gshapes[si][2];
        const int K = gshapes[si][3], M = W * rows, lda = K + 8, ext = si == 0;
        /* big: values up to 20 x 255 x 127 x 1248 = 8.1e8, inside the
         * 2^30 that net.c's dw8_codes_fit grants the kernels, far outside
         * the int16 and uint8 ranges the VNNI kernels' packs saturate */
        const int big = si == ng - 1;
        const long rb = (long)ORDO_NET_DW8_QUADS(W) * 4 * N + 64;   /* + a guard */
        uint8_t *A = malloc((size_t)M * lda), *C = malloc((size_t)rows * rb);
        uint8_t *want = malloc((size_t)rows * rb);
        int8_t *B = malloc((size_t)K * N), *Bp = malloc((size_t)K * N);
        float *mul = malloc(sizeof(float) * N), *add = malloc(sizeof(float) * N);
        for (int i = 0; i < M * lda; i++) A[i] = ext ? 255 : (uint8_t)irand(0, 255);
        for (int i = 0; i < K * N; i++) B[i] = ext ? -127 : (int8_t)irand(-127, 127);
        for (int n = 0; n < N; n++) {   /* codes over the whole range, clamped both ways */
            mul[n] = (ext ? -1e-4f : 2.0f / (float)K) * (1.0f + 0.5f * frand());
            add[n] = 128.0f + 200.0f * frand();
            if (big) mul[n] = n % 2 ? 20.0f : -20.0f * frand();
        }
        for (int n0 = 0; n0 < N; n0 += 32) {
            const int w = N - n0 >= 32 ? 32 : 16;
            for (int k = 0; k < K; k++)
                for (int j = 0; j < w; j++)
                    Bp[(long)n0 * K + ((long)(k / 4) * w + j) * 4 + k % 4] = B[(long)k * N + n0 + j];
        }
        /* expected: padding slots zero (as the caller leaves them), the
         * guard untouched, data slots the codes */
        memset(want, 0, (size_t)rows * rb);
        for (int r = 0; r < rows; r++) memset(want + r * rb + rb - 64, 0xcd, 64);
        int lo = 255, hi = 0;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                long long acc = 0;
                for (int k = 0; k < K; k++) acc += (long long)A[(long)m * lda + k] * B[(long)k * N + n];
                const int x = m % W, p = x + 4;
                const uint8_t c = ref_code(acc, mul[n], add[n]);
                want[(m / W) * rb + (long)(p / 4) * 4 * N + 4 * n + p % 4] = c;
                lo = c < lo ? c : lo;
                hi = c > hi ? c : hi;
            }
        if (!ext) CHECK_MSG(lo == 0 && hi == 255, "test codes span %d..%d only", lo, hi);
        for (int p = 0; p < npaths8; p++) {
            memcpy(C, want, (size_t)rows * rb);
            for (int m = 0; m < M; m++)   /* poison the data slots */
                for (int n = 0; n < N; n++) {
                    const int x = m % W, q = x + 4;
                    C[(m / W) * rb + (long)(q / 4) * 4 * N + 4 * n + q % 4] ^= 0x5a;
                }
            paths8[p]->gemm8q(M, N, K, A, lda, Bp, mul, add, C, W, rb);
            long bad = -1;
            for (long i = 0; i < rows * rb && bad < 0; i++)
                if (C[i] != want[i]) bad = i;
            CHECK_MSG(bad < 0, "%s gemm8q W=%d rows=%d N=%d K=%d: byte %ld is %d, want %d",
                      paths8[p]->name, W, rows, N, K, bad, bad < 0 ? 0 : C[bad],
                      bad < 0 ? 0 : want[bad]);
        }
        free(A); free(C); free(want); free(B); free(Bp); free(mul); free(add);
    }

    const int dshapes[][4] = { /* k, s, W, C */
        { 3, 1, 1, 16 }, { 3, 1, 7, 32 }, { 3, 1, 14, 16 }, { 3, 2, 9, 16 }, { 3, 2, 28, 48 },
        { 5, 1, 2, 16 }, { 5, 1, 13, 32 }, { 5, 2, 17, 16 }, { 5, 2, 30, 32 }, { 3, 2, 2, 16 },
        { 5, 1, 11, 32 } };
    const size_t nd = sizeof dshapes / sizeof dshapes[0];
    for (size_t si = 0; si < nd; si++) {
        const int k = dshapes[si][0], s = dshapes[si][1], W = dshapes[si][2], C = dshapes[si][3];
        const int ext = si == 1, big = si == nd - 1;   /* big: |v| up to 1000 x 809,625 */
        const int Wout = (W + s - 1) / s;
        int total = (Wout - 1) * s + k - W;
        if (total < 0) total = 0;
        const int pl = total / 2;
        const long rb = (long)ORDO_NET_DW8_QUADS(W) * 4 * C;
        uint8_t *in = calloc((size_t)(k + 1), (size_t)rb);   /* row k: all zeros */
        int8_t *wq = malloc((size_t)k * k * C), *wp = calloc((size_t)C * k * 32, 1);
        float *mul = malloc(sizeof(float) * C), *add = malloc(sizeof(float) * C);
        uint8_t *out = malloc((size_t)Wout * C), *want = malloc((size_t)Wout * C);
        for (int ky = 0; ky < k; ky++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < C; c++)
                    in[ky * rb + (long)((x + 4) / 4) * 4 * C + 4 * c + (x + 4) % 4] =
                        ext ? 255 : (uint8_t)irand(0, 255);
        for (int i = 0; i < k * k * C; i++) wq[i] = ext ? 127 : (int8_t)irand(-127, 127);
        for (int c = 0; c < C; c++) {
            mul[c] = (ext ? 1e-3f : 0.01f) * (1.0f + 0.5f * frand());
            add[c] = 100.0f * frand();
            if (big) mul[c] = c % 2 ? 1000.0f * frand() : -1000.0f;
            for (int ky = 0; ky < k; ky++)   /* the packing kernels.h describes */
                for (int a = 0; a < 4; a++)
                    for (int part = 0; part < 2; part++)
                        for (int j = 0; j < 4; j++) {
                            const int kx = 4 * part + j - a;
                            if (kx >= 0 && kx < k)
                                wp[((((long)(c / 16) * k + ky) * 4 + a) * 2 + part) * 64 +
                                   4 * (c % 16) + j] = wq[(ky * k + kx) * C + c];
                        }
        }
        /* the first row is the zero padding above the image */
        const uint8_t *rowp[5];
        for (int ky = 0; ky < k; ky++) rowp[ky] = ky == 0 ? in + (long)k * rb : in + ky * rb;
        for (int x = 0; x < Wout; x++)
            for (int c = 0; c < C; c++) {
                long long acc = 0;
                for (int ky = 1; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        const int ix = x * s - pl + kx;
                        if (ix < 0 || ix >= W) continue;
                        acc += (long long)in[ky * rb + (long)((ix + 4) / 4) * 4 * C + 4 * c +
                                             (ix + 4) % 4] * wq[(ky * k + kx) * C + c];
                    }
                want[x * C + c] = ref_code(acc, mul[c], add[c]);
            }
        for (int p = 0; p < npaths8; p++) {
            memset(out, 0xee, (size_t)Wout * C);
            paths8[p]->dw8(k, s, pl, Wout, C, rowp, wp, mul, add, out);
            int bad = -1;
            for (int i = 0; i < Wout * C && bad < 0; i++)
                if (out[i] != want[i]) bad = i;
            CHECK_MSG(bad < 0, "%s dw8 k=%d s=%d W=%d C=%d: output %d channel %d is %d, want %d",
                      paths8[p]->name, k, s, W, C, bad < 0 ? 0 : bad / C, bad < 0 ? 0 : bad % C,
                      bad < 0 ? 0 : out[bad], bad < 0 ? 0 : want[bad]);
        }
        free(in); free(wq); free(wp); free(mul); free(add); free(out); free(want);
    }
}

/* The int8 stem (kernels.h "int8 stem") against the exact integer
 * convolution, byte for byte, on every kernel set: ordo_net_stem8_col's
 * im2col rows (code 127 outside the image, a zero 28th byte) through the
 * set's gemmw16q (16-bit weights, 256 hi + lo digits) into quad-layout
 * codes. Images of odd and even sides with TensorFlow 'same' padding
 * (bottom/right only) and with a padding of 1 on every side, output rows
 * from the middle, all 255 x +-32639 (the int32 bound), and gemmw16q
 * alone on a wider shape (a 16-wide panel, rows of every tile height). */
static void t_stem8_matches_naive(void)
{
    const int shapes[][6] = { /* S, pt, pl, y0, y1, N (pt/pl -1: 'same') */
        { 9, -1, -1, 0, 5, 32 }, { 10, -1, -1, 0, 5, 32 }, { 31, 1, 1, 3, 9, 32 },
        { 8, 1, 1, 0, 4, 32 }, { 26, -1, -1, 2, 13, 48 }, { 5, 1, 0, 0, 3, 16 } };
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0] + 1; si++) {
        const int ext = si == sizeof shapes / sizeof shapes[0];   /* the extremes */
        const int *sh = shapes[ext ? 0 : si];
        const int S = sh[0], y0 = sh[3], y1 = sh[4], N = sh[5], K = 28;
        int Wout, pt = sh[1], pl = sh[2];
        const int p = (((S + 1) / 2 - 1) * 2 + 3 - S) / 2;   /* TF 'same': smaller half first */
        Wout = (S + 1) / 2;
        if (pt < 0) pt = pl = p;
        else Wout = (S + pt + pl - 3) / 2 + 1;
        const int rows = y1 - y0, M = rows * Wout;
        const long rb = (long)ORDO_NET_DW8_QUADS(Wout) * 4 * N + 64;   /* + a guard */
        uint8_t *img = malloc((size_t)S * S * 3), *col = malloc((size_t)M * K);
        uint8_t *C = malloc((size_t)rows * rb), *want = malloc((size_t)rows * rb);
        int32_t *wv = malloc(sizeof(int32_t) * 27 * N);
        int8_t *Bh = calloc((size_t)K * N, 1), *Bl = calloc((size_t)K * N, 1);
        float *mul = malloc(sizeof(float) * N), *add = malloc(sizeof(float) * N);
        for (int i = 0; i < S * S * 3; i++) img[i] = ext ? 255 : (uint8_t)irand(0, 255);
        for (int i = 0; i < 27 * N; i++) wv[i] = ext ? (i % 2 ? 32639 : -32639) : irand(-32639, 32639);
        for (int n = 0; n < N; n++) {   /* codes over the whole range, clamped both ways */
            mul[n] = (ext ? 1e-6f : 2e-6f) * (1.0f + 0.5f * frand());
            add[n] = 128.0f + 200.0f * frand();
        }
        for (int n0 = 0; n0 < N; n0 += 32) {   /* the two digit panels (kernels.h) */
            const int w = N - n0 >= 32 ? 32 : 16;
            for (int k = 0; k < 27; k++)
                for (int j = 0; j < w; j++) {
                    const int v = wv[k * N + n0 + j], h = (v + 128) >> 8;
                    const long at = (long)n0 * K + ((long)(k / 4) * w + j) * 4 + k % 4;
                    Bh[at] = (int8_t)h;
                    Bl[at] = (int8_t)(v - 256 * h);
                }
        }
        memset(want, 0, (size_t)rows * rb);
        for (int r = 0; r < rows; r++) memset(want + r * rb + rb - 64, 0xcd, 64);
        int lo = 255, hi = 0;
        for (int y = y0; y < y1; y++)
            for (int x = 0; x < Wout; x++)
                for (int n = 0; n < N; n++) {
                    long long acc = 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++)
                            for (int c = 0; c < 3; c++) {
                                const int iy = 2 * y - pt + ky, ix = 2 * x - pl + kx;
                                const int u = iy < 0 || iy >= S || ix < 0 || ix >= S
                                                  ? 127 : img[((long)iy * S + ix) * 3 + c];
                                acc += (long long)u * wv[((ky * 3 + kx) * 3 + c) * N + n];
                            }
                    const uint8_t code = ref_code(acc, mul[n], add[n]);
                    want[(y - y0) * rb + (long)((x + 4) / 4) * 4 * N + 4 * n + (x + 4) % 4] = code;
                    lo = code < lo ? code : lo;
                    hi = code > hi ? code : hi;
                }
        if (!ext) CHECK_MSG(lo == 0 && hi == 255, "test codes span %d..%d only", lo, hi);
        memset(col, 0xee, (size_t)M * K);
        ordo_net_stem8_col(img, S, pt, pl, y0, y1, Wout, col);
        for (int m = 0; m < M; m++) CHECK(col[(long)m * K + 27] == 0);
        for (int pi = 0; pi < npaths8; pi++) {
            memcpy(C, want, (size_t)rows * rb);
            for (int m = 0; m < M; m++)   /* poison the data slots */
                for (int n = 0; n < N; n++) {
                    const int x = m % Wout, q = x + 4;
                    C[(m / Wout) * rb + (long)(q / 4) * 4 * N + 4 * n + q % 4] ^= 0x5a;
                }
            paths8[pi]->gemmw16q(M, N, K, col, K, Bh, Bl, mul, add, C, Wout, rb);
            long bad = -1;
            for (long i = 0; i < rows * rb && bad < 0; i++)
                if (C[i] != want[i]) bad = i;
            CHECK_MSG(bad < 0, "%s stem S=%d pt=%d pl=%d rows %d-%d N=%d%s: byte %ld is %d, want %d",
                      paths8[pi]->name, S, pt, pl, y0, y1, N, ext ? " (extremes)" : "", bad,
                      bad < 0 ? 0 : C[bad], bad < 0 ? 0 : want[bad]);
        }
        free(img); free(col); free(C); free(want); free(wv); free(Bh); free(Bl); free(mul); free(add);
    }
}

/* The quantizers' rule (kernels.h) on the values that break careless
 * ones: ties (round half to even), both clamps, infinities, NaN, a
 * per-channel scale and offset (integer and not); every kernel set must
 * give the same bytes, 8-bit and 16-bit (two digit rows). */
static void t_quant_rule(void)
{
    enum { C = 80, ROWS = 5 };   /* the VNNI quantizer's 64-channel and 16-channel paths */
    float x[ROWS * C], inv[C], off[C];
    uint8_t q[2 * ROWS * C], want[2 * ROWS * C];
    const float special[] = { 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 126.5f, 127.5f, -128.5f, 1e30f,
                              -1e30f, INFINITY, -INFINITY, NAN, 0.0f, -0.0f, 254.5f };
    for (int c = 0; c < C; c++) inv[c] = c < 16 ? 1.0f : 0.25f * (float)(c - 15);
    for (int bits = 8; bits <= 16; bits += 8) {
        const double top = bits == 8 ? 255 : 65535;
        for (int o = 0; o < 3; o++) {   /* offsets 0, 128 (or 32768), 127.5 + c / 8 */
            for (int c = 0; c < C; c++)
                off[c] = o == 0 ? 0.0f : o == 1 ? (float)(top + 1) / 2 : 127.5f + (float)c / 8;
            for (int i = 0; i < ROWS * C; i++) {
                const int sp = i < 16 ? i : i >= C + 64 && i < 2 * C ? i - C - 64 : -1;
                x[i] = sp >= 0 ? special[sp] * (bits == 8 ? 1.0f : 256.0f) : (float)top * frand();
                double v = (double)fmaf(x[i], inv[i % C], off[i % C]);
                if (!(v >= 0)) v = 0;
                if (v > top) v = top;
                const long r = (long)nearbyint(v);   /* to nearest, ties to even */
                if (bits == 8) {
                    want[i] = (uint8_t)r;
                } else {   /* row r: C low digits, then C high digits */
                    want[(i / C) * 2 * C + i % C] = (uint8_t)(r & 255);
                    want[(i / C) * 2 * C + C + i % C] = (uint8_t)(r >> 8);
                }
            }
            if (bits == 8 && o == 1) CHECK(want[0] == 128 && want[1] == 130 && want[2] == 130);
            if (bits == 8 && o == 0) CHECK(want[0] == 0 && want[1] == 2 && want[2] == 2 && want[12] == 0);
            const size_t nq = (size_t)ROWS * C * (bits / 8);
            for (int p = 0; p < npaths8; p++) {
                memset(q, 0xAA, sizeof q);
                if (bits == 8) paths8[p]->quant(x, ROWS, C, inv, off, q);
                else paths8[p]->quant16(x, ROWS, C, inv, off, q);
                int bad = -1;
                for (size_t i = 0; i < nq && bad < 0; i++)
                    if (q[i] != want[i]) bad = (int)i;
                CHECK_MSG(bad < 0, "%s quant%d offset %d: byte %d gave %d, want %d",
                          paths8[p]->name, bits, o, bad, bad < 0 ? 0 : q[bad], bad < 0 ? 0 : want[bad]);
            }
        }
    }
}

/* A fused depthwise-and-quantize kernel must write exactly the bytes its
 * float kernel's output quantizes to. */
static void t_dwq_matches_dw(void)
{
    const int cases[][6] = { { 3, 1, 56, 1, 56, 144 }, { 3, 2, 112, 0, 56, 96 },
                             { 5, 2, 15, 2, 8, 16 },   { 5, 1, 14, 2, 14, 48 } };
    int tested = 0;
    for (int p = 0; p < npaths; p++) {
        if (!paths[p]->dwq) continue;
        tested++;
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            const int k = cases[ci][0], s = cases[ci][1], Win = cases[ci][2], pl = cases[ci][3];
            const int Wout = cases[ci][4], C = cases[ci][5];
            float *rows[5], *w = malloc(sizeof(float) * k * k * C), *bias = malloc(sizeof(float) * C);
            float *out = malloc(sizeof(float) * Wout * C), *inv = malloc(sizeof(float) * C);
            float *off = calloc((size_t)C, sizeof(float));
            uint8_t *q = malloc((size_t)Wout * C), *want = malloc((size_t)Wout * C);
            for (int r = 0; r < k; r++) {
                rows[r] = malloc(sizeof(float) * Win * C);
                for (int i = 0; i < Win * C; i++) rows[r][i] = 3.0f * frand();
            }
            for (int i = 0; i < k * k * C; i++) w[i] = frand();
            for (int i = 0; i < C; i++) { bias[i] = frand(); inv[i] = 255.0f / (1.0f + 5.0f * (i % 7) / 6.0f); }
            paths[p]->dw(k, s, Win, pl, Wout, C, (const float *const *)rows, w, bias, out);
            ordo_net_kernels8_c.quant(out, Wout, C, inv, off, want);
            paths[p]->dwq(k, s, Win, pl, Wout, C, (const float *const *)rows, w, bias, inv, q);
            CHECK_MSG(!memcmp(q, want, (size_t)Wout * C), "%s dwq k=%d s=%d Win=%d differs",
                      paths[p]->name, k, s, Win);
            for (int r = 0; r < k; r++) free(rows[r]);
            free(w); free(bias); free(out); free(inv); free(off); free(q); free(want);
        }
    }
    if (!tested) SKIP("no kernel set with a fused depthwise quantizer on this CPU");
}

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

static int argmax(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* Decodes and preprocesses the named imagenet-sample photos into in (np
 * x S x S x 3, in order); returns how many loaded (fewer: ORDO_DATA unset
 * or the photos missing). */
static int load_sample(const char *const *photos, int np, int S, float *in)
{
    const char *data = getenv("ORDO_DATA");
    char path[4096];
    ordo_err err = { "" };
    int n = 0;
    for (int i = 0; i < np; i++) {
        snprintf(path, sizeof path, "%s/datasets/imagenet-sample/%s", data ? data : "../shared",
                 photos[i]);
        ordo_image im;
        const ordo_img_opts io = { .min_side = ordo_img_min_side_for(S, 0.875f) };
        if (ordo_img_load(path, &io, &im, &err)) continue;
        if (!ordo_img_preprocess(&im, S, 0.875f, in + (size_t)n * S * S * 3, &err)) n++;
        ordo_image_free(&im);
    }
    return n;
}

/* The int8 network on real photos (imagenet-sample, never used for
 * calibration): close to fp32 (embedding cosine, top-1 class), the same
 * whichever kernels and however many threads run it. */
static void t_int8_forward(void)
{
    static const char *photos[] = { "n01530575_brambling.JPEG", "n01558993_robin.JPEG",
                                    "n01440764_tench.JPEG", "n02112137_chow.JPEG",
                                    "n02504013_Indian_elephant.JPEG",
                                    "n03095699_container_ship.JPEG", "n07747607_orange.JPEG",
                                    "n09472597_volcano.JPEG" };
    enum { NP = sizeof photos / sizeof photos[0], S = 224 };
    ordo_pth *w = open_weights("lite0");
    if (!w) SKIP("lite0 weights not installed (ordo weights install)");
    float *in = malloc(sizeof(float) * NP * S * S * 3);
    ordo_err err = { "" };
    const int n = load_sample(photos, NP, S, in);
    if (n < NP) {
        free(in);
        ordo_pth_free(w);
        SKIP("imagenet-sample photos not found (set ORDO_DATA)");
    }
    float *l32 = malloc(sizeof(float) * NP * 1000), *e32 = malloc(sizeof(float) * NP * 1280);
    float *l8 = malloc(sizeof(float) * NP * 1000), *e8 = malloc(sizeof(float) * NP * 1280);
    float *l = malloc(sizeof(float) * NP * 1000), *e = malloc(sizeof(float) * NP * 1280);
    ordo_net *f32 = ordo_net_create_prec("lite0", w, 2, "fp32", &err);
    ordo_net *i8 = ordo_net_create_prec("lite0", w, 1, "int8", &err);
    CHECK_MSG(f32 && i8, "%s", err.msg);
    if (!f32 || !i8) goto out;
    /* The int8 arithmetic itself: without the fp32 re-check of near-ties
     * (t_int8_recheck tests that). */
    CHECK(!ordo_net_set_recheck(i8, 0, &err));
    CHECK(!strcmp(ordo_net_precision(i8), "int8") && !strcmp(ordo_net_precision(f32), "fp32"));
    CHECK(!ordo_net_forward(f32, in, NP, l32, e32, &err));
    CHECK(!ordo_net_forward(i8, in, NP, l8, e8, &err));
    /* Bias correction matters here: without it these photos' mean cosine
     * was 0.997 (measured on sports100: 0.9971 -> 0.9991). */
    int agree = 0;
    double csum = 0;
    for (int i = 0; i < NP; i++) {
        const double c = cosine(e32 + i * 1280, e8 + i * 1280, 1280);
        CHECK_MSG(c > 0.995, "%s: int8 embedding cosine %g", photos[i], c);
        csum += c;
        agree += argmax(l32 + i * 1000, 1000) == argmax(l8 + i * 1000, 1000);
    }
    CHECK_MSG(csum / NP > 0.9985, "int8 mean embedding cosine %g", csum / NP);
    CHECK_MSG(agree >= NP - 1, "int8 kept the top-1 class of %d of %d photos", agree, NP);
    /* The slower, more accurate variants (16-bit weights or activations in
     * some 1x1 layers; fp32 depthwise layers, "int8+fpdw"; the fp32 stem,
     * "int8+fpstem"): at least as close to fp32, on every kernel set (the
     * portable one on one photo: it is slow). int8+fpdw and int8+fpstem
     * differ from int8 (so int8 runs its depthwise layers and its stem in
     * int8). */
    static const char *vars[] = { "int8+w16late", "int8+w16", "int8+a16", "int8+fpdw",
                                  "int8+fpstem" };
    for (size_t v = 0; v < sizeof vars / sizeof vars[0]; v++)
        for (int kc = 0; kc < 2; kc++) {
            if (kc) setenv("ORDO_KERNEL", "c", 1);
            ordo_net *net = ordo_net_create_prec("lite0", w, 1, vars[v], &err);
            unsetenv("ORDO_KERNEL");
            CHECK_MSG(net, "%s: %s", vars[v], err.msg);
            if (!net) continue;
            CHECK(!ordo_net_set_recheck(net, 0, &err));
            CHECK(!strcmp(ordo_net_precision(net), vars[v]));
            const int np = kc ? 1 : NP;
            CHECK(!ordo_net_forward(net, in, np, l, e, &err));
            double vs = 0;
            for (int i = 0; i < np; i++) {
                const double c = cosine(e32 + i * 1280, e + i * 1280, 1280);
                CHECK_MSG(c > 0.995, "%s (%s kernels) %s: cosine %g", vars[v], kc ? "c" : "default",
                          photos[i], c);
                vs += c;
                if (kc) CHECK(argmax(l + i * 1000, 1000) == argmax(l32 + i * 1000, 1000) ||
                              argmax(l + i * 1000, 1000) == argmax(l8 + i * 1000, 1000));
            }
            if (!kc) CHECK_MSG(vs / np > csum / NP - 2e-4, "%s: mean cosine %g, int8 %g", vars[v],
                               vs / np, csum / NP);
            if (!kc && (!strcmp(vars[v], "int8+fpdw") || !strcmp(vars[v], "int8+fpstem")))
                CHECK(max_diff(e, e8, (size_t)np * 1280) > 1e-4);
            ordo_net_free(net);
        }
    /* "int8+dw0" (block 0's depthwise in int8 on the int8 stem's codes; a
     * benchmark variant: less accurate, net.c quant_stem): close to fp32
     * still, and the portable kernels give the same top-1 classes, 1 and 2
     * threads (row-split stem and block 0). */
    for (int kc = 0; kc < 2; kc++)
        for (int threads = 1; threads <= 2; threads++) {
            if (kc) setenv("ORDO_KERNEL", "c", 1);
            ordo_net *net = ordo_net_create_prec("lite0", w, threads, "int8+dw0", &err);
            unsetenv("ORDO_KERNEL");
            CHECK_MSG(net, "int8+dw0: %s", err.msg);
            if (!net) continue;
            CHECK(!ordo_net_set_recheck(net, 0, &err));
            const int np = kc ? 1 : 3;
            CHECK(!ordo_net_forward(net, in, np, l, e, &err));
            for (int i = 0; i < np; i++) {
                const double c = cosine(e32 + i * 1280, e + i * 1280, 1280);
                CHECK_MSG(c > 0.99, "int8+dw0 (%s kernels, %d threads) %s: cosine %g",
                          kc ? "c" : "default", threads, photos[i], c);
            }
            static int top0[3];   /* default kernels, 1 thread: the reference */
            for (int i = 0; i < np; i++) {
                if (!kc && threads == 1) top0[i] = argmax(l + i * 1000, 1000);
                else CHECK(argmax(l + i * 1000, 1000) == top0[i]);
            }
            ordo_net_free(net);
        }
    /* The int8 net is not the fp32 one under another name. */
    CHECK(max_diff(e32, e8, (size_t)NP * 1280) > 1e-4);
    /* 1-3 threads (whole images and row splits) agree with one thread to
     * float rounding; the portable kernels to a little more: their fp32
     * depthwise and dequantization round differently (no FMA), which moves
     * a value on a quantizer's rounding boundary one step, and layers pass
     * that on (measured cosine 0.9997; int8 vs fp32 is 10x further). */
    for (int kc = 0; kc < 2; kc++)
        for (int threads = 1; threads <= 3; threads++) {
            if (kc) setenv("ORDO_KERNEL", "c", 1);
            ordo_net *net = ordo_net_create_prec("lite0", w, threads, "int8", &err);
            unsetenv("ORDO_KERNEL");
            CHECK_MSG(net, "%s", err.msg);
            if (!net) continue;
            CHECK(!ordo_net_set_recheck(net, 0, &err));
            if (kc) CHECK(!strcmp(ordo_net_kernel(net), "c+c8"));
            CHECK(!ordo_net_forward(net, in, 3, l, e, &err));
            for (int i = 0; i < 3; i++) {
                const double c = cosine(e + i * 1280, e8 + i * 1280, 1280);
                CHECK_MSG(c > (kc ? 0.999 : 0.99999), "%s kernels, %d threads, image %d: cosine %g to default",
                          kc ? "c" : "default", threads, i, c);
                CHECK(argmax(l + i * 1000, 1000) == argmax(l8 + i * 1000, 1000));
            }
            ordo_net_free(net);
        }
out:
    ordo_net_free(f32);
    ordo_net_free(i8);
    free(in); free(l32); free(e32); free(l8); free(e8); free(l); free(e);
    ordo_pth_free(w);
}

/* l(top-1) - l(top-2), as net.c's re-check measures it. */
static double logit_gap(const float *v)
{
    float a = -INFINITY, b = -INFINITY;
    for (int i = 0; i < 1000; i++)
        if (v[i] > a) b = a, a = v[i];
        else if (v[i] > b) b = v[i];
    return (double)a - b;
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return !memcmp(a, b, n * sizeof *a);
}

/* The fp32 re-check of near-ties (ordo_net_set_recheck): a row whose int8
 * logit margin is below the threshold gets exactly what the fp32 network
 * gives it (logits, embedding, cut), every other row exactly pure int8's;
 * threshold 0 is pure int8, an infinite one pure fp32. */
static void t_int8_recheck(void)
{
    static const char *photos[] = { "n01530575_brambling.JPEG", "n01558993_robin.JPEG",
                                    "n01440764_tench.JPEG", "n02112137_chow.JPEG",
                                    "n02504013_Indian_elephant.JPEG",
                                    "n03095699_container_ship.JPEG", "n07747607_orange.JPEG",
                                    "n09472597_volcano.JPEG" };
    enum { NP = sizeof photos / sizeof photos[0], S = 224, L = 1000, E = 1280 };
    ordo_pth *w = open_weights("lite0");
    if (!w) SKIP("lite0 weights not installed (ordo weights install)");
    float *in = malloc(sizeof(float) * NP * S * S * 3);
    ordo_err err = { "" };
    const int n = load_sample(photos, NP, S, in);
    if (n < NP) {
        free(in);
        ordo_pth_free(w);
        SKIP("imagenet-sample photos not found (set ORDO_DATA)");
    }
    const long cf = 7 * 7 * 320;   /* lite0's cut */
    float *l32 = malloc(sizeof(float) * NP * L), *e32 = malloc(sizeof(float) * NP * E);
    float *l8 = malloc(sizeof(float) * NP * L), *e8 = malloc(sizeof(float) * NP * E);
    float *l = malloc(sizeof(float) * NP * L), *e = malloc(sizeof(float) * NP * E);
    float *ls = malloc(sizeof(float) * NP * L), *es = malloc(sizeof(float) * NP * E);
    float *c32 = malloc(sizeof(float) * NP * cf), *c = malloc(sizeof(float) * NP * cf);
    const float *ins[NP], *sub[NP];
    for (int i = 0; i < NP; i++) ins[i] = in + (size_t)i * S * S * 3;
    ordo_net *f32 = NULL, *i8 = NULL;
    for (int threads = 1; threads <= 2; threads++) {
        f32 = ordo_net_create_prec("lite0", w, threads, "fp32", &err);
        i8 = ordo_net_create_prec("lite0", w, threads, "int8", &err);
        CHECK_MSG(f32 && i8, "%s", err.msg);
        if (!f32 || !i8) break;
        /* The project precision is still "int8", with the tuned threshold. */
        CHECK(!strcmp(ordo_net_precision(i8), "int8"));
        CHECK(ordo_net_recheck(i8) > 0 && ordo_net_recheck(f32) == 0);
        CHECK(!ordo_net_forward_cut(f32, ins, NP, l32, e32, c32, &err));

        /* 0: pure int8 (and the reference for the rows not re-checked). */
        CHECK(!ordo_net_set_recheck(i8, 0, &err) && ordo_net_recheck(i8) == 0);
        CHECK(!ordo_net_forward(i8, in, NP, l8, e8, &err));
        long rows, re;
        ordo_net_recheck_counts(i8, &rows, &re);
        CHECK(re == 0);
        CHECK(max_diff(e32, e8, (size_t)NP * E) > 1e-4);   /* int8 really is int8 */

        /* Infinite: every row re-checked, fp32's outputs to the bit (the
         * same batch in the same order: the same arithmetic). */
        CHECK(!ordo_net_set_recheck(i8, INFINITY, &err));
        CHECK(!ordo_net_forward_cut(i8, ins, NP, l, e, c, &err));
        CHECK(same_floats(l, l32, (size_t)NP * L) && same_floats(e, e32, (size_t)NP * E));
        CHECK(same_floats(c, c32, (size_t)NP * cf));

        /* A threshold between the photos' int8 margins: the median one
         * splits them. The re-checked rows must equal fp32 run on just
         * those rows, the others pure int8, each to the bit. */
        double g[NP], sorted[NP];
        for (int i = 0; i < NP; i++) sorted[i] = g[i] = logit_gap(l8 + (size_t)i * L);
        for (int i = 0; i < NP; i++)
            for (int j = i + 1; j < NP; j++)
                if (sorted[j] < sorted[i]) {
                    const double t = sorted[i];
                    sorted[i] = sorted[j];
                    sorted[j] = t;
                }
        const double t = 0.5 * (sorted[NP / 2 - 1] + sorted[NP / 2]);
        int m = 0;
        for (int i = 0; i < NP; i++)
            if (g[i] < t) sub[m++] = ins[i];
        CHECK_MSG(m == NP / 2, "%d of %d below the median margin", m, NP);
        CHECK(!ordo_net_forward_cut(f32, sub, m, ls, es, c32, &err));
        ordo_net_recheck_counts(i8, &rows, &re);
        const long re0 = re;
        CHECK(!ordo_net_set_recheck(i8, t, &err));
        CHECK(!ordo_net_forward_cut(i8, ins, NP, l, e, c, &err));
        ordo_net_recheck_counts(i8, &rows, &re);
        CHECK_MSG(re - re0 == m, "re-checked %ld rows, expected %d", re - re0, m);
        for (int i = 0, j = 0; i < NP; i++) {
            const float *wl = g[i] < t ? ls + (size_t)j * L : l8 + (size_t)i * L;
            const float *we = g[i] < t ? es + (size_t)j * E : e8 + (size_t)i * E;
            CHECK_MSG(same_floats(l + (size_t)i * L, wl, L) && same_floats(e + (size_t)i * E, we, E),
                      "%d threads, %s (margin %.3f, threshold %.3f): not the %s outputs", threads,
                      photos[i], g[i], t, g[i] < t ? "fp32" : "int8");
            if (g[i] < t) {
                CHECK(same_floats(c + (size_t)i * cf, c32 + (size_t)j * cf, (size_t)cf));
                j++;
            }
        }
        /* Without the embedding (scan's classify path passes NULL): the
         * same logits. */
        CHECK(!ordo_net_forward(i8, in, NP, ls, NULL, &err));
        CHECK(same_floats(ls, l, (size_t)NP * L));
        ordo_net_free(f32);
        ordo_net_free(i8);
        f32 = i8 = NULL;
    }
    /* Bad thresholds, and fp32 nets have nothing to re-check. */
    ordo_net *net = ordo_net_create_prec("lite0", w, 1, "fp32", &err);
    if (net) {
        CHECK(!ordo_net_set_recheck(net, 0, &err));
        CHECK(ordo_net_set_recheck(net, 0.1, &err) == -1);
        CHECK_MSG(strstr(err.msg, "fp32"), "%s", err.msg);
        ordo_net_free(net);
    }
    net = ordo_net_create_prec("lite0", w, 1, "int8", &err);
    if (net) {
        CHECK(ordo_net_set_recheck(net, -0.5, &err) == -1);
        CHECK(ordo_net_set_recheck(net, NAN, &err) == -1);
        CHECK(ordo_net_recheck(net) > 0);   /* unchanged by the refusals */
        /* Thresholds are tuned per model (net.c recheck_default): lite2's
         * int8 has its own, smaller one; variants tuned for all models at
         * once have the same threshold on both. */
        ordo_pth *w2 = open_weights("lite2");
        ordo_net *l2 = w2 ? ordo_net_create_prec("lite2", w2, 1, "int8", &err) : NULL;
        ordo_net *d0 = w2 ? ordo_net_create_prec("lite0", w, 1, "int8+fpdw", &err) : NULL;
        ordo_net *d2 = w2 ? ordo_net_create_prec("lite2", w2, 1, "int8+fpdw", &err) : NULL;
        if (w2) {
            CHECK_MSG(l2 && d0 && d2, "%s", err.msg);
            if (l2 && d0 && d2) {
                CHECK(ordo_net_recheck(l2) > 0 && ordo_net_recheck(l2) < ordo_net_recheck(net));
                CHECK(ordo_net_recheck(d2) > 0 && ordo_net_recheck(d2) == ordo_net_recheck(d0));
            }
        }
        ordo_net_free(l2);
        ordo_net_free(d0);
        ordo_net_free(d2);
        ordo_pth_free(w2);
        ordo_net_free(net);
    }
    ordo_net_free(f32);
    ordo_net_free(i8);
    free(in); free(l32); free(e32); free(l8); free(e8); free(l); free(e); free(ls); free(es);
    free(c32); free(c);
    ordo_pth_free(w);
}

static void t_errors(void)
{
    ordo_err err = { "" };
    setenv("ORDO_KERNEL", "nonsense", 1);
    ordo_pth *w = open_weights("lite0");
    if (w) {
        CHECK(!ordo_net_create("lite0", w, 1, &err));
        CHECK_MSG(strstr(err.msg, "ORDO_KERNEL"), "%s", err.msg);
    }
    unsetenv("ORDO_KERNEL");
    CHECK(!ordo_net_create("lite9", w, 1, &err));
    CHECK_MSG(strstr(err.msg, "unknown model"), "%s", err.msg);
    CHECK(!ordo_net_create("lite0", NULL, 1, &err));
    CHECK(!ordo_net_create_prec("lite0", w, 1, "bf16", &err));
    CHECK_MSG(strstr(err.msg, "unknown precision"), "%s", err.msg);
    CHECK(!ordo_net_create_prec("lite0", w, 1, "int8+", &err));
    CHECK_MSG(strstr(err.msg, "unknown precision"), "%s", err.msg);
    CHECK(!ordo_net_create_prec("lite0", w, 1, NULL, &err));
    if (!w) SKIP("lite0 weights not installed");
    /* lite0's weights for lite2: wrong widths must be caught with names. */
    CHECK(!ordo_net_create("lite2", w, 1, &err));
    CHECK_MSG(strstr(err.msg, "shape") || strstr(err.msg, "missing"), "%s", err.msg);
    /* lite0's weights for lite1: same widths, more blocks, shifted kernels. */
    CHECK(!ordo_net_create("lite1", w, 1, &err));
    CHECK_MSG(strstr(err.msg, "_blocks.") && (strstr(err.msg, "missing") || strstr(err.msg, "shape")),
              "%s", err.msg);
    ordo_pth *w1 = open_weights("lite1");
    if (w1) {   /* lite1's weights for lite0: extra blocks are refused */
        CHECK(!ordo_net_create("lite0", w1, 1, &err));
        CHECK_MSG(strstr(err.msg, "blocks") || strstr(err.msg, "unexpected"), "%s", err.msg);
        ordo_pth_free(w1);
    }
    ordo_net *net = ordo_net_create("lite0", w, 2, &err);
    CHECK_MSG(net, "%s", err.msg);
    if (net) {
        float l[1000];
        CHECK(ordo_net_forward(net, NULL, 1, l, NULL, &err) == -1);
        CHECK(ordo_net_forward(net, l, 0, l, NULL, &err) == -1);
        ordo_net_free(net);
    }
    ordo_pth_free(w);
}

static int helper_run(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: test_net --run MODEL WEIGHTS IN.f32 N LOGITS EMBED [THREADS]\n");
        return 2;
    }
    const char *model = argv[2];
    const int n = atoi(argv[5]), threads = argc > 8 ? atoi(argv[8]) : 0;
    const int S = ordo_net_model_size(model);
    ordo_err err = { "" };
    ordo_pth *w = ordo_pth_open(argv[3], &err);
    ordo_net *net = w ? ordo_net_create(model, w, threads, &err) : NULL;
    if (!net || n < 1 || S == 0) {
        fprintf(stderr, "test_net: %s\n", err.msg);
        return 1;
    }
    size_t ni = (size_t)n * S * S * 3;
    float *in = malloc(ni * sizeof *in), *l = malloc((size_t)n * 1000 * sizeof *l);
    float *e = malloc((size_t)n * 1280 * sizeof *e);
    FILE *f = fopen(argv[4], "rb");
    if (!f || fread(in, sizeof *in, ni, f) != ni) {
        fprintf(stderr, "test_net: cannot read %zu floats from %s\n", ni, argv[4]);
        return 1;
    }
    fclose(f);
    if (ordo_net_forward(net, in, n, l, e, &err)) {
        fprintf(stderr, "test_net: %s\n", err.msg);
        return 1;
    }
    f = fopen(argv[6], "wb");
    if (!f || fwrite(l, sizeof *l, (size_t)n * 1000, f) != (size_t)n * 1000 || fclose(f)) return 1;
    f = fopen(argv[7], "wb");
    if (!f || fwrite(e, sizeof *e, (size_t)n * 1280, f) != (size_t)n * 1280 || fclose(f)) return 1;
    printf("kernel %s\n", ordo_net_kernel(net));
    ordo_net_free(net);
    ordo_pth_free(w);
    free(in); free(l); free(e);
    return 0;
}

int main(int argc, char **argv)
{
    find_paths();
    if (argc > 1 && !strcmp(argv[1], "--run")) return helper_run(argc, argv);
    RUN(t_gemm_matches_naive);
    RUN(t_dw_matches_naive);
    RUN(t_model_size);
    RUN(t_forward_paths_agree);
    RUN(t_gemm8_matches_naive);
    RUN(t_gemm16_matches_naive);
    RUN(t_dw8_matches_naive);
    RUN(t_stem8_matches_naive);
    RUN(t_quant_rule);
    RUN(t_dwq_matches_dw);
    RUN(t_int8_forward);
    RUN(t_int8_recheck);
    RUN(t_errors);
    return test_summary();
}
