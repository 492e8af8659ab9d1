/* server.h - the labeling web server (libmicrohttpd) and its page.
 *
 * `ordo serve` runs one ordo_srv: an HTTP server inside the binary that
 * serves a plain HTML/CSS/JS page (embedded at build time from
 * src/server/page/) and a small JSON API over the project store.
 *
 * Safety model (see README "Labeling"):
 *  - Bound to 127.0.0.1 / ::1 (the default), requests without a token act as
 *    the annotator "local"; the Host header must name the loopback address
 *    (DNS-rebinding guard). Bound to any other address, every request except
 *    the login page and the page's static files needs an annotator token
 *    (cookie set by /login?t=TOKEN, or `Authorization: Bearer TOKEN`).
 *  - State-changing requests (POST only) need the X-Ordo-CSRF header the page
 *    gets from /api/me, and a matching Origin when the browser sends one; the
 *    session cookie is HttpOnly and SameSite=Strict.
 *  - Images and thumbnails are addressed by database id only; the page's files
 *    come from memory. No request path ever reaches the file system.
 *  - Request bodies, header bytes, header counts, connections per IP and idle
 *    time are capped (slow-loris clients are dropped by the idle timeout and
 *    can hold at most `per_ip` connections).
 *  - Every label the API acknowledges is committed before the response.
 *
 * Label events go to the store's `labels` table through
 * ordo_store_labels_add (source "ui", or "review"; reason = why the composer
 * queued the image). Special answers and the rule for a label are the
 * store's (ORDO_STORE_LABEL_*, ordo_store_label_ok); an undo appends "skip" with reason
 * "undo" (learn and rank read a newest "skip" as "not labeled").
 *
 * Tables owned here (prefix srv_): srv_annotators(id, name UNIQUE,
 * token_sha256 UNIQUE, created, disabled). Retraining from the page stores
 * its models in learn's learn_models table, as `ordo train` does.
 */
#ifndef ORDO_SERVER_H
#define ORDO_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "store/store.h"
#include "wordnet/wordnet.h"

#define ORDO_SRV_NAME_MAX 64       /* bytes of one annotator name */
#define ORDO_SRV_TOKEN_LEN 43      /* base64url of 32 random bytes */

/* Roles, each allowed what the one before it may do: an annotator answers
 * and undoes or changes only their own answers; a reviewer also resolves
 * disagreements and corrects anyone's answer; an admin also edits the label
 * set. Without tokens (loopback) the one user "local" is admin. */
enum { ORDO_SRV_ANNOTATOR = 0, ORDO_SRV_REVIEWER = 1, ORDO_SRV_ADMIN = 2 };

typedef struct ordo_srv ordo_srv;  /* opaque */

typedef struct ordo_srv_opts {
    const char *project;     /* project root (holds .ordo/); required */
    const char *bind;        /* address to bind; NULL = "127.0.0.1" */
    int port;                /* 0 = any free port (see ordo_srv_port) */
    int threads;             /* worker threads; 0 = 4 */
    int conn_timeout_s;      /* idle connection timeout; 0 = 15 */
    int request_deadline_s;  /* a request's headers and body must arrive
                                within this many seconds in total, however
                                steadily they trickle; 0 = 10 */
    int max_conns;           /* total connections; 0 = 512 */
    int per_ip;              /* connections per client IP; 0 = 256 (loopback
                                load tests share one IP; behind a reverse
                                proxy every client shares its address) */
    size_t max_body;         /* request body bytes; 0 = 64 KiB */
    int max_headers;         /* header lines per request; 0 = 64 */
    double double_share;     /* share of images labeled by two annotators
                                (0..1); negative = default 0.1 */
    int batch;               /* queue batch size; 0 = 200 */
    int retrain_every;       /* retrain after this many new answers; 0 = 100,
                                negative = only on request */
    int store_flags;         /* extra ordo_store_open flags (tests: FAST) */
} ordo_srv_opts;

/* Opens the project, creates the srv_ tables if needed, and starts serving
 * on background threads. Returns NULL with err on failure (address in use,
 * no project, ...). */
ordo_srv *ordo_srv_start(const ordo_srv_opts *opts, ordo_err *err);

/* The port actually bound (useful with opts.port = 0). */
int ordo_srv_port(const ordo_srv *srv);

/* 1 if requests need a token (bound beyond 127.0.0.1 / ::1). */
int ordo_srv_requires_token(const ordo_srv *srv);

/* Stops serving, waits for in-flight requests, frees everything. */
void ordo_srv_stop(ordo_srv *srv);

/* ---- annotators (also used by `ordo user`) ----------------------------- */

/* Creates annotator `name` (1..ORDO_SRV_NAME_MAX bytes of [A-Za-z0-9._-])
 * with a fresh random token, written NUL-terminated to token (cap >=
 * ORDO_SRV_TOKEN_LEN + 1). Only the token's SHA-256 is stored, so this is
 * the one time it can be shown. With `reset`, an existing annotator gets a
 * new token (the old one stops working); without, an existing name fails. */
int ordo_srv_user_add(ordo_store *s, const char *name, int reset, char *token,
                      size_t cap, ordo_err *err);

/* Sets an existing annotator's role (ORDO_SRV_ANNOTATOR, _REVIEWER, _ADMIN). */
int ordo_srv_user_role(ordo_store *s, const char *name, int role, ordo_err *err);
const char *ordo_srv_role_name(int role);          /* "annotator", ... */
int ordo_srv_role_parse(const char *text);         /* -1 if unknown */

/* Calls fn(name, labels_given, ctx) for each annotator in name order. */
int ordo_srv_user_list(ordo_store *s,
                       void (*fn)(const char *name, int64_t labels, void *ctx),
                       void *ctx, ordo_err *err);

/* ---- the project's label set (labelset.c, table srv_labelset) ------------ */

typedef struct ordo_srv_label {
    char name[ORDO_STORE_LABEL_MAX + 1];    /* what label events store and show */
    char parent[ORDO_STORE_LABEL_MAX + 1];  /* "" at the top level */
    long synset;                          /* WordNet tie (offset id), -1 if none */
} ordo_srv_label;

typedef struct ordo_srv_labelset {
    ordo_srv_label *v;   /* in declaration order */
    size_t n, cap;
    int closed;          /* 1: answers outside the set are refused */
} ordo_srv_labelset;

/* Parses the label set file format (see labelset.c); wn (may be NULL) ties
 * labels to synsets. NULL with err naming origin and line on bad input. */
ordo_srv_labelset *ordo_srv_labelset_parse(const ordo_wn *wn, const char *text, size_t len,
                                           const char *origin, ordo_err *err);
/* The stored set (empty if none was declared). */
ordo_srv_labelset *ordo_srv_labelset_load(ordo_store *s, ordo_err *err);
/* Adds ls's labels (names already stored are kept as they are); replace
 * first empties the set. The closed flag is written when replace or set. */
int ordo_srv_labelset_store(ordo_store *s, const ordo_srv_labelset *ls, int replace,
                            ordo_err *err);
/* Opens (0) or closes (1) the stored set. */
int ordo_srv_labelset_close(ordo_store *s, int closed, ordo_err *err);
/* Writes ls in the file format (readable back by the parser). */
int ordo_srv_labelset_write(FILE *f, const ordo_srv_labelset *ls);
int ordo_srv_labelset_find(const ordo_srv_labelset *ls, const char *name);   /* index or -1 */
void ordo_srv_labelset_free(ordo_srv_labelset *ls);

/* ---- agreement (double annotation) ------------------------------------- */

typedef struct ordo_srv_kappa {
    char label[ORDO_STORE_LABEL_MAX + 1];
    int64_t n;         /* images with two annotators' answers */
    int64_t a_yes, b_yes, both_yes;
    double kappa;      /* Cohen's kappa of "is label" vs "is not"; NAN if undefined */
} ordo_srv_kappa;

/* Cohen's kappa over images answered by at least two annotators (the two
 * earliest annotators' newest answers; skips and retractions excluded):
 * overall (all labels as categories) in *overall, and per label (one vs
 * rest) in a malloc'd array *per (free()), *n entries, most frequent label
 * first. Kappa (Cohen 1960): (p_o - p_e) / (1 - p_e). */
int ordo_srv_agreement(ordo_store *s, double *overall, int64_t *pairs,
                       ordo_srv_kappa **per, size_t *n, ordo_err *err);

#endif
