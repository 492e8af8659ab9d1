/* queue.c - which image each annotator sees next.
 *
 * The server keeps one batch from the composer in memory and hands its
 * images out with short leases, so two annotators never see the same image
 * unless it is one of the double-annotated share. A batch is refilled from
 * the composer when every image in it has its answers. compose() is the one
 * place the queue comes from (see there). */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "audit/audit_store.h"
#include "base/f16.h"
#include "base/hash.h"
#include "loop/loop.h"
#include "rank/rank.h"
#include "server/srv_internal.h"

#define LEASE_S 600.0     /* an image shown to someone is theirs for 10 min */

/* mix64 of the image id: the double-annotated share is a fixed,
 * pseudo-random subset of the pool. */
int srv_queue_need(const ordo_srv *srv, int64_t id)
{
    double u = (double)(ordo_hash_mix64((uint64_t)id) >> 11) / 9007199254740992.0;
    return u < srv->o.double_share ? 2 : 1;
}

static void drop_cache(srv_queue *q);

ssize_t srv_queue_index(const srv_queue *q, int64_t id)
{
    size_t lo = 0, hi = q->nall;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (q->all[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < q->nall && q->all[lo].id == id ? (ssize_t)lo : -1;
}

static srv_qitem *q_find(srv_queue *q, int64_t id)
{
    for (size_t i = 0; i < q->n; i++)
        if (q->items[i].id == id) return &q->items[i];
    return NULL;
}

static int ndone(const srv_qitem *it)
{
    int n = 0;
    for (int k = 0; k < SRV_QMAX_ANN; k++) n += it->done_by[k] != 0;
    return n;
}

static int finished(const srv_qitem *it) { return ndone(it) >= it->need; }

static int q_push(srv_queue *q, int64_t id, const char *reason, int need, int front)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        srv_qitem *b = realloc(q->items, cap * sizeof *b);
        if (!b) return -1;
        q->items = b;
        q->cap = cap;
    }
    if (front) memmove(q->items + 1, q->items, q->n * sizeof *q->items);
    srv_qitem *it = &q->items[front ? 0 : q->n];
    q->n++;
    memset(it, 0, sizeof *it);
    it->id = id;
    snprintf(it->reason, sizeof it->reason, "%s", reason);
    it->need = need;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Row of image id in the pool (rows are in id order), or -1. */
static long pool_row(const ordo_loop_pool *p, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ordo_loop_pool_item(p, mid)->id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && ordo_loop_pool_item(p, lo)->id == id ? (long)lo : -1;
}

/* THE queue source: the rank module's batch composer over
 * ordo_loop_pool_load, exactly as `ordo next` runs it (default mix and
 * seed, the fixed evaluation sample of rank_eval drawn on first use).
 * Images answered or already queued here count as labeled so a refill never
 * repeats them. The composer runs without the queue lock. */
static int compose(ordo_srv *srv, ordo_store *s, int n, ordo_err *err)
{
    srv_queue *q = &srv->q;
    ordo_loop_pool *p = ordo_loop_pool_load(s, srv->wn, err);
    if (!p) return -1;
    const ordo_rank_input *in0 = ordo_loop_pool_input(p);
    ordo_rank_opts o;
    ordo_rank_opts_default(&o);
    o.batch = (size_t)n;
    uint8_t *lab = NULL;
    ordo_rank_batch *b = NULL;
    int rc = -1;
    size_t N = in0->n;
    if (N == 0) { rc = 0; goto out; }
    /* always, as `ordo next` does: no other reason may take sample images */
    if (ordo_loop_pool_eval(p, s, o.eval_half_width, o.eval_p, o.seed, NULL, err) < 0) goto out;
    lab = malloc(N);
    if (!lab) { ordo_err_set(err, "out of memory"); goto out; }
    memcpy(lab, in0->labeled, N);
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->nall; i++)
        if (q->labeled[i]) {
            long r = pool_row(p, N, q->all[i].id);
            if (r >= 0) lab[r] = 1;
        }
    /* Queued images are taken; so are the other members of their
     * near-duplicate groups while they wait for an answer: the composer
     * keeps two members of a group out of one batch, and this keeps them out
     * of two batches that are on the page at the same time. */
    int64_t *taken = NULL;
    size_t ntaken = 0;
    if (in0->group && q->n) taken = malloc(q->n * sizeof *taken);
    for (size_t i = 0; i < q->n; i++) {
        long r = pool_row(p, N, q->items[i].id);
        if (r < 0) continue;
        lab[r] = 1;
        /* (a recheck is a second look at a labeled photo: it takes no group) */
        if (taken && !finished(&q->items[i]) && strcmp(q->items[i].reason, "recheck") &&
            in0->group[r] >= 0)
            taken[ntaken++] = in0->group[r];
    }
    pthread_mutex_unlock(&q->mu);
    if (ntaken) {
        qsort(taken, ntaken, sizeof *taken, cmp_i64);
        for (size_t r = 0; r < N; r++)
            if (in0->group[r] >= 0 && bsearch(&in0->group[r], taken, ntaken, sizeof *taken, cmp_i64))
                lab[r] = 1;
    }
    free(taken);
    ordo_rank_input in = *in0;
    in.labeled = lab;
    b = ordo_rank_compose(&in, &o, err);
    if (!b) goto out;
    rc = 0;
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < b->n; i++) {
        int64_t id = ordo_loop_pool_item(p, b->items[i].row)->id;
        ssize_t k = srv_queue_index(q, id);
        if (k < 0 || q->labeled[k] || q_find(q, id)) continue;   /* answered meanwhile */
        if (q_push(q, id, ordo_rank_reason_name(b->items[i].reason), srv_queue_need(srv, id), 0) < 0) {
            rc = ordo_err_set(err, "out of memory");
            break;
        }
    }
    q->batch_no++;
    pthread_mutex_unlock(&q->mu);
out:
    ordo_rank_batch_free(b);
    free(lab);
    ordo_loop_pool_free(p);
    return rc;
}

/* Images answered by fewer annotators than they need (after a restart or a
 * refill) come back first. Caller holds q->mu. */
static int load_open_doubles(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    srv_queue *q = &srv->q;
    if (srv->o.double_share <= 0) return 0;
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT l.image_id, a.id, l.label FROM current_ui_answers l"
                           " JOIN srv_annotators a ON a.name = l.annotator"
                           " ORDER BY l.image_id", -1, &st, NULL) != SQLITE_OK)
        return ordo_err_set(err, "reading answers: %s", sqlite3_errmsg(db));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0), who = sqlite3_column_int64(st, 1);
        const char *lab = (const char *)sqlite3_column_text(st, 2);
        if (!lab || !*lab || !strcmp(lab, ORDO_STORE_LABEL_SKIP) || srv_queue_need(srv, id) < 2) continue;
        srv_qitem *it = q_find(q, id);
        if (!it) {
            if (q_push(q, id, "double", 2, 0) < 0) break;
            it = &q->items[q->n - 1];
        }
        for (int k = 0; k < SRV_QMAX_ANN; k++)
            if (it->done_by[k] == who) break;
            else if (!it->done_by[k]) { it->done_by[k] = who; break; }
    }
    sqlite3_finalize(st);
    /* drop the ones already complete */
    size_t w = 0;
    for (size_t i = 0; i < q->n; i++)
        if (!finished(&q->items[i])) q->items[w++] = q->items[i];
    q->n = w;
    return rc == SQLITE_DONE ? 0 : ordo_err_set(err, "reading answers: %s", sqlite3_errmsg(db));
}

/* Label suspects of the newest `ordo audit` run still carrying the audited
 * label (audit owns them) go first, as reason "recheck", to a second
 * annotator: the one who gave the label counts as done (done_by), so the
 * item needs one answer from someone else; a label from outside the server
 * counts as done by nobody known (-1). The answer is a new label event,
 * which resolves the suspect. Caller holds q->mu. */
static int load_rechecks(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    srv_queue *q = &srv->q;
    int64_t *ids = NULL;
    size_t n = 0;
    if (ordo_audit_recheck(s, NULL, 200, &ids, &n, err)) return -1;
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (n && sqlite3_prepare_v2(db,
                                "SELECT COALESCE((SELECT a.id FROM srv_annotators a WHERE a.name ="
                                " c.annotator), -1) FROM current_labels c WHERE c.image_id = ?",
                                -1, &st, NULL) != SQLITE_OK)
        st = NULL;   /* no annotators table yet: nobody known */
    for (size_t i = n; i-- > 0;) {   /* pushed to the front: most suspect ends first */
        if (q_find(q, ids[i])) continue;
        int64_t who = -1;
        if (st) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, ids[i]);
            if (sqlite3_step(st) == SQLITE_ROW) who = sqlite3_column_int64(st, 0);
        }
        if (q_push(q, ids[i], "recheck", 2, 1) < 0) break;
        q->items[0].done_by[0] = who;
    }
    sqlite3_finalize(st);
    free(ids);
    return 0;
}

/* Re-reads the pool so images scanned while the server runs join it. The
 * per-image state moves over by id (both lists are in id order). */
static int reload_items(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    srv_queue *q = &srv->q;
    ordo_store_item *all;
    size_t n;
    if (ordo_store_items(s, &all, &n, err) < 0) return -1;
    unsigned char *lab = calloc(n ? n : 1, 1);
    if (!lab) {
        free(all);
        return ordo_err_set(err, "out of memory");
    }
    pthread_mutex_lock(&q->mu);
    drop_cache(q);   /* indexed by the old list */
    size_t i = 0, nl = 0;
    for (size_t j = 0; j < n; j++) {
        while (i < q->nall && q->all[i].id < all[j].id) i++;
        if (i < q->nall && q->all[i].id == all[j].id) lab[j] = q->labeled[i++];
        nl += lab[j];
    }
    free(q->all);
    free(q->labeled);
    q->all = all;
    q->nall = n;
    q->labeled = lab;
    q->nlabeled = nl;
    if (n && (size_t)all[n - 1].slot >= q->emb_rows) {   /* new rows: map them too */
        size_t rows;
        ordo_err e;
        const uint16_t *emb = ordo_store_embeddings(q->emb_store, &rows, &e);
        if (emb) {   /* the old map is only ever read under this lock */
            q->emb = emb;
            q->emb_rows = rows;
        }
        const uint16_t *lg = ordo_store_logits(q->emb_store, &rows, &e);
        if (lg) {
            q->logits = lg;
            q->logit_rows = rows;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return 0;
}

/* Drops finished images, brings back open double annotations, then asks
 * the composer for a new batch (without holding the lock while it runs). */
int srv_queue_refill(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    srv_queue *q = &srv->q;
    if (q->started && reload_items(srv, s, err) < 0) return -1;
    pthread_mutex_lock(&q->mu);
    int64_t run0 = q->audit_run;
    pthread_mutex_unlock(&q->mu);
    if (srv_groups_load(srv, s, err) < 0) return -1;   /* a new audit's groups */
    pthread_mutex_lock(&q->mu);
    /* A new audit run: the waiting batch was composed without its groups
     * (and before its suspects), so images nobody has answered or holds
     * now go back to the composer; the rest stay. */
    int fresh = q->audit_run != run0;
    double now = srv_now();
    size_t w = 0;
    for (size_t i = 0; i < q->n; i++) {
        srv_qitem *it = &q->items[i];
        if (finished(it)) continue;
        if (fresh && !ndone(it) && it->need < 2) {
            int held = 0;
            for (int k = 0; k < SRV_QMAX_ANN; k++)
                held |= it->lease_by[k] && it->lease_until[k] > now;
            if (!held) continue;
        }
        q->items[w++] = *it;
    }
    q->n = w;
    int rc = load_open_doubles(srv, s, err);
    if (rc == 0) rc = load_rechecks(srv, s, err);
    pthread_mutex_unlock(&q->mu);
    return rc < 0 ? -1 : compose(srv, s, srv->o.batch, err);
}

/* Makes the labeling view's images of the queued batch ahead of time, so
 * annotators never wait for a photo to be decoded. Stops early when there is
 * other work (or a stop) for this thread. */
static void warm_views(ordo_srv *srv)
{
    srv_queue *q = &srv->q;
    pthread_mutex_lock(&q->mu);
    size_t n = q->n;
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; ids && i < n; i++) ids[i] = q->items[i].id;
    pthread_mutex_unlock(&q->mu);
    for (size_t i = 0; ids && i < n; i++) {
        pthread_mutex_lock(&q->mu);
        int busy = q->stop || q->want_refill || q->want_retrain;
        pthread_mutex_unlock(&q->mu);
        if (busy) break;
        char path[PATH_MAX];
        ordo_err e;
        srv_thumb(srv, q->store, ids[i], SRV_VIEW_SIDE, path, sizeof path, &e);   /* best effort */
    }
    free(ids);
}

/* The composer thread: refills in the background when a batch runs low,
 * so no request ever waits for the composer. */
static void *composer_main(void *arg)
{
    ordo_srv *srv = arg;
    srv_queue *q = &srv->q;
    /* Linux: nice this thread alone (19, the lowest priority), so composing
     * and training yield the CPU to request handling (best effort; failure
     * changes nothing). Training's BLAS runs on this thread too (model.c). */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), 19) != 0) { /* keep the default */ }
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->want_refill && !q->want_retrain && !q->want_warm && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->stop) {
            pthread_mutex_unlock(&q->mu);
            break;
        }
        if (q->want_warm && !q->want_refill && !q->want_retrain) {   /* the first batch */
            q->want_warm = 0;
            pthread_mutex_unlock(&q->mu);
            warm_views(srv);
            continue;
        }
        ordo_err e = {{0}};
        if (q->want_retrain) {
            q->want_retrain = 0;
            q->training = 1;
            pthread_mutex_unlock(&q->mu);
            int trc = srv_model_train(srv, q->store, &e);
            pthread_mutex_lock(&q->mu);
            q->training = 0;
            if (trc < 0) snprintf(q->train_msg, sizeof q->train_msg, "%s", e.msg);
            else
                snprintf(q->train_msg, sizeof q->train_msg, "model version %d trained%s%s",
                         srv->model_version, q->leak_msg[0] ? "; " : "", q->leak_msg);
            q->want_refill = trc == 0;   /* a new model: a fresh batch */
            pthread_mutex_unlock(&q->mu);
            continue;
        }
        q->want_refill = 0;
        q->refilling = 1;
        pthread_mutex_unlock(&q->mu);
        int rc = srv_queue_refill(srv, q->store, &e);
        pthread_mutex_lock(&q->mu);
        q->refilling = 0;
        snprintf(q->error, sizeof q->error, "%s", rc < 0 ? e.msg : "");
        pthread_mutex_unlock(&q->mu);
        if (rc == 0) warm_views(srv);
    }
    return NULL;
}

/* Caller holds q->mu. */
static void want_refill(srv_queue *q)
{
    if (q->refilling || q->want_refill) return;
    q->want_refill = 1;
    pthread_cond_signal(&q->cv);
}

void srv_queue_request_retrain(ordo_srv *srv)
{
    pthread_mutex_lock(&srv->q.mu);
    if (!srv->q.training) {
        srv->q.want_retrain = 1;
        pthread_cond_signal(&srv->q.cv);
    }
    pthread_mutex_unlock(&srv->q.mu);
}

void srv_queue_request_refill(ordo_srv *srv)
{
    pthread_mutex_lock(&srv->q.mu);
    want_refill(&srv->q);
    pthread_mutex_unlock(&srv->q.mu);
}

int srv_queue_start(ordo_srv *srv, ordo_err *err)
{
    srv_queue *q = &srv->q;
    q->store = ordo_store_open(srv->project, srv->o.store_flags, err);
    if (!q->store) return -1;
    q->want_warm = 1;
    q->started = 1;   /* before the thread reads it */
    if (pthread_create(&q->thread, NULL, composer_main, srv) != 0) {
        q->started = 0;
        ordo_store_close(q->store);
        q->store = NULL;
        return ordo_err_set(err, "cannot start the composer thread");
    }
    return 0;
}

void srv_queue_stop(ordo_srv *srv)
{
    srv_queue *q = &srv->q;
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        q->stop = 1;
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL);
        q->started = 0;
    }
    if (q->store) ordo_store_close(q->store);
    q->store = NULL;
}

int srv_queue_init(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    srv_queue *q = &srv->q;
    if (ordo_store_items(s, &q->all, &q->nall, err) < 0) return -1;
    q->labeled = calloc(q->nall ? q->nall : 1, 1);
    if (!q->labeled) return ordo_err_set(err, "out of memory");
    /* A handle of its own for the suggestions' embedding map: a map is only
     * stable while nobody else asks the same handle for it again. */
    q->emb_store = ordo_store_open(srv->project, srv->o.store_flags | ORDO_STORE_RDONLY, err);
    if (!q->emb_store) return -1;
    q->emb = ordo_store_embeddings(q->emb_store, &q->emb_rows, err);
    if (!q->emb) return -1;
    q->logits = ordo_store_logits(q->emb_store, &q->logit_rows, err);
    if (!q->logits) return -1;
    q->emb_dim = ordo_store_embed_dim(q->emb_store);
    q->logit_dim = ordo_store_logits_dim(q->emb_store);
    if (srv_nc_init(srv, s, err) < 0) return -1;
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT image_id FROM current_labels WHERE label NOT IN ('', 'skip')",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_err_set(err, "reading labels: %s", sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        ssize_t k = srv_queue_index(q, sqlite3_column_int64(st, 0));
        if (k >= 0 && !q->labeled[k]) { q->labeled[k] = 1; q->nlabeled++; }
    }
    sqlite3_finalize(st);
    return srv_queue_refill(srv, s, err);
}

void srv_queue_free(srv_queue *q)
{
    if (q->emb_store) ordo_store_close(q->emb_store);
    q->emb_store = NULL;
    q->emb = NULL;
    q->logits = NULL;
    drop_cache(q);
    srv_nc_free(q);
    srv_groups_free(q);
    free(q->items);
    free(q->all);
    free(q->labeled);
    q->items = NULL;
    q->all = NULL;
    q->labeled = NULL;
}

static int holds_lease(const srv_qitem *it, int64_t who, double now)
{
    for (int k = 0; k < SRV_QMAX_ANN; k++)
        if (it->lease_by[k] == who && it->lease_until[k] > now) return 1;
    return 0;
}

static int done_by(const srv_qitem *it, int64_t who)
{
    for (int k = 0; k < SRV_QMAX_ANN; k++)
        if (it->done_by[k] == who) return 1;
    return 0;
}

/* Takes a lease for who if the image still needs someone. Caller holds mu. */
static int try_lease(srv_qitem *it, int64_t who, double now)
{
    if (done_by(it, who)) return 0;
    if (holds_lease(it, who, now)) {
        for (int k = 0; k < SRV_QMAX_ANN; k++)
            if (it->lease_by[k] == who) it->lease_until[k] = now + LEASE_S;
        return 1;
    }
    int busy = ndone(it);
    for (int k = 0; k < SRV_QMAX_ANN; k++)
        if (it->lease_by[k] && it->lease_until[k] > now && !done_by(it, it->lease_by[k])) busy++;
    if (busy >= it->need) return 0;
    for (int k = 0; k < SRV_QMAX_ANN; k++)
        if (!it->lease_by[k] || it->lease_until[k] <= now || done_by(it, it->lease_by[k])) {
            it->lease_by[k] = who;
            it->lease_until[k] = now + LEASE_S;
            return 1;
        }
    return 0;
}

/* "id":N,"file":"name.jpg","folder":"/photos/a" of image id (file names
 * are raw bytes: shown as text by the page, never used as a path). */
void srv_item_place_json(ordo_store *s, int64_t id, FILE *f)
{
    char path[PATH_MAX];
    ordo_err e;
    fprintf(f, "\"id\":%lld,\"file\":", (long long)id);
    if (!s || ordo_store_image_path(s, id, path, sizeof path, &e) < 0) {
        fputs("\"\",\"folder\":\"\"", f);
        return;
    }
    char *slash = strrchr(path, '/');
    srv_json_str(f, slash ? slash + 1 : path);
    fputs(",\"folder\":", f);
    if (slash) *slash = 0;
    srv_json_str(f, slash ? path : "");
}

/* Caller holds mu. */
static void item_json(ordo_srv *srv, ordo_store *s, FILE *f, int64_t id, const char *reason)
{
    int eval = !strcmp(reason, "eval");
    fputc('{', f);
    srv_item_place_json(s, id, f);
    fputs(",\"reason\":", f);
    srv_json_str(f, reason);
    fprintf(f, ",\"eval\":%s,\"suggestions\":", eval ? "true" : "false");
    /* Evaluation images get no suggestions at all (not merely hidden by the
     * page), so the model cannot anchor the labels that measure it. */
    if (eval) fputs("[]", f);
    else srv_item_suggestions_json(srv, id, f);
    fputc('}', f);
}

static void drop_cache(srv_queue *q)
{
    for (size_t i = 0; q->sugg && i < q->nall; i++) free(q->sugg[i]);
    free(q->sugg);
    free(q->sugg_stamp);
    q->sugg = NULL;
    q->sugg_stamp = NULL;
}

/* Caller holds q->mu. The project's labels ranked (suggest.c), cached per
 * image until an answer, the label set or the model changes them. */
int srv_item_suggestions_json(ordo_srv *srv, int64_t id, FILE *f)
{
    srv_queue *q = &srv->q;
    ssize_t k = srv_queue_index(q, id);
    if (k >= 0 && !q->sugg) {
        q->sugg = calloc(q->nall ? q->nall : 1, sizeof *q->sugg);
        q->sugg_stamp = calloc(q->nall ? q->nall : 1, sizeof *q->sugg_stamp);
        if (!q->sugg || !q->sugg_stamp) drop_cache(q);
    }
    uint64_t stamp = srv_suggest_stamp(srv);
    if (k >= 0 && q->sugg && q->sugg[k] && q->sugg_stamp[k] == stamp) {
        fputs(q->sugg[k], f);
        return 0;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    if (!mf) return srv_suggest_json(srv, id, f);
    int rc = srv_suggest_json(srv, id, mf);
    fclose(mf);
    fputs(buf, f);
    if (k >= 0 && q->sugg) {
        free(q->sugg[k]);
        q->sugg[k] = buf;
        q->sugg_stamp[k] = stamp;
    } else {
        free(buf);
    }
    return rc;
}


int srv_queue_next_json(ordo_srv *srv, ordo_store *s, const srv_who *who, int n, FILE *f)
{
    srv_queue *q = &srv->q;
    /* Items are written under the lock; no file names here (a database
     * read each): the page gets them from /api/suggest for the image it
     * shows. */
    int64_t ids[50];
    char *part[50];
    size_t partlen[50];
    int got = 0;
    if (n > 50) n = 50;
    srv_groups_poll(srv, s);   /* an `ordo audit` since the last refill */
    pthread_mutex_lock(&q->mu);
    double now = srv_now();
    for (size_t i = 0; i < q->n && got < n; i++) {
        srv_qitem *it = &q->items[i];
        if (finished(it) || !try_lease(it, who->id, now)) continue;
        FILE *pf = open_memstream(&part[got], &partlen[got]);
        if (!pf) break;
        int eval = !strcmp(it->reason, "eval");
        fputs(",\"reason\":", pf);
        srv_json_str(pf, it->reason);
        fprintf(pf, ",\"eval\":%s,", eval ? "true" : "false");
        size_t gn = 0;   /* its near-duplicate group: the page shows it (groups.c) */
        int64_t g = eval ? -1 : srv_group_of(q, it->id, &gn);
        if (g >= 0) fprintf(pf, "\"group\":%lld,\"group_size\":%zu,", (long long)g, gn);
        fputs("\"suggestions\":", pf);
        /* Evaluation images get no suggestions at all (not merely hidden by
         * the page), so the model cannot anchor the labels that measure it. */
        if (eval) fputs("[]", pf);
        else srv_item_suggestions_json(srv, it->id, pf);
        fclose(pf);
        ids[got++] = it->id;
    }
    /* a quarter of the batch left: the composer prepares the next one */
    size_t done = 0;
    for (size_t i = 0; i < q->n; i++) done += finished(&q->items[i]);
    if ((q->n - done) * 4 <= (size_t)srv->o.batch && q->nlabeled < q->nall) want_refill(q);
    char *tail = NULL;
    size_t tlen = 0;
    FILE *tf = open_memstream(&tail, &tlen);
    if (tf) {
        fprintf(tf, "],\"progress\":{\"batch\":%lld,\"batch_done\":%zu,\"batch_total\":%zu,"
                    "\"labeled\":%lld,\"mine\":%lld,\"images\":%zu,\"refilling\":%s}",
                (long long)q->batch_no, done, q->n, (long long)srv_ledger_labeled(q),
                (long long)srv_ledger_mine(q, who->name), q->nall,
                q->refilling || q->want_refill ? "true" : "false");
        if (q->error[0]) {
            fputs(",\"error\":", tf);
            srv_json_str(tf, q->error);
        }
        fputc('}', tf);
        fclose(tf);
    }
    pthread_mutex_unlock(&q->mu);
    fputs("{\"items\":[", f);
    for (int i = 0; i < got; i++) {
        fprintf(f, "%s{\"id\":%lld", i ? "," : "", (long long)ids[i]);
        fwrite(part[i], 1, partlen[i], f);
        fputc('}', f);
        free(part[i]);
    }
    if (tail) fwrite(tail, 1, tlen, f);
    free(tail);
    return 0;
}

typedef struct near { float sim; size_t idx; } near;

int srv_queue_grid_json(ordo_srv *srv, ordo_store *s, const srv_who *who, int n,
                        int64_t near_id, FILE *f, ordo_err *err)
{
    srv_queue *q = &srv->q;
    size_t rows;
    const uint16_t *emb = ordo_store_embeddings(s, &rows, err);
    if (!emb) return -1;
    const int E = ordo_store_embed_dim(s);   /* the project's embedding width */
    near *best = calloc((size_t)n, sizeof *best);
    float *seed = malloc((size_t)E * sizeof *seed);
    float *row = malloc((size_t)E * sizeof *row);
    if (!best || !seed || !row) {
        free(best); free(seed); free(row);
        return ordo_err_set(err, "out of memory");
    }
    pthread_mutex_lock(&q->mu);
    double now = srv_now();
    /* The seed: the first queued image this annotator may take. */
    ssize_t seed_k = near_id > 0 ? srv_queue_index(q, near_id) : -1;   /* "more like this" */
    if (near_id > 0 && seed_k < 0) {
        pthread_mutex_unlock(&q->mu);
        free(best); free(seed); free(row);
        return ordo_err_set(err, "no such image");
    }
    for (size_t i = 0; i < q->n && seed_k < 0; i++) {
        srv_qitem *it = &q->items[i];
        /* evaluation images are labeled one by one, never in bulk */
        if (finished(it) || it->need > 1 || done_by(it, who->id) || !strcmp(it->reason, "eval"))
            continue;
        int taken = 0;
        for (int k = 0; k < SRV_QMAX_ANN; k++)
            taken |= it->lease_by[k] && it->lease_by[k] != who->id && it->lease_until[k] > now;
        if (!taken) seed_k = srv_queue_index(q, it->id);
    }
    if (seed_k < 0)   /* the batch is spoken for: any unlabeled image */
        for (size_t i = 0; i < q->nall && seed_k < 0; i++)
            if (!q->labeled[i] && !q_find(q, q->all[i].id)) seed_k = (ssize_t)i;
    int nb = 0;
    if (seed_k >= 0 && (size_t)q->all[seed_k].slot < rows) {
        ordo_f16_to_f32(emb + (size_t)q->all[seed_k].slot * (size_t)E, seed,
                              E);
        double ns = 0;
        for (int d = 0; d < E; d++) ns += (double)seed[d] * seed[d];
        ns = sqrt(ns) + 1e-12;
        best[0].sim = 2;
        best[0].idx = (size_t)seed_k;
        nb = 1;
        /* Nearest neighbours by cosine among unlabeled images no one else
         * holds (the rank module's clusters can replace this). */
        for (size_t i = 0; i < q->nall; i++) {
            if ((ssize_t)i == seed_k || q->labeled[i] || (size_t)q->all[i].slot >= rows) continue;
            srv_qitem *it = q_find(q, q->all[i].id);
            if (it && (it->need > 1 || finished(it) || !strcmp(it->reason, "eval"))) continue;
            if (it) {
                int taken = 0;
                for (int k = 0; k < SRV_QMAX_ANN; k++)
                    taken |= it->lease_by[k] && it->lease_by[k] != who->id &&
                             it->lease_until[k] > now;
                if (taken) continue;
            }
            ordo_f16_to_f32(emb + (size_t)q->all[i].slot * (size_t)E, row,
                                  E);
            double dot = 0, nr = 0;
            for (int d = 0; d < E; d++) {
                dot += (double)seed[d] * row[d];
                nr += (double)row[d] * row[d];
            }
            float sim = (float)(dot / (ns * (sqrt(nr) + 1e-12)));
            if (nb < n || sim > best[nb - 1].sim) {
                int j = nb < n ? nb++ : nb - 1;
                while (j > 1 && best[j - 1].sim < sim) { best[j] = best[j - 1]; j--; }
                best[j].sim = sim;
                best[j].idx = i;
            }
        }
    }
    fputs("{\"items\":[", f);
    for (int j = 0; j < nb; j++) {
        int64_t id = q->all[best[j].idx].id;
        srv_qitem *it = q_find(q, id);
        if (j) fputc(',', f);
        item_json(srv, s, f, id, it ? it->reason : "diverse");
    }
    fputs("]}", f);
    pthread_mutex_unlock(&q->mu);
    free(best);
    free(seed);
    free(row);
    return 0;
}

void srv_queue_done(ordo_srv *srv, const srv_who *who, int64_t id, const char *label)
{
    srv_queue *q = &srv->q;
    int done = label != NULL;
    pthread_mutex_lock(&q->mu);
    srv_nc_answer(srv, id, who->name, label);
    srv_qitem *it = q_find(q, id);
    if (!it && !done) {   /* undo of an image from an older batch */
        if (q_push(q, id, "undo", srv_queue_need(srv, id), 1) == 0) it = &q->items[0];
    }
    if (it) {
        for (int k = 0; k < SRV_QMAX_ANN; k++) {
            if (done && !it->done_by[k] && !done_by(it, who->id)) it->done_by[k] = who->id;
            if (!done && it->done_by[k] == who->id) it->done_by[k] = 0;
        }
        if (done) {
            for (int k = 0; k < SRV_QMAX_ANN; k++)
                if (it->lease_by[k] == who->id) it->lease_by[k] = 0;
        } else {
            try_lease(it, who->id, srv_now());
        }
    }
    ssize_t k = srv_queue_index(q, id);
    if (k >= 0) {
        int now_labeled = done || (it && ndone(it) > 0);
        if (now_labeled && !q->labeled[k]) q->nlabeled++;
        if (!now_labeled && q->labeled[k]) q->nlabeled--;
        q->labeled[k] = (unsigned char)now_labeled;
    }
    pthread_mutex_unlock(&q->mu);
}

int srv_queue_reason(ordo_srv *srv, int64_t id, char *out, size_t cap)
{
    pthread_mutex_lock(&srv->q.mu);
    srv_qitem *it = q_find(&srv->q, id);
    snprintf(out, cap, "%s", it ? it->reason : "");
    pthread_mutex_unlock(&srv->q.mu);
    return it ? 0 : -1;
}

int srv_queue_holds(ordo_srv *srv, const srv_who *who, int64_t id)
{
    pthread_mutex_lock(&srv->q.mu);
    srv_qitem *it = q_find(&srv->q, id);
    int r = it && (holds_lease(it, who->id, srv_now()) || done_by(it, who->id));
    pthread_mutex_unlock(&srv->q.mu);
    return r;
}
