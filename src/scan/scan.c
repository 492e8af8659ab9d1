/* scan.c - the scan pipeline: walker -> decode pool -> batched inference ->
 * ordered transactional writer. See scan.h for the stages.
 *
 * Work items live in a ring indexed by their walk sequence number. Four
 * cursors move through it in order: produced (walker), decode_next
 * (decoders), inferred (inference) and written (writer); the ring slot of
 * item i is reused only once written > i. Items that need the network
 * carry one of a fixed pool of buffers (input, logits, embedding), so memory
 * is bounded by the pool and the ring, never by the number of files. Writing
 * in walk order is what makes a resumed scan identical to a clean one. */
#include "base/f16.h"
#include "scan/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/clock.h"
#include "base/walk.h"
#include "img/img.h"
#include "nn/netlist.h"
#include "store/store.h"

#define RING 4096                        /* work items in flight */
#define WRITE_GROUP 2048                 /* most items per transaction */
#define MAX_FILE_BYTES (INT64_C(1) << 30) /* larger "images" are refused */

enum { IT_PROCESS, IT_TOUCH, IT_WALKERR, IT_ROOT_DONE };
enum { O_OK, O_FAILED, O_SKIP };

typedef struct item {
    int type;
    int ready;                  /* decoded (or needs no decoding) */
    char *path;                 /* owned; for ROOT_DONE the root */
    int64_t size, mtime_ns, file_id;
    int buf;                    /* pool index, -1 if none */
    int outcome;
    int has_hash;
    int known;                  /* content already stored: no decode, no inference */
    int incomplete;             /* ROOT_DONE: a directory was unreadable */
    unsigned char hash[16];
    int w, h;
    const char *format;         /* static string from img */
    float sports;
    char kind[16];
    char msg[ORDO_ERR_MAX];
} item;

typedef struct scan {
    const ordo_scan_opts *o;
    const char *project;
    char *ordo_prefix;          /* "<project>/.ordo/": never scanned */
    size_t ordo_prefix_len;
    int64_t scan_id;
    ordo_net_list nets;         /* the model's networks (one, or a '+' list) */
    int flip;                   /* flip test-time augmentation (the project's) */
    size_t in_floats;           /* every network's S*S*3, one after the other */
    int embed;                  /* embedding width: 1280 per network */
    int batch;
    ordo_net_ens *ens;          /* built by the inference thread (load_net) */
    char model[ORDO_STORE_MODEL_MAX], prec[8];
    char weights[ORDO_NET_LIST_MAX][4096];
    int threads;                /* the network's */
    ordo_store *wstore;         /* writer's handle */
    ordo_store *rstore;         /* walker's handle */
    ordo_img_opts img_opts;

    /* One mutex; a condition variable per waiting role, so that each change
     * wakes only the threads it concerns (a broadcast to all woke every
     * decoder for every item and cost the network CPU time). */
    pthread_mutex_t mu;
    pthread_cond_t cv_walk;     /* walker: ring room and free buffers */
    pthread_cond_t cv_dec;      /* decoders: items to decode */
    pthread_cond_t cv_inf;      /* inference: ready items, walker blocked or done */
    pthread_cond_t cv_wr;       /* writer: inferred items, inference done */
    item *ring;
    int64_t produced, decode_next, inferred, written;
    int walk_done, infer_done, walker_blocked, abort;
    ordo_err fatal;             /* first fatal error (abort set) */
    int nbufs, nfree;
    int *free_bufs;
    float *bufmem;              /* nbufs * (in_floats + 1000 + embed) */
    int root_incomplete;        /* walker-private */

    ordo_scan_progress prog;    /* counts: written by the writer */
    int64_t total;              /* counter thread */
    int counting_done, count_stop;
    double t0;                  /* ordo_clock_mono at the start */
} scan;

static size_t buf_stride(const scan *sc)
{
    return sc->in_floats + ORDO_STORE_LOGITS + (size_t)sc->embed;
}
static float *buf_in(scan *sc, int b) { return sc->bufmem + (size_t)b * buf_stride(sc); }
static float *buf_logits(scan *sc, int b) { return buf_in(sc, b) + sc->in_floats; }
static float *buf_embed(scan *sc, int b) { return buf_logits(sc, b) + ORDO_STORE_LOGITS; }

static void wake_all(scan *sc)
{
    pthread_cond_broadcast(&sc->cv_walk);
    pthread_cond_broadcast(&sc->cv_dec);
    pthread_cond_broadcast(&sc->cv_inf);
    pthread_cond_broadcast(&sc->cv_wr);
}

static void set_fatal(scan *sc, const ordo_err *e)
{
    pthread_mutex_lock(&sc->mu);
    if (!sc->abort) {
        sc->abort = 1;
        sc->fatal = *e;
    }
    wake_all(sc);
    pthread_mutex_unlock(&sc->mu);
}

static int image_name(const char *path)
{
    static const char *const exts[] = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp",
                                       ".gif", ".bmp", ".tif", ".tiff", ".heic", NULL};
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return 0;
    for (int i = 0; exts[i]; i++)
        if (!strcasecmp(dot, exts[i]))
            return 1;
    return 0;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* ---- walker ------------------------------------------------------------ */

/* Queues an item (taking ownership of path); waits for ring space and, for
 * IT_PROCESS, a buffer. Returns -1 if the scan is aborting or stopping. */
static int enqueue(scan *sc, item *it)
{
    pthread_mutex_lock(&sc->mu);
    for (;;) {
        if (sc->abort)
            break;
        int room = sc->produced - sc->written < RING;
        int bufok = it->type != IT_PROCESS || sc->nfree > 0;
        if (room && bufok)
            break;
        sc->walker_blocked = 1;
        pthread_cond_signal(&sc->cv_inf);   /* inference may have to flush */
        pthread_cond_wait(&sc->cv_walk, &sc->mu);
    }
    sc->walker_blocked = 0;
    if (sc->abort) {
        pthread_mutex_unlock(&sc->mu);
        free(it->path);
        return -1;
    }
    it->buf = it->type == IT_PROCESS ? sc->free_bufs[--sc->nfree] : -1;
    it->ready = it->type != IT_PROCESS;
    sc->ring[sc->produced % RING] = *it;
    sc->produced++;
    if (it->type == IT_PROCESS)
        pthread_cond_signal(&sc->cv_dec);
    else
        pthread_cond_signal(&sc->cv_inf);
    pthread_mutex_unlock(&sc->mu);
    return 0;
}

static int stopping(const scan *sc)
{
    return sc->o->stop && *sc->o->stop;
}

static int on_file(const char *path, const struct stat *st, void *ctx)
{
    scan *sc = ctx;
    if (stopping(sc))
        return 1;
    if (!strncmp(path, sc->ordo_prefix, sc->ordo_prefix_len))
        return 0;   /* the project's own database */
    if (sc->o->keep && !sc->o->keep(path, sc->o->keep_ctx))
        return 0;   /* another shard's file */
    if (sc->o->on_found)
        sc->o->on_found(path, sc->o->ctx);
    item it = {.type = IT_PROCESS, .size = st->st_size, .mtime_ns = mtime_ns(st)};
    ordo_store_file_info fi;
    ordo_err e = {{0}};
    if (ordo_store_file_get(sc->rstore, path, &fi, &e)) {
        set_fatal(sc, &e);
        return 1;
    }
    /* Unchanged: same size and mtime, and either classified or failed for
     * a reason that depends only on the content (so retrying is pointless). */
    if (fi.id && fi.size == it.size && fi.mtime_ns == it.mtime_ns &&
        (fi.state == ORDO_STORE_OK ||
         (fi.state == ORDO_STORE_FAILED &&
          (!strcmp(fi.error_kind, "empty") || !strcmp(fi.error_kind, "not_image") ||
           !strcmp(fi.error_kind, "decode") || !strcmp(fi.error_kind, "too_large"))))) {
        it.type = IT_TOUCH;
        it.file_id = fi.id;
    }
    if (!(it.path = strdup(path))) {
        ordo_err_set(&e, "out of memory");
        set_fatal(sc, &e);
        return 1;
    }
    return enqueue(sc, &it) ? 1 : 0;
}

static void on_walk_error(const char *path, const char *reason, void *ctx)
{
    scan *sc = ctx;
    if (stopping(sc))
        return;
    item it = {.type = IT_WALKERR};
    struct stat lst, st;
    int have_l = lstat(path, &lst) == 0;
    if (!strncmp(reason, "directory loop", 14)) {
        snprintf(it.kind, sizeof it.kind, "loop");
    } else if (have_l && S_ISLNK(lst.st_mode) && stat(path, &st) != 0) {
        if (!image_name(path))
            return;   /* a dangling link to something that is not a photo */
        snprintf(it.kind, sizeof it.kind, "broken_link");
    } else if (have_l && S_ISDIR(lst.st_mode)) {
        snprintf(it.kind, sizeof it.kind, "unreadable");
        sc->root_incomplete = 1;   /* its files must not be marked missing */
    } else if (!have_l) {
        if (!image_name(path))
            return;
        snprintf(it.kind, sizeof it.kind, "vanished");
    } else {
        snprintf(it.kind, sizeof it.kind, "unreadable");
    }
    /* A file's error belongs to the file's shard; a directory's to all. */
    if (sc->o->keep && strcmp(it.kind, "loop") && !(have_l && S_ISDIR(lst.st_mode)) &&
        !sc->o->keep(path, sc->o->keep_ctx))
        return;
    snprintf(it.msg, sizeof it.msg, "%s", reason);
    if (have_l) {
        it.size = lst.st_size;
        it.mtime_ns = mtime_ns(&lst);
    }
    if (!(it.path = strdup(path)))
        return;
    enqueue(sc, &it);
}

/* ---- decoding ------------------------------------------------------------ */

static void fail(item *it, const char *kind, const char *fmt, const char *arg)
{
    it->outcome = O_FAILED;
    snprintf(it->kind, sizeof it->kind, "%s", kind);
    snprintf(it->msg, sizeof it->msg, fmt, arg);
}

static int read_at(int fd, unsigned char *p, size_t n, off_t off, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = pread(fd, p + *got, n - *got, off + (off_t)*got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

/* Reads, hashes, sniffs, decodes and preprocesses one file into `in`.
 * Content the store already has (a copy, or a moved file) is not decoded:
 * the writer only links the path to it. rs: this thread's read handle. */
static void process_file(scan *sc, ordo_store *rs, item *it, float *in)
{
    /* O_NONBLOCK: a FIFO named like a photo must not hang the scan. */
    int fd = open(it->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            fail(it, "vanished", "%s", "file disappeared before it could be read");
        else
            fail(it, "unreadable", "%s", strerror(errno));
        return;
    }
    unsigned char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fail(it, "unreadable", "%s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(it, "unreadable", "%s", "not a regular file");
        goto out;
    }
    /* Record what was actually read, even if it changed since the walk. */
    it->size = st.st_size;
    it->mtime_ns = mtime_ns(&st);
    unsigned char head[64];
    size_t hn;
    if (read_at(fd, head, sizeof head, 0, &hn) != 0) {
        fail(it, "unreadable", "%s", strerror(errno));
        goto out;
    }
    if (!ordo_img_sniff(head, hn)) {
        if (!image_name(it->path))
            it->outcome = O_SKIP;
        else if (hn == 0)
            fail(it, "empty", "%s", "empty file");
        else
            fail(it, "not_image", "%s",
                 "content is not a JPEG, PNG, WebP, GIF or BMP image");
        goto out;
    }
    if (st.st_size > MAX_FILE_BYTES) {
        fail(it, "too_large", "%s", "file larger than 1 GiB");
        goto out;
    }
    size_t len = (size_t)st.st_size, got;
    if (!(buf = malloc(len ? len : 1))) {
        fail(it, "too_large", "%s", "out of memory reading the file");
        goto out;
    }
    if (read_at(fd, buf, len, 0, &got) != 0) {
        fail(it, "unreadable", "%s", strerror(errno));
        goto out;
    }
    ordo_file_hash(buf, got, it->hash);
    it->has_hash = 1;
    if (rs) {
        ordo_err he;
        if (ordo_store_has_hash(rs, it->hash, &he) == 1) {
            it->known = 1;
            it->outcome = O_OK;
            goto out;
        }
    }
    ordo_image im = {0};
    ordo_err e = {{0}};
    if (ordo_img_decode(buf, got, &sc->img_opts, &im, &e) != 0) {
        fail(it, strstr(e.msg, "pixel") ? "too_large" : "decode", "%s", e.msg);
        goto out;
    }
    it->w = im.orig_w;
    it->h = im.orig_h;
    it->format = im.format;
    /* One decode (at the scale the largest input needs), then each
     * network's own resize and crop, as if it ran alone. */
    it->outcome = O_OK;
    for (int k = 0; k < sc->nets.n && it->outcome == O_OK; k++)
        if (ordo_img_preprocess(&im, sc->nets.size[k], ORDO_SCAN_CROP_FRAC,
                                in + ordo_net_list_in_offset(&sc->nets, k), &e) != 0)
            fail(it, "decode", "%s", e.msg);
    ordo_image_free(&im);
out:
    free(buf);
    close(fd);
}

static void *decode_thread(void *arg)
{
    scan *sc = arg;
    /* Its own read-only handle (one per thread): without it every copy is
     * still handled right, only decoded and inferred in vain. */
    ordo_err e;
    ordo_store *rs = ordo_store_open(sc->project, ORDO_STORE_RDONLY, &e);
    pthread_mutex_lock(&sc->mu);
    for (;;) {
        while (!sc->abort && sc->decode_next < sc->produced &&
               sc->ring[sc->decode_next % RING].type != IT_PROCESS)
            sc->decode_next++;
        if (sc->abort || (sc->walk_done && sc->decode_next >= sc->produced))
            break;
        if (sc->decode_next >= sc->produced) {
            pthread_cond_wait(&sc->cv_dec, &sc->mu);
            continue;
        }
        item *it = &sc->ring[sc->decode_next++ % RING];
        pthread_mutex_unlock(&sc->mu);
        process_file(sc, rs, it, buf_in(sc, it->buf));
        pthread_mutex_lock(&sc->mu);
        it->ready = 1;
        pthread_cond_signal(&sc->cv_inf);
    }
    pthread_mutex_unlock(&sc->mu);
    ordo_store_close(rs);
    return NULL;
}

/* ---- inference ------------------------------------------------------------ */

/* dst = src mirrored left to right (S x S x 3, NHWC). */
static void mirror(const float *src, float *dst, int S)
{
    for (int y = 0; y < S; y++) {
        const float *r = src + (size_t)y * S * 3;
        float *o = dst + (size_t)y * S * 3;
        for (int x = 0; x < S; x++)
            memcpy(o + (size_t)(S - 1 - x) * 3, r + (size_t)x * 3, 3 * sizeof *r);
    }
}

/* in: n x (networks) pointers; flip (tta_flip only): n x (in_floats +
 * 1000 + embed) scratch. */
static int run_batch(scan *sc, item **b, int n, const float **in, float *logits,
                     float *embed, float *probs, float *flip, ordo_err *e)
{
    const int K = sc->nets.n;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < K; k++)
            in[i * K + k] = buf_in(sc, b[i]->buf) + ordo_net_list_in_offset(&sc->nets, k);
    if (ordo_net_ens_forward(sc->ens, in, n, logits, embed, e) != 0)
        return -1;
    if (flip) {
        /* Flip test-time augmentation: the mean of the logits and of the
         * embeddings of the image and its mirror (the classic horizontal
         * flip TTA, e.g. Krizhevsky et al. 2012 averaged 10 crops and their
         * flips). ImageNet and sports photos are left-right symmetric in
         * distribution, so the mirror is another sample of the same photo. */
        float *fl = flip + (size_t)n * sc->in_floats, *fe = fl + (size_t)n * ORDO_STORE_LOGITS;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < K; k++) {
                float *m = flip + (size_t)i * sc->in_floats + ordo_net_list_in_offset(&sc->nets, k);
                mirror(in[i * K + k], m, sc->nets.size[k]);
                in[i * K + k] = m;
            }
        if (ordo_net_ens_forward(sc->ens, in, n, fl, fe, e) != 0)
            return -1;
        for (size_t j = 0; j < (size_t)n * ORDO_STORE_LOGITS; j++)
            logits[j] = 0.5f * (logits[j] + fl[j]);
        for (size_t j = 0; j < (size_t)n * sc->embed; j++)
            embed[j] = 0.5f * (embed[j] + fe[j]);
    }
    for (int i = 0; i < n; i++) {
        float *l = logits + (size_t)i * ORDO_STORE_LOGITS;
        memcpy(buf_logits(sc, b[i]->buf), l, ORDO_STORE_LOGITS * sizeof(float));
        memcpy(buf_embed(sc, b[i]->buf), embed + (size_t)i * sc->embed,
               (size_t)sc->embed * sizeof(float));
        b[i]->sports = NAN;
        if (sc->o->sports) {
            /* The prior of the logits as stored (half floats), like every
             * score the store derives, so an exported and re-imported
             * project scores the same. */
            uint16_t h[ORDO_STORE_LOGITS];
            float lr[ORDO_STORE_LOGITS];
            ordo_f16_from_f32(l, h, ORDO_STORE_LOGITS);
            ordo_f16_to_f32(h, lr, ORDO_STORE_LOGITS);
            ordo_store_scores s;
            ordo_store_summarize(lr, ORDO_STORE_LOGITS, &s, probs);
            b[i]->sports = ordo_sports_score(sc->o->sports, probs);
        }
    }
    return 0;
}

/* Parses the weights and builds the network(s): 0.1-0.17 s of one core for
 * lite0 (reading and unpickling the .pth ~60 ms; folding batch norm and
 * packing, for int8 quantizing, 45-110 ms), most of a scan's start-up, done
 * here so that the decoders start on the first photos meanwhile instead of
 * waiting for it. The weights files were found before
 * the scan began; a damaged one stops the scan here with its reason. */
static int load_net(scan *sc, ordo_err *err)
{
    ordo_net_ens *ens = ordo_net_ens_create(&sc->nets, sc->weights, sc->threads, sc->prec, err);
    if (!ens)
        return -1;
    pthread_mutex_lock(&sc->mu);
    sc->ens = ens;
    pthread_mutex_unlock(&sc->mu);
    return 0;
}

static void *infer_thread(void *arg)
{
    scan *sc = arg;
    int B = sc->batch;
    item **b = malloc((size_t)B * sizeof *b);
    const float **in = malloc((size_t)B * sc->nets.n * sizeof *in);
    float *logits = malloc((size_t)B * ORDO_STORE_LOGITS * sizeof(float));
    float *embed = malloc((size_t)B * sc->embed * sizeof(float));
    float *probs = malloc(ORDO_STORE_LOGITS * sizeof(float));
    float *flip = sc->flip ? malloc((size_t)B * buf_stride(sc) * sizeof(float)) : NULL;
    ordo_err e = {{0}};
    if (!b || !in || !logits || !embed || !probs || (sc->flip && !flip)) {
        ordo_err_set(&e, "out of memory for a batch of %d images", B);
        set_fatal(sc, &e);
    } else if (load_net(sc, &e) != 0) {
        set_fatal(sc, &e);
    }
    int n = 0;
    int64_t c = 0;   /* next item to look at */
    pthread_mutex_lock(&sc->mu);
    while (!sc->abort) {
        int flush = 0;
        if (c < sc->produced && sc->ring[c % RING].ready) {
            item *it = &sc->ring[c % RING];
            c++;
            if (it->type == IT_PROCESS && it->outcome == O_OK && !it->known)
                b[n++] = it;
            if (n == 0) {
                sc->inferred = c;   /* nothing pending before it: pass through */
                pthread_cond_signal(&sc->cv_wr);
            }
            flush = n == B;
        } else if (c >= sc->produced && (sc->walk_done || sc->walker_blocked)) {
            if (n == 0) {
                sc->inferred = c;
                pthread_cond_signal(&sc->cv_wr);
                if (sc->walk_done)
                    break;
                pthread_cond_wait(&sc->cv_inf, &sc->mu);
                continue;
            }
            flush = 1;   /* the walker waits on buffers this batch holds */
        } else {
            pthread_cond_wait(&sc->cv_inf, &sc->mu);
            continue;
        }
        if (flush) {
            pthread_mutex_unlock(&sc->mu);
            int rc = run_batch(sc, b, n, in, logits, embed, probs, flip, &e);
            pthread_mutex_lock(&sc->mu);
            if (rc) {
                if (!sc->abort) {
                    sc->abort = 1;
                    sc->fatal = e;
                }
                break;
            }
            n = 0;
            sc->inferred = c;
            pthread_cond_signal(&sc->cv_wr);
        }
    }
    sc->infer_done = 1;
    if (sc->abort)
        wake_all(sc);
    else
        pthread_cond_signal(&sc->cv_wr);
    pthread_mutex_unlock(&sc->mu);
    free(b);
    free((void *)in);
    free(logits);
    free(embed);
    free(probs);
    free(flip);
    return NULL;
}

/* ---- writer ------------------------------------------------------------------ */

static int write_item(scan *sc, item *it, ordo_err *e)
{
    ordo_store *s = sc->wstore;
    ordo_scan_progress *p = &sc->prog;
    switch (it->type) {
    case IT_TOUCH:
        p->unchanged++;
        p->done++;
        return ordo_store_touch(s, it->file_id, sc->scan_id, e);
    case IT_ROOT_DONE:
        if (it->incomplete)
            return 0;
        return ordo_store_mark_missing(s, it->path, sc->scan_id, &p->missing, e);
    case IT_WALKERR:
        break;
    case IT_PROCESS:
        p->done++;
        if (it->outcome == O_SKIP) {
            p->skipped++;
            return 0;
        }
        if (it->outcome == O_OK) {
            int dup = ordo_store_has_hash(s, it->hash, e);
            if (dup < 0)
                return -1;
            ordo_store_image_in in = {
                .path = it->path, .size = it->size, .mtime_ns = it->mtime_ns,
                .width = it->w, .height = it->h, .format = it->format,
                .logits = it->known ? NULL : buf_logits(sc, it->buf),
                .embed = it->known ? NULL : buf_embed(sc, it->buf),
                .sports = it->sports, .scan_id = sc->scan_id};
            memcpy(in.hash, it->hash, 16);
            if (dup)
                p->duplicates++;
            else
                p->classified++;
            return ordo_store_put_image(s, &in, NULL, e);
        }
        break;
    }
    p->failed++;
    if (sc->o->on_failed)
        sc->o->on_failed(it->path, it->kind, it->msg, sc->o->ctx);
    return ordo_store_put_failed(s, it->path, it->size, it->mtime_ns,
                                 it->has_hash ? it->hash : NULL, it->kind, it->msg,
                                 sc->scan_id, e);
}

static void report(scan *sc, int finished)
{
    if (!sc->o->progress)
        return;
    pthread_mutex_lock(&sc->mu);
    sc->prog.total = sc->total;
    sc->prog.counting_done = sc->counting_done;
    pthread_mutex_unlock(&sc->mu);
    sc->prog.elapsed = ordo_clock_mono() - sc->t0;
    sc->prog.finished = finished;
    sc->o->progress(&sc->prog, sc->o->ctx);
}

static void *write_thread(void *arg)
{
    scan *sc = arg;
    ordo_err e = {{0}};
    double interval = sc->o->progress_interval > 0 ? sc->o->progress_interval : 0.25;
    double last_report = 0, last_t = 0;
    int64_t last_classified = 0;
    pthread_mutex_lock(&sc->mu);
    for (;;) {
        while (!sc->abort && sc->written >= sc->inferred && !sc->infer_done)
            pthread_cond_wait(&sc->cv_wr, &sc->mu);
        if (sc->abort || (sc->infer_done && sc->written >= sc->inferred))
            break;
        int64_t from = sc->written, to = sc->inferred;
        if (to - from > WRITE_GROUP)
            to = from + WRITE_GROUP;
        pthread_mutex_unlock(&sc->mu);
        int rc = ordo_store_begin(sc->wstore, &e);
        for (int64_t i = from; i < to && !rc; i++)
            rc = write_item(sc, &sc->ring[i % RING], &e);
        if (!rc)
            rc = ordo_store_commit(sc->wstore, &e);
        else
            ordo_store_rollback(sc->wstore);
        if (rc) {
            set_fatal(sc, &e);
            pthread_mutex_lock(&sc->mu);
            break;
        }
        double t = ordo_clock_mono() - sc->t0;
        if (t - last_report >= interval) {
            double dt = t - last_t;
            double r = dt > 0 ? (sc->prog.classified + sc->prog.duplicates - last_classified) / dt : 0;
            sc->prog.rate = sc->prog.rate > 0 ? 0.7 * sc->prog.rate + 0.3 * r : r;
            last_t = t;
            last_classified = sc->prog.classified + sc->prog.duplicates;
            report(sc, 0);
            last_report = t;
        }
        pthread_mutex_lock(&sc->mu);
        for (int64_t i = from; i < to; i++) {
            item *it = &sc->ring[i % RING];
            if (it->buf >= 0)
                sc->free_bufs[sc->nfree++] = it->buf;
            free(it->path);
            it->path = NULL;
        }
        sc->written = to;
        pthread_cond_signal(&sc->cv_walk);
    }
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

/* ---- counter ----------------------------------------------------------------- */

static int count_file(const char *path, const struct stat *st, void *ctx)
{
    (void)st;
    scan *sc = ctx;
    int kept = !sc->o->keep || sc->o->keep(path, sc->o->keep_ctx);
    pthread_mutex_lock(&sc->mu);
    int stop = sc->count_stop || sc->abort;
    sc->total += kept;
    pthread_mutex_unlock(&sc->mu);
    return stop;
}

typedef struct count_args {
    scan *sc;
    char *const *roots;
    int n;
} count_args;

static void *count_thread(void *arg)
{
    count_args *a = arg;
    ordo_walk(a->roots, a->n, count_file, NULL, a->sc, NULL);
    pthread_mutex_lock(&a->sc->mu);
    a->sc->counting_done = !a->sc->count_stop;
    pthread_mutex_unlock(&a->sc->mu);
    return NULL;
}

/* ---- the whole scan ----------------------------------------------------------- */

static int ncores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}


int ordo_scan_run(const char *project_dir, char *const *paths, int npaths,
                  const ordo_scan_opts *opts, ordo_scan_progress *final, ordo_err *err)
{
    static const ordo_scan_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    if (npaths < 1)
        return ordo_err_set(err, "nothing to scan");
    scan *sc = calloc(1, sizeof *sc);
    if (!sc)
        return ordo_err_set(err, "out of memory");
    int rc = -1, lockfd = -1, nroots = 0;
    char **roots = calloc((size_t)npaths, sizeof *roots);
    char *rootlist = NULL;
    pthread_t *dec = NULL, inf, wr, cnt;
    int ndec = 0, have_inf = 0, have_wr = 0, have_cnt = 0;
    count_args ca;
    sc->o = opts;
    sc->project = project_dir;
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->cv_walk, NULL);
    pthread_cond_init(&sc->cv_dec, NULL);
    pthread_cond_init(&sc->cv_inf, NULL);
    pthread_cond_init(&sc->cv_wr, NULL);
    sc->t0 = ordo_clock_mono();
    if (!roots) {
        ordo_err_set(err, "out of memory");
        goto out;
    }
    /* Absolute, canonical roots: rows are keyed by absolute path. */
    size_t listlen = 1;
    for (int i = 0; i < npaths; i++) {
        if (!(roots[i] = realpath(paths[i], NULL))) {
            ordo_err_set(err, "%s: %s", paths[i], strerror(errno));
            goto out;
        }
        nroots++;
        listlen += strlen(roots[i]) + 1;
    }
    if (!(rootlist = malloc(listlen))) {
        ordo_err_set(err, "out of memory");
        goto out;
    }
    rootlist[0] = 0;
    for (int i = 0; i < nroots; i++) {
        if (i) strcat(rootlist, "\n");
        strcat(rootlist, roots[i]);
    }

    int flags = opts->durable ? 0 : ORDO_STORE_FAST;
    if (!(sc->wstore = ordo_store_open(project_dir, flags, err)) ||
        !(sc->rstore = ordo_store_open(project_dir, ORDO_STORE_RDONLY, err)))
        goto out;
    size_t pl = strlen(ordo_store_dir(sc->wstore)) + sizeof(ORDO_STORE_DIRNAME) + 3;
    if (!(sc->ordo_prefix = malloc(pl))) {
        ordo_err_set(err, "out of memory");
        goto out;
    }
    snprintf(sc->ordo_prefix, pl, "%s/%s/", ordo_store_dir(sc->wstore), ORDO_STORE_DIRNAME);
    sc->ordo_prefix_len = strlen(sc->ordo_prefix);
    /* Held for the whole scan: two scans of one project would each be
     * correct but would waste the work twice. */
    if ((lockfd = ordo_store_lock(ordo_store_dir(sc->wstore),
                                  "another `ordo scan` is running on this project", err)) < 0)
        goto out;
    char model[ORDO_STORE_MODEL_MAX];
    if (ordo_store_model(sc->wstore, model, sizeof model, err))
        goto out;
    /* A project of imported vectors: name the default, which set_model
     * refuses with the reason (two models' vectors never mix). */
    ordo_err pe;
    const char *want = opts->model ? opts->model
                       : model[0] && !ordo_net_list_parse(model, &sc->nets, &pe)
                           ? model
                           : ORDO_STORE_DEFAULT_MODEL;
    if (ordo_net_list_parse(want, &sc->nets, err) || ordo_store_set_model(sc->wstore, want, err))
        goto out;
    if (want != model)
        snprintf(model, sizeof model, "%s", want);
    /* set_model fixed the rows' width with the model; the networks must
     * fill exactly that (a project made otherwise is refused, not padded) */
    sc->embed = ordo_net_list_embed(&sc->nets);
    if (ordo_store_embed_dim(sc->wstore) != sc->embed) {
        ordo_err_set(err, "this project's embedding rows hold %d values; %s gives %d",
                     ordo_store_embed_dim(sc->wstore), model, sc->embed);
        goto out;
    }
    char prec[8];
    char tta[8];
    if (ordo_store_use_precision(sc->wstore, opts->precision, ordo_net_default_precision(), prec,
                                  err) ||
        ordo_store_use_tta(sc->wstore, opts->tta, tta, err))
        goto out;
    sc->flip = !strcmp(tta, "flip");
    sc->threads = opts->threads > 0 ? opts->threads : ncores();
    snprintf(sc->model, sizeof sc->model, "%s", model);
    snprintf(sc->prec, sizeof sc->prec, "%s", prec);
    if (ordo_net_list_weights(&sc->nets, opts->weights, sc->weights, err))
        goto out;
    sc->in_floats = ordo_net_list_in_floats(&sc->nets);
    sc->img_opts.min_side =
        ordo_img_min_side_for(ordo_net_list_max_size(&sc->nets), ORDO_SCAN_CROP_FRAC);
    sc->batch = opts->batch > 0 ? opts->batch : 16;
    ndec = opts->decode_threads > 0 ? opts->decode_threads : ncores();
    /* Enough buffers for one batch being inferred, one being decoded and
     * one being written: decoding and writing then hide behind inference. */
    sc->nbufs = 3 * sc->batch + 2 * ndec;
    sc->ring = calloc(RING, sizeof *sc->ring);
    sc->free_bufs = malloc((size_t)sc->nbufs * sizeof *sc->free_bufs);
    sc->bufmem = malloc((size_t)sc->nbufs * buf_stride(sc) * sizeof(float));
    dec = calloc((size_t)ndec, sizeof *dec);
    if (!sc->ring || !sc->free_bufs || !sc->bufmem || !dec) {
        ordo_err_set(err, "out of memory");
        goto out;
    }
    for (int i = 0; i < sc->nbufs; i++)
        sc->free_bufs[sc->nfree++] = sc->nbufs - 1 - i;
    if ((sc->scan_id = ordo_store_scan_begin(sc->wstore, rootlist, model, err)) < 0)
        goto out;

    ca = (count_args){sc, roots, nroots};
    have_cnt = pthread_create(&cnt, NULL, count_thread, &ca) == 0;
    int started = 0;
    for (; started < ndec; started++)
        if (pthread_create(&dec[started], NULL, decode_thread, sc) != 0)
            break;
    ndec = started;
    have_inf = pthread_create(&inf, NULL, infer_thread, sc) == 0;
    have_wr = pthread_create(&wr, NULL, write_thread, sc) == 0;
    if (!ndec || !have_inf || !have_wr) {
        ordo_err e;
        ordo_err_set(&e, "cannot start scan threads");
        set_fatal(sc, &e);
    }

    /* The walk runs here, one root at a time, so each root's missing files
     * are marked right after its own walk completed. */
    for (int i = 0; i < nroots && !stopping(sc); i++) {
        sc->root_incomplete = 0;
        ordo_err we = {{0}};
        int w = ordo_walk(&roots[i], 1, on_file, on_walk_error, sc, &we);
        pthread_mutex_lock(&sc->mu);
        int ab = sc->abort;
        pthread_mutex_unlock(&sc->mu);
        if (ab)
            break;
        if (w < 0) {
            set_fatal(sc, &we);
            break;
        }
        if (w > 0 || stopping(sc))
            break;
        item it = {.type = IT_ROOT_DONE, .incomplete = sc->root_incomplete};
        if (!(it.path = strdup(roots[i])) || enqueue(sc, &it))
            break;
    }
    pthread_mutex_lock(&sc->mu);
    sc->walk_done = 1;
    sc->count_stop = 1;
    wake_all(sc);
    pthread_mutex_unlock(&sc->mu);
    for (int i = 0; i < ndec; i++)
        pthread_join(dec[i], NULL);
    if (have_inf)
        pthread_join(inf, NULL);
    if (have_wr)
        pthread_join(wr, NULL);
    if (have_cnt)
        pthread_join(cnt, NULL);
    have_cnt = 0;
    if (sc->abort) {
        *err = sc->fatal;
        goto out;
    }
    ordo_store_scan_counts counts = {sc->prog.done, sc->prog.classified + sc->prog.duplicates,
                                     sc->prog.failed, sc->prog.missing};
    if (ordo_store_scan_end(sc->wstore, sc->scan_id, &counts, err))
        goto out;
    report(sc, 1);
    if (stopping(sc)) {
        ordo_err_set(err, "interrupted; run the same scan again to finish it");
        goto out;
    }
    rc = 0;
out:
    if (have_cnt) {
        pthread_mutex_lock(&sc->mu);
        sc->count_stop = 1;
        pthread_mutex_unlock(&sc->mu);
        pthread_join(cnt, NULL);
    }
    if (final)
        *final = sc->prog;
    if (sc->ring)
        for (int i = 0; i < RING; i++)
            free(sc->ring[i].path);
    free(sc->ring);
    free(sc->free_bufs);
    free(sc->bufmem);
    free(dec);
    ordo_net_ens_free(sc->ens);
    ordo_store_close(sc->wstore);
    ordo_store_close(sc->rstore);
    ordo_store_unlock(lockfd);
    for (int i = 0; i < nroots; i++)
        free(roots[i]);
    free(roots);
    free(rootlist);
    free(sc->ordo_prefix);
    pthread_mutex_destroy(&sc->mu);
    pthread_cond_destroy(&sc->cv_walk);
    pthread_cond_destroy(&sc->cv_dec);
    pthread_cond_destroy(&sc->cv_inf);
    pthread_cond_destroy(&sc->cv_wr);
    free(sc);
    return rc;
}
