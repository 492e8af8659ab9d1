/* cmd_simulate.c - `ordo simulate`: the labeling loop replayed with known
 * labels as the oracle, comparing selection strategies (learning curves,
 * area under them, labels needed to match random). */
#include <cblas.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "base/text.h"
#include "cli/cli.h"
#include "cli/cli_ft.h"
#include "learn/learn_store.h"
#include "loop/loop.h"

#define DEFAULT_STRATEGIES \
    "random,most-confident,least-confidence,margin,entropy,atlas,default,uncertain,novel,diverse"

static void usage(FILE *f)
{
    char known[1024];
    ordo_loop_strategy_names(known, sizeof known);
    fprintf(f,
            "usage: ordo simulate --truth LABELS.csv [--test DIR_OR_CSV] [--strategies LIST]\n"
            "                     [--rounds R] [--batch B] [--seeds K] [--seed S] [--eval N]\n"
            "                     [--threads T] [--json] [--csv FILE] [--plot FILE.svg]\n"
            "                     [--learners LIST] [--finetune-last] [--project DIR]\n"
            "Replays the labeling loop on scanned images whose labels are known: per seed it\n"
            "draws the evaluation sample (N random pool images), then each strategy picks\n"
            "R batches of B images, the known labels are 'given', the model is retrained\n"
            "and measured. Prints learning curves (accuracy vs labels, mean and sd over\n"
            "seeds), the area under each curve (normalised by the label range, so a mean\n"
            "accuracy) with its standard error, and the labels each strategy needs to reach\n"
            "random's final accuracy.\n\n"
            "  --truth FILE    CSV path,label[,split] (relative paths: from the CSV's folder)\n"
            "  --test X        test images: a folder (truth rows under it) or a CSV\n"
            "                  path,label; default: truth rows whose split is 'test'.\n"
            "                  Accuracy is then measured on them, else on the eval sample\n"
            "  --strategies L  comma list (default %s;\n"
            "                  known: %s)\n"
            "  --learners L    comma list of learners, each run with every strategy\n"
            "                  (linear, propagate, finetune; default linear). Curves are then\n"
            "                  named strategy/learner; random/linear is the anchor\n"
            "  --finetune-last the finetune learner trains at the last round only; the\n"
            "                  rounds before run the linear learner (as the server's\n"
            "                  retraining does while people label), so their points\n"
            "                  are the linear model's (a fine-tune a round costs minutes)\n"
            "  --rounds R      10; --batch B 100; --seeds K 5; --eval N 400\n"
            "  --seed S        the first seed (1): seeds S..S+K-1, so another S gives\n"
            "                  K fresh repetitions of the whole experiment\n"
            "  --threads T     parallel (seed, strategy) runs (default: all cores)\n"
            "  --folds F       cross-validation folds of each retraining (3); --l2 X fixes\n"
            "                  the L2 strength instead (faster, as 'ordo train --l2')\n"
            "  --json          one JSON object; --csv FILE per-seed rows; --plot FILE.svg\n"
            "Each curve also reports the stopping criterion (Bloodgood & Vijay-Shanker\n"
            "2009): the labels at which the mean Cohen's kappa between successive rounds'\n"
            "predictions on the pool (outside the evaluation sample) over 3 rounds first\n"
            "reaches 0.99, and the accuracy there against the last round's.\n",
            DEFAULT_STRATEGIES, known);
}

typedef struct truth_row {
    int64_t id;
    char *label;
    int test;
} truth_row;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Absolute path of p: relative paths from the CSV's folder, else the cwd. */
static int resolve(const char *p, const char *csvdir, char *out)
{
    if (p[0] != '/') {
        char j[PATH_MAX * 2];
        snprintf(j, sizeof j, "%s/%s", csvdir, p);
        if (realpath(j, out)) return 0;
    }
    return realpath(p, out) ? 0 : -1;
}

/* Reads path,label[,split] rows, keeping those scanned into the project. */
static int read_truth(ordo_store *s, const char *file, int test_flag, truth_row **rows, size_t *n,
                      size_t *skipped, const char *testdir, ordo_err *err)
{
    ordo_learn_csv csv;
    if (ordo_learn_csv_read(file, &csv, err)) return -1;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", file);
    const char *dir = dirname(tmp);
    truth_row *r = realloc(*rows, (*n + csv.nrows + 1) * sizeof *r);
    if (!r) { ordo_learn_csv_free(&csv); return ordo_err_set(err, "out of memory"); }
    *rows = r;
    size_t tdl = testdir ? strlen(testdir) : 0;
    for (size_t i = 0; i < csv.nrows; i++) {
        ordo_learn_csv_row *c = &csv.rows[i];
        if (i == 0 && c->n >= 2 && !strcmp(c->f[0], "path")) continue;
        if (c->n < 2 || !c->f[1][0]) {
            ordo_learn_csv_free(&csv);
            return ordo_err_set(err, "%s:%d: expected path,label", file, c->line);
        }
        char abs[PATH_MAX];
        int64_t id;
        ordo_err e2;
        if (resolve(c->f[0], dir, abs) || ordo_store_image_for_path(s, abs, &id, &e2)) {
            (*skipped)++;
            continue;
        }
        truth_row *o = &r[(*n)++];
        o->id = id;
        o->label = strdup(c->f[1]);
        o->test = test_flag;
        if (testdir) o->test = !strncmp(abs, testdir, tdl) && abs[tdl] == '/';
        else if (test_flag < 0) o->test = c->n >= 3 && !strcmp(c->f[2], "test");
        if (!o->label) {
            ordo_learn_csv_free(&csv);
            return ordo_err_set(err, "out of memory");
        }
    }
    ordo_learn_csv_free(&csv);
    return 0;
}

static void svg_plot(FILE *f, const ordo_learn_sim_result *r, int on_test)
{
    static const char *col[] = {"#444444", "#d62728", "#1f77b4", "#2ca02c", "#9467bd",
                                "#8c564b", "#ff7f0e", "#17becf", "#e377c2", "#bcbd22"};
    const double W = 860, H = 520, L = 70, R = 230, T = 30, B = 60;
    double xmax = 0, ymax = 0, ymin = 1;
    for (int j = 0; j < r->n_curves; j++)
        for (int q = 0; q < r->curves[j].n_points; q++) {
            const ordo_learn_sim_point *p = &r->curves[j].points[q];
            double m = on_test ? p->test_mean : p->eval_mean, sd = on_test ? p->test_sd : p->eval_sd;
            if ((double)p->labels > xmax) xmax = (double)p->labels;
            if (m + sd > ymax) ymax = m + sd;
            if (m - sd < ymin) ymin = m - sd;
        }
    ymin = floor(fmax(0, ymin) * 10) / 10;
    ymax = fmin(1, ceil(ymax * 10) / 10);
    if (ymax <= ymin) ymax = ymin + 0.1;
    if (xmax <= 0) xmax = 1;
#define PX(x) (L + (x) / xmax * (W - L - R))
#define PY(y) (H - B - ((y) - ymin) / (ymax - ymin) * (H - T - B))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
               "fill=\"white\"/>\n", W, H);
    for (int g = 0; g <= 10; g++) {
        double y = ymin + (ymax - ymin) * g / 10;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n",
                L, PY(y), W - R, PY(y), L - 6, PY(y) + 4, y);
    }
    for (int q = 0; r->n_curves && q < r->curves[0].n_points; q++) {
        double x = (double)r->curves[0].points[q].labels;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", PX(x),
                H - B + 18, x);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", L,
            H - B, W - R, H - B);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", L, T, L,
            H - B);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">training labels</text>\n",
            (L + W - R) / 2, H - 18);
    fprintf(f, "<text transform=\"translate(18,%.1f) rotate(-90)\" text-anchor=\"middle\">"
               "accuracy (%s, mean &#177; sd over %d seeds)</text>\n",
            (T + H - B) / 2, on_test ? "test split" : "evaluation sample", r->n_seeds);
    for (int j = 0; j < r->n_curves; j++) {
        const ordo_learn_sim_curve *c = &r->curves[j];
        const char *k = col[j % 10];
        /* the sd band, then the mean line */
        fprintf(f, "<polygon fill=\"%s\" fill-opacity=\"0.12\" stroke=\"none\" points=\"", k);
        for (int q = 0; q < c->n_points; q++) {
            const ordo_learn_sim_point *p = &c->points[q];
            double m = on_test ? p->test_mean : p->eval_mean, sd = on_test ? p->test_sd : p->eval_sd;
            fprintf(f, "%.1f,%.1f ", PX((double)p->labels), PY(fmin(ymax, m + sd)));
        }
        for (int q = c->n_points - 1; q >= 0; q--) {
            const ordo_learn_sim_point *p = &c->points[q];
            double m = on_test ? p->test_mean : p->eval_mean, sd = on_test ? p->test_sd : p->eval_sd;
            fprintf(f, "%.1f,%.1f ", PX((double)p->labels), PY(fmax(ymin, m - sd)));
        }
        fprintf(f, "\"/>\n<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", k);
        for (int q = 0; q < c->n_points; q++) {
            const ordo_learn_sim_point *p = &c->points[q];
            fprintf(f, "%.1f,%.1f ", PX((double)p->labels), PY(on_test ? p->test_mean : p->eval_mean));
        }
        fprintf(f, "\"/>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\">%s (AUC %.3f)</text>\n",
                W - R + 15, T + 10 + 20.0 * j, W - R + 40, T + 10 + 20.0 * j, k, W - R + 46,
                T + 14 + 20.0 * j, c->name, c->auc);
    }
    fprintf(f, "</svg>\n");
#undef PX
#undef PY
}

int cli_simulate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"truth", required_argument, NULL, 't'},
        {"test", required_argument, NULL, 'T'}, {"strategies", required_argument, NULL, 'S'},
        {"rounds", required_argument, NULL, 'r'}, {"batch", required_argument, NULL, 'b'},
        {"seeds", required_argument, NULL, 'k'}, {"eval", required_argument, NULL, 'e'},
        {"threads", required_argument, NULL, 'j'}, {"json", no_argument, NULL, 'J'},
        {"csv", required_argument, NULL, 'c'}, {"plot", required_argument, NULL, 'P'},
        {"folds", required_argument, NULL, 'f'}, {"l2", required_argument, NULL, 'l'},
        {"seed", required_argument, NULL, 's'}, {"learners", required_argument, NULL, 'L'},
        {"finetune-last", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *project = NULL, *truth = NULL, *test = NULL, *list = DEFAULT_STRATEGIES;
    const char *csvout = NULL, *plot = NULL, *llist = "linear";
    int rounds = 10, batch = 100, seeds = 5, evaln = 400, threads = cli_default_threads(), json = 0;
    int c, folds = 3, seed0 = 1, ft_last = 0;
    double l2 = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:t:T:S:r:b:k:s:e:j:Jc:P:f:l:L:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': project = optarg; break;
        case 't': truth = optarg; break;
        case 'T': test = optarg; break;
        case 'S': list = optarg; break;
        case 'L': llist = optarg; break;
        case 'r': if (cli_parse_int("--rounds", optarg, 1, 10000, &rounds)) return 2; break;
        case 'b': if (cli_parse_int("--batch", optarg, 1, 10000000, &batch)) return 2; break;
        case 'k': if (cli_parse_int("--seeds", optarg, 1, 1000, &seeds)) return 2; break;
        case 's': if (cli_parse_int("--seed", optarg, 0, 1000000000, &seed0)) return 2; break;
        case 'e': if (cli_parse_int("--eval", optarg, 1, 10000000, &evaln)) return 2; break;
        case 'j': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'J': json = 1; break;
        case 'F': ft_last = 1; break;
        case 'c': csvout = optarg; break;
        case 'P': plot = optarg; break;
        case 'f': if (cli_parse_int("--folds", optarg, 2, 20, &folds)) return 2; break;
        case 'l': {
            char *end;
            l2 = strtod(optarg, &end);
            if (end == optarg || *end || !(l2 > 0) || !isfinite(l2)) {
                fprintf(stderr, "ordo simulate: --l2 needs a positive number\n");
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !truth) { usage(stderr); return 2; }
    ordo_err err = {{0}};
    ordo_store *s = cli_open_project("simulate", project, ORDO_STORE_RDONLY);
    if (!s) return 1;
    int rc = 1;
    truth_row *rows = NULL;
    size_t nr = 0, skipped = 0, np = 0, nt = 0;
    char **names = NULL;
    int64_t *ids = NULL;
    int *y = NULL;
    float *x = NULL, *lg = NULL, *prior = NULL;
    ordo_learn_strategy *st = NULL;
    char *dup = NULL, *ldup = NULL;
    int learners[8], nlearn = 0;
    ordo_learn_sim_result res = {0};
    cli_ft ft = {0};
    int64_t *ft_slot = NULL;
    ordo_learn_ft_data ftd;

    /* truth, and which rows are the test set */
    char testabs[PATH_MAX];
    const char *testdir = NULL;
    int test_is_csv = 0;
    if (test) {
        struct stat sb;
        if (stat(test, &sb) || !realpath(test, testabs)) {
            ordo_err_set(&err, "%s: no such file or folder", test);
            goto fail;
        }
        if (S_ISDIR(sb.st_mode)) testdir = testabs;
        else test_is_csv = 1;
    }
    if (read_truth(s, truth, test ? 0 : -1, &rows, &nr, &skipped, testdir, &err)) goto fail;
    if (test_is_csv && read_truth(s, test, 1, &rows, &nr, &skipped, NULL, &err)) goto fail;
    if (nr == 0) {
        ordo_err_set(&err, "none of the %zu images of %s is scanned into this project", skipped, truth);
        goto fail;
    }
    /* a test CSV may repeat truth rows: the test entry wins */
    if (test_is_csv) {
        int64_t *tid = malloc(nr * sizeof *tid);
        size_t ntid = 0, w = 0;
        if (!tid) { ordo_err_set(&err, "out of memory"); goto fail; }
        for (size_t i = 0; i < nr; i++)
            if (rows[i].test) tid[ntid++] = rows[i].id;
        qsort(tid, ntid, sizeof *tid, cmp_i64);
        for (size_t i = 0; i < nr; i++) {
            if (!rows[i].test && bsearch(&rows[i].id, tid, ntid, sizeof *tid, cmp_i64)) {
                free(rows[i].label);
                continue;
            }
            rows[w++] = rows[i];
        }
        nr = w;
        free(tid);
    }
    names = malloc(nr * sizeof *names);
    ids = malloc(nr * sizeof *ids);
    y = malloc(nr * sizeof *y);
    if (!names || !ids || !y) { ordo_err_set(&err, "out of memory"); goto fail; }
    for (size_t i = 0; i < nr; i++) names[i] = rows[i].label;
    qsort(names, nr, sizeof *names, cmp_str);
    int k = 0;
    for (size_t i = 0; i < nr; i++)
        if (!k || strcmp(names[i], names[k - 1])) names[k++] = names[i];
    if (k < 2) { ordo_err_set(&err, "the truth has fewer than 2 labels"); goto fail; }
    /* pool rows first, then test rows */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < nr; i++) {
            if (rows[i].test != pass) continue;
            size_t at = pass ? np + nt : np;
            ids[at] = rows[i].id;
            y[at] = (int)((char **)bsearch(&rows[i].label, names, (size_t)k, sizeof *names, cmp_str) - names);
            if (pass) nt++;
            else np++;
        }
    if ((size_t)evaln >= np) {
        ordo_err_set(&err, "the evaluation sample (%d) must be smaller than the pool (%zu images)", evaln, np);
        goto fail;
    }
    size_t N = np + nt;
    /* the project's widths: its embeddings, its logit columns (ImageNet's
     * 1000 classes, or an imported model's own) */
    const size_t E = (size_t)ordo_store_embed_dim(s), L = (size_t)ordo_store_logits_dim(s);
    x = malloc(N * E * sizeof *x);
    lg = malloc(np * L * sizeof *lg);
    prior = malloc(np * L * sizeof *prior);
    if (!x || !lg || !prior) { ordo_err_set(&err, "out of memory"); goto fail; }
    if (ordo_learn_embeddings(s, ids, N, x, &err) || ordo_learn_logits(s, ids, np, lg, &err)) goto fail;
    for (size_t i = 0; i < np; i++) { /* softmax: the stored probabilities */
        const float *l = lg + i * L;
        double mx = -INFINITY, sum = 0;
        for (size_t j = 0; j < L; j++) mx = fmax(mx, l[j]);
        for (size_t j = 0; j < L; j++) sum += exp(l[j] - mx);
        for (size_t j = 0; j < L; j++)
            prior[i * L + j] = (float)(exp(l[j] - mx) / sum);
    }
    /* leaks: pool images that near-duplicate a test image are kept out of
     * the pool (never picked, never trained on), so the test set stays the
     * honest held-out measure it is */
    size_t test_leaks = 0;
    if (nt) {
        uint8_t *hit = malloc(np ? np : 1);
        if (!hit) { ordo_err_set(&err, "out of memory"); goto fail; }
        if (ordo_audit_cross(x, np, x + np * E, nt, E,
                             ORDO_AUDIT_COSINE, hit, NULL, NULL, NULL, &err) < 0) {
            free(hit);
            goto fail;
        }
        size_t w = 0;
        for (size_t i = 0; i < N; i++) {
            if (i < np && hit[i]) { test_leaks++; continue; }
            if (w != i) {
                memmove(x + w * E, x + i * E, E * sizeof *x);
                y[w] = y[i];
                ids[w] = ids[i];
                if (i < np)
                    memmove(prior + w * L, prior + i * L,
                            L * sizeof *prior);
            }
            w++;
        }
        free(hit);
        np -= test_leaks;
        N = np + nt;
        if ((size_t)evaln >= np) {
            ordo_err_set(&err, "the evaluation sample (%d) must be smaller than the pool (%zu images "
                               "after %zu near-duplicates of test images)", evaln, np, test_leaks);
            goto fail;
        }
    }
    /* strategies */
    dup = strdup(list);
    st = calloc(strlen(list) + 1, sizeof *st);
    if (!dup || !st) { ordo_err_set(&err, "out of memory"); goto fail; }
    int ns = 0;
    for (char *t = strtok(dup, ","); t; t = strtok(NULL, ",")) {
        st[ns] = ordo_loop_strategy(t);
        if (!st[ns].fn) {
            char known[1024];
            ordo_loop_strategy_names(known, sizeof known);
            ordo_err_set(&err, "unknown strategy '%s' (known: %s)", t, known);
            goto fail;
        }
        ns++;
    }
    if (!ns) { ordo_err_set(&err, "no strategies"); goto fail; }
    if (!(ldup = strdup(llist))) { ordo_err_set(&err, "out of memory"); goto fail; }
    for (char *t = strtok(ldup, ","); t; t = strtok(NULL, ",")) {
        int id = ordo_learn_learner_id(t);
        if (id < 0) {
            ordo_err_set(&err, "unknown learner '%s' (known: linear, propagate, finetune)", t);
            goto fail;
        }
        if (nlearn == (int)(sizeof learners / sizeof *learners)) {
            ordo_err_set(&err, "at most %d learners", nlearn);
            goto fail;
        }
        learners[nlearn++] = id;
    }
    if (!nlearn) { ordo_err_set(&err, "no learners"); goto fail; }
    int want_ft = 0;
    for (int l = 0; l < nlearn; l++) want_ft |= learners[l] == ORDO_LEARNER_FINETUNE;
    if (want_ft) {
        /* the activation cache (built now if missing) and each row's slot in it */
        if (cli_ft_open(ordo_store_dir(s), json, threads, &ft, &err)) goto fail;
        if (!(ft_slot = malloc(N * sizeof *ft_slot))) { ordo_err_set(&err, "out of memory"); goto fail; }
        if (cli_ft_slots(&ft, ids, N, ft_slot, &err)) goto fail;
        ftd = cli_ft_data(&ft, ft_slot);
    }
    ordo_learn_sim_config cfg = {.n = np, .d = (int)E, .x = x, .truth = y, .k = k,
                                 .class_names = (const char *const *)names, .prior_probs = prior,
                                 .prior_k = (int)L, .n_test = nt,
                                 .test_x = x + np * E, .test_truth = y + np,
                                 .eval_size = (size_t)evaln, .batch = (size_t)batch,
                                 .rounds = rounds, .n_seeds = seeds, .seed = (uint64_t)seed0,
                                 .learners = learners, .n_learners = nlearn, .threads = threads,
                                 .ft = want_ft ? &ftd : NULL,
                                 .ft_test_slot = want_ft ? ft_slot + np : NULL, .ft_opts = NULL,
                                 .ft_last = ft_last};
    ordo_learn_opts_default(&cfg.train);
    cfg.train.cv_folds = folds;
    cfg.train.l2 = l2;
    /* parallel runs each use one BLAS thread rather than oversubscribing */
    if (threads > 1) openblas_set_num_threads(1);
    if (!json) {
        fprintf(stderr, "simulating %d strategies x %d learners x %d seeds: pool %zu, test %zu, "
                        "%d labels, eval sample %d, %d rounds of %d (%zu truth rows not in the "
                        "project)\n",
                ns, nlearn, seeds, np, nt, k, evaln, rounds, batch, skipped);
        if (test_leaks)
            fprintf(stderr, "kept %zu pool images out: near-duplicates (cosine >= %.2f) of test "
                            "images\n", test_leaks, ORDO_AUDIT_COSINE);
    }
    if (ordo_learn_simulate(&cfg, st, ns, &res, &err)) goto fail;
    int on_test = nt > 0;
    if (json) {
        printf("{\"measured_on\":\"%s\",\"pool\":%zu,\"test\":%zu,\"classes\":%d,\"eval_sample\":%d,"
               "\"seeds\":%d,\"eval_ci_coverage\":", on_test ? "test" : "eval_sample", np, nt, k,
               evaln, seeds);
        if (isfinite(res.eval_ci_coverage)) printf("%.4f", res.eval_ci_coverage);
        else printf("null");
        printf(",\"rest_ci_coverage\":%.4f,\"strategies\":{", res.rest_ci_coverage);
        for (int j = 0; j < res.n_curves; j++) {
            const ordo_learn_sim_curve *cv = &res.curves[j];
            printf("%s", j ? "," : "");
            ordo_text_json(stdout, cv->name);
            printf(":{\"auc\":%.5f,\"auc_se\":%.5f,\"labels_to_match_random\":", cv->auc, cv->auc_se);
            if (cv->labels_to_match_random >= 0) printf("%ld", cv->labels_to_match_random);
            else printf("null");
            printf(",\"stop\":{\"fired\":%d,\"labels_mean\":", cv->stop_fired);
            if (cv->stop_fired)
                printf("%.1f,\"accuracy_mean\":%.5f,\"final_accuracy_mean\":%.5f}",
                       cv->stop_labels_mean, cv->stop_acc_mean, cv->stop_final_acc_mean);
            else
                printf("null}");
            printf(",\"curve\":[");
            for (int q = 0; q < cv->n_points; q++) {
                const ordo_learn_sim_point *p = &cv->points[q];
                double km = 0;
                int kn = 0;
                for (int sd = 0; sd < res.n_seeds; sd++) {
                    double kv = cv->kappa[(size_t)sd * cv->n_points + q];
                    if (isfinite(kv)) { km += kv; kn++; }
                }
                printf("%s{\"labels\":%zu,\"accuracy_mean\":%.5f,\"accuracy_sd\":%.5f,"
                       "\"eval_accuracy_mean\":%.5f,\"eval_accuracy_sd\":%.5f,\"kappa_mean\":",
                       q ? "," : "", p->labels, on_test ? p->test_mean : p->eval_mean,
                       on_test ? p->test_sd : p->eval_sd, p->eval_mean, p->eval_sd);
                if (kn) printf("%.5f}", km / kn);
                else printf("null}");
            }
            printf("]}");
        }
        printf("}}\n");
    } else {
        printf("%-18s %7s %7s %9s   accuracy on the %s (mean over %d seeds) at labels\n",
               "strategy", "auc", "auc_se", "to_match", on_test ? "test split" : "evaluation sample",
               seeds);
        printf("%-18s %7s %7s %9s  ", "", "", "", "");
        for (int q = 0; q < res.curves[0].n_points; q++) printf(" %6zu", res.curves[0].points[q].labels);
        printf("\n");
        for (int j = 0; j < res.n_curves; j++) {
            const ordo_learn_sim_curve *cv = &res.curves[j];
            printf("%-18s %7.4f %7.4f ", cv->name, cv->auc, cv->auc_se);
            if (cv->labels_to_match_random >= 0) printf("%9ld  ", cv->labels_to_match_random);
            else printf("%9s  ", "never");
            for (int q = 0; q < cv->n_points; q++)
                printf(" %6.3f", on_test ? cv->points[q].test_mean : cv->points[q].eval_mean);
            printf("\n");
        }
        printf("stopping criterion (mean kappa of 3 successive rounds >= 0.99, Bloodgood & "
               "Vijay-Shanker 2009):\n");
        for (int j = 0; j < res.n_curves; j++) {
            const ordo_learn_sim_curve *cv = &res.curves[j];
            if (cv->stop_fired)
                printf("  %-24s stops at %.0f labels (mean over the %d of %d seeds where it fired): "
                       "accuracy %.3f there, %.3f at the last round\n", cv->name,
                       cv->stop_labels_mean, cv->stop_fired, res.n_seeds, cv->stop_acc_mean,
                       cv->stop_final_acc_mean);
            else
                printf("  %-24s does not stop within %zu labels\n", cv->name,
                       cv->points[cv->n_points - 1].labels);
        }
        if (on_test)
            printf("evaluation-sample 95%% intervals containing the test accuracy: %.1f%%; "
                   "containing the unlabeled rest of the pool's accuracy: %.1f%%\n",
                   100 * res.eval_ci_coverage, 100 * res.rest_ci_coverage);
    }
    if (csvout) {
        FILE *o = fopen(csvout, "w");
        if (!o) { ordo_err_set(&err, "%s: cannot write", csvout); goto fail; }
        fprintf(o, "strategy,seed,labels,eval_accuracy,eval_lo,eval_hi,test_accuracy,rest_accuracy,"
                   "kappa\n");
        for (int j = 0; j < res.n_curves; j++)
            for (int sd = 0; sd < res.n_seeds; sd++)
                for (int q = 0; q < res.curves[j].n_points; q++) {
                    const ordo_learn_sim_curve *cv = &res.curves[j];
                    size_t at = (size_t)sd * cv->n_points + q;
                    fprintf(o, "%s,%d,%zu,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f\n", cv->name, sd,
                            cv->points[q].labels, cv->eval_acc[at], cv->eval_lo[at],
                            cv->eval_hi[at], cv->test_acc[at], cv->rest_acc[at], cv->kappa[at]);
                }
        if (fclose(o)) { ordo_err_set(&err, "%s: write failed", csvout); goto fail; }
    }
    if (plot) {
        FILE *o = fopen(plot, "w");
        if (!o) { ordo_err_set(&err, "%s: cannot write", plot); goto fail; }
        svg_plot(o, &res, on_test);
        if (fclose(o)) { ordo_err_set(&err, "%s: write failed", plot); goto fail; }
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
    goto out;
fail:
    fprintf(stderr, "ordo simulate: %s\n", err.msg);
out:
    ordo_learn_sim_result_free(&res);
    for (size_t i = 0; i < nr; i++) free(rows[i].label);
    free(rows); free(names); free(ids); free(y); free(x); free(lg); free(prior); free(st); free(dup); free(ldup);
    free(ft_slot);
    cli_ft_close(&ft);
    ordo_store_close(s);
    return rc;
}
