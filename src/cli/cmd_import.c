/* cmd_import.c - `ordo import embeddings|labels`: other tools' outputs into
 * a project. Each import reads and checks the whole input first and then
 * writes in one transaction: all of it or nothing. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/f16.h"
#include "base/file.h"
#include "base/walk.h"
#include "cli/cli.h"
#include "io/io.h"
#include "learn/learn_store.h"
#include "store/store.h"
#include "wordnet/sports.h"

/* Input files are read whole; a cap keeps a wrong argument from exhausting
 * memory (1M x 1280 float32 is 5 GB: beyond that, import in parts). */
#define IMPORT_MAX_BYTES ((size_t)8 << 30)
#define MAX_PHOTO ((size_t)1 << 30)   /* as `ordo scan` */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo import embeddings FILE [--paths LIST] [--probs FILE.npy | --logits FILE.npy]\n"
            "                   [--classes LIST] --model NAME [--project DIR]\n"
            "       ordo import labels (--tree DIR | --csv FILE | --jsonl FILE | --label-studio FILE)\n"
            "                   [--root DIR] [--annotator NAME] [--project DIR]\n"
            "Brings another model's vectors, or existing labels, into the project. The whole\n"
            "input is checked first; then everything is stored in one transaction, or nothing.\n\n"
            "embeddings: per-image vectors from any model, so ranking, the page and the\n"
            "learners work on them as on ordo's own. FILE is a NumPy .npy matrix (float16 or\n"
            "float32, one row per path of --paths), a CSV (path,x1,...,xD) or JSON lines\n"
            "({\"path\": ..., \"embedding\": [...], \"probabilities\": [...]}). The photos are\n"
            "hashed and added to the project; no network runs. A project holds one model's\n"
            "vectors: a project scanned by ordo (lite0/1/2) or imported from another model\n"
            "refuses vectors of a different one. Any width is kept (CLIP's 512, ResNet-50's\n"
            "2048): the first import into an empty project sets its embedding width.\n"
            "  --model NAME      the model the vectors come from (e.g. clip-vit-b32; lite0 for\n"
            "                    vectors `ordo export --embeddings` wrote from a lite0 project)\n"
            "  --paths LIST      for .npy: the photos, one path per line, in row order\n"
            "                    (relative paths: from LIST's folder, else the current directory)\n"
            "  --probs FILE.npy  ImageNet class probabilities (N x 1000, ordo's class order,\n"
            "                    `ordo classes`): scores and the sports prior as for a scan\n"
            "  --logits FILE.npy ImageNet logits instead (N x 1000; exact for ordo's exports)\n"
            "  --classes LIST    the probabilities (--probs, --logits or the JSON lines') are\n"
            "                    over the model's own classes: their names, one per line, in\n"
            "                    column order; `ordo next`, `status` and the page show them.\n"
            "                    A project never mixes two class lists\n\n"
            "labels: label events, appended (the newest per image is its current label).\n"
            "  --tree DIR           DIR/LABEL/.../photo: the first folder under DIR is the label\n"
            "  --csv FILE           path,label[,annotator,reason,created] with that header (as\n"
            "                       `ordo export --history` writes), or rows path,label\n"
            "  --jsonl FILE         {\"path\", \"label\", \"annotator\", \"reason\", \"created\"}\n"
            "  --label-studio FILE  a Label Studio JSON export (image classification, choices):\n"
            "                       each annotation with its annotator and time\n"
            "  --root DIR           where relative paths start (Label Studio local storage's\n"
            "                       document root; default: /, else the file's folder)\n"
            "  --annotator NAME     for events that name none (default: $USER)\n");
}

/* Absolute, resolved path of p: from the current directory, else from dir
 * (when p is relative and dir is not NULL). */
static int resolve(const char *p, const char *dir, char *out)
{
    if (p[0] == '/' || !dir) return realpath(p, out) ? 0 : -1;
    char j[PATH_MAX * 2];
    snprintf(j, sizeof j, "%s/%s", dir, p);
    if (realpath(j, out)) return 0;
    return realpath(p, out) ? 0 : -1;
}

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- embeddings ---------------------------------------------------------------- */

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* Reads FILE.npy as an N x cols float matrix (cols = 0: any). */
static int read_npy(const char *path, size_t rows, size_t cols, float **out, size_t *n,
                    size_t *d, ordo_err *err)
{
    unsigned char *buf = NULL;
    size_t len;
    ordo_io_npy h;
    *out = NULL;
    if (ordo_file_read(path, IMPORT_MAX_BYTES, &buf, &len, err)) return -1;
    if (ordo_io_npy_parse(buf, len, &h, err)) goto fail;
    if (h.ndim != 2) {
        ordo_err_set(err, "a 1-d array of %zu values; expected a matrix (one row per image)",
                     h.rows);
        goto fail;
    }
    if ((rows && h.rows != rows) || (cols && h.cols != cols)) {
        ordo_err_set(err, "shape (%zu, %zu); expected (%zu, %s%zu)", h.rows, h.cols, rows,
                     cols ? "" : "D", cols ? cols : h.cols);
        goto fail;
    }
    if (!(*out = malloc((h.rows * h.cols > 0 ? h.rows * h.cols : 1) * sizeof **out))) {
        ordo_err_set(err, "out of memory");
        goto fail;
    }
    if (ordo_io_npy_floats(buf, &h, *out, err)) goto fail;
    free(buf);
    *n = h.rows;
    *d = h.cols;
    return 0;
fail:
    free(buf);
    free(*out);
    *out = NULL;
    return ordo_err_wrap(err, "%s", path);
}

static int import_embeddings(const char *project, const char *file, const char *paths_file,
                             const char *probs_file, const char *logits_file,
                             const char *classes_file, const char *model)
{
    ordo_err err = {{0}};
    ordo_io_vectors v = {0};
    unsigned char *buf = NULL, *photo = NULL;
    size_t len;
    float *lg = NULL, *extra = NULL;
    ordo_store *s = NULL;
    ordo_wn *wn = NULL;
    ordo_sports *sp = NULL;
    char **classes = NULL;
    size_t nclasses = 0;
    int rc = 1, txn = 0;
    int64_t scan_id = 0;
    char *dup = strdup(paths_file ? paths_file : file), *base = dup ? dirname(dup) : NULL;
    if (!base) { ordo_err_set(&err, "out of memory"); goto fail; }
    if (ends_with(file, ".npy")) {
        if (!paths_file) {
            ordo_err_set(&err, "%s: a .npy matrix needs --paths LIST (one path per row)", file);
            goto fail;
        }
        size_t n, d;
        if (read_npy(file, 0, 0, &v.embed, &n, &d, &err)) goto fail;
        if (d > INT32_MAX) { ordo_err_set(&err, "%s: too many columns", file); goto fail; }
        v.dim = (int)d;
        if (ordo_file_read(paths_file, IMPORT_MAX_BYTES, &buf, &len, &err) ||
            ordo_io_paths_parse((const char *)buf, len, &v.paths, &v.n, &err)) {
            ordo_err_wrap(&err, "%s", paths_file);
            goto fail;
        }
        if (v.n != n) {
            ordo_err_set(&err, "%s has %zu rows but %s lists %zu paths", file, n, paths_file, v.n);
            goto fail;
        }
    } else {
        if (paths_file) {
            ordo_err_set(&err, "--paths goes with a .npy matrix; CSV and JSON lines name "
                               "the path on each row");
            goto fail;
        }
        int jsonl = ends_with(file, ".jsonl") || ends_with(file, ".json");
        if (!jsonl && !ends_with(file, ".csv")) {
            ordo_err_set(&err, "%s: expected a .npy, .csv or .jsonl file", file);
            goto fail;
        }
        if (ordo_file_read(file, IMPORT_MAX_BYTES, &buf, &len, &err) ||
            (jsonl ? ordo_io_vectors_jsonl((const char *)buf, len, &v, &err)
                   : ordo_io_vectors_csv((const char *)buf, len, &v, &err))) {
            ordo_err_wrap(&err, "%s", file);
            goto fail;
        }
    }
    if (v.dim > ORDO_STORE_DIM_MAX) {
        ordo_err_set(&err, "%s: embeddings of %d values; ordo stores at most %d", file, v.dim,
                     ORDO_STORE_DIM_MAX);
        goto fail;
    }
    /* Probabilities or logits: from the JSON lines, or a matrix beside the
     * .npy; over ImageNet's 1000 classes, or the model's own (--classes). */
    const char *pf = probs_file ? probs_file : logits_file;
    if (pf && v.probs) {
        ordo_err_set(&err, "%s already has probabilities; drop --probs/--logits", file);
        goto fail;
    }
    if (classes_file) {
        if (!pf && !v.probs) {
            ordo_err_set(&err, "--classes names the columns of probabilities; give --probs or "
                               "--logits (or JSON lines with \"probabilities\")");
            goto fail;
        }
        unsigned char *cb = NULL;
        size_t cl;
        int bad = ordo_file_read(classes_file, IMPORT_MAX_BYTES, &cb, &cl, &err) ||
                  ordo_io_classes_parse((const char *)cb, cl, &classes, &nclasses, &err);
        free(cb);
        if (bad) {
            ordo_err_wrap(&err, "%s", classes_file);
            goto fail;
        }
        if (nclasses > ORDO_STORE_DIM_MAX) {
            ordo_err_set(&err, "%s: %zu classes; ordo stores at most %d", classes_file,
                         nclasses, ORDO_STORE_DIM_MAX);
            goto fail;
        }
    }
    /* K: the probability columns every row must have. */
    const int K = classes ? (int)nclasses : ORDO_STORE_LOGITS;
    size_t pn = 0, pd = 0;
    if (pf && read_npy(pf, v.n, (size_t)K, &extra, &pn, &pd, &err)) {
        if (classes) ordo_err_wrap(&err, "%s lists %d classes", classes_file, K);
        else if (strstr(err.msg, "shape ("))
            snprintf(err.msg + strlen(err.msg), sizeof err.msg - strlen(err.msg),
                     " (without --classes the columns are the %d ImageNet classes; a model "
                     "with classes of its own: name them with --classes LIST)", K);
        goto fail;
    }
    const float *pm = pf ? extra : v.probs;
    int is_logits = logits_file != NULL;
    if (v.probs && v.nprob != K) {
        if (classes)
            ordo_err_set(&err, "%s: %d probabilities per image, but %s lists %d classes", file,
                         v.nprob, classes_file, K);
        else
            ordo_err_set(&err, "%s: %d probabilities per image; without --classes they are "
                               "over the %d ImageNet classes (a model with classes of its own: "
                               "name them with --classes LIST)", file, v.nprob, K);
        goto fail;
    }
    if (pm) {
        /* Probabilities become logits ln p (softmax(ln p) = p / sum p), with
         * 0 clamped to 1e-30 so every stored value is finite. */
        if (!(lg = malloc(v.n * (size_t)K * sizeof *lg))) {
            ordo_err_set(&err, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < v.n; i++) {
            const float *p = pm + i * (size_t)K;
            float *o = lg + i * (size_t)K;
            if (is_logits) {
                memcpy(o, p, (size_t)K * sizeof *o);
                continue;
            }
            double sum = 0;
            for (int k = 0; k < K; k++) {
                if (p[k] < 0 || p[k] > 1) {
                    ordo_err_set(&err, "%s: row %zu, class %d: probability %g is outside [0, 1]",
                                 pf ? pf : file, i + 1, k, p[k]);
                    goto fail;
                }
                sum += p[k];
                o[k] = logf(p[k] > 1e-30f ? p[k] : 1e-30f);
            }
            if (fabs(sum - 1) > 0.01) {
                ordo_err_set(&err, "%s: row %zu: probabilities sum to %.4f, not 1",
                             pf ? pf : file, i + 1, sum);
                goto fail;
            }
        }
    }
    /* Resolve and hash every photo before writing anything. */
    char (*abs)[PATH_MAX] = NULL;
    typedef struct { unsigned char hash[16]; int64_t size, mtime_ns; } meta;
    meta *mt = calloc(v.n ? v.n : 1, sizeof *mt);
    abs = calloc(v.n ? v.n : 1, sizeof *abs);
    if (!mt || !abs) {
        free(mt); free(abs);
        ordo_err_set(&err, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < v.n; i++) {
        struct stat st;
        size_t got;
        if (resolve(v.paths[i], paths_file ? base : NULL, abs[i]) || stat(abs[i], &st) ||
            !S_ISREG(st.st_mode)) {
            ordo_err_set(&err, "row %zu: %s: no such photo", i + 1, v.paths[i]);
            goto fail_meta;
        }
        if (ordo_file_read(abs[i], MAX_PHOTO, &photo, &got, &err)) {
            ordo_err_wrap(&err, "row %zu", i + 1);
            goto fail_meta;
        }
        ordo_file_hash(photo, got, mt[i].hash);
        free(photo);
        photo = NULL;
        mt[i].size = (int64_t)st.st_size;
        mt[i].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }
    {
        /* A path twice is a malformed list, not two images. */
        char **sorted = malloc((v.n ? v.n : 1) * sizeof *sorted);
        if (!sorted) { ordo_err_set(&err, "out of memory"); goto fail_meta; }
        for (size_t i = 0; i < v.n; i++) sorted[i] = abs[i];
        qsort(sorted, v.n, sizeof *sorted, strcmp_ptr);
        for (size_t i = 1; i < v.n; i++)
            if (!strcmp(sorted[i - 1], sorted[i])) {
                ordo_err_set(&err, "%s is listed twice", sorted[i]);
                free(sorted);
                goto fail_meta;
            }
        free(sorted);
    }
    if (pm && !classes) {   /* the sports prior is a sum over ImageNet classes */
        wn = ordo_wn_open(NULL, &err);
        sp = wn ? ordo_sports_new(wn, NULL, &err) : NULL;
        if (!sp) fprintf(stderr, "ordo import: warning: no sports prior: %s\n", err.msg);
    }
    if (!(s = cli_open_project("import", project, 0))) goto fail_meta_quiet;
    if (ordo_store_begin(s, &err)) goto fail_meta;
    txn = 1;
    if (ordo_store_set_source(s, model, v.dim, pm != NULL, (const char *const *)classes,
                              (int)nclasses, &err))
        goto fail_meta;
    /* The import's record in `scans` (roots: the file; model: its model),
     * written inside the one transaction like everything else. */
    char absfile[PATH_MAX];
    if ((scan_id = ordo_store_scan_begin(s, realpath(file, absfile) ? absfile : file, model,
                                         &err)) < 0)
        goto fail_meta;
    float probs[ORDO_STORE_LOGITS], lr[ORDO_STORE_LOGITS];
    uint16_t h16[ORDO_STORE_LOGITS];
    int64_t fresh = 0;
    for (size_t i = 0; i < v.n; i++) {
        float sports = NAN;
        if (pm && sp) {
            /* the prior of the logits as stored, as `ordo scan` computes it */
            ordo_store_scores sc;
            ordo_f16_from_f32(lg + i * (size_t)K, h16, ORDO_STORE_LOGITS);
            ordo_f16_to_f32(h16, lr, ORDO_STORE_LOGITS);
            ordo_store_summarize(lr, ORDO_STORE_LOGITS, &sc, probs);
            sports = ordo_sports_score(sp, probs);
        }
        ordo_store_image_in in = {.path = abs[i], .size = mt[i].size, .mtime_ns = mt[i].mtime_ns,
                                  .format = "", .logits = pm ? lg + i * (size_t)K : NULL,
                                  .embed = v.embed + i * (size_t)v.dim, .embed_dim = v.dim,
                                  .sports = sports, .scan_id = scan_id};
        memcpy(in.hash, mt[i].hash, 16);
        int known = ordo_store_has_hash(s, in.hash, &err);
        if (known < 0 || ordo_store_put_image(s, &in, NULL, &err)) {
            ordo_err_wrap(&err, "%s", abs[i]);
            goto fail_meta;
        }
        fresh += !known;
    }
    ordo_store_scan_counts counts = {.seen = (int64_t)v.n, .processed = fresh};
    if (ordo_store_scan_end(s, scan_id, &counts, &err) || ordo_store_commit(s, &err))
        goto fail_meta;
    txn = 0;
    if (classes)
        printf("imported %zu %d-d %s embeddings with %s over %d classes of its own from %s\n",
               v.n, v.dim, model, is_logits ? "logits" : "probabilities", K, file);
    else
        printf("imported %zu %d-d %s embeddings%s from %s\n", v.n, v.dim, model,
               pm ? (is_logits ? " with ImageNet logits" : " with ImageNet probabilities") : "",
               file);
    rc = 0;
    free(mt);
    free(abs);
    goto out;
fail_meta:
    fprintf(stderr, "ordo import: %s\n", err.msg);
fail_meta_quiet:
    if (txn) ordo_store_rollback(s);
    free(mt);
    free(abs);
    goto out;
fail:
    fprintf(stderr, "ordo import: %s\n", err.msg);
out:
    if (rc && s) fprintf(stderr, "ordo import: nothing was imported\n");
    ordo_store_close(s);
    ordo_sports_free(sp);
    ordo_wn_free(wn);
    ordo_io_vectors_free(&v);
    ordo_io_paths_free(classes, nclasses);
    free(buf); free(photo); free(lg); free(extra); free(dup);
    return rc;
}

/* ---- labels ---------------------------------------------------------------------- */

typedef struct tree_ctx {
    ordo_io_labels *l;
    size_t rootlen;
    ordo_err *err;
} tree_ctx;

static int tree_file(const char *path, const struct stat *st, void *vc)
{
    (void)st;
    tree_ctx *c = vc;
    const char *rel = path + c->rootlen;
    while (*rel == '/') rel++;
    const char *slash = strchr(rel, '/');
    if (!slash)
        return ordo_err_set(c->err, "%s is not in a label folder (DIR/LABEL/.../photo)", path);
    char *label = strndup(rel, (size_t)(slash - rel)), *p = strdup(path);
    if (!label || !p || c->l->n == c->l->cap) {
        size_t cap = c->l->cap ? c->l->cap * 2 : 1024;
        ordo_io_label *v = label && p ? realloc(c->l->v, cap * sizeof *v) : NULL;
        if (!v) {
            free(label);
            free(p);
            return ordo_err_set(c->err, "out of memory");
        }
        c->l->v = v;
        c->l->cap = cap;
    }
    c->l->v[c->l->n++] = (ordo_io_label){p, label, NULL, NULL, 0};
    return 0;
}

static void tree_error(const char *path, const char *reason, void *vc)
{
    tree_ctx *c = vc;
    if (!c->err->msg[0]) ordo_err_set(c->err, "%s: %s", path, reason);
}

/* CSV label events: with a header naming the columns (path and label
 * required; annotator, reason, created optional), or plain path,label rows. */
static int labels_csv(const char *file, ordo_io_labels *out, ordo_err *err)
{
    ordo_learn_csv csv = {0};
    memset(out, 0, sizeof *out);
    if (ordo_learn_csv_read(file, &csv, err)) return -1;
    int cp = 0, cl = 1, ca = -1, cr = -1, cc = -1;
    size_t first = 0;
    if (csv.nrows && csv.rows[0].n >= 2) {
        ordo_learn_csv_row *h = &csv.rows[0];
        int hp = -1, hl = -1;
        for (int k = 0; k < h->n; k++) {
            if (!strcmp(h->f[k], "path")) hp = k;
            else if (!strcmp(h->f[k], "label")) hl = k;
            else if (!strcmp(h->f[k], "annotator")) ca = k;
            else if (!strcmp(h->f[k], "reason")) cr = k;
            else if (!strcmp(h->f[k], "created")) cc = k;
        }
        if (hp >= 0 && hl >= 0) { cp = hp; cl = hl; first = 1; }
        else ca = cr = cc = -1;
    }
    for (size_t i = first; i < csv.nrows; i++) {
        ordo_learn_csv_row *r = &csv.rows[i];
        int need = cp > cl ? cp : cl;
        if (r->n <= need) {
            ordo_err_set(err, "line %d: expected path,label", r->line);
            goto fail;
        }
        double t = 0;
        if (cc >= 0 && cc < r->n && r->f[cc][0]) {
            char *e;
            t = strtod(r->f[cc], &e);
            if (*e || !isfinite(t) || t < 0) {
                if (ordo_io_time_parse(r->f[cc], &t)) {
                    ordo_err_set(err, "line %d: created '%s' is neither unix seconds nor ISO 8601",
                                 r->line, r->f[cc]);
                    goto fail;
                }
            }
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 256;
            ordo_io_label *v = realloc(out->v, cap * sizeof *v);
            if (!v) { ordo_err_set(err, "out of memory"); goto fail; }
            out->v = v;
            out->cap = cap;
        }
        ordo_io_label *o = &out->v[out->n++];
        *o = (ordo_io_label){strdup(r->f[cp]), strdup(r->f[cl]),
                             ca >= 0 && ca < r->n && r->f[ca][0] ? strdup(r->f[ca]) : NULL,
                             cr >= 0 && cr < r->n && r->f[cr][0] ? strdup(r->f[cr]) : NULL, t};
        if (!o->path || !o->label) { ordo_err_set(err, "out of memory"); goto fail; }
    }
    ordo_learn_csv_free(&csv);
    return 0;
fail:
    ordo_learn_csv_free(&csv);
    ordo_io_labels_free(out);
    return ordo_err_wrap(err, "%s", file);
}

static int import_labels(const char *project, const char *kind, const char *file,
                         const char *root, const char *annotator)
{
    ordo_err err = {{0}};
    ordo_io_labels l = {0};
    unsigned char *buf = NULL;
    size_t len;
    ordo_store_label_in *in = NULL;
    ordo_store *s = NULL;
    int rc = 1;
    char *dup = strdup(file), *fdir = dup ? dirname(dup) : NULL;
    char rootabs[PATH_MAX];
    if (!fdir) { ordo_err_set(&err, "out of memory"); goto fail; }
    if (!strcmp(kind, "tree")) {
        if (!realpath(file, rootabs)) {
            ordo_err_set(&err, "%s: %s", file, strerror(errno));
            goto fail;
        }
        char *roots[1] = {rootabs};
        tree_ctx c = {&l, strlen(rootabs), &err};
        if (ordo_walk(roots, 1, tree_file, tree_error, &c, &err) || err.msg[0]) goto fail;
    } else if (!strcmp(kind, "csv")) {
        if (labels_csv(file, &l, &err)) goto fail;
    } else {
        if (ordo_file_read(file, IMPORT_MAX_BYTES, &buf, &len, &err)) goto fail;
        int r = !strcmp(kind, "jsonl") ? ordo_io_labels_jsonl((const char *)buf, len, &l, &err)
                                       : ordo_io_labels_studio((const char *)buf, len, &l, &err);
        if (r) {
            ordo_err_wrap(&err, "%s", file);
            goto fail;
        }
    }
    if (!l.n) {
        ordo_err_set(&err, "%s: no labels found", file);
        goto fail;
    }
    if (!(s = cli_open_project("import", project, 0))) goto quiet;
    if (!(in = calloc(l.n, sizeof *in))) { ordo_err_set(&err, "out of memory"); goto fail; }
    /* Relative paths: from --root; Label Studio's local-files paths are
     * relative to its document root (default /); others from the file's folder. */
    const char *base = root ? root : !strcmp(kind, "label-studio") ? "/" : fdir;
    size_t unknown = 0;
    char first[PATH_MAX + 64] = "";
    for (size_t i = 0; i < l.n; i++) {
        char abs[PATH_MAX];
        ordo_err e2 = {{0}};
        if (resolve(l.v[i].path, l.v[i].path[0] == '/' ? NULL : base, abs) ||
            ordo_store_image_for_path(s, abs, &in[i].image_id, &e2)) {
            if (!unknown++) snprintf(first, sizeof first, "%s", l.v[i].path);
            continue;
        }
        in[i].label = l.v[i].label;
        in[i].annotator = l.v[i].annotator ? l.v[i].annotator : annotator;
        in[i].source = "import";
        in[i].reason = l.v[i].reason;
        in[i].created = l.v[i].created;
    }
    if (unknown) {
        ordo_err_set(&err, "%zu of %zu labeled paths are not photos of this project (first: %s); "
                           "scan or import them first", unknown, l.n, first);
        goto fail;
    }
    if (ordo_store_labels_add(s, in, l.n, &err)) goto fail;
    printf("imported %zu labels from %s\n", l.n, file);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "ordo import: %s\n", err.msg);
quiet:
    if (s) fprintf(stderr, "ordo import: nothing was imported\n");
out:
    ordo_store_close(s);
    ordo_io_labels_free(&l);
    free(in); free(buf); free(dup);
    return rc;
}

int cli_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"model", required_argument, NULL, 'm'},
        {"paths", required_argument, NULL, 'P'}, {"probs", required_argument, NULL, 'b'},
        {"logits", required_argument, NULL, 'g'}, {"tree", required_argument, NULL, 't'},
        {"csv", required_argument, NULL, 'c'}, {"jsonl", required_argument, NULL, 'j'},
        {"label-studio", required_argument, NULL, 'l'}, {"root", required_argument, NULL, 'r'},
        {"annotator", required_argument, NULL, 'a'}, {"classes", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *project = NULL, *model = NULL, *paths = NULL, *probs = NULL, *logits = NULL,
               *classes = NULL,
               *root = NULL, *annotator = getenv("USER"), *lkind = NULL, *lfile = NULL;
    int c, nl = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': project = optarg; break;
        case 'm': model = optarg; break;
        case 'P': paths = optarg; break;
        case 'b': probs = optarg; break;
        case 'g': logits = optarg; break;
        case 'C': classes = optarg; break;
        case 't': lkind = "tree"; lfile = optarg; nl++; break;
        case 'c': lkind = "csv"; lfile = optarg; nl++; break;
        case 'j': lkind = "jsonl"; lfile = optarg; nl++; break;
        case 'l': lkind = "label-studio"; lfile = optarg; nl++; break;
        case 'r': root = optarg; break;
        case 'a': annotator = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc && !strcmp(argv[optind], "embeddings") && optind + 2 == argc && !nl &&
        !root) {
        if (!model) {
            fprintf(stderr, "ordo import: embeddings need --model NAME (the model that made them)\n");
            return 2;
        }
        if (probs && logits) {
            fprintf(stderr, "ordo import: give --probs or --logits, not both\n");
            return 2;
        }
        return import_embeddings(project, argv[optind + 1], paths, probs, logits, classes, model);
    }
    if (optind + 1 == argc && !strcmp(argv[optind], "labels") && nl == 1 && !model && !paths &&
        !probs && !logits && !classes)
        return import_labels(project, lkind, lfile, root, annotator);
    usage(stderr);
    return 2;
}
