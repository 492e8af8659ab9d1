/* cmd_next.c - `ordo next N`: the next images to label, in labeling order,
 * each with the reason it was chosen and every strategy's score. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "cli/cli.h"
#include "dist/dist.h"
#include "loop/loop.h"
#include "rank/rank.h"
#include "store/store.h"
#include "wordnet/wordnet.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo next N [--project DIR] [--mix eval=F,uncertain=F,novel=F,diverse=F]\n"
            "                   [--seed S] [--uncertainty M] [--eval-width W] [--expect-acc P]\n"
            "                   [--csv | --json]\n"
            "Chooses the next N unlabeled images to label, in labeling order, each for one\n"
            "reason: eval (the fixed random evaluation sample), uncertain (hard for the\n"
            "model), novel (unlike what the model or the labels know), diverse (covers the\n"
            "collection). Never repeats a labeled image; skips near duplicates. Once\n"
            "'ordo train' has stored a model, its probabilities over your labels rank the\n"
            "pool (column model: model-N; before that: imagenet).\n\n"
            "  --mix LIST        fixed fractions per reason; missing names count as 0.\n"
            "                    Default: a schedule over the L labels outside the\n"
            "                    evaluation sample and the model's C classes, u = L/(L+2C):\n"
            "                    eval 0.15, uncertain 0.05+0.80u, diverse 0.75(1-u),\n"
            "                    novel 0.05(1-u) (docs/rank.md, \"Default mix\")\n"
            "  --seed S          random seed (default 1); same project + seed = same batch\n"
            "  --uncertainty M   auto (hier with WordNet groups, else margin) or:\n");
    int nu;
    const ordo_rank_uncert_def *ud = ordo_rank_uncerts(&nu);
    for (int k = 0; k < nu; k++) fprintf(f, "                    %-17s %s\n", ud[k].name, ud[k].formula);
    fprintf(f,
            "  --eval-width W    evaluation sample sized for a 95%% interval of +-W (0.05)\n"
            "  --expect-acc P    expected accuracy for that size (0.5 = worst case)\n"
            "  --csv             position,path,reason,score,top_class,top_prob,... (default)\n"
            "  --json            one object per line with every strategy's score\n"
            "  --mpi             under mpirun: the heavy passes split over the ranks (same\n"
            "                    batch as one process); rank 0 prints\n");
}

static void jnum(FILE *f, const char *name, double v, int comma)
{
    if (comma) fputc(',', f);
    fprintf(f, "\"%s\":", name);
    if (isfinite(v)) fprintf(f, "%.6g", v);
    else fputs("null", f);
}

static int parse_frac(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > lo && v < hi)) {
        fprintf(stderr, "ordo next: %s needs a number in (%g, %g), not '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Shared by `ordo next` and `ordo order`: compose and print. n == 0: all.
 * mpi: this process is one rank of an MPI job (only rank 0 prints). */
static int next_run(const char *dir, size_t n, const ordo_rank_opts *opts_in, int json,
                    ordo_dist_mpi *mpi)
{
    ordo_err err = {{0}};
    ordo_store *s = ordo_store_open(dir, 0, &err);
    if (!s) { fprintf(stderr, "ordo next: %s\n", err.msg); return 1; }
    /* ImageNet's names and hierarchy (without WordNet: class indices), or
     * the imported model's own class names */
    cli_colnames cn;
    if (cli_colnames_open(s, &cn, &err)) {
        fprintf(stderr, "ordo next: %s\n", err.msg);
        ordo_store_close(s);
        return 1;
    }
    int rc = 1;
    ordo_rank_batch *b = NULL;
    ordo_loop_pool *p = ordo_loop_pool_load(s, cn.wn, &err);
    if (!p) { fprintf(stderr, "ordo next: %s\n", err.msg); goto out; }
    const ordo_rank_input *in = ordo_loop_pool_input(p);
    if (in->n == 0) {
        fprintf(stderr, "ordo next: the project has no images yet; run 'ordo scan DIR' first\n");
        goto out;
    }
    ordo_rank_opts o = *opts_in;
    o.batch = n ? n : in->n;
    size_t esize = 0;
    /* MPI: rank 0 persists the evaluation sample first, the others read it. */
    int rank = mpi ? ordo_dist_mpi_rank(mpi) : 0, erc = 0;
    if (rank != 0 && ordo_dist_mpi_bcast_int(mpi, &erc, &err) < 0) goto out;
    /* always, even without an eval share: no other reason may take sample images */
    if (!erc &&
        ordo_loop_pool_eval(p, s, o.eval_half_width, o.eval_p, o.seed, &esize, &err) < 0) {
        fprintf(stderr, "ordo next: %s\n", err.msg);
        erc = 1;
    }
    if (mpi && rank == 0 && ordo_dist_mpi_bcast_int(mpi, &erc, &err) < 0) goto out;
    if (erc) goto out;
    ordo_rank_input din = *in;
    din.exec = mpi ? ordo_dist_mpi_rank_exec(mpi) : NULL;
    b = ordo_rank_compose(&din, &o, &err);
    if (!b) { fprintf(stderr, "ordo next: %s\n", err.msg); goto out; }
    if (rank != 0) { rc = 0; goto out; }
    if (mpi)
        fprintf(stderr, "mpi: %d ranks composed the batch in %.2f s, %.3f s of it in MPI "
                        "collectives\n", ordo_dist_mpi_size(mpi), b->seconds[5],
                ordo_dist_mpi_comm_seconds(mpi));
    if (!json)
        printf("position,path,reason,score,top_class,top_prob,model,class_index,wnid,prior,"
               "image_id,cluster,low_prior\n");
    const char *model = ordo_loop_pool_model(p);
    char path[8192];
    for (size_t i = 0; i < b->n; i++) {
        const ordo_rank_item *it = &b->items[i];
        const ordo_store_item *si = ordo_loop_pool_item(p, it->row);
        if (ordo_store_image_path(s, si->id, path, sizeof path, &err) < 0)
            snprintf(path, sizeof path, "?");
        /* the top class under the model that ranked the pool: the newest
         * retrained classifier's label, or ImageNet's class */
        float top_prob;
        int c = ordo_loop_pool_top(p, it->row, &top_prob);
        const char *label = ordo_loop_pool_class_label(p, c);
        const char *name = label ? label : cli_class_name(&cn, c);
        const char *wnid = label ? NULL : cli_class_wnid(&cn, c);
        char idx[16];
        snprintf(idx, sizeof idx, "%d", c);
        if (!name) name = idx;
        if (!wnid) wnid = "";
        if (json) {
            printf("{\"position\":%zu,\"path\":", i + 1);
            ordo_text_json(stdout, path);
            printf(",\"reason\":\"%s\"", ordo_rank_reason_name(it->reason));
            jnum(stdout, "score", it->score, 1);
            printf(",\"top_class\":");
            ordo_text_json(stdout, name);
            jnum(stdout, "top_prob", top_prob, 1);
            printf(",\"model\":\"%s\",\"class_index\":%d,\"wnid\":\"%s\",\"image_id\":%lld,\"cluster\":%d,"
                   "\"low_prior\":%s,\"boundary\":%s,\"scores\":{",
                   model, c, wnid, (long long)si->id, (int)it->s.cluster,
                   it->low_prior == 1 ? "true" : "false", it->low_prior == 2 ? "true" : "false");
            const ordo_rank_scores *sc = &it->s;
            int nu;
            const ordo_rank_uncert_def *ud = ordo_rank_uncerts(&nu);
            for (int j = 0; j < nu; j++) jnum(stdout, ud[j].name, sc->uncert[j], j > 0);
            jnum(stdout, "uncertain", sc->uncertain, 1);
            jnum(stdout, "outlier", sc->outlier, 1);
            jnum(stdout, "energy", sc->energy, 1);
            jnum(stdout, "nn_dist", sc->nn_dist, 1);
            jnum(stdout, "novel", sc->novel, 1);
            jnum(stdout, "typicality", sc->typicality, 1);
            jnum(stdout, "kcenter_dist", sc->kcenter_dist, 1);
            jnum(stdout, "prior", sc->prior, 1);
            printf("}}\n");
        } else {
            printf("%zu,", i + 1);
            ordo_text_csv(stdout, path);
            printf(",%s,%.6g,", ordo_rank_reason_name(it->reason), isfinite(it->score) ? it->score : 0.0);
            ordo_text_csv(stdout, name);
            printf(",%.6f,%s,%d,%s,%.4f,%lld,%d,%d\n", top_prob, model, c, wnid, it->s.prior,
                   (long long)si->id, (int)it->s.cluster, it->low_prior);
        }
    }
    if (fflush(stdout) != 0) { fprintf(stderr, "ordo next: writing the output failed\n"); goto out; }
    rc = 0;
out:
    ordo_rank_batch_free(b);
    ordo_loop_pool_free(p);
    cli_colnames_close(&cn);
    ordo_store_close(s);
    return rc;
}

/* Options common to next and order; returns 0, 1 (help printed), -1 (error). */
static int parse_common(int argc, char **argv, const char **project, ordo_rank_opts *o, int *json,
                        int *mpi, void (*use)(FILE *))
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"mix", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 's'}, {"uncertainty", required_argument, NULL, 'u'},
        {"eval-width", required_argument, NULL, 'w'}, {"expect-acc", required_argument, NULL, 'a'},
        {"csv", no_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
        {"mpi", no_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    ordo_err err;
    while ((c = getopt_long(argc, argv, "p:m:s:u:w:a:cjh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': *project = optarg; break;
        case 'm':
            if (ordo_rank_parse_mix(optarg, o->mix, &err) < 0) {
                fprintf(stderr, "ordo %s: %s\n", argv[0], err.msg);
                return -1;
            }
            o->mix_auto = 0;   /* a fixed mix instead of the default schedule */
            break;
        case 's': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (end == optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "ordo %s: --seed needs a non-negative integer\n", argv[0]);
                return -1;
            }
            o->seed = v;
            break;
        }
        case 'u':
            if (strcmp(optarg, "auto") && ordo_rank_uncert_find(optarg) < 0) {
                fprintf(stderr, "ordo %s: unknown --uncertainty '%s' (auto", argv[0], optarg);
                int nu;
                const ordo_rank_uncert_def *ud = ordo_rank_uncerts(&nu);
                for (int j = 0; j < nu; j++) fprintf(stderr, ", %s", ud[j].name);
                fprintf(stderr, ")\n");
                return -1;
            }
            o->uncertainty = optarg;
            break;
        case 'w': if (parse_frac("--eval-width", optarg, 0, 0.5, &o->eval_half_width)) return -1; break;
        case 'a': if (parse_frac("--expect-acc", optarg, 0, 1, &o->eval_p)) return -1; break;
        case 'c': *json = 0; break;
        case 'j': *json = 1; break;
        case 'M': *mpi = 1; break;
        case 'h': use(stdout); return 1;
        default: use(stderr); return -1;
        }
    }
    return 0;
}

int cli_next(int argc, char **argv)
{
    const char *project = NULL;
    int json = 0, use_mpi = 0;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    int r = parse_common(argc, argv, &project, &o, &json, &use_mpi, usage);
    if (r) return r > 0 ? 0 : 2;
    if (optind + 1 != argc) { usage(stderr); return 2; }
    int n;
    if (cli_parse_int("N", argv[optind], 1, 10000000, &n)) return 2;
    ordo_err err = {{0}};
    char dir[4096];
    if (ordo_store_find(project, dir, sizeof dir, &err)) {
        fprintf(stderr, "ordo next: %s\n", err.msg);
        return 1;
    }
    if (!use_mpi)
        return next_run(dir, (size_t)n, &o, json, NULL);
    ordo_dist_mpi *m = ordo_dist_mpi_init(NULL, NULL, &err);
    if (!m) {
        fprintf(stderr, "ordo next: %s\n", err.msg);
        return 1;
    }
    int rc = next_run(dir, (size_t)n, &o, json, m);
    if (rc != 0)   /* the other ranks may wait in a collective: end the job */
        ordo_dist_mpi_abort(m, rc);
    ordo_dist_mpi_finalize(m);
    return rc;
}

static void order_usage(FILE *f)
{
    fprintf(f,
            "usage: ordo order DIR [--mix ...] [--seed S] [--csv | --json]\n"
            "One shot: creates a project in DIR if there is none, scans DIR, and prints\n"
            "every image of DIR in the order to label them (the columns of 'ordo next').\n");
}

int cli_order(int argc, char **argv)
{
    const char *project = NULL;
    int json = 0, use_mpi = 0;
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    int r = parse_common(argc, argv, &project, &o, &json, &use_mpi, order_usage);
    if (r) return r > 0 ? 0 : 2;
    if (use_mpi) { fprintf(stderr, "ordo order: --mpi is for 'ordo scan' and 'ordo next'\n"); return 2; }
    if (optind + 1 != argc) { order_usage(stderr); return 2; }
    const char *dir = argv[optind];
    if (project) { fprintf(stderr, "ordo order: the project is DIR itself\n"); return 2; }
    ordo_err err = {{0}};
    char found[4096];
    /* a project in DIR itself, else create one there */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/%s", dir, ORDO_STORE_DIRNAME);
    FILE *t = fopen(probe, "r");
    if (t) fclose(t);
    else if (ordo_store_init(dir, NULL, &err) < 0) {
        fprintf(stderr, "ordo order: %s\n", err.msg);
        return 1;
    }
    char *scan_argv[] = {"scan", "--project", (char *)dir, "--quiet", (char *)dir, NULL};
    int rc = cli_scan(5, scan_argv);
    if (rc != 0) return rc;
    if (ordo_store_find(dir, found, sizeof found, &err)) {
        fprintf(stderr, "ordo order: %s\n", err.msg);
        return 1;
    }
    return next_run(found, 0, &o, json, NULL);
}
