/* srv_internal.h - shared between the files of src/server/ only. */
#ifndef ORDO_SRV_INTERNAL_H
#define ORDO_SRV_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "server/server.h"
#include "wordnet/wn_search.h"
#include "wordnet/wordnet.h"

/* ---- the page's files, embedded by page.c ------------------------------ */
typedef struct srv_asset {
    const char *name;      /* "/app.js" */
    const char *type;      /* Content-Type */
    const unsigned char *data;
    size_t len;
} srv_asset;
int srv_asset_find(const char *url, srv_asset *out);  /* 0 or -1 */

/* ---- the queue (queue.c) ----------------------------------------------- */
#define SRV_QMAX_ANN 2   /* at most two annotators per image */

typedef struct srv_qitem {
    int64_t id;
    char reason[16];       /* eval, uncertain, novel, diverse, review... */
    int need;              /* annotators wanted: 1 or 2 */
    int64_t done_by[SRV_QMAX_ANN];       /* annotator ids, 0 = none */
    int64_t lease_by[SRV_QMAX_ANN];
    double lease_until[SRV_QMAX_ANN];
} srv_qitem;

#define SRV_MAX_GROUP 64   /* members one group answer may label (<= SRV_MAX_IDS) */

struct srv_gm { int64_t img, gid; };   /* a near-duplicate group member */

typedef struct srv_queue {
    pthread_mutex_t mu;
    srv_qitem *items;
    size_t n, cap;
    int64_t batch_no;       /* bumps at each refill */
    /* every classified image, sorted by id, for suggestions and the grid */
    ordo_store_item *all;
    size_t nall;
    unsigned char *labeled; /* per `all` entry: 1 if it has a current answer */
    size_t nlabeled;
    /* the composer thread (refills in the background) */
    pthread_t thread;
    pthread_cond_t cv;
    int started, stop, want_refill, refilling, want_warm;
    char error[ORDO_ERR_MAX];   /* the last refill's failure, "" if none */
    ordo_store *store;
    int want_retrain, training;
    char train_msg[ORDO_ERR_MAX];   /* the last retraining's outcome */
    char leak_msg[400];             /* ... and its leak guard's (audit_store.h) */
    ordo_store *emb_store;          /* read-only handle owning the map below */
    const uint16_t *emb;            /* embedding map for suggestions */
    size_t emb_rows;
    const uint16_t *logits;         /* logit map (ImageNet ties of the label set) */
    size_t logit_rows;
    int emb_dim, logit_dim;         /* the project's widths (ordo_store_embed_dim) */
    struct srv_nc *nc;              /* the per-answer model (suggest.c) */
    char **sugg;                    /* per `all` entry: suggestions JSON ... */
    uint64_t *sugg_stamp;           /* ... valid while srv_suggest_stamp equals this */
    /* the newest audit's near-duplicate groups and the evaluation sample
     * (groups.c), reloaded at each refill */
    int64_t *grp_img, *grp_gid;     /* ngrp members, image id order */
    struct srv_gm *grp_by;          /* the same, by (group, image) */
    size_t ngrp;
    int64_t *eval_ids;              /* sorted */
    size_t neval;
    int64_t audit_run;              /* the newest audit run loaded (0: none) */
    double audit_polled;
} srv_queue;

/* ---- the server -------------------------------------------------------- */
struct ordo_srv {
    struct MHD_Daemon *daemon;
    ordo_srv_opts o;
    char project[PATH_MAX];
    char cache_dir[PATH_MAX];
    char bind[64];
    int port;
    int need_token;
    unsigned char secret[32];
    int64_t local_id;       /* annotator "local" (loopback mode), else 0 */

    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    ordo_store **pool;
    int npool, nfree;
    ordo_store **free_list;

    /* the label writer (server.c): jobs queued by workers, group commit */
    pthread_t writer;
    int writer_started;
    pthread_mutex_t w_mu;
    pthread_cond_t w_cv;
    struct srv_job *w_head, *w_tail;
    int w_stop;
    ordo_store *w_store;

    struct ordo_learn_model *model;  /* newest retrained model (model.c), or NULL */
    int model_version;
    int page_trainings;     /* retrainings this server ran (model.c) */
    int answers_since_train;

    ordo_wn *wn;
    char **own_classes;     /* the logit columns' names when an imported model's
                               probabilities are over its own classes, else NULL
                               (ImageNet's: wn) */
    int nown;
    char *synsets_json;     /* [["n0..","name"],...] built once */
    size_t synsets_len;
    srv_queue q;
    ordo_wn_index *wnix;    /* every WordNet noun synset, for /api/search */

    pthread_mutex_t ls_mu;  /* guards ls */
    ordo_srv_labelset *ls;  /* the project's label set (labelset.c) */
    unsigned ls_gen;        /* bumps when ls changes */

    /* the request deadline's reaper (server.c) */
    pthread_t reaper;
    int reaper_started, reaper_stop;
    pthread_mutex_t r_mu;
    pthread_cond_t r_cv;
    struct srv_conn *conns;  /* open connections, oldest request first */
};

ordo_store *srv_store_get(ordo_srv *srv);
void srv_store_put(ordo_srv *srv, ordo_store *s);

/* One authenticated annotator. */
typedef struct srv_who {
    int64_t id;
    char name[ORDO_SRV_NAME_MAX + 1];
    int role;               /* ORDO_SRV_ANNOTATOR, _REVIEWER or _ADMIN */
} srv_who;

/* team.c */
int srv_team_init(ordo_store *s, ordo_err *err);          /* CREATE TABLEs */
int srv_user_by_token(ordo_store *s, const char *token, srv_who *who, ordo_err *err);
int srv_user_ensure(ordo_store *s, const char *name, int64_t *id, ordo_err *err);
/* 1 for not-sports / unclear, 2 for skip, 0 for any other label */
int srv_label_special(const char *label);
/* The current answer of image id: its newest event's label (out, "" if none
 * or retracted) and annotator (who, may be NULL). 0, or -1 with err. */
int srv_current_answer(ordo_store *s, int64_t id, char *label, size_t lcap, char *who,
                       size_t wcap, ordo_err *err);
/* 1 if annotator who's own newest event on image id is an answer, else 0;
 * -1 with err. */
int srv_own_answer(ordo_store *s, int64_t id, const char *who, ordo_err *err);
/* The annotator's last n answers, newest first, as JSON (history strip). */
int srv_history_json(ordo_srv *srv, ordo_store *s, const srv_who *who, int n, FILE *f,
                     ordo_err *err);
/* Per-annotator accuracy on gold photos: images answered by two or more
 * annotators whose reviewed (or agreed) answer is known. JSON array. */
int srv_gold_json(ordo_store *s, FILE *f, ordo_err *err);
int srv_project_labels_json(ordo_store *s, FILE *f, ordo_err *err);
int srv_stats_json(ordo_srv *srv, ordo_store *s, FILE *f, ordo_err *err);
int srv_review_json(ordo_srv *srv, ordo_store *s, FILE *f, ordo_err *err);

/* labelset.c */
int srv_labelset_init(ordo_store *s, ordo_err *err);     /* CREATE TABLEs */
int srv_labelset_open(ordo_srv *srv, ordo_store *s, ordo_err *err);   /* (re)load srv->ls */
int srv_labelset_resolve(ordo_srv *srv, ordo_store *s, const char *label, long synset,
                         char *out, size_t cap, int *closed, ordo_err *err);

/* suggest.c: the per-answer model (nearest class means) and the ranking of
 * the project's labels for keys 1-5. Callers hold q->mu. */
int srv_nc_init(ordo_srv *srv, ordo_store *s, ordo_err *err);
void srv_nc_free(srv_queue *q);
/* One committed event (label "skip", "" or NULL = retracted). */
void srv_nc_answer(ordo_srv *srv, int64_t id, const char *annotator, const char *label);
/* The ledger (replayed from the store's events at start, then fed by the
 * writer after each commit): the one source of the progress counters.
 * labeled = images whose newest event is an answer (as `ordo labels` and
 * `ordo status` count them); mine = images whose newest event by that
 * annotator is an answer. Callers hold q->mu. */
int64_t srv_ledger_labeled(const srv_queue *q);
int64_t srv_ledger_mine(const srv_queue *q, const char *annotator);
void srv_ledger_annotators_json(const srv_queue *q, FILE *f);
int srv_suggest_json(ordo_srv *srv, int64_t id, FILE *f);
/* The same, plus (order != NULL) every candidate label's name best first. */
int srv_suggest_order_json(ordo_srv *srv, int64_t id, FILE *f, FILE *order);
int srv_nc_answers(const srv_queue *q);   /* answers the model holds */
/* Changes whenever a ranking could (an answer, the label set, a model):
 * the key of the per-image suggestion cache. Caller holds q->mu. */
uint64_t srv_suggest_stamp(const ordo_srv *srv);

/* queue.c */
ssize_t srv_queue_index(const srv_queue *q, int64_t id);   /* row in q->all, or -1 */
int srv_queue_holds(ordo_srv *srv, const srv_who *who, int64_t id);   /* leased/answered */
int srv_queue_init(ordo_srv *srv, ordo_store *s, ordo_err *err);
void srv_queue_free(srv_queue *q);
/* Writes {"items":[...],"progress":{...}} for annotator who. */
int srv_queue_next_json(ordo_srv *srv, ordo_store *s, const srv_who *who, int n, FILE *f);
int srv_queue_start(ordo_srv *srv, ordo_err *err);   /* the composer thread */
void srv_queue_stop(ordo_srv *srv);
void srv_queue_request_refill(ordo_srv *srv);
/* near > 0: the grid of that image's nearest neighbours ("more like
 * this"), else a seed from the queue and its neighbours. */
int srv_queue_grid_json(ordo_srv *srv, ordo_store *s, const srv_who *who, int n,
                        int64_t near, FILE *f, ordo_err *err);
/* {"id":..,"file":..,"folder":..} fields of image id (no braces). */
void srv_item_place_json(ordo_store *s, int64_t id, FILE *f);
/* After a commit: label = the answer, NULL = an undo. */
void srv_queue_done(ordo_srv *srv, const srv_who *who, int64_t id, const char *label);
int srv_queue_reason(ordo_srv *srv, int64_t id, char *out, size_t cap);
int srv_item_suggestions_json(ordo_srv *srv, int64_t id, FILE *f);   /* holds q->mu */
int srv_queue_need(const ordo_srv *srv, int64_t id);
int srv_queue_refill(ordo_srv *srv, ordo_store *s, ordo_err *err);

void srv_queue_request_retrain(ordo_srv *srv);

/* groups.c: near-duplicate groups on the page */
int srv_groups_load(ordo_srv *srv, ordo_store *s, ordo_err *err);   /* takes q->mu */
void srv_groups_free(srv_queue *q);
/* Requests a refill when `ordo audit` saved a newer run (checked at most
 * every few seconds). Takes q->mu. */
void srv_groups_poll(ordo_srv *srv, ordo_store *s);
/* Callers hold q->mu. */
int srv_is_eval(const srv_queue *q, int64_t id);
/* The group id of image id (members: its size), -1 if in none. */
int64_t srv_group_of(const srv_queue *q, int64_t id, size_t *members);
/* GET /api/group?id=: the group of image id and its members. Takes q->mu. */
int srv_group_json(ordo_srv *srv, ordo_store *s, const srv_who *who, int64_t id, FILE *f,
                   ordo_err *err);
/* 0 if who may label ids[] with the group of `shown` (members of it that
 * are not evaluation images, double-annotation items or leased to someone
 * else); -1 with msg, or -2 when `shown` is no image. Takes q->mu. */
int srv_group_check(ordo_srv *srv, const srv_who *who, int64_t shown, const int64_t *ids,
                    int n, char *msg, size_t cap);

/* model.c */
int srv_model_init(ordo_srv *srv, ordo_store *s, ordo_err *err);
void srv_model_free(ordo_srv *srv);
int srv_model_train(ordo_srv *srv, ordo_store *s, ordo_err *err);
void srv_model_note_answers(ordo_srv *srv, int n);
int srv_model_stats_json(ordo_srv *srv, ordo_store *s, FILE *f, ordo_err *err);

#define SRV_VIEW_SIDE 1280   /* the labeling view's image */
#define SRV_THUMB_SIDE 256   /* grid thumbnails */

/* thumb.c: path of a cached JPEG of image id, longer side <= side. */
int srv_thumb(ordo_srv *srv, ordo_store *s, int64_t id, int side, char *out,
              size_t cap, ordo_err *err);

/* json helpers */
void srv_json_str(FILE *f, const char *s);
double srv_now(void);

#endif
