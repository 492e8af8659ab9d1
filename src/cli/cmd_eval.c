/* cmd_eval.c - `ordo eval`: the newest model measured on the labeled
 * evaluation sample only, with 95 % intervals, per-label precision and
 * recall, the sports filter, the most confused pairs and the history. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_store.h"
#include "base/text.h"
#include "cli/cli.h"
#include "learn/learn_store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo eval [--project DIR] [--width W] [--json]\n"
            "Measures the newest model on the labeled images of the evaluation sample\n"
            "(the random sample 'ordo next' draws first and training never sees):\n"
            "accuracy with a Wilson 95%% interval, macro-F1 with a bootstrap 95%%\n"
            "interval, precision/recall per label, the sports filter, the most confused\n"
            "pairs, and every model version's result.\n"
            "  --width W   warn unless the accuracy interval is within +-W (default 0.05)\n"
            "  --json      one JSON object\n");
}

static void jd(double v)
{
    if (isfinite(v)) printf("%.4f", v);
    else printf("null");
}

static const char *cname(const ordo_learn_model *m, int c)
{
    const char *n = ordo_learn_model_class_name(m, c);
    return n ? n : "(other)";
}

int cli_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"width", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *project = NULL;
    int json = 0, c;
    double width = 0.05;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:w:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': project = optarg; break;
        case 'w': {
            char *end;
            width = strtod(optarg, &end);
            if (end == optarg || *end || !(width > 0 && width < 0.5)) {
                fprintf(stderr, "ordo eval: --width needs a number in (0, 0.5)\n");
                return 2;
            }
            break;
        }
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) { usage(stderr); return 2; }
    ordo_err err = {{0}};
    ordo_store *s = cli_open_project("eval", project, 0);
    if (!s) return 1;
    int rc = 1, found;
    ordo_learn_data d;
    ordo_learn_eval ev = {0};
    ordo_learn_version ver, *hist = NULL;
    double *kap = NULL;
    size_t nh = 0;
    ordo_learn_model *f = NULL;
    ordo_learn_model *m = ordo_learn_version_latest(s, "classifier", &ver, &found, &err);
    memset(&d, 0, sizeof d);
    if (!m) {
        if (!found) ordo_err_set(&err, "no model yet: label some images and run 'ordo train'");
        goto fail;
    }
    if (ordo_learn_data_load(s, &d, &err) ||
        ordo_learn_eval_sample(s, m, &d, 1000, 1, &ev, &err))
        goto fail;
    {   /* a version trained WITH its leaks (audit's guard): say so */
        ordo_audit_guard g;
        int hg = ordo_audit_guard_get(s, ver.id, &g, &err);
        if (hg < 0) goto fail;
        if (hg && g.kept_in) {
            char msg[400];
            ordo_audit_guard_text(&g, msg, sizeof msg);
            fprintf(stderr, "ordo eval: warning: model %lld: %s\n", (long long)ver.id, msg);
        }
    }
    /* keep the version's stored result current (labels may have grown) */
    if (ordo_learn_version_set_eval(s, ver.id, (int64_t)ev.n, (int64_t)ev.correct, ev.macro_f1,
                                    ev.f1_lo, ev.f1_hi, &err))
        goto fail;
    size_t tp = 0, fp = 0, fn = 0, tn = 0;
    int ffound;
    ordo_learn_version fver = {0};
    f = ordo_learn_version_latest(s, "sports", &fver, &ffound, &err);
    if (!f && ffound) goto fail;
    if (f && ordo_learn_eval_filter(s, f, ordo_learn_filter_is_prior(&fver), &d, &tp, &fp, &fn,
                                    &tn, &err))
        goto fail;
    if (ordo_learn_version_list(s, "classifier", &hist, &nh, &err)) goto fail;
    /* stopping criterion: kappa between the last 3 successive versions'
     * predictions on a fixed sample of 2,000 images of the collection */
    size_t nks = 0;
    kap = malloc((nh ? nh : 1) * sizeof *kap);
    if (!kap) { ordo_err_set(&err, "out of memory"); goto fail; }
    if (ordo_learn_stability(s, hist, nh, 2000, 3, kap, &nks, &err)) goto fail;
    double kmean = 0;
    int kn = 0;
    for (size_t i = 0; i < nh; i++)
        if (isfinite(kap[i])) { kmean += kap[i]; kn++; }
    kmean = kn ? kmean / kn : NAN;
    int stop = kn == 3 && kmean >= 0.99;
    /* the sample size this accuracy needs for the asked width */
    double p = ev.n ? ev.accuracy : 0.5;
    size_t need = ordo_learn_sample_size(p, width, 1.959963984540054);
    int small = ev.n < need;
    double prec = tp + fp ? (double)tp / (tp + fp) : NAN, rec = tp + fn ? (double)tp / (tp + fn) : NAN;

    if (json) {
        printf("{\"model_id\":%lld,\"eval_sample\":%zu,\"n\":%zu,\"correct\":%zu,\"accuracy\":",
               (long long)ver.id, d.eval_sample, ev.n, ev.correct);
        jd(ev.n ? ev.accuracy : NAN);
        printf(",\"accuracy_ci\":[");
        jd(ev.acc_lo); printf(","); jd(ev.acc_hi);
        printf("],\"macro_f1\":");
        jd(ev.macro_f1);
        printf(",\"macro_f1_ci\":[");
        jd(ev.f1_lo); printf(","); jd(ev.f1_hi);
        printf("],\"needed_for_width\":%zu,\"too_small\":%s,\"labels\":[", need, small ? "true" : "false");
        int first = 1;
        for (int k = 0; k < ev.k; k++) {
            if (!ev.support[k] && !ev.predicted[k]) continue;
            printf("%s{\"label\":", first ? "" : ",");
            first = 0;
            ordo_text_json(stdout, cname(m, k));
            printf(",\"support\":%zu,\"predicted\":%zu,\"correct\":%zu,\"precision\":", ev.support[k],
                   ev.predicted[k], ev.tp[k]);
            jd(ev.precision[k]);
            printf(",\"recall\":");
            jd(ev.recall[k]);
            printf("}");
        }
        printf("],\"confused\":[");
        for (size_t i = 0; i < ev.n_confused; i++) {
            printf("%s{\"truth\":", i ? "," : "");
            ordo_text_json(stdout, cname(m, ev.confused[i].truth));
            printf(",\"predicted\":");
            ordo_text_json(stdout, cname(m, ev.confused[i].predicted));
            printf(",\"count\":%zu}", ev.confused[i].count);
        }
        printf("],\"sports_filter\":");
        if (f) {
            printf("{\"tp\":%zu,\"fp\":%zu,\"fn\":%zu,\"tn\":%zu,\"precision\":", tp, fp, fn, tn);
            jd(prec);
            printf(",\"recall\":");
            jd(rec);
            printf("}");
        } else {
            printf("null");
        }
        printf(",\"history\":[");
        for (size_t i = 0; i < nh; i++) {
            printf("%s{\"model_id\":%lld,\"created\":%.0f,\"labels\":%lld,\"classes\":%d,\"eval_n\":%lld,"
                   "\"accuracy\":", i ? "," : "", (long long)hist[i].id, hist[i].created,
                   (long long)hist[i].n_labels, hist[i].n_classes, (long long)hist[i].eval_n);
            jd(hist[i].eval_n > 0 ? (double)hist[i].eval_correct / hist[i].eval_n : NAN);
            printf(",\"macro_f1\":");
            jd(hist[i].macro_f1);
            printf(",\"learner\":");
            ordo_text_json(stdout, hist[i].learner[0] ? hist[i].learner : "linear");
            printf(",\"kappa_to_previous\":");
            jd(kap[i]);
            printf("}");
        }
        printf("],\"stability\":{\"sample\":%zu,\"kappa_mean\":", nks);
        jd(kmean);
        printf(",\"pairs\":%d,\"stop\":%s}}\n", kn, stop ? "true" : "false");
    } else {
        printf("model %lld (%lld labels, %d classes) on the evaluation sample: %zu of %zu drawn "
               "images labeled\n", (long long)ver.id, (long long)ver.n_labels, ver.n_classes,
               ev.n, d.eval_sample);
        if (ev.n) {
            printf("accuracy  %.1f%%  (95%% Wilson interval %.1f-%.1f%%, %zu/%zu)\n",
                   100 * ev.accuracy, 100 * ev.acc_lo, 100 * ev.acc_hi, ev.correct, ev.n);
            printf("macro-F1  %.3f  (95%% bootstrap interval %.3f-%.3f)\n", ev.macro_f1, ev.f1_lo,
                   ev.f1_hi);
        }
        if (small)
            printf("warning: %zu labeled evaluation images give an interval of about +-%.1f%%; "
                   "+-%.1f%% needs %zu (label more with 'ordo next', which queues them first)\n",
                   ev.n, ev.n ? 50 * (ev.acc_hi - ev.acc_lo) : 50.0, 100 * width, need);
        if (ev.n) {
            printf("\n%-28s %7s %9s %9s %6s\n", "label", "support", "precision", "recall", "f1");
            for (int k = 0; k < ev.k; k++) {
                if (!ev.support[k] && !ev.predicted[k]) continue;
                printf("%-28.28s %7zu ", cname(m, k), ev.support[k]);
                if (isnan(ev.precision[k])) printf("%9s ", "-");
                else printf("%9.3f ", ev.precision[k]);
                if (isnan(ev.recall[k])) printf("%9s ", "-");
                else printf("%9.3f ", ev.recall[k]);
                printf("%6.3f\n", isnan(ev.f1[k]) ? 0.0 : ev.f1[k]);
            }
        }
        if (ev.n_confused) {
            printf("\nmost confused (truth -> predicted):\n");
            for (size_t i = 0; i < ev.n_confused; i++)
                printf("  %3zu  %s -> %s\n", ev.confused[i].count, cname(m, ev.confused[i].truth),
                       cname(m, ev.confused[i].predicted));
        }
        if (f)
            printf("\nsports filter on the sample: not-sports precision %.3f, recall %.3f "
                   "(tp %zu, fp %zu, fn %zu, tn %zu)\n", prec, rec, tp, fp, fn, tn);
        printf("\nhistory:\n%-6s %-10s %-8s %-8s %-9s %-9s %s\n", "model", "learner", "labels",
               "eval n", "accuracy", "macro-F1", "kappa to previous");
        for (size_t i = 0; i < nh; i++) {
            printf("%-6lld %-10s %-8lld %-8lld ", (long long)hist[i].id,
                   hist[i].learner[0] ? hist[i].learner : "linear", (long long)hist[i].n_labels,
                   (long long)(hist[i].eval_n > 0 ? hist[i].eval_n : 0));
            if (hist[i].eval_n > 0)
                printf("%-9.3f %-9.3f ", (double)hist[i].eval_correct / hist[i].eval_n,
                       hist[i].macro_f1);
            else
                printf("%-9s %-9s ", "-", "-");
            if (isfinite(kap[i])) printf("%.4f\n", kap[i]);
            else printf("-\n");
        }
        if (kn)
            printf("\nstability: mean kappa %.4f between the last %d successive models' predictions "
                   "on %zu images; %s (Bloodgood & Vijay-Shanker 2009: stop when the mean of 3 "
                   "reaches 0.99)\n", kmean, kn, nks,
                   stop ? "predictions have stabilized: more labels are unlikely to pay"
                        : "still changing: labeling more should pay");
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
    goto out;
fail:
    fprintf(stderr, "ordo eval: %s\n", err.msg);
out:
    free(hist);
    free(kap);
    ordo_learn_eval_free(&ev);
    ordo_learn_model_free(m);
    ordo_learn_model_free(f);
    ordo_learn_data_free(&d);
    ordo_store_close(s);
    return rc;
}
