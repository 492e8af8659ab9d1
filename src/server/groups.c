/* groups.c - near-duplicate groups on the labeling page.
 *
 * `ordo audit` stores groups of near-duplicate photos (audit_store.h: each
 * member is a near-duplicate of its group's leader). The page shows the
 * group of the photo on screen and one answer labels every member the
 * annotator keeps selected: one label event per member, written together
 * (same annotator, same time), nothing deleted. The server keeps the newest
 * run's groups and the evaluation sample in memory (q->mu), reloaded at each
 * queue refill, and polls the newest run id so an `ordo audit` that runs
 * while the server is up is picked up within SRV_AUDIT_POLL_S.
 *
 * Members the page does not select by default, and the server refuses to
 * label in bulk: evaluation images (labeled one by one, never in bulk, as
 * in the grid: a bulk answer would give the sample labels nobody judged
 * photo by photo), images queued for two independent answers (double
 * annotation, recheck), and images someone else holds right now. Answers
 * of other annotators are shown; the writer's role rules decide whether
 * they may be changed (server.c, job_allowed). */
#include <stdlib.h>
#include <string.h>

#include "audit/audit_store.h"
#include "server/srv_internal.h"

#define SRV_AUDIT_POLL_S 2.0   /* how stale the page's view of the audit may be */

typedef struct srv_gm srv_gm;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_gm(const void *a, const void *b)   /* by group, then image */
{
    const srv_gm *x = a, *y = b;
    if (x->gid != y->gid) return (x->gid > y->gid) - (x->gid < y->gid);
    return (x->img > y->img) - (x->img < y->img);
}

int srv_groups_load(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    srv_queue *q = &srv->q;
    int64_t run = ordo_audit_latest_run(s);
    int64_t *img = NULL, *gid = NULL, *ev = NULL;
    size_t n = 0, nev = 0;
    if (ordo_audit_groups_read(s, &img, &gid, &n, err)) return -1;
    if (ordo_store_eval_read(s, &ev, NULL, NULL, &nev, err)) {
        free(img); free(gid);
        return -1;
    }
    if (nev) qsort(ev, nev, sizeof *ev, cmp_i64);
    srv_gm *gm = malloc((n ? n : 1) * sizeof *gm);   /* (group, image) pairs */
    if (!gm) {
        free(img); free(gid); free(ev);
        return ordo_err_set(err, "out of memory");
    }
    for (size_t i = 0; i < n; i++) gm[i] = (srv_gm){img[i], gid[i]};
    if (n) qsort(gm, n, sizeof *gm, cmp_gm);
    pthread_mutex_lock(&q->mu);
    free(q->grp_img); free(q->grp_gid); free(q->grp_by); free(q->eval_ids);
    q->grp_img = img;   /* image id order (audit's reader) */
    q->grp_gid = gid;
    q->grp_by = gm;
    q->ngrp = n;
    q->eval_ids = ev;
    q->neval = nev;
    q->audit_run = run;
    pthread_mutex_unlock(&q->mu);
    return 0;
}

void srv_groups_free(srv_queue *q)
{
    free(q->grp_img); free(q->grp_gid); free(q->grp_by); free(q->eval_ids);
    q->grp_img = q->grp_gid = q->eval_ids = NULL;
    q->grp_by = NULL;
    q->ngrp = q->neval = 0;
}

void srv_groups_poll(ordo_srv *srv, ordo_store *s)
{
    srv_queue *q = &srv->q;
    double now = srv_now();
    pthread_mutex_lock(&q->mu);
    int due = now - q->audit_polled >= SRV_AUDIT_POLL_S;
    if (due) q->audit_polled = now;
    int64_t have = q->audit_run;
    pthread_mutex_unlock(&q->mu);
    if (!due) return;
    /* one indexed read; a new run (suspects, groups) reaches the queue at
     * once instead of at the next refill */
    if (ordo_audit_latest_run(s) != have) srv_queue_request_refill(srv);
}

int srv_is_eval(const srv_queue *q, int64_t id)
{
    return q->neval && bsearch(&id, q->eval_ids, q->neval, sizeof id, cmp_i64) != NULL;
}

/* The group of image id and its members' span in grp_by; -1 if none. */
static int64_t group_span(const srv_queue *q, int64_t id, size_t *lo, size_t *hi)
{
    const int64_t *p = q->ngrp ? bsearch(&id, q->grp_img, q->ngrp, sizeof id, cmp_i64) : NULL;
    if (!p) return -1;
    int64_t g = q->grp_gid[p - q->grp_img];
    const srv_gm *gm = q->grp_by;
    size_t a = 0, b = q->ngrp;
    while (a < b) {   /* first member of g */
        size_t m = a + (b - a) / 2;
        if (gm[m].gid < g) a = m + 1;
        else b = m;
    }
    size_t e = a;
    while (e < q->ngrp && gm[e].gid == g) e++;
    *lo = a;
    *hi = e;
    return g;
}

int64_t srv_group_of(const srv_queue *q, int64_t id, size_t *members)
{
    size_t lo = 0, hi = 0;
    int64_t g = group_span(q, id, &lo, &hi);
    *members = g < 0 ? 0 : hi - lo;
    return g < 0 || hi - lo < 2 ? -1 : g;
}

/* Why member id may not be labeled in bulk by who now ("" if it may).
 * Caller holds q->mu. */
static const char *not_free(ordo_srv *srv, const srv_who *who, int64_t id, double now)
{
    srv_queue *q = &srv->q;
    if (srv_is_eval(q, id)) return "evaluation image: labeled on its own";
    srv_qitem *it = NULL;
    for (size_t i = 0; i < q->n; i++)
        if (q->items[i].id == id) { it = &q->items[i]; break; }
    if (it && !strcmp(it->reason, "recheck")) return "waiting for a second annotator's recheck";
    if (it && it->need > 1) return "queued for two independent answers";
    if (it)
        for (int k = 0; k < SRV_QMAX_ANN; k++)
            if (it->lease_by[k] && it->lease_by[k] != who->id && it->lease_until[k] > now)
                return "on another annotator's screen";
    return "";
}

int srv_group_json(ordo_srv *srv, ordo_store *s, const srv_who *who, int64_t id, FILE *f,
                   ordo_err *err)
{
    srv_queue *q = &srv->q;
    enum { MAXM = SRV_MAX_GROUP };
    int64_t ids[MAXM];
    char why[MAXM][48];
    size_t n = 0, total = 0;
    pthread_mutex_lock(&q->mu);
    if (srv_queue_index(q, id) < 0) {   /* q->all is swapped at refills, under the lock */
        pthread_mutex_unlock(&q->mu);
        return ordo_err_set(err, "no such image: %lld", (long long)id);
    }
    size_t lo = 0, hi = 0;
    int64_t g = group_span(q, id, &lo, &hi);
    int64_t run = q->audit_run;
    double now = srv_now();
    if (g >= 0) {
        const srv_gm *gm = q->grp_by;
        total = hi - lo;
        /* the photo on screen first, then the others in id order */
        ids[n] = id;
        snprintf(why[n++], sizeof why[0], "%s", "");
        for (size_t i = lo; i < hi && n < MAXM; i++) {
            if (gm[i].img == id) continue;
            ids[n] = gm[i].img;
            snprintf(why[n++], sizeof why[0], "%s", not_free(srv, who, gm[i].img, now));
        }
    }
    int shown_eval = srv_is_eval(q, id);
    pthread_mutex_unlock(&q->mu);
    fprintf(f, "{\"id\":%lld,\"run\":%lld,\"group\":%lld,\"size\":%zu,\"eval\":%s,\"members\":[",
            (long long)id, (long long)run, (long long)g, total, shown_eval ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        char label[ORDO_STORE_LABEL_MAX + 1], by[ORDO_SRV_NAME_MAX + 1];
        if (srv_current_answer(s, ids[i], label, sizeof label, by, sizeof by, err) < 0) return -1;
        fprintf(f, "%s{\"id\":%lld,\"label\":", i ? "," : "", (long long)ids[i]);
        srv_json_str(f, label);
        fputs(",\"annotator\":", f);
        srv_json_str(f, label[0] ? by : "");
        fputs(",\"not_free\":", f);
        srv_json_str(f, why[i]);
        fputc('}', f);
    }
    fputs("]}", f);
    return 0;
}

int srv_group_check(ordo_srv *srv, const srv_who *who, int64_t shown, const int64_t *ids,
                    int n, char *msg, size_t cap)
{
    srv_queue *q = &srv->q;
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    size_t lo = 0, hi = 0;
    int64_t g = group_span(q, shown, &lo, &hi);
    double now = srv_now();
    if (srv_queue_index(q, shown) < 0) {
        snprintf(msg, cap, "no such image: %lld", (long long)shown);
        rc = -2;
    } else if (g < 0) {
        snprintf(msg, cap, "image %lld is in no near-duplicate group (run 'ordo audit')",
                 (long long)shown);
        rc = -1;
    }
    const srv_gm *gm = q->grp_by;
    for (int i = 0; i < n && rc == 0; i++) {
        if (ids[i] == shown) continue;   /* the photo on screen: labeled as a single answer is */
        size_t a = lo;
        while (a < hi && gm[a].img != ids[i]) a++;
        const char *why = a < hi ? not_free(srv, who, ids[i], now) : NULL;
        if (!why) {
            snprintf(msg, cap, "image %lld is not in the near-duplicate group of image %lld",
                     (long long)ids[i], (long long)shown);
            rc = -1;
        } else if (*why) {
            snprintf(msg, cap, "image %lld cannot be labeled with its group: %s",
                     (long long)ids[i], why);
            rc = -1;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}
