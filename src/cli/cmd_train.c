/* cmd_train.c - `ordo train`: fit the classifier on the labeled images'
 * embeddings (never on the evaluation sample), plus the binary sports
 * filter from the not-sports answers; store both as new versions. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_store.h"
#include "base/text.h"
#include "cli/cli.h"
#include "cli/cli_ft.h"
#include "learn/learn_store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo train [--project DIR] [--learner L] [--folds F] [--l2 X] [--pca P] [--seed S]\n"
            "                  [--json]\n"
            "Trains a class-balanced multinomial logistic regression on the embeddings of\n"
            "the labeled images (the evaluation sample is never trained on), choosing the\n"
            "L2 strength by F-fold cross-validation and calibrating it by temperature\n"
            "scaling; also the sports filter (not-sports vs the rest) when both kinds of\n"
            "answers exist. Each run stores a new model version; ranking uses the newest.\n"
            "  --learner L propagate (default): the linear model, then label propagation\n"
            "              over the k-nearest-neighbour graph of the labeled and up to\n"
            "              10,000 unlabeled images, whose confident answers (pseudo-labels)\n"
            "              join the labels for a second fit; linear: the first fit alone\n"
            "              (what the server's background retraining runs: it is quicker);\n"
            "              finetune: trains the network's head (1x1 conv to 1280 + ReLU6)\n"
            "              with the classifier from activations cached in the project\n"
            "              (built on first use: every image decoded again), stops early\n"
            "              on a held-out fifth of the labels, then re-embeds every image\n"
            "              with the adapted head (minutes; docs/learn.md)\n"
            "  --folds F   cross-validation folds (default 3)\n"
            "  --l2 X      fixed L2 strength instead of cross-validation\n"
            "  --pca P     reduce the embeddings to P principal components first\n"
            "  --json      one JSON object instead of text\n");
}

int cli_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"folds", required_argument, NULL, 'f'},
        {"l2", required_argument, NULL, 'l'}, {"pca", required_argument, NULL, 'P'},
        {"seed", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
        {"learner", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *project = NULL;
    int json = 0, c, v, learner = ORDO_LEARNER_PROPAGATE;
    ordo_learn_opts o;
    ordo_learn_opts_default(&o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:f:l:P:s:L:jh", opts, NULL)) != -1) {
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
        case 'L':
            if ((learner = ordo_learn_learner_id(optarg)) < 0) {
                fprintf(stderr, "ordo train: unknown learner '%s' (linear, propagate or finetune)\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) { usage(stderr); return 2; }
    ordo_err err = {{0}};
    ordo_store *s = cli_open_project("train", project, 0);
    if (!s) return 1;
    int rc = 1;
    ordo_learn_train_opts to = {.learn = o, .eval_seed = o.seed, .learner = learner};
    ordo_learn_train_result r;
    memset(&r, 0, sizeof r);
    cli_ft ft = {0};
    cli_ft_fit_ctx fc = {.ft = &ft, .s = s};
    if (learner == ORDO_LEARNER_FINETUNE) {
        if (cli_ft_open(ordo_store_dir(s), json, cli_default_threads(), &ft, &err)) goto fail;
        to.fit = cli_ft_fit;
        to.fit_ctx = &fc;
    }
    /* near-duplicates of evaluation images are kept out (the guard is
     * audit's, shared with the server's Retrain) */
    ordo_audit_guard g;
    int trc = ordo_audit_train_project(s, &to, &r, &g, &err);
    if (trc == ORDO_LEARN_TRAIN_TOO_FEW)
        ordo_err_set(&err, "need training labels of at least 2 classes outside the evaluation "
                           "sample (have %zu labels of %d classes); label more with 'ordo next'",
                     r.labels, r.classes);
    if (trc) goto fail;
    if (g.kept_in) {   /* on stderr in both formats: it changes what the figures mean */
        char msg[400];
        ordo_audit_guard_text(&g, msg, sizeof msg);
        fprintf(stderr, "ordo train: warning: %s\n", msg);
    }
    if (json) {
        printf("{\"model_id\":%lld,\"learner\":\"%s\",\"labels\":%zu,\"classes\":%d,\"l2\":%g,"
               "\"temperature\":%.4f,\"cv_accuracy\":%.4f,\"seconds\":%.3f,\"leaks\":%zu,"
               "\"leaks_found\":%zu,\"leak_cosine\":%.4f,\"leaks_kept_in\":%s,\"eval\":{\"n\":%zu,\"accuracy\":",
               (long long)r.model_id, ordo_learn_learner_name(learner), r.labels, r.classes,
               r.rep.l2, r.rep.temperature, r.rep.cv_accuracy, r.rep.seconds, r.leaks, g.leaks, g.cosine,
               g.kept_in ? "true" : "false", r.ev.n);
        if (r.ev.n)
            printf("%.4f,\"lo\":%.4f,\"hi\":%.4f}", r.ev.accuracy, r.ev.acc_lo, r.ev.acc_hi);
        else printf("null}");
        if (r.filter_id)
            printf(",\"sports_filter\":{\"model_id\":%lld,\"labels\":%zu,\"not_sports\":%zu,"
                   "\"cv_accuracy\":%.4f,\"eval_tp\":%zu,\"eval_fp\":%zu,\"eval_fn\":%zu}",
                   (long long)r.filter_id, r.n_sports + r.n_not, r.n_not, r.filter_rep.cv_accuracy,
                   r.tp, r.fp, r.fn);
        if (learner == ORDO_LEARNER_FINETUNE)
            printf(",\"finetune\":{\"cache_filled\":%zu,\"cache_seconds\":%.2f,\"epochs\":%d,"
                   "\"epochs_tried\":%d,\"heldout_loss\":[%.4f,%.4f],\"heldout_accuracy\":[%.4f,"
                   "%.4f],\"train_seconds\":%.2f,\"reembedded\":%zu,\"reembed_seconds\":%.2f}",
                   ft.filled, ft.fill_seconds, fc.frep.best_epoch, fc.frep.epochs_tried,
                   fc.frep.val_loss0, fc.frep.val_loss, fc.frep.val_acc0, fc.frep.val_acc,
                   fc.train_seconds, fc.embedded, fc.embed_seconds);
        printf("}\n");
    } else {
        if (learner == ORDO_LEARNER_FINETUNE)
            printf("fine-tuned the head: %d epochs (held-out fifth: loss %.3f -> %.3f, accuracy "
                   "%.1f%% -> %.1f%%), %.1f s; re-embedded %zu images in %.1f s%s\n",
                   fc.frep.best_epoch, fc.frep.val_loss0, fc.frep.val_loss, 100 * fc.frep.val_acc0,
                   100 * fc.frep.val_acc, fc.train_seconds, fc.embedded, fc.embed_seconds,
                   ft.filled ? "" : " (activation cache up to date)");
        printf("model %lld (%s): %zu labels, %d classes, L2 %g (%s), temperature %.3f, "
               "%.1f%% cross-validated accuracy, %.2f s\n",
               (long long)r.model_id, ordo_learn_learner_name(learner), r.labels, r.classes, r.rep.l2,
               o.l2 > 0 ? "fixed" : "by cross-validation",
               r.rep.temperature, 100 * r.rep.cv_accuracy, r.rep.seconds);
        if (g.leaks && !g.kept_in) {
            char msg[400];
            ordo_audit_guard_text(&g, msg, sizeof msg);
            printf("%s\n", msg);
        }
        if (r.ev.n)
            printf("evaluation sample: %.1f%% accuracy (95%% interval %.1f-%.1f%%) on %zu labeled "
                   "images; 'ordo eval' for details\n",
                   100 * r.ev.accuracy, 100 * r.ev.acc_lo, 100 * r.ev.acc_hi, r.ev.n);
        else
            printf("evaluation sample: none labeled yet ('ordo next' queues it)\n");
        if (r.filter_id)
            printf("sports filter %lld: %zu not-sports vs %zu sports labels, %.1f%% "
                   "cross-validated accuracy\n",
                   (long long)r.filter_id, r.n_not, r.n_sports, 100 * r.filter_rep.cv_accuracy);
        else
            printf("sports filter: needs at least 2 not-sports and 2 other labels\n");
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
    goto out;
fail:
    fprintf(stderr, "ordo train: %s\n", err.msg);
out:
    ordo_learn_train_result_free(&r);
    cli_ft_close(&ft);
    ordo_store_close(s);
    return rc;
}
