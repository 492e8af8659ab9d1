/* team.c - annotators, tokens, label events, agreement and the review queue. */
#include <math.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "audit/audit_store.h"
#include "base/text.h"
#include "base/clock.h"
#include "base/db.h"
#include "server/srv_internal.h"

double srv_now(void) { return ordo_clock_unix(); }

void srv_json_str(FILE *f, const char *s) { ordo_text_json(f, s ? s : ""); }

int srv_team_init(ordo_store *s, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    if (ordo_store_begin(s, err) < 0) return -1;
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS srv_annotators("
                     " id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
                     " token_sha256 BLOB UNIQUE, created REAL NOT NULL,"
                     " disabled INTEGER NOT NULL DEFAULT 0)",
                     NULL, NULL, &msg) != SQLITE_OK ||
        srv_labelset_init(s, err) < 0) {
        ordo_err_set(err, "creating srv_ tables: %s", msg ? msg : "?");
        sqlite3_free(msg);
        ordo_store_rollback(s);
        return -1;
    }
    /* role: added after the table first shipped, so older projects gain it */
    sqlite3_stmt *st = NULL;
    int has_role = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('srv_annotators')"
                               " WHERE name = 'role'", -1, &st, NULL) == SQLITE_OK) {
        has_role = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    if (!has_role && sqlite3_exec(db, "ALTER TABLE srv_annotators ADD COLUMN role INTEGER"
                                      " NOT NULL DEFAULT 0", NULL, NULL, NULL) != SQLITE_OK) {
        ordo_db_err(db, "adding the role column", err);
        ordo_store_rollback(s);
        return -1;
    }
    return ordo_store_commit(s, err);
}

static const char *const role_names[] = {"annotator", "reviewer", "admin"};

const char *ordo_srv_role_name(int role)
{
    return role >= 0 && role <= ORDO_SRV_ADMIN ? role_names[role] : "?";
}

int ordo_srv_role_parse(const char *text)
{
    for (int i = 0; i <= ORDO_SRV_ADMIN; i++)
        if (!strcmp(text, role_names[i])) return i;
    return -1;
}

int ordo_srv_user_role(ordo_store *s, const char *name, int role, ordo_err *err)
{
    if (role < 0 || role > ORDO_SRV_ADMIN) return ordo_err_set(err, "unknown role");
    if (srv_team_init(s, err) < 0 || ordo_store_begin(s, err) < 0) return -1;
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "UPDATE srv_annotators SET role = ? WHERE name = ?", -1,
                                &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(st, 1, role);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE || sqlite3_changes(db) != 1) {
        if (rc != SQLITE_DONE) ordo_db_err(db, "setting the role", err);
        else ordo_err_set(err, "no annotator '%s'", name);
        ordo_store_rollback(s);
        return -1;
    }
    return ordo_store_commit(s, err);
}

static void sha256(const char *text, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(text, strlen(text), out, &n, EVP_sha256(), NULL);
}

static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > ORDO_SRV_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int ordo_srv_user_add(ordo_store *s, const char *name, int reset, char *token,
                      size_t cap, ordo_err *err)
{
    if (!name_ok(name))
        return ordo_err_set(err, "annotator names are 1 to %d letters, digits, '.', '_' or '-'",
                            ORDO_SRV_NAME_MAX);
    if (cap < ORDO_SRV_TOKEN_LEN + 1) return ordo_err_set(err, "token buffer too small");
    if (srv_team_init(s, err) < 0) return -1;
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return ordo_err_set(err, "no random bytes for a token");
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    /* base64url without padding: 32 bytes -> 43 characters */
    size_t o = 0;
    for (int i = 0; i < 32; i += 3) {
        unsigned v = (unsigned)raw[i] << 16;
        if (i + 1 < 32) v |= (unsigned)raw[i + 1] << 8;
        if (i + 2 < 32) v |= raw[i + 2];
        int chars = i + 2 < 32 ? 4 : (i + 1 < 32 ? 3 : 2);
        for (int k = 0; k < chars; k++) token[o++] = b64[(v >> (18 - 6 * k)) & 63];
    }
    token[o] = 0;
    unsigned char h[32];
    sha256(token, h);

    sqlite3 *db = ordo_store_db(s);
    if (ordo_store_begin(s, err) < 0) return -1;
    sqlite3_stmt *st = NULL;
    const char *sql = reset
        ? "INSERT INTO srv_annotators(name, token_sha256, created) VALUES(?1, ?2, ?3) "
          "ON CONFLICT(name) DO UPDATE SET token_sha256 = ?2, disabled = 0"
        : "INSERT INTO srv_annotators(name, token_sha256, created) VALUES(?1, ?2, ?3)";
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, h, 32, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, srv_now());
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_CONSTRAINT)
            ordo_err_set(err, "annotator '%s' exists (use --reset for a new token)", name);
        else
            ordo_db_err(db, "adding annotator", err);
        ordo_store_rollback(s);
        return -1;
    }
    return ordo_store_commit(s, err);
}

int ordo_srv_user_list(ordo_store *s,
                       void (*fn)(const char *name, int64_t labels, void *ctx),
                       void *ctx, ordo_err *err)
{
    if (srv_team_init(s, err) < 0) return -1;
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT a.name, (SELECT COUNT(*) FROM labels l WHERE l.annotator = a.name"
                           " AND l.label <> '') FROM srv_annotators a WHERE a.disabled = 0"
                           " ORDER BY a.name", -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "listing annotators", err);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), ctx);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : ordo_db_err(db, "listing annotators", err);
}

int srv_user_by_token(ordo_store *s, const char *token, srv_who *who, ordo_err *err)
{
    if (strlen(token) != ORDO_SRV_TOKEN_LEN) return ordo_err_set(err, "bad token");
    unsigned char h[32];
    sha256(token, h);
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, name, role FROM srv_annotators WHERE token_sha256 = ?"
                               " AND disabled = 0", -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "token lookup", err);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
    int ok = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        who->id = sqlite3_column_int64(st, 0);
        snprintf(who->name, sizeof who->name, "%s", (const char *)sqlite3_column_text(st, 1));
        who->role = sqlite3_column_int(st, 2);
        ok = 0;
    } else {
        ordo_err_set(err, "unknown token");
    }
    sqlite3_finalize(st);
    return ok;
}

int srv_user_ensure(ordo_store *s, const char *name, int64_t *id, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    if (ordo_store_begin(s, err) < 0) return -1;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO srv_annotators(name, created)"
                                    " VALUES(?, ?)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, srv_now());
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ordo_db_err(db, "adding annotator", err);
        ordo_store_rollback(s);
        return -1;
    }
    if (ordo_store_commit(s, err) < 0) return -1;
    if (sqlite3_prepare_v2(db, "SELECT id FROM srv_annotators WHERE name = ?", -1, &st, NULL)
        != SQLITE_OK)
        return ordo_db_err(db, "finding annotator", err);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : ordo_err_set(err, "annotator %s vanished", name);
}

int srv_label_special(const char *label)
{
    if (!strcmp(label, ORDO_STORE_LABEL_SKIP)) return 2;
    return !strcmp(label, ORDO_STORE_LABEL_NOT_SPORTS) || !strcmp(label, ORDO_STORE_LABEL_UNCLEAR);
}

int srv_current_answer(ordo_store *s, int64_t id, char *label, size_t lcap, char *who,
                       size_t wcap, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT label, annotator FROM current_labels WHERE image_id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "reading the answer", err);
    sqlite3_bind_int64(st, 1, id);
    label[0] = 0;
    if (who) who[0] = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *l = (const char *)sqlite3_column_text(st, 0);
        const char *a = (const char *)sqlite3_column_text(st, 1);
        if (l && strcmp(l, ORDO_STORE_LABEL_SKIP)) snprintf(label, lcap, "%s", l);
        if (who) snprintf(who, wcap, "%s", a ? a : "");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ordo_db_err(db, "reading the answer", err);
}

int srv_own_answer(ordo_store *s, int64_t id, const char *who, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT label FROM current_answers WHERE image_id = ?"
                               " AND annotator = ?", -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "reading the answer", err);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, who, -1, SQLITE_STATIC);
    int own = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *l = (const char *)sqlite3_column_text(st, 0);
        own = l && *l && strcmp(l, ORDO_STORE_LABEL_SKIP);
    }
    sqlite3_finalize(st);
    return own;
}

int srv_history_json(ordo_srv *srv, ordo_store *s, const srv_who *who, int n, FILE *f,
                     ordo_err *err)
{
    (void)srv;
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    /* this annotator's images, most recently answered first, each with its
     * current answer (which may since be someone else's) */
    if (sqlite3_prepare_v2(db,
                           "SELECT t.image_id, (SELECT label FROM current_labels c WHERE"
                           " c.image_id = t.image_id) FROM (SELECT image_id, MAX(id) m FROM labels"
                           " WHERE annotator = ? AND source = 'ui' GROUP BY image_id ORDER BY m DESC"
                           " LIMIT ?) t ORDER BY t.m DESC", -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "reading the history", err);
    sqlite3_bind_text(st, 1, who->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, n);
    fputs("{\"items\":[", f);
    int first = 1, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const char *l = (const char *)sqlite3_column_text(st, 1);
        fputs(first ? "{" : ",{", f);
        srv_item_place_json(s, id, f);
        fputs(",\"label\":", f);
        srv_json_str(f, l && strcmp(l, ORDO_STORE_LABEL_SKIP) ? l : "");
        fputc('}', f);
        first = 0;
    }
    sqlite3_finalize(st);
    fputs("]}", f);
    return rc == SQLITE_DONE ? 0 : ordo_db_err(db, "reading the history", err);
}

int srv_project_labels_json(ordo_store *s, FILE *f, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT label, COUNT(*) c FROM labels WHERE label NOT IN ('', 'skip')"
                               " GROUP BY label ORDER BY c DESC, label LIMIT 5000",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "reading labels", err);
    fputc('[', f);
    int first = 1, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!first) fputc(',', f);
        first = 0;
        srv_json_str(f, (const char *)sqlite3_column_text(st, 0));
    }
    fputc(']', f);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : ordo_db_err(db, "reading labels", err);
}

/* Newest answer of each (image, annotator), first-answered annotators first. */
typedef struct ans { int64_t image; char *who, *label; } ans;

static int load_answers(ordo_store *s, ans **out, size_t *n, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT image_id, annotator, label FROM current_answers"
                           " ORDER BY image_id, first", -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "reading answers", err);
    ans *a = NULL;
    size_t na = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *lab = (const char *)sqlite3_column_text(st, 2);
        const char *who = (const char *)sqlite3_column_text(st, 1);
        if (!lab || !*lab || !strcmp(lab, ORDO_STORE_LABEL_SKIP)) continue;
        if (na == cap) {
            cap = cap ? cap * 2 : 256;
            ans *b = realloc(a, cap * sizeof *a);
            if (!b) { rc = SQLITE_NOMEM; break; }
            a = b;
        }
        a[na].image = sqlite3_column_int64(st, 0);
        a[na].who = strdup(who ? who : "");
        a[na].label = strdup(lab);
        if (!a[na].who || !a[na].label) { free(a[na].who); free(a[na].label); rc = SQLITE_NOMEM; break; }
        na++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < na; i++) { free(a[i].who); free(a[i].label); }
        free(a);
        return ordo_err_set(err, "reading answers: %s", rc == SQLITE_NOMEM ? "out of memory"
                                                                           : sqlite3_errmsg(db));
    }
    *out = a;
    *n = na;
    return 0;
}

static void free_answers(ans *a, size_t n)
{
    for (size_t i = 0; i < n; i++) { free(a[i].who); free(a[i].label); }
    free(a);
}

static int find_kappa(ordo_srv_kappa **per, size_t *n, size_t *cap, const char *label)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*per)[i].label, label)) return (int)i;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        ordo_srv_kappa *b = realloc(*per, *cap * sizeof **per);
        if (!b) return -1;
        *per = b;
    }
    ordo_srv_kappa *k = &(*per)[*n];
    memset(k, 0, sizeof *k);
    snprintf(k->label, sizeof k->label, "%s", label);
    return (int)(*n)++;
}

static int cmp_kappa(const void *a, const void *b)
{
    const ordo_srv_kappa *x = a, *y = b;
    int64_t cx = x->a_yes + x->b_yes, cy = y->a_yes + y->b_yes;
    if (cx != cy) return cx > cy ? -1 : 1;
    return strcmp(x->label, y->label);
}

int ordo_srv_agreement(ordo_store *s, double *overall, int64_t *pairs,
                       ordo_srv_kappa **per_out, size_t *n_out, ordo_err *err)
{
    ans *a;
    size_t na;
    if (load_answers(s, &a, &na, err) < 0) return -1;
    ordo_srv_kappa *per = NULL;
    size_t np = 0, cap = 0;
    int64_t npairs = 0, agree = 0;
    int oom = 0;
    for (size_t i = 0; i + 1 < na && !oom;) {
        size_t j = i;
        while (j < na && a[j].image == a[i].image) j++;
        if (j - i >= 2) {   /* the image's first two annotators */
            const char *la = a[i].label, *lb = a[i + 1].label;
            npairs++;
            agree += !strcmp(la, lb);
            int ka = find_kappa(&per, &np, &cap, la);
            int kb = ka < 0 ? -1 : find_kappa(&per, &np, &cap, lb);
            if (ka < 0 || kb < 0) { oom = 1; break; }
            per[ka].a_yes++;
            per[kb].b_yes++;
            if (ka == kb) per[ka].both_yes++;
        }
        i = j;
    }
    free_answers(a, na);
    if (oom) { free(per); return ordo_err_set(err, "out of memory"); }
    double pe = 0;
    for (size_t k = 0; k < np; k++) {
        ordo_srv_kappa *x = &per[k];
        x->n = npairs;
        double n = (double)npairs, pa = x->a_yes / n, pb = x->b_yes / n;
        pe += pa * pb;
        /* one label vs the rest: a 2x2 table */
        double po = (x->both_yes + (n - x->a_yes - x->b_yes + x->both_yes)) / n;
        double pe1 = pa * pb + (1 - pa) * (1 - pb);
        x->kappa = pe1 < 1 ? (po - pe1) / (1 - pe1) : NAN;
    }
    *overall = npairs && pe < 1 ? ((double)agree / npairs - pe) / (1 - pe) : NAN;
    *pairs = npairs;
    if (np) qsort(per, np, sizeof *per, cmp_kappa);
    *per_out = per;
    *n_out = np;
    return 0;
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.4f", v);
    else fputs("null", f);
}

int srv_review_json(ordo_srv *srv, ordo_store *s, FILE *f, ordo_err *err)
{
    (void)srv;
    ans *a;
    size_t na;
    if (load_answers(s, &a, &na, err) < 0) return -1;
    /* images whose reviewed answer is newer than the disagreement are done */
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM labels WHERE image_id = ? AND source = 'review'"
                               " AND id > (SELECT MAX(id) FROM current_answers"
                               " WHERE image_id = ?1)", -1, &st, NULL) != SQLITE_OK) {
        free_answers(a, na);
        return ordo_db_err(db, "reading reviews", err);
    }
    fputs("{\"items\":[", f);
    int first = 1, shown = 0;
    for (size_t i = 0; i < na && shown < 200;) {
        size_t j = i;
        while (j < na && a[j].image == a[i].image) j++;
        int differ = 0;
        for (size_t k = i + 1; k < j; k++) differ |= strcmp(a[k].label, a[i].label) != 0;
        if (differ) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, a[i].image);
            int reviewed = sqlite3_step(st) == SQLITE_ROW;
            if (!reviewed) {
                fprintf(f, "%s{\"id\":%lld,\"answers\":[", first ? "" : ",", (long long)a[i].image);
                for (size_t k = i; k < j; k++) {
                    fprintf(f, "%s{\"annotator\":", k > i ? "," : "");
                    srv_json_str(f, a[k].who);
                    fputs(",\"label\":", f);
                    srv_json_str(f, a[k].label);
                    fputc('}', f);
                }
                fputs("]}", f);
                first = 0;
                shown++;
            }
        }
        i = j;
    }
    fputs("]}", f);
    sqlite3_finalize(st);
    free_answers(a, na);
    return 0;
}

int srv_stats_json(ordo_srv *srv, ordo_store *s, FILE *f, ordo_err *err)
{
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    /* current label of each image = its newest event (issue "learn") */
    if (sqlite3_prepare_v2(db,
                           "SELECT label, COUNT(*) c FROM current_labels WHERE label NOT IN ('', 'skip')"
                           " GROUP BY label ORDER BY c DESC, label", -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "counting labels", err);
    fputs("{\"per_label\":[", f);
    int first = 1, rc;
    int64_t sports_yes = 0, sports_no = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *lab = (const char *)sqlite3_column_text(st, 0);
        int64_t c = sqlite3_column_int64(st, 1);
        fprintf(f, "%s{\"label\":", first ? "" : ",");
        srv_json_str(f, lab);
        const char *nm = "";
        if (lab && lab[0] == 'n' && strlen(lab) == 9) {
            int cls = ordo_wn_class_index(srv->wn, lab);
            if (cls >= 0) nm = ordo_wn_class_name(srv->wn, cls);
        }
        fputs(",\"name\":", f);
        srv_json_str(f, nm);
        fprintf(f, ",\"count\":%lld}", (long long)c);
        first = 0;
        if (!strcmp(lab, ORDO_STORE_LABEL_NOT_SPORTS)) sports_no += c;
        else if (strcmp(lab, ORDO_STORE_LABEL_UNCLEAR) && strcmp(lab, ORDO_STORE_LABEL_SKIP)) sports_yes += c;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return ordo_db_err(db, "counting labels", err);

    /* the same ledger as the labeling view's counters (suggest.c) */
    fputs("],\"annotators\":", f);
    pthread_mutex_lock(&srv->q.mu);
    srv_ledger_annotators_json(&srv->q, f);
    int64_t labeled = srv_ledger_labeled(&srv->q);
    size_t images = srv->q.nall;
    pthread_mutex_unlock(&srv->q.mu);
    fputs(",\"gold\":", f);
    if (srv_gold_json(s, f, err) < 0) return -1;

    /* The sports prior as a filter (threshold 0.5) against the answers. */
    int64_t tp = 0, fp = 0, fn = 0, tn = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT i.sports, l.label FROM current_labels l JOIN images i ON"
                           " i.id = l.image_id WHERE l.label NOT IN ('', 'skip', 'unclear')"
                           " AND i.sports IS NOT NULL", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            double p = sqlite3_column_double(st, 0);
            int truth = strcmp((const char *)sqlite3_column_text(st, 1), ORDO_STORE_LABEL_NOT_SPORTS) != 0;
            int pred = p >= 0.5;
            if (pred && truth) tp++;
            else if (pred) fp++;
            else if (truth) fn++;
            else tn++;
        }
        sqlite3_finalize(st);
    }
    fprintf(f, ",\"sports\":{\"answered_sports\":%lld,\"answered_not_sports\":%lld,"
               "\"prior_tp\":%lld,\"prior_fp\":%lld,\"prior_fn\":%lld,\"prior_tn\":%lld,"
               "\"prior_precision\":",
            (long long)sports_yes, (long long)sports_no, (long long)tp, (long long)fp,
            (long long)fn, (long long)tn);
    json_num(f, tp + fp ? (double)tp / (tp + fp) : NAN);
    fputs(",\"prior_recall\":", f);
    json_num(f, tp + fn ? (double)tp / (tp + fn) : NAN);
    fputc('}', f);

    double kappa;
    int64_t pairs;
    ordo_srv_kappa *per;
    size_t np;
    if (ordo_srv_agreement(s, &kappa, &pairs, &per, &np, err) < 0) return -1;
    fprintf(f, ",\"agreement\":{\"pairs\":%lld,\"double_share\":%.3f,\"kappa\":",
            (long long)pairs, srv->o.double_share);
    json_num(f, kappa);
    fputs(",\"per_label\":[", f);
    for (size_t i = 0; i < np && i < 100; i++) {
        fprintf(f, "%s{\"label\":", i ? "," : "");
        srv_json_str(f, per[i].label);
        fprintf(f, ",\"a\":%lld,\"b\":%lld,\"both\":%lld,\"kappa\":", (long long)per[i].a_yes,
                (long long)per[i].b_yes, (long long)per[i].both_yes);
        json_num(f, per[i].kappa);
        fputc('}', f);
    }
    free(per);
    fputs("]}", f);

    /* what `ordo audit` found (audit owns the counts) */
    ordo_audit_counts ac;
    if (ordo_audit_counts_get(s, &ac, err) < 0) return -1;
    fprintf(f, ",\"audit\":{\"run\":%lld,\"suspects\":%lld,\"recheck_pending\":%lld,"
               "\"dup_groups\":%lld,\"dup_images\":%lld,\"leaks\":%lld,\"labels_run\":%lld,"
               "\"dups_run\":%lld,\"cosine\":%.3f}",
            (long long)ac.run_id, (long long)ac.flagged, (long long)ac.pending,
            (long long)ac.groups, (long long)ac.grouped, (long long)ac.leaks,
            (long long)ac.labels_run, (long long)ac.dups_run, ac.cosine);

    /* the page's retrained models and their evaluation (model.c) */
    fputc(',', f);
    if (srv_model_stats_json(srv, s, f, err) < 0) return -1;
    fputs(",\"retrain\":{\"available\":true}", f);

    fprintf(f, ",\"images\":%zu,\"labeled\":%lld}", images, (long long)labeled);
    return 0;
}

/* Gold photos: images answered by two or more annotators whose true answer
 * is settled - by a reviewer's answer (source "review") when there is one,
 * else by the annotators' agreement. Each annotator's accuracy is the share
 * of their gold answers equal to it, with a Wilson 95 % interval (Wilson
 * 1927, as ordo_learn_wilson). Agreement-settled images only show who
 * agreed, so a reviewed disagreement is what separates annotators. */
int srv_gold_json(ordo_store *s, FILE *f, ordo_err *err)
{
    ans *a;
    size_t na;
    if (load_answers(s, &a, &na, err) < 0) return -1;
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT label FROM labels WHERE image_id = ? AND source = 'review'"
                               " ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
        free_answers(a, na);
        return ordo_db_err(db, "reading reviews", err);
    }
    struct gold { char name[ORDO_SRV_NAME_MAX + 1]; int64_t n, ok; } *g = NULL;
    size_t ng = 0, gcap = 0;
    for (size_t i = 0; i < na;) {
        size_t j = i;
        while (j < na && a[j].image == a[i].image) j++;
        if (j - i >= 2) {
            char truth[ORDO_STORE_LABEL_MAX + 1] = "";
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, a[i].image);
            if (sqlite3_step(st) == SQLITE_ROW)
                snprintf(truth, sizeof truth, "%s", (const char *)sqlite3_column_text(st, 0));
            int agree = 1;
            for (size_t k = i + 1; k < j; k++) agree &= !strcmp(a[k].label, a[i].label);
            if (!truth[0] && agree) snprintf(truth, sizeof truth, "%s", a[i].label);
            for (size_t k = i; truth[0] && k < j; k++) {
                size_t x = 0;
                while (x < ng && strcmp(g[x].name, a[k].who)) x++;
                if (x == ng) {
                    if (ng == gcap) {
                        gcap = gcap ? gcap * 2 : 8;
                        struct gold *b = realloc(g, gcap * sizeof *b);
                        if (!b) break;
                        g = b;
                    }
                    snprintf(g[ng].name, sizeof g[ng].name, "%s", a[k].who);
                    g[ng].n = g[ng].ok = 0;
                    ng++;
                }
                g[x].n++;
                g[x].ok += !strcmp(a[k].label, truth);
            }
        }
        i = j;
    }
    sqlite3_finalize(st);
    free_answers(a, na);
    fputc('[', f);
    for (size_t x = 0; x < ng; x++) {
        /* Wilson score interval, z = 1.96 */
        double n = (double)g[x].n, p = g[x].ok / n, z = 1.959964, z2 = z * z;
        double c = (p + z2 / (2 * n)) / (1 + z2 / n);
        double h = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
        fprintf(f, "%s{\"name\":", x ? "," : "");
        srv_json_str(f, g[x].name);
        fprintf(f, ",\"n\":%lld,\"correct\":%lld,\"accuracy\":%.4f,\"lo\":%.4f,\"hi\":%.4f}",
                (long long)g[x].n, (long long)g[x].ok, p, c - h > 0 ? c - h : 0,
                c + h < 1 ? c + h : 1);
    }
    fputc(']', f);
    free(g);
    return 0;
}
