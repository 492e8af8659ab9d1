/* cmd_export_fmt.c - the formats `ordo export` writes for other tools:
 * embeddings as NumPy .npy with a path list, every label event (CSV or
 * JSON lines), and Label Studio tasks with ordo's predictions as
 * pre-annotations. The plain per-image table and the folder tree are in
 * cmd_export.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/f16.h"
#include "base/text.h"
#include "cli/cli.h"
#include "io/io.h"
#include "learn/learn_store.h"

/* Writes rows x cols half floats (the first cols of each matrix row of
 * width `width`) for the given slots as a float16 .npy. */
static int write_f16(const char *path, const uint16_t *m, size_t width, size_t cols,
                     const ordo_store_item *it, size_t n, ordo_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) return ordo_err_set(err, "%s: %s", path, strerror(errno));
    int bad = ordo_io_npy_write_header(f, ORDO_IO_F16, n, cols);
    for (size_t i = 0; i < n && !bad; i++)
        bad = fwrite(m + (size_t)it[i].slot * width, 2, cols, f) != cols;
    if (fclose(f) || bad) return ordo_err_set(err, "%s: write failed", path);
    return 0;
}

/* softmax of each stored logit row, as float32 (what ordo's scores are of). */
static int write_probs(const char *path, const uint16_t *lg, int L, const ordo_store_item *it,
                       size_t n, ordo_err *err)
{
    float *l = malloc(2 * (size_t)L * sizeof *l), *p = l + L;
    if (!l) return ordo_err_set(err, "out of memory");
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(l);
        return ordo_err_set(err, "%s: %s", path, strerror(errno));
    }
    int bad = ordo_io_npy_write_header(f, ORDO_IO_F32, n, (size_t)L);
    for (size_t i = 0; i < n && !bad; i++) {
        ordo_store_scores sc;
        ordo_f16_to_f32(lg + (size_t)it[i].slot * (size_t)L, l, (size_t)L);
        ordo_store_summarize(l, L, &sc, p);
        bad = fwrite(p, sizeof(float), (size_t)L, f) != (size_t)L;
    }
    free(l);
    if (fclose(f) || bad) return ordo_err_set(err, "%s: write failed", path);
    return 0;
}

/* The project's own class names (classes.txt, for `ordo import embeddings
 * --classes`), when its probabilities are over a model's own classes. */
static int write_classes(ordo_store *s, const char *path, ordo_err *err)
{
    char **names;
    int k;
    if (ordo_store_class_names(s, &names, &k, err)) return -1;
    if (!k) return 0;
    int bad = 0;
    for (int i = 0; i < k; i++)
        if (strchr(names[i], '\n') || strchr(names[i], '\r')) bad = 1;
    FILE *f = bad ? NULL : fopen(path, "w");
    for (int i = 0; f && i < k; i++) fprintf(f, "%s\n", names[i]);
    ordo_store_class_names_free(names, k);
    if (bad) return ordo_err_set(err, "a class name with a line break cannot go in classes.txt");
    if (!f || fclose(f)) return ordo_err_set(err, "%s: %s", path, strerror(errno));
    return 0;
}

int cli_export_embeddings(ordo_store *s, const char *dir, ordo_err *err)
{
    ordo_store_source src;
    ordo_store_item *it = NULL;
    size_t n = 0, rows;
    int rc = -1;
    char tmp[4200], p[4300];
    if (ordo_store_get_source(s, &src, err) || ordo_store_items(s, &it, &n, err)) return -1;
    if (!src.model[0] || !n) {
        free(it);
        return ordo_err_set(err, "the project has no vectors yet (scan or import first)");
    }
    /* Built under DIR.part and renamed: DIR appears complete or not at all. */
    snprintf(tmp, sizeof tmp, "%s.part", dir);
    if (access(dir, F_OK) == 0) {
        ordo_err_set(err, "%s: already exists", dir);
        goto out;
    }
    if (mkdir(tmp, 0777) != 0) {
        ordo_err_set(err, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    const uint16_t *emb = ordo_store_embeddings(s, &rows, err);
    if (!emb) goto out;
    snprintf(p, sizeof p, "%s/embeddings.npy", tmp);
    if (write_f16(p, emb, (size_t)ordo_store_embed_dim(s), (size_t)src.dim, it, n, err)) goto out;
    if (src.probs) {
        const uint16_t *lg = ordo_store_logits(s, &rows, err);
        if (!lg) goto out;
        const int L = ordo_store_logits_dim(s);
        snprintf(p, sizeof p, "%s/logits.npy", tmp);
        if (write_f16(p, lg, (size_t)L, (size_t)L, it, n, err)) goto out;
        snprintf(p, sizeof p, "%s/probabilities.npy", tmp);
        if (write_probs(p, lg, L, it, n, err)) goto out;
        snprintf(p, sizeof p, "%s/classes.txt", tmp);
        if (write_classes(s, p, err)) goto out;
    }
    snprintf(p, sizeof p, "%s/paths.txt", tmp);
    FILE *f = fopen(p, "w");
    if (!f) {
        ordo_err_set(err, "%s: %s", p, strerror(errno));
        goto out;
    }
    char path[8192];
    for (size_t i = 0; i < n; i++) {
        if (ordo_store_image_path(s, it[i].id, path, sizeof path, err)) { fclose(f); goto out; }
        if (strchr(path, '\n')) {
            fclose(f);
            ordo_err_set(err, "%s: a file name with a newline cannot go in a path list", path);
            goto out;
        }
        fprintf(f, "%s\n", path);
    }
    if (fclose(f)) {
        ordo_err_set(err, "%s: write failed", p);
        goto out;
    }
    snprintf(p, sizeof p, "%s/model.txt", tmp);
    if (!(f = fopen(p, "w"))) {
        ordo_err_set(err, "%s: %s", p, strerror(errno));
        goto out;
    }
    fprintf(f, "%s\n", src.model);
    if (fclose(f) || rename(tmp, dir)) {
        ordo_err_set(err, "%s: %s", dir, strerror(errno));
        goto out;
    }
    fprintf(stderr, "wrote %zu %d-d %s embeddings%s to %s/\n", n, src.dim, src.model,
            src.probs ? ", logits and probabilities" : "", dir);
    rc = 0;
out:
    free(it);
    return rc;
}

int cli_export_history(ordo_store *s, int jsonl, ordo_err *err)
{
    ordo_store_label_row *lab = NULL;
    size_t nl = 0, missing = 0;
    if (ordo_store_labels_read(s, 0, &lab, &nl, err)) return -1;
    if (!jsonl) printf("path,label,annotator,reason,source,created\n");
    char path[8192];
    for (size_t i = 0; i < nl; i++) {
        ordo_err e2;
        if (ordo_store_image_path(s, lab[i].image_id, path, sizeof path, &e2)) {
            missing++;   /* every file of that image is gone: no path to give */
            continue;
        }
        const ordo_store_label_row *r = &lab[i];
        if (jsonl) {
            printf("{\"path\":");
            ordo_text_json(stdout, path);
            printf(",\"label\":");
            ordo_text_json(stdout, r->label);
            printf(",\"annotator\":");
            if (r->annotator[0]) ordo_text_json(stdout, r->annotator);
            else printf("null");
            printf(",\"reason\":");
            if (r->reason[0]) ordo_text_json(stdout, r->reason);
            else printf("null");
            printf(",\"source\":");
            ordo_text_json(stdout, r->source);
            printf(",\"created\":%.6f}\n", r->created);
        } else {
            ordo_text_csv_fields(stdout, (const char *const[]){path, r->label, r->annotator,
                                                                 r->reason, r->source}, 5);
            printf(",%.6f\n", r->created);
        }
    }
    if (missing)
        fprintf(stderr, "ordo export: %zu label events of images with no file left were not "
                        "written\n", missing);
    ordo_store_labels_free(lab, nl);
    return 0;
}

/* Writes s percent-encoded for a URL query value (RFC 3986 unreserved
 * characters and '/' kept). */
static void url_query(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            fputc(*p, f);
        else
            fprintf(f, "%%%02X", *p);
    }
}

static void choice_result(const char *label, double score)
{
    printf("{\"from_name\":\"label\",\"to_name\":\"image\",\"type\":\"choices\","
           "\"value\":{\"choices\":[");
    ordo_text_json(stdout, label);
    printf("]}");
    if (isfinite(score)) printf(",\"score\":%.5f", score);
    printf("}");
}

int cli_export_label_studio(ordo_store *s, ordo_learn_model *m, long long version,
                            const char *root, ordo_err *err)
{
    ordo_store_item *it = NULL;
    ordo_store_label_row *lab = NULL;
    size_t n = 0, nl = 0;
    float *x = NULL, *pr = NULL;
    cli_colnames cn = {0};
    int rc = -1;
    ordo_store_source src;
    if (ordo_store_get_source(s, &src, err) || ordo_store_items(s, &it, &n, err) ||
        ordo_store_labels_read(s, 0, &lab, &nl, err))
        goto out;
    /* Events grouped by image (stable: id order within an image). */
    size_t *order = malloc((nl ? nl : 1) * sizeof *order);
    if (!order) { ordo_err_set(err, "out of memory"); goto out; }
    for (size_t i = 0; i < nl; i++) order[i] = i;
    for (size_t i = 1; i < nl; i++) {   /* insertion sort: events come nearly grouped */
        size_t v = order[i], j = i;
        while (j > 0 && lab[order[j - 1]].image_id > lab[v].image_id) { order[j] = order[j - 1]; j--; }
        order[j] = v;
    }
    int k = m ? ordo_learn_model_classes(m) : 0;
    if (m && (!(x = malloc((size_t)ordo_store_embed_dim(s) * sizeof *x)) || !(pr = malloc((size_t)k * sizeof *pr)))) {
        free(order);
        ordo_err_set(err, "out of memory");
        goto out;
    }
    /* the stored probabilities' class names: ImageNet's (when WordNet is
     * there) or the imported model's own */
    if (!m && src.probs && cli_colnames_open(s, &cn, err)) {
        free(order);
        goto out;
    }
    size_t rl = root ? strlen(root) : 0;
    while (rl > 1 && root[rl - 1] == '/') rl--;
    printf("[\n");
    char path[8192], when[40];
    size_t li = 0;
    for (size_t i = 0; i < n; i++) {
        if (ordo_store_image_path(s, it[i].id, path, sizeof path, err)) { free(order); goto out; }
        /* Label Studio local storage: d= is relative to its document root. */
        const char *rel = path;
        if (rl > 1) {
            if (strncmp(path, root, rl) || path[rl] != '/') {
                free(order);
                ordo_err_set(err, "%s is not under --root %s", path, root);
                goto out;
            }
            rel = path + rl;
        }
        while (*rel == '/') rel++;
        printf("%s{\"data\":{\"image\":\"/data/local-files/?d=", i ? ",\n" : "");
        url_query(stdout, rel);
        printf("\",\"ordo_image_id\":%lld},\"annotations\":[", (long long)it[i].id);
        int first = 1;
        while (li < nl && lab[order[li]].image_id < it[i].id) li++;
        for (; li < nl && lab[order[li]].image_id == it[i].id; li++) {
            const ordo_store_label_row *r = &lab[order[li]];
            ordo_io_time_format(r->created, when, sizeof when);
            printf("%s{\"result\":[", first ? "" : ",");
            choice_result(r->label, NAN);
            printf("],\"was_cancelled\":false,\"created_at\":\"%s\"", when);
            if (r->annotator[0]) {
                printf(",\"completed_by\":{\"email\":");
                ordo_text_json(stdout, r->annotator);
                printf("}");
            }
            printf("}");
            first = 0;
        }
        printf("],\"predictions\":[");
        if (m) {
            if (ordo_learn_embeddings(s, &it[i].id, 1, x, err) ||
                ordo_learn_predict(m, x, 1, pr, NULL, err)) {
                free(order);
                goto out;
            }
            int am = 0;
            for (int q = 1; q < k; q++)
                if (pr[q] > pr[am]) am = q;
            printf("{\"model_version\":\"ordo classifier v%lld\",\"score\":%.5f,\"result\":[",
                   (long long)version, pr[am]);
            choice_result(ordo_learn_model_class_name(m, am), pr[am]);
            printf("]}");
        } else if (cli_class_name(&cn, it[i].s.top_class[0])) {
            printf("{\"model_version\":\"%s%s\",\"score\":%.5f,\"result\":[", src.model,
                   cn.nown ? "" : " ImageNet", it[i].s.top_prob[0]);
            choice_result(cli_class_name(&cn, it[i].s.top_class[0]), it[i].s.top_prob[0]);
            printf("]}");
        }
        printf("]}");
    }
    printf("\n]\n");
    free(order);
    rc = fflush(stdout) == 0 ? 0 : ordo_err_set(err, "write failed");
out:
    cli_colnames_close(&cn);
    free(it); free(x); free(pr);
    ordo_store_labels_free(lab, nl);
    return rc;
}
