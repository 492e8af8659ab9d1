/* server.c - the HTTP layer: libmicrohttpd setup, limits, authentication,
 * cross-site protection and routing. The handlers' data work lives in
 * queue.c (what to label), team.c (who labels, label events, agreement) and
 * thumb.c (images). See server.h for the safety model. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "learn/learn_store.h"
#include "server/srv_internal.h"

#define SRV_MAX_IDS 256      /* images in one grid answer */

static int search_json(ordo_srv *srv, const char *q, int n, FILE *f);


/* ---- the pool of store handles: one per worker at a time --------------- */

ordo_store *srv_store_get(ordo_srv *srv)
{
    pthread_mutex_lock(&srv->pool_mu);
    while (srv->nfree == 0) pthread_cond_wait(&srv->pool_cv, &srv->pool_mu);
    ordo_store *s = srv->free_list[--srv->nfree];
    pthread_mutex_unlock(&srv->pool_mu);
    return s;
}

void srv_store_put(ordo_srv *srv, ordo_store *s)
{
    pthread_mutex_lock(&srv->pool_mu);
    srv->free_list[srv->nfree++] = s;
    pthread_cond_signal(&srv->pool_cv);
    pthread_mutex_unlock(&srv->pool_mu);
}

/* ---- one request ---------------------------------------------------------- */

typedef struct srv_job srv_job;

typedef struct srv_req {
    char *body;
    size_t len, cap;
    int too_big;
    int answered;     /* an early error response was queued */
    srv_job *job;     /* a label write handed to the writer thread */
} srv_req;

/* One label write. The worker that parsed it suspends the connection and
 * queues the job; the writer thread commits a whole group of jobs in one
 * transaction (one fsync for many labels), then resumes the connections,
 * whose handlers send the result. Workers thus never wait on the disk or on
 * SQLite's write lock, so reads stay fast while labels pour in. */
enum { SRV_JOB_LABEL, SRV_JOB_UNDO };
struct srv_job {
    srv_job *next;
    struct MHD_Connection *c;
    int kind;
    srv_who who;
    const char *source;            /* "ui" or "review" */
    char label[ORDO_STORE_LABEL_MAX + 1];
    int n;
    int64_t ids[SRV_MAX_IDS];
    int64_t group_of;              /* a group answer: the photo on screen (else 0) */
    unsigned status;               /* result: HTTP status ... */
    char *body;                    /* ... and JSON body (malloc'd) */
    size_t len;
};

static void job_free(srv_job *j)
{
    if (j) free(j->body);
    free(j);
}

static void add_common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self';"
                            " script-src 'self'; object-src 'none'; base-uri 'none';"
                            " form-action 'self'; frame-ancestors 'none'");
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type,
                                const void *data, size_t len, enum MHD_ResponseMemoryMode mode,
                                const char *cache)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (!r) return MHD_NO;
    add_common_headers(r);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", cache ? cache : "no-store");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_err(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return MHD_NO;
    fputs("{\"error\":", f);
    srv_json_str(f, msg);
    fputs("}\n", f);
    fclose(f);
    enum MHD_Result ok = send_buf(c, status, "application/json", buf, len, MHD_RESPMEM_MUST_FREE,
                                  NULL);
    if (ok == MHD_NO) free(buf);
    return ok;
}

/* Sends a memstream's JSON (takes ownership of buf). */
static enum MHD_Result send_json(struct MHD_Connection *c, char *buf, size_t len)
{
    enum MHD_Result ok = send_buf(c, MHD_HTTP_OK, "application/json", buf, len,
                                  MHD_RESPMEM_MUST_FREE, NULL);
    if (ok == MHD_NO) free(buf);
    return ok;
}

/* ---- parsing untrusted input ---------------------------------------------- */

/* A database id: 1 to 18 decimal digits, nothing else. */
static int parse_id(const char *s, int64_t *id)
{
    if (!s || !*s) return -1;
    int64_t v = 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 18) return -1;
        v = v * 10 + (s[n] - '0');
    }
    if (v <= 0) return -1;
    *id = v;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Finds key in an application/x-www-form-urlencoded body and decodes its
 * value into out. Returns the decoded length, or -1 if absent, malformed or
 * longer than cap - 1. */
static int form_get(const char *body, size_t len, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key), i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&') j++;
        if (j - i > klen && !memcmp(body + i, key, klen) && body[i + klen] == '=') {
            size_t o = 0;
            for (size_t k = i + klen + 1; k < j; k++) {
                int ch = (unsigned char)body[k];
                if (ch == '+') ch = ' ';
                else if (ch == '%') {
                    if (k + 2 >= j) return -1;
                    int h = hexval(body[k + 1]), l = hexval(body[k + 2]);
                    if (h < 0 || l < 0) return -1;
                    ch = h * 16 + l;
                    k += 2;
                }
                if (ch == 0 || o + 1 >= cap) return -1;
                out[o++] = (char)ch;
            }
            out[o] = 0;
            return (int)o;
        }
        i = j + 1;
    }
    return -1;
}

/* ---- who is asking ---------------------------------------------------------- */

static void csrf_for(const ordo_srv *srv, const srv_who *who, char out[65])
{
    unsigned char buf[32 + ORDO_SRV_NAME_MAX + 1], h[32];
    unsigned int n = 32;
    size_t nl = strlen(who->name);
    memcpy(buf, srv->secret, 32);
    memcpy(buf + 32, who->name, nl);
    EVP_Digest(buf, 32 + nl, h, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", h[i]);
}

static const char *request_token(struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (a && !strncmp(a, "Bearer ", 7)) return a + 7;
    return MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "ordo_token");
}

/* 0 and fills who; else an HTTP status to refuse with. */
static unsigned authenticate(ordo_srv *srv, ordo_store *s, struct MHD_Connection *c,
                             srv_who *who)
{
    const char *tok = request_token(c);
    if (tok && *tok) {
        ordo_err e;
        return srv_user_by_token(s, tok, who, &e) == 0 ? 0 : MHD_HTTP_UNAUTHORIZED;
    }
    if (srv->need_token) return MHD_HTTP_UNAUTHORIZED;
    who->id = srv->local_id;
    snprintf(who->name, sizeof who->name, "local");
    who->role = ORDO_SRV_ADMIN;   /* loopback: the machine's own user */
    return 0;
}

/* Loopback mode trusts any local process, so it must not trust a web page
 * that merely resolves its own host name to 127.0.0.1 (DNS rebinding): the
 * Host header has to be a loopback name. */
static int host_ok(const ordo_srv *srv, struct MHD_Connection *c)
{
    if (srv->need_token) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!h) return 0;
    char want[80];
    const char *names[] = {"127.0.0.1", "localhost", "[::1]"};
    for (int i = 0; i < 3; i++) {
        snprintf(want, sizeof want, "%s:%d", names[i], srv->port);
        if (!strcmp(h, want)) return 1;
    }
    return 0;
}

/* Cross-site protection for POST: the CSRF header (a page from another
 * origin cannot read /api/me to learn it), plus Origin / Fetch metadata
 * when the browser sends them. */
static int csrf_ok(const ordo_srv *srv, struct MHD_Connection *c, const srv_who *who)
{
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") && strcmp(site, "none")) return 0;
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (origin) {
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        char want[300];
        if (!host) return 0;
        snprintf(want, sizeof want, "http://%s", host);
        if (strcmp(origin, want)) return 0;
    }
    const char *got = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Ordo-CSRF");
    char exp[65];
    csrf_for(srv, who, exp);
    if (!got || strlen(got) != 64) return 0;
    unsigned diff = 0;   /* constant time */
    for (int i = 0; i < 64; i++) diff |= (unsigned)(got[i] ^ exp[i]);
    return diff == 0;
}

/* ---- handlers ------------------------------------------------------------- */

static enum MHD_Result send_asset(struct MHD_Connection *c, const srv_asset *a)
{
    return send_buf(c, MHD_HTTP_OK, a->type, a->data, a->len, MHD_RESPMEM_PERSISTENT,
                    "no-cache");
}

/* /login?t=TOKEN: a valid token becomes an HttpOnly, SameSite=Strict cookie
 * and the browser goes to the page without the token in its address bar. */
static enum MHD_Result do_login(ordo_srv *srv, struct MHD_Connection *c)
{
    const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "t");
    srv_asset a;
    if (!t) {
        srv_asset_find("/login", &a);
        return send_asset(c, &a);
    }
    ordo_store *s = srv_store_get(srv);
    srv_who who;
    ordo_err e;
    int ok = srv_user_by_token(s, t, &who, &e);
    srv_store_put(srv, s);
    if (ok < 0) {   /* a person followed a link: answer in HTML, not JSON */
        static const char page[] =
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>ordo - sign-in link not valid</title></head><body>"
            "<h1>This sign-in link is not valid</h1>"
            "<p>The token in it is unknown or was replaced (<code>ordo user add NAME"
            " --reset</code> makes a new one and retires the old). Ask the project owner"
            " for a new link.</p><p><a href=\"/\">Back to the labeling page</a></p>"
            "</body></html>\n";
        return send_buf(c, MHD_HTTP_UNAUTHORIZED, "text/html; charset=utf-8", page,
                        sizeof page - 1, MHD_RESPMEM_PERSISTENT, NULL);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    char cookie[128];
    snprintf(cookie, sizeof cookie,
             "ordo_token=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000", t);
    add_common_headers(r);
    MHD_add_response_header(r, "Set-Cookie", cookie);
    MHD_add_response_header(r, "Location", "/");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result res = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
    MHD_destroy_response(r);
    return res;
}

static enum MHD_Result do_image(ordo_srv *srv, ordo_store *s, struct MHD_Connection *c,
                                const char *idtext, int side)
{
    int64_t id;
    if (parse_id(idtext, &id) < 0) return send_err(c, MHD_HTTP_NOT_FOUND, "no such image");
    char path[PATH_MAX];
    ordo_err e;
    if (srv_thumb(srv, s, id, side, path, sizeof path, &e) < 0)
        return send_err(c, MHD_HTTP_NOT_FOUND, "no such image");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0) close(fd);
        return send_err(c, MHD_HTTP_NOT_FOUND, "no such image");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((size_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    add_common_headers(r);
    MHD_add_response_header(r, "Content-Type", "image/jpeg");
    /* no other site may embed the photos (Spectre-class leaks, hotlinking) */
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    /* An id names immutable content, so browsers may keep it. */
    MHD_add_response_header(r, "Cache-Control", "private, max-age=86400");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static int query_int(struct MHD_Connection *c, const char *key, int def, int lo, int hi)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    if (!v || !*v) return def;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < lo) return lo;
    return x > hi ? hi : (int)x;
}

/* Parses a label / undo request into a job and hands it to the writer,
 * suspending the connection until the writer has committed it. */
static enum MHD_Result queue_write(ordo_srv *srv, ordo_store *s, struct MHD_Connection *c,
                                   const srv_who *who, srv_req *rq, int kind, int many,
                                   const char *source)
{
    char idbuf[SRV_MAX_IDS * 20];
    srv_job *j = calloc(1, sizeof *j);
    if (!j) return MHD_NO;
    j->kind = kind;
    j->who = *who;
    j->source = source;
    j->c = c;
    if (kind == SRV_JOB_LABEL &&
        (form_get(rq->body, rq->len, "label", j->label, sizeof j->label) < 1 ||
         !ordo_store_label_ok(j->label))) {
        free(j);
        return send_err(c, MHD_HTTP_BAD_REQUEST,
                        "label must be " ORDO_STORE_LABEL_RULE);
    }
    if (kind == SRV_JOB_LABEL) {
        /* stored by readable name; a WordNet pick names its synset apart */
        char wnid[16];
        long synset = -1;
        if (form_get(rq->body, rq->len, "synset", wnid, sizeof wnid) >= 0) {
            int64_t off;
            if (wnid[0] != 'n' || strlen(wnid) != 9 || parse_id(wnid + 1, &off) < 0) {
                free(j);
                return send_err(c, MHD_HTTP_BAD_REQUEST, "synset must look like n01234567");
            }
            synset = (long)off;
        }
        ordo_err e;
        int closed;
        char name[ORDO_STORE_LABEL_MAX + 1];
        if (srv_labelset_resolve(srv, s, j->label, synset, name, sizeof name, &closed, &e) < 0) {
            free(j);
            return send_err(c, closed ? MHD_HTTP_FORBIDDEN : MHD_HTTP_BAD_REQUEST, e.msg);
        }
        memcpy(j->label, name, sizeof name);
    }
    if (form_get(rq->body, rq->len, many ? "ids" : "id", idbuf, sizeof idbuf) < 1) {
        free(j);
        return send_err(c, MHD_HTTP_BAD_REQUEST, "missing image id");
    }
    for (char *save = NULL, *t = strtok_r(idbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (j->n == SRV_MAX_IDS || parse_id(t, &j->ids[j->n]) < 0) {
            free(j);
            return send_err(c, MHD_HTTP_BAD_REQUEST, "bad image id list");
        }
        j->n++;
    }
    if (!j->n) {
        free(j);
        return send_err(c, MHD_HTTP_BAD_REQUEST, "missing image id");
    }
    if (many == 2) {   /* a group answer: id = the photo on screen, ids = its members */
        char msg[200];
        if (form_get(rq->body, rq->len, "id", idbuf, sizeof idbuf) < 1 ||
            parse_id(idbuf, &j->group_of) < 0) {
            free(j);
            return send_err(c, MHD_HTTP_BAD_REQUEST, "missing image id (the photo on screen)");
        }
        if (j->n > SRV_MAX_GROUP) {
            free(j);
            return send_err(c, MHD_HTTP_BAD_REQUEST, "too many images for one group answer");
        }
        int has = 0;
        for (int i = 0; i < j->n; i++) {
            has |= j->ids[i] == j->group_of;
            for (int k = 0; k < i; k++)
                if (j->ids[k] == j->ids[i]) {
                    free(j);
                    return send_err(c, MHD_HTTP_BAD_REQUEST, "an image twice in the id list");
                }
        }
        if (!has) {
            free(j);
            return send_err(c, MHD_HTTP_BAD_REQUEST, "ids must include id (the photo on screen)");
        }
        int gc = srv_group_check(srv, who, j->group_of, j->ids, j->n, msg, sizeof msg);
        if (gc < 0) {
            free(j);
            return send_err(c, gc == -2 ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST, msg);
        }
    }
    pthread_mutex_lock(&srv->w_mu);
    if (srv->w_stop) {
        pthread_mutex_unlock(&srv->w_mu);
        free(j);
        return send_err(c, MHD_HTTP_SERVICE_UNAVAILABLE, "server is stopping");
    }
    rq->job = j;
    MHD_suspend_connection(c);
    if (srv->w_tail) srv->w_tail->next = j;
    else srv->w_head = j;
    srv->w_tail = j;
    pthread_cond_signal(&srv->w_cv);
    pthread_mutex_unlock(&srv->w_mu);
    return MHD_YES;
}

static void job_result(srv_job *j, unsigned status, const char *msg)
{
    FILE *f = open_memstream(&j->body, &j->len);
    if (!f) { j->status = MHD_HTTP_INTERNAL_SERVER_ERROR; return; }
    j->status = status;
    fputs("{\"error\":", f);
    srv_json_str(f, msg);
    fputs("}\n", f);
    fclose(f);
}

/* Appends the label events of the jobs [head, stop) through the store's
 * writer (one transaction, durable when it returns 0). An undo is
 * the answer "skip" with reason "undo": learn and rank read a newest event
 * "skip" as "not labeled", which is what a retraction means. */
static int write_events(ordo_srv *srv, srv_job *head, srv_job *stop, ordo_err *err)
{
    size_t n = 0;
    for (srv_job *j = head; j != stop; j = j->next) n += (size_t)j->n;
    ordo_store_label_in *in = calloc(n ? n : 1, sizeof *in);
    char (*reason)[16] = calloc(n ? n : 1, sizeof *reason);
    if (!in || !reason) {
        free(in);
        free(reason);
        return ordo_err_set(err, "out of memory");
    }
    size_t k = 0;
    for (srv_job *j = head; j != stop; j = j->next)
        for (int i = 0; i < j->n; i++, k++) {
            in[k].image_id = j->ids[i];
            in[k].annotator = j->who.name;
            in[k].source = j->kind == SRV_JOB_UNDO ? "ui" : j->source;
            if (j->kind == SRV_JOB_UNDO) {
                in[k].label = ORDO_STORE_LABEL_SKIP;
                in[k].reason = "undo";
            } else {
                in[k].label = j->label;
                if (j->group_of && j->ids[i] != j->group_of)   /* answered with its group */
                    snprintf(reason[k], sizeof reason[k], "group");
                else srv_queue_reason(srv, j->ids[i], reason[k], sizeof reason[k]);
                in[k].reason = reason[k][0] ? reason[k] : NULL;
            }
        }
    int rc = ordo_store_labels_add(srv->w_store, in, n, err);
    free(in);
    free(reason);
    return rc;
}

/* One group: normally one transaction for every job that arrived meanwhile
 * (one fsync); if it fails, each job alone, so a bad image id fails only its
 * own request. Nothing is answered before its events are committed. */
/* An annotator may answer an image nobody has answered, one the queue
 * gave them, or one they have answered themselves; undoing or changing
 * another annotator's answer needs the reviewer role. Checked here, by the
 * one thread that writes labels, so no answer slips in between. */
static int job_allowed(ordo_srv *srv, const srv_job *j)
{
    if (j->who.role >= ORDO_SRV_REVIEWER) return 1;
    for (int i = 0; i < j->n; i++) {
        char label[ORDO_STORE_LABEL_MAX + 1], who[ORDO_SRV_NAME_MAX + 1];
        ordo_err e;
        if (srv_current_answer(srv->w_store, j->ids[i], label, sizeof label, who, sizeof who,
                               &e) < 0)
            return 0;
        if (!label[0] || !strcmp(who, j->who.name)) continue;
        if (j->kind == SRV_JOB_LABEL && srv_queue_holds(srv, &j->who, j->ids[i])) continue;
        /* a double-annotated image: their own answer is still theirs */
        if (srv_own_answer(srv->w_store, j->ids[i], j->who.name, &e) == 1) continue;
        return 0;
    }
    return 1;
}

/* *headp: the group; on return the same jobs, the allowed ones first. */
static void write_group(ordo_srv *srv, srv_job **headp)
{
    ordo_err e;
    srv_job *head = *headp;
    /* refused jobs leave the group first (they keep their 403) */
    srv_job *ok_head = NULL, **tail = &ok_head, *refused = NULL;
    for (srv_job *j = head, *next; j; j = next) {
        next = j->next;
        j->next = NULL;
        if (job_allowed(srv, j)) {
            *tail = j;
            tail = &j->next;
        } else {
            job_result(j, MHD_HTTP_FORBIDDEN, "this answer is another annotator's: only a"
                                              " reviewer may undo or change it");
            j->next = refused;
            refused = j;
        }
    }
    *tail = refused;   /* refused ones at the end: [head, stop) is written */
    head = *headp = ok_head ? ok_head : refused;
    srv_job *stop = refused;
    if (head == stop) return;
    if (write_events(srv, head, stop, &e) == 0) {
        for (srv_job *j = head; j != stop; j = j->next) j->status = MHD_HTTP_OK;
    } else {
        for (srv_job *j = head; j != stop; j = j->next) {
            if (write_events(srv, j, j->next, &e) == 0) j->status = MHD_HTTP_OK;
            else job_result(j, strstr(e.msg, "no image") ? MHD_HTTP_NOT_FOUND
                                                        : MHD_HTTP_SERVICE_UNAVAILABLE, e.msg);
        }
    }
    for (srv_job *j = head; j != stop; j = j->next) {
        if (j->status != MHD_HTTP_OK) continue;
        /* durable now: only from here on may the page hear "ok" */
        for (int i = 0; i < j->n; i++)
            srv_queue_done(srv, &j->who, j->ids[i], j->kind == SRV_JOB_LABEL ? j->label : NULL);
        FILE *f = open_memstream(&j->body, &j->len);
        if (!f) { j->status = MHD_HTTP_INTERNAL_SERVER_ERROR; continue; }
        if (j->kind == SRV_JOB_UNDO) {
            fprintf(f, "{\"ok\":true,\"item\":{\"id\":%lld,\"reason\":\"undo\",\"eval\":false,"
                       "\"suggestions\":", (long long)j->ids[0]);
            pthread_mutex_lock(&srv->q.mu);
            srv_item_suggestions_json(srv, j->ids[0], f);
            pthread_mutex_unlock(&srv->q.mu);
            fputs("}}", f);
        } else {
            pthread_mutex_lock(&srv->q.mu);
            fprintf(f, "{\"ok\":true,\"n\":%d,\"progress\":{\"labeled\":%lld,\"mine\":%lld,"
                       "\"images\":%zu}}", j->n, (long long)srv_ledger_labeled(&srv->q),
                    (long long)srv_ledger_mine(&srv->q, j->who.name), srv->q.nall);
            pthread_mutex_unlock(&srv->q.mu);
        }
        fclose(f);
    }
}

/* Answers (not undos) committed by a group, for the retraining threshold. */
static int group_answers(const srv_job *head)
{
    int n = 0;
    for (const srv_job *j = head; j; j = j->next)
        if (j->status == MHD_HTTP_OK && j->kind == SRV_JOB_LABEL) n += j->n;
    return n;
}

static void *writer_main(void *arg)
{
    ordo_srv *srv = arg;
    for (;;) {
        pthread_mutex_lock(&srv->w_mu);
        while (!srv->w_head && !srv->w_stop) pthread_cond_wait(&srv->w_cv, &srv->w_mu);
        srv_job *head = srv->w_head;
        srv->w_head = srv->w_tail = NULL;
        int stop = srv->w_stop;
        pthread_mutex_unlock(&srv->w_mu);
        if (!head && stop) break;
        write_group(srv, &head);
        srv_model_note_answers(srv, group_answers(head));
        for (srv_job *j = head, *next; j; j = next) {
            next = j->next;   /* j belongs to its request again once resumed */
            MHD_resume_connection(j->c);
        }
    }
    return NULL;
}

/* ---- the route table ------------------------------------------------------
 *
 * One row per endpoint (like the CLI's command table): method, path (exact,
 * or a prefix when it ends in '/'), the least role that may call it, and
 * its handler. A JSON handler writes its body to f and returns 0, or -1
 * with e (500); a raw handler answers the connection itself. */

typedef struct srv_call {
    ordo_srv *srv;
    ordo_store *s;
    struct MHD_Connection *c;
    const char *arg;        /* the rest of the path after a prefix route */
    const srv_who *who;
    srv_req *rq;
} srv_call;

typedef struct srv_route {
    const char *method;
    const char *path;
    int role;
    int (*json)(srv_call *x, FILE *f, ordo_err *e);
    enum MHD_Result (*raw)(srv_call *x);
} srv_route;

static enum MHD_Result send_ok(struct MHD_Connection *c)
{
    return send_buf(c, MHD_HTTP_OK, "application/json", "{\"ok\":true}", 11,
                    MHD_RESPMEM_PERSISTENT, NULL);
}

static enum MHD_Result r_label(srv_call *x)
{
    return queue_write(x->srv, x->s, x->c, x->who, x->rq, SRV_JOB_LABEL, 0, "ui");
}
static enum MHD_Result r_label_many(srv_call *x)
{
    return queue_write(x->srv, x->s, x->c, x->who, x->rq, SRV_JOB_LABEL, 1, "ui");
}
/* One answer for the photo on screen and the members of its near-duplicate
 * group the annotator kept selected (groups.c): one event each. */
static enum MHD_Result r_label_group(srv_call *x)
{
    return queue_write(x->srv, x->s, x->c, x->who, x->rq, SRV_JOB_LABEL, 2, "ui");
}
static enum MHD_Result r_undo(srv_call *x)
{
    return queue_write(x->srv, x->s, x->c, x->who, x->rq, SRV_JOB_UNDO, 0, "ui");
}
static enum MHD_Result r_resolve(srv_call *x)
{
    return queue_write(x->srv, x->s, x->c, x->who, x->rq, SRV_JOB_LABEL, 0, "review");
}
static enum MHD_Result r_retrain(srv_call *x)   /* trains in the background */
{
    srv_queue_request_retrain(x->srv);
    return send_ok(x->c);
}
static enum MHD_Result r_refresh(srv_call *x)   /* the composer refills in the background */
{
    srv_queue_request_refill(x->srv);
    return send_ok(x->c);
}
static enum MHD_Result r_image(srv_call *x)
{
    return do_image(x->srv, x->s, x->c, x->arg, SRV_VIEW_SIDE);
}
static enum MHD_Result r_thumb(srv_call *x)
{
    return do_image(x->srv, x->s, x->c, x->arg, SRV_THUMB_SIDE);
}

/* POST label set text (the file format): replaces the set (admin). */
static enum MHD_Result r_labelset_put(srv_call *x)
{
    srv_req *rq = x->rq;
    size_t cap = rq->len + 1;
    char *text = malloc(cap);
    if (!text) return MHD_NO;
    int n = form_get(rq->body, rq->len, "text", text, cap);
    ordo_err e = {{0}};
    if (n < 0) {
        free(text);
        return send_err(x->c, MHD_HTTP_BAD_REQUEST, "missing text (the label set file format)");
    }
    ordo_srv_labelset *ls = ordo_srv_labelset_parse(x->srv->wn, text, (size_t)n, "label set", &e);
    free(text);
    if (!ls) return send_err(x->c, MHD_HTTP_BAD_REQUEST, e.msg);
    int rc = ordo_srv_labelset_store(x->s, ls, 1, &e);
    ordo_srv_labelset_free(ls);
    if (rc < 0 || srv_labelset_open(x->srv, x->s, &e) < 0)
        return send_err(x->c, MHD_HTTP_INTERNAL_SERVER_ERROR, e.msg);
    return send_ok(x->c);
}

static int j_me(srv_call *x, FILE *f, ordo_err *e)
{
    (void)e;
    char csrf[65];
    csrf_for(x->srv, x->who, csrf);
    fputs("{\"annotator\":", f);
    srv_json_str(f, x->who->name);
    fprintf(f, ",\"role\":\"%s\",\"csrf\":\"%s\",\"token_required\":%s,\"project\":",
            ordo_srv_role_name(x->who->role), csrf, x->srv->need_token ? "true" : "false");
    srv_json_str(f, x->srv->project);
    fputc('}', f);
    return 0;
}
static int j_next(srv_call *x, FILE *f, ordo_err *e)
{
    (void)e;
    return srv_queue_next_json(x->srv, x->s, x->who, query_int(x->c, "n", 5, 1, 50), f);
}
static int j_grid(srv_call *x, FILE *f, ordo_err *e)
{
    int64_t near = 0;
    const char *v = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "near");
    if (v && parse_id(v, &near) < 0) return ordo_err_set(e, "bad image id");
    return srv_queue_grid_json(x->srv, x->s, x->who, query_int(x->c, "n", 16, 2, 64), near, f, e);
}
/* The suggestions for one image now (the per-answer model moves with every
 * answer, so the page asks again for the image on screen), with its file
 * name and folder. */
static int j_suggest(srv_call *x, FILE *f, ordo_err *e)
{
    int64_t id;
    const char *v = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "id");
    if (parse_id(v, &id) < 0) return ordo_err_set(e, "bad image id");
    char reason[16] = "";
    srv_queue_reason(x->srv, id, reason, sizeof reason);
    fputc('{', f);
    srv_item_place_json(x->s, id, f);   /* its file name and folder */
    fputs(",\"suggestions\":", f);
    pthread_mutex_lock(&x->srv->q.mu);
    int answers = srv_nc_answers(&x->srv->q);
    if (!strcmp(reason, "eval")) fputs("[],\"order\":[]", f);   /* never for the evaluation sample */
    else {
        char *ob = NULL;
        size_t ol = 0;
        FILE *of = open_memstream(&ob, &ol);
        if (!of) {
            pthread_mutex_unlock(&x->srv->q.mu);
            return ordo_err_set(e, "out of memory");
        }
        srv_suggest_order_json(x->srv, id, f, of);
        fclose(of);
        fputs(",\"order\":", f);   /* suggestions above, then the full order */
        fwrite(ob, 1, ol, f);
        free(ob);
    }
    pthread_mutex_unlock(&x->srv->q.mu);
    fprintf(f, ",\"answers\":%d}", answers);
    return 0;
}
static int j_group(srv_call *x, FILE *f, ordo_err *e)
{
    int64_t id;
    const char *v = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "id");
    if (parse_id(v, &id) < 0) return ordo_err_set(e, "bad image id");
    return srv_group_json(x->srv, x->s, x->who, id, f, e);
}
static int j_history(srv_call *x, FILE *f, ordo_err *e)
{
    return srv_history_json(x->srv, x->s, x->who, query_int(x->c, "n", 20, 1, 200), f, e);
}
static int j_item(srv_call *x, FILE *f, ordo_err *e)
{
    int64_t id;
    const char *v = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "id");
    if (parse_id(v, &id) < 0) return ordo_err_set(e, "bad image id");
    char label[ORDO_STORE_LABEL_MAX + 1], who[ORDO_SRV_NAME_MAX + 1];
    if (srv_current_answer(x->s, id, label, sizeof label, who, sizeof who, e) < 0) return -1;
    fputc('{', f);
    srv_item_place_json(x->s, id, f);
    fputs(",\"label\":", f);
    srv_json_str(f, label);
    fputs(",\"annotator\":", f);
    srv_json_str(f, label[0] ? who : "");
    fputc('}', f);
    return 0;
}
static int j_vocab(srv_call *x, FILE *f, ordo_err *e)
{
    fputs("{\"special\":[\"" ORDO_STORE_LABEL_NOT_SPORTS "\",\"" ORDO_STORE_LABEL_UNCLEAR "\",\""
          ORDO_STORE_LABEL_SKIP "\"],\"labels\":", f);
    int rc = srv_project_labels_json(x->s, f, e);
    /* the label set: [{"name","parent","synset"}], in declaration order */
    pthread_mutex_lock(&x->srv->ls_mu);
    const ordo_srv_labelset *ls = x->srv->ls;
    fprintf(f, ",\"closed\":%s,\"set\":[", ls && ls->closed ? "true" : "false");
    for (size_t i = 0; ls && i < ls->n; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        srv_json_str(f, ls->v[i].name);
        fputs(",\"parent\":", f);
        srv_json_str(f, ls->v[i].parent);
        if (ls->v[i].synset >= 0) fprintf(f, ",\"synset\":\"n%08ld\"", ls->v[i].synset);
        fputc('}', f);
    }
    pthread_mutex_unlock(&x->srv->ls_mu);
    fputs("],\"synsets\":", f);
    fwrite(x->srv->synsets_json, 1, x->srv->synsets_len, f);
    fputc('}', f);
    return rc;
}
static int j_labelset(srv_call *x, FILE *f, ordo_err *e)
{
    (void)e;
    char *buf = NULL;
    size_t len = 0;
    FILE *t = open_memstream(&buf, &len);
    if (!t) return ordo_err_set(e, "out of memory");
    pthread_mutex_lock(&x->srv->ls_mu);
    if (x->srv->ls) ordo_srv_labelset_write(t, x->srv->ls);
    pthread_mutex_unlock(&x->srv->ls_mu);
    fclose(t);
    fputs("{\"text\":", f);
    srv_json_str(f, buf ? buf : "");
    fputc('}', f);
    free(buf);
    return 0;
}
static int j_search(srv_call *x, FILE *f, ordo_err *e)
{
    const char *q = MHD_lookup_connection_value(x->c, MHD_GET_ARGUMENT_KIND, "q");
    fputs("{\"synsets\":", f);
    int rc = search_json(x->srv, q ? q : "", query_int(x->c, "n", 10, 1, 50), f);
    fputc('}', f);
    return rc < 0 ? ordo_err_set(e, "out of memory") : 0;
}
static int j_stats(srv_call *x, FILE *f, ordo_err *e) { return srv_stats_json(x->srv, x->s, f, e); }
static int j_review(srv_call *x, FILE *f, ordo_err *e) { return srv_review_json(x->srv, x->s, f, e); }

static const srv_route routes[] = {
    /* method  path               least role           json handler  raw handler */
    {"POST", "/api/label",        ORDO_SRV_ANNOTATOR, NULL,        r_label},
    {"POST", "/api/label_many",   ORDO_SRV_ANNOTATOR, NULL,        r_label_many},
    {"POST", "/api/label_group",  ORDO_SRV_ANNOTATOR, NULL,        r_label_group},
    {"POST", "/api/undo",         ORDO_SRV_ANNOTATOR, NULL,        r_undo},
    {"POST", "/api/resolve",      ORDO_SRV_REVIEWER,  NULL,        r_resolve},
    {"POST", "/api/retrain",      ORDO_SRV_ANNOTATOR, NULL,        r_retrain},
    {"POST", "/api/refresh",      ORDO_SRV_ANNOTATOR, NULL,        r_refresh},
    {"POST", "/api/labelset",     ORDO_SRV_ADMIN,     NULL,        r_labelset_put},
    {"GET",  "/api/image/",       ORDO_SRV_ANNOTATOR, NULL,        r_image},
    {"GET",  "/api/thumb/",       ORDO_SRV_ANNOTATOR, NULL,        r_thumb},
    {"GET",  "/api/me",           ORDO_SRV_ANNOTATOR, j_me,        NULL},
    {"GET",  "/api/next",         ORDO_SRV_ANNOTATOR, j_next,      NULL},
    {"GET",  "/api/grid",         ORDO_SRV_ANNOTATOR, j_grid,      NULL},
    {"GET",  "/api/suggest",      ORDO_SRV_ANNOTATOR, j_suggest,   NULL},
    {"GET",  "/api/history",      ORDO_SRV_ANNOTATOR, j_history,   NULL},
    {"GET",  "/api/item",         ORDO_SRV_ANNOTATOR, j_item,      NULL},
    {"GET",  "/api/group",        ORDO_SRV_ANNOTATOR, j_group,     NULL},
    {"GET",  "/api/vocab",        ORDO_SRV_ANNOTATOR, j_vocab,     NULL},
    {"GET",  "/api/labelset",     ORDO_SRV_ANNOTATOR, j_labelset,  NULL},
    {"GET",  "/api/search",       ORDO_SRV_ANNOTATOR, j_search,    NULL},
    {"GET",  "/api/stats",        ORDO_SRV_ANNOTATOR, j_stats,     NULL},
    {"GET",  "/api/review",       ORDO_SRV_REVIEWER,  j_review,    NULL},
};

static enum MHD_Result route_api(ordo_srv *srv, ordo_store *s, struct MHD_Connection *c,
                                 const char *url, int post, const srv_who *who,
                                 srv_req *rq)
{
    const char *method = post ? "POST" : "GET";   /* HEAD is answered as GET */
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const srv_route *r = &routes[i];
        size_t pl = strlen(r->path);
        int prefix = r->path[pl - 1] == '/';
        if (strcmp(r->method, method) || (prefix ? strncmp(url, r->path, pl) : strcmp(url, r->path)))
            continue;
        if (who->role < r->role)
            return send_err(c, MHD_HTTP_FORBIDDEN, r->role == ORDO_SRV_ADMIN
                                                       ? "this needs the admin role"
                                                       : "this needs the reviewer role");
        srv_call x = {srv, s, c, prefix ? url + pl : "", who, rq};
        if (r->raw) return r->raw(&x);
        char *buf = NULL;
        size_t len = 0;
        ordo_err e = {{0}};
        FILE *f = open_memstream(&buf, &len);
        if (!f) return MHD_NO;
        int rc = r->json(&x, f, &e);
        fclose(f);
        if (rc < 0) {
            free(buf);
            return send_err(c, strstr(e.msg, "bad image id") || strstr(e.msg, "no such image")
                                   ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR,
                            e.msg);
        }
        return send_json(c, buf, len);
    }
    return send_err(c, MHD_HTTP_NOT_FOUND, "no such endpoint");
}

/* ---- the request deadline ---------------------------------------------------
 *
 * libmicrohttpd's timeout is an idle timeout: a client that sends one header
 * byte every few seconds keeps a connection forever, and with enough of them
 * fills its address's connection quota. So every connection also carries the
 * time it started waiting for its current request; a reaper thread cuts
 * (shutdown) any that has not delivered its whole request within
 * request_deadline_s. A request being answered (or waiting for the label
 * writer) is never cut. */
struct srv_conn {
    struct srv_conn *prev, *next;
    int fd;
    double t0;      /* monotonic: when the current request began to arrive */
    int busy, cut;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    ordo_srv *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct srv_conn *k = calloc(1, sizeof *k);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!k) return;
        k->fd = ci ? ci->connect_fd : -1;
        k->t0 = mono_now();
        pthread_mutex_lock(&srv->r_mu);
        k->next = srv->conns;
        if (srv->conns) srv->conns->prev = k;
        srv->conns = k;
        pthread_mutex_unlock(&srv->r_mu);
        *socket_context = k;
        return;
    }
    /* closed: MHD calls this before it closes the socket, so the reaper
     * (which holds r_mu while it cuts) never touches a reused fd */
    struct srv_conn *k = *socket_context;
    if (!k) return;
    pthread_mutex_lock(&srv->r_mu);
    if (k->prev) k->prev->next = k->next;
    else srv->conns = k->next;
    if (k->next) k->next->prev = k->prev;
    pthread_mutex_unlock(&srv->r_mu);
    free(k);
    *socket_context = NULL;
}

static struct srv_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void conn_busy(ordo_srv *srv, struct MHD_Connection *c, int busy)
{
    struct srv_conn *k = conn_of(c);
    if (!k) return;
    pthread_mutex_lock(&srv->r_mu);
    k->busy = busy;
    if (!busy) k->t0 = mono_now();   /* the next request's clock starts now */
    pthread_mutex_unlock(&srv->r_mu);
}

static void *reaper_main(void *arg)
{
    ordo_srv *srv = arg;
    pthread_mutex_lock(&srv->r_mu);
    while (!srv->reaper_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000 * 1000;   /* a quarter second: deadline + 0.25 s at worst */
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&srv->r_cv, &srv->r_mu, &ts);
        double now = mono_now();
        for (struct srv_conn *k = srv->conns; k; k = k->next)
            if (!k->busy && !k->cut && k->fd >= 0 && now - k->t0 > srv->o.request_deadline_s) {
                shutdown(k->fd, SHUT_RDWR);   /* MHD sees the end and closes it */
                k->cut = 1;
            }
    }
    pthread_mutex_unlock(&srv->r_mu);
    return NULL;
}

/* Two Content-Length headers that disagree make the body's end ambiguous
 * (request smuggling behind a proxy): counted here, refused with 400. */
typedef struct cl_seen { const char *first; int conflict; } cl_seen;

static enum MHD_Result cl_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    cl_seen *cs = cls;
    if (strcasecmp(key, "Content-Length")) return MHD_YES;
    if (!cs->first) cs->first = value ? value : "";
    else if (strcmp(cs->first, value ? value : "")) cs->conflict = 1;
    return MHD_YES;
}

static enum MHD_Result send_err_close(struct MHD_Connection *c, unsigned status, const char *msg)
{
    static char buf[256];   /* constant text only */
    int n = snprintf(buf, sizeof buf, "{\"error\":\"%s\"}\n", msg);
    struct MHD_Response *r = MHD_create_response_from_buffer((size_t)n, buf,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    add_common_headers(r);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    ordo_srv *srv = cls;
    srv_req *rq = *con_cls;
    if (!rq) {   /* headers are in: refuse early what is too big or odd */
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        int nh = MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        rq->answered = 1;
        cl_seen cs = {NULL, 0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, cl_iter, &cs);
        if (cs.conflict)
            return send_err_close(c, MHD_HTTP_BAD_REQUEST, "conflicting Content-Length headers");
        if (nh > srv->o.max_headers)
            return send_err(c, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "too many headers");
        if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST"))
            return send_err(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        if (cl && strtoull(cl, NULL, 10) > srv->o.max_body)
            return send_err(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
        if (!host_ok(srv, c))
            return send_err(c, MHD_HTTP_MISDIRECTED_REQUEST, "bad Host header");
        rq->answered = 0;
        return MHD_YES;
    }
    if (rq->job) {   /* resumed: the writer has committed (or refused) it */
        srv_job *j = rq->job;
        enum MHD_Result ok = send_buf(c, j->status, "application/json", j->body, j->len,
                                      MHD_RESPMEM_MUST_COPY, NULL);
        return ok;
    }
    if (rq->answered) {   /* body of a refused request: drop it */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->too_big || rq->len + n > srv->o.max_body) {
            rq->too_big = 1;
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = (rq->len + n + 1) * 2;
            if (cap > srv->o.max_body + 1) cap = srv->o.max_body + 1;
            char *b = realloc(rq->body, cap);
            if (!b) return MHD_NO;
            rq->body = b;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload, n);
        rq->len += n;
        rq->body[rq->len] = 0;
        return MHD_YES;
    }
    if (rq->too_big) return send_err(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
    int post = !strcmp(method, "POST");
    conn_busy(srv, c, 1);   /* the whole request is in: the deadline stops */
    if (!rq->body) {
        rq->body = calloc(1, 1);
        if (!rq->body) return MHD_NO;
    }

    /* The page itself and the login form need no token. */
    srv_asset a;
    if (!post && !strcmp(url, "/login")) return do_login(srv, c);
    if (!post && srv_asset_find(url, &a) == 0) return send_asset(c, &a);
    if (strncmp(url, "/api/", 5)) return send_err(c, MHD_HTTP_NOT_FOUND, "not found");

    ordo_store *s = srv_store_get(srv);
    srv_who who;
    unsigned st = authenticate(srv, s, c, &who);
    enum MHD_Result res;
    if (st) res = send_err(c, st, "a valid annotator token is needed (ask for a login link)");
    else if (post && !csrf_ok(srv, c, &who))
        res = send_err(c, MHD_HTTP_FORBIDDEN, "cross-site request refused (missing or bad CSRF token)");
    else res = route_api(srv, s, c, url, post, &who, rq);
    srv_store_put(srv, s);
    return res;
}

/* URL unescaping for MHD: like the default, except that %00 stays as the
 * three characters, so a NUL can never cut a path short ("1%00.jpg" must
 * not read as "1"). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls; (void)c;
    size_t r = 0, w = 0;
    while (s[r]) {
        int h, l;
        if (s[r] == '%' && s[r + 1] && s[r + 2] && (h = hexval(s[r + 1])) >= 0 &&
            (l = hexval(s[r + 2])) >= 0 && (h | l)) {
            s[w++] = (char)(h * 16 + l);
            r += 3;
        } else {
            s[w++] = s[r++];
        }
    }
    s[w] = 0;
    return w;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    conn_busy(cls, c, 0);
    srv_req *rq = *con_cls;
    if (rq) {
        job_free(rq->job);
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* ---- the WordNet vocabulary for the search box, built once ---------------- */

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int build_synsets(ordo_srv *srv, ordo_err *err)
{
    FILE *f = open_memstream(&srv->synsets_json, &srv->synsets_len);
    if (!f) return ordo_err_set(err, "out of memory");
    fputc('[', f);
    int hier = ordo_wn_has_hierarchy(srv->wn);
    size_t cap = 64 * ORDO_WN_CLASSES, n = 0;
    long *ids = hier ? malloc(cap * sizeof *ids) : NULL;
    if (hier && !ids) { fclose(f); return ordo_err_set(err, "out of memory"); }
    for (int cl = 0; cl < ORDO_WN_CLASSES; cl++) {
        if (!hier) {
            fprintf(f, "%s[", cl ? "," : "");
            srv_json_str(f, ordo_wn_class_wnid(srv->wn, cl));
            fputc(',', f);
            srv_json_str(f, ordo_wn_class_name(srv->wn, cl));
            fputc(']', f);
            continue;
        }
        long anc[64];
        int k = ordo_wn_class_ancestors(srv->wn, cl, anc, 64);
        for (int j = 0; j < k && j < 64 && n < cap; j++) ids[n++] = anc[j];
    }
    if (hier) {
        /* every class and every synset above one: the labels a sports
         * customer might want ("sport", "ball", "racket", ...) */
        qsort(ids, n, sizeof *ids, cmp_long);
        int first = 1;
        for (size_t i = 0; i < n; i++) {
            if (i && ids[i] == ids[i - 1]) continue;
            const char *name = ordo_wn_synset_name(srv->wn, ids[i]);
            if (!name || !*name) continue;
            char wnid[16];
            snprintf(wnid, sizeof wnid, "n%08ld", ids[i]);
            fprintf(f, "%s[\"%s\",", first ? "" : ",", wnid);
            srv_json_str(f, name);
            fputc(']', f);
            first = 0;
        }
        free(ids);
    }
    fputc(']', f);
    fclose(f);
    srv->wnix = ordo_wn_index_new(srv->wn, err);
    return srv->wnix ? 0 : -1;
}

/* WordNet's hits (wn_search.c) as [["n0..","lemmas"],...]. */
static int search_json(ordo_srv *srv, const char *q, int n, FILE *f)
{
    ordo_wn_hit *hits = calloc((size_t)n, sizeof *hits);
    if (!hits) return -1;
    int nh = ordo_wn_search(srv->wnix, q, hits, n);
    fputc('[', f);
    for (int j = 0; j < nh; j++) {
        fprintf(f, "%s[\"n%08ld\",", j ? "," : "", hits[j].synset);
        srv_json_str(f, hits[j].name);
        fputc(']', f);
    }
    fputc(']', f);
    free(hits);
    return nh < 0 ? -1 : 0;
}

/* ---- life cycle ----------------------------------------------------------- */

int ordo_srv_port(const ordo_srv *srv) { return srv->port; }
int ordo_srv_requires_token(const ordo_srv *srv) { return srv->need_token; }

void ordo_srv_stop(ordo_srv *srv)
{
    if (!srv) return;
    if (srv->writer_started) {
        /* finish every queued write (and resume its connection) first: MHD
         * must not stop with suspended connections */
        pthread_mutex_lock(&srv->w_mu);
        srv->w_stop = 1;
        pthread_cond_signal(&srv->w_cv);
        pthread_mutex_unlock(&srv->w_mu);
        pthread_join(srv->writer, NULL);
    }
    if (srv->daemon) MHD_stop_daemon(srv->daemon);
    if (srv->reaper_started) {
        pthread_mutex_lock(&srv->r_mu);
        srv->reaper_stop = 1;
        pthread_cond_signal(&srv->r_cv);
        pthread_mutex_unlock(&srv->r_mu);
        pthread_join(srv->reaper, NULL);
    }
    pthread_mutex_destroy(&srv->r_mu);
    pthread_cond_destroy(&srv->r_cv);
    srv_queue_stop(srv);
    srv_model_free(srv);
    if (srv->w_store) ordo_store_close(srv->w_store);
    pthread_mutex_destroy(&srv->w_mu);
    pthread_cond_destroy(&srv->w_cv);
    for (int i = 0; i < srv->npool; i++) ordo_store_close(srv->pool[i]);
    free(srv->pool);
    free(srv->free_list);
    if (srv->wn) ordo_wn_free(srv->wn);
    ordo_store_class_names_free(srv->own_classes, srv->nown);
    free(srv->synsets_json);
    ordo_wn_index_free(srv->wnix);
    ordo_srv_labelset_free(srv->ls);
    pthread_mutex_destroy(&srv->ls_mu);
    srv_queue_free(&srv->q);
    pthread_mutex_destroy(&srv->q.mu);
    pthread_cond_destroy(&srv->q.cv);
    pthread_mutex_destroy(&srv->pool_mu);
    pthread_cond_destroy(&srv->pool_cv);
    free(srv);
}

ordo_srv *ordo_srv_start(const ordo_srv_opts *opts, ordo_err *err)
{
    if (!opts || !opts->project) {
        ordo_err_set(err, "no project directory");
        return NULL;
    }
    ordo_srv *srv = calloc(1, sizeof *srv);
    if (!srv) {
        ordo_err_set(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&srv->q.mu, NULL);
    pthread_cond_init(&srv->q.cv, NULL);
    pthread_mutex_init(&srv->pool_mu, NULL);
    pthread_cond_init(&srv->pool_cv, NULL);
    pthread_mutex_init(&srv->w_mu, NULL);
    pthread_cond_init(&srv->w_cv, NULL);
    pthread_mutex_init(&srv->ls_mu, NULL);
    pthread_mutex_init(&srv->r_mu, NULL);
    pthread_cond_init(&srv->r_cv, NULL);
    srv->o = *opts;
    ordo_srv_opts *o = &srv->o;
    if (!o->bind || !strcmp(o->bind, "localhost")) o->bind = "127.0.0.1";
    if (o->threads <= 0) o->threads = 4;
    if (o->conn_timeout_s <= 0) o->conn_timeout_s = 15;
    if (o->request_deadline_s <= 0) o->request_deadline_s = 10;
    if (o->max_conns <= 0) o->max_conns = 512;
    if (o->per_ip <= 0) o->per_ip = 256;
    if (!o->max_body) o->max_body = 64 * 1024;
    if (o->max_headers <= 0) o->max_headers = 64;
    if (o->double_share < 0) o->double_share = 0.1;
    if (o->double_share > 1) o->double_share = 1;
    if (o->batch <= 0) o->batch = 200;
    if (o->retrain_every == 0) o->retrain_every = 100;
    snprintf(srv->bind, sizeof srv->bind, "%s", o->bind);
    o->bind = srv->bind;
    o->project = srv->project;
    if ((size_t)snprintf(srv->project, sizeof srv->project, "%s", opts->project) >=
            sizeof srv->project ||
        (size_t)snprintf(srv->cache_dir, sizeof srv->cache_dir, "%s/%s/cache", opts->project,
                         ORDO_STORE_DIRNAME) >= sizeof srv->cache_dir) {
        ordo_err_set(err, "project path too long");
        goto fail;
    }
    srv->need_token = strcmp(srv->bind, "127.0.0.1") && strcmp(srv->bind, "::1");

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int v6 = strchr(srv->bind, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)o->port);
        if (inet_pton(AF_INET6, srv->bind, &a6->sin6_addr) != 1) {
            ordo_err_set(err, "--bind: '%s' is not an IP address", srv->bind);
            goto fail;
        }
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)o->port);
        if (inet_pton(AF_INET, srv->bind, &a4->sin_addr) != 1) {
            ordo_err_set(err, "--bind: '%s' is not an IP address", srv->bind);
            goto fail;
        }
    }

    srv->npool = o->threads + 1;
    srv->pool = calloc((size_t)srv->npool, sizeof *srv->pool);
    srv->free_list = calloc((size_t)srv->npool, sizeof *srv->free_list);
    if (!srv->pool || !srv->free_list) {
        ordo_err_set(err, "out of memory");
        goto fail;
    }
    for (int i = 0; i < srv->npool; i++) {
        srv->pool[i] = ordo_store_open(srv->project, o->store_flags, err);
        if (!srv->pool[i]) {
            srv->npool = i;
            goto fail;
        }
        srv->free_list[srv->nfree++] = srv->pool[i];
    }
    ordo_store *s = srv->pool[0];
    if (srv_team_init(s, err) < 0) goto fail;
    if (srv_labelset_open(srv, s, err) < 0) goto fail;
    if (!srv->need_token && srv_user_ensure(s, "local", &srv->local_id, err) < 0) goto fail;
    srv->wn = ordo_wn_open(NULL, err);
    if (!srv->wn || build_synsets(srv, err) < 0) goto fail;
    if (ordo_store_class_names(s, &srv->own_classes, &srv->nown, err) < 0) goto fail;
    if (getrandom(srv->secret, sizeof srv->secret, 0) != (ssize_t)sizeof srv->secret) {
        ordo_err_set(err, "no random bytes");
        goto fail;
    }
    if (srv_model_init(srv, s, err) < 0) goto fail;
    if (srv_queue_init(srv, s, err) < 0 || srv_queue_start(srv, err) < 0) goto fail;
    srv->w_store = ordo_store_open(srv->project, o->store_flags, err);
    if (!srv->w_store) goto fail;
    if (pthread_create(&srv->writer, NULL, writer_main, srv) != 0) {
        ordo_err_set(err, "cannot start the writer thread");
        goto fail;
    }
    srv->writer_started = 1;

    /* Bind here, not in MHD, so the port is known (for the Host check)
     * before the first worker can see a request. */
    int lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t slen = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&ss, slen) < 0 || listen(lfd, 511) < 0 ||
        getsockname(lfd, (struct sockaddr *)&ss, &slen) < 0) {
        ordo_err_set(err, "cannot listen on %s port %d: %s", srv->bind, o->port, strerror(errno));
        if (lfd >= 0) close(lfd);
        goto fail;
    }
    srv->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                         : ((struct sockaddr_in *)&ss)->sin_port);
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (v6) flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, srv,
        MHD_OPTION_LISTEN_SOCKET, lfd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conns,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o->per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->conn_timeout_s,
        /* request line + headers must fit in this; bigger ones get 431 */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
        MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, notify_conn, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, srv,
        MHD_OPTION_END);
    if (!srv->daemon) {
        close(lfd);
        ordo_err_set(err, "cannot start the HTTP server on %s port %d", srv->bind, srv->port);
        goto fail;
    }
    if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0) {
        ordo_err_set(err, "cannot start the deadline thread");
        goto fail;
    }
    srv->reaper_started = 1;
    return srv;
fail:
    ordo_srv_stop(srv);
    return NULL;
}
