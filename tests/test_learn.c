/* test_learn.c - retraining, calibration, metrics, model bytes, simulation. */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "learn/learn.h"
#include "learn/learn_store.h"
#include "loop/loop.h"
#include "test.h"

/* A small deterministic generator for test data (independent of the
 * library's, so a bug there cannot hide here). */
static uint64_t tr_state = 88172645463325252ULL;
static double urand(void)
{
    tr_state ^= tr_state << 13;
    tr_state ^= tr_state >> 7;
    tr_state ^= tr_state << 17;
    return (double)(tr_state >> 11) / 9007199254740992.0;
}
static double nrand(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* n points in d dims from k Gaussian blobs with centres `sep` apart. */
static void blobs(float *x, int *y, size_t n, size_t d, int k, double sep, double noise)
{
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % (size_t)k);
        y[i] = c;
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = (float)(((size_t)c == j % (size_t)k ? sep : 0) + noise * nrand());
    }
}

static int argmax(const float *p, int k)
{
    int a = 0;
    for (int c = 1; c < k; c++)
        if (p[c] > p[a]) a = c;
    return a;
}

static void t_separable(void)
{
    enum { N = 300, D = 20, K = 3 };
    static float x[N * D], xt[N * D], pr[N * K];
    static int y[N], yt[N];
    blobs(x, y, N, D, K, 3.0, 0.5);
    blobs(xt, yt, N, D, K, 3.0, 0.5);
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    ordo_learn_report rep;
    ordo_err err = {{0}};
    ordo_learn_model *m = ordo_learn_train(x, N, D, y, K, NULL, &o, NULL, &rep, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m) return;
    CHECK(ordo_learn_predict(m, xt, N, pr, NULL, &err) == 0);
    int right = 0;
    for (int i = 0; i < N; i++) {
        right += argmax(pr + i * K, K) == yt[i];
        float s = pr[i * K] + pr[i * K + 1] + pr[i * K + 2];
        CHECK_MSG(fabsf(s - 1) < 1e-4f, "row %d sums to %f", i, s);
    }
    CHECK_MSG(right == N, "%d/%d right on fresh separable data", right, N);
    CHECK(rep.n_classes_present == 3);
    CHECK_MSG(rep.cv_accuracy > 0.99, "cv accuracy %f", rep.cv_accuracy);
    CHECK(rep.temperature > 0);
    CHECK(strcmp(ordo_learn_model_class_name(m, 2), "2") == 0);
    ordo_learn_model_free(m);
}

/* The analytic gradient matches central finite differences. */
static void t_gradient(void)
{
    enum { N = 12, D = 5, K = 4 };
    float x[N * D], W[K * D], b[K], gW[K * D], gb[K], sw[N];
    int y[N];
    for (int i = 0; i < N * D; i++) x[i] = (float)nrand();
    for (int i = 0; i < K * D; i++) W[i] = (float)(0.5 * nrand());
    for (int c = 0; c < K; c++) b[c] = (float)(0.3 * nrand());
    for (int i = 0; i < N; i++) {
        y[i] = i % K;
        sw[i] = (float)(0.5 + urand());
    }
    double l2 = 0.37;
    ordo_learn_softmax_loss(x, N, D, y, K, sw, W, b, l2, gW, gb);
    double worst = 0;
    const float h = 1e-2f;
    for (int j = 0; j < K * D + K; j++) {
        float *p = j < K * D ? &W[j] : &b[j - K * D];
        float keep = *p;
        *p = keep + h;
        double fp = ordo_learn_softmax_loss(x, N, D, y, K, sw, W, b, l2, NULL, NULL);
        *p = keep - h;
        double fm = ordo_learn_softmax_loss(x, N, D, y, K, sw, W, b, l2, NULL, NULL);
        *p = keep;
        double num = (fp - fm) / (2 * h);
        double ana = j < K * D ? gW[j] : gb[j - K * D];
        double e = fabs(num - ana) / (fabs(num) + 1e-2);
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst < 2e-3, "worst relative gradient error %g", worst);
}

static double wnorm(const ordo_learn_model *m, const float *x, size_t d)
{
    /* |logit differences| on a probe point grow with |W|: use the model's
     * uncalibrated logits as a proxy that needs no access to internals */
    float pr[3], lg[3];
    ordo_err err;
    ordo_learn_predict(m, x, 1, pr, lg, &err);
    (void)d;
    return fabs(lg[0] - lg[1]) + fabs(lg[1] - lg[2]) + fabs(lg[0] - lg[2]);
}

static void t_l2_shrinks(void)
{
    enum { N = 150, D = 10, K = 3 };
    static float x[N * D];
    static int y[N];
    blobs(x, y, N, D, K, 1.0, 1.0);
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    o.calibrate = 0;
    ordo_err err;
    double norms[3];
    double l2s[3] = {1e-3, 1e-1, 10};
    for (int i = 0; i < 3; i++) {
        o.l2 = l2s[i];
        ordo_learn_model *m = ordo_learn_train(x, N, D, y, K, NULL, &o, NULL, NULL, &err);
        CHECK_MSG(m != NULL, "%s", err.msg);
        if (!m) return;
        CHECK(ordo_learn_model_l2(m) == l2s[i]);
        CHECK(ordo_learn_model_temperature(m) == 1.0);
        norms[i] = wnorm(m, x, D);
        ordo_learn_model_free(m);
    }
    CHECK_MSG(norms[0] > norms[1] && norms[1] > norms[2] && norms[2] < 0.5,
              "logit spread %g %g %g", norms[0], norms[1], norms[2]);
}

/* Logits drawn calibrated, then multiplied by 4: the fitted T is near 4
 * and lowers the NLL. */
static void t_temperature(void)
{
    enum { N = 4000, K = 5 };
    static float lg[N * K];
    static int y[N];
    for (int i = 0; i < N; i++) {
        float p[K];
        double s = 0;
        for (int c = 0; c < K; c++) {
            lg[i * K + c] = (float)(1.5 * nrand());
            p[c] = expf(lg[i * K + c]);
            s += p[c];
        }
        double u = urand() * s, acc = 0;
        y[i] = K - 1;
        for (int c = 0; c < K; c++) {
            acc += p[c];
            if (u < acc) { y[i] = c; break; }
        }
        for (int c = 0; c < K; c++) lg[i * K + c] *= 4.0f;
    }
    double t = ordo_learn_fit_temperature(lg, N, K, y);
    double n1 = ordo_learn_nll(lg, N, K, y, 1.0), nt = ordo_learn_nll(lg, N, K, y, t);
    CHECK_MSG(t > 3.5 && t < 4.5, "T = %f", t);
    CHECK_MSG(nt < n1 - 0.5, "NLL %f -> %f", n1, nt);
    CHECK(ordo_learn_nll(lg, N, K, y, t * 1.1) >= nt && ordo_learn_nll(lg, N, K, y, t / 1.1) >= nt);
}

static void t_wilson(void)
{
    double lo, hi;
    ordo_learn_wilson(8, 10, 1.959964, &lo, &hi);
    CHECK_MSG(fabs(lo - 0.4902) < 5e-4 && fabs(hi - 0.9433) < 5e-4, "[%f, %f]", lo, hi);
    ordo_learn_wilson(0, 10, 1.959964, &lo, &hi);
    CHECK_MSG(lo == 0 && fabs(hi - 0.2775) < 5e-4, "[%f, %f]", lo, hi);
    ordo_learn_wilson(10, 10, 1.959964, &lo, &hi);
    CHECK_MSG(fabs(lo - 0.7225) < 5e-4 && hi > 1 - 1e-12, "[%f, %f]", lo, hi);
    ordo_learn_wilson(0, 0, 1.959964, &lo, &hi);
    CHECK(lo == 0 && hi == 1);
    /* sample size: the smallest n whose half-width is within the target */
    size_t n = ordo_learn_sample_size(0.5, 0.05, 1.959964);
    CHECK_MSG(n > 370 && n < 390, "n = %zu", n);
    ordo_learn_wilson(n / 2, n, 1.959964, &lo, &hi);
    CHECK((hi - lo) / 2 <= 0.0501);
    CHECK(ordo_learn_sample_size(0.9, 0.05, 1.959964) < n);
    CHECK(ordo_learn_sample_size(0.5, 0, 1.96) == 0);
}

static void t_evaluate(void)
{
    int truth[] = {0, 0, 1, 1, 2, -1};
    int pred[] = {0, 1, 1, 1, 0, 2};
    ordo_learn_eval e;
    ordo_err err;
    CHECK(ordo_learn_evaluate(truth, pred, 6, 3, 500, 7, 10, &e, &err) == 0);
    CHECK(e.n == 5 && e.correct == 3);
    CHECK(fabs(e.accuracy - 0.6) < 1e-12);
    CHECK(fabs(e.macro_f1 - (0.5 + 0.8 + 0) / 3) < 1e-12);
    CHECK(fabs(e.precision[1] - 2.0 / 3) < 1e-12 && e.recall[1] == 1.0);
    CHECK(isnan(e.precision[2]) && e.recall[2] == 0);
    CHECK(e.support[0] == 2 && e.predicted[1] == 3 && e.tp[0] == 1);
    CHECK(e.n_confused == 2);
    if (e.n_confused == 2) {
        CHECK(e.confused[0].truth == 0 && e.confused[0].predicted == 1 && e.confused[0].count == 1);
        CHECK(e.confused[1].truth == 2 && e.confused[1].predicted == 0);
    }
    CHECK(e.f1_lo <= e.f1_hi && e.f1_lo >= 0 && e.f1_hi <= 1);
    ordo_learn_eval_free(&e);
    int bad[] = {0, 3};
    CHECK(ordo_learn_evaluate(truth, bad, 2, 3, 0, 1, 1, &e, &err) != 0);
}

/* The bootstrap interval depends only on the seed, and covers the point. */
static void t_bootstrap(void)
{
    enum { N = 400, K = 6 };
    int truth[N], pred[N];
    for (int i = 0; i < N; i++) {
        truth[i] = i % K;
        pred[i] = urand() < 0.7 ? truth[i] : (int)(urand() * K);
    }
    ordo_learn_eval a, b, c;
    ordo_err err;
    CHECK(ordo_learn_evaluate(truth, pred, N, K, 1000, 42, 3, &a, &err) == 0);
    CHECK(ordo_learn_evaluate(truth, pred, N, K, 1000, 42, 3, &b, &err) == 0);
    CHECK(ordo_learn_evaluate(truth, pred, N, K, 1000, 43, 3, &c, &err) == 0);
    CHECK(a.f1_lo == b.f1_lo && a.f1_hi == b.f1_hi);
    CHECK(a.f1_lo != c.f1_lo || a.f1_hi != c.f1_hi);
    CHECK_MSG(a.f1_lo < a.macro_f1 && a.macro_f1 < a.f1_hi, "%f in [%f, %f]", a.macro_f1, a.f1_lo,
              a.f1_hi);
    /* about +-2 standard errors of an F1 near 0.75 on 400 items */
    CHECK_MSG(a.f1_hi - a.f1_lo > 0.04 && a.f1_hi - a.f1_lo < 0.2, "width %f", a.f1_hi - a.f1_lo);
    ordo_learn_eval_free(&a);
    ordo_learn_eval_free(&b);
    ordo_learn_eval_free(&c);
}

static void t_serialize(void)
{
    enum { N = 120, D = 8, K = 3 };
    static float x[N * D], p1[N * K], p2[N * K];
    static int y[N];
    blobs(x, y, N, D, K, 2.0, 1.0);
    const char *names[K] = {"tennis", "motor racing", "not-sports"};
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    o.pca_dim = 5;
    ordo_err err;
    ordo_learn_model *m = ordo_learn_train(x, N, D, y, K, names, &o, NULL, NULL, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m) return;
    unsigned char *buf;
    size_t len;
    CHECK(ordo_learn_model_to_bytes(m, &buf, &len, &err) == 0);
    ordo_learn_model *m2 = ordo_learn_model_from_bytes(buf, len, &err);
    CHECK_MSG(m2 != NULL, "%s", err.msg);
    if (m2) {
        CHECK(ordo_learn_predict(m, x, N, p1, NULL, &err) == 0);
        CHECK(ordo_learn_predict(m2, x, N, p2, NULL, &err) == 0);
        CHECK(memcmp(p1, p2, sizeof p1) == 0);
        CHECK(strcmp(ordo_learn_model_class_name(m2, 1), "motor racing") == 0);
        CHECK(ordo_learn_model_temperature(m2) == ordo_learn_model_temperature(m));
        CHECK(ordo_learn_model_dim(m2) == D && ordo_learn_model_classes(m2) == K);
        ordo_learn_model_free(m2);
    }
    /* every single-byte corruption and every truncation is rejected */
    int accepted = 0;
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x5a;
        ordo_learn_model *bad = ordo_learn_model_from_bytes(buf, len, &err);
        accepted += bad != NULL;
        ordo_learn_model_free(bad);
        buf[i] ^= 0x5a;
    }
    CHECK_MSG(accepted == 0, "%d corrupted blobs accepted", accepted);
    for (size_t l = 0; l < len; l += 7) {
        ordo_learn_model *bad = ordo_learn_model_from_bytes(buf, l, &err);
        accepted += bad != NULL;
        ordo_learn_model_free(bad);
    }
    CHECK_MSG(accepted == 0, "%d truncated blobs accepted", accepted);
    CHECK(ordo_learn_model_from_bytes(NULL, 0, &err) == NULL);
    free(buf);
    ordo_learn_model_free(m);
}

/* Classes without labels get probability 0; two classes is the binary
 * sports filter's path. */
static void t_absent_and_binary(void)
{
    enum { N = 90, D = 6, K = 3 };
    static float x[N * D], pr[N * K];
    static int y[N];
    blobs(x, y, N, D, K, 2.5, 0.7);
    for (int i = 0; i < N; i++)
        if (y[i] == 1) y[i] = -1;
    ordo_err err;
    ordo_learn_model *m = ordo_learn_train(x, N, D, y, K, NULL, NULL, NULL, NULL, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m) return;
    CHECK(ordo_learn_predict(m, x, N, pr, NULL, &err) == 0);
    int right = 0;
    for (int i = 0; i < N; i++) {
        CHECK(pr[i * K + 1] == 0);
        if (y[i] >= 0) right += argmax(pr + i * K, K) == y[i];
    }
    CHECK_MSG(right == 60, "%d/60", right);
    ordo_learn_model_free(m);
    /* one class only: a clear error */
    for (int i = 0; i < N; i++) y[i] = 0;
    CHECK(ordo_learn_train(x, N, D, y, K, NULL, NULL, NULL, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "at least 2 classes") != NULL);
    for (int i = 0; i < N; i++) y[i] = (x[i * D] > 1.0f);
    m = ordo_learn_train(x, N, D, y, 2, NULL, NULL, NULL, NULL, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    ordo_learn_model_free(m);
}

/* ATLAS learns where the model is wrong: here the model is always wrong
 * when x0 > 0, so those rows must score a higher chance of error. */
static void t_atlas(void)
{
    enum { N = 400, D = 4, K = 3 };
    static float x[N * D], pr[N * K], pw[N];
    static int y[N];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < D; j++) x[i * D + j] = (float)nrand();
        y[i] = i % K;
        int said = x[i * D] > 0 ? (y[i] + 1) % K : y[i];
        for (int c = 0; c < K; c++) pr[i * K + c] = c == said ? 0.8f : 0.1f;
    }
    ordo_err err;
    ordo_learn_model *a = ordo_learn_atlas_train(x, N, D, pr, K, y, NULL, &err);
    CHECK_MSG(a != NULL, "%s", err.msg);
    if (!a) return;
    CHECK(ordo_learn_atlas_score(a, x, N, D, pr, K, pw, &err) == 0);
    double hi = 0, lo = 0;
    int nh = 0, nl = 0;
    for (int i = 0; i < N; i++) {
        if (x[i * D] > 0.3f) { hi += pw[i]; nh++; }
        if (x[i * D] < -0.3f) { lo += pw[i]; nl++; }
    }
    CHECK_MSG(hi / nh > 0.8 && lo / nl < 0.2, "p(wrong) %f where wrong, %f where right",
              hi / nh, lo / nl);
    CHECK(ordo_learn_atlas_score(a, x, N, D + 1, pr, K, pw, &err) != 0);
    ordo_learn_model_free(a);
    for (int i = 0; i < N; i++) y[i] = argmax(pr + i * K, K);
    CHECK(ordo_learn_atlas_train(x, N, D, pr, K, y, NULL, &err) == NULL);
}

/* A strategy that breaks the rules is reported, not trusted. */
static long st_cheat(const ordo_learn_sim_ctx *c, size_t *p, ordo_err *e)
{
    (void)e;
    for (size_t i = 0; i < c->n; i++)
        if (c->is_eval[i]) { p[0] = i; return 1; }
    return 0;
}

static void t_simulate(void)
{
    enum { N = 400, D = 12, K = 4, NT = 200 };
    static float x[N * D], xt[NT * D], prior[N * K];
    static int y[N], yt[NT];
    blobs(x, y, N, D, K, 1.2, 1.0);
    blobs(xt, yt, NT, D, K, 1.2, 1.0);
    for (int i = 0; i < N * K; i++) prior[i] = (float)urand();
    for (int i = 0; i < N; i++) {
        float s = 0;
        for (int c = 0; c < K; c++) s += prior[i * K + c];
        for (int c = 0; c < K; c++) prior[i * K + c] /= s;
    }
    ordo_learn_sim_config cfg = {.n = N, .d = D, .x = x, .truth = y, .k = K,
                                 .prior_probs = prior, .prior_k = K, .n_test = NT,
                                 .test_x = xt, .test_truth = yt, .eval_size = 80, .batch = 20,
                                 .rounds = 4, .n_seeds = 2, .seed = 5};
    ordo_learn_opts_default(&cfg.train);
    const char *names[] = {"random", "most-confident", "least-confidence", "margin", "entropy",
                           "atlas"};
    ordo_learn_strategy st[6];
    for (int i = 0; i < 6; i++) {
        st[i] = ordo_loop_strategy(names[i]);
        CHECK(st[i].fn != NULL);
    }
    CHECK(ordo_loop_strategy("nope").fn == NULL);
    ordo_learn_sim_result a, b;
    ordo_err err;
    CHECK_MSG(ordo_learn_simulate(&cfg, st, 6, &a, &err) == 0, "%s", err.msg);
    cfg.threads = 3; /* parallel runs must give the serial result */
    CHECK_MSG(ordo_learn_simulate(&cfg, st, 6, &b, &err) == 0, "%s", err.msg);
    cfg.threads = 0;
    if (a.n_curves != 6 || b.n_curves != 6) return;
    for (int j = 0; j < 6; j++) {
        CHECK(strcmp(a.curves[j].name, names[j]) == 0);
        CHECK(a.curves[j].n_points == 4);
        for (int r = 0; r < 4; r++) {
            CHECK(a.curves[j].points[r].labels == (size_t)(20 * (r + 1)));
            CHECK(a.curves[j].points[r].test_mean == b.curves[j].points[r].test_mean);
            CHECK(a.curves[j].points[r].eval_mean == b.curves[j].points[r].eval_mean);
            CHECK(a.curves[j].points[r].eval_mean > 0.4); /* 4 classes: chance is 0.25 */
            CHECK(a.curves[j].rest_acc[r] == b.curves[j].rest_acc[r]);
        }
        CHECK(a.curves[j].auc == b.curves[j].auc && a.curves[j].auc_se == b.curves[j].auc_se);
        CHECK(a.curves[j].auc > 0.4 && a.curves[j].auc <= 1);
    }
    /* random matches itself at or before its last point */
    CHECK(a.curves[0].labels_to_match_random > 0 && a.curves[0].labels_to_match_random <= 80);
    CHECK(a.eval_ci_coverage >= 0 && a.eval_ci_coverage <= 1);
    CHECK(a.eval_ci_coverage == b.eval_ci_coverage && a.rest_ci_coverage == b.rest_ci_coverage);
    ordo_learn_sim_result_free(&b);
    /* a strategy's curve does not depend on where it stands in the list:
     * its random choices follow its name (entropy fifth, then first;
     * random first, then second) */
    ordo_learn_strategy two[2] = {st[4], st[0]};
    CHECK_MSG(ordo_learn_simulate(&cfg, two, 2, &b, &err) == 0, "%s", err.msg);
    if (b.n_curves == 2 && a.n_curves == 6)
        for (int r = 0; r < 4; r++) {
            CHECK(b.curves[0].points[r].test_mean == a.curves[4].points[r].test_mean);
            CHECK(b.curves[1].points[r].test_mean == a.curves[0].points[r].test_mean);
        }
    ordo_learn_sim_result_free(&a);
    ordo_learn_sim_result_free(&b);
    /* another seed gives another evaluation sample */
    cfg.seed = 6;
    CHECK(ordo_learn_simulate(&cfg, st, 1, &b, &err) == 0);
    ordo_learn_sim_result_free(&b);
    ordo_learn_strategy cheat = {"cheat", st_cheat, NULL};
    CHECK(ordo_learn_simulate(&cfg, &cheat, 1, &a, &err) != 0);
    CHECK_MSG(strstr(err.msg, "not a candidate") != NULL, "%s", err.msg);
}

/* The CSV reader: quotes, doubled quotes, line breaks in fields, CRLF, a
 * byte-order mark, blank lines; malformed input is refused. */
static void t_csv(void)
{
    char path[] = "/tmp/test_learn_csv_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) SKIP("no temporary file");
    const char text[] = "\xef\xbb\xbfpath,label\r\n"
                        "a.jpg,tennis\r\n"
                        "\"b, \"\"quoted\"\".jpg\",\"motor\nracing\"\n"
                        "\n"
                        "c.jpg,,extra\n"
                        "d.jpg,last";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    ordo_learn_csv c;
    ordo_err err;
    CHECK_MSG(ordo_learn_csv_read(path, &c, &err) == 0, "%s", err.msg);
    CHECK(c.nrows == 5);
    if (c.nrows == 5) {
        CHECK(c.rows[0].n == 2 && !strcmp(c.rows[0].f[0], "path"));
        CHECK(!strcmp(c.rows[1].f[1], "tennis"));
        CHECK(!strcmp(c.rows[2].f[0], "b, \"quoted\".jpg"));
        CHECK(!strcmp(c.rows[2].f[1], "motor\nracing"));
        CHECK(c.rows[3].n == 3 && c.rows[3].f[1][0] == 0 && !strcmp(c.rows[3].f[2], "extra"));
        CHECK(!strcmp(c.rows[4].f[1], "last"));
    }
    ordo_learn_csv_free(&c);
    static const char *const bad[] = {"a,\"open\n", "a,\"x\"y\n"};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        CHECK_MSG(ordo_learn_csv_read(path, &c, &err) != 0, "bad csv %d accepted", i);
    }
    CHECK(ordo_learn_csv_read("/nonexistent/x.csv", &c, &err) != 0);
    unlink(path);
}

/* Cohen's kappa on a hand-computed table: 50 items, agreement 35/50,
 * marginals 25/25 and 30/20: p_e = (25*30 + 25*20) / 2500 = 0.5, so
 * kappa = (0.7 - 0.5) / 0.5 = 0.4. */
static void t_kappa(void)
{
    int a[50], b[50];
    for (int i = 0; i < 50; i++) {
        a[i] = i < 25 ? 0 : 1;
        /* a=0: 20 agree, 5 say 1; a=1: 10 say 0, 15 agree */
        b[i] = i < 20 ? 0 : i < 25 ? 1 : i < 35 ? 0 : 1;
    }
    CHECK(fabs(ordo_learn_kappa(a, b, 50, 2) - 0.4) < 1e-12);
    CHECK(ordo_learn_kappa(a, a, 50, 2) == 1.0);
    int c[4] = {0, 0, 0, 0};
    CHECK(ordo_learn_kappa(c, c, 4, 3) == 1.0); /* p_e = 1: identical constant labelings */
    CHECK(isnan(ordo_learn_kappa(a, b, 0, 2)));
}

/* A zero row weight is the same as leaving the row out: every fourth row
 * gets a wrong label; with weight 0 the model's mean probability of the
 * true class matches the model trained without those rows, with weight 1
 * it drops. */
static double mean_true_prob(const ordo_learn_model *m, const float *x, const int *y, int n, int k)
{
    float *p = malloc((size_t)n * k * sizeof *p);
    ordo_err err;
    double s = 0;
    if (p && ordo_learn_predict(m, x, (size_t)n, p, NULL, &err) == 0)
        for (int i = 0; i < n; i++) s += p[i * k + y[i]];
    free(p);
    return s / n;
}

/* AUROC of score (higher = positive) against y in {0, 1}, ties half. */
static double auroc_of(const float *score, const int *y, size_t n)
{
    double u = 0, np = 0, nn = 0;
    for (size_t i = 0; i < n; i++) {
        if (!y[i]) { nn++; continue; }
        np++;
        for (size_t j = 0; j < n; j++)
            if (!y[j]) u += score[i] > score[j] ? 1 : score[i] == score[j] ? 0.5 : 0;
    }
    return u / (np * nn);
}

/* The offset: its values, and training + prediction both using it. */
static void t_offset(void)
{
    float pr[4] = {0.8f, 0.5f, NAN, 0.0f}, off[8];
    ordo_learn_prior_offset(pr, 4, off);
    CHECK(off[0] == 0 && off[2] == 0 && off[4] == 0 && off[6] == 0);
    CHECK_MSG(fabs(off[1] + log(4.0)) < 1e-5, "%g", off[1]);     /* -logit(0.8) */
    CHECK(off[3] == 0 && off[5] == 0);                           /* 0.5 and unknown */
    CHECK_MSG(fabs(off[7] - log(9999.0)) < 1e-3, "%g", off[7]);  /* clamped at 1e-4 */

    /* the same offset on every row is absorbed by the intercept: the
     * offset model predicts (with its offset) what the plain one does */
    enum { N = 200, D = 5, K = 3 };
    static float x[N * D], o3[N * K], pa[N * K], pb[N * K];
    static int y[N];
    blobs(x, y, N, D, K, 1.5, 1.0);
    for (int i = 0; i < N; i++) { o3[i * K] = 2.0f; o3[i * K + 1] = -1.0f; o3[i * K + 2] = 0.5f; }
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    o.l2 = 1e-2;
    o.calibrate = 0;
    ordo_err err;
    ordo_learn_model *a = ordo_learn_train(x, N, D, y, K, NULL, &o, NULL, NULL, &err);
    o.offset = o3;
    ordo_learn_model *b = ordo_learn_train(x, N, D, y, K, NULL, &o, NULL, NULL, &err);
    CHECK(a && b);
    if (a && b && ordo_learn_predict(a, x, N, pa, NULL, &err) == 0 &&
        ordo_learn_predict_offset(b, x, N, o3, pb, NULL, &err) == 0) {
        double md = 0;
        for (int i = 0; i < N * K; i++) md = fmax(md, fabs(pa[i] - pb[i]));
        CHECK_MSG(md < 2e-3, "offset model differs from the plain one by %g", md);
        /* and without its offset it is a different model */
        ordo_learn_predict(b, x, N, pb, NULL, &err);
        md = 0;
        for (int i = 0; i < N * K; i++) md = fmax(md, fabs(pa[i] - pb[i]));
        CHECK_MSG(md > 0.05, "the offset changed nothing (%g)", md);
    }
    ordo_learn_model_free(a);
    ordo_learn_model_free(b);
    o3[5] = INFINITY;
    a = ordo_learn_train(x, N, D, y, K, NULL, &o, NULL, NULL, &err);
    CHECK(a == NULL && strstr(err.msg, "offset") != NULL);
    ordo_learn_model_free(a);
}

/* The sports filter on top of the prior (ordo_learn_filter_train):
 * - with features that say nothing (every row the same) it ranks exactly
 *   like the prior, whatever the answers;
 * - where the prior is wrong on a group the features single out, the
 *   answers correct it: AUROC above the prior's;
 * - with answers that only repeat the prior, it stays close to the prior's
 *   AUROC on a pool where the plain learned filter (few not-sports
 *   answers, as early in labeling) falls below it. */
static void t_filter_prior(void)
{
    enum { N = 600, D = 6 };
    static float x[N * D], prior[N], pn[N], pp[N];
    static int y[N];
    ordo_err err;
    /* 1. uninformative features */
    for (int i = 0; i < N; i++) {
        prior[i] = (float)urand();
        y[i] = urand() < 0.3;
        for (int j = 0; j < D; j++) x[i * D + j] = 1.0f;
    }
    ordo_learn_model *f = ordo_learn_filter_train(x, N, D, y, prior, NULL, NULL, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    if (f && ordo_learn_filter_predict(f, 1, x, prior, N, pn, &err) == 0) {
        int same = 1;
        for (int i = 0; i < N && same; i++)
            for (int j = 0; j < N && same; j++)
                if (prior[i] < prior[j]) same = pn[i] > pn[j];   /* P(not) falls as prior rises */
        CHECK_MSG(same, "the filter does not rank like the prior");
        CHECK(!strcmp(ordo_learn_model_class_name(f, 1), "not-sports"));
    }
    ordo_learn_model_free(f);

    /* 2. the prior is wrong on a group the first feature marks */
    static int truth[N];
    for (int i = 0; i < N; i++) {
        int grp = i % 5 == 0;                 /* 20 %: not-sports the prior calls sports */
        truth[i] = grp || i % 5 == 1;         /* + 20 %: not-sports it gets right */
        prior[i] = (float)(truth[i] && !grp ? 0.1 + 0.3 * urand() : 0.6 + 0.3 * urand());
        for (int j = 0; j < D; j++) x[i * D + j] = (float)nrand() + (j == 0 && grp ? 3.0f : 0.0f);
        pp[i] = 1 - prior[i];
    }
    f = ordo_learn_filter_train(x, N / 2, D, truth, prior, NULL, NULL, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    if (f && ordo_learn_filter_predict(f, 1, x + N / 2 * D, prior + N / 2, N / 2, pn, &err) == 0) {
        double ap = auroc_of(pp + N / 2, truth + N / 2, N / 2);
        double ac = auroc_of(pn, truth + N / 2, N / 2);
        CHECK_MSG(ac > ap + 0.1, "combined AUROC %.3f, prior %.3f", ac, ap);
    }
    ordo_learn_model_free(f);

    /* 3. a good prior, answers that agree with it, 3 not-sports answers in
     * 60: the combined filter keeps the prior's AUROC (within noise) */
    for (int i = 0; i < N; i++) {
        truth[i] = i % 20 == 0;
        prior[i] = (float)(truth[i] ? 0.05 + 0.6 * urand() : 0.35 + 0.6 * urand());
        for (int j = 0; j < D; j++) x[i * D + j] = (float)nrand();
        pp[i] = 1 - prior[i];
    }
    f = ordo_learn_filter_train(x, 60, D, truth, prior, NULL, NULL, &err);
    CHECK_MSG(f != NULL, "%s", err.msg);
    if (f && ordo_learn_filter_predict(f, 1, x + 60 * D, prior + 60, N - 60, pn, &err) == 0) {
        double ap = auroc_of(pp + 60, truth + 60, N - 60);
        double ac = auroc_of(pn, truth + 60, N - 60);
        CHECK_MSG(ac > ap - 0.01, "combined AUROC %.3f below the prior's %.3f", ac, ap);
    }
    ordo_learn_model_free(f);
}

static void t_row_weight(void)
{
    enum { N = 240, D = 6, K = 3 };
    static float x[N * D], w[N], ones[N];
    static int y[N], ynoisy[N], ykept[N];
    blobs(x, y, N, D, K, 2.0, 1.0);
    for (int i = 0; i < N; i++) {
        int bad = i % 4 == 0;
        ynoisy[i] = bad ? (y[i] + 1) % K : y[i];
        ykept[i] = bad ? -1 : y[i];
        w[i] = bad ? 0.0f : 1.0f;
        ones[i] = 1.0f;
    }
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    o.l2 = 1e-2;
    o.calibrate = 0;
    o.class_balanced = 0;
    ordo_err err;
    o.row_weight = w;
    ordo_learn_model *a = ordo_learn_train(x, N, D, ynoisy, K, NULL, &o, NULL, NULL, &err);
    o.row_weight = ones;
    ordo_learn_model *c = ordo_learn_train(x, N, D, ynoisy, K, NULL, &o, NULL, NULL, &err);
    o.row_weight = NULL;
    ordo_learn_model *b = ordo_learn_train(x, N, D, ykept, K, NULL, &o, NULL, NULL, &err);
    CHECK(a && b && c);
    if (a && b && c) {
        /* the standardization still sees every labeled row, hence "close" */
        double pa = mean_true_prob(a, x, y, N, K), pb = mean_true_prob(b, x, y, N, K),
               pc = mean_true_prob(c, x, y, N, K);
        CHECK_MSG(fabs(pa - pb) < 0.02, "weight 0 %.4f vs left out %.4f", pa, pb);
        CHECK_MSG(pb - pc > 0.05, "left out %.4f vs weight 1 %.4f", pb, pc);
    }
    ordo_learn_model_free(a);
    ordo_learn_model_free(b);
    ordo_learn_model_free(c);
    w[7] = NAN;
    o.row_weight = w;
    a = ordo_learn_train(x, N, D, y, K, NULL, &o, NULL, NULL, &err);
    CHECK(a == NULL);
    CHECK_MSG(strstr(err.msg, "row weight 7") != NULL, "%s", err.msg);
    ordo_learn_model_free(a);
}

/* Two rings of points (concentric circles in 2-D, lifted to 3-D with a
 * constant so cosine similarity sees them): one label per ring. Propagation
 * along the graph labels every point by its ring, which no linear model of
 * the two labels alone can do. */
static void t_propagate(void)
{
    enum { N = 200, D = 3, K = 2 };
    static float x[N * D], F[N * K];
    static int y[N], truth[N];
    for (int i = 0; i < N; i++) {
        int ring = i % 2;
        double a = 2 * M_PI * (i / 2) / (N / 2), r = ring ? 3.0 : 1.0;
        x[i * D] = (float)(r * cos(a));
        x[i * D + 1] = (float)(r * sin(a));
        x[i * D + 2] = 0.5f;
        truth[i] = ring;
        y[i] = -1;
    }
    y[0] = 0;
    y[1] = 1;
    ordo_learn_semi_opts so;
    ordo_learn_semi_default(&so);
    so.knn = 4;
    so.iterations = 200;
    ordo_err err;
    CHECK_MSG(ordo_learn_propagate(x, N, D, y, K, &so, F, &err) == 0, "%s", err.msg);
    int right = 0;
    for (int i = 0; i < N; i++) right += argmax(F + i * K, K) == truth[i];
    CHECK_MSG(right == N, "%d of %d", right, N);
    y[0] = 7;
    CHECK(ordo_learn_propagate(x, N, D, y, K, &so, F, &err) != 0);
    CHECK(ordo_learn_learner_id("propagate") == ORDO_LEARNER_PROPAGATE);
    CHECK(ordo_learn_learner_id("linear") == ORDO_LEARNER_LINEAR);
    CHECK(ordo_learn_learner_id("mlp") == -1);
    CHECK(strcmp(ordo_learn_learner_name(ORDO_LEARNER_PROPAGATE), "propagate") == 0);
    CHECK(ordo_learn_learner_name(9) == NULL);
}

/* The propagate learner on blobs with few labels: it uses the unlabeled
 * rows, so it must not be worse than the linear learner on held-out rows,
 * and with no unlabeled rows it is the linear learner exactly. */
static void t_train_semi(void)
{
    enum { N = 600, D = 10, K = 4, NT = 400 };
    static float x[N * D], xt[NT * D], pa[NT * K], pb[NT * K];
    static int y[N], yl[N], yt[NT];
    blobs(x, y, N, D, K, 1.0, 1.0);
    blobs(xt, yt, NT, D, K, 1.0, 1.0);
    for (int i = 0; i < N; i++) yl[i] = i < 24 ? y[i] : -1;
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    ordo_err err;
    ordo_learn_model *lin = ordo_learn_train(x, N, D, yl, K, NULL, &o, NULL, NULL, &err);
    ordo_learn_model *semi = ordo_learn_train_semi(x, N, D, yl, K, NULL, &o, NULL, NULL, NULL,
                                                   NULL, &err);
    CHECK_MSG(lin && semi, "%s", err.msg);
    if (!lin || !semi) { ordo_learn_model_free(lin); ordo_learn_model_free(semi); return; }
    CHECK(ordo_learn_predict(lin, xt, NT, pa, NULL, &err) == 0);
    CHECK(ordo_learn_predict(semi, xt, NT, pb, NULL, &err) == 0);
    int ra = 0, rb = 0;
    for (int i = 0; i < NT; i++) {
        ra += argmax(pa + i * K, K) == yt[i];
        rb += argmax(pb + i * K, K) == yt[i];
    }
    CHECK_MSG(rb >= ra, "propagate %d vs linear %d of %d", rb, ra, NT);
    CHECK(ordo_learn_model_temperature(semi) == ordo_learn_model_temperature(lin));
    ordo_learn_model_free(semi);
    /* no unlabeled rows: the same model as linear */
    static unsigned char none[N];
    semi = ordo_learn_train_with(ORDO_LEARNER_PROPAGATE, x, N, D, yl, K, NULL, &o, none, NULL,
                                 NULL, &err);
    CHECK(semi != NULL);
    if (semi) {
        CHECK(ordo_learn_predict(semi, xt, NT, pb, NULL, &err) == 0);
        CHECK(memcmp(pa, pb, sizeof pa) == 0);
    }
    ordo_learn_model_free(semi);
    ordo_learn_model_free(lin);
}

/* Strategies x learners: curves named strategy/learner, the linear
 * learner's curve the same as without --learners, and the stopping
 * criterion's kappa filled from the second round on. */
static void t_simulate_learners(void)
{
    enum { N = 300, D = 8, K = 3, NT = 100 };
    static float x[N * D], xt[NT * D];
    static int y[N], yt[NT];
    blobs(x, y, N, D, K, 1.5, 1.0);
    blobs(xt, yt, NT, D, K, 1.5, 1.0);
    int learners[2] = {ORDO_LEARNER_LINEAR, ORDO_LEARNER_PROPAGATE};
    ordo_learn_sim_config cfg = {.n = N, .d = D, .x = x, .truth = y, .k = K, .n_test = NT,
                                 .test_x = xt, .test_truth = yt, .eval_size = 50, .batch = 15,
                                 .rounds = 5, .n_seeds = 2, .seed = 3, .learners = learners,
                                 .n_learners = 2};
    ordo_learn_opts_default(&cfg.train);
    ordo_learn_strategy st = ordo_loop_strategy("random");
    ordo_learn_sim_result a, b;
    ordo_err err;
    CHECK_MSG(ordo_learn_simulate(&cfg, &st, 1, &a, &err) == 0, "%s", err.msg);
    cfg.learners = NULL;
    cfg.n_learners = 0;
    CHECK_MSG(ordo_learn_simulate(&cfg, &st, 1, &b, &err) == 0, "%s", err.msg);
    if (a.n_curves != 2 || b.n_curves != 1) {
        CHECK(0);
        return;
    }
    CHECK(strcmp(a.curves[0].name, "random/linear") == 0);
    CHECK(strcmp(a.curves[1].name, "random/propagate") == 0);
    CHECK(strcmp(b.curves[0].name, "random") == 0);
    for (int r = 0; r < 5; r++)
        CHECK(a.curves[0].points[r].test_mean == b.curves[0].points[r].test_mean);
    for (int s = 0; s < 2; s++) {
        CHECK(isnan(a.curves[1].kappa[s * 5]));
        for (int r = 1; r < 5; r++) {
            double kv = a.curves[1].kappa[s * 5 + r];
            CHECK(kv >= -1 && kv <= 1);
        }
    }
    /* the anchor is random/linear, which matches itself */
    CHECK(a.curves[0].labels_to_match_random > 0);
    /* a threshold every kappa passes stops at the first full window */
    ordo_learn_sim_result_free(&b);
    cfg.learners = learners;
    cfg.n_learners = 1;
    cfg.stop_kappa = 1e-9;
    CHECK(ordo_learn_simulate(&cfg, &st, 1, &b, &err) == 0);
    CHECK(b.curves[0].stop_fired == 2 && b.curves[0].stop_round[0] == 3);
    CHECK(b.curves[0].stop_labels_mean == 60);
    ordo_learn_sim_result_free(&a);
    ordo_learn_sim_result_free(&b);
    int bad = 5;
    cfg.learners = &bad;
    CHECK(ordo_learn_simulate(&cfg, &st, 1, &a, &err) != 0);
    CHECK_MSG(strstr(err.msg, "unknown learner") != NULL, "%s", err.msg);
}

int main(void)
{
    RUN(t_separable);
    RUN(t_gradient);
    RUN(t_l2_shrinks);
    RUN(t_temperature);
    RUN(t_wilson);
    RUN(t_evaluate);
    RUN(t_bootstrap);
    RUN(t_serialize);
    RUN(t_absent_and_binary);
    RUN(t_atlas);
    RUN(t_simulate);
    RUN(t_csv);
    RUN(t_kappa);
    RUN(t_row_weight);
    RUN(t_offset);
    RUN(t_filter_prior);
    RUN(t_propagate);
    RUN(t_train_semi);
    RUN(t_simulate_learners);
    return test_summary();
}
