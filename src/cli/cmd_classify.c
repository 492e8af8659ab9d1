/* cmd_classify.c - `ordo classify`: top-K ImageNet classes for images.
 *
 * Files are listed first (deterministic order), then processed in chunks of
 * one batch: the chunk's images are decoded and preprocessed by `threads`
 * workers, then the network runs on the whole chunk. Results are printed in
 * input order. A file that cannot be read is reported on stderr with its
 * reason and the run goes on. */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/file.h"
#include "base/text.h"
#include "base/walk.h"
#include "cli/cli.h"
#include "img/img.h"
#include "nn/net.h"
#include "nn/netlist.h"
#include "wordnet/wordnet.h"

typedef enum { OUT_TEXT, OUT_CSV, OUT_JSON } out_format;

typedef struct file_list {
    char **paths;
    unsigned char *explicit_arg;   /* named on the command line, not found by a walk */
    size_t n, cap;
} file_list;

static int is_image_name(const char *path)
{
    static const char *const exts[] = {".jpg", ".jpeg", ".jpe", ".png", ".webp",
                                       ".gif", ".bmp", NULL};
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return 0;
    for (int i = 0; exts[i]; i++)
        if (!strcasecmp(dot, exts[i]))
            return 1;
    return 0;
}

static int list_add(file_list *l, const char *path, int explicit_arg)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **p = realloc(l->paths, cap * sizeof *p);
        if (!p) return -1;
        l->paths = p;
        unsigned char *e = realloc(l->explicit_arg, cap);
        if (!e) return -1;
        l->explicit_arg = e;
        l->cap = cap;
    }
    if (!(l->paths[l->n] = strdup(path)))
        return -1;
    l->explicit_arg[l->n++] = (unsigned char)explicit_arg;
    return 0;
}

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->explicit_arg);
}

static int on_file(const char *path, const struct stat *st, void *ctx)
{
    (void)st;
    return list_add(ctx, path, 0) ? -1 : 0;
}

static void on_walk_error(const char *path, const char *reason, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "ordo: %s: %s\n", path, reason);
}

/* One chunk of work: decode+preprocess items [0, n) into in[]. */
typedef struct chunk {
    char **paths;
    unsigned char *explicit_arg;
    int n;
    const ordo_net_list *nets;
    float *in;                 /* n * every network's size*size*3 */
    int *ok;                   /* 1 decoded, 0 failed, -1 skipped (not an image) */
    ordo_err *errs;
    int next;                  /* next item to take, under lock */
    pthread_mutex_t lock;
    ordo_img_opts opts;
} chunk;

#define CROP_FRAC 0.875f

static void *decode_worker(void *arg)
{
    chunk *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        int i = c->next++;
        pthread_mutex_unlock(&c->lock);
        if (i >= c->n)
            return NULL;
        ordo_image im = {0};
        size_t per = ordo_net_list_in_floats(c->nets);
        unsigned char *buf;
        size_t len;
        c->ok[i] = 0;
        if (ordo_file_read(c->paths[i], 0, &buf, &len, &c->errs[i]) != 0)
            continue;
        /* Inside a folder, a file that neither looks like an image nor is
         * named like one is simply not ours (labels.csv, README...). */
        if (!ordo_img_sniff(buf, len) && !c->explicit_arg[i] && !is_image_name(c->paths[i])) {
            c->ok[i] = -1;
            free(buf);
            continue;
        }
        int rc = ordo_img_decode(buf, len, &c->opts, &im, &c->errs[i]);
        free(buf);
        if (rc != 0)
            continue;
        /* each network's own resize and crop of the one decode */
        c->ok[i] = 1;
        for (int k = 0; k < c->nets->n && c->ok[i] == 1; k++)
            c->ok[i] = ordo_img_preprocess(&im, c->nets->size[k], CROP_FRAC,
                                           c->in + per * i + ordo_net_list_in_offset(c->nets, k),
                                           &c->errs[i]) == 0;
        ordo_image_free(&im);
    }
}

static void softmax(const float *logits, int n, float *out)
{
    float mx = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (out[i] = expf(logits[i] - mx));
    for (int i = 0; i < n; i++)
        out[i] = (float)(out[i] / sum);
}

/* Indices of the k largest values, descending (ties: lower index first). */
static void top_k(const float *p, int n, int k, int *idx)
{
    for (int j = 0; j < k; j++)
        idx[j] = -1;
    for (int i = 0; i < n; i++) {
        int j = k;
        while (j > 0 && (idx[j - 1] < 0 || p[i] > p[idx[j - 1]]))
            j--;
        if (j >= k)
            continue;
        memmove(idx + j + 1, idx + j, (size_t)(k - j - 1) * sizeof *idx);
        idx[j] = i;
    }
}

static void print_result(FILE *f, out_format fmt, const char *path, const float *prob,
                         const int *idx, int k, const ordo_wn *wn)
{
    if (fmt == OUT_JSON) {
        fputs("{\"path\":", f);
        ordo_text_json(f, path);
        fputs(",\"top\":[", f);
        for (int r = 0; r < k; r++) {
            fprintf(f, "%s{\"rank\":%d,\"class_index\":%d,\"wnid\":\"%s\",\"name\":",
                    r ? "," : "", r + 1, idx[r], ordo_wn_class_wnid(wn, idx[r]));
            ordo_text_json(f, ordo_wn_class_name(wn, idx[r]));
            fprintf(f, ",\"probability\":%.6f}", prob[idx[r]]);
        }
        fputs("]}\n", f);
    } else if (fmt == OUT_CSV) {
        for (int r = 0; r < k; r++) {
            ordo_text_csv(f, path);
            fprintf(f, ",%d,%d,%s,", r + 1, idx[r], ordo_wn_class_wnid(wn, idx[r]));
            ordo_text_csv(f, ordo_wn_class_name(wn, idx[r]));
            fprintf(f, ",%.6f\n", prob[idx[r]]);
        }
    } else {
        fprintf(f, "%s\n", path);
        for (int r = 0; r < k; r++)
            fprintf(f, "  %2d. %6.2f%%  %s  %s\n", r + 1, 100.0 * prob[idx[r]],
                    ordo_wn_class_wnid(wn, idx[r]), ordo_wn_class_name(wn, idx[r]));
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo classify [OPTIONS] PATH...\n"
            "Prints the top ImageNet classes of each image; folders are read recursively.\n\n"
            "  --model M       lite0 (default), lite1 or lite2, or several joined by '+'\n"
            "                  (lite0+lite1+lite2: the mean of the networks' logits)\n"
            "  --precision P   fp32 or int8 (default: int8 on CPUs with AVX-512 VNNI, else\n"
            "                  fp32; see `ordo init --help`)\n"
            "  --top K         classes per image (default 5)\n"
            "  --csv           CSV: path,rank,class_index,wnid,name,probability\n"
            "  --json          one JSON object per image per line\n"
            "  --weights P     weights directory or .pth file (default: $ORDO_WEIGHTS,\n"
            "                  else ~/.cache/ordo/weights)\n"
            "  --threads N     worker threads (default: all cores)\n"
            "  --batch N       images per network batch (default 16)\n\n"
            "Unreadable images are reported on stderr; the exit status is non-zero\n"
            "only when no image could be classified.\n");
}

int cli_classify(int argc, char **argv)
{
    const char *model = "lite0", *weights = NULL, *prec = NULL;
    int top = 5, threads = 0, batch = 16;
    out_format fmt = OUT_TEXT;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"top", required_argument, NULL, 'k'},
        {"csv", no_argument, NULL, 'c'},         {"json", no_argument, NULL, 'j'},
        {"weights", required_argument, NULL, 'w'}, {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'}, {"help", no_argument, NULL, 'h'},
        {"precision", required_argument, NULL, 'P'}, {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:k:cjw:t:b:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': model = optarg; break;
        case 'P': prec = optarg; break;
        case 'k': if (cli_parse_int("--top", optarg, 1, ORDO_NET_CLASSES, &top)) return 2; break;
        case 'c': fmt = OUT_CSV; break;
        case 'j': fmt = OUT_JSON; break;
        case 'w': weights = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'b': if (cli_parse_int("--batch", optarg, 1, 1024, &batch)) return 2; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "ordo classify: no images given\n");
        usage(stderr);
        return 2;
    }
    ordo_net_list nets;
    ordo_err merr;
    if (ordo_net_list_parse(model, &nets, &merr)) {
        fprintf(stderr, "ordo classify: %s\n", merr.msg);
        return 2;
    }
    if (threads <= 0)
        threads = cli_default_threads();
    if (!prec)
        prec = ordo_net_default_precision();

    ordo_err err = {{0}};
    file_list files = {0};
    size_t classified = 0, failed = 0;
    for (int i = optind; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (list_add(&files, argv[i], 1)) { fprintf(stderr, "ordo: out of memory\n"); return 1; }
        } else if (ordo_walk(&argv[i], 1, on_file, on_walk_error, &files, &err) != 0) {
            fprintf(stderr, "ordo: %s\n", err.msg[0] ? err.msg : "out of memory");
            failed++;
        }
    }

    char wpath[ORDO_NET_LIST_MAX][4096];
    ordo_net_ens *net = NULL;
    ordo_wn *wn = NULL;
    int rc = 1;
    if (ordo_net_list_weights(&nets, weights, wpath, &err) ||
        !(net = ordo_net_ens_create(&nets, wpath, threads, prec, &err))) {
        fprintf(stderr, "ordo classify: %s\n", err.msg);
        goto out;
    }
    ordo_err wnerr = {{0}};
    if (!(wn = ordo_wn_open(NULL, &wnerr))) {
        fprintf(stderr, "ordo classify: %s\n", wnerr.msg);
        goto out;
    }

    const int K = nets.n;
    size_t per = ordo_net_list_in_floats(&nets);
    float *in = malloc(per * batch * sizeof *in);
    const float **ins = malloc((size_t)batch * K * sizeof *ins);
    float *logits = malloc((size_t)batch * ORDO_NET_CLASSES * sizeof *logits);
    float *prob = malloc(ORDO_NET_CLASSES * sizeof *prob);
    int *ok = malloc((size_t)batch * sizeof *ok);
    int *idx = malloc((size_t)top * sizeof *idx);
    ordo_err *errs = calloc((size_t)batch, sizeof *errs);
    pthread_t *tids = malloc((size_t)threads * sizeof *tids);
    if (!in || !ins || !logits || !prob || !ok || !idx || !errs || !tids) {
        fprintf(stderr, "ordo classify: out of memory\n");
        goto free_bufs;
    }
    if (fmt == OUT_CSV)
        printf("path,rank,class_index,wnid,name,probability\n");

    for (size_t start = 0; start < files.n; start += (size_t)batch) {
        int n = (int)(files.n - start < (size_t)batch ? files.n - start : (size_t)batch);
        chunk c = {.paths = files.paths + start, .explicit_arg = files.explicit_arg + start,
                   .n = n, .nets = &nets, .in = in, .ok = ok, .errs = errs, .next = 0,
                   .opts = {.min_side = ordo_img_min_side_for(ordo_net_list_max_size(&nets),
                                                              CROP_FRAC),
                            .max_pixels = 0}};
        pthread_mutex_init(&c.lock, NULL);
        int nt = threads < n ? threads : n, started = 0;
        for (int t = 1; t < nt; t++)
            if (pthread_create(&tids[started], NULL, decode_worker, &c) == 0)
                started++;
        decode_worker(&c);
        for (int t = 0; t < started; t++)
            pthread_join(tids[t], NULL);
        pthread_mutex_destroy(&c.lock);

        /* The good images, in order, as one batch. */
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (ok[i] != 1) continue;
            for (int k = 0; k < K; k++)
                ins[m * K + k] = in + per * i + ordo_net_list_in_offset(&nets, k);
            m++;
        }
        if (m > 0 && ordo_net_ens_forward(net, ins, m, logits, NULL, &err) != 0) {
            fprintf(stderr, "ordo classify: %s\n", err.msg);
            goto free_bufs;
        }
        for (int i = 0, j = 0; i < n; i++) {
            if (ok[i] == 0) {
                fprintf(stderr, "ordo: %s: %s\n", c.paths[i], errs[i].msg);
                failed++;
            } else if (ok[i] == 1) {
                softmax(logits + (size_t)j * ORDO_NET_CLASSES, ORDO_NET_CLASSES, prob);
                top_k(prob, ORDO_NET_CLASSES, top, idx);
                print_result(stdout, fmt, c.paths[i], prob, idx, top, wn);
                classified++;
                j++;
            }
        }
        fflush(stdout);
    }
    if (classified == 0)
        fprintf(stderr, "ordo classify: no image could be classified (%zu failed)\n", failed);
    rc = classified > 0 ? 0 : 1;
free_bufs:
    free(in); free(ins); free(logits); free(prob); free(ok); free(idx); free(errs); free(tids);
out:
    ordo_wn_free(wn);
    ordo_net_ens_free(net);
    list_free(&files);
    return rc;
}
