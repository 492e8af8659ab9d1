/* cmd_export.c - `ordo export`: labels and the newest model's predictions
 * as CSV or JSON lines, and optionally a folder-per-label tree of symbolic
 * links for other tools. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/text.h"
#include "cli/cli.h"
#include "learn/learn_store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo export [--project DIR] [--csv | --jsonl] [--tree OUT [--copy]]\n"
            "       ordo export [--project DIR] --history [--csv | --jsonl]\n"
            "       ordo export [--project DIR] --label-studio [--root DIR]\n"
            "       ordo export [--project DIR] --embeddings OUT\n"
            "Writes one row per image: image_id,path,label,predicted,probability,not_sports\n"
            "(label: the current label or empty; predicted/probability: the newest model;\n"
            "not_sports: the sports filter's probability, when one is trained).\n"
            "  --tree OUT      also make OUT/<label>/ folders of symbolic links to the labeled\n"
            "                  images (OUT must not exist yet)\n"
            "  --copy          with --tree: copies of the photos instead of links\n"
            "  --history       every label event instead: path,label,annotator,reason,source,\n"
            "                  created (unix seconds); `ordo import labels` reads it back\n"
            "  --label-studio  Label Studio tasks (JSON) for an image classification project\n"
            "                  (<Choices name=\"label\" toName=\"image\">): each image with its\n"
            "                  label events as annotations (annotator, time) and the newest\n"
            "                  classifier's prediction (else the ImageNet top class) as a\n"
            "                  pre-annotation; images as local storage URLs\n"
            "  --root DIR      with --label-studio: Label Studio's local files document root\n"
            "                  (default /)\n"
            "  --embeddings OUT  write OUT/embeddings.npy (float16, N x D), OUT/paths.txt\n"
            "                  (row order), OUT/model.txt, and for projects with ImageNet scores\n"
            "                  OUT/logits.npy (float16) and OUT/probabilities.npy (float32,\n"
            "                  N x 1000): numpy.load reads them; `ordo import embeddings` too\n");
}

/* Copies the file at src to dst (created, must not exist). */
static int copy_file(const char *src, const char *dst, ordo_err *err)
{
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wbx") : NULL;
    if (!in || !out) {
        if (in) fclose(in);
        return ordo_err_set(err, "%s: %s", in ? dst : src, strerror(errno));
    }
    char buf[65536];
    size_t n;
    int bad = 0;
    while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0) bad = fwrite(buf, 1, n, out) != n;
    bad |= ferror(in);
    fclose(in);
    if (fclose(out) || bad) return ordo_err_set(err, "%s: copy failed", dst);
    return 0;
}

/* A label as a single safe folder name. */
static void folder_name(const char *l, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; l[i] && j + 1 < cap; i++) {
        char c = l[i];
        out[j++] = c == '/' || c == '\\' ? '_' : c;
    }
    out[j] = 0;
    if (!out[0]) snprintf(out, cap, "_");
    else if (out[0] == '.') out[0] = '_'; /* never "." or ".." or hidden */
}

int cli_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"csv", no_argument, NULL, 'c'},
        {"jsonl", no_argument, NULL, 'j'}, {"tree", required_argument, NULL, 't'},
        {"copy", no_argument, NULL, 'C'}, {"history", no_argument, NULL, 'H'},
        {"label-studio", no_argument, NULL, 'L'}, {"root", required_argument, NULL, 'r'},
        {"embeddings", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *project = NULL, *tree = NULL, *root = NULL, *emb = NULL;
    int jsonl = 0, copy = 0, history = 0, studio = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:cjt:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': project = optarg; break;
        case 'c': jsonl = 0; break;
        case 'j': jsonl = 1; break;
        case 't': tree = optarg; break;
        case 'C': copy = 1; break;
        case 'H': history = 1; break;
        case 'L': studio = 1; break;
        case 'r': root = optarg; break;
        case 'e': emb = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || history + studio + !!emb > 1 || (copy && !tree) ||
        (tree && (history || studio || emb)) || (root && !studio)) {
        usage(stderr);
        return 2;
    }
    ordo_err err = {{0}};
    ordo_store *s = cli_open_project("export", project, ORDO_STORE_RDONLY);
    if (!s) return 1;
    if (history || emb) {
        int r = history ? cli_export_history(s, jsonl, &err) : cli_export_embeddings(s, emb, &err);
        if (!r && fflush(stdout)) r = ordo_err_set(&err, "write failed");
        if (r) fprintf(stderr, "ordo export: %s\n", err.msg);
        ordo_store_close(s);
        return r ? 1 : 0;
    }
    int rc = 1, found, ffound;
    ordo_store_item *items = NULL;
    size_t ni = 0;
    int64_t *ids = NULL;
    float *x = NULL, *pr = NULL, *fp = NULL;
    ordo_store_label_row *lab = NULL;
    size_t nl = 0;
    ordo_learn_model *f = NULL;
    ordo_learn_model *m = ordo_learn_version_latest(s, "classifier", NULL, &found, &err);
    if (!m && found) goto fail;
    if (studio) {
        ordo_learn_version ver = {0};
        ordo_learn_model_free(m);
        m = ordo_learn_version_latest(s, "classifier", &ver, &found, &err);
        if ((!m && found) || cli_export_label_studio(s, m, (long long)ver.id, root, &err))
            goto fail;
        rc = 0;
        goto out;
    }
    ordo_learn_version fver = {0};
    f = ordo_learn_version_latest(s, "sports", &fver, &ffound, &err);
    if (!f && ffound) goto fail;
    int fprior = f && ordo_learn_filter_is_prior(&fver);
    if (tree && mkdir(tree, 0777) != 0) {
        ordo_err_set(&err, "%s: %s", tree, errno == EEXIST ? "already exists" : strerror(errno));
        goto fail;
    }
    if (ordo_store_items(s, &items, &ni, &err) || ordo_store_labels_read(s, 1, &lab, &nl, &err))
        goto fail;
    int k = m ? ordo_learn_model_classes(m) : 0;
    size_t chunk = 4096;
    ids = malloc(chunk * sizeof *ids);
    x = malloc(chunk * (size_t)ordo_store_embed_dim(s) * sizeof *x);
    pr = malloc(chunk * (size_t)(k > 2 ? k : 2) * sizeof *pr);
    fp = malloc(chunk * 2 * sizeof *fp);   /* priors, then P(not-sports) */
    if (!ids || !x || !pr || !fp) { ordo_err_set(&err, "out of memory"); goto fail; }
    if (!jsonl) printf("image_id,path,label,predicted,probability,not_sports\n");
    size_t li = 0, linked = 0;
    char path[8192];
    for (size_t s0 = 0; s0 < ni; s0 += chunk) {
        size_t nc = ni - s0 < chunk ? ni - s0 : chunk;
        for (size_t i = 0; i < nc; i++) ids[i] = items[s0 + i].id;
        if ((m || f) && ordo_learn_embeddings(s, ids, nc, x, &err)) goto fail;
        if (m && ordo_learn_predict(m, x, nc, pr, NULL, &err)) goto fail;
        if (f && (ordo_learn_priors(s, ids, nc, fp, &err) ||
                  ordo_learn_filter_predict(f, fprior, x, fp, nc, fp + chunk, &err)))
            goto fail;
        for (size_t i = 0; i < nc; i++) {
            while (li < nl && lab[li].image_id < ids[i]) li++;
            const char *label = li < nl && lab[li].image_id == ids[i] ? lab[li].label : "";
            if (ordo_store_image_path(s, ids[i], path, sizeof path, &err)) goto fail;
            int am = 0;
            for (int q = 1; q < k; q++)
                if (pr[i * k + q] > pr[i * k + am]) am = q;
            const char *pred = m ? ordo_learn_model_class_name(m, am) : "";
            double prob = m ? pr[i * k + am] : NAN;
            double ns = f ? fp[chunk + i] : NAN;
            if (jsonl) {
                printf("{\"image_id\":%lld,\"path\":", (long long)ids[i]);
                ordo_text_json(stdout, path);
                printf(",\"label\":");
                if (*label) ordo_text_json(stdout, label);
                else printf("null");
                printf(",\"predicted\":");
                if (m) ordo_text_json(stdout, pred);
                else printf("null");
                printf(",\"probability\":");
                if (isfinite(prob)) printf("%.5f", prob);
                else printf("null");
                printf(",\"not_sports\":");
                if (isfinite(ns)) printf("%.5f}\n", ns);
                else printf("null}\n");
            } else {
                printf("%lld,", (long long)ids[i]);
                ordo_text_csv(stdout, path);
                putchar(',');
                ordo_text_csv(stdout, label);
                putchar(',');
                ordo_text_csv(stdout, pred);
                if (isfinite(prob)) printf(",%.5f,", prob);
                else printf(",,");
                if (isfinite(ns)) printf("%.5f\n", ns);
                else printf("\n");
            }
            if (tree && *label && strcmp(label, ORDO_STORE_LABEL_SKIP)) {
                char fold[512], sub[8800], link[9400], base[8192];
                folder_name(label, fold, sizeof fold);
                snprintf(sub, sizeof sub, "%s/%s", tree, fold);
                if (mkdir(sub, 0777) != 0 && errno != EEXIST) {
                    ordo_err_set(&err, "%s: %s", sub, strerror(errno));
                    goto fail;
                }
                snprintf(base, sizeof base, "%s", path);
                /* the image id keeps equal file names apart */
                snprintf(link, sizeof link, "%s/%lld_%s", sub, (long long)ids[i], basename(base));
                if (copy) {
                    if (copy_file(path, link, &err)) goto fail;
                } else if (symlink(path, link) != 0) {
                    ordo_err_set(&err, "%s: %s", link, strerror(errno));
                    goto fail;
                }
                linked++;
            }
        }
    }
    if (tree) fprintf(stderr, "%s %zu labeled images under %s\n", copy ? "copied" : "linked", linked, tree);
    rc = fflush(stdout) == 0 ? 0 : 1;
    goto out;
fail:
    fprintf(stderr, "ordo export: %s\n", err.msg);
out:
    ordo_store_labels_free(lab, nl);
    free(items); free(ids); free(x); free(pr); free(fp);
    ordo_learn_model_free(m);
    ordo_learn_model_free(f);
    ordo_store_close(s);
    return rc;
}
