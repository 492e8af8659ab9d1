/* cmd_train.c - `ordo train`: fit the classifier on the labeled images'
 * embeddings (never on the evaluation sample), plus the binary sports
 * filter from the not-sports answers; store both as new versions. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "cli/cli.h"
#include "learn/learn_store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo train [--project DIR] [--folds F] [--l2 X] [--pca P] [--seed S] [--json]\n"
            "Trains a class-balanced multinomial logistic regression on the embeddings of\n"
            "the labeled images (the evaluation sample is never trained on), choosing the\n"
            "L2 strength by F-fold cross-validation and calibrating it by temperature\n"
            "scaling; also the sports filter (not-sports vs the rest) when both kinds of\n"
            "answers exist. Each run stores a new model version; ranking uses the newest.\n"
            "  --folds F   cross-validation folds (default 3)\n"
            "  --l2 X      fixed L2 strength instead of cross-validation\n"
            "  --pca P     reduce the embeddings to P principal components first\n"
            "  --json      one JSON object instead of text\n");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Trains one model over rows[0..n) of d with the given class of each row. */
static ordo_learn_model *fit(ordo_store *s, const ordo_learn_data *d, const size_t *rows, size_t n,
                             const int *y, int k, const char *const *names,
                             const ordo_learn_opts *o, ordo_learn_report *rep, ordo_err *err)
{
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    float *x = malloc((n ? n : 1) * ORDO_STORE_EMBED * sizeof *x);
    ordo_learn_model *m = NULL;
    if (!ids || !x) {
        ordo_err_set(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) ids[i] = d->ids[rows[i]];
    if (ordo_learn_embeddings(s, ids, n, x, err)) goto done;
    m = ordo_learn_train(x, n, ORDO_STORE_EMBED, y, k, names, o, NULL, rep, err);
done:
    free(ids);
    free(x);
    return m;
}

int cli_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"folds", required_argument, NULL, 'f'},
        {"l2", required_argument, NULL, 'l'}, {"pca", required_argument, NULL, 'P'},
        {"seed", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *project = NULL;
    int json = 0, c, v;
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:f:l:P:s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': project = optarg; break;
        case 'f': if (cli_parse_int("--folds", optarg, 2, 20, &o.cv_folds)) return 2; break;
        case 'l': {
            char *end;
            o.l2 = strtod(optarg, &end);
            if (end == optarg || *end || !(o.l2 > 0) || !isfinite(o.l2)) {
                fprintf(stderr, "ordo train: --l2 needs a positive number\n");
                return 2;
            }
            break;
        }
        case 'P': if (cli_parse_int("--pca", optarg, 1, 1280, &o.pca_dim)) return 2; break;
        case 's': if (cli_parse_int("--seed", optarg, 0, 2000000000, &v)) return 2; o.seed = (uint64_t)v; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) { usage(stderr); return 2; }
    ordo_err err = {{0}};
    char dir[4096];
    if (ordo_store_find(project, dir, sizeof dir, &err)) {
        fprintf(stderr, "ordo train: %s\n", err.msg);
        return 1;
    }
    ordo_store *s = ordo_store_open(dir, 0, &err);
    if (!s) { fprintf(stderr, "ordo train: %s\n", err.msg); return 1; }
    int rc = 1;
    ordo_learn_data d;
    ordo_learn_model *m = NULL, *f = NULL;
    size_t *rows = NULL;
    int *y = NULL;
    const char **names = NULL;
    ordo_learn_eval ev = {0};
    if (ordo_learn_data_load(s, &d, &err)) goto fail;
    rows = malloc((d.n ? d.n : 1) * sizeof *rows);
    y = malloc((d.n ? d.n : 1) * sizeof *y);
    names = malloc((d.n ? d.n : 1) * sizeof *names);
    if (!rows || !y || !names) { ordo_err_set(&err, "out of memory"); goto fail; }

    /* classifier: the customer's labels, outside the evaluation sample */
    size_t n = 0, nsports = 0, nnot = 0;
    for (size_t i = 0; i < d.n; i++) {
        if (d.eval[i] || !strcmp(d.label[i], ORDO_LEARN_UNCLEAR)) continue;
        if (!strcmp(d.label[i], ORDO_LEARN_NOT_SPORTS)) { nnot++; continue; }
        nsports++;
        rows[n] = i;
        names[n++] = d.label[i];
    }
    qsort(names, n, sizeof *names, cmp_str);
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || strcmp(names[i], names[k - 1])) names[k++] = names[i];
    for (size_t i = 0; i < n; i++) {
        const char **h = bsearch(&d.label[rows[i]], names, (size_t)k, sizeof *names, cmp_str);
        y[i] = (int)(h - names);
    }
    if (k < 2) {
        ordo_err_set(&err, "need training labels of at least 2 classes outside the evaluation "
                           "sample (have %zu labels of %d classes); label more with 'ordo next'",
                     n, k);
        goto fail;
    }
    ordo_learn_report rep;
    m = fit(s, &d, rows, n, y, k, names, &o, &rep, &err);
    if (!m) goto fail;
    if (ordo_learn_eval_sample(s, m, &d, 1000, o.seed, &ev, &err)) goto fail;
    ordo_learn_version ver = {.n_labels = (int64_t)n, .n_classes = k, .l2 = rep.l2,
                              .temperature = rep.temperature, .cv_accuracy = rep.cv_accuracy,
                              .eval_n = (int64_t)ev.n, .eval_correct = (int64_t)ev.correct,
                              .macro_f1 = ev.macro_f1, .f1_lo = ev.f1_lo, .f1_hi = ev.f1_hi,
                              .seconds = rep.seconds};
    snprintf(ver.kind, sizeof ver.kind, "classifier");
    int64_t id;
    if (ordo_learn_version_save(s, m, &ver, &id, &err)) goto fail;

    /* sports filter: not-sports answers against every other answer */
    int64_t fid = 0;
    ordo_learn_report frep = {0};
    size_t tp = 0, fp = 0, fn = 0, tn = 0;
    if (nnot >= 2 && nsports >= 2) {
        static const char *const fnames[2] = {"sports", ORDO_LEARN_NOT_SPORTS};
        size_t nf = 0;
        for (size_t i = 0; i < d.n; i++) {
            if (d.eval[i] || !strcmp(d.label[i], ORDO_LEARN_UNCLEAR)) continue;
            rows[nf] = i;
            y[nf++] = !strcmp(d.label[i], ORDO_LEARN_NOT_SPORTS);
        }
        f = fit(s, &d, rows, nf, y, 2, fnames, &o, &frep, &err);
        if (!f) goto fail;
        if (ordo_learn_eval_filter(s, f, &d, &tp, &fp, &fn, &tn, &err)) goto fail;
        ordo_learn_version fv = {.n_labels = (int64_t)nf, .n_classes = 2, .l2 = frep.l2,
                                 .temperature = frep.temperature, .cv_accuracy = frep.cv_accuracy,
                                 .eval_n = (int64_t)(tp + fp + fn + tn),
                                 .eval_correct = (int64_t)(tp + tn), .macro_f1 = NAN,
                                 .f1_lo = NAN, .f1_hi = NAN, .seconds = frep.seconds};
        snprintf(fv.kind, sizeof fv.kind, "sports");
        if (ordo_learn_version_save(s, f, &fv, &fid, &err)) goto fail;
    }

    if (json) {
        printf("{\"model_id\":%lld,\"labels\":%zu,\"classes\":%d,\"l2\":%g,\"temperature\":%.4f,"
               "\"cv_accuracy\":%.4f,\"seconds\":%.3f,\"eval\":{\"n\":%zu,\"accuracy\":",
               (long long)id, n, k, rep.l2, rep.temperature, rep.cv_accuracy, rep.seconds, ev.n);
        if (ev.n) printf("%.4f,\"lo\":%.4f,\"hi\":%.4f}", ev.accuracy, ev.acc_lo, ev.acc_hi);
        else printf("null}");
        if (fid)
            printf(",\"sports_filter\":{\"model_id\":%lld,\"labels\":%zu,\"not_sports\":%zu,"
                   "\"cv_accuracy\":%.4f,\"eval_tp\":%zu,\"eval_fp\":%zu,\"eval_fn\":%zu}",
                   (long long)fid, nsports + nnot, nnot, frep.cv_accuracy, tp, fp, fn);
        printf("}\n");
    } else {
        printf("model %lld: %zu labels, %d classes, L2 %g (%s), temperature %.3f, "
               "%.1f%% cross-validated accuracy, %.2f s\n",
               (long long)id, n, k, rep.l2, o.l2 > 0 ? "fixed" : "by cross-validation",
               rep.temperature, 100 * rep.cv_accuracy, rep.seconds);
        if (ev.n)
            printf("evaluation sample: %.1f%% accuracy (95%% interval %.1f-%.1f%%) on %zu labeled "
                   "images; 'ordo eval' for details\n",
                   100 * ev.accuracy, 100 * ev.acc_lo, 100 * ev.acc_hi, ev.n);
        else
            printf("evaluation sample: none labeled yet ('ordo next' queues it)\n");
        if (fid)
            printf("sports filter %lld: %zu not-sports vs %zu sports labels, %.1f%% "
                   "cross-validated accuracy\n",
                   (long long)fid, nnot, nsports, 100 * frep.cv_accuracy);
        else
            printf("sports filter: needs at least 2 not-sports and 2 other labels\n");
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
    goto out;
fail:
    fprintf(stderr, "ordo train: %s\n", err.msg);
out:
    ordo_learn_eval_free(&ev);
    ordo_learn_model_free(m);
    ordo_learn_model_free(f);
    free(rows);
    free(y);
    free(names);
    ordo_learn_data_free(&d);
    ordo_store_close(s);
    return rc;
}
